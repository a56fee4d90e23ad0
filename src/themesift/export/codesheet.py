"""The code sheet: the table content-analysis papers print, one row per coded meaning unit.

Meaning unit, condensed meaning unit, code, subtheme and theme (Graneheim & Lundman), with
where each unit comes from (document, speaker, turn, characters) and who coded it, grouped by
theme in the framework's order. Written as .xlsx (bold frozen header, wrapped text, themes
as collapsible row groups) or .csv (UTF-8 with a byte-order mark, so Excel reads accents).

Cells that a spreadsheet would run as a formula (text starting with ``=``, ``+``, ``-``,
``@``, a tab or a carriage return) are neutralised: in the .xlsx they are stored as text with
Excel's quote prefix, so they show exactly as spoken and are never evaluated; in the .csv,
which has no cell types, they get a leading ``'``, the mark Excel and LibreOffice read as
"this is text".
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import TYPE_CHECKING

from .._io import CSV_OPTIONS
from ..errors import InputError
from ..model import NONE_THEME, Framework, Theme
from ..pseudonymise import PLACEHOLDER_KINDS
from ..review.sheet import is_formula_like, quote_formula
from ..text import LETTER, content_stems
from ._common import StudyView, atomic_output, check_output, study_view

if TYPE_CHECKING:
    import pandas as pd

    from ..study import Study

__all__ = ["codesheet", "condense", "export_codesheet"]

CONDENSED = "condensed meaning unit (machine-made, edit freely)"
SUBTHEME = "subtheme (machine-suggested, check)"
#: Columns of :func:`codesheet`, in order.
COLUMNS = ["theme", SUBTHEME, "code", "meaning unit", CONDENSED, "document", "speaker", "turn",
           "characters", "unit_id", "analyst", "decided by"]
_WIDTHS = {"theme": 20, SUBTHEME: 22, "code": 22, "meaning unit": 60, CONDENSED: 40,
           "document": 18, "speaker": 12, "turn": 6, "characters": 11, "unit_id": 26,
           "analyst": 9, "decided by": 13}
#: A subtheme is suggested only when the unit shares this many content words with it.
MIN_SUBTHEME_OVERLAP = 2
#: A condensed meaning unit keeps its best sentences up to about this many words.
CONDENSED_WORDS = 25

# Transcriber's notes ("[laughs]", "(pause)"), not a pseudonymised export's placeholders
# ("[PERSON 3]", "[PLACE 1]"), which stand for words of the sentence.
_NOTES = re.compile(rf"\s*(?:\[(?!(?:{'|'.join(PLACEHOLDER_KINDS)}) \d+\])[^\]]*\]|"
                    r"\((?:laugh|pause|inaudible|crosstalk|sigh)[^)]*\))", re.IGNORECASE)
_FALSE_START = re.compile(r"\b([\w']+)-\s+(?=\1\b)", re.IGNORECASE)
# A word said twice: any word across a comma ("she's, she's"), only small words without one
# ("the the"), since "walk in in crisis" and "had had" are English.
_REPEAT = re.compile(r"\b([\w']+),\s+(?=\1\b)|"
                     r"\b(i|a|the|we|they|it|it's|you|he|she|and|but|so|to|my)\s+(?=\2\b)",
                     re.IGNORECASE)
# Hesitations are never words of the sentence: they go wherever they are.
_HESITATION = re.compile(r"(?<![\w'])(?:u+m+|u+h+|e+r+m*|a+h+|m+m+|h+m+)(?![\w'])",
                         re.IGNORECASE)
# These are fillers only when set off: at the start of the text or after a comma or sentence
# mark, and followed by one (", you know," / "You know, ..." / "..., I suppose."). Elsewhere
# they are the sentence's own words: "if you know the person", "I mean the world to her",
# "I told her you know the way home", "a sort of shed".
_FILLER = re.compile(
    r"(?P<before>^\s*|[,;:.!?][\"”’)\]]?\s*)"
    r"(?:you know|i mean|sort of|you see|i suppose|i guess|basically|honestly|to be honest|"
    r"obviously|literally|or something|and stuff|i think|i don't know|like)"
    r"(?=\s*(?:[,;:.!?]|$))",
    re.IGNORECASE)
# What a filler or hesitation set off by commas leaves ("The team, , listens"): its commas go
# with it ("The team listens"), but "She's, , she's" keeps one, so that the repeat is seen.
_EMPTIED_COMMAS = re.compile(r"([\w']+)\s*,(?:\s*,)+\s*(?=([\w']*))")


def _join_emptied(match: re.Match) -> str:
    word, following = match.group(1), match.group(2)
    return word + (", " if word.lower() == following.lower() else " ")


# Discourse openers: not "no", which may say the opposite of what follows ("No targets, no
# forms" is not "Targets, no forms"), unless a comma parts it off ("No, I'd finished").
_LEADING = re.compile(r"^(?:(?:and|so|but|well|yeah|yes|oh|okay|ok|right)\b[\s,]*|no\s*,\s*)+",
                      re.IGNORECASE)
_SENTENCE = re.compile(r"(?<=[.!?])\s+|(?<=[.!?][\"”’)\]])\s+")
_CLAUSE = re.compile(r"(?<=[,;:])\s+|\s+-+\s+")


def condense(text: str, *, max_words: int = CONDENSED_WORDS) -> str:
    """An extractive condensation of a meaning unit: its key sentences, fillers removed.

    Transcription notes ("[laughs]"), hesitations ("um", "er"), fillers and hedges set off
    by commas or starting a sentence ("..., you know, ...", "I mean, ...", "..., I suppose.",
    ", like,"; where such words are the sentence's own, as in "if you know the person" or
    "I mean the world to her", they stay), false starts ("it's- it's") and repeated words
    go; sentences with
    fewer than two content words ("I can start, I suppose.") go; of the rest, the sentences
    richest in content words are kept in their spoken order up to about ``max_words``. A single
    long sentence is cut to its richest clauses, with "[...]" where words were left out. The
    words kept are the speaker's own: nothing is paraphrased, so the analyst can edit it into
    a proper condensation.

    Examples
    --------
    >>> condense("Um, I can start, I suppose. For me it's- it's less about the, you know, "
    ...          "the diagnosis and more about getting my life back.")
    "For me it's less about the diagnosis and more about getting my life back."
    """
    text = _HESITATION.sub("", _NOTES.sub("", str(text)))
    text = _tidy(_FILLER.sub(r"\g<before>", text))
    text = _REPEAT.sub("", _FALSE_START.sub("", text))
    sentences = [_tidy(s) for s in _SENTENCE.split(text)]
    sentences = [s for s in sentences if LETTER.search(s)]
    sentences = [s for s in sentences if len(content_stems(s)) >= 2] or sentences
    if not sentences:
        return ""
    gap = " "
    if len(sentences) == 1 and len(sentences[0].split()) > max_words:
        sentences, gap = _CLAUSE.split(sentences[0]), " [...] "
    kept: list[int] = []
    for i in sorted(range(len(sentences)), key=lambda i: -len(content_stems(sentences[i]))):
        words = sum(len(sentences[k].split()) for k in kept) + len(sentences[i].split())
        if not kept or words <= max_words:
            kept.append(i)
    kept.sort()
    # a stretch left on its own between gaps must say something: not "... [...] which [...]"
    runs = [[kept[0]]]
    for before, i in zip(kept, kept[1:]):
        if i == before + 1:
            runs[-1].append(i)
        else:
            runs.append([i])
    kept = [i for run in runs if len(content_stems(" ".join(sentences[k] for k in run))) >= 2
            for i in run] or kept
    condensed = sentences[kept[0]]
    for before, i in zip(kept, kept[1:]):
        if i == before + 1:
            condensed += " " + sentences[i]
        else:
            condensed = condensed.rstrip(",;:") + gap + sentences[i]
    condensed = _tidy(condensed)
    if condensed.rstrip("\"”’)")[-1:] not in (".", "!", "?"):
        condensed = condensed.rstrip(",;:-") + ("." if kept[-1] == len(sentences) - 1 else " [...]")
    return condensed


def _tidy(text: str) -> str:
    """Punctuation left by removed words, a leading "and"/"so"/"but" or dash of an
    interrupted turn, a capital to start."""
    text = re.sub(r"\s+", " ", text)
    text = _EMPTIED_COMMAS.sub(_join_emptied, text)
    text = re.sub(r"([,.;:!?])(?:\s*,)+", r"\1", text)
    # a mark left alone by a removed filler: "patient. You know?" -> "patient. ?"
    text = re.sub(r"([.!?][\"”’)\]]?)(?:\s+[.!?;:]+)+(?=\s|$)", r"\1", text)
    text = re.sub(r"\s+([,.;:!?])", r"\1", text)
    text = re.sub(r"[,;:]+(?=[.!?])", "", text)  # "hardest, honestly." -> "hardest,." -> "."
    text = _LEADING.sub("", text.strip(" ,;-–—")).strip(" ,;")
    return text[:1].upper() + text[1:]


def _subtheme(text: str, theme: Theme) -> Theme | None:
    """The subtheme of ``theme`` sharing most content words with the unit, if any does.

    A lexical suggestion, not a decision: the framework's subthemes are described in words the
    participants rarely use, so a unit sharing fewer than MIN_SUBTHEME_OVERLAP content words
    with every subtheme is left blank for the analyst rather than guessed.
    """
    words = content_stems(text)
    best, best_overlap = None, MIN_SUBTHEME_OVERLAP - 1
    for sub in theme.subthemes:
        about = " ".join([sub.name, sub.description, *sub.indicators, *sub.examples])
        overlap = len(words & content_stems(about))
        if overlap > best_overlap:
            best, best_overlap = sub, overlap
    return best


def codesheet(view: StudyView) -> pd.DataFrame:
    """The code sheet of a study view: one row per coded meaning unit, grouped by theme.

    Columns (:data:`COLUMNS`): ``theme`` (name), the subtheme, ``code`` (the label of the run's
    candidate code the unit belongs to, under the unit's theme; see below), ``meaning unit``,
    the condensed meaning unit, ``document``, ``speaker``, ``turn``, ``characters``
    ("start-end" in the transcript), ``unit_id``, ``analyst`` and ``decided by`` ("unit
    decision" or "code decision"). Rows are in the framework's theme order, then subtheme,
    code, document and position. Units the analyst coded "none" (fits no theme) are not
    listed.

    The code: a candidate code sits under the theme the analyst's latest decision on it gave
    it (accepted into its suggested theme, or reassigned), in whichever run it was decided;
    a unit shows the code it belongs to that sits under the unit's own theme. A code with
    mixed members, some decided one by one into other themes, so shows only beside its
    members of its own theme; the others, the members of a rejected code or of a code nobody
    decided on, and outliers show no code.

    The subtheme: the framework's subthemes belong to a theme, but the analyst codes units
    with themes. Where the analyst coded a subtheme, it is shown; otherwise the subtheme of
    the coded theme that shares most content words with the unit (its description,
    indicators and examples), when it shares at least two, is suggested, and the column
    header says it is machine-suggested. It helps the analyst fill the column in; it is not
    the analyst's coding.

    Raises
    ------
    InputError
        If nothing is coded yet.

    Examples
    --------
    >>> sheet = codesheet(study_view("my-study"))                        # doctest: +SKIP
    >>> sheet.groupby("theme").size()                                     # doctest: +SKIP
    """
    import pandas as pd

    coding = view.coding[view.coding["theme_id"] != NONE_THEME]
    if coding.empty:
        raise InputError(f"Nothing in the study {view.study_path} is coded yet, so the code "
                         "sheet would be empty",
                         fix="Review the suggestions first (fill in the run's review.xlsx and "
                             "read it back with themesift apply, or use the review widget in "
                             "Jupyter), then export")
    code_of = _placed_codes(view)
    order = {t.id: i for i, t in enumerate(view.framework.all_themes())}
    documents = {d: i for i, d in enumerate(view.transcripts["doc_id"])}
    rows = []
    for unit in coding.to_dict("records"):
        theme, subtheme = _theme_and_subtheme(view.framework, unit["theme_id"], unit["text"])
        code = code_of.get((unit["unit_id"], unit["theme_id"]), "")
        rows.append({
            "theme": theme.name, SUBTHEME: subtheme.name if subtheme else "", "code": code,
            "meaning unit": unit["text"], CONDENSED: condense(unit["text"]),
            "document": unit["doc_id"], "speaker": unit["speaker"], "turn": int(unit["turn"]),
            "characters": f"{int(unit['start'])}-{int(unit['end'])}",
            "unit_id": unit["unit_id"], "analyst": unit["analyst"],
            "decided by": f"{unit['source']} decision",
            "_key": (order.get(theme.id, len(order)),
                     order.get(subtheme.id, len(order)) if subtheme else len(order),
                     code, documents.get(unit["doc_id"], 0), int(unit["start"]))})
    rows.sort(key=lambda row: row.pop("_key"))
    return pd.DataFrame(rows, columns=COLUMNS)


def _placed_codes(view: StudyView) -> dict[tuple[str, str], str]:
    """(unit id, theme id) -> the label of the candidate code (of any run) that the analyst's
    latest decision on it accepted or reassigned into that theme and that the unit belongs
    to; the most recently decided such code where there are several."""
    decided = view.decided_suggestions
    if decided is None:
        return {}
    codes = view.decided_codes if view.decided_codes is not None else view.codes.assign(
        run_id=view.run_id)
    labels = {f"code:{r}:{c}": label
              for r, c, label in zip(codes["run_id"], codes["code_id"], codes["label"])}
    on_codes = decided[decided["level"] == "code"]
    latest = on_codes.groupby("suggestion_id")["decision_id"].transform("max")
    placed = on_codes[(on_codes["decision_id"] == latest) & (on_codes["action"] != "reject")]
    return {(u, theme): str(labels.get(sid) or sid.split(":")[-1])
            for u, theme, sid in zip(placed["unit_id"], placed["theme_id"],
                                     placed["suggestion_id"])}  # in decision order: latest wins


def _theme_and_subtheme(framework: Framework, theme_id: str,
                        text: str) -> tuple[Theme, Theme | None]:
    """The unit's theme, and its subtheme: the one the analyst coded, else a suggestion.

    A theme the run's framework does not have (coded in an earlier run with another
    framework) is shown by its id, after the framework's themes.
    """
    try:
        theme = framework.theme(theme_id)
    except KeyError:
        return Theme(theme_id, theme_id, ""), None
    if theme.parent is not None:
        return framework.theme(theme.parent), theme
    return theme, _subtheme(text, theme)


def export_codesheet(study: Study | StudyView | str | os.PathLike[str],
                     path: str | os.PathLike[str], *,
                     run_id: str | None = None, pseudonymise: bool = False,
                     force: bool = False) -> Path:
    """Write the code sheet of a study's coding to an .xlsx or .csv file.

    Parameters
    ----------
    study:
        A :class:`~themesift.study.Study` or its folder, or a view of it already read with
        :func:`~themesift.export._common.study_view` (then ``run_id`` and ``pseudonymise``
        are the view's own).
    path:
        The file to write; its suffix (.xlsx or .csv) picks the format.
    run_id:
        The run whose candidate codes and framework to show; the latest complete run by default.
    pseudonymise:
        Replace names of people and places first (:func:`themesift.pseudonymise`); the
        key (real names -> placeholders) goes to ``<path>.pseudonyms.csv``, to keep private.
    force:
        Replace an existing file.

    Returns
    -------
    Path
        ``path``, now holding the complete code sheet.

    Raises
    ------
    InputError
        When the suffix is neither .xlsx nor .csv, the file exists (and ``force`` is not
        set), its folder does not exist, the study has no run, or nothing is coded yet. No
        file is left behind.

    Examples
    --------
    >>> export_codesheet("my-study", "codes.xlsx", pseudonymise=True)     # doctest: +SKIP
    PosixPath('codes.xlsx')
    """
    check_output(path, force=force, suffixes=(".xlsx", ".csv"))
    view = study_view(study, run_id=run_id, pseudonymise=pseudonymise)
    sheet = codesheet(view)
    with atomic_output(path, force=force, suffixes=(".xlsx", ".csv"),
                       pseudonyms=view.pseudonyms) as temp:
        if Path(path).suffix.lower() == ".csv":
            sheet.map(quote_formula).to_csv(temp, encoding="utf-8-sig", **CSV_OPTIONS)
        else:
            _write_xlsx(sheet, temp)
    return Path(path)


def _write_xlsx(sheet: pd.DataFrame, path: Path) -> None:
    """The code sheet as a workbook a researcher can paste into a paper."""
    from openpyxl import Workbook
    from openpyxl.styles import Alignment, Border, Font, Side
    from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
    from openpyxl.utils import get_column_letter

    book = Workbook()
    ws = book.active
    ws.title = "code sheet"
    ws.append(list(sheet.columns))
    for cell in ws[1]:
        cell.font = Font(bold=True)
        cell.alignment = Alignment(wrap_text=True, vertical="bottom")
    ws.freeze_panes = "A2"
    for i, name in enumerate(sheet.columns, start=1):
        ws.column_dimensions[get_column_letter(i)].width = _WIDTHS.get(name, 14)
    top, previous = Border(top=Side(style="thin")), None
    for values in sheet.itertuples(index=False):
        # a form feed or other control character (a transcript may hold one) is no character
        # of a worksheet: a space keeps the words apart
        ws.append([ILLEGAL_CHARACTERS_RE.sub(" ", v) if isinstance(v, str) else v
                   for v in values])
        row = ws[ws.max_row]
        for cell in row:
            cell.alignment = Alignment(wrap_text=True, vertical="top")
            if is_formula_like(cell.value):
                cell.data_type, cell.quotePrefix = "s", True  # text, never a formula
        if values[0] != previous:  # a theme's first row: its name in bold, a line above
            row[0].font = Font(bold=True)
            for cell in row:
                cell.border = top
        else:
            ws.row_dimensions[ws.max_row].outlineLevel = 1  # collapsible under its first row
        previous = values[0]
    ws.auto_filter.ref = ws.dimensions
    ws.sheet_properties.outlinePr.summaryBelow = False
    book.properties.title = "themesift code sheet"
    book.save(path)
