"""Seed frameworks: load, validate and describe the YAML files analysts write.

A framework is data the analyst writes, never code: named themes with a codebook description,
optional indicator phrases, example meaning units and nested subthemes. Built-in frameworks
live in ``frameworks/builtin/*.yaml``; any other framework is a path to a ``.yaml`` file.

Every problem in a framework file raises :class:`~themesift.errors.FrameworkError` naming the
file, the 1-based line and what to write instead; a file with several mistakes gets them all
in one error (``error.problems``), so that one round of corrections is enough. Lines come from
the YAML parser's node marks (``yaml.compose``), so they point at the exact key or list item
that is wrong.
"""

from __future__ import annotations

import difflib
import logging
import re
import unicodedata
from os import PathLike
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import FrameworkError
from ..model import NONE_THEME, Framework, Theme
from ..text import counted

if TYPE_CHECKING:  # yaml and pandas are imported where they are used, to keep imports fast
    import pandas as pd
    import yaml

__all__ = ["load_framework", "check_framework", "list_frameworks", "describe_framework",
           "framework_to_yaml", "framework_from_yaml"]

logger = logging.getLogger(__name__)

#: Keys allowed at the top of a framework file, in the order they are usually written.
FRAMEWORK_KEYS = ("name", "version", "description", "themes")
#: Keys allowed in a theme or subtheme.
THEME_KEYS = ("id", "name", "description", "indicators", "examples", "subthemes")

_ID_PATTERN = re.compile(r"[a-z0-9_]+")
_YAML_SUFFIXES = (".yaml", ".yml")
_BUILTIN_PACKAGE = "themesift.frameworks"
_BUILTIN_FOLDER = "builtin"

_SKELETON = (
    "Start the file like this: 'name: my-framework', 'version: 1', "
    "'description: ...', then 'themes:' with one '- id: ...' item per theme"
)
_THEME_SKELETON = (
    "Write each theme as a list item: '- id: some_id' with 'name:' and 'description:' "
    "on the lines below it, indented to line up with 'id'"
)
_TEXT_ITEM_FIX = (
    "Write each {kind} as plain text on its own '- ' line; put it in double quotes if it "
    "contains ': ', ' #' or starts with a quote, '[' or '{{'"
)

# Hints for the YAML parser messages people meet most often.
#: Word's and Mac's quotation marks, which YAML reads as letters, not as quotes.
_CURLY_QUOTES = re.compile("[\u201c\u201d\u2018\u2019]")
_CURLY_FIX = ("Curly quotes (\u201c \u201d \u2018 \u2019, as word processors type them) are "
              "not quotes in YAML: use straight ones (\" or ')")
_YAML_HINTS = (
    ("mapping values are not allowed", "Text containing ': ' must be put in double quotes"),
    ("cannot start any token", "Indent with spaces, not tabs, and put text starting with "
                               "'@', '`', '%' or '*' in double quotes"),
    ("could not find expected ':'", "Check the indentation: keys of one theme must line up, "
                                    "and each key needs a ':' after it"),
    ("expected <block end>", "Check the indentation: every line of a theme must line up with "
                             "its 'id:', and list items with the '- ' above them"),
    ("found another document", "Keep one framework per file and remove the extra '---' line"),
    ("found undefined alias", "Define the anchor ('&name') before using it ('*name'), or put "
                              "text starting with '*' in double quotes"),
    ("while scanning a quoted scalar", "Close the quote that was opened, or escape a quote "
                                       "inside the text by doubling it"),
    ("expected ',' or ']'", "Close the '[' list with ']' and separate items with commas"),
    ("expected ',' or '}'", "Close the '{' mapping with '}' and separate items with commas"),
)
_GENERIC_YAML_FIX = (
    "Check the indentation and quoting on this line and the one before it; text containing "
    "': ' or starting with a quote must be put in double quotes"
)


# --- public functions -----------------------------------------------------------------------

def load_framework(name_or_path: str | PathLike[str] | Framework) -> Framework:
    """Load a built-in framework by name, or a framework YAML file by path.

    Parameters
    ----------
    name_or_path:
        A built-in name such as ``"recovery"`` (see :func:`list_frameworks`), or the path to a
        ``.yaml``/``.yml`` framework file. A :class:`~themesift.model.Framework` is returned
        as it is, so functions can accept either.

    Returns
    -------
    Framework
        The validated framework; ``source`` says where it came from.

    Raises
    ------
    FrameworkError
        For an unknown name, a missing file, or any problem in the file, naming the file, the
        line and what to write instead.

    Examples
    --------
    >>> fw = load_framework("recovery")
    >>> fw.theme_ids
    ['relationships', 'hope', 'structural_tension', 'symptoms_barrier']
    >>> load_framework("my-study/framework.yaml")            # doctest: +SKIP
    """
    if isinstance(name_or_path, Framework):
        return name_or_path
    if not isinstance(name_or_path, (str, PathLike)):
        raise FrameworkError(
            f"A framework must be given as a built-in name or a path, not "
            f"{type(name_or_path).__name__}",
            fix=f"Available built-ins: {', '.join(_builtin_names())}",
        )
    if isinstance(name_or_path, str) and _looks_like_name(name_or_path):
        key = name_or_path.strip().casefold()
        if key in _builtin_names():
            return _load_builtin(key)
        if not Path(name_or_path).exists():
            raise _unknown_name_error(name_or_path)
    return _load_file(Path(name_or_path))


def check_framework(name_or_path: str | PathLike[str]) -> Framework:
    """Validate a framework file and return it, as ``themesift check-framework FILE`` does.

    The same checks as :func:`load_framework`; a file that passes can be used everywhere a
    framework is asked for. Pair it with :func:`describe_framework` to see what was read.

    Parameters
    ----------
    name_or_path:
        The path to a framework YAML file (or a built-in name).

    Returns
    -------
    Framework
        The framework, when the file has no problems.

    Raises
    ------
    FrameworkError
        Naming the file, and for every problem its line and the fix.

    Examples
    --------
    >>> fw = check_framework("recovery")
    >>> len(fw.themes)
    4
    """
    framework = load_framework(name_or_path)
    n_all = sum(1 for _ in framework.all_themes())
    logger.info(
        "Framework %r (%s) is valid: %d themes, %d subthemes.",
        framework.name, framework.source, len(framework.themes), n_all - len(framework.themes),
    )
    return framework


def list_frameworks() -> pd.DataFrame:
    """The built-in frameworks, one row each, as ``themesift frameworks`` lists them.

    Returns
    -------
    pandas.DataFrame
        Columns ``name`` (what to pass to :func:`load_framework`), ``themes`` (number of
        top-level themes), ``description`` and ``version``; sorted by name.

    Examples
    --------
    >>> table = list_frameworks()
    >>> "recovery" in set(table["name"])
    True
    """
    import pandas as pd

    rows = []
    for name in _builtin_names():
        framework = _load_builtin(name)
        rows.append(
            {
                "name": name,
                "themes": len(framework.themes),
                "description": framework.description,
                "version": framework.version,
            }
        )
    return pd.DataFrame(rows, columns=["name", "themes", "description", "version"])


def describe_framework(framework: Framework) -> str:
    """A readable markdown summary of a framework: every theme with its id and what it holds.

    Parameters
    ----------
    framework:
        A framework from :func:`load_framework`.

    Returns
    -------
    str
        Markdown: the framework's name, version and description, then one section per
        top-level theme (id, name, description, number of indicators, examples and
        subthemes) with its subthemes listed below it, and notes on themes that give a
        classifier little to go on: what their suggestions rest on, and for a codebook of
        names and descriptions only, what a run learns from instead (the study's clearest
        units, see :mod:`themesift.propose`).

    Examples
    --------
    >>> text = describe_framework(load_framework("recovery"))
    >>> text.splitlines()[0]
    '# recovery-oriented-practice (version 1)'
    """
    version = f"version {framework.version}" if framework.version else "no version given"
    n_all = sum(1 for _ in framework.all_themes())
    n_top = len(framework.themes)
    lines = [f"# {framework.name} ({version})", ""]
    if framework.description:
        lines += [framework.description, ""]
    if framework.source:
        lines += [f"Source: {framework.source}", ""]
    lines += [
        f"{counted(n_top, 'theme')}, {counted(n_all - n_top, 'subtheme')}."
        f" Text that fits none of them is suggested as `{NONE_THEME}`.",
        "",
    ]
    for theme in framework.themes:
        lines += [f"## `{theme.id}`: {theme.name}", "", theme.description, "", _counts(theme)]
        for sub, depth in _walk(theme.subthemes, 0):
            counts = _counts(sub, skip_zero=True)
            lines.append(
                f"{'  ' * depth}- `{sub.id}`: {sub.name}. {sub.description}"
                + (f" ({counts})" if counts else "")
            )
        lines.append("")
    if not any(t.indicators or t.examples or t.subthemes for t in framework.themes):
        # What themesift.propose does with such a codebook (its module docstring).
        notes = [
            "- No theme has indicators, examples or subthemes: a run starts from the names and "
            "descriptions, then (in a study of 8 units or more) learns how its participants "
            "talk from the units the descriptions suggest most clearly, a few a theme; the "
            "rationales say \"weighed against the N units of the study that the descriptions "
            "suggest most clearly\". Once the analyst has coded units, it learns from those "
            "instead. Indicators or examples in the participants' words give it more to go on."
        ]
    else:
        notes = [
            f"- `{t.id}` has no indicators or examples; suggestions for it rest on its "
            f"description{' and its subthemes' if t.subthemes else ''} (and on coded "
            f"examples, once the analyst has coded some units)."
            if t.parent is None else
            f"- Subtheme `{t.id}` has no indicators or examples: its description alone speaks "
            f"for `{framework.top_theme_id(t.id)}` (suggestions name themes; a subtheme's "
            f"texts count for its theme)."
            for t in framework.all_themes()
            if not t.indicators and not t.examples
        ]
    if len(framework.themes) < 3:
        notes.append(f"- {FEW_THEMES_NOTE}")
    if notes:
        lines += ["## Notes", "", *notes, ""]
    return "\n".join(lines).rstrip() + "\n"


#: What a codebook of one or two themes should know (check-framework, and suggestions' warning).
FEW_THEMES_NOTE = (
    "Fewer than three themes: a unit is suggested `none` where its best theme fits it much "
    "worse than the study's units fit theirs, so a study mostly about other things gets few "
    "`none` and most units a theme. To code one theme at a time, add the study's other "
    "topics as themes (their suggestions can be ignored), or, for a table of texts, set a "
    "level of your own (themesift suggest --none-similarity, none_similarity= in Python).")


def framework_to_yaml(framework: Framework) -> str:
    """The framework as YAML text in the file format, so a study can keep its own copy.

    ``framework_from_yaml(framework_to_yaml(fw)) == fw`` for every valid framework.
    """
    import yaml

    def theme(t: Theme) -> dict[str, Any]:
        entry: dict[str, Any] = {"id": t.id, "name": t.name, "description": t.description}
        if t.indicators:
            entry["indicators"] = list(t.indicators)
        if t.examples:
            entry["examples"] = list(t.examples)
        if t.subthemes:
            entry["subthemes"] = [theme(s) for s in t.subthemes]
        return entry

    data: dict[str, Any] = {"name": framework.name}
    if framework.version:
        data["version"] = framework.version
    if framework.description:
        data["description"] = framework.description
    data["themes"] = [theme(t) for t in framework.themes]
    return yaml.safe_dump(data, sort_keys=False, allow_unicode=True, width=100)


def framework_from_yaml(text: str, *, source: str = "", label: str = "stored framework") -> Framework:
    """Read framework YAML text (as :func:`framework_to_yaml` writes it), with the usual checks."""
    return _parse(text, label=label, source=source)


# --- built-ins and paths --------------------------------------------------------------------

def _builtin_folder():  # -> importlib.resources.abc.Traversable
    from importlib.resources import files

    return files(_BUILTIN_PACKAGE).joinpath(_BUILTIN_FOLDER)


def _builtin_names() -> list[str]:
    """Names of the built-in frameworks (file stems), sorted."""
    folder = _builtin_folder()
    if not folder.is_dir():
        return []
    return sorted(
        entry.name.rsplit(".", 1)[0]
        for entry in folder.iterdir()
        if entry.is_file() and entry.name.endswith(_YAML_SUFFIXES)
    )


def _load_builtin(name: str) -> Framework:
    folder = _builtin_folder()
    for suffix in _YAML_SUFFIXES:
        entry = folder.joinpath(name + suffix)
        if entry.is_file():
            text = entry.read_text(encoding="utf-8")
            return _parse(text, label=f"{entry.name} (built-in)", source=f"builtin:{name}")
    raise _unknown_name_error(name)  # pragma: no cover - names come from _builtin_names


def _looks_like_name(value: str) -> bool:
    """Whether a string is meant as a built-in name rather than a path."""
    stripped = value.strip()
    return bool(stripped) and not (
        stripped.lower().endswith(_YAML_SUFFIXES)
        or "/" in stripped
        or "\\" in stripped
        or stripped.startswith(("~", "."))
    )


def _unknown_name_error(name: str) -> FrameworkError:
    available = _builtin_names()
    close = difflib.get_close_matches(name.strip().casefold(), available, n=1, cutoff=0.6)
    fix = f"Did you mean '{close[0]}'? " if close else ""
    fix += "Give a built-in name or the path to a .yaml file"
    return FrameworkError(
        f"Unknown framework '{name}'. Available: {', '.join(available) or 'none'}", fix=fix
    )


def _load_file(path: Path) -> Framework:
    path = path.expanduser()
    available = ", ".join(_builtin_names()) or "none"
    if path.is_dir():
        raise FrameworkError(
            "This is a folder, not a framework file", path=path,
            fix=f"Give the path to a .yaml file, or a built-in name (available: {available})",
        )
    if not path.is_file():
        raise FrameworkError(
            "There is no framework file here", path=path,
            fix=f"Check the path, or give a built-in name (available: {available})",
        )
    try:
        text = path.read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = exc.object[: exc.start].count(b"\n") + 1
        raise FrameworkError(
            "The file is not UTF-8 text", path=path, line=line,
            fix="Save the file as UTF-8 (in most editors: Save As, encoding UTF-8)",
        ) from None
    except OSError as exc:
        raise FrameworkError(
            f"The file cannot be read ({exc.strerror or exc})", path=path,
            fix="Check that the file exists and that you may read it",
        ) from None
    framework = _parse(text, label=str(path), source=str(path))
    logger.debug("Loaded framework %r from %s.", framework.name, path)
    return framework


# --- parsing --------------------------------------------------------------------------------

def _parse(text: str, *, label: str, source: str) -> Framework:
    """Validate YAML text and build the Framework; ``label`` names the file in errors."""
    return _FrameworkReader(label).read(text, source)


#: A framework file's problems are listed together up to this many.
MAX_PROBLEMS = 20


class _EnoughProblems(Exception):
    """Raised to stop reading a file once MAX_PROBLEMS problems are known."""


class _FrameworkReader:
    """Walks the YAML node tree of one file and raises one FrameworkError listing every
    problem found (a broken YAML syntax stops the reading at once)."""

    def __init__(self, label: str) -> None:
        self.label = label
        self.first_line_of_id: dict[str, int] = {}
        self.problems: list[FrameworkError] = []
        self.noted = 0
        self.lines: list[str] = []  # the file's, for what YAML leaves out of a value

    # errors --------------------------------------------------------------------------------
    def error(self, problem: str, line: int | None, fix: str | None = None) -> FrameworkError:
        return FrameworkError(problem, path=self.label, line=line, fix=fix)

    def note(self, problem: FrameworkError) -> None:
        """Keep a problem and read on; stop reading at MAX_PROBLEMS (a file of aliases that
        repeat one mistake a billion times is refused at once)."""
        self.noted += 1  # repeats count too: an alias can repeat one mistake endlessly
        if all(str(problem) != str(p) for p in self.problems):
            self.problems.append(problem)
        if self.noted >= MAX_PROBLEMS:
            raise _EnoughProblems

    def checked(self, check, *args, default: Any = None, **kwargs) -> Any:
        """``check(*args, **kwargs)``, or ``default`` with its problem noted, so that the
        reading goes on to find the file's other mistakes."""
        try:
            return check(*args, **kwargs)
        except FrameworkError as exc:
            self.note(exc)
            return default

    def all_problems(self) -> FrameworkError:
        """One error: the only problem as it is, or every problem with its line."""
        if len(self.problems) == 1:
            return self.problems[0]
        found = sorted(self.problems, key=lambda p: p.line or 0)
        listing = "\n".join(
            f"  line {p.line}: {FrameworkError(p.problem, fix=p.fix)}" for p in found)
        more = " (reading stopped there: there may be more)" if self.noted >= MAX_PROBLEMS else ""
        error = self.error(f"{len(found)} problems{more}; correct them, then check the file "
                           f"again:\n{listing}", None)
        error.line, error.problems = found[0].line, found
        return error

    # top level -----------------------------------------------------------------------------
    def read(self, text: str, source: str) -> Framework:
        import yaml

        for number, line in enumerate(text.splitlines(), start=1):
            indent = line[:len(line) - len(line.lstrip())]
            if "\u00a0" in indent:  # YAML reads it as text, and the indentation advice misleads
                raise self.error(
                    "The line is indented with a non-breaking space (as text pasted from Word "
                    "or a web page often is), which YAML does not read as indentation", number,
                    fix="Delete the indentation of this line and type it again with spaces")
        self.lines = text.splitlines()
        try:
            root = yaml.compose(text, Loader=yaml.SafeLoader)
        except yaml.MarkedYAMLError as exc:
            raise self._syntax_error(exc, text) from None
        except yaml.YAMLError as exc:  # e.g. a control character the reader refuses
            position = getattr(exc, "position", None)  # a ReaderError's, in characters
            raise self.error(
                f"The file is not valid YAML ({exc})",
                None if position is None else text.count("\n", 0, position) + 1,
                fix="Remove control characters and save the file as plain UTF-8 text",
            ) from None
        if root is None:
            raise self.error("The file is empty", 1, fix=_SKELETON)
        if not isinstance(root, yaml.MappingNode):
            raise self.error(
                f"The top level of a framework file must be a mapping of keys "
                f"({', '.join(FRAMEWORK_KEYS)}), but this file starts with {_kind(root)}",
                _line(root), fix=_SKELETON,
            )
        try:
            return self._framework(root, source)
        except _EnoughProblems:
            raise self.all_problems() from None

    def _framework(self, root: Any, source: str) -> Framework:
        fields = self.mapping(root, FRAMEWORK_KEYS, "at the top of the file")
        name = self.checked(self.text, fields, "name", "The framework", _line(root),
                            fix="Add a line such as 'name: my-framework' at the top of the file")
        version = self.checked(self.version, fields)
        description = ""
        if "description" in fields:
            description = self.checked(
                self.text, fields, "description", "The framework", _line(root),
                fix="Write one sentence saying what the framework is for, or remove the "
                    "'description:' line")
        themes = self.checked(self.themes, fields, root)
        if self.problems:
            raise self.all_problems()
        return Framework(name=name, version=version, description=description,
                         themes=themes, source=source)

    def _syntax_error(self, exc: yaml.MarkedYAMLError, text: str) -> FrameworkError:
        mark = exc.problem_mark or exc.context_mark
        if exc.context_mark and "quoted scalar" in str(exc.context):
            mark = exc.context_mark  # where the quote was opened, not where the file ends
        problem = " ".join(str(exc.problem or exc.context or "the parser stopped").split())
        detail = problem
        if exc.context and exc.problem:
            detail = f"{problem}, {' '.join(exc.context.split())}"
        line = None if mark is None else mark.line + 1
        shifted = None if mark is None else _misindented(text.splitlines(), mark)
        if shifted is not None:
            problem, fix = shifted
            return self.error(f"{problem} (the YAML reader says: {detail})", line, fix=fix)
        fix = next((hint for key, hint in _YAML_HINTS if key in str(exc)), _GENERIC_YAML_FIX)
        if line is not None and line <= len(self.lines) and _CURLY_QUOTES.search(
                self.lines[line - 1]):
            fix = f"{_CURLY_FIX}; {fix[0].lower()}{fix[1:]}"
        return self.error(f"The file is not valid YAML: {detail}", line, fix=fix)

    def version(self, fields: dict[str, tuple[Any, Any]]) -> str:
        import yaml

        if "version" not in fields:
            return ""
        key, value = fields["version"]
        fix = "Write a number such as 'version: 1' or text such as 'version: 2024-03'"
        if not isinstance(value, yaml.ScalarNode):
            raise self.error(f"The version must be a number or text, not {_kind(value)}",
                             _line(key), fix=fix)
        if _is_empty(value):
            raise self.error("The version is empty", _line(key), fix=fix + ", or remove the line")
        return value.value.strip()

    def themes(self, fields: dict[str, tuple[Any, Any]], root: Any) -> tuple[Theme, ...]:
        import yaml

        fix = ("Add 'themes:' with at least one theme below it, each written as '- id: ...' "
               "with 'name:' and 'description:'")
        if "themes" not in fields:
            raise self.error("The framework has no 'themes:' list", _line(root), fix=fix)
        key, value = fields["themes"]
        if isinstance(value, yaml.ScalarNode) and _is_empty(value):
            raise self.error("The 'themes:' list is empty", _line(key), fix=fix)
        if not isinstance(value, yaml.SequenceNode):
            raise self.error(f"'themes' must be a list of themes, not {_kind(value)}",
                             _line(key), fix=_THEME_SKELETON)
        if not value.value:
            raise self.error("The 'themes:' list is empty", _line(key), fix=fix)
        return tuple(self.checked(self.theme, item, f"Theme {i}", parent=None)
                     for i, item in enumerate(value.value, start=1))

    # themes --------------------------------------------------------------------------------
    def theme(self, node: Any, what: str, parent: str | None) -> Theme:
        """One theme mapping; ``what`` names it in messages until its id is known."""
        import yaml

        if not isinstance(node, yaml.MappingNode):
            raise self.error(f"{what} must be a mapping of keys (id, name, description, ...), "
                             f"not {_kind(node)}", _line(node), fix=_THEME_SKELETON)
        kind = "Theme" if parent is None else "Subtheme"
        # Name the theme by its id in messages as soon as it has a usable one.
        given_id = next((v.value for k, v in node.value
                         if isinstance(k, yaml.ScalarNode) and k.value == "id"
                         and isinstance(v, yaml.ScalarNode) and _ID_PATTERN.fullmatch(v.value)),
                        None)
        where = f"in {_lower_first(what)}" if given_id is None else \
            f"in {kind.lower()} '{given_id}'"
        fields = self.mapping(node, THEME_KEYS, where)
        theme_id = self.checked(self.theme_id, fields, what, node)
        if theme_id is not None:
            what = f"{kind} '{theme_id}'"
        name = self.checked(self.text, fields, "name", what, _line(node),
                            fix=f"Add a line 'name: {_title(theme_id or 'some_id')}' (a short "
                                "readable name)")
        description = self.checked(
            self.text, fields, "description", what, _line(node),
            fix="Write one to three sentences saying what talk belongs to this theme, as in a "
                "codebook",
        )
        indicators = self.checked(self.text_list, fields, "indicators", what, "indicator")
        examples = self.checked(self.text_list, fields, "examples", what, "example")
        subthemes: tuple[Theme, ...] = ()
        if "subthemes" in fields:
            key, value = fields["subthemes"]
            if isinstance(value, yaml.ScalarNode) and _is_empty(value):
                pass  # 'subthemes:' with nothing below it means none
            elif not isinstance(value, yaml.SequenceNode):
                self.note(self.error(
                    f"'subthemes' of {_lower_first(what)} must be a list, not {_kind(value)}",
                    _line(key), fix="Write subthemes like themes: one '- id: ...' item each, "
                                    "indented below 'subthemes:'",
                ))
            else:
                # a theme whose own id is wrong is named by its place ("theme 2")
                of = f"'{theme_id}'" if theme_id is not None else _lower_first(what)
                subthemes = tuple(
                    self.checked(self.theme, item, f"Subtheme {i} of {of}",
                                 parent=theme_id if theme_id is not None else "")
                    for i, item in enumerate(value.value, start=1)
                )
        if self.problems:  # the file is refused; what is built from here would go unused
            return None
        return Theme(id=theme_id, name=name, description=description, indicators=indicators,
                     examples=examples, subthemes=subthemes, parent=parent, line=_line(node))

    def theme_id(self, fields: dict[str, tuple[Any, Any]], what: str, node: Any) -> str:
        import yaml

        if "id" not in fields:
            suggestion = ""
            if "name" in fields and isinstance(fields["name"][1], yaml.ScalarNode):
                suggestion = _slug(fields["name"][1].value)
            example = suggestion or "some_id"
            raise self.error(f"{what} has no id", _line(node),
                             fix=f"Add a line 'id: {example}' (lowercase letters, digits and "
                                 f"underscores)")
        key, value = fields["id"]
        if not isinstance(value, yaml.ScalarNode):
            raise self.error(f"The id of {_lower_first(what)} must be a word, not {_kind(value)}",
                             _line(key), fix="Write 'id: some_id' (lowercase letters, digits "
                                             "and underscores)")
        if _is_empty(value):
            raise self.error(f"The id of {_lower_first(what)} is empty", _line(key),
                             fix="Write 'id: some_id' (lowercase letters, digits and "
                                 "underscores)")
        theme_id = value.value.strip()
        if not _ID_PATTERN.fullmatch(theme_id):
            raise self.error(
                f"The id '{theme_id}' may only use lowercase letters, digits and underscores",
                _line(value), fix=f"Write 'id: {_slug(theme_id) or 'some_id'}' instead",
            )
        if theme_id == NONE_THEME:
            raise self.error(
                f"The id '{NONE_THEME}' is reserved for text that fits no theme", _line(value),
                fix="Choose another id, such as 'other' or 'no_fit'",
            )
        first = self.first_line_of_id.get(theme_id)
        if first is not None:
            raise self.error(
                f"The id '{theme_id}' is already used on line {first}; themes and subthemes "
                f"share one set of ids", _line(value),
                fix=f"Give every theme and subtheme its own id, e.g. "
                    f"'{self.free_id(theme_id)}'",
            )
        self.first_line_of_id[theme_id] = _line(value)
        return theme_id

    def free_id(self, theme_id: str) -> str:
        n = 2
        while f"{theme_id}_{n}" in self.first_line_of_id:
            n += 1
        return f"{theme_id}_{n}"

    # values --------------------------------------------------------------------------------
    def mapping(self, node: Any, known: tuple[str, ...], where: str) -> dict[str, tuple[Any, Any]]:
        """Keys of a mapping node -> (key node, value node); rejects unknown and repeated keys."""
        import yaml

        fields: dict[str, tuple[Any, Any]] = {}
        meant: dict[str, tuple[Any, Any]] = {}  # misspelt keys, read as the key they resemble
        for key, value in node.value:
            if not isinstance(key, yaml.ScalarNode) or _is_empty(key):
                self.note(self.error(f"A key {where} is not a plain word", _line(key),
                                     fix=f"Use one of: {', '.join(known)}"))
                continue
            name = key.value
            if name not in known:
                close = _closest(name, known)
                fix = _did_you_mean(name, known)
                if node.flow_style and (" " in name.strip() or name.rstrip().endswith(".")):
                    # {id: a, description: Care, prescriptions or parking.}: the comma ended
                    # the description, and the rest reads as a key
                    fix = ("Inside { } a comma ends a value: put a text with a comma in quotes "
                           '(description: "Paying for care, prescriptions or parking.")')
                self.note(self.error(f"Unknown key '{name}' {where}", _line(key), fix=fix))
                if close is not None:
                    meant.setdefault(close, (key, value))
                continue
            if name in fields:
                self.note(self.error(
                    f"The key '{name}' appears twice {where}; it was first given on line "
                    f"{_line(fields[name][0])}", _line(key),
                    fix=f"Keep one '{name}:' line and remove the other",
                ))
                continue
            fields[name] = (key, value)
        # so that a misspelt 'descripton:' is not also reported as a missing description
        return {**meant, **fields}

    def text(self, fields: dict[str, tuple[Any, Any]], key_name: str, what: str,
             missing_line: int, *, fix: str) -> str:
        """A required text value, with whitespace (and YAML line folding) collapsed."""
        import yaml

        if key_name not in fields:
            raise self.error(f"{what} has no {key_name}", missing_line, fix=fix)
        key, value = fields[key_name]
        if not isinstance(value, yaml.ScalarNode):
            raise self.error(f"The {key_name} of {_lower_first(what)} must be text, not "
                             f"{_kind(value)}", _line(key),
                             fix=f"Write it on one line after '{key_name}:', in double quotes "
                                 f"if it contains ': '")
        if _is_empty(value):
            raise self.error(f"The {key_name} of {_lower_first(what)} is empty", _line(key),
                             fix=fix)
        self.cut_by_comment(value, f"the {key_name} of {_lower_first(what)}")
        return " ".join(value.value.split())

    def cut_by_comment(self, node: Any, what: str) -> None:
        """Warn where a text without quotes ends where a ' #' starts a YAML comment on its
        line ("bus #7"): what follows is silently not part of the text."""
        if node.style is not None or node.end_mark.line >= len(self.lines):
            return
        rest = self.lines[node.end_mark.line][node.end_mark.column:].lstrip()
        # "bus #7" (a number, a tag) rather than a comment someone meant ("A.  # note")
        if rest.startswith("#") and rest[1:2].strip():
            logger.warning("%s, line %d: %s ends at %r: YAML reads '%s' as a comment. Put the "
                           "whole text in double quotes to keep it (or delete the comment)",
                           self.label, node.end_mark.line + 1, what, node.value[-30:], rest)

    def text_list(self, fields: dict[str, tuple[Any, Any]], key_name: str, what: str,
                  kind: str) -> tuple[str, ...]:
        """An optional list of non-empty strings (indicators, examples)."""
        import yaml

        if key_name not in fields:
            return ()
        key, value = fields[key_name]
        if isinstance(value, yaml.ScalarNode) and _is_empty(value):
            return ()  # 'indicators:' with nothing below it means none
        if not isinstance(value, yaml.SequenceNode):
            raise self.error(
                f"'{key_name}' of {_lower_first(what)} must be a list of texts, not "
                f"{_kind(value)}", _line(key),
                fix=f"Write one '- {kind} text' line per {kind} below '{key_name}:', or "
                    f"'{key_name}: [\"first\", \"second\"]'",
            )
        items = []
        for i, item in enumerate(value.value, start=1):
            if not isinstance(item, yaml.ScalarNode):
                raise self.error(
                    f"{kind.capitalize()} {i} of {_lower_first(what)} is {_kind(item)}, not "
                    f"text", _line(item), fix=_TEXT_ITEM_FIX.format(kind=kind),
                )
            if _is_empty(item):
                raise self.error(f"{kind.capitalize()} {i} of {_lower_first(what)} is empty",
                                 _line(item), fix=f"Write the {kind} after the '- ', or remove "
                                                  f"the line")
            text = " ".join(item.value.split())
            self.cut_by_comment(item, f"{kind} {i} of {_lower_first(what)}")
            if item.style is None and _split_quote(text):  # [“a, b”]: cut at the comma
                raise self.error(
                    f"{kind.capitalize()} {i} of {_lower_first(what)}, {text!r}, holds a curly "
                    f"quote that the next comma cut off from the rest of its text",
                    _line(item), fix=_CURLY_FIX)
            items.append(text)
        return tuple(items)


# --- small helpers --------------------------------------------------------------------------

def _split_quote(text: str) -> bool:
    """Whether a list item opens a curly double quote that it does not close, or closes one it
    did not open: half of a quoted text that a comma split in a '[...]' list. (A single curly
    quote is mostly an apostrophe: "the nurses’".)"""
    opens, closes = text.startswith("\u201c"), text.endswith("\u201d")
    return opens != closes and not ("\u201d" in text[1:] if opens else "\u201c" in text[:-1])


def _line(node: Any) -> int:
    """The 1-based line where a YAML node starts."""
    return node.start_mark.line + 1


def _is_empty(node: Any) -> bool:
    """A scalar that is null (``~``, ``null``, nothing) or only whitespace (zero-width
    characters, as pasted text may hold, count as whitespace)."""
    import unicodedata

    visible = "".join(c for c in str(node.value) if unicodedata.category(c) != "Cf")
    return node.tag == "tag:yaml.org,2002:null" or not visible.strip()


def _kind(node: Any) -> str:
    """How a YAML node reads to a person: 'a list', 'a mapping', 'the text 'x''."""
    import yaml

    if isinstance(node, yaml.SequenceNode):
        return "a list"
    if isinstance(node, yaml.MappingNode):
        return "a mapping"
    if _is_empty(node):
        return "nothing"
    value = node.value if len(node.value) <= 40 else node.value[:37] + "..."
    return f"the text '{value}'"


# "  - key:", "    key:" or "  - ...": indentation, the list dash if any, the key if any
_KEY_LINE = re.compile(r"^( *)(- +)?(?:([A-Za-z_][\w-]*) *:(?: |$))?")


def _misindented(lines: list[str], mark: Any) -> tuple[str, str] | None:
    """(problem, fix) when the YAML error at ``mark`` comes from a key or list item indented
    unlike the one above it, rather than from text that needed quotes."""
    if mark.line >= len(lines):
        return None
    this = _KEY_LINE.match(lines[mark.line])
    indent, dash, key = len(this.group(1)), this.group(2), this.group(3)
    if not (dash or key) or (not dash and mark.column > this.end(3)):
        return None  # not a key or item line, or the ':' at fault is inside the value
    for number in range(mark.line - 1, -1, -1):
        above = _KEY_LINE.match(lines[number])
        if dash:  # a list item lines up with the list item above it
            if not above.group(2):
                continue
            theirs, what, other = len(above.group(1)), "list item", "the list item"
        else:  # a key lines up with the key above it (after that one's '- ', if any)
            if not above.group(3):
                continue
            theirs = len(above.group(1)) + len(above.group(2) or "")
            what, other = f"key '{key}:'", f"'{above.group(3)}:'"
        if theirs == indent:
            return None
        return (f"The {what} on line {mark.line + 1} is indented by {indent} spaces, but "
                f"{other} on line {number + 1} above it by {theirs}",
                f"The keys of one theme, and the '- ' items of one list, must start in the "
                f"same column: indent line {mark.line + 1} by {theirs} spaces, like line "
                f"{number + 1}")
    return None


def _closest(name: str, known: tuple[str, ...]) -> str | None:
    """The known key that ``name`` is most likely a misspelling of, if any."""
    folded = {k.casefold(): k for k in known}
    close = [folded[name.casefold()]] if name.casefold() in folded else \
        difflib.get_close_matches(name, known, n=1, cutoff=0.6)
    return close[0] if close else None


def _did_you_mean(name: str, known: tuple[str, ...]) -> str:
    close = _closest(name, known)
    listed = f"Known keys: {', '.join(known)}"
    return f"Did you mean '{close}'? {listed}" if close else listed


def _slug(text: str) -> str:
    """An id from any text: 'Structural tension!' -> 'structural_tension'."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", "_", ascii_text.lower()).strip("_")


def _title(theme_id: str) -> str:
    return theme_id.replace("_", " ").capitalize()


def _lower_first(text: str) -> str:
    return text[:1].lower() + text[1:]


def _counts(theme: Theme, *, skip_zero: bool = False) -> str:
    """'12 indicators, 5 examples, 4 subthemes' (zero counts left out if ``skip_zero``)."""
    counts = [(len(theme.indicators), "indicator"), (len(theme.examples), "example"),
              (len(theme.subthemes), "subtheme")]
    return ", ".join(counted(n, word) for n, word in counts if n or not skip_zero)


def _walk(themes: tuple[Theme, ...], depth: int):
    for theme in themes:
        yield theme, depth
        yield from _walk(theme.subthemes, depth + 1)
