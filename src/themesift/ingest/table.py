"""Pre-segmented text in a table (.csv, .tsv, .xlsx): one meaning unit per row."""

from __future__ import annotations

import bisect
import contextlib
import logging
import os
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from ..errors import InputError

TABLE_SUFFIXES = (".csv", ".tsv", ".xlsx")
_SNIFF_BYTES = 1 << 20  # how much of a big CSV tells its encoding
_DELIMITERS = (",", ";", "\t", "|")
_OLE_START = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"  # an Excel 97-2003 (.xls) file's first bytes
_HEADER_SEARCH_ROWS = 20  # how far down a header below titles or notes is looked for

logger = logging.getLogger(__name__)


def csv_delimiter(text: str) -> str:
    """The delimiter of a CSV: of comma, semicolon (Excel's "CSV" where the decimal mark is a
    comma), tab and bar, the one that splits the header line (quotes respected: a column
    named "text, cleaned" is one name) into the most fields, ties broken by how many of the
    next lines split into as many; comma on a tie."""
    import csv

    lines = text.lstrip("\ufeff").split("\n", 21)[:21]

    def fit(sep: str) -> tuple[int, int]:
        try:
            with _long_cells():
                rows = [row for row in csv.reader(lines, delimiter=sep) if row]
        except csv.Error:
            return (0, 0)
        if not rows:
            return (0, 0)
        return (len(rows[0]), sum(len(row) == len(rows[0]) for row in rows[1:]))

    return max(_DELIMITERS, key=fit)


def read_csv_cells(path: str | os.PathLike[str], **options):
    """A .csv/.tsv file as a DataFrame of strings (an empty cell is ``""``, never NaN),
    without its blank rows; a row's index is its place in the file (0 the first after the
    header), so that row numbers still say where it is.

    Its encoding is detected as a transcript's is (UTF-8 with or without BOM, UTF-16,
    Windows cp1252 as Excel saves "CSV"), its delimiter from the header line
    (:func:`csv_delimiter`; always a tab for .tsv). ``options`` go to ``pandas.read_csv``.
    """
    return _read_csv(path, **options)[0]


def _read_csv(path: str | os.PathLike[str], **options):
    """:func:`read_csv_cells`, and where its rows start in the file (:func:`_checked_rows`)."""
    import io

    import pandas as pd

    from ._common import decode_bytes

    path = Path(path)
    data = path.read_bytes()
    _check_csv_start(data, path)
    text, _ = decode_bytes(data, path, what="table")
    sep = "\t" if path.suffix.lower() == ".tsv" else csv_delimiter(text)
    starts = _checked_rows(io.StringIO(text), sep, path)
    table = pd.read_csv(io.StringIO(text), sep=sep, dtype=str, keep_default_na=False,
                        index_col=False, skip_blank_lines=False, **options).fillna("")
    return without_blank_rows(table), starts  # row i (from 0) of the file keeps index i


def _check_csv_start(data: bytes, path: Path) -> None:
    """An InputError for a CSV (its first bytes ``data``) that is empty or a workbook."""
    if not data.strip():
        raise InputError("The file is empty", path=path, fix="Save the table again with its "
                         "header row")
    if data.startswith(b"PK\x03\x04"):
        raise InputError("This is a workbook (.xlsx) saved under a .csv name", path=path,
                         fix="Rename it to .xlsx, or save it from the spreadsheet program as CSV")


def without_blank_rows(table):
    """A table of text cells without the rows empty in every cell (a CSV's blank lines, a
    sheet's blank rows); the others keep their index."""
    blank = table.fillna("").astype(str).apply(lambda column: column.str.strip() == "")
    return table[~blank.all(axis=1)] if len(table.columns) else table


def _checked_rows(handle, sep: str, path: Path) -> list[tuple[int, int]]:
    """Where the rows of a CSV start in the file, for :func:`_file_line`: ``(row, line)`` for
    each row that starts further down than the row before it says, a cell above it holding
    line breaks (rows counted as a spreadsheet counts them, the header row 1).

    Raises an InputError at the first row with more fields than the header: a text holding
    the delimiter without quotes. (pandas would make the extra first field the row's index,
    or drop the last ones, without a word.)"""
    import csv

    starts: list[tuple[int, int]] = []
    with _long_cells():
        reader = csv.reader(handle, delimiter=sep)
        header = next(reader, [])
        line = reader.line_num + 1
        for row, fields in enumerate(reader, start=2):
            if line != _file_line(row, starts[-1:]):
                starts.append((row, line))
            if len(fields) > len(header):
                shown = {",": "comma", ";": "semicolon", "\t": "tab"}.get(sep, repr(sep))
                raise InputError(
                    f"This row has {len(fields)} fields where the header has {len(header)}: a "
                    f"text with a {shown} in it that is not in quotes", path=path, line=line,
                    fix='Put such texts in double quotes ("..."), as a spreadsheet program '
                        "does when it saves a CSV")
            line = reader.line_num + 1
    return starts


def _at(row: int, starts: Sequence[tuple[int, int]] | None) -> dict[str, int]:
    """Where row ``row`` is, for an InputError: a CSV's file line (:func:`_file_line`), a
    sheet's row (``starts`` None)."""
    return {"row": row} if starts is None else {"line": _file_line(row, starts)}


def _file_line(row: int, starts: Sequence[tuple[int, int]]) -> int:
    """The line of a file where its row ``row`` starts (the row itself where ``starts``, from
    :func:`_checked_rows`, is empty: a CSV without line breaks in its cells)."""
    at = bisect.bisect_right(starts, (row, float("inf"))) - 1
    return row if at < 0 else starts[at][1] + row - starts[at][0]


@contextlib.contextmanager
def _long_cells() -> Iterator[None]:
    """The csv module's limit on a cell (128 KiB) lifted while a table is checked: a whole
    document in one cell is a table pandas reads, and the model reads its start."""
    import csv

    limit = csv.field_size_limit()
    csv.field_size_limit(2**31 - 1)
    try:
        yield
    finally:
        csv.field_size_limit(limit)


def read_table(
    path: str | os.PathLike[str],
    *,
    text_column: str = "text",
    id_column: str | None = None,
    keep_empty: bool = False,
):
    """Read already-segmented text, one unit per row, as a units table.

    Parameters
    ----------
    path:
        A .csv (any common delimiter, UTF-8 or Windows encodings), .tsv or .xlsx file, its
        column names in the first row (spaces around them do not count). Of a workbook the
        first sheet is read or, where that lacks the columns, the only other sheet that has
        them (a warning says so).
    text_column:
        The column holding the text.
    id_column:
        The column holding each row's id; by default the row number ("row2", "row3", ...,
        counting the header as row 1, as a spreadsheet shows it).
    keep_empty:
        Keep rows whose text cell is empty (their ``text`` ``""``), as a survey's unanswered
        questions are, instead of refusing the table.

    Returns
    -------
    pandas.DataFrame
        The table's columns, plus ``unit_id`` and ``text`` first.

    Raises
    ------
    InputError
        For a missing or unreadable file, a missing column (saying which sheet was read and
        whether the header is further down), an empty sheet, empty text cells or repeated ids
        (each naming the rows and the line where the first starts).
    """
    path, suffix = _checked_path(path)
    text_column, id_column = _column_names(text_column, id_column)
    with _readable(path):
        table, starts = ((_read_sheet(path, [text_column, id_column]), None)  # rows, no lines
                         if suffix == ".xlsx" else _read_csv(path))
    units = _units(table, path, text_column, id_column, seen={}, starts=starts,
                   keep_empty=keep_empty)
    if units.empty:
        raise InputError("The table has no rows", path=path, fix="Add one row per unit of text")
    return units


def read_table_chunks(
    path: str | os.PathLike[str],
    *,
    text_column: str = "text",
    id_column: str | None = None,
    chunk_rows: int = 5000,
    keep_empty: bool = False,
) -> Iterator:
    """:func:`read_table` in pieces of at most ``chunk_rows`` rows, for tables too big to hold.

    A .csv/.tsv is read ``chunk_rows`` rows at a time (its encoding told from the first
    megabyte); an .xlsx cannot be read in pieces, so it is read whole and then cut. Every
    piece is checked as :func:`read_table` checks a table, ids across pieces included.

    Yields
    ------
    pandas.DataFrame
        ``unit_id, text`` and the table's other columns.
    """
    import pandas as pd

    path, suffix = _checked_path(path)
    text_column, id_column = _column_names(text_column, id_column)
    if suffix == ".xlsx":
        table = read_table(path, text_column=text_column, id_column=id_column,
                           keep_empty=keep_empty)
        for start in range(0, len(table), chunk_rows):
            yield table.iloc[start:start + chunk_rows].reset_index(drop=True)
        return
    from ._common import decode_bytes

    with open(path, "rb") as handle:
        head = handle.read(_SNIFF_BYTES)
    _check_csv_start(head, path)
    if len(head) == _SNIFF_BYTES and head[:2] in (b"\xff\xfe", b"\xfe\xff"):  # UTF-16
        head = head[: len(head) - len(head) % 2]  # whole two-byte characters
    elif len(head) == _SNIFF_BYTES and b"\n" in head:
        head = head[: head.rindex(b"\n") + 1]  # never cut a character in two
    text, encoding = decode_bytes(head, path, what="table")
    if encoding.replace("_", "-").lower() in ("utf-8", "utf8"):
        encoding = "utf-8-sig"
    seen: dict[str, int] = {}
    rows = 0
    sep = "\t" if suffix == ".tsv" else csv_delimiter(text)
    with _readable(path):
        try:
            with open(path, encoding=encoding, newline="") as handle:
                starts = _checked_rows(handle, sep, path)  # reads the whole file once
        except UnicodeDecodeError:
            if encoding != "utf-8-sig":
                raise
            # UTF-8 in the first megabyte only: read it as decode_bytes reads what is not
            # UTF-8, Windows cp1252 (Excel's "CSV").
            encoding = "cp1252"
            with open(path, encoding=encoding, newline="") as handle:
                starts = _checked_rows(handle, sep, path)
        with _long_cells():  # the python engine reads with the csv module
            reader = pd.read_csv(path, sep=sep, engine="python", dtype=str,
                                 keep_default_na=False, encoding=encoding, chunksize=chunk_rows,
                                 index_col=False, skip_blank_lines=False)
            with reader:
                for chunk in reader:  # indexed on from the first chunk: rows stay numbered
                    units = _units(without_blank_rows(chunk), path, text_column, id_column,
                                   seen, starts, keep_empty)
                    rows += len(units)
                    if len(units):  # not a piece of blank lines only
                        yield units
    if not rows:
        raise InputError("The table has no rows", path=path, fix="Add one row per unit of text")


def _checked_path(path: str | os.PathLike[str]) -> tuple[Path, str]:
    path = Path(path)
    if not path.is_file():
        raise InputError("No such file", path=path, fix="Check the path and the spelling")
    suffix = path.suffix.lower()
    if suffix not in TABLE_SUFFIXES:
        raise InputError(f"Unsupported table type {suffix or '(no extension)'!r}", path=path,
                         fix=f"Save the table as {', '.join(TABLE_SUFFIXES)}")
    return path, suffix


class _readable:
    """Turns whatever pandas raises on a broken file into one InputError naming it."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def __enter__(self) -> None:
        return None

    def __exit__(self, kind, exc, tb) -> bool:
        if exc is None or isinstance(exc, InputError) or not isinstance(exc, Exception):
            return False
        line = _unclosed_quote_line(self.path) if "end of data" in str(exc) \
            or "EOF inside string" in str(exc) else None
        if line is not None:
            raise InputError('A quote (") opened here is never closed, so the rest of the '
                             "file reads as one cell", path=self.path, line=line,
                             fix="Close the quote, or save the table again from the "
                                 "spreadsheet program (the file may be cut short)") from None
        raise InputError(f"Cannot read the table ({kind.__name__}: {exc})", path=self.path,
                         fix="Open it in a spreadsheet program and save it again as .csv or "
                             ".xlsx") from None


def _unclosed_quote_line(path: Path) -> int | None:
    """The line of a CSV where the quote that is still open at its end was opened (counting
    quote marks line by line, as a reader of quoted fields does), or None."""
    from ._common import decode_bytes

    try:
        text, _ = decode_bytes(path.read_bytes(), path, what="table")
    except (OSError, InputError):
        return None
    opened = None
    for number, line in enumerate(text.split("\n"), start=1):
        if line.count('"') % 2:
            opened = number if opened is None else None
    return opened


def check_workbook(path: str | os.PathLike[str]) -> None:
    """An InputError for a .xlsx/.xlsm file that is not a workbook (a workbook is a zip): text
    or an old .xls saved under the name, which the spreadsheet libraries report in their own
    words."""
    import zipfile

    if Path(path).suffix.lower() in (".xlsx", ".xlsm") and not zipfile.is_zipfile(path):
        with open(path, "rb") as handle:
            start = handle.read(8)
        what = ("an old Excel 97-2003 workbook (.xls), or a workbook with a password"
                if start == _OLE_START else
                "not a workbook (a .xlsx file is a zip; this one is text or something else)")
        raise InputError(f"This file is {what}", path=path,
                         fix="Open it in a spreadsheet program (removing any password) and save "
                             "it as Excel Workbook (.xlsx), or as CSV")


def _read_sheet(path: Path, columns: list[str | None]):
    """A workbook's table, as :func:`_units` takes it: its first sheet's or, where that lacks
    ``columns``, the only other sheet's that has them (a cover or notes sheet in front of the
    data)."""
    import pandas as pd

    check_workbook(path)
    with pd.ExcelFile(path) as book:
        def sheet(name, **options):  # "NA" and "none" are text
            return _named(pd.read_excel(book, sheet_name=name, dtype=str,
                                        keep_default_na=False, **options))

        first, *others = book.sheet_names
        table = sheet(first)
        missing = _missing(table, columns)
        if missing:
            having = [name for name in others if not _missing(sheet(name, nrows=0), columns)]
            if len(having) != 1:
                raise _column_error(table, path, missing[0], first, others, having)
            logger.warning("%s: sheet %r, the first, has no column %s, so sheet %r is read "
                           "instead, the only other sheet that has the columns", path, first,
                           " or ".join(map(repr, missing)), having[0])
            table = sheet(having[0])
        id_column = columns[1] if len(columns) > 1 else None
        if id_column is not None and id_column in table.columns:
            # the workbook pandas has open already (openpyxl's, which keeps number formats)
            shown = _ids_as_shown(book.book[having[0] if missing else first], id_column)
            table[id_column] = [s if s is not None else v for v, s in zip(
                table[id_column], shown + [None] * (len(table) - len(shown)))]
    return without_blank_rows(table)


def _ids_as_shown(sheet: Any, column: str) -> list[str | None]:
    """An openpyxl ``sheet``'s ``column`` cells as the spreadsheet shows them, where that
    differs from the value pandas reads: a number formatted with leading zeros ("00017", a
    survey's respondent id, read as "17") and a date without a time ("2024-01-05", read as
    "2024-01-05 00:00:00"); None for the others. One per row below the header, blank rows
    included."""
    import datetime

    rows = sheet.iter_rows()
    header = [str(c.value).strip() if c.value is not None else "" for c in next(rows, ())]
    if column not in header:
        return []
    at = header.index(column)
    out = []
    for row in rows:
        cell = row[at] if at < len(row) else None
        value, shape = getattr(cell, "value", None), getattr(cell, "number_format", "")
        if (isinstance(value, (int, float)) and not isinstance(value, bool)
                and float(value).is_integer() and shape and set(shape) == {"0"}):
            out.append(f"{int(value):0{len(shape)}d}")
        elif isinstance(value, datetime.datetime) and value.time() == datetime.time():
            out.append(value.date().isoformat())
        else:
            out.append(None)
    return out


def _named(table):
    """The table with its column names as text without spaces around them ("text " is
    "text", as a person reading the header sees it)."""
    return table.rename(columns=lambda name: str(name).strip())


def _missing(table, columns: list[str | None]) -> list[str]:
    return [c for c in columns if c is not None and c not in table.columns]


def _header_names(cells, split: bool = False) -> set[str]:
    """The column names a row would give as a header: its cells, and with ``split`` the fields
    of a cell that holds a whole CSV line (a one-field title line above the header makes the
    file read as one column)."""
    import csv

    names = set()
    for cell in map(str, cells):
        names.add(cell.strip())
        for sep in _DELIMITERS if split else ():
            if sep in cell:
                with _long_cells():
                    names.update(field.strip() for row in csv.reader([cell], delimiter=sep)
                                 for field in row)
    return names


def _column_names(text_column: str, id_column: str | None) -> tuple[str, str | None]:
    """The column names as the header is read: spaces around them do not count (a header
    copied with its trailing space, "Answer ", names the column "Answer")."""
    return str(text_column).strip(), None if id_column is None else str(id_column).strip()


def _column_error(table, path: Path, column: str, sheet: str | None = None,
                  others: Sequence[str] = (), having: Sequence[str] = ()) -> InputError:
    """The error for a table (read from ``sheet`` of a workbook whose ``others`` sheets include
    ``having`` with the columns) without ``column``: the sheet is empty, or the header is
    further down (titles above it), or else which columns there are."""
    where = "the file" if sheet is None else f"sheet {sheet!r}"
    unnamed = " (the columns read as unnamed)" if all(
        str(name).startswith("Unnamed: ") for name in table.columns) else ""
    one_column = len(table.columns) == 1  # a one-field title line above the header
    header = next((int(index) + 2 for index, cells in table.head(_HEADER_SEARCH_ROWS).iterrows()
                   if column in _header_names(cells, split=one_column)), None)
    if table.columns.empty:
        problem = f"{where[0].upper()}{where[1:]} is empty"
        fix = "Put the table there, its header in row 1"
    elif header is not None:
        problem = (f"No column {column!r} in row 1 of {where}{unnamed}: the header must be the "
                   f"first row, and here it is row {header}")
        fix = f"Delete the rows above row {header}"
    elif unnamed:
        problem = f"No column {column!r}: row 1 of {where} is empty{unnamed}"
        fix = "The header must be the first row: put the column names in row 1"
    else:
        problem = f"No column {column!r}" + ("" if sheet is None else f" on {where}")
        fix = (f"Columns {'in the file' if sheet is None else 'on it'}: "
               f"{', '.join(table.columns)}. Name the right one with --text-column / "
               "--id-column (text_column= / id_column= in Python)")
    if others:
        fix += (f". Of a workbook the first sheet is read, here {sheet!r}, or else the only "
                "other sheet that has the columns: " + (
                    f"{' and '.join(map(repr, having))} have them, so which to read is unclear"
                    if having else f"none of the others ({', '.join(map(repr, others))}) has"
                    " them") + ". Move the table to the first sheet, or save it as CSV")
    return InputError(problem, path=path, **({"line": 1} if sheet is None else {"row": 1}),
                      fix=fix)


def _units(table, path: Path, text_column: str, id_column: str | None, seen: dict[str, int],
           starts: Sequence[tuple[int, int]] | None = (), keep_empty: bool = False):
    """``unit_id, text`` and the other columns of a table's rows (blank rows already left out),
    checked; a row's index is its place in the file (0 the first after the header), so its
    number is the index + 2, as a spreadsheet shows it; ``seen`` remembers ids (and their
    rows) across the pieces of one table; ``starts`` (:func:`_checked_rows`) says on which
    line of the file a row starts (None: a sheet's rows, said as rows)."""
    import pandas as pd

    table = _named(table)
    numbers = [int(index) + 2 for index in table.index]
    for column in (text_column, id_column):
        if column is None:
            continue
        if column not in table.columns:
            raise _column_error(table, path, column)
        if list(table.columns).count(column) > 1:
            raise InputError(f"Two columns are named {column!r}", path=path, **_at(1, starts),
                             fix="Rename one of them (spaces around a name do not count)")
    texts = table[text_column].fillna("").astype(str)
    empty = [row for row, t in zip(numbers, texts) if not t.strip()]
    if empty and not keep_empty:
        rows = ", ".join(map(str, empty[:10])) + (" ..." if len(empty) > 10 else "")
        raise InputError(f"Empty {text_column!r} cell in row(s) {rows}", path=path,
                         **_at(empty[0], starts),
                         fix="Fill in the text or delete those rows")
    if id_column is None:
        ids = [f"row{row}" for row in numbers]
    else:
        ids = table[id_column].fillna("").astype(str).str.strip().tolist()
        for row, value in zip(numbers, ids):
            if not value:
                raise InputError(f"Empty {id_column!r} cell in row {row}", path=path,
                                 **_at(row, starts), fix="Give every row an id")
            if value in seen:
                raise InputError(f"The id {value!r} in row {row} repeats row {seen[value]}",
                                 path=path, **_at(row, starts),
                                 fix="Give every row its own id")
            seen[value] = row
    rest = table.drop(columns=[c for c in ("unit_id", "text") if c in table.columns])
    return pd.concat([pd.DataFrame({"unit_id": ids, "text": texts.tolist()}),
                      rest.reset_index(drop=True)], axis=1)
