"""Writing REFI-QDA files: a study as a project (``.qdpx``), a framework as a codebook (``.qdc``).

A ``.qdpx`` file opens in NVivo, ATLAS.ti and MAXQDA. It is a zip holding ``project.qde`` (the
QDA-XML 1.0 project) and ``sources/<guid>.txt`` (each transcript's text, UTF-8), and shows:

Users
    One user per analyst in the decisions (an analyst who left the name blank is "unnamed
    analyst"), then ``themesift`` (who made the suggestions): QualCoder takes the first user
    as the project's coder.
Codes
    One code per framework theme (its description, indicators and examples as the code's
    description), its subthemes nested under it, and under a theme the candidate codes the
    analyst accepted into it (or reassigned to it) as a whole and that still code a unit. No
    two codes share a name (QualCoder needs that; NVivo merges same-named siblings): of
    codes with one label, the later are numbered ("talk about waiting (2)"). "Fits no theme"
    is a top-level code of its own, next to the themes rather than inside one: it holds what
    the analyst judged to fit none of them, the material for new themes, which an analyst in
    NVivo will want to sort into new codes. With ``suggestions=True``, a top-level "Suggested by
    themesift" code holds one code per theme for the suggestions nobody has decided on yet.
Codings
    Every unit of the current coding is a ``PlainTextSelection`` (character offsets into the
    transcript text, which is what REFI-QDA counts: Unicode code points, end exclusive) with a
    ``Coding`` whose creating user is the analyst of the deciding decision, dated with that
    decision. A unit decided on by itself is coded with its theme's code; a unit coded by a
    decision on its candidate code is coded with that candidate code, which sits under the
    theme. A decision's note becomes a project note linked from its codings, and is also the
    selection's ``Description``, where readers that ignore ``NoteRef`` (QualCoder) take a
    coding's memo from. Pending suggestions are coded by the ``themesift`` user under
    "Suggested by themesift". A selection holds the codings of one user only, because readers
    such as QualCoder take the coder of every coding of a selection from the selection's
    ``creatingUser``: a unit coded by an analyst and also suggested by themesift is two
    selections of the same span.
Cases
    One case per speaker of each transcript (``P1 (fg1)``: labels like P1 are usually
    numbered afresh in every focus group), holding the coded selections of that speaker's
    meaning units (``SelectionRef``), so coding can be compared across participants (NVivo's
    case classifications and matrix queries). Talk that nobody coded is not in a case:
    Project.xsd would allow un-coded selections for it, but readers show those as empty
    annotations. The speaker's role and number of turns are in the case's description.

The project is named after the framework. Every GUID is derived from what it names (transcript
id and text, theme id, run and code id, unit id, analyst name), every date from the store
(decision times, the run's start; the project is created at the earliest, modified at the
latest), and the zip has fixed timestamps and sorted entries, so the
same study gives a byte-identical file, wherever the study folder is.
"""

from __future__ import annotations

import datetime
import hashlib
import os
import re
import uuid
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING
from xml.etree import ElementTree as ET

from ..errors import InputError
from ..model import NONE_THEME, Framework, Theme
from ._common import atomic_output, check_output, opened_study, study_view

if TYPE_CHECKING:
    import pandas as pd

    from ..study import Study
    from ._common import StudyView

__all__ = ["export_qdpx", "export_qdc"]

PROJECT_NS = "urn:QDA-XML:project:1.0"
CODEBOOK_NS = "urn:QDA-XML:codebook:1.0"
#: The namespace of every GUID themesift writes (uuid5 of a fixed name, never to be changed:
#: changing it would give every code, source and coding a new identity).
GUID_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "https://themesift.invalid/refi-qda")
TOOL_USER = "themesift"
UNNAMED_ANALYST = "unnamed analyst"
NONE_NAME = "Fits no theme"
SUGGESTED_NAME = "Suggested by themesift"
# Okabe-Ito: told apart by colour-blind readers too; one per top-level theme, in order.
_PALETTE = ("#E69F00", "#56B4E9", "#009E73", "#F0E442", "#0072B2", "#D55E00", "#CC79A7",
            "#999999")
_ZIP_TIME = (1980, 1, 1, 0, 0, 0)
# Characters XML 1.0 cannot hold at all, even escaped.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


@dataclass
class _Code:
    guid: str
    name: str
    description: str = ""
    color: str | None = None
    codable: bool = True
    children: list[_Code] = field(default_factory=list)

    def add(self, child: _Code) -> _Code:
        self.children.append(child)
        return child

    def tree(self) -> list[_Code]:
        """This code and the codes under it, depth first."""
        return [self, *(code for child in self.children for code in child.tree())]


def _distinct_names(roots: list[_Code], first: Iterable[_Code] = ()) -> None:
    """Number the later of codes that share a name anywhere in the tree ("... (2)"): NVivo
    merges same-named siblings, and QualCoder needs every code name distinct (of two, it
    gives the second's codings no code, without a word). Case does not count. The codes
    ``first`` (the framework's themes) keep their names whatever comes before them."""
    first = list(first)
    kept = {id(code) for code in first}
    taken: set[str] = set()
    for code in [*first, *(c for root in roots for c in root.tree() if id(c) not in kept)]:
        base, n = code.name, 2
        while code.name.casefold() in taken:
            code.name, n = f"{base} ({n})", n + 1
        taken.add(code.name.casefold())


def export_qdpx(study: Study | str | os.PathLike[str], path: str | os.PathLike[str], *,
                run_id: str | None = None, suggestions: bool = True, pseudonymise: bool = False,
                force: bool = False) -> Path:
    """Write a study as a REFI-QDA project (``.qdpx``) to open in NVivo, ATLAS.ti or MAXQDA.

    The transcripts become text sources, the framework a code hierarchy (themes, subthemes and
    the candidate codes accepted into them), and the analyst's current coding codings made by
    each analyst; see the module docstring for the layout.

    Parameters
    ----------
    study:
        A :class:`~themesift.Study` or the path of one.
    path:
        The file to write; its name must end with ``.qdpx``.
    run_id:
        The run whose framework and suggestions to show (default: the latest complete run).
    suggestions:
        Also write the suggestions nobody has decided on yet, coded by the ``themesift`` user
        under a "Suggested by themesift" code, so they can be reviewed in the QDA program.
    pseudonymise:
        Replace the names of people and places first (:func:`themesift.pseudonymise`); the
        key (real names -> placeholders) goes to ``<path>.pseudonyms.csv``, to keep private.
    force:
        Replace ``path`` if it exists.

    Returns
    -------
    pathlib.Path
        The file written.

    Raises
    ------
    InputError
        If the study has no complete run, ``path`` exists (without ``force``), its folder does
        not exist or its name does not end with ``.qdpx``. Nothing is written then.

    Examples
    --------
    >>> import themesift as ts                                          # doctest: +SKIP
    >>> ts.export_qdpx("my-study", "my-study.qdpx")                     # doctest: +SKIP
    PosixPath('my-study.qdpx')
    >>> ts.read_qdpx("my-study.qdpx").codings.groupby("coder").size()    # doctest: +SKIP
    """
    check_output(path, force=force, suffixes=(".qdpx",))
    with opened_study(study) as opened:
        view = study_view(opened, run_id=run_id, pseudonymise=pseudonymise)
        started = opened.runs.set_index("run_id").at[view.run_id, "created"]
    project = _Project(view, _xml_time(started))
    members = project.build(suggestions)
    with atomic_output(path, force=force, suffixes=(".qdpx",),
                       pseudonyms=view.pseudonyms) as temp:
        _write_zip(temp, members)
    return Path(path)


def export_qdc(study_or_framework: Study | Framework | str | os.PathLike[str],
               path: str | os.PathLike[str], *, force: bool = False) -> Path:
    """Write a framework as a REFI-QDA codebook (``.qdc``): themes with their subthemes.

    Codes keep the GUIDs they have in :func:`export_qdpx` files, so a codebook imported first
    and a project imported later refer to the same codes.

    Parameters
    ----------
    study_or_framework:
        A :class:`~themesift.Framework`, or a study (or its path), whose latest run's
        framework is written.
    path, force:
        As for :func:`export_qdpx`, with a name ending in ``.qdc``.

    Returns
    -------
    pathlib.Path
        The codebook written; on an :class:`~themesift.errors.InputError` (the cases of
        :func:`export_qdpx`) nothing is.

    Examples
    --------
    >>> import themesift as ts                                              # doctest: +SKIP
    >>> ts.export_qdc(ts.load_framework("recovery"), "recovery.qdc")        # doctest: +SKIP
    PosixPath('recovery.qdc')
    """
    if isinstance(study_or_framework, Framework):
        framework = study_or_framework
    else:
        with opened_study(study_or_framework) as study:
            framework = study.framework()
    root = ET.Element("CodeBook", xmlns=CODEBOOK_NS, origin=_origin())
    codes = ET.SubElement(root, "Codes")
    roots = _framework_codes(framework)[0]
    _distinct_names(roots)
    for code in roots:
        _code_element(codes, code)
    with atomic_output(path, force=force, suffixes=(".qdc",)) as temp:
        temp.write_bytes(_xml_bytes(root))
    return Path(path)


# ------------------------------------------------------------------------------- the project


class _Project:
    """One study view turned into ``project.qde`` and its source files."""

    def __init__(self, view: StudyView, run_time: str) -> None:
        self.view = view
        self.run_time = run_time
        self.roots, self.theme_codes = _framework_codes(view.framework)
        self.extra_codes: dict[str, _Code] = {}  # "none" and themes of other frameworks
        self.tool_user = _guid("user", "tool", TOOL_USER)
        self.analysts = {a: _guid("user", "analyst", a)
                         for a in sorted(set(view.decisions["analyst"].fillna("")))}
        self.codings: dict[str, list[tuple[str, str, str, str | None]]] = {}
        self.notes: dict[str, ET.Element] = {}
        # (doc, speaker) -> the selections of their coded units, for their case
        self.case_selections: dict[tuple[str, str], list[str]] = {}

    def build(self, suggestions: bool) -> list[tuple[str, bytes]]:
        view = self.view
        self._add_analyst_codings()
        if suggestions and len(view.pending):
            self._add_pending_codings()
        # (time, order, user) of the run and of every decision: created at the first,
        # modified at the last (a study's decisions may predate the run exported); in one
        # second, the run before the decisions and these in their order
        changes = sorted([(self.run_time, -1, self.tool_user), *(
            (_xml_time(time), n, self._user(analyst)) for n, (time, analyst) in enumerate(
                zip(view.decisions["time"], view.decisions["analyst"])))])
        project = ET.Element("Project", xmlns=PROJECT_NS, name=_clean(view.framework.name),
                             origin=_origin(), creatingUserGUID=changes[0][2],
                             creationDateTime=changes[0][0])
        if len(changes) > 1:
            project.set("modifyingUserGUID", changes[-1][2])
            project.set("modifiedDateTime", changes[-1][0])
        # The analysts first: QualCoder takes the first user as the project's coder.
        users = ET.SubElement(project, "Users")
        for analyst, guid in self.analysts.items():
            ET.SubElement(users, "User", guid=guid, name=_clean(analyst or UNNAMED_ANALYST))
        ET.SubElement(users, "User", guid=self.tool_user, name=TOOL_USER)
        _distinct_names(self.roots, first=self.theme_codes.values())
        codes = ET.SubElement(ET.SubElement(project, "CodeBook"), "Codes")
        for code in self.roots:
            _code_element(codes, code)
        cases = ET.SubElement(project, "Cases")
        files = self._sources(project)
        self._cases(cases)
        if not len(cases):
            project.remove(cases)
        if self.notes:
            ET.SubElement(project, "Notes").extend(self.notes.values())
        pseudonymised = (" Names of people and places, and identifiers such as phone numbers "
                         "and dates, are pseudonymised." if view.pseudonyms is not None else "")
        ET.SubElement(project, "Description").text = _clean(
            f"Exported by themesift from run {view.run_id} with the framework "
            f"{view.framework.name!r} (version {view.framework.version}).{pseudonymised}")
        return [("project.qde", _xml_bytes(project)), *sorted(files)]

    # -- codes ---------------------------------------------------------------------------------

    def _user(self, analyst: object) -> str:
        return self.analysts[str(analyst or "")]

    def _theme_name(self, theme_id: str) -> str:
        if theme_id in self.theme_codes:
            return self.theme_codes[theme_id].name
        return NONE_NAME if theme_id == NONE_THEME else theme_id

    def _theme_code(self, theme_id: str) -> _Code:
        """The code of a theme, "Fits no theme", or a theme the framework no longer has."""
        if theme_id in self.theme_codes:
            return self.theme_codes[theme_id]
        if theme_id not in self.extra_codes:
            about = ("Meaning units the analyst judged to fit none of the framework's themes: "
                     "material for new themes." if theme_id == NONE_THEME else
                     f"A theme of an earlier run's framework, not in "
                     f"{self.view.framework.name!r}.")
            code = _Code(_guid("theme", theme_id), self._theme_name(theme_id), about)
            self.extra_codes[theme_id] = code
            self.roots.append(code)
        return self.extra_codes[theme_id]

    def _candidate_codes(self) -> dict[str, _Code]:
        """Candidate codes whose latest decision accepted or reassigned them, by suggestion id."""
        decisions = self.view.decisions
        latest = decisions.drop_duplicates("suggestion_id", keep="last")
        latest = latest[latest["suggestion_id"].str.startswith("code:")
                        & (latest["action"] != "reject")]
        # each code as its own run stored it (a code decided in an earlier run included)
        codes = self.view.decided_codes
        if codes is None:
            codes = self.view.codes.assign(run_id=self.view.run_id)
        stored = {(r, c): (label, keywords) for r, c, label, keywords in zip(
            codes["run_id"], codes["code_id"], codes["label"], codes["keywords"])}
        found = {}
        for d in latest.sort_values("suggestion_id").itertuples():
            _, run_id, code_id = d.suggestion_id.split(":", 2)
            label, keywords = stored.get((run_id, code_id), (None, None))
            name = str(label) if label else f"{code_id} ({run_id})"
            keywords = (f"; keywords: {str(keywords).replace(' | ', ', ')}" if keywords else "")
            theme = self._theme_code(d.theme_id)
            found[d.suggestion_id] = theme.add(_Code(
                _guid("code", run_id, code_id), name,
                f"Candidate code {code_id} of run {run_id}{keywords}. {d.action.capitalize()}ed "
                f"into {theme.name!r} by {d.analyst or UNNAMED_ANALYST}."))
        return found

    # -- codings -------------------------------------------------------------------------------

    def _code(self, unit_id: str, code: _Code, user: str, time: str, note: str | None) -> None:
        self.codings.setdefault(unit_id, []).append((code.guid, user, time, note))

    def _add_analyst_codings(self) -> None:
        decisions = self.view.decisions.set_index("id")
        candidates = self._candidate_codes()
        for row in self.view.coding.itertuples():
            decision = decisions.loc[row.decision_id]
            code = (candidates[decision["suggestion_id"]] if row.source == "code"
                    else self._theme_code(row.theme_id))
            user = self._user(decision["analyst"])
            time = _xml_time(decision["time"])
            self._code(row.unit_id, code, user, time,
                       self._note(row.decision_id, decision["note"], user, time))
        # A code accepted once whose members have all been coded otherwise since holds
        # nothing: it is left out, not shown as accepted and empty.
        used = {guid for codings in self.codings.values() for guid, *_ in codings}
        empty = {code.guid for code in candidates.values()} - used
        for code in (c for root in self.roots for c in root.tree()):
            code.children = [child for child in code.children if child.guid not in empty]

    def _add_pending_codings(self) -> None:
        branch = _Code(_guid("suggested"), SUGGESTED_NAME,
                       "Suggestions by themesift that no analyst has decided on yet, one code "
                       "per theme. Review them and code the text yourself.", codable=False)
        self.roots.append(branch)
        by_theme = {}
        for theme_id in [*self.view.framework.theme_ids, *self.view.pending["theme_id"]]:
            if theme_id not in by_theme:
                name = self._theme_name(theme_id)
                color = self.theme_codes[theme_id].color if theme_id in self.theme_codes else None
                by_theme[theme_id] = branch.add(_Code(
                    _guid("suggested", theme_id), f"{name} (suggested)",
                    f"Text themesift suggests for {name!r}.", color))
        user = self.tool_user
        for row in self.view.pending.itertuples():
            self._code(row.unit_id, by_theme[row.theme_id], user, self.run_time, None)

    def _note(self, decision_id: int, text: object, user: str, time: str) -> str | None:
        """The GUID of a decision's note (made on first use), or None when it has none."""
        if not isinstance(text, str) or not text.strip():
            return None
        guid = _guid("note", str(decision_id), text)
        if guid not in self.notes:
            note = ET.Element("Note", guid=guid, name=f"Decision {decision_id} note",
                              creatingUser=user, creationDateTime=time)
            ET.SubElement(note, "PlainTextContent").text = _clean(text)
            self.notes[guid] = note
        return guid

    # -- sources -------------------------------------------------------------------------------

    def _sources(self, project: ET.Element) -> list[tuple[str, bytes]]:
        """Add the sources (with their coded selections); return their text files."""
        units = self.view.units.set_index("unit_id")
        coded = units.loc[list(self.codings)].sort_values(["start", "end"], kind="stable")
        files = []
        sources = ET.SubElement(project, "Sources")
        for doc in self.view.transcripts.itertuples():
            text = str(doc.text)
            guid = _guid("source", doc.doc_id, hashlib.sha256(text.encode()).hexdigest())
            files.append((f"sources/{guid}.txt", text.encode("utf-8")))
            source = ET.SubElement(sources, "TextSource", guid=guid,
                                   name=_clean(doc.doc_id),
                                   plainTextPath=f"internal://{guid}.txt",
                                   creatingUser=self.tool_user,
                                   creationDateTime=self.run_time)
            for unit in coded[coded["doc_id"] == doc.doc_id].itertuples():
                start, end = int(unit.start), int(unit.end)
                if text[start:end] != unit.text:
                    raise InputError(
                        f"Meaning unit {unit.Index} is not at characters {start}..{end} of "
                        f"transcript {doc.doc_id!r}, so its coding cannot be placed",
                        path=self.view.study_path,
                        fix="Run the pipeline again on the transcripts as they are now")
                selections = self._selections(source, guid, unit.Index, start, end)
                if str(getattr(unit, "speaker", "") or "").strip():
                    self.case_selections.setdefault((doc.doc_id, str(unit.speaker)),
                                                    []).extend(selections)
        if not len(sources):
            project.remove(sources)
        return files

    def _selections(self, source: ET.Element, source_guid: str, unit_id: str, start: int,
                    end: int) -> list[str]:
        """The unit's selections, one per user coding it; returns their GUIDs."""
        by_user: dict[str, list[tuple[str, str, str | None]]] = {}
        for code_guid, user, time, note in self.codings[unit_id]:
            by_user.setdefault(user, []).append((code_guid, time, note))
        guids = []
        for n, (user, codings) in enumerate(by_user.items()):
            # the first user's selection keeps the GUID a unit had with one selection
            guid = _guid("selection", source_guid, unit_id, *([user] if n else []))
            selection = ET.SubElement(source, "PlainTextSelection", guid=guid,
                                      startPosition=str(start), endPosition=str(end),
                                      creatingUser=user, creationDateTime=codings[0][1])
            notes = dict.fromkeys(self.notes[note].findtext("PlainTextContent")
                                  for _, _, note in codings if note)
            if notes:
                ET.SubElement(selection, "Description").text = "\n".join(notes)
            for code_guid, time, note in codings:
                coding = ET.SubElement(selection, "Coding",
                                       guid=_guid("coding", source_guid, unit_id, code_guid),
                                       creatingUser=user, creationDateTime=time)
                ET.SubElement(coding, "CodeRef", targetGUID=code_guid)
                if note:
                    ET.SubElement(coding, "NoteRef", targetGUID=note)
            guids.append(guid)
        return guids

    def _cases(self, cases: ET.Element) -> None:
        """A case per speaker of each transcript, holding their coded selections."""
        units = self.view.units
        if "speaker" not in units.columns:
            return
        units = units[units["speaker"].fillna("").astype(str).str.strip() != ""]
        speakers = units.groupby(["doc_id", "speaker"]).agg(
            role=("role", "first"), turns=("turn", "nunique"))
        for (doc_id, speaker), row in speakers.iterrows():
            selections = self.case_selections.get((doc_id, str(speaker)), [])
            case = ET.SubElement(cases, "Case", guid=_guid("case", doc_id, str(speaker)),
                                 name=_clean(f"{speaker} ({doc_id})"))
            what = f" ({row.role})" if isinstance(row.role, str) and row.role else ""
            ET.SubElement(case, "Description").text = _clean(
                f"Speaker {speaker}{what} in transcript {doc_id}: {_count(row.turns, 'turn')}, "
                f"{_count(len(selections), 'coded selection')}.")
            for guid in selections:
                ET.SubElement(case, "SelectionRef", targetGUID=guid)


def _count(n: int, word: str) -> str:
    return f"{n} {word}{'s' if n != 1 else ''}"


# ------------------------------------------------------------------------------- helpers


def _framework_codes(framework: Framework) -> tuple[list[_Code], dict[str, _Code]]:
    """The framework as top-level codes, and every theme's and subtheme's code by theme id."""
    by_id: dict[str, _Code] = {}

    def make(theme: Theme, color: str) -> _Code:
        code = _Code(_guid("theme", theme.id), theme.name, _theme_description(theme), color)
        by_id[theme.id] = code
        for sub in theme.subthemes:
            code.add(make(sub, color))
        return code

    roots = [make(t, _PALETTE[i % len(_PALETTE)]) for i, t in enumerate(framework.themes)]
    return roots, by_id


def _theme_description(theme: Theme) -> str:
    parts = [theme.description.strip()]
    if theme.indicators:
        parts.append("Indicators: " + "; ".join(theme.indicators) + ".")
    if theme.examples:
        parts.append("Examples: " + " ".join(f"\u201c{e}\u201d" for e in theme.examples))
    return "\n".join(p for p in parts if p)


def _code_element(parent: ET.Element, code: _Code) -> None:
    element = ET.SubElement(parent, "Code", guid=code.guid, name=_clean(code.name),
                            isCodable="true" if code.codable else "false")
    if code.color:
        element.set("color", code.color)
    if code.description:
        ET.SubElement(element, "Description").text = _clean(code.description)
    for child in code.children:
        _code_element(element, child)


def _guid(*key: str) -> str:
    return str(uuid.uuid5(GUID_NAMESPACE, "\x1f".join(key)))


def _clean(text: object) -> str:
    return _NOT_XML.sub("", str(text))


def _origin() -> str:
    from .._version import __version__

    return f"themesift {__version__}"


def _xml_time(iso: str) -> str:
    """A store time (ISO 8601, UTC) as the QDA programs write it: 2026-01-31T12:00:00Z."""
    moment = datetime.datetime.fromisoformat(str(iso))
    if moment.tzinfo is not None:
        moment = moment.astimezone(datetime.timezone.utc)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _xml_bytes(root: ET.Element) -> bytes:
    ET.indent(root)
    return ET.tostring(root, encoding="UTF-8", xml_declaration=True)


def _write_zip(path: Path, members: list[tuple[str, bytes]]) -> None:
    """A zip whose bytes depend only on its members: fixed times, modes and order."""
    with zipfile.ZipFile(path, "w") as zf:
        for name, data in members:
            info = zipfile.ZipInfo(name, date_time=_ZIP_TIME)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.create_system = 3
            info.external_attr = 0o644 << 16
            zf.writestr(info, data)
