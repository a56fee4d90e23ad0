"""Reading and checking coding tables (DataFrames or .csv/.xlsx files): the columns, empty
cells and duplicate rows, with messages that name the rows; each unit's set of themes."""

from __future__ import annotations

import logging
import re
import unicodedata
from dataclasses import dataclass
from os import PathLike
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pandas loads when a comparison is made, to keep `import themesift` fast
    import pandas as pd

from ..errors import InputError
from ..model import NONE_THEME, theme_label
from ..text import counted, is_missing, same_text

logger = logging.getLogger(__name__)


#: What to tell someone whose DataFrame has empty label cells where the file had "None".
NA_HINT = ("pandas reads the cells None, NA, NaN and N/A as missing values: read the file "
           "with pd.read_csv(path, keep_default_na=False), or pass the path itself")


@dataclass
class CodingTable:
    frame: pd.DataFrame  # columns: id, theme, [coder], [doc], [text], _row (header = row 1)
    name: str  # "Table A" / "Table B" / file path, for messages
    path: str | None
    side: str = ""  # "A" / "B"
    source: str | None = None  # the file the table came from (its path, or a .qdpx's)
    warnings: tuple[str, ...] = ()  # about how it was read (units keyed by their text)

    def __str__(self) -> str:
        """"A (path)" or "A", for messages about both tables."""
        return f"{self.side} ({self.source})" if self.source else self.side


def is_qdpx(table: Any) -> bool:
    """A REFI-QDA project: a QdaProject or a path to a .qdpx file."""
    return hasattr(table, "to_coding_table") or (
        isinstance(table, (str, PathLike)) and str(table).lower().endswith(".qdpx"))


def source_of(table: Any) -> str | None:
    """The file a table is read from (a path, or a QdaProject's .qdpx), for messages."""
    if isinstance(table, (str, PathLike)):
        return str(table)
    return str(table.path) if is_qdpx(table) and getattr(table, "path", None) else None


def project_codings(table: Any, mapping: Any = None, coder: str | None = None) -> Any:
    """A QdaProject or .qdpx path as its coding table (:meth:`QdaProject.to_coding_table`:
    id ``source:start-end``, theme_id, coder, source, start, end, text; of ``coder`` alone
    where the project has that coder); others as they are."""
    if not is_qdpx(table):
        return table
    if isinstance(table, (str, PathLike)):
        from ..ingest import read_qdpx

        table = read_qdpx(table)
    if table.codings.empty:
        raise InputError(
            f"The .qdpx has no codings ({len(table.sources)} sources, {len(table.codebook)} "
            "codes), so there is nothing to compare", path=table.path,
            fix="Export the project again from the QDA program after coding the "
                "transcripts (codes applied to text, not only the codebook)")
    if coder not in set(table.codings["coder"]):  # compare() names the coders there are
        coder = None
    return table.to_coding_table(mapping, coder=coder)


def norm_id(v: Any) -> str:
    if isinstance(v, float) and v.is_integer():
        v = int(v)
    return str(v).strip()


def norm_theme(v: Any) -> str:
    """A theme label trimmed, with the reserved label 'none' in any case ('None') as 'none'."""
    return "" if is_missing(v) else theme_label(str(v))


def rows_text(rows: list[str], limit: int = 10) -> str:
    shown = ", ".join(rows[:limit])
    return shown + (f" and {len(rows) - limit} more" if len(rows) > limit else "")


def row_numbers(frame: pd.DataFrame, from_file: bool) -> list[str]:
    """The numbers of a table's data rows as a spreadsheet shows them (the header is row 1):
    a file's by each row's index, its place in the file (:func:`read_table_file` leaves blank
    rows out), a DataFrame's by position."""
    if from_file:
        return [str(int(i) + 2) for i in frame.index]
    return [str(i + 2) for i in range(len(frame))]


def rows_error(label: str, path: str | None, what: str, rows: list[str], fix: str) -> InputError:
    """An error about the rows ``rows`` (from :func:`row_numbers`) of a table: a file's is
    placed at the first of them; a DataFrame's says how its rows are counted."""
    where = f"row {rows[0]}" if len(rows) == 1 else f"rows {rows_text(rows)}"
    if path is None:
        return InputError(f"{label}: {what} in {where} (the header is row 1, as in a "
                          "spreadsheet)", fix=fix)
    at = "row" if str(path).lower().endswith(".xlsx") else "line"  # a sheet has rows
    return InputError(f"{what} in {where}", path=path, **{at: int(rows[0])}, fix=fix)


def read_table_file(path: str | PathLike[str], what: str) -> pd.DataFrame:
    """A .csv/.tsv/.xlsx file as text cells ("none" and "NA" stay labels, not missing values)."""
    import pandas as pd

    p = Path(path)
    if p.is_dir():
        raise InputError(f"This is a folder; {what} is a file", path=str(p),
                         fix="Give the .csv or .xlsx file itself")
    if not p.is_file():
        raise InputError(f"No such file: {what} was not found", path=str(p),
                         fix="Check the path and the spelling (a .csv or .xlsx file)")
    suffix = p.suffix.lower()
    try:
        if suffix in (".csv", ".tsv", ".txt"):
            from ..ingest.table import read_csv_cells

            return read_csv_cells(p)
        if suffix in (".xlsx", ".xlsm", ".xls"):
            from ..ingest.table import check_workbook, without_blank_rows

            check_workbook(p)
            return without_blank_rows(pd.read_excel(p, dtype=str, keep_default_na=False))
    except InputError:
        raise
    except Exception as exc:  # parser errors, broken zip
        raise InputError(f"cannot read {what}: {exc}", path=str(p),
                         fix="save it as .csv (with a header row) or as .xlsx") from exc
    raise InputError(f"cannot read {what} from a '{suffix}' file", path=str(p),
                     fix="save it as .csv or .xlsx")


def load_coding_table(table: Any, side: str, id_column: str, label_column: str,
                      coder_column: str, source: str | None = None) -> CodingTable:
    """A coding table (DataFrame, .csv/.xlsx path, QdaProject or .qdpx path) checked, as a
    :class:`CodingTable`; ``source`` names the file a DataFrame came from, for messages."""
    import pandas as pd

    path: str | None = None
    source = source_of(table) or source
    table = project_codings(table)
    if isinstance(table, (str, PathLike)):
        path = str(table)
        frame = read_table_file(table, f"coding table {side}")
        label = path
    elif isinstance(table, pd.DataFrame):
        frame = table.copy()
        label = f"Table {side}" + (f" ({source})" if source else "")
    else:
        raise InputError(f"Coding table {side} must be a pandas DataFrame, a path to a .csv, "
                         f".xlsx or .qdpx file, or a QdaProject, not {type(table).__name__}")

    frame.columns = [str(c).strip() for c in frame.columns]
    id_col = id_column
    if id_col not in frame.columns and id_column == "id" and "unit_id" in frame.columns:
        id_col = "unit_id"
    own = next((c for c in ("unit_id", "id") if c in frame.columns), None)
    if ({id_col, label_column} - set(frame.columns) and own and "theme_id" in frame.columns
            and (id_col, label_column) != (own, "theme_id")):
        # themesift's own table (unit_suggestions.csv) beside a hand coding whose columns
        # --id-column / --label-column name
        logger.warning("%s has no column %s; it is read by themesift's own names, %s and "
                       "theme_id", label, " or ".join(repr(c) for c in (id_col, label_column)
                                                      if c not in frame.columns), own)
        id_col, label_column = own, "theme_id"
    missing = [c for c in (id_col, label_column) if c not in frame.columns]
    if missing:
        raise InputError(
            f"Coding table {side} lacks the column(s) {', '.join(missing)}; its columns are: "
            f"{', '.join(frame.columns) or '(none)'}",
            path=path, fix=(id_col in missing and (_spans_fix(frame.columns)
                                                   or _text_fix(frame.columns, id_column))) or
            f"Name the unit column '{id_column}' (or 'unit_id') and the theme column "
            f"'{label_column}' in the header row (to compare a table with other column "
            f"names: 'themesift compare --id-column / --label-column', or id_column= / "
            f"label_column= in Python)")

    out = pd.DataFrame({"_row": row_numbers(frame, path is not None)})
    by_text = id_col.casefold() == "text"  # units named by their words, not their ids
    out["id"] = ["" if is_missing(v) else loose_text(v) if by_text else norm_id(v)
                 for v in frame[id_col].tolist()]
    out["theme"] = [norm_theme(v) for v in frame[label_column].tolist()]
    coders = (["" if is_missing(v) else str(v).strip() for v in frame[coder_column].tolist()]
              if coder_column in frame.columns else [])
    if any(coders):  # a coder column left blank (a .qdpx naming no users) names no coder
        out["coder"] = coders
    if "doc_id" in frame.columns:
        out["doc"] = ["" if is_missing(v) else str(v).strip() for v in frame["doc_id"].tolist()]
    if "text" in frame.columns:
        out["text"] = [None if is_missing(v) else str(v) for v in frame["text"].tolist()]

    def fail(what: str, bad: pd.Series, fix: str) -> None:
        raise rows_error(label, path, what, out.loc[bad, "_row"].tolist(), fix)

    if len(out) == 0:
        raise InputError("The coding table has no rows" if path else f"{label} has no rows",
                         path=path, fix="Add one row per (unit id, theme)")
    if (out["id"] == "").any():
        fail(f"Empty {id_col}", out["id"] == "", "Give every row the id of the unit it codes")
    if (out["theme"] == "").any():
        fail(f"Empty {label_column}", out["theme"] == "",
             f"Give every row a theme id (use '{NONE_THEME}' for a unit that fits no theme)"
             + ("" if path else f"; {NA_HINT}"))
    if "coder" in out and (out["coder"] == "").any():
        fail(f"Empty {coder_column}", out["coder"] == "", "Name the coder on every row")
    keys = ["coder", "id", "theme"] if "coder" in out else ["id", "theme"]
    dup = out.duplicated(keys, keep=False)
    warnings: tuple[str, ...] = ()
    shared: list[str] = []  # as ids, the texts of several units make them one
    if by_text:
        repeated = set(out.loc[dup, "id"])
        named = next((c for c in ("unit_id", "id") if c in frame.columns and c != id_col), None)
        units: dict[str, set[str]] = {}
        for text, unit in zip(out["id"], frame[named].tolist() if named else []):
            units.setdefault(text, set()).add(norm_id(unit))
        shared = [t for t in dict.fromkeys(out["id"])  # rows repeated, or several unit ids
                  if t in repeated or len(units.get(t, ())) > 1]
    if shared:
        warnings = (f"{label}: {counted(len(shared), 'text')} "
                    f"{'is' if len(shared) == 1 else 'are'} the text of several units or rows "
                    f"(e.g. {clip(shared[0])}): compared by their text, units that say the same "
                    "words are one unit, with the themes of all of them. Compare by unit ids "
                    "to count them apart.",)
        out = out[~out.duplicated(keys)].reset_index(drop=True)
    elif dup.any():
        fail(f"Duplicate ({', '.join(keys)}) pairs", dup,
             "Keep one row per unit and theme (several rows per unit are fine when their "
             "themes differ)")
    return CodingTable(out, label, path, side, source, warnings)


def loose_text(text: Any) -> str:
    """A text as :func:`themesift.text.same_text` compares an analyst's copy (case, spacing
    and curly quotes aside, as Word or Excel change them), in one Unicode form: a unit's id
    when units are matched by their words (``--id-column text``), and what a coded span's
    text is checked against the transcript by."""
    return same_text(unicodedata.normalize("NFC", str(text)))


def clip(text: str, size: int = 40) -> str:
    """``text`` on one line, cut to ``size`` characters, quoted: for a message."""
    text = " ".join(text.split())
    return repr(text if len(text) <= size else text[:size - 1] + "…")


def _text_fix(columns: Any, id_column: str) -> str | None:
    """What to do with a coding table that names its units by their words (a ``text``
    column, quotes copied by hand) and has no unit id column."""
    text = next((str(c) for c in columns if str(c).casefold() == "text"), None)
    if text is None:
        return None
    return (f"A coding table names each unit by its id, in a column '{id_column}' (or "
            "'unit_id'): the unit_id of the run's units.csv or unit_suggestions.csv, beside "
            "each unit's text there. To match the units by their words instead, give "
            f"--id-column {text} (id_column='{text}' in Python), which both tables must have: "
            "a row codes the unit whose whole text is the same (case, spacing and curly quotes "
            "aside), so copy each unit's whole text from unit_suggestions.csv. Or code "
            "character spans (doc_id, start, end, theme_id) and give --units units.csv")


def label_sets(frame: pd.DataFrame) -> dict[str, frozenset[str]]:
    """Each unit's set of themes. A unit coded a theme and ``none`` is the theme: ``none`` is
    the absence of a theme, not a theme beside it (as :func:`align_spans` rules for spans;
    :func:`none_beside_theme` counts such units)."""
    return {uid: frozenset(themes - {NONE_THEME} if len(themes) > 1 else themes)
            for uid, themes in _theme_sets(frame).items()}


def _theme_sets(frame: pd.DataFrame) -> dict[str, set[str]]:
    sets: dict[str, set[str]] = {}
    for uid, theme in zip(frame["id"], frame["theme"]):
        sets.setdefault(uid, set()).add(theme)
    return sets


def none_beside_theme(frame: pd.DataFrame) -> int:
    """How many units (of each coder, in a table with a coder column) are coded both a theme
    and ``none``, which :func:`label_sets` counts as the theme."""
    parts = ([frame[frame["coder"] == c] for c in set(frame["coder"])] if "coder" in frame
             else [frame])
    return sum(NONE_THEME in themes and len(themes) > 1
               for part in parts for themes in _theme_sets(part).values())


def none_beside_theme_warning(n: int, where: str) -> tuple[str, ...]:
    """The warning for ``n`` units of ``where`` coded a theme and ``none`` (none if 0)."""
    if not n:
        return ()
    return (f"{counted(n, 'unit')} of {where} {'is' if n == 1 else 'are'} coded both a theme "
            f"and none (by rows of the table, or by coded spans carried onto the unit); "
            f"{'it counts' if n == 1 else 'each counts'} as the theme, none being the absence "
            "of a theme.",)


def alike_labels_warning(labels: Any, where: str) -> tuple[str, ...]:
    """A warning naming labels that differ only in case or spacing ("Hope" and "hope" are two
    themes to the figures); ``where`` ends its advice: "Write each theme the same way
    {where}"."""
    loose: dict[str, list[str]] = {}
    for label in set(labels):
        loose.setdefault(" ".join(label.casefold().replace("_", " ").split()), []).append(label)
    alike = sorted(" / ".join(sorted(labels)) for labels in loose.values() if len(labels) > 1)
    if not alike:
        return ()
    return (f"Labels that differ only in case or spacing count as different themes: "
            f"{rows_text(alike, 5)}. Write each theme the same way {where}.",)


def first_label(labels: frozenset[str]) -> str:
    return sorted(labels)[0]


def set_text(labels: frozenset[str]) -> str:
    """A unit's set of themes as one string, sorted: ``"hope; relationships"``."""
    return "; ".join(sorted(labels))


#: The columns of a table of coded character spans, matched in any case ("Start", "Doc_ID").
SPAN_COLUMNS = ("doc_id", "source", "start", "end", "coder", "theme_id")


def own_columns(columns: Any, names: Any) -> dict[str, str]:
    """``{name: the table's column}`` for each of ``names`` the table has: the column of that
    name, else the one column that differs from it only in case (none where two do)."""
    columns = [str(c) for c in columns]
    found = {}
    for name in dict.fromkeys(names):
        alike = [c for c in columns if c.casefold() == name.casefold()]
        if name in columns or len(alike) == 1:
            found[name] = name if name in columns else alike[0]
    return found


def _columns_of(table: Any) -> list[str] | None:
    """The column names of a DataFrame or a readable table file (None for anything else)."""
    import pandas as pd

    if isinstance(table, (str, PathLike)):
        try:
            return [str(c).strip() for c in read_table_file(table, "coding table").columns]
        except InputError:  # unreadable: load_coding_table reports it properly
            return None
    if isinstance(table, pd.DataFrame):
        return [str(c).strip() for c in table.columns]
    return None


def is_span_table(table: Any) -> bool:
    """A coding of character spans (``start`` and ``end`` in any case, no ``unit_id``) rather
    than a coding table keyed by unit ids; a .qdpx (or QdaProject) is one."""
    if is_qdpx(table):
        return True
    columns = _columns_of(table)
    return (columns is not None and len(own_columns(columns, ("start", "end"))) == 2
            and not any(c.casefold() == "unit_id" for c in columns))


def _spans_fix(columns: Any) -> str | None:
    """What to do with a table that lacks a unit id column but looks like coded character
    spans: give the units (a span table), or name its columns as a span table's are (columns
    like start and end that are not read as such)."""
    columns = [str(c) for c in columns]
    units = ("give the machine's meaning units to carry its spans onto: --units units.csv "
             "on the command line (units=units in Python)")
    if len(own_columns(columns, ("start", "end"))) == 2:
        return f"It codes character spans (start, end) rather than unit ids: {units}"
    words = {w for c in columns for w in re.split(r"[^a-z]+", c.casefold()) if w}
    if any(w.startswith(("start", "begin")) for w in words) and any(
            w.startswith(("end", "stop")) for w in words):
        return ("If it codes character spans, name its columns doc_id (or source), start, end "
                f"and theme_id (in any case; coder for a coder column), then {units}")
    return None
