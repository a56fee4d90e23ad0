"""Plain data objects that flow between the pipeline stages.

They hold data only (no models, connections or open files) and carry stable string ids, so an
analyst can inspect, edit and pass them on between stages.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import MISSING, dataclass, field, fields
from typing import TYPE_CHECKING, Any, ClassVar, Literal, overload

if TYPE_CHECKING:  # pandas is imported where a table is built, to keep `import themesift` fast
    import pandas as pd

    from .pipeline import PipelineResult

__all__ = [
    "Turn", "Transcript", "Corpus", "MeaningUnit", "UNIT_COLUMNS",
    "Theme", "Framework", "CandidateCode", "CandidateCodes", "NONE_THEME", "Suggestion",
    "agreeing_first",
    "Decision", "Run", "StudyView",
]

Role = Literal["moderator", "participant"]

#: Columns of the meaning-unit table returned by :func:`themesift.segment`.
UNIT_COLUMNS = ["unit_id", "doc_id", "speaker", "role", "turn", "start", "end", "text"]


@dataclass(frozen=True)
class Turn:
    """One speaker turn: what one person said before someone else spoke.

    ``start``/``end`` are character offsets into the transcript's ``text``, so that
    ``transcript.text[turn.start:turn.end] == turn.text``. ``line`` is the 1-based line (or
    caption cue) in the source file where the turn begins; ``time_start``/``time_end`` are
    seconds from the start of the recording, where the format has timestamps.
    """

    index: int
    speaker: str
    role: Role
    start: int
    end: int
    text: str
    line: int | None = None
    time_start: float | None = None
    time_end: float | None = None


@dataclass(frozen=True)
class Transcript:
    """One transcribed focus group or interview.

    ``text`` is the transcript as an analyst reads it (for caption files, a rendering of
    "Speaker: words" per turn); every offset in themesift points into it. ``meta`` holds the
    source path, format, encoding, content hash and any header lines before the first turn.
    """

    id: str
    text: str
    turns: tuple[Turn, ...]
    meta: Mapping[str, Any] = field(default_factory=dict, compare=False)

    @property
    def speakers(self) -> list[str]:
        """Speakers in order of first appearance."""
        return list(dict.fromkeys(t.speaker for t in self.turns))

    def turns_frame(self) -> pd.DataFrame:
        """The turns as a DataFrame, one row per turn."""
        import pandas as pd

        rows = [{"doc_id": self.id, **t.__dict__} for t in self.turns]
        return pd.DataFrame(rows, columns=["doc_id", *Turn.__dataclass_fields__])


class Corpus:
    """An ordered collection of transcripts, looked up by position or by ``doc_id``.

    Examples
    --------
    >>> corpus = Corpus([])
    >>> len(corpus)
    0
    """

    def __init__(self, transcripts: Iterable[Transcript], *, skipped: Iterable[str] = ()) -> None:
        self._transcripts = list(transcripts)
        #: Paths of the files in the folders read that are not transcripts (unsupported types).
        self.skipped = tuple(skipped)
        self._by_id = {t.id: t for t in self._transcripts}
        if len(self._by_id) != len(self._transcripts):
            seen: set[str] = set()
            dupes = [t.id for t in self._transcripts if t.id in seen or seen.add(t.id)]
            raise ValueError(f"Transcript ids must be unique; repeated: {', '.join(dupes)}")

    def __len__(self) -> int:
        return len(self._transcripts)

    def __iter__(self) -> Iterator[Transcript]:
        return iter(self._transcripts)

    @overload
    def __getitem__(self, key: int) -> Transcript: ...
    @overload
    def __getitem__(self, key: str) -> Transcript: ...
    def __getitem__(self, key: int | str) -> Transcript:
        if isinstance(key, str):
            try:
                return self._by_id[key]
            except KeyError:
                known = ", ".join(self._by_id) or "none"
                raise KeyError(f"No transcript with id {key!r}. Available: {known}.") from None
        return self._transcripts[key]

    def __contains__(self, key: object) -> bool:
        return key in self._by_id

    @property
    def ids(self) -> list[str]:
        """Transcript ids in corpus order."""
        return list(self._by_id)

    def turns(self) -> pd.DataFrame:
        """All turns of all transcripts as one DataFrame."""
        import pandas as pd

        frames = [t.turns_frame() for t in self._transcripts]
        if not frames:
            return Transcript("", "", ()).turns_frame()
        return pd.concat(frames, ignore_index=True)

    def __repr__(self) -> str:
        turns = sum(len(t.turns) for t in self._transcripts)
        skipped = f", {len(self.skipped)} files skipped" if self.skipped else ""
        return f"Corpus({len(self)} transcripts, {turns} turns{skipped})"


#: How a table joins several values in one cell (a code's keywords, exemplar ids, exemplars).
SEPARATOR = " | "


class _Row:
    """A dataclass that is one row of a table: ``from_frame`` and ``to_frame`` convert. Fields
    in ``_JOINED`` are tuples, :data:`SEPARATOR`-joined in the table (so it round-trips
    through CSV)."""

    _JOINED: ClassVar[tuple[str, ...]] = ()

    @classmethod
    def from_frame(cls, table: pd.DataFrame) -> list:
        """The table's rows as objects (columns beyond the fields are ignored; an empty cell,
        as read from a CSV, is the field's default)."""
        import pandas as pd

        from .errors import InputError

        given = [f for f in fields(cls) if f.name in table.columns]  # type: ignore[arg-type]
        missing = [f.name for f in fields(cls)  # type: ignore[arg-type]
                   if f.name not in table.columns and f.default is MISSING
                   and f.default_factory is MISSING]
        if missing:
            raise InputError(f"A table of {cls.__name__} rows needs the column(s) "
                             f"{', '.join(missing)}; it has {', '.join(map(str, table.columns))}",
                             fix=f"Give the table {cls.__name__}.from_frame reads (see its "
                                 "docstring)")
        rows = []
        for record in table.to_dict("records"):
            values = {}
            for f in given:
                value = record[f.name]
                blank = value is None or (not isinstance(value, (str, tuple)) and pd.isna(value))
                if f.name in cls._JOINED:
                    values[f.name] = () if blank else tuple(
                        part for part in str(value).split(SEPARATOR) if part)
                elif not blank or f.default is MISSING:
                    values[f.name] = value
            rows.append(cls(**values))
        return rows

    @classmethod
    def to_frame(cls, rows: Iterable) -> pd.DataFrame:
        """Objects as a table, a column per field."""
        import pandas as pd

        names = [f.name for f in fields(cls)]  # type: ignore[arg-type]
        return pd.DataFrame([{name: SEPARATOR.join(value) if name in cls._JOINED else value
                              for name, value in ((n, getattr(row, n)) for n in names)}
                             for row in rows], columns=names)


@dataclass(frozen=True)
class MeaningUnit(_Row):
    """One meaning unit: the smallest stretch of one speaker's talk carrying one idea. A row of
    :func:`themesift.segment`'s table (``MeaningUnit.from_frame(units)``, ``to_frame``)."""

    unit_id: str
    doc_id: str
    speaker: str
    role: Role
    turn: int
    start: int
    end: int
    text: str


def agreeing_first(ids: Iterable[str], own: Mapping[str, Any], theme: Any) -> list[int]:
    """The positions of a code's exemplar unit ``ids``, those whose own suggestion (``own``:
    unit id -> theme) is the code's ``theme`` first: the members accepting it would code,
    which its quotes show first (the others after them, each in their order)."""
    ids = list(ids)
    agree = [k for k, unit in enumerate(ids) if own.get(unit) == theme]
    return agree + [k for k in range(len(ids)) if k not in agree]


#: The theme id meaning "fits no theme in the framework" (maybe a new theme).
NONE_THEME = "none"


def theme_label(text: str) -> str:
    """A theme label as a person typed it, trimmed, with the reserved label 'none' in any case
    ('None') as 'none'."""
    text = text.strip()
    return NONE_THEME if text.lower() == NONE_THEME else text


def in_place(units, transcripts) -> list[bool]:
    """For each unit of a table (``doc_id, start, end, text``), whether its words still stand
    at its offsets in its transcript as ``transcripts`` (``doc_id, text``) now has it: false
    where they were edited, or the transcript is not there."""
    text = dict(zip(transcripts["doc_id"], transcripts["text"]))
    return [doc in text and text[doc][int(start):int(end)] == words
            for doc, start, end, words in zip(units["doc_id"], units["start"].fillna(0),
                                              units["end"].fillna(0), units["text"])]


@dataclass(frozen=True)
class Theme:
    """One theme (or subtheme) of a framework, as an analyst writes it in a codebook.

    ``line`` is where the theme starts in its YAML file (for error messages); ``parent`` is the
    id of the theme a subtheme belongs to.
    """

    id: str
    name: str
    description: str
    indicators: tuple[str, ...] = ()
    examples: tuple[str, ...] = ()
    subthemes: tuple[Theme, ...] = ()
    parent: str | None = None
    line: int | None = field(default=None, compare=False)

    @property
    def texts(self) -> tuple[str, ...]:
        """What the analyst wrote for it: its name, description, indicators and examples."""
        return (self.name, self.description, *self.indicators, *self.examples)


@dataclass(frozen=True)
class Framework:
    """A seed framework: named themes with descriptions, indicators, examples and subthemes.

    ``themes`` are the top-level themes; suggestions are made at that level, and subthemes
    add to what their parent theme means.
    """

    name: str
    version: str
    description: str
    themes: tuple[Theme, ...]
    source: str = field(default="", compare=False)

    @property
    def theme_ids(self) -> list[str]:
        """Top-level theme ids in file order."""
        return [t.id for t in self.themes]

    def theme(self, theme_id: str) -> Theme:
        """The top-level theme or subtheme with this id.

        Raises
        ------
        KeyError
            Naming the available theme ids.
        """
        for t in self.all_themes():
            if t.id == theme_id:
                return t
        raise KeyError(f"Unknown theme {theme_id!r}. Available: {', '.join(self.theme_ids)}.")

    def closest_theme(self, value: object) -> str | None:
        """The id of the top-level theme whose id or name ``value`` nearly is, or the one theme
        whose id or name it begins, begins with or is a word of (four letters or more), for a
        "did you mean" ("Structual tension", "relationship", "hopeful", "emotional" for
        Emotional burden); None when none is near."""
        import difflib

        options = {t.id: t.id for t in self.themes} | {
            " ".join(t.name.casefold().split()): t.id for t in self.themes}
        given = " ".join(str(value).casefold().split())
        near = difflib.get_close_matches(given, list(options), n=1, cutoff=0.75)
        if near:
            return options[near[0]]
        part = {theme for option, theme in options.items() if min(len(given), len(option)) >= 4
                and (option.startswith(given) or given.startswith(option)
                     or given in option.replace("_", " ").split())}
        return part.pop() if len(part) == 1 else None

    def top_theme_id(self, theme_id: str | None) -> str | None:
        """The id of the top-level theme that ``theme_id`` is or belongs to (a subtheme at any
        depth counts for its top-level theme); None for an id of no theme."""
        for top in self.themes:
            stack = [top]
            while stack:
                theme = stack.pop()
                if theme.id == theme_id:
                    return top.id
                stack.extend(theme.subthemes)
        return None

    def all_themes(self) -> Iterator[Theme]:
        """Every theme and subtheme, depth first."""
        stack = list(reversed(self.themes))
        while stack:
            t = stack.pop()
            yield t
            stack.extend(reversed(t.subthemes))


@dataclass(frozen=True)
class CandidateCode(_Row):
    """One candidate code: a row of ``CandidateCodes.table`` (``CandidateCode.from_frame``),
    its keywords and exemplars as tuples."""

    _JOINED: ClassVar[tuple[str, ...]] = ("keywords", "exemplar_ids", "exemplars")

    code_id: str
    label: str
    keywords: tuple[str, ...] = ()
    size: int = 0
    exemplar_ids: tuple[str, ...] = ()
    exemplars: tuple[str, ...] = ()


@dataclass(frozen=True)
class CandidateCodes:
    """Candidate codes found in meaning units by :func:`themesift.discover_codes`.

    ``table`` has one row per code: ``code_id, label, keywords, size, n_speakers,
    n_transcripts, exemplar_ids, exemplars`` (keywords, exemplar ids and exemplar texts are
    " | "-joined strings so the table round-trips through CSV), plus ``cohesion``,
    ``single_speaker`` (one speaker said more than 70% of it, more than their share of the
    study's units explains), ``top_speaker_share`` and
    ``n_outliers``. ``assignments`` has one row per unit (units flagged ``small_talk`` have
    none): ``unit_id, code_id, distance, outlier`` (``outlier`` is True where a unit fitted
    no cluster well and was assigned to its nearest code). ``params`` records how the codes
    were made (method, k, seed, ...).
    """

    table: pd.DataFrame
    assignments: pd.DataFrame
    params: Mapping[str, Any] = field(default_factory=dict)

    def members(self, code_id: str) -> list[str]:
        """Unit ids assigned to a code."""
        a = self.assignments
        return a.loc[a["code_id"] == code_id, "unit_id"].tolist()

    @property
    def codes(self) -> list[CandidateCode]:
        """The codes as :class:`CandidateCode` objects."""
        return CandidateCode.from_frame(self.table)


@dataclass(frozen=True)
class Suggestion(_Row):
    """A theme suggested for a candidate code or a meaning unit (``level``, ``item_id``): a row
    of a run's suggestions, or of :func:`themesift.propose`'s (``code_id``) or
    :func:`themesift.suggest_units`' (``unit_id``) table, read with ``Suggestion.from_frame``.
    ``suggestion_id`` is what :meth:`themesift.Study.decide` takes (blank outside a study)."""

    level: Literal["code", "unit"]
    item_id: str
    theme_id: str
    score: float
    runner_up: str | None = None
    rationale: str = ""
    suggestion_id: str = ""

    @classmethod
    def from_frame(cls, table: pd.DataFrame) -> list[Suggestion]:
        if "item_id" not in table.columns:  # a propose() or suggest_units() table
            level = "code" if "code_id" in table.columns else "unit"
            table = table.rename(columns={f"{level}_id": "item_id"}).assign(level=level)
        return super().from_frame(table)


@dataclass(frozen=True)
class Decision(_Row):
    """An analyst's decision on a suggestion: a row of :attr:`themesift.Study.decisions`
    (``Decision.from_frame(study.decisions)``). Decisions are never changed or deleted: a
    later one on the same suggestion supersedes it."""

    id: int
    time: str  # UTC, ISO 8601
    analyst: str
    suggestion_id: str
    run_id: str
    action: Literal["accept", "reject", "reassign"]
    theme_id: str | None = None
    note: str = ""


@dataclass(frozen=True)
class Run:
    """One persisted pipeline run (:meth:`themesift.Study.run`): its id and the tables it
    produced.

    ``units`` is the meaning-unit table, ``codes`` the candidate-code table, and
    ``suggestions`` one row per suggestion, codes first, with columns ``suggestion_id, level
    (code|unit), item_id, text, theme_id, score, runner_up, runner_up_score, rationale``
    (:meth:`Suggestion.from_frame` reads them).
    A ``suggestion_id`` is what :meth:`Study.decide` takes; a unit's (``unit:<unit_id>``) is
    the same in every run, and each run keeps its own unit suggestions, so the unit rows are
    what this run suggested, whatever later runs did. ``assignments`` has one row per
    unit and code it belongs to (``unit_id, code_id``); ``manifest`` is the run's manifest
    (versions, config, input hashes, seed, timings). ``result`` is the pipeline's full
    output (for writing the files of a batch run; not stored, so None for a run read back
    with :meth:`Study.load_run`).
    """

    id: str
    units: pd.DataFrame
    codes: pd.DataFrame
    suggestions: pd.DataFrame
    assignments: pd.DataFrame | None = field(default=None, repr=False, compare=False)
    manifest: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)
    result: PipelineResult | None = field(default=None, repr=False, compare=False)

    def __repr__(self) -> str:
        """A line, not every table in full (a run left last in a notebook cell printed 280
        unit rows and the codes and suggestions)."""
        level = self.suggestions.get("level", self.suggestions.index[:0]).value_counts()
        return (f"Run({self.id!r}: {len(self.units)} units, {len(self.codes)} codes, "
                f"{level.get('unit', 0)} unit and {level.get('code', 0)} code suggestions)")


@dataclass(frozen=True)
class StudyView:
    """A study's latest state, as the exports show it.

    ``transcripts``: ``doc_id, path, format, text``. ``units``: the unit table (every unit of
    those transcripts). ``codes``, ``assignments`` and ``suggestions``: the run's candidate
    codes, unit -> code membership, and suggestions (as :meth:`Study.load_run`).
    ``coding``: the analyst's current coding (:meth:`Study.coding`) joined with the units'
    ``speaker, role, turn, start, end, text``. ``decisions``: every decision. ``pending``:
    the run's unit-level suggestions that no decision has touched yet. ``pseudonyms``: the
    :class:`~themesift.pseudonymise.Pseudonyms` applied to all of the above, or None.
    ``decided_suggestions``: what the machine had suggested for each unit when the analyst
    decided on it (:meth:`Study.decided_suggestions`), or None. ``decided_codes``: the
    candidate codes of every run that has a decision on one of them (``run_id`` and the
    code-table columns, as that run stored them), or None. ``carried_codes``: this run's
    codes that no decision names but decisions on earlier runs answered (code id ->
    ``"accept"``: every member accepting it would code carries its theme through them;
    ``"reject"``: an earlier run's code of that theme and mostly the same members was
    rejected), as the review sheet and the widget leave them out after a re-run.
    """

    study_path: str
    run_id: str
    framework: Framework
    transcripts: pd.DataFrame
    units: pd.DataFrame
    codes: pd.DataFrame
    assignments: pd.DataFrame
    suggestions: pd.DataFrame
    coding: pd.DataFrame
    decisions: pd.DataFrame
    pending: pd.DataFrame
    manifest: dict[str, Any]
    pseudonyms: Any = None
    decided_suggestions: pd.DataFrame | None = None
    decided_codes: pd.DataFrame | None = None
    carried_codes: dict[str, str] = field(default_factory=dict)
