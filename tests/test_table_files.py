"""Tables as people save them: workbooks with several sheets or title rows, padded column
names, a workbook under a .csv name, cells with line breaks; each refused with a message that
says where and what to do, or read."""

import logging

import pandas as pd
import pytest

import themesift as ts
from themesift import InputError
from themesift.cli import main
from themesift.ingest.table import read_table_chunks

READERS = {
    "read_table": lambda path, **kwargs: ts.read_table(path, **kwargs),
    "chunks": lambda path, **kwargs: pd.concat(list(read_table_chunks(path, chunk_rows=2,
                                                                      **kwargs))),
}
QUOTES = pd.DataFrame({"id": ["q1", "q2", "q3"],
                       "text": ["Every day is a Thursday here.", "It is chucking it down.",
                                "I just stood in the hallway."]})


def workbook(path, sheets):
    """An .xlsx with ``sheets``: name -> rows (lists of cells, the first row the header)."""
    from openpyxl import Workbook

    book = Workbook()
    book.remove(book.active)
    for name, rows in sheets.items():
        sheet = book.create_sheet(name)
        for row in rows:
            sheet.append(row)
    book.save(path)
    return path


def quotes_rows():
    return [list(QUOTES.columns), *QUOTES.values.tolist()]


@pytest.mark.parametrize("reader", READERS)
def test_a_notes_sheet_in_front_of_the_table_is_passed_over_with_a_warning(tmp_path, caplog,
                                                                           reader):
    path = workbook(tmp_path / "two.xlsx", {"About": [["Notes"], ["Exported from NVivo 14"]],
                                            "Quotes": quotes_rows()})
    with caplog.at_level(logging.WARNING, logger="themesift"):
        units = READERS[reader](path, id_column="id")
    assert units["unit_id"].tolist() == ["q1", "q2", "q3"]
    assert "two.xlsx: sheet 'About', the first, has no column 'text' or 'id', so sheet " \
           "'Quotes' is read instead, the only other sheet that has the columns" in caplog.text


@pytest.mark.parametrize("sheets, told", [
    ({"About": [["Notes"]], "Quotes": [["quote"], ["Hello."]]},
     "none of the others ('Quotes') has them"),
    ({"About": [["Notes"]], "Site A": quotes_rows(), "Site B": quotes_rows()},
     "'Site A' and 'Site B' have them, so which to read is unclear"),
])
def test_a_workbook_without_the_table_on_its_first_sheet_names_the_sheets(tmp_path, sheets,
                                                                          told):
    path = workbook(tmp_path / "book.xlsx", sheets)
    with pytest.raises(InputError) as error:
        ts.read_table(path)
    assert str(error.value) == (
        f"{path}, row 1: No column 'text' on sheet 'About'. Columns on it: Notes. Name the "
        "right one with --text-column / --id-column (text_column= / id_column= in Python). Of "
        "a workbook the first sheet is read, here 'About', or else the only other sheet that "
        f"has the columns: {told}. Move the table to the first sheet, or save it as CSV.")


@pytest.mark.parametrize("above", [
    [[None, None], [None, None]],  # blank title rows: the columns read as unnamed
    [["Quotes exported 3 May"], [None, None]],
])
def test_rows_above_the_header_are_told_with_the_row_the_header_is_in(tmp_path, above):
    path = workbook(tmp_path / "titled.xlsx", {"Quotes": [*above, *quotes_rows()]})
    with pytest.raises(InputError, match=r"titled\.xlsx, row 1: No column 'text' in row 1 of "
                       r"sheet 'Quotes'.*: the header must be the first row, and here it is row "
                       r"3\. Delete the rows above row 3\.$"):
        ts.read_table(path)


@pytest.mark.parametrize("title, header_row", [
    ("Quotes from the March focus groups\n", 2),  # one field: the file reads as one column
    ("Quotes\n\n", 3),
    ("Quotes, March, coded by AB\n", 2),
])
def test_a_title_line_above_a_csv_header_is_told_with_the_header_row(tmp_path, title, header_row):
    path = tmp_path / "titled.csv"
    path.write_text(title + 'id,text\n1,"I felt listened to, finally."\n2,Not here.\n',
                    encoding="utf-8")
    with pytest.raises(InputError, match=rf"No column 'text' in row 1 of the file: the header "
                       rf"must be the first row, and here it is row {header_row}\. Delete the "
                       rf"rows above row {header_row}\.$"):
        ts.read_table(path)


def test_a_data_cell_holding_the_column_name_after_a_comma_is_no_header(tmp_path):
    path = tmp_path / "quotes.csv"
    path.write_text('id,quote\n1,"text, then nothing for a week."\n', encoding="utf-8")
    with pytest.raises(InputError, match=r"No column 'text'\. Columns in the file: id, quote"):
        ts.read_table(path)


@pytest.mark.parametrize("start, said", [
    (b"id,text\n1,hello\n", "not a workbook"),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 64,
     r"an old Excel 97-2003 workbook \(\.xls\), or a workbook with a password"),
])
def test_a_file_named_xlsx_that_is_no_workbook_is_told_by_every_reader(tmp_path, start, said):
    from themesift.compare._tables import read_table_file
    from themesift.review.sheet import read_review

    path = tmp_path / "saved.xlsx"
    path.write_bytes(start)
    for read in (ts.read_table, lambda p: read_table_file(p, "a coding table"), read_review):
        with pytest.raises(InputError, match=rf"saved\.xlsx: This file is {said}.*Open it in a "
                                             r"spreadsheet program"):
            read(path)


def test_an_empty_first_row_without_the_header_below_is_told(tmp_path):
    path = workbook(tmp_path / "gap.xlsx", {"Sheet1": [[None, None], ["Hello", "there"]]})
    with pytest.raises(InputError, match=r"No column 'text': row 1 of sheet 'Sheet1' is empty "
                       r"\(the columns read as unnamed\)\. The header must be the first row"):
        ts.read_table(path)


def test_an_empty_sheet_is_told_as_empty(tmp_path):
    path = workbook(tmp_path / "empty.xlsx", {"Sheet": []})
    with pytest.raises(InputError, match=r"empty\.xlsx, row 1: Sheet 'Sheet' is empty\. Put "
                                         r"the table there, its header in row 1\.$"):
        ts.read_table(path)


@pytest.mark.parametrize("reader", READERS)
@pytest.mark.parametrize("suffix", [".csv", ".xlsx"])
def test_spaces_around_column_names_do_not_count(tmp_path, reader, suffix):
    path = tmp_path / f"padded{suffix}"
    table = QUOTES.assign(Site="A").rename(columns={"id": "id ", "text": " text ", "Site": "Site"})
    table.to_csv(path, index=False) if suffix == ".csv" else table.to_excel(path, index=False)
    units = READERS[reader](path, id_column="id")
    assert units.columns.tolist() == ["unit_id", "text", "id", "Site"]
    assert units["unit_id"].tolist() == ["q1", "q2", "q3"]
    # ... nor around the names given, as copied from the header with its space
    padded = READERS[reader](path, text_column=" text ", id_column="id ")
    pd.testing.assert_frame_equal(padded, units)


def test_two_columns_named_alike_but_for_spaces_are_refused(tmp_path):
    path = tmp_path / "twice.csv"
    path.write_text("text,text \nOne.,Two.\n")
    with pytest.raises(InputError, match=r"twice\.csv, line 1: Two columns are named 'text'"):
        ts.read_table(path)


@pytest.mark.parametrize("reader", READERS)
def test_a_workbook_under_a_csv_name_is_told_to_be_renamed(tmp_path, reader):
    path = tmp_path / "table.csv"
    QUOTES.to_excel(path.with_suffix(".xlsx"), index=False)
    path.write_bytes(path.with_suffix(".xlsx").read_bytes())
    with pytest.raises(InputError, match=r"table\.csv: This is a workbook \(\.xlsx\) saved under "
                                         r"a \.csv name\. Rename it to \.xlsx"):
        READERS[reader](path)


# Row 3's text holds two line breaks: row 4 starts on line 6 of the file, row 5 on line 7.
BROKEN = 'id,text\nq1,First.\nq2,"One line,\nanother\nand a third"\nq3,Fourth.\n'


@pytest.mark.parametrize("reader", READERS)
@pytest.mark.parametrize("last_row, message", [
    ("q1,Again.", r"lines\.csv, line 7: The id 'q1' in row 5 repeats row 2\."),
    ("q4,  ", r"lines\.csv, line 7: Empty 'text' cell in row\(s\) 5\."),
    (",Words.", r"lines\.csv, line 7: Empty 'id' cell in row 5\."),
    ("q4,Too, many", r"lines\.csv, line 7: This row has 3 fields where the header has 2"),
])
def test_a_row_below_a_cell_with_line_breaks_is_placed_on_its_own_line(tmp_path, reader,
                                                                       last_row, message):
    path = tmp_path / "lines.csv"
    path.write_text(BROKEN + last_row + "\n")
    with pytest.raises(InputError, match=message):
        READERS[reader](path, id_column="id")


def test_a_row_of_a_multi_line_record_with_too_many_fields_is_placed_where_it_starts(tmp_path):
    path = tmp_path / "lines.csv"
    path.write_text('id,text\nq1,"First, and\nsecond line",extra\n')
    with pytest.raises(InputError, match=r"lines\.csv, line 2: This row has 3 fields"):
        ts.read_table(path)


@pytest.mark.parametrize("name, make, message", [
    ("book.xlsx", lambda p: workbook(p, {"About": [["Notes"]], "Quotes": [["quote"], ["Hi."]]}),
     "book.xlsx, row 1: No column 'text' on sheet 'About'."),
    ("titled.xlsx", lambda p: workbook(p, {"Quotes": [[None, None], *quotes_rows()]}),
     "the header must be the first row, and here it is row 2."),
    ("table.csv", lambda p: QUOTES.to_excel(p, index=False, engine="openpyxl"),
     "table.csv: This is a workbook (.xlsx) saved under a .csv name."),
])
def test_suggest_refuses_such_tables_with_exit_1_and_no_traceback(tmp_path, capsys, name, make,
                                                                  message):
    path = tmp_path / name
    make(path)
    assert main(["suggest", str(path), "--framework", "recovery",
                 "--out", str(tmp_path / "x.csv")]) == 1
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err
    assert not (tmp_path / "x.csv").exists()


def test_ids_of_a_workbook_come_back_as_the_spreadsheet_shows_them(tmp_path):
    # A survey export's respondent ids are numbers shown with leading zeros ("00017"), and
    # dates: they came back as 17 and "2024-01-05 00:00:00", matching nothing in the export.
    import datetime

    from openpyxl import Workbook

    book = Workbook()
    sheet = book.active
    sheet.append(["resp_id", "Answer"])
    for value, shape, text in ((17, "00000", "The staff were kind."),
                               (None, None, None),  # a blank row between
                               (2041, "00000", "Parking was impossible."),
                               (datetime.datetime(2024, 1, 5), "yyyy-mm-dd", "A long wait."),
                               (3.5, "General", "Fine."), ("A-7", "General", "Good.")):
        sheet.append([value, text])
        if shape:
            sheet.cell(sheet.max_row, 1).number_format = shape
    path = tmp_path / "survey.xlsx"
    book.save(path)
    units = ts.read_table(path, text_column="Answer", id_column="resp_id")
    assert units["unit_id"].tolist() == ["00017", "02041", "2024-01-05", "3.5", "A-7"]
    assert units["text"].tolist()[:2] == ["The staff were kind.", "Parking was impossible."]


@pytest.mark.parametrize("reader", READERS)
def test_a_quote_never_closed_is_placed_on_the_line_it_opens(tmp_path, reader):
    # A file cut short said "Cannot read the table (ParserError: unexpected end of data)".
    path = tmp_path / "cut.csv"
    path.write_text('id,text\nq1,"First, fine."\nq2,"Cut short here\nq3,More words.\n')
    with pytest.raises(InputError, match=r'cut\.csv, line 3: A quote \(\"\) opened here is '
                                         r"never closed"):
        READERS[reader](path, id_column="id")
