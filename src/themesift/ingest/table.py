"""Pre-segmented text in a table (.csv, .tsv, .xlsx): one meaning unit per row."""

from __future__ import annotations

import os
from pathlib import Path

from ..errors import InputError

TABLE_SUFFIXES = (".csv", ".tsv", ".xlsx")


def read_table(
    path: str | os.PathLike[str],
    *,
    text_column: str = "text",
    id_column: str | None = None,
):
    """Read already-segmented text, one unit per row, as a units table.

    Parameters
    ----------
    path:
        A .csv (any common delimiter, UTF-8 or Windows encodings), .tsv or .xlsx file.
    text_column:
        The column holding the text.
    id_column:
        The column holding each row's id; by default the row number ("row2", "row3", ...,
        counting the header as row 1, as a spreadsheet shows it).

    Returns
    -------
    pandas.DataFrame
        The table's columns, plus ``unit_id`` and ``text`` first.

    Raises
    ------
    InputError
        For a missing or unreadable file, a missing column, empty text cells or repeated ids
        (each naming the rows).
    """
    import pandas as pd

    path = Path(path)
    if not path.is_file():
        raise InputError("No such file", path=path, fix="Check the path and the spelling")
    suffix = path.suffix.lower()
    if suffix not in TABLE_SUFFIXES:
        raise InputError(f"Unsupported table type {suffix or '(no extension)'!r}", path=path,
                         fix=f"Save the table as {', '.join(TABLE_SUFFIXES)}")
    try:
        if suffix == ".xlsx":
            table = pd.read_excel(path, dtype=str)
        else:
            from ._common import decode_bytes

            text, _ = decode_bytes(path.read_bytes(), path)
            import io

            table = pd.read_csv(io.StringIO(text), sep="\t" if suffix == ".tsv" else None,
                                engine="python", dtype=str, keep_default_na=False)
    except InputError:
        raise
    except Exception as exc:  # pandas raises many kinds; all mean "not a readable table"
        raise InputError(f"Cannot read the table ({exc.__class__.__name__}: {exc})", path=path,
                         fix="Open it in a spreadsheet program and save it again as .csv or .xlsx") from None

    for column in (text_column, id_column):
        if column is not None and column not in table.columns:
            raise InputError(
                f"No column {column!r}", path=path, line=1,
                fix=f"Columns in the file: {', '.join(map(str, table.columns))}. "
                "Name the right one with --text-column / --id-column",
            )
    texts = table[text_column].fillna("").astype(str)
    empty = [i + 2 for i, t in enumerate(texts) if not t.strip()]
    if empty:
        rows = ", ".join(map(str, empty[:10])) + (" ..." if len(empty) > 10 else "")
        raise InputError(f"Empty {text_column!r} cell in row(s) {rows}", path=path,
                         line=empty[0], fix="Fill in the text or delete those rows")
    if id_column is None:
        ids = [f"row{i + 2}" for i in range(len(table))]
    else:
        ids = table[id_column].fillna("").astype(str).str.strip().tolist()
        seen: dict[str, int] = {}
        for row, value in enumerate(ids, start=2):
            if not value:
                raise InputError(f"Empty {id_column!r} cell in row {row}", path=path, line=row,
                                 fix="Give every row an id")
            if value in seen:
                raise InputError(f"The id {value!r} in row {row} repeats row {seen[value]}",
                                 path=path, line=row, fix="Give every row its own id")
            seen[value] = row
    if not len(table):
        raise InputError("The table has no rows", path=path, fix="Add one row per unit of text")
    rest = table.drop(columns=[c for c in ("unit_id", "text") if c in table.columns])
    return pd.concat([pd.DataFrame({"unit_id": ids, "text": texts.tolist()}), rest.reset_index(drop=True)], axis=1)
