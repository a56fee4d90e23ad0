"""The review sheet: what ``themesift run`` writes for the analyst, and reading it back.

One row per suggestion (DESIGN.md, "Review sheet and coding tables"). The order puts the
decisions that matter most first:

1. **Codes**, largest first (accepting one code codes at once all of its units whose own
   suggestion agrees, so these are the most consequential rows), ties by ascending score
   margin, then code id. A code whose members disagree (under 60% on its theme) has no row:
   its units are reviewed one by one.
2. **Units**, most uncertain first: ascending *margin* = ``score - runner_up_score`` (a unit
   whose suggested theme barely beat the runner-up needs the analyst most), taken in rounds
   over the suggested themes (the least certain unit of each theme, then the next of each,
   ...) so that early decisions cover every theme and teach the most; ties by unit id.
   Units flagged as small talk (``small_talk`` = yes; suggested ``none``) come last.
   bench/learning.py measures how agreement grows along this order.

In a study, settled units (:meth:`~themesift.Study.settled_units`: coded one by one or
through a code, in any run, or their suggested theme rejected already) are left out, and so
are codes with nothing left to decide (their suggestion decided, or every member settled):
their decisions stand, and a re-run's sheet holds only what is left to decide
(:func:`decided_units` and :func:`decided_codes` say which).

Columns: ``suggestion_id, level, item_id, doc_id, speaker, text, small_talk, suggested_theme, score,
runner_up, rationale`` and the analyst's columns ``decision, analyst, note`` (left empty), then
``study`` and ``run_id`` (which study and run the sheet came from, so that a sheet from another
study is refused). For a code, ``text`` is its label, its size and its exemplar quotes with
speaker and transcript, so the analyst can decide without opening the transcripts.

A ``decision`` is ``accept``, ``reject``, a theme id (reassign to that theme) or ``none``
("fits no theme"); case and surrounding spaces do not matter; blank means undecided.
:func:`apply_review` checks every row first and writes all decisions in one transaction, or
none of them.
"""

from __future__ import annotations

import datetime
import json
import os
import sqlite3
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .._io import CSV_OPTIONS, utc_now
from ..errors import InputError
from ..model import NONE_THEME, SEPARATOR, agreeing_first, in_place
from ..propose import offered_codes
from ..smalltalk import small_talk_flags
from ..text import counted

if TYPE_CHECKING:
    import pandas as pd

    from ..pipeline import PipelineResult
    from ..study import Study

__all__ = ["REVIEW_COLUMNS", "DECISION_COLUMNS", "review_sheet", "write_review", "read_review",
           "apply_review", "as_number", "is_formula_like", "quote_formula", "write_xlsx",
           "decided_units", "decided_codes", "members_to_code", "codes_to_code"]

#: The analyst fills these in.
DECISION_COLUMNS = ["decision", "analyst", "note"]
REVIEW_COLUMNS = ["suggestion_id", "level", "item_id", "doc_id", "speaker", "text", "small_talk",
                  "suggested_theme", "score", "runner_up", "rationale", *DECISION_COLUMNS,
                  "study", "run_id"]
REVIEW_FILES = ("review.xlsx", "review.csv")
_MAX_EXEMPLARS = 3
_EPOCH = datetime.datetime(2000, 1, 1)  # fixed workbook dates: same run, same file
_WIDTHS = {"suggestion_id": 28, "level": 7, "item_id": 20, "doc_id": 14, "speaker": 12,
           "text": 70, "small_talk": 8, "suggested_theme": 18, "score": 7, "runner_up": 18, "rationale": 60,
           "decision": 18, "analyst": 10, "note": 30, "study": 20, "run_id": 20}


# -- building and writing the sheet --------------------------------------------------------------

def review_sheet(
    result: PipelineResult,
    *,
    run_id: str | None = None,
    study: Study | str | os.PathLike[str] | None = None,
) -> pd.DataFrame:
    """One row per suggestion, most consequential and most uncertain first.

    Codes come first, largest first; then units by ascending margin between the suggested
    theme's score and the runner-up's (the closest calls first). See the module docstring for
    the columns.

    Parameters
    ----------
    result:
        A :class:`~themesift.pipeline.PipelineResult`.
    run_id:
        The run's id when the result is stored in a study: code suggestion ids are then the
        store's ``code:<run_id>:<code_id>``; without it they are ``code:<code_id>``.
    study:
        The :class:`~themesift.Study` (or its path) the run is stored in; written into the
        ``study`` column. With a Study, the units it has settled are left out.

    Returns
    -------
    pandas.DataFrame
        Columns :data:`REVIEW_COLUMNS`; ``decision``, ``analyst`` and ``note`` are empty.
    """
    import pandas as pd

    units = result.units.set_index("unit_id", drop=False)
    table = result.codes.table.set_index("code_id", drop=False)
    codes = result.suggestions.assign(_margin=_margin(result.suggestions))
    codes = offered_codes(codes)  # a code whose members disagree: its units are reviewed
    decided = decided_units(result, study)
    coding = study.coding() if decided else None  # a Study: what it has settled
    coded = {} if coding is None else dict(zip(coding["unit_id"], coding["theme_id"]))
    to_code = _codes_to_code(result) if decided else {}
    own = dict(zip(result.unit_suggestions["unit_id"], result.unit_suggestions["theme_id"]))
    codes = codes[~codes["code_id"].isin(decided_codes(result, study, run_id, decided, to_code))]
    codes = codes.sort_values(["size", "_margin", "code_id"], ascending=[False, True, True])
    rows = [{
        "suggestion_id": f"code:{run_id}:{c.code_id}" if run_id else f"code:{c.code_id}",
        "level": "code", "item_id": c.code_id, "doc_id": "", "speaker": "",
        "text": _code_text(c, table.loc[c.code_id] if c.code_id in table.index else None, units,
                           own),
        "small_talk": "", "suggested_theme": c.theme_id, "score": c.score,
        "runner_up": c.runner_up,
        "rationale": _with_note(c.rationale, _decided_note(to_code.get(c.code_id, []),
                                                           c.theme_id, decided, coded)),
    } for c in codes.itertuples()]
    small_talk = dict(zip(units["unit_id"], small_talk_flags(units)))
    unit_rows = result.unit_suggestions
    if decided:
        unit_rows = unit_rows[~unit_rows["unit_id"].isin(decided)]
    unit_rows = unit_rows.assign(_margin=_margin(unit_rows))
    unit_rows = unit_rows.assign(
        _round=theme_rounds(unit_rows["theme_id"], unit_rows["_margin"]),
        set_aside=[small_talk.get(u, False) for u in unit_rows["unit_id"]])
    # Small talk is set aside: last, to confirm in passing.
    unit_rows = unit_rows.sort_values(["set_aside", "_round", "_margin", "unit_id"])
    column = {name: dict(zip(units["unit_id"], units[name])) if name in units else {}
              for name in ("doc_id", "speaker", "text")}
    for u in unit_rows.itertuples():
        rows.append({
            "suggestion_id": f"unit:{u.unit_id}", "level": "unit", "item_id": u.unit_id,
            **{name: _text(column[name].get(u.unit_id, "")) for name in column},
            "small_talk": "yes" if u.set_aside else "",
            "suggested_theme": u.theme_id, "score": u.score, "runner_up": u.runner_up,
            "rationale": u.rationale,
        })
    sheet = pd.DataFrame(rows, columns=REVIEW_COLUMNS)
    sheet[DECISION_COLUMNS] = ""
    sheet["study"] = "" if study is None else str(getattr(study, "path", study))
    sheet["run_id"] = run_id or ""
    sheet.attrs["theme_ids"] = list(getattr(result.framework, "theme_ids", []) or [])
    return sheet


def _with_note(rationale: str, note: str) -> str:
    """A code's rationale with ``note`` right after what accepting it codes (before its
    keywords and quotes), so that the two are read together."""
    head, keywords, tail = rationale.partition(" Keywords: ")
    return f"{head}{note}{keywords}{tail}" if note else rationale


def _decided_note(agree: list[str], theme: str, decided: dict[str, str],
                  coded: dict[str, str]) -> str:
    """After a re-run: how many of the members a code's acceptance would code (``agree``; its
    rationale counts them all) it would leave as they are (decided one by one, or coded its
    ``theme`` already: ``decided`` and ``coded`` by unit id), and so how many it changes."""
    done = sum(decided.get(u) == "unit" or coded.get(u) == theme for u in agree)
    if not done:
        return ""
    return (f" Since then, {done} of the {len(agree)} it would code "
            f"{'has' if done == 1 else 'have'} been decided: accepting it now changes only the "
            f"other {len(agree) - done}.")


def decided_units(result: PipelineResult, study: Study | object | None) -> dict[str, str]:
    """The units of ``result`` that ``study`` (a :class:`~themesift.Study`; anything else has
    none) has settled, each with how (:meth:`~themesift.Study.settled_units`: coded by a
    decision on the unit or through a code, or its suggested theme rejected already). The
    review sheet leaves them out."""
    if not hasattr(study, "settled_units"):
        return {}
    table = result.unit_suggestions
    return study.settled_units(dict(zip(table["unit_id"], table["theme_id"])))


def decided_codes(result: PipelineResult, study: Study | object | None, run_id: str | None,
                  units: dict[str, str] | None = None,
                  to_code: dict[str, list[str]] | None = None) -> list[str]:
    """The codes of ``result`` (stored as run ``run_id`` in ``study``) with nothing left to
    decide: their suggestion is decided, or every member that accepting it would code (whose
    own suggestion is the code's theme) is decided already (``units``: what
    :func:`decided_units` gives; ``to_code``: what :func:`codes_to_code` gives for every code
    of ``result``, if made already), as after a re-run the codes accepted before are, or an
    earlier run's code of the same theme and mostly the same members was rejected
    (:meth:`~themesift.Study.rejected_before`). The review sheet leaves them out; their
    other members are in it one by one."""
    if not hasattr(study, "decided_since"):
        return []
    units = decided_units(result, study) if units is None else units
    suggestions = set(study.decided_since(0)[0])
    members = result.codes.assignments.groupby("code_id")["unit_id"].agg(list)
    theme = dict(zip(result.suggestions["code_id"], result.suggestions["theme_id"]))
    if to_code is None:
        to_code = _codes_to_code(result) if units else {}  # nothing decided: nothing to check
    rejected = study.rejected_before(
        {code: (theme.get(code), ids) for code, ids in members.items()}) if hasattr(
        study, "rejected_before") else set()
    return [code for code in members.index
            if f"code:{run_id}:{code}" in suggestions or code in rejected
            or all(u in units for u in to_code.get(code, members[code]))]


def _codes_to_code(result: PipelineResult) -> dict[str, list[str]]:
    """:func:`codes_to_code` for every code of ``result``, by its suggestions."""
    return codes_to_code(result.codes.assignments,
                         dict(zip(result.suggestions["code_id"], result.suggestions["theme_id"])),
                         dict(zip(result.unit_suggestions["unit_id"],
                                  result.unit_suggestions["theme_id"])))


def codes_to_code(assignments: pd.DataFrame, themes: Mapping[str, str | None],
                  own: Mapping[str, str]) -> dict[str, list[str]]:
    """For each code (``themes``: code id -> its suggested theme), the members that accepting
    it codes (:func:`members_to_code`; ``own``: unit id -> its own suggestion)."""
    members = assignments.groupby("code_id")["unit_id"].agg(list)
    return {code: members_to_code(members.get(code, []), theme, own.get)
            for code, theme in themes.items()}


def members_to_code(members: Iterable[str], theme: str | None,
                    own: Callable[[str], str | None]) -> list[str]:
    """The members of a code that accepting it codes: those whose own suggestion (``own``:
    unit id -> theme) is the code's ``theme`` (:meth:`~themesift.Study.coding`); all of them
    for a code with none such, which is never offered."""
    members = list(members)
    return [u for u in members if own(u) == theme] or members


#: First characters that make a spreadsheet run a cell as a formula (CSV/formula injection).
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def is_formula_like(value: object) -> bool:
    """Whether a spreadsheet would run this cell as a formula."""
    return isinstance(value, str) and value.startswith(FORMULA_START)


def quote_formula(value: object) -> object:
    """A CSV cell a spreadsheet would run as a formula, made text with a leading quote."""
    return "'" + value if is_formula_like(value) else value


def write_review(sheet: pd.DataFrame, folder: str | os.PathLike[str]) -> list[Path]:
    """Write ``review.xlsx`` and ``review.csv`` into ``folder`` (created if needed).

    The spreadsheet has a bold, frozen header row, wrapped text, and a drop-down list on the
    ``decision`` column (accept, reject, none and the theme ids; other values can be typed).
    A cell a spreadsheet would run as a formula (``=CMD()``) is written as text.

    Returns
    -------
    list of Path
        The two files written.
    """
    out = Path(folder)
    out.mkdir(parents=True, exist_ok=True)
    sheet.map(quote_formula).to_csv(out / "review.csv", **CSV_OPTIONS)
    _write_xlsx(sheet, out / "review.xlsx")
    return [out / name for name in REVIEW_FILES]


def _write_xlsx(sheet: pd.DataFrame, path: Path) -> None:
    """The review sheet as a spreadsheet: frozen header, wrapped text, a list for decisions."""
    choices = ["accept", "reject", NONE_THEME]
    for theme in sheet.attrs.get("theme_ids", []):
        if len(",".join([*choices, theme])) <= 250:  # Excel's limit for a list is 255
            choices.append(theme)
    study, run = _first(sheet, "study"), _first(sheet, "run_id")
    subject = f"themesift review sheet; study={study}; run_id={run}" if study or run else None
    write_xlsx(path, list(sheet.columns), sheet.itertuples(index=False, name=None),
               sheet_name="review", choices=choices, subject=subject)


#: The most rows a worksheet holds, its header row included (Excel's limit).
XLSX_MAX_ROWS = 1_048_576


def write_xlsx(path: str | os.PathLike[str], columns: list[str], rows: Iterable[tuple], *,
               sheet_name: str, choices: list[str] | None = None,
               subject: str | None = None) -> int:
    """Rows (tuples in the order of ``columns``) as a workbook of one sheet: a bold, frozen
    header row, long-text columns wide and wrapped and, with ``choices``, a drop-down list of
    them on a ``decision`` column (other values can be typed). Returns the rows written.

    Written row by row with XlsxWriter (constant memory), so ``rows`` may be a stream: 20,000
    suggestions take about 3.6 s, where openpyxl's write-only mode took 6.5 s and a styled
    workbook twenty. Every string is written as a string, never as a formula, number or link,
    and the workbook's date is fixed: the same rows give the same file.

    Raises
    ------
    InputError
        For more rows than a worksheet holds (:data:`XLSX_MAX_ROWS`).
    """
    import math

    import pandas as pd
    import xlsxwriter

    book = xlsxwriter.Workbook(str(path), {"constant_memory": True, "strings_to_numbers": False,
                                           "strings_to_formulas": False, "strings_to_urls": False})
    try:
        ws = book.add_worksheet(sheet_name)
        ws.freeze_panes(1, 0)
        for i, name in enumerate(columns):
            ws.set_column(i, i, _WIDTHS.get(name, 14))
        bold = book.add_format({"bold": True})
        for i, name in enumerate(columns):
            ws.write_string(0, i, str(name), bold)
        long_text = [_WIDTHS.get(name, 14) >= 30 for name in columns]
        wrap = {"text_wrap": True, "valign": "top"}
        wrapped = book.add_format(wrap)
        formats = [wrapped if long else None for long in long_text]
        # A leading quote marks a formula-like string as text to Excel, also once edited.
        quoted = [book.add_format({"quote_prefix": True, **(wrap if long else {})})
                  for long in long_text]
        r = 0
        for r, row in enumerate(rows, start=1):
            if r >= XLSX_MAX_ROWS:
                raise InputError(f"More than {XLSX_MAX_ROWS - 1:,} rows, the most a spreadsheet "
                                 "holds", path=path, fix="Write a .csv file instead")
            for i, value in enumerate(row):
                if hasattr(value, "item"):  # numpy scalars
                    value = value.item()
                if isinstance(value, str):
                    if value:  # an empty string stays an empty cell
                        ws.write_string(r, i, value,
                                        quoted[i] if is_formula_like(value) else formats[i])
                elif isinstance(value, (int, float)):
                    if math.isfinite(value):  # NaN: an empty cell
                        ws.write_number(r, i, value, formats[i])
                elif value is not None and value is not pd.NA:
                    ws.write_string(r, i, str(value), formats[i])
        if r and choices and "decision" in columns:
            column = columns.index("decision")
            ws.data_validation(1, column, r, column, {
                "validate": "list", "source": choices, "ignore_blank": True, "show_error": False})
        book.set_properties({"created": _EPOCH, **({"subject": subject} if subject else {})})
    finally:
        book.close()
    return r


def theme_rounds(themes, margins) -> list[int]:
    """Each unit's round in the review order: its rank by margin among units of its theme."""
    themes, margins = list(themes), [float(m) for m in margins]
    ranks: dict[object, int] = {}
    rounds = [0] * len(margins)
    for i in sorted(range(len(margins)), key=lambda i: (margins[i], i)):
        rounds[i] = ranks.get(themes[i], 0)
        ranks[themes[i]] = rounds[i] + 1
    return rounds


def review_order(suggestions) -> list[str]:
    """Suggestion ids in the review order described in the module docstring.

    ``suggestions``: a DataFrame or list of dicts with ``suggestion_id, level, score,
    runner_up_score``, ``theme_id`` (or ``suggested_theme``), for codes ``size``, and for
    units optionally ``small_talk`` (small talk comes last).
    """
    rows = suggestions.to_dict("records") if hasattr(suggestions, "to_dict") else list(suggestions)
    margins = [as_number(r.get("score")) - as_number(r.get("runner_up_score")) for r in rows]
    themes = [r.get("theme_id", r.get("suggested_theme")) for r in rows]
    units = [i for i, r in enumerate(rows) if r.get("level") != "code"]
    rounds = dict(zip(units, theme_rounds([themes[i] for i in units], [margins[i] for i in units])))

    def key(i: int):
        if rows[i].get("level") == "code":
            return (0, -as_number(rows[i].get("size")), margins[i], i)
        return (1, bool(rows[i].get("small_talk")), rounds[i], margins[i], i)

    return [rows[i]["suggestion_id"] for i in sorted(range(len(rows)), key=key)]


def as_number(value, default: float = 0.0) -> float:
    """``value`` as a float; ``default`` for a blank, NaN or anything that is not a number."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        return default
    return default if number != number else number  # NaN


def _margin(frame: pd.DataFrame):
    import pandas as pd

    score = pd.to_numeric(frame["score"], errors="coerce").fillna(0.0)
    if "runner_up_score" not in frame:
        return score
    return score - pd.to_numeric(frame["runner_up_score"], errors="coerce").fillna(0.0)


def _code_text(code, row, units: pd.DataFrame, own: dict[str, str] | None = None) -> str:
    """A code's label and size, then its exemplar quotes with speaker and transcript, those of
    the members accepting it would code first (``own``: each unit's own suggestion)."""
    label = _text(getattr(code, "label", "")) or _text(row.get("label") if row is not None else "")
    lines = [f"{label} ({code.size} units)"]
    quotes: list[str] = []
    if row is not None:
        ids = [i.strip() for i in _text(row.get("exemplar_ids")).split(SEPARATOR) if i.strip()]
        texts = [t.strip() for t in _text(row.get("exemplars")).split(SEPARATOR)]
        for k in agreeing_first(ids, own or {}, code.theme_id)[:_MAX_EXEMPLARS]:
            unit_id = ids[k]
            if unit_id in units.index:
                unit = units.loc[unit_id]
                who = ", ".join(x for x in (_text(unit.get("speaker")), _text(unit.get("doc_id")))
                                if x)
                quotes.append(f"\u201c{_text(unit['text'])}\u201d" + (f" ({who})" if who else ""))
            elif k < len(texts) and texts[k]:
                quotes.append(f"\u201c{texts[k]}\u201d")
        if not ids:
            quotes = [f"\u201c{t}\u201d" for t in texts[:_MAX_EXEMPLARS] if t]
    if quotes:
        lines += ["Exemplar quotes:", *(f"- {q}" for q in quotes)]
    return "\n".join(lines)


def _text(value: Any) -> str:
    if value is None or (isinstance(value, float) and value != value):
        return ""
    return str(value)


def _first(sheet: pd.DataFrame, column: str) -> str:
    if column not in sheet or sheet.empty:
        return ""
    return _text(sheet[column].iloc[0])


# -- reading it back -----------------------------------------------------------------------------

def read_review(path: str | os.PathLike[str]) -> list[tuple[int, dict[str, str]]]:
    """The rows of a review sheet (.xlsx or .csv) as ``(spreadsheet row number, values)``.

    Row numbers are those a spreadsheet shows: the header is row 1. Every value is a string
    (blank for an empty cell); fully empty rows are left out.

    Raises
    ------
    InputError
        If the file is missing or unreadable, or lacks the ``suggestion_id`` or ``decision``
        column.
    """
    source = Path(path)
    if source.is_dir():
        raise InputError("This is a folder, not a review sheet", path=source,
                         fix="Give the review.xlsx or review.csv in it that 'themesift run' "
                             "wrote")
    if not source.is_file():
        raise InputError("The review sheet does not exist", path=source,
                         fix="Give the review.xlsx or review.csv that 'themesift run' wrote")
    suffix = source.suffix.lower()
    try:
        if suffix in (".xlsx", ".xlsm"):
            header, body = _read_xlsx(source)
        elif suffix == ".csv":
            header, body = _read_csv(source)
        else:
            raise InputError(f"Cannot read a {suffix or 'extensionless'} file as a review sheet",
                             path=source, fix="Give review.xlsx or review.csv")
    except InputError:
        raise
    except Exception as exc:  # a damaged workbook, a CSV that is not one
        raise InputError(f"Cannot read the review sheet ({exc})", path=source,
                         fix="Save it again from your spreadsheet program as Excel Workbook "
                             "(.xlsx), or as CSV with its header row") from exc
    names = [_text(h).strip().lower() for h in header]
    missing = [c for c in ("suggestion_id", "decision") if c not in names]
    if missing:
        raise InputError(f"No column {' or '.join(repr(m) for m in missing)} in the header row",
                         path=source, **({"line": 1} if suffix == ".csv" else {"row": 1}),
                         fix="Keep the header row of the sheet that 'themesift run' wrote")
    rows = []
    for number, values in body:
        record = {name: _text(values[i]).strip() if i < len(values) else ""
                  for i, name in enumerate(names) if name}
        if any(record.values()):
            rows.append((number, record))
    return rows


def _read_xlsx(path: Path) -> tuple[list, list[tuple[int, list]]]:
    from openpyxl import load_workbook

    from ..ingest.table import check_workbook

    check_workbook(path)
    book = load_workbook(path, read_only=True, data_only=True)
    try:
        rows = _review_worksheet(book).iter_rows(values_only=True)
        header = list(next(rows, ()) or ())
        body = [(number, list(values)) for number, values in enumerate(rows, start=2)]
    finally:
        book.close()
    return header, body


def _review_worksheet(book: Any) -> Any:
    """The sheet "review", else the first whose header names ``suggestion_id`` and
    ``decision`` (renamed, or moved behind a sheet of notes), else the first."""
    if "review" in book.sheetnames:
        return book["review"]
    for ws in book.worksheets:
        header = next(ws.iter_rows(max_row=1, values_only=True), ())
        if {"suggestion_id", "decision"} <= {_text(v).strip() for v in header}:
            return ws
    return book.worksheets[0]


def _read_csv(path: Path) -> tuple[list, list[tuple[int, list]]]:
    from ..ingest.table import read_csv_cells

    frame = read_csv_cells(path)  # without blank lines, each row indexed by its place
    return list(frame.columns), [(int(i) + 2, list(r))
                                 for i, r in zip(frame.index, frame.itertuples(index=False))]


def apply_review(
    study: Study | str | os.PathLike[str],
    path: str | os.PathLike[str],
    *,
    analyst: str | None = None,
) -> pd.DataFrame:
    """Record the decisions filled into a review sheet, all of them or none.

    Every row with a ``decision`` is checked first: the suggestion must be in this study, the
    sheet must come from one of its runs, and the decision must be ``accept``, ``reject``,
    ``none`` or a theme of the run's framework, by id or name (case and spaces do not
    matter: ``structural_tension`` or ``Structural tension``). Problems
    are reported together, each with its spreadsheet row number (the header is row 1), and
    then nothing is written. Otherwise all decisions are written in one transaction.

    ``accept`` and ``reject`` mean the theme the sheet showed: if a later run has changed the
    suggestion, an accept is recorded as a reassignment to the theme shown, and a reject
    rejects the theme shown. A theme id equal to the suggested
    theme is recorded as ``accept``. A row whose decision (reject, or code with a theme, and
    its note) is what its analyst's latest decision on that suggestion already says, in any
    run, is skipped, so applying the same sheet twice adds nothing, also after a re-run, and
    leaves a colleague's later decision standing (a row naming no analyst is compared with
    the latest decision by anyone). Nor does a row that says what its analyst decided before
    and has changed since on a later run (in its sheet or the widget): applying an old sheet
    again leaves the newer decision standing, and ``attrs["changed_since"]`` lists such
    rows (to go back to the old decision, decide again in the widget or with
    :meth:`~themesift.Study.decide`). A cell of the sheet's own run edited back to what it
    said before is a changed mind, and recorded.

    Parameters
    ----------
    study:
        A :class:`~themesift.Study`, or the path of one.
    path:
        The filled-in review.xlsx or review.csv.
    analyst:
        Recorded for rows whose ``analyst`` cell is empty. Without it, a decision row with an
        empty ``analyst`` cell is a problem (every decision says who made it).

    Returns
    -------
    pandas.DataFrame
        The decisions written: ``id, row, suggestion_id, run_id, action, theme_id, analyst,
        note``. ``attrs["skipped"]`` counts rows skipped as already decided (and
        ``attrs["changed_since"]`` lists the numbers of those decided differently since);
        ``attrs["notes_without_decision"]`` lists the rows with a note but no decision (not
        recorded: a note goes with a decision);
        ``attrs["code_units"]`` (``{"coded": n, "pending": m, "decided": k}``) counts the
        members of the accepted codes as :meth:`~themesift.Study.code_reach` does: those
        coded (their own suggestion agrees), those left to decide one by one, and those
        decided one by one (before or in this sheet), whose decisions stand;
        ``attrs["reassigned_code_units"]`` (``{"coded": n, "decided": k}``) counts the members
        of the codes reassigned to another theme: those it coded (every member without a
        decision of its own) and those decided one by one; ``attrs["recoded_units"]`` counts
        units that a code decision made before had coded and that this sheet's code decisions
        now code with another theme (the latest code decision counts); ``attrs["gone_units"]``
        lists the units decided here whose words have been edited in their transcript since
        (recorded all the same; the exports leave their coding out).

    Raises
    ------
    InputError
        Listing every problem with its row number; nothing is written.
    """
    import pandas as pd

    from ..study import Study

    store = study if isinstance(study, Study) else Study.open(study)
    read = read_review(path)
    rows = [(n, r) for n, r in read if r.get("decision", "")]
    before = store.coding()
    columns = ["id", "row", "suggestion_id", "run_id", "action", "theme_id", "analyst", "note"]
    with store.transaction() as conn:  # checks and inserts in one transaction: all or nothing
        planned, skipped, changed_since = _plan(conn, store, rows, analyst, path)
        now = utc_now()
        written = [
            {"id": store.insert_decision(conn, now, item["analyst"], item["suggestion_id"],
                                         item["run_id"], item["action"], item["theme_id"],
                                         item["note"]),
             **item}
            for item in planned
        ]
    frame = pd.DataFrame(written, columns=columns)
    frame.attrs["skipped"] = skipped
    frame.attrs["changed_since"] = changed_since
    frame.attrs["notes_without_decision"] = [n for n, r in read
                                             if r.get("note") and not r.get("decision")]
    reach = {action: [store.code_reach(item["suggestion_id"]) for item in planned
                      if item["action"] == action and item["suggestion_id"].startswith("code:")]
             for action in ("accept", "reassign")}
    frame.attrs["code_units"] = {"coded": sum(r.coded for r in reach["accept"]),
                                 "pending": sum(r.pending for r in reach["accept"]),
                                 "decided": sum(r.decided for r in reach["accept"])}
    frame.attrs["reassigned_code_units"] = {
        "coded": sum(r.members - r.decided for r in reach["reassign"]),
        "decided": sum(r.decided for r in reach["reassign"])}
    frame.attrs["recoded_units"] = recoded_units(before, store.coding(), set(frame["id"]))
    frame.attrs["gone_units"] = _gone_units(store, [
        sid.removeprefix("unit:") for sid in frame["suggestion_id"] if sid.startswith("unit:")])
    return frame


def _gone_units(store: Study, unit_ids: list[str]) -> list[str]:
    """Those of ``unit_ids`` whose words no longer stand where they stood in their transcript
    as the study now has it (edited since the sheet's run): exports leave their coding out."""
    if not unit_ids:
        return []
    units = store.units[store.units["unit_id"].isin(unit_ids)]  # in transcript order
    return [u for u, here in zip(units["unit_id"], in_place(units, store.transcripts))
            if not here]


def unapplied_decisions(path: str | os.PathLike[str], study: Study | None = None) -> int:
    """How many filled-in decisions of the review sheet at ``path`` are not in ``study`` yet
    (every one of a sheet :func:`apply_review` would refuse; every one without a study); 0
    where there is no readable sheet. What a new run would lose by writing its own sheet over
    it: a row its analyst has recorded, even if changed since, is in the study."""
    try:
        rows = [(n, r) for n, r in read_review(path) if r.get("decision", "")]
    except InputError:
        return 0
    if not rows or study is None:
        return len(rows)
    try:
        with study.reading() as conn:  # no write lock: another program may be writing
            planned, _, _ = _plan(conn, study, rows, None, path, checking=True)
    except InputError:
        return len(rows)
    return len(planned)


def recoded_units(before, after, decisions: set) -> int:
    """Units that a code decision of an earlier sheet or run had coded and that this sheet's
    code decisions code with another theme (where a unit is in codes decided on in several
    runs, the latest decision counts: :meth:`~themesift.Study.coding`)."""
    both = before.merge(after, on="unit_id", suffixes=("_before", ""))
    return int(((both["source_before"] == "code") & (both["source"] == "code")
                & both["decision_id"].isin(decisions)
                & (both["theme_id"] != both["theme_id_before"])).sum())


def recoded_text(recoded: int) -> str:
    """What re-coding units coded by an earlier code decision did, for a person."""
    return (f"{counted(recoded, 'unit')} that a code decision made before had coded with "
            "another theme now have the new decision's theme (the latest code decision counts; "
            "decide such a unit on its own to keep its theme)")


def kept_text(decided: int) -> str:
    """How many members of decided codes keep the decisions made on them one by one."""
    if decided == 1:
        return "1 decided one by one keeps its own decision"
    return f"{decided} decided one by one keep their own decisions"


def pending_text(pending: int) -> str:
    """How many members of accepted codes are left to decide one by one (their own suggestion
    is another theme): "1 other member stays ...", "3 other members stay ..."."""
    verb = "stays" if pending == 1 else "stay"
    return f"{counted(pending, 'other member')} {verb} to be decided one by one"


def _plan(conn: sqlite3.Connection, store: Study, rows, analyst: str | None, path,
          checking: bool = False) -> tuple[list, int, list[int]]:
    """Check every row; the decisions to write, how many rows were already decided (what
    their analyst's latest decision says, or what the analyst decided before and has changed
    since on a later run: an old sheet applied again leaves the newer decision standing), and
    the numbers of the latter rows. With ``checking`` (:func:`unapplied_decisions`), a row is already
    decided where its analyst ever recorded what it says (overwriting the sheet then loses
    nothing), and a row naming no analyst is no problem."""
    runs, started = {}, {}  # each run's themes, and when it started (rowid: in one second)
    for run_id, config, created, rowid in conn.execute(
            "SELECT run_id, config, created, rowid FROM runs"):
        runs[run_id], started[run_id] = json.loads(config).get("theme_ids", []), (created, rowid)
    problems: list[tuple[int, str]] = []

    foreign: dict[tuple[str, str], list[int]] = {}
    for number, row in rows:
        run_id = row.get("run_id", "")
        if run_id and run_id not in runs:
            foreign.setdefault((run_id, row.get("study", "")), []).append(number)
    for (run_id, origin), numbers in foreign.items():
        where = f" of study {origin}" if origin else ""
        problems.append((numbers[0], f"{rows_text(numbers)}: the sheet comes from run "
                                     f"{run_id}{where}, which is not in this study "
                                     f"({store.path})"))
    foreign_rows = {n for numbers in foreign.values() for n in numbers}

    planned: list[dict[str, Any]] = []
    unnamed: list[int] = []
    seen: dict[str, tuple[int, tuple]] = {}
    skipped = 0
    changed_since: list[int] = []  # rows saying what their analyst decided before changing it
    for number, row in rows:
        if number in foreign_rows:
            continue
        sid = row.get("suggestion_id", "")
        # the decision is on the suggestion of the sheet's run (kept per run), where it has one
        found = (store.suggested(sid, row.get("run_id") or None, conn)
                 or store.suggested(sid, None, conn)) if sid else None
        if found is None:
            hint = ""
            if sid.startswith("code:") and sid.count(":") == 1:
                hint = (" (code suggestions of a sheet written without --study cannot be "
                        "applied: run 'themesift run ... --study' and review its sheet)")
            problems.append((number, f"row {number}: unknown suggestion id {sid!r}{hint}"))
            continue
        run_id, stored_theme = found
        available = [*runs.get(run_id, []), NONE_THEME]
        raw = row["decision"]
        value = raw.strip().lower()
        # accept and reject are about the theme the sheet showed, which a later run may
        # have changed in the store
        shown = row.get("suggested_theme", "").strip()
        shown = shown if shown in available else stored_theme
        if value == "accept":
            action, theme = ("accept" if shown == stored_theme else "reassign"), shown
        elif value == "reject":
            action, theme = "reject", shown
        elif value in available:
            action, theme = ("accept", value) if value == stored_theme else ("reassign", value)
        elif parent := store.framework(run_id).top_theme_id(value):  # a subtheme's
            problems.append((number, f"row {number}: {raw!r} is a subtheme of {parent!r}, and "
                                     f"decisions are on themes: write {parent} for {sid}"))
            continue
        elif (named := _theme_named(store.framework(run_id), value)) in available:
            # a theme's name, as the report and the code sheet show it: "Structural tension"
            action, theme = ("accept", named) if named == stored_theme else ("reassign", named)
        else:
            problems.append((number, f"row {number}: unknown decision {raw!r} for {sid}"
                                     f"{_did_you_mean(store.framework(run_id), value, available)}"
                                     f": use accept, reject, or a theme's id or name: "
                                     f"{', '.join(available)}"))
            continue
        note = row.get("note", "")
        key = (action, theme, note)
        if sid in seen:
            first, other = seen[sid]
            if other != key:
                problems.append((number, f"row {number}: {sid} was already decided differently "
                                         f"in row {first} of this sheet"))
            continue
        seen[sid] = (number, key)
        who = row.get("analyst", "").strip() or (analyst or "").strip()
        said = _said(action, theme, note)
        if said in _recorded(conn, sid, who, ever=checking):
            skipped += 1
            continue
        if (said in _recorded(conn, sid, who, ever=True)
                and started.get(_latest_run(conn, sid, who), ("", 0))
                > started.get(run_id, ("", 0))):
            # an old sheet applied again: its analyst decided otherwise on a later run since
            changed_since.append(number)
            skipped += 1
            continue
        if not who and not checking:
            unnamed.append(number)
        planned.append({"row": number, "suggestion_id": sid, "run_id": run_id, "action": action,
                        "theme_id": theme, "analyst": who, "note": note})
    if unnamed:  # a decision must say who made it: the QDPX export names the coder
        problems.append((unnamed[0], f"{rows_text(unnamed)}: no analyst: write who decided in "
                                     "the analyst column, or name one analyst for all such rows "
                                     "(themesift apply --analyst NAME; analyst= in Python)"))
    if problems:
        problems.sort()
        listing = "\n".join(f"  {text}" for _, text in problems)
        raise InputError(
            f"{len(problems)} problem{'s' if len(problems) != 1 else ''} in the review sheet, "
            "so nothing was applied. Correct these rows (or clear their decision cell) and "
            f"apply the sheet again:\n{listing}", path=path)
    return planned, skipped, changed_since


def _did_you_mean(framework: Any, value: str, available: list[str]) -> str:
    """" (did you mean 'structural_tension'?)" for a decision that is nearly a theme's id or
    name (:meth:`~themesift.Framework.closest_theme`) or a decision word; "" when none is."""
    import difflib

    near = framework.closest_theme(value)
    if near not in available:
        near = next(iter(difflib.get_close_matches(value, ["accept", "reject", NONE_THEME], n=1,
                                                   cutoff=0.75)), None)
    return f" (did you mean {near!r}?)" if near else ""


def _theme_named(framework: Any, value: str) -> str | None:
    """The id of the theme whose name is ``value`` (any letter case and spacing), or None."""
    wanted = " ".join(value.casefold().split())
    found = {t.id for t in framework.themes if " ".join(t.name.casefold().split()) == wanted}
    return found.pop() if len(found) == 1 else None


def _said(action: str, theme: str | None, note: str) -> tuple:
    """What a decision says, whichever run it was made on: accept and reassign both code the
    item with ``theme`` (which of them depends on that run's suggestion)."""
    return ("reject" if action == "reject" else "code", theme, note)


def _recorded(conn: sqlite3.Connection, sid: str, analyst: str, ever: bool = False
              ) -> set[tuple]:
    """What the latest decision on ``sid`` by ``analyst`` (by anyone when blank) says, or with
    ``ever`` what any of them has said."""
    return {_said(*row) for row in conn.execute(
        "SELECT action, theme_id, note FROM decisions WHERE suggestion_id = ? "
        "AND (? = '' OR analyst = ?) ORDER BY id DESC" + ("" if ever else " LIMIT 1"),
        (sid, analyst, analyst))}


def _latest_run(conn: sqlite3.Connection, sid: str, analyst: str) -> str | None:
    """The run of the latest decision on ``sid`` by ``analyst`` (by anyone when blank)."""
    row = conn.execute("SELECT run_id FROM decisions WHERE suggestion_id = ? "
                       "AND (? = '' OR analyst = ?) ORDER BY id DESC LIMIT 1",
                       (sid, analyst, analyst)).fetchone()
    return row[0] if row else None


def rows_text(numbers: Iterable[int]) -> str:
    """Row numbers as short ranges: 'rows 2-5, 9' (or 'row 4')."""
    numbers = sorted(set(numbers))
    parts, start = [], None
    for i, n in enumerate(numbers):
        if start is None:
            start = n
        if i + 1 == len(numbers) or numbers[i + 1] != n + 1:
            parts.append(str(start) if start == n else f"{start}-{n}")
            start = None
    return ("row " if len(numbers) == 1 else "rows ") + ", ".join(parts)
