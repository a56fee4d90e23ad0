"""Reading REFI-QDA projects (.qdpx): real NVivo / qc exports and bad input."""

from __future__ import annotations

import zipfile
from pathlib import Path

import pytest

import themesift as ts
from themesift.errors import InputError
from themesift.ingest.qdpx import QdaProject, read_qdpx

REFI = Path(__file__).resolve().parents[2] / "shared" / "refi-qda"
NVIVO = REFI / "nvivo_sample.qdpx"
QC = REFI / "qc_demo.qdpx"

needs_refi = pytest.mark.skipif(
    not (NVIVO.exists() and QC.exists()),
    reason=f"REFI-QDA reference files not found in {REFI} (shared/refi-qda beside the repo)",
)

NS = "urn:QDA-XML:project:1.0"


def make_qdpx(tmp_path: Path, qde: str | bytes | None, files: dict[str, bytes] | None = None,
              name: str = "p.qdpx") -> Path:
    path = tmp_path / name
    with zipfile.ZipFile(path, "w") as zf:
        if qde is not None:
            zf.writestr("project.qde", qde)
        for member, data in (files or {}).items():
            zf.writestr(member, data)
    return path


def project_xml(sources: str, codes: str | None = None, cases: str = "") -> str:
    codes = codes if codes is not None else (
        '<Code guid="c1" name="Parent" isCodable="false" color="#FF0000">'
        "<Description>Top level</Description>"
        '<Code guid="c2" name="Child" isCodable="true"/></Code>'
        '<Code guid="c3" name="Other" isCodable="true"/>'
    )
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f'<Project xmlns="{NS}" name="tiny" origin="test">\n'
        '<Users><User guid="u1" name="Ann"/><User guid="u2" id="BB"/></Users>\n'
        f"<CodeBook><Codes>{codes}</Codes></CodeBook>\n{cases}"
        f"<Sources>\n{sources}\n</Sources>\n</Project>\n"
    )


# ------------------------------------------------------------------- real files


@needs_refi
def test_nvivo_export_sources_codebook_users():
    p = read_qdpx(NVIVO)
    assert isinstance(p, QdaProject)
    assert p.origin.startswith("NVivo")
    assert len(p.sources) == 2
    assert set(p.sources["format"]) == {"txt"}
    assert all(p.sources["path"].str.startswith("sources/"))
    assert len(p.codebook) == 262
    assert p.codebook["guid"].is_unique
    assert set(p.users["name"]) == {"chrisp", "cp"}
    assert len(p.codings) == 0
    assert list(p.codings.columns)[:5] == ["source", "source_guid", "start", "end", "text"]


@needs_refi
def test_codebook_hierarchy_paths():
    p = read_qdpx(NVIVO)
    cb = p.codebook.set_index("guid")
    row = cb.loc["36636563-3863-6264-3638-303637613863"]
    assert row["name"] == "programming"
    assert row["parent_name"] == "competencies"
    assert row["path"] == "rq1_definition/competencies/programming"
    roots = cb[cb["parent_guid"] == ""]
    assert (roots["path"] == roots["name"]).all()
    # every child's path is its parent's path plus its own name
    children = cb[cb["parent_guid"] != ""]
    parent_paths = cb.loc[children["parent_guid"], "path"].to_numpy()
    assert (children["path"].to_numpy() == parent_paths + "/" + children["name"].to_numpy()).all()
    assert cb["is_codable"].dtype == bool


@needs_refi
def test_qc_demo_all_205_codings_slice_the_text():
    p = read_qdpx(QC)
    assert len(p.sources) == 2
    assert set(p.sources["name"]) == {"board_2017", "admin-1"}  # bare plainTextPath names
    assert len(p.codebook) == 262
    assert len(p.codings) == 205
    assert p.codings["selection_guid"].nunique() == 158
    texts = dict(zip(p.sources["guid"], p.sources["text"]))
    for r in p.codings.itertuples():
        assert r.text == texts[r.source_guid][r.start:r.end]
        assert 0 <= r.start < r.end <= len(texts[r.source_guid])
    assert set(p.codings["coder"]) == {"cp"}
    first = p.codings.iloc[0]
    assert (first.start, first.end) == (320, 400)  # "line:6", end exclusive, ends with \n
    assert first.text.endswith("\n")
    assert set(p.codings["code_guid"]) <= set(p.codebook["guid"])


@needs_refi
def test_qc_demo_to_coding_table_with_mapping():
    p = read_qdpx(QC)
    table = p.to_coding_table()
    assert list(table.columns) == ["id", "theme_id", "coder", "source", "start", "end", "text"]
    assert len(table) == 205
    assert table["id"].nunique() == 158
    code = p.codings.iloc[0]
    mapping = {code.code_path: "theme_a", "programming": "theme_b"}
    mapped = p.to_coding_table(mapping)
    assert set(mapped.loc[mapped["id"] == f"{code.source}:{code.start}-{code.end}", "theme_id"]) \
        >= {"theme_a"}
    assert (mapped["theme_id"] == "theme_b").sum() == (p.codings["code"] == "programming").sum()
    only = p.to_coding_table(mapping, drop_unmapped=True)
    assert set(only["theme_id"]) <= {"theme_a", "theme_b"}
    assert 0 < len(only) < len(table)


# ------------------------------------------------------------------- small built projects


def test_tiny_project_offsets_users_and_inline_text(tmp_path):
    text = "Caf\u00e9 r\u00e9sum\u00e9 \U0001F600 ok\r\nline two\n"
    sources = (
        '<TextSource guid="s1" name="Doc one" plainTextPath="internal://s1.txt">'
        '<PlainTextSelection guid="sel1" startPosition="0" endPosition="4" creatingUser="u2">'
        '<Coding guid="k1"><CodeRef targetGUID="c2"/></Coding>'
        '<Coding guid="k2" creatingUser="u1"><CodeRef targetGUID="c3"/></Coding>'
        "</PlainTextSelection>"
        '<PlainTextSelection guid="sel2" startPosition="12" endPosition="16">'
        '<Coding guid="k3" creatingUser="zz"><CodeRef targetGUID="c3"/></Coding>'
        "</PlainTextSelection></TextSource>"
        '<TextSource guid="s2" name="Inline"><PlainTextContent>Hello there</PlainTextContent>'
        '<PlainTextSelection guid="sel3" startPosition="6" endPosition="11">'
        '<Coding guid="k4"><CodeRef targetGUID="c2"/></Coding></PlainTextSelection></TextSource>'
        '<TextSource guid="s3" plainTextPath="legacy.txt"/>'
    )
    qde = project_xml(sources)
    files = {
        "sources/s1.txt": b"\xef\xbb\xbf" + text.encode("utf-8"),  # UTF-8 with BOM
        "sources/legacy.txt": "na\u00efve".encode("cp1252"),  # not UTF-8
    }
    p = read_qdpx(make_qdpx(tmp_path, qde, files))
    src = p.sources.set_index("guid")
    assert src.loc["s1", "text"] == text.replace("\r\n", "\n")  # BOM removed, \r\n as \n
    assert src.loc["s2", "text"] == "Hello there" and src.loc["s2", "format"] == "inline"
    assert src.loc["s3", "name"] == "legacy" and src.loc["s3", "text"] == "na\u00efve"
    c = p.codings
    assert list(c["text"]) == ["Caf\u00e9", "Caf\u00e9", "\U0001F600 ok", "there"]  # code points
    assert list(c["coder"]) == ["BB", "Ann", "zz", ""]
    assert list(c["code_path"]) == ["Parent/Child", "Other", "Other", "Parent/Child"]
    cb = p.codebook.set_index("guid")
    assert cb.loc["c1", "color"] == "#FF0000" and cb.loc["c1", "description"] == "Top level"
    assert not cb.loc["c1", "is_codable"] and cb.loc["c2", "parent_name"] == "Parent"
    table = p.to_coding_table({"Parent/Child": "t1", "Other": "t1"})
    # two codes mapped to one theme on the same span by the same coder collapse into one row
    assert list(table["id"]) == ["Doc one:0-4", "Doc one:0-4", "Doc one:12-16", "Inline:6-11"]
    assert list(table["theme_id"]) == ["t1"] * 4


@pytest.mark.parametrize("origin, counted_break", [
    ("NVivo 14", "\r\n"),  # NVivo counts both characters of a Windows line break
    ("ATLAS.ti 24.1.0", "\n"),  # ATLAS.ti one (as QualCoder's importer reads its projects)
])
def test_offsets_counted_with_windows_line_endings_stay_on_their_words(
        tmp_path, origin, counted_break):
    # Sources stored with \r\n; themesift's transcript readers give "\n". A selection must
    # land on the same words of both.
    lines = [f"P{i % 3 + 1}: Sentence number {i} about the ward." for i in range(30)]
    stored = "\r\n".join(lines) + "\r\n"
    counted = counted_break.join(lines)
    start = counted.index("Sentence number 25")
    end = start + len("Sentence number 25 about the ward.")
    sources = (
        '<TextSource guid="s1" name="fg" plainTextPath="internal://s1.txt">'
        f'<PlainTextSelection guid="sel1" startPosition="{start}" endPosition="{end}">'
        '<Coding guid="k1"><CodeRef targetGUID="c2"/></Coding></PlainTextSelection></TextSource>')
    xml = project_xml(sources).replace('origin="test"', f'origin="{origin}"')
    p = read_qdpx(make_qdpx(tmp_path, xml, {"sources/s1.txt": stored.encode("utf-8")}))
    coding = p.codings.iloc[0]
    assert coding["text"] == "Sentence number 25 about the ward."
    transcript = tmp_path / "fg.txt"
    transcript.write_bytes(stored.encode("utf-8"))
    read = ts.read_transcript(transcript).text
    assert read == p.sources["text"][0]
    assert read[coding["start"]:coding["end"]] == coding["text"]


def test_sub_codes_take_the_theme_of_their_nearest_mapped_ancestor(tmp_path, caplog):
    codes = ('<Code guid="t" name="Hope"><Code guid="c" name="Own flat">'
             '<Code guid="g" name="Garden"/></Code><Code guid="x" name="Goals"/></Code>'
             '<Code guid="o" name="Other"/>')
    selections = "".join(
        f'<PlainTextSelection guid="s{i}" startPosition="{i}" endPosition="{i + 1}">'
        f'<Coding guid="k{i}"><CodeRef targetGUID="{code}"/></Coding></PlainTextSelection>'
        for i, code in enumerate("tcgxoo"))
    sources = ('<TextSource guid="d" name="Doc"><PlainTextContent>abcdef</PlainTextContent>'
               f"{selections}</TextSource>")
    p = read_qdpx(make_qdpx(tmp_path, project_xml(sources, codes)))
    table = p.to_coding_table({"Hope": "hope", "Hope/Own flat": "housing"})
    # Garden sits under Own flat (mapped) under Hope: the nearest mapped ancestor wins
    assert list(table["theme_id"]) == ["hope", "housing", "housing", "hope", "Other", "Other"]
    assert "2 coding(s)" in caplog.text and "'Other' (2)" in caplog.text
    assert "keep the code name" in caplog.text
    caplog.clear()
    only = p.to_coding_table({"Hope": "hope"}, drop_unmapped=True)
    assert list(only["theme_id"]) == ["hope"] * 4 and "are left out" in caplog.text
    caplog.clear()
    p.to_coding_table({"Hope": "hope", "Other": "none"})
    assert caplog.text == ""  # every coding mapped: nothing to say


def test_cases_are_read_as_the_spans_they_hold(tmp_path):
    cases = ('<Cases><Case guid="k1" name="Ann"><Description>Participant, 34</Description>'
             '<SelectionRef targetGUID="sel1"/><SelectionRef targetGUID="sel2"/></Case>'
             '<Case guid="k2" name="Whole interview"><SourceRef targetGUID="s2"/>'
             '<SourceRef targetGUID="pdf-source"/></Case></Cases>')  # not a text source: left out
    sources = ('<TextSource guid="s1" name="Doc"><PlainTextContent>Hello there, Ann here'
               '</PlainTextContent><PlainTextSelection guid="sel1" startPosition="0" endPosition="5"/>'
               '<PlainTextSelection guid="sel2" startPosition="13" endPosition="21">'
               '<Coding guid="c"><CodeRef targetGUID="c3"/></Coding></PlainTextSelection></TextSource>'
               '<TextSource guid="s2" name="Other"><PlainTextContent>All of it</PlainTextContent>'
               '</TextSource>')
    p = read_qdpx(make_qdpx(tmp_path, project_xml(sources, cases=cases)))
    assert p.cases[["case", "source", "start", "end", "text"]].values.tolist() == [
        ["Ann", "Doc", 0, 5, "Hello"], ["Ann", "Doc", 13, 21, "Ann here"],
        ["Whole interview", "Other", 0, 9, "All of it"]]
    assert p.cases["description"].iloc[0] == "Participant, 34"
    assert len(p.codings) == 1  # a selection without coding codes nothing
    assert "2 cases" in repr(p)


def test_coding_dates_and_notes(tmp_path):
    sources = (
        '<TextSource guid="s1" name="A"><PlainTextContent>hello world</PlainTextContent>'
        '<PlainTextSelection guid="sel1" startPosition="0" endPosition="5" '
        'creationDateTime="2026-01-02T03:04:05Z">'
        '<Coding guid="k1"><CodeRef targetGUID="c2"/><NoteRef targetGUID="n1"/>'
        '<NoteRef targetGUID="n2"/><NoteRef targetGUID="gone"/></Coding>'
        '<Coding guid="k2" creationDateTime="2026-02-03T04:05:06Z"><CodeRef targetGUID="c3"/>'
        "</Coding></PlainTextSelection></TextSource>"
    )
    notes = (
        '<Notes><Note guid="n1" name="inline"><PlainTextContent>Why: trust</PlainTextContent>'
        '</Note><Note guid="n2" name="file" plainTextPath="internal://n2.txt"/></Notes>'
    )
    qde = project_xml(sources).replace("</Sources>", "</Sources>" + notes)
    p = read_qdpx(make_qdpx(tmp_path, qde, {"sources/n2.txt": "Zoë’s memo".encode()}))
    assert list(p.codings["created"]) == ["2026-01-02T03:04:05Z", "2026-02-03T04:05:06Z"]
    assert list(p.codings["note"]) == ["Why: trust\n\nZoë’s memo", ""]


def test_sources_folder_and_paths_spelled_differently(tmp_path):
    sources = (
        '<TextSource guid="a" name="A" plainTextPath="internal://a.txt"/>'
        '<TextSource guid="b" name="B" plainTextPath="sources/b.txt"/>'
        '<TextSource guid="c" name="C" plainTextPath="c.txt"/>'
    )
    files = {"Sources/a.txt": b"aa", "sources/b.txt": b"bb", "sources/c.txt": b"cc"}
    p = read_qdpx(make_qdpx(tmp_path, project_xml(sources), files))
    assert list(p.sources["text"]) == ["aa", "bb", "cc"]


# ------------------------------------------------------------------- bad input


def test_missing_file(tmp_path):
    with pytest.raises(InputError, match="not found") as exc:
        read_qdpx(tmp_path / "nope.qdpx")
    assert "nope.qdpx" in str(exc.value)


def test_not_a_zip(tmp_path):
    bad = tmp_path / "project.qdpx"
    bad.write_text("<Project/>")
    with pytest.raises(InputError, match=r"is not a REFI-QDA project \(\.qdpx is a zip file"):
        read_qdpx(bad)


def test_zip_without_project_qde(tmp_path):
    path = make_qdpx(tmp_path, None, {"sources/a.txt": b"x"})
    with pytest.raises(InputError, match="no project.qde") as exc:
        read_qdpx(path)
    assert str(path) in str(exc.value)


def test_broken_xml_reports_line(tmp_path):
    qde = project_xml('<TextSource guid="a" name="A">\n<PlainTextContent>x</Oops>')
    with pytest.raises(InputError, match="not well-formed XML") as exc:
        read_qdpx(make_qdpx(tmp_path, qde))
    assert exc.value.line is not None and exc.value.line >= 5
    assert "project.qde" in str(exc.value)


def test_missing_source_file(tmp_path):
    qde = project_xml('<TextSource guid="a" name="Interview 3" plainTextPath="internal://a.txt"/>')
    with pytest.raises(InputError) as exc:
        read_qdpx(make_qdpx(tmp_path, qde))
    msg = str(exc.value)
    assert "Interview 3" in msg and "internal://a.txt" in msg and "TextSource" in msg
    assert exc.value.line == 6


def test_unknown_code_guid(tmp_path):
    qde = project_xml(
        '<TextSource guid="a" name="A"><PlainTextContent>hello</PlainTextContent>'
        '<PlainTextSelection guid="s" startPosition="0" endPosition="2">'
        '<Coding guid="k"><CodeRef targetGUID="missing-code"/></Coding>'
        "</PlainTextSelection></TextSource>"
    )
    with pytest.raises(InputError, match="missing-code.*not in the codebook"):
        read_qdpx(make_qdpx(tmp_path, qde))


def test_selection_outside_the_text(tmp_path):
    qde = project_xml(
        '<TextSource guid="a" name="A"><PlainTextContent>hello</PlainTextContent>'
        '<PlainTextSelection guid="s" startPosition="2" endPosition="50">'
        '<Coding guid="k"><CodeRef targetGUID="c3"/></Coding>'
        "</PlainTextSelection></TextSource>"
    )
    with pytest.raises(InputError, match=r"2\.\.50, outside the source text"):
        read_qdpx(make_qdpx(tmp_path, qde))


def test_not_a_project_root(tmp_path):
    qde = f'<CodeBook xmlns="{NS}"><Codes/></CodeBook>'
    with pytest.raises(InputError, match="not <Project>"):
        read_qdpx(make_qdpx(tmp_path, qde))
