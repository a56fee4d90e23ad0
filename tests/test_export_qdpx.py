"""REFI-QDA export: a study as a .qdpx project and its framework as a .qdc codebook."""

import dataclasses
import hashlib
import re
import shutil
import uuid
import zipfile
from pathlib import Path

import pandas as pd
import pytest

import fakes
from themesift import pipeline as pipeline_module
from themesift.errors import InputError
from themesift.export.qdpx import export_qdc, export_qdpx
from themesift.frameworks import load_framework
from themesift.ingest.qdpx import read_qdpx
from themesift.model import Corpus, Framework, Theme, Transcript
from themesift.study import Study

REFI = Path(__file__).resolve().parents[2] / "shared" / "refi-qda"
NS = {"q": "urn:QDA-XML:project:1.0"}

# Two transcripts; unit i is the i-th line's words after the speaker label. Non-ASCII text
# (and an emoji, one code point but two UTF-16 units) comes before later units, so a wrong
# offset convention would shift every span after it.
LINES = {
    "t1": ["P1: Zoë’s café — naïve 😀 we trust each other now.",
           "P2: Hope is what keeps her going.",
           "P1: The council sets the hours, not us."],
    "t2": ["P3: Ça dépend — sometimes he just won't open the door.",
           "P4: I don't know, really.",
           "P3: He wants his kids back, that's the goal 🙂."],
}


def make_result(corpus, framework):
    """A run on the two transcripts: units u0..u5 at their real offsets, codes C01 and C02."""
    codes = {"C01": [0, 1, 2], "C02": [3, 4, 5]}
    result = fakes.fake_result(corpus, framework, scores=[(0.7, 0.2)] * 6, codes=codes,
                               unit_theme=fakes.agreeing(codes))
    rows = []
    for doc_id, lines in LINES.items():
        start = 0
        for turn, line in enumerate(lines):
            label = line.index(": ") + 2
            i = len(rows)
            rows.append({"unit_id": f"u{i}", "doc_id": doc_id, "speaker": line[:label - 2],
                         "role": "participant", "turn": turn, "start": start + label,
                         "end": start + len(line), "text": line[label:]})
            start += len(line) + 1
    return dataclasses.replace(result, units=pd.DataFrame(rows))


def make_corpus():
    docs = []
    for doc_id, lines in LINES.items():
        text = "\n".join(lines) + "\n"
        docs.append(Transcript(doc_id, text, (), {
            "sha256": hashlib.sha256(text.encode()).hexdigest(), "path": f"{doc_id}.txt",
            "format": "txt"}))
    return Corpus(docs)


@pytest.fixture
def fake_stages(monkeypatch):
    monkeypatch.setattr(pipeline_module, "run_pipeline",
                        lambda corpus, framework, **kwargs: make_result(corpus, framework))


@pytest.fixture
def study(tmp_path, fake_stages):
    """A coded study: C01 accepted (with a note), u1 moved to hope by an analyst who gave no
    name, u3 judged to fit no theme, u4 rejected; C02 and the other units still pending."""
    with Study.open(tmp_path / "study") as s:
        run = s.run(make_corpus())
        s.decide(f"code:{run.id}:C01", "accept", analyst="KJ", note="Clear talk of trust")
        with s.transaction() as conn:  # as decide recorded it before it named the OS user
            s.insert_decision(conn, "2026-01-01T00:00:00+00:00", "", "unit:u1", run.id,
                              "reassign", "hope", "")
        s.decide("unit:u3", "reassign", theme_id="none", analyst="AB")
        s.decide("unit:u4", "reject", analyst="AB")
        yield s


def span(unit_id):
    """(source, start, end, text) of a unit, computed from LINES."""
    i = int(unit_id[1:])
    doc_id, lines = list(LINES.items())[i // 3]
    start = sum(len(line) + 1 for line in lines[:i % 3])
    line = lines[i % 3]
    label = line.index(": ") + 2
    return doc_id, start + label, start + len(line), line[label:]


def schema(name):
    etree = pytest.importorskip("lxml.etree")
    if not (REFI / name).exists():
        pytest.skip(f"REFI-QDA schema {name} not found in {REFI} (shared/refi-qda beside the repo)")
    return etree.XMLSchema(etree.parse(str(REFI / name)))


def project_xml(path):
    etree = pytest.importorskip("lxml.etree")
    with zipfile.ZipFile(path) as zf:
        return etree.fromstring(zf.read("project.qde"))


def assert_valid(xsd, document):
    ok = xsd.validate(document)
    assert ok, str(xsd.error_log)


# -- the file ------------------------------------------------------------------------------------

def test_project_is_valid_against_project_xsd(study, tmp_path):
    path = export_qdpx(study, tmp_path / "study.qdpx")
    assert path == tmp_path / "study.qdpx"
    assert_valid(schema("Project.xsd"), project_xml(path))


def test_zip_holds_project_qde_and_lowercase_sources_named_by_guid(study, tmp_path):
    path = export_qdpx(study, tmp_path / "study.qdpx")
    with zipfile.ZipFile(path) as zf:
        names = zf.namelist()
        assert names[0] == "project.qde"
        assert names == sorted(names) and len(names) == 3
        root = project_xml(path)
        for source in root.iterfind(".//q:TextSource", NS):
            guid = source.get("guid")
            assert str(uuid.UUID(guid)) == guid
            assert source.get("plainTextPath") == f"internal://{guid}.txt"
            data = zf.read(f"sources/{guid}.txt")
            text = "\n".join(LINES[source.get("name")]) + "\n"
            assert data == text.encode("utf-8")  # UTF-8, no byte-order mark
        assert {i.date_time for i in zf.infolist()} == {(1980, 1, 1, 0, 0, 0)}


def test_every_speaker_of_a_transcript_is_a_case_holding_their_coded_selections(study, tmp_path):
    root = project_xml(export_qdpx(study, tmp_path / "study.qdpx"))
    selections = {}  # guid -> text it selects
    for source in root.iterfind(".//q:TextSource", NS):
        text = "\n".join(LINES[source.get("name")]) + "\n"
        for sel in source.iterfind("q:PlainTextSelection", NS):
            selections[sel.get("guid")] = text[int(sel.get("startPosition")):int(sel.get("endPosition"))]
            # no selection exists only for a case: readers show those as empty annotations
            assert sel.find("q:Coding", NS) is not None
    cases = {c.get("name"): c for c in root.iterfind("q:Cases/q:Case", NS)}
    assert list(cases) == ["P1 (t1)", "P2 (t1)", "P3 (t2)", "P4 (t2)"]  # P1 of t1 is not P3 of t2
    said = {name: [selections[r.get("targetGUID")] for r in case.iterfind("q:SelectionRef", NS)]
            for name, case in cases.items()}
    # u0 and u2 are coded by KJ through their code: settled, so no longer suggested too
    assert said["P1 (t1)"] == [span("u0")[3], span("u2")[3]]
    assert said["P3 (t2)"] == [span("u3")[3], span("u5")[3]]
    assert said["P4 (t2)"] == []  # u4 was rejected: nothing of P4's is coded
    assert cases["P1 (t1)"].findtext("q:Description", namespaces=NS) == (
        "Speaker P1 (participant) in transcript t1: 2 turns, 2 coded selections.")
    assert cases["P4 (t2)"].findtext("q:Description", namespaces=NS) == (
        "Speaker P4 (participant) in transcript t2: 1 turn, 0 coded selections.")
    # read_qdpx gives them back as spans.
    back = read_qdpx(tmp_path / "study.qdpx").cases
    assert back.groupby("case", sort=False)["text"].apply(list).to_dict() == {
        name: texts for name, texts in said.items() if texts}
    assert set(back["source"]) == {"t1", "t2"}


def as_qualcoder_reads(root):
    """The codings and annotations QualCoder's REFI-QDA importer (refi.py,
    load_codings_for_text) makes of a project: a coding's coder is its selection's
    creatingUser, its memo the selection's Description, and a selection without a Coding
    becomes an annotation."""
    users = {u.get("guid"): u.get("name") for u in root.iterfind(".//q:User", NS)}
    codings, annotations = [], []
    for sel in root.iterfind(".//q:TextSource/q:PlainTextSelection", NS):
        coder, memo = users.get(sel.get("creatingUser"), "default"), sel.findtext(
            "q:Description", default="", namespaces=NS)
        found = sel.findall("q:Coding", NS)
        codings += [(sel.get("startPosition"), c.find("q:CodeRef", NS).get("targetGUID"),
                     coder, memo, users[c.get("creatingUser")]) for c in found]
        if not found:
            annotations.append(sel.get("guid"))
    return codings, annotations


def test_a_reader_that_takes_the_coder_and_memo_from_the_selection_reads_them_right(
        study, tmp_path):
    root = project_xml(export_qdpx(study, tmp_path / "study.qdpx"))
    codings, annotations = as_qualcoder_reads(root)
    assert annotations == []
    # every coding arrives with its own coder, pending suggestions as themesift's
    assert all(coder == own for _, _, coder, _, own in codings)
    assert sorted(coder for _, _, coder, _, _ in codings) == sorted(
        ["KJ", "KJ", "unnamed analyst", "AB", "themesift"])
    # the decision's note arrives as the memo of the codings it belongs to, and only there
    assert {(coder, memo) for _, _, coder, memo, _ in codings} == {
        ("KJ", "Clear talk of trust"), ("unnamed analyst", ""), ("AB", ""), ("themesift", "")}


def test_round_trip_keeps_sources_codebook_users_and_every_coding(study, tmp_path):
    project = read_qdpx(export_qdpx(study, tmp_path / "study.qdpx"))
    assert dict(zip(project.sources["name"], project.sources["text"])) == {
        doc_id: "\n".join(lines) + "\n" for doc_id, lines in LINES.items()}
    assert set(project.users["name"]) == {"themesift", "KJ", "AB", "unnamed analyst"}
    framework = load_framework("recovery")
    paths = set(project.codebook["path"])
    for theme in framework.themes:
        assert theme.name in paths
        assert {f"{theme.name}/{sub.name}" for sub in theme.subthemes} <= paths
    described = project.codebook.set_index("name")["description"]
    assert described["Hope"].startswith(framework.theme("hope").description.strip())
    assert "Relationships/label C01" in paths and "Fits no theme" in paths
    assert not any("C02" in p for p in paths)  # undecided candidate codes are not codes yet

    codings = {(r.source, r.start, r.end, r.text, r.code_path, r.coder)
               for r in project.codings.itertuples()}
    decided = {
        (*span("u0"), "Relationships/label C01", "KJ"),
        (*span("u2"), "Relationships/label C01", "KJ"),
        (*span("u1"), "Hope", "unnamed analyst"),  # the unit decision wins over its code
        (*span("u3"), "Fits no theme", "AB"),
    }
    pending = {  # only what is left to decide: u0 and u2 are coded through their code
        (*span("u5"), "Suggested by themesift/Hope (suggested)", "themesift"),
    }
    assert codings == decided | pending
    assert len(project.codings) == len(codings)
    assert len(study.coding()) == len(decided)
    assert project.codings["selection_guid"].nunique() == 5
    assert project.codings.groupby("selection_guid")["coder"].nunique().max() == 1


def test_offsets_count_code_points_not_utf16_units(study, tmp_path):
    root = project_xml(export_qdpx(study, tmp_path / "study.qdpx"))
    _, start, end, text = span("u1")  # after "😀" on the line before
    selections = {(int(s.get("startPosition")), int(s.get("endPosition")))
                  for s in root.iterfind(".//q:PlainTextSelection", NS)}
    assert (start, end) in selections
    utf16_start = len("\n".join(LINES["t1"][:1]).encode("utf-16-le")) // 2 + 1 + 4
    assert utf16_start != start and (utf16_start, utf16_start + len(text)) not in selections


def test_codings_say_who_decided_when_and_carry_the_note(study, tmp_path):
    root = project_xml(export_qdpx(study, tmp_path / "study.qdpx"))
    users = {u.get("guid"): u.get("name") for u in root.iterfind(".//q:User", NS)}
    decisions = study.decisions.set_index("analyst")
    kj_time = decisions.loc["KJ", "time"][:19] + "Z"
    notes = root.findall("q:Notes/q:Note", NS)
    assert len(notes) == 1
    assert notes[0].findtext("q:PlainTextContent", namespaces=NS) == "Clear talk of trust"
    by_kj = [c for c in root.iterfind(".//q:Coding", NS) if users[c.get("creatingUser")] == "KJ"]
    assert len(by_kj) == 2
    for coding in by_kj:
        assert coding.get("creationDateTime") == kj_time
        assert coding.find("q:NoteRef", NS).get("targetGUID") == notes[0].get("guid")
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", root.get("creationDateTime"))
    assert users[root.get("modifyingUserGUID")] == "AB"
    codings = read_qdpx(tmp_path / "study.qdpx").codings.set_index("coder")
    assert set(codings.loc[["KJ"], "note"]) == {"Clear talk of trust"}
    assert set(codings.loc[["KJ"], "created"]) == {kj_time}
    assert set(codings.loc[["AB"], "note"]) == {""}


def test_without_suggestions_only_the_analysts_coding_is_written(study, tmp_path):
    project = read_qdpx(export_qdpx(study, tmp_path / "study.qdpx", suggestions=False))
    assert set(project.codings["coder"]) == {"KJ", "AB", "unnamed analyst"}
    assert not project.codebook["name"].str.contains("suggested", case=False).any()


def test_same_study_gives_a_byte_identical_file_even_when_copied(study, tmp_path):
    first = export_qdpx(study, tmp_path / "a.qdpx").read_bytes()
    (tmp_path / "other").mkdir()
    assert export_qdpx(study.path.parent, tmp_path / "other" / "a.qdpx").read_bytes() == first
    study.close()
    shutil.copytree(study.path.parent, tmp_path / "copy")
    assert export_qdpx(tmp_path / "copy", tmp_path / "b.qdpx").read_bytes() == first


def test_themes_and_codes_of_an_earlier_run_keep_their_codings(study, tmp_path):
    """A later run with another framework still shows what was decided in the first one,
    under the theme's name in the framework of that run, and a code accepted in that run by
    its own label and keywords."""
    first = study.latest_run_id()
    other = Framework("other", "1", "Another framework.",
                      (Theme("hope", "Hope again", "Hope, as this framework says it."),))
    study.run(make_corpus(), other)
    project = read_qdpx(export_qdpx(study, tmp_path / "study.qdpx", suggestions=False))
    coded = set(zip(project.codings["code_path"], project.codings["coder"]))
    assert coded == {("Relationships/label C01", "KJ"), ("Hope again", "unnamed analyst"),
                     ("Fits no theme", "AB")}
    code = project.codebook.set_index("path").loc["Relationships/label C01"]
    assert f"Candidate code C01 of run {first}; keywords: " in code["description"]


def labelled(label):
    """A run_pipeline giving every candidate code of make_result the label ``label``."""
    def run(corpus, framework, **kwargs):
        result = make_result(corpus, framework)
        table = result.codes.table.assign(label=label)
        return dataclasses.replace(result, codes=dataclasses.replace(result.codes, table=table))

    return run


def test_codes_that_share_a_label_get_distinct_names_and_keep_their_codings(
        study, tmp_path, monkeypatch):
    """QualCoder needs every code name distinct: of two, the second's codings got no code."""
    first = study.latest_run_id()
    monkeypatch.setattr(pipeline_module, "run_pipeline", labelled("talk about waiting"))
    second = study.run(make_corpus()).id
    study.decide(f"code:{second}:C01", "accept", analyst="MS")
    study.decide(f"code:{second}:C02", "reassign", theme_id="structural_tension", analyst="MS")
    root = project_xml(export_qdpx(study, tmp_path / "study.qdpx", suggestions=False))
    names = [c.get("name") for c in root.iterfind(".//q:Code", NS)]
    assert len(names) == len({n.casefold() for n in names})
    project = read_qdpx(tmp_path / "study.qdpx")
    paths = set(project.codings["code_path"])
    assert {"Relationships/talk about waiting",
            "Structural tension/talk about waiting (2)"} <= paths, paths
    assert first != second


def test_a_code_named_as_a_theme_never_renames_the_theme(study, tmp_path, monkeypatch):
    monkeypatch.setattr(pipeline_module, "run_pipeline", labelled("Structural tension"))
    second = study.run(make_corpus()).id
    study.decide(f"code:{second}:C01", "accept", analyst="MS")  # into Relationships
    project = read_qdpx(export_qdpx(study, tmp_path / "study.qdpx", suggestions=False))
    paths = set(project.codebook["path"])
    assert {"Structural tension", "Relationships/Structural tension (2)"} <= paths, paths


def test_a_code_whose_members_were_all_coded_otherwise_since_is_left_out(study, tmp_path):
    first = study.latest_run_id()
    for unit in ("unit:u0", "unit:u2"):  # u1 was coded hope by a unit decision already
        study.decide(unit, "reassign", theme_id="hope", analyst="KJ")
    project = read_qdpx(export_qdpx(study, tmp_path / "study.qdpx", suggestions=False))
    assert not project.codebook["path"].str.contains("label C01").any()
    assert first in study.runs["run_id"].tolist()


def test_the_project_is_modified_after_it_is_created_and_names_an_analyst_first(
        study, tmp_path):
    """Decisions may predate the run exported (a re-run): created at the earliest date."""
    study.run(make_corpus())
    root = project_xml(export_qdpx(study, tmp_path / "study.qdpx"))
    assert root.get("creationDateTime") <= root.get("modifiedDateTime")
    assert root.get("creationDateTime") == "2026-01-01T00:00:00Z"  # the earliest decision
    users = {u.get("guid"): u.get("name") for u in root.iterfind(".//q:User", NS)}
    assert users[root.get("creatingUserGUID")] == "unnamed analyst"  # who made it
    users = root.findall("q:Users/q:User", NS)
    assert users[0].get("name") != "themesift" and users[-1].get("name") == "themesift"


# -- the codebook ----------------------------------------------------------------------------------

def test_codebook_is_valid_and_shares_the_project_guids(study, tmp_path):
    etree = pytest.importorskip("lxml.etree")
    qdc = export_qdc(study, tmp_path / "codes.qdc")
    document = etree.parse(str(qdc))
    assert_valid(schema("Codebook.xsd"), document)
    codes = {c.get("name"): c.get("guid")
             for c in document.iterfind(".//{urn:QDA-XML:codebook:1.0}Code")}
    framework = load_framework("recovery")
    assert set(codes) == {t.name for t in framework.all_themes()}
    project = read_qdpx(export_qdpx(study, tmp_path / "study.qdpx"))
    in_project = dict(zip(project.codebook["name"], project.codebook["guid"]))
    assert all(in_project[name] == guid for name, guid in codes.items())
    again = export_qdc(framework, tmp_path / "again.qdc")
    assert again.read_bytes() == qdc.read_bytes()


# -- refusals --------------------------------------------------------------------------------------

def assert_refused(call, match, folder):
    before = sorted(folder.iterdir())
    with pytest.raises(InputError, match=match):
        call()
    assert sorted(folder.iterdir()) == before  # no partial or temporary file left behind


def test_empty_study_is_refused(tmp_path):
    empty = Study.open(tmp_path / "empty")
    out = tmp_path / "out"
    out.mkdir()
    assert_refused(lambda: export_qdpx(empty, out / "e.qdpx"), "has no complete run yet", out)
    assert_refused(lambda: export_qdpx(tmp_path / "nothing", out / "e.qdpx"),
                   "There is no study here", out)


def test_existing_file_is_kept_unless_forced(study, tmp_path):
    target = tmp_path / "study.qdpx"
    target.write_bytes(b"keep me")
    assert_refused(lambda: export_qdpx(study, target), "already exists.*--force", tmp_path)
    assert target.read_bytes() == b"keep me"
    export_qdpx(study, target, force=True)
    assert zipfile.is_zipfile(target)


def test_missing_folder_and_wrong_suffix_are_refused(study, tmp_path):
    assert_refused(lambda: export_qdpx(study, tmp_path / "no" / "such" / "s.qdpx"),
                   "folder for the output file does not exist", tmp_path)
    assert_refused(lambda: export_qdpx(study, tmp_path / "study.zip"), r"end with \.qdpx",
                   tmp_path)
    assert_refused(lambda: export_qdc(study, tmp_path / "codes.xml"), r"end with \.qdc", tmp_path)


def test_units_not_at_their_offsets_are_refused(tmp_path, monkeypatch):
    """A store whose units do not slice their transcript cannot be placed: say so, write nothing."""
    monkeypatch.setattr(pipeline_module, "run_pipeline", lambda corpus, framework, **kwargs:
                        fakes.fake_result(corpus, framework, scores=[(0.7, 0.2)] * 2,
                                          codes={"C01": [0, 1]}))
    with Study.open(tmp_path / "s") as s:
        s.run(fakes.make_corpus("P1: hello there"))
        s.decide("unit:u0", "accept", analyst="KJ")
        assert_refused(lambda: export_qdpx(s, tmp_path / "s.qdpx"),
                       r"Meaning unit u\d is not at characters \d\.\.\d of transcript 't1'",
                       tmp_path)


_EDITED_WORDS = ("P1: We cooked together every Thursday, and that is how trust grew between us.\n\n"
    + "".join(f"P{2 + i % 3}: {line}\n\n" for i, line in enumerate([
        "The council only funds twelve weeks, then he has to be discharged again.",
        "I started hoping again when my sister came back into my life last year.",
        "The voices get louder when I stop the tablets, and then nothing works.",
        "Staff knock before they come in now, which makes a real difference to me.",
        "Housing keeps moving people on before they are ready for it at all.",
        "Going to the allotment every week gave me something to look forward to.",
        "The paperwork takes longer than the visit itself, most days of the week.",
        "When I'm paranoid I can't trust anyone, not even the people who help.",
        "My keyworker remembered my dog's name, and that meant a lot to me.",
        "Targets decide how long we can stay, not what the person actually needs."])))


def test_a_coded_unit_whose_words_were_edited_is_left_out_of_every_export(
        tmp_path, embedder, caplog):
    # Accept a unit, fix a typo in it, re-run: the study must stay exportable, and the
    # exports must agree on what they leave out.
    from themesift.export.codesheet import export_codesheet
    from themesift.export.report import export_report
    from themesift.ingest import read_corpus

    folder = tmp_path / "tr"
    folder.mkdir()
    words = _EDITED_WORDS
    (folder / "fg.txt").write_text(words, encoding="utf-8")
    with Study.open(tmp_path / "s") as s:
        run = s.run(read_corpus(folder), embedder=embedder)
        edited = run.units.iloc[0]
        s.decide(f"unit:{edited.unit_id}", "accept", analyst="KJ")
        s.decide(f"unit:{run.units.iloc[1].unit_id}", "accept", analyst="KJ")
        (folder / "fg.txt").write_text(words.replace("every Thursday", "each Thursday"),
                                       encoding="utf-8")
        s.run(read_corpus(folder), embedder=embedder)
        path = export_qdpx(s, tmp_path / "s.qdpx")
        assert "1 unit coded in the study is no longer in the transcripts" in caplog.text
        project = read_qdpx(path)
        analyst = project.codings[project.codings["coder"] == "KJ"]
        assert len(analyst) == 1  # the unchanged unit only
        sheet = pd.read_csv(export_codesheet(s, tmp_path / "codes.csv"))
        assert edited.text not in set(sheet["meaning unit"])
        export_report(s, tmp_path / "r.html", embedder=embedder)


def test_an_earlier_run_exports_without_its_pending_units_whose_words_were_edited(
        tmp_path, embedder, caplog):
    from themesift.ingest import read_corpus

    folder = tmp_path / "tr"
    folder.mkdir()
    (folder / "fg.txt").write_text(_EDITED_WORDS, encoding="utf-8")
    with Study.open(tmp_path / "s") as s:
        first = s.run(read_corpus(folder), embedder=embedder)
        s.decide(f"unit:{first.units.iloc[1].unit_id}", "accept", analyst="KJ")
        (folder / "fg.txt").write_text(_EDITED_WORDS.replace("every Thursday", "each Thursday"),
                                       encoding="utf-8")
        s.run(read_corpus(folder), embedder=embedder)
        project = read_qdpx(export_qdpx(s, tmp_path / "old.qdpx", run_id=first.id))
    assert "1 unit with a pending suggestion in this run is no longer in the transcripts" \
        in caplog.text
    assert len(project.codings[project.codings["coder"] == "KJ"]) == 1
    machine = project.codings[project.codings["coder"] != "KJ"]
    assert len(machine) and first.units.iloc[0].text not in set(machine["text"])


def test_apply_says_which_decided_units_were_edited_since_the_sheets_run(tmp_path, embedder):
    from themesift.ingest import read_corpus
    from themesift.review.sheet import apply_review

    folder = tmp_path / "tr"
    folder.mkdir()
    (folder / "fg.txt").write_text(_EDITED_WORDS, encoding="utf-8")
    with Study.open(tmp_path / "s") as s:
        first = s.run(read_corpus(folder), embedder=embedder)
        edited, kept = first.units["unit_id"].iloc[0], first.units["unit_id"].iloc[1]
        (folder / "fg.txt").write_text(_EDITED_WORDS.replace("every Thursday", "each Thursday"),
                                       encoding="utf-8")
        s.run(read_corpus(folder), embedder=embedder)
        sheet = tmp_path / "old.csv"
        pd.DataFrame({"suggestion_id": [f"unit:{edited}", f"unit:{kept}"],
                      "decision": ["accept", "accept"], "analyst": "KJ",
                      "run_id": first.id}).to_csv(sheet, index=False)
        applied = apply_review(s, sheet)
    assert len(applied) == 2 and applied.attrs["gone_units"] == [edited]
