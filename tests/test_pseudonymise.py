"""Pseudonymisation: names found by spaCy and in speaker labels, replaced consistently, with
every offset still pointing at the same words."""

import dataclasses
import re
import zipfile

import pandas as pd
import pytest

import themesift as ts
import fakes
from test_codesheet import result_with_units, units_of
from themesift import pipeline as pipeline_module
from themesift.errors import InputError, MissingDependencyError
from themesift.export._common import study_view
from themesift.export.codesheet import export_codesheet
from themesift.export.qdpx import export_qdpx
from themesift.model import Corpus
from themesift.pseudonymise import (Pseudonyms, find_pseudonyms, pseudonymise, speaker_name,
                                    write_pseudonym_map)
from themesift.study import Study

# In data/sample: "OT Ben", "HCA Dana" and "Peer Worker Jo" speak, and are named in others' turns.
SAMPLE_NAMES = {"Ben", "Dana", "Jo"}


@pytest.fixture(scope="module")
def sample_study(tmp_path_factory, sample_corpus, sample_units):
    """The sample transcripts and their real units, with hand-made codes and some decisions."""
    units = sample_units.assign(unit_id=[f"u{i}" for i in range(len(sample_units))])
    half = len(units) // 2
    dana = units.index[units["speaker"] == "HCA Dana"][0]

    def stages(corpus, framework, **kwargs):
        result = result_with_units(corpus, framework, units,
                                   {"C01": list(range(half)), "C02": list(range(half, len(units)))})
        table = result.codes.table.copy()
        table.loc[0, ["label", "keywords", "exemplars"]] = ["dana, ward", "dana | ward",
                                                            "Dana: " + units.loc[dana, "text"]]
        return dataclasses.replace(result, codes=dataclasses.replace(result.codes, table=table))

    patch = pytest.MonkeyPatch()
    patch.setattr(pipeline_module, "run_pipeline", stages)
    study = Study.open(tmp_path_factory.mktemp("sample") / "s")
    try:
        run = study.run(sample_corpus)
    finally:
        patch.undo()
    study.decide(f"code:{run.id}:C02", "accept", analyst="KJ")
    study.decide(f"unit:u{dana}", "reassign", theme_id="hope", analyst="KJ", note="Dana again")
    yield study
    study.close()


@pytest.fixture(scope="module")
def view(sample_study):
    return study_view(sample_study, pseudonymise=True)


def test_names_of_the_sample_are_found_once_each(view):
    table = view.pseudonyms.table
    assert list(table.columns) == ["original", "placeholder", "kind", "count"]
    # the transcripts' headers give the session dates, which are identifiers too
    assert set(table.loc[table["kind"] == "DATE", "original"]) == {"14 March 2024", "2 May 2024"}
    table = table[table["kind"] != "DATE"]
    assert set(table["original"]) == SAMPLE_NAMES
    assert table["placeholder"].is_unique and set(table["kind"]) == {"PERSON"}
    assert all(re.fullmatch(r"\[PERSON \d\]", p) for p in table["placeholder"])


def test_no_name_is_left_in_transcripts_units_or_coding(view):
    pattern = re.compile(r"\b(?:Ben|Dana|Jo)\b")
    for table, column in [(view.transcripts, "text"), (view.units, "text"),
                          (view.coding, "text"), (view.units, "speaker"),
                          (view.codes, "label"), (view.codes, "exemplars"),
                          (view.suggestions, "text"), (view.pending, "text"),
                          (view.decisions, "note")]:
        assert not any(pattern.search(v) for v in table[column]), (column, table)
    assert not view.codes["keywords"].str.contains("dana").any()
    assert view.codes["label"].iloc[0] == view.pseudonyms.replace("Dana") + ", ward"


def test_offsets_index_the_pseudonymised_transcripts(view, sample_study):
    texts = dict(zip(view.transcripts["doc_id"], view.transcripts["text"]))
    for table in (view.units, view.coding):
        assert len(table) and all(texts[u.doc_id][u.start:u.end] == u.text
                                  for u in table.itertuples())
    # The same units, in the same order, moved after a name that became a placeholder.
    original = sample_study.units
    assert list(view.units["unit_id"]) == list(original["unit_id"])
    assert list(view.units["text"]) == list(original["text"])  # no name inside a sample unit
    moved = view.units["start"] - original["start"]
    assert (moved != 0).any()


MARIA = [("P1", "Maria moved to Leeds and Maria got her flat back."),
         ("P2", "That is the whole point, getting a life back.")]
MARIA_TEXT = "Moderator: Hope?\n\n" + "\n\n".join(f"{s}: {t}" for s, t in MARIA)


@pytest.fixture
def maria_study(tmp_path, monkeypatch):
    """A small study whose first unit names a person twice and a place once, coded."""
    monkeypatch.setattr(pipeline_module, "run_pipeline", lambda corpus, framework, **kw:
                        result_with_units(corpus, framework, units_of(MARIA_TEXT, MARIA),
                                          {"C01": [0, 1]}))
    with Study.open(tmp_path / "s") as study:
        run = study.run(fakes.make_corpus(MARIA_TEXT))
        study.decide(f"code:{run.id}:C01", "accept")
        yield study


def test_a_name_inside_a_unit_is_replaced_in_unit_and_transcript(maria_study):
    view = study_view(maria_study, pseudonymise=True)
    doc = view.transcripts["text"].iloc[0]
    assert list(view.units["text"]) == ["[PERSON 1] moved to [PLACE 1] and [PERSON 1] got her "
                                        "flat back.", MARIA[1][1]]
    for table in (view.units, view.coding):
        assert all(doc[u.start:u.end] == u.text for u in table.itertuples())


def test_an_analyst_who_shares_a_name_with_someone_in_the_transcripts_is_not_named(
        maria_study):
    maria_study.decide("unit:u1", "reassign", theme_id="hope", analyst="Maria")
    maria_study.decide("unit:u0", "reassign", theme_id="hope", analyst="Maria Jones")
    first = maria_study.decisions["analyst"].iloc[0]  # the fixture's, named nowhere
    view = study_view(maria_study, pseudonymise=True)
    analysts = {*view.decisions["analyst"], *view.coding["analyst"]}
    # not half-named ("[PERSON 1] Jones"), nor given the participant's placeholder
    assert analysts == {"[ANALYST 1]", "[ANALYST 2]", first}


def test_count_is_the_number_of_mentions_in_the_transcripts(view, sample_corpus):
    for name, count in zip(view.pseudonyms.table["original"], view.pseudonyms.table["count"]):
        assert count == sum(len(re.findall(rf"\b{name}\b", t.text)) for t in sample_corpus)


def test_speaker_names_are_replaced_and_roles_kept(view, sample_study):
    speakers = set(view.units["speaker"])
    placeholder = dict(zip(view.pseudonyms.table["original"], view.pseudonyms.table["placeholder"]))
    assert {f"OT {placeholder['Ben']}", f"HCA {placeholder['Dana']}",
            f"Peer Worker {placeholder['Jo']}"} <= speakers
    kept = set(sample_study.units["speaker"]) - {"OT Ben", "HCA Dana", "Peer Worker Jo"}
    assert kept <= speakers  # P1, Nurse C, Psychologist K, SOCIAL WORKER...
    text = dict(zip(view.transcripts["doc_id"], view.transcripts["text"]))["fg3_inpatient_ward"]
    assert f"\nHCA {placeholder['Dana']}: " in text and "Nurse C: " in text


def test_pseudonymised_project_cases_name_no_speaker(sample_study, tmp_path):
    path = export_qdpx(sample_study, tmp_path / "p.qdpx", pseudonymise=True)
    with zipfile.ZipFile(path) as zf:
        project = zf.read("project.qde").decode()
    cases = re.findall(r'<Case [^>]*name="([^"]+)"', project)
    assert any(name.startswith("HCA [PERSON") for name in cases)
    assert "Nurse C (fg3_inpatient_ward)" in cases  # a role label names nobody: kept
    assert not re.search(r"\b(Dana|Ben|Jo)\b", project)


@pytest.mark.parametrize("label, name", [
    ("P1", None), ("Moderator", None), ("Nurse 2", None), ("Psychologist K", None),
    ("SOCIAL WORKER", None), ("Support worker 1", None), ("laughs", None),
    ("OT Ben", "Ben"), ("Dr Khan", "Khan"), ("Maria", "Maria"), ("Peer Worker Jo", "Jo"),
    ("CPN 2", None), ("HCA Dana", "Dana"), ("P12", None),
    ("TOM", "TOM"), ("BEN SMITH", "BEN SMITH"),  # names in capitals are names
])
def test_speaker_name_keeps_role_labels(label, name):
    assert speaker_name(label) == name


def test_hyphenated_names_and_places_with_an_s_are_replaced():
    # (the small English model calls a lone "Anne-Marie" an organisation: not replaced)
    texts = ["Mary-Jane Smith came to see me.",
             "They moved her to St. Mary’s Hospital in the end."]
    out = pseudonymise(texts)
    assert not re.search(r"Mary|Jane|Smith", " ".join(out)), out


def test_names_the_tagger_reads_apart_are_replaced_whole():
    texts = ["I went to St Mary's Hospital last week, and St Mary's again on Friday.",
             "Will Henderson was there, and a nurse from St James.",
             "Bye Bernadette, see you. OK bye then."]
    names = find_pseudonyms(texts)
    out = " ".join(pseudonymise(texts, pseudonyms=names))
    assert not re.search(r"Mary|Henderson|Bernadette", out), out  # a possessive, a modal verb
    assert "OK bye then" in out, out  # a greeting is no part of a name
    assert not {"St", "Bye"} & set(names.table["original"])  # nor is "St" of "St Mary" one


def test_texts_get_one_placeholder_per_person_and_place():
    texts = ["I told Sarah Jones at the surgery, and Sarah said no.",
             "Then Sarah moved to a flat in Manchester.", "Sarah lives in Manchester now."]
    names = find_pseudonyms(texts)
    assert pseudonymise(texts, pseudonyms=names) == [
        "I told [PERSON 1] at the surgery, and [PERSON 1] said no.",
        "Then [PERSON 1] moved to a flat in [PLACE 1].", "[PERSON 1] lives in [PLACE 1] now."]
    assert pseudonymise(texts[2]) == "[PERSON 1] lives in [PLACE 1] now."
    assert names.table.set_index("original")["count"].to_dict() == {
        "Sarah Jones": 1, "Sarah": 3, "Jones": 0, "Manchester": 2}


def test_a_name_written_in_capitals_or_lower_case_is_one_person(tmp_path):
    (tmp_path / "fg.txt").write_text(
        "SARAH: I agree with Maria about the ward.\n\nMARIA: Thanks. And sarah said the "
        "same.\n\nSARAH: We all did.\n\nMARIA: Good.\n", encoding="utf-8")
    corpus = ts.read_corpus(tmp_path)
    names = find_pseudonyms(corpus)
    table = names.table.set_index("original")["placeholder"].to_dict()
    assert len(set(table.values())) == 2, table  # Sarah and Maria, whatever the case
    out = pseudonymise(corpus)
    text = out["fg"].text
    assert not re.search(r"(?i)\b(sarah|maria)\b", text), text
    assert text.count(table.get("Sarah", table.get("SARAH"))) == 3


def test_only_whole_words_are_replaced():
    names = Pseudonyms((("Ben", "[PERSON 1]", "PERSON", 0), ("Jo", "[PERSON 2]", "PERSON", 0)))
    assert (names.replace("Ben's bench; Benjamin, Jo and Joanna. Jo-Jo.")
            == "[PERSON 1]'s bench; Benjamin, [PERSON 2] and Joanna. [PERSON 2]-[PERSON 2].")
    # a name in any case is still the name: "BEN:" labels, "jo says" typed in a hurry
    assert names.replace("BEN: ben, jo") == "[PERSON 1]: [PERSON 1], [PERSON 2]"


def test_a_name_that_is_an_everyday_word_is_replaced_only_as_a_name():
    names = Pseudonyms((("Hope", "[PERSON 1]", "PERSON", 0), ("Will", "[PERSON 2]", "PERSON", 0)))
    assert (names.replace("HOPE: I hope Will will come. Hope said so.")
            == "[PERSON 1]: I hope [PERSON 2] will come. [PERSON 1] said so.")
    assert names.replace("i hope", ignore_case=True) == "i [PERSON 1]"  # lower-case labels
    # found first as a speaker label in capitals, still the name as written in the text
    upper = Pseudonyms((("HOPE", "[PERSON 1]", "PERSON", 0),))
    assert upper.replace("HOPE: I hope Hope comes.") == "[PERSON 1]: I hope [PERSON 1] comes."


def test_a_corpus_keeps_turn_offsets_and_speaker_roles(tmp_path):
    (tmp_path / "fg.txt").write_text(
        "Moderator: How was the move?\n\n"
        "Dr Khan: Maria did the hard work. We moved her from Leeds to Bradford in May.\n\n"
        "P1: I agree with Dr Khan, and Maria was brave.\n", encoding="utf-8")
    corpus = ts.read_corpus(tmp_path)
    safe = pseudonymise(corpus)
    assert isinstance(safe, Corpus) and safe.ids == corpus.ids
    transcript = safe[0]
    assert [t.speaker for t in transcript.turns] == ["Moderator", "Dr [PERSON 1]", "P1"]
    assert all(transcript.text[t.start:t.end] == t.text for t in transcript.turns)
    assert not re.search(r"Khan|Maria|Leeds|Bradford", transcript.text)
    assert "I agree with Dr [PERSON 1], and [PERSON 2] was brave." in transcript.text


def test_pseudonym_map_is_written_apart_and_refuses_to_overwrite(view, tmp_path):
    path = write_pseudonym_map(view.pseudonyms, tmp_path / "names.csv")
    written = pd.read_csv(path)
    assert written.to_dict("records") == view.pseudonyms.table.to_dict("records")
    with pytest.raises(InputError, match="already exists"):
        write_pseudonym_map(view.pseudonyms, path)
    write_pseudonym_map(Pseudonyms(), path, force=True)
    assert pd.read_csv(path).empty
    with pytest.raises(InputError, match="does not exist"):
        write_pseudonym_map(view.pseudonyms, tmp_path / "no" / "names.csv")


def test_pseudonymised_code_sheet_names_nobody(maria_study, tmp_path):
    path = export_codesheet(maria_study, tmp_path / "codes.csv", pseudonymise=True)
    text = path.read_text(encoding="utf-8-sig")
    assert "[PERSON 1] moved to [PLACE 1]" in text and not re.search("Maria|Leeds", text)
    # As the CLI does it: one pseudonymised view for the sheet and the private map.
    view = study_view(maria_study, pseudonymise=True)
    export_codesheet(view, tmp_path / "again.csv")
    assert (tmp_path / "again.csv").read_text(encoding="utf-8-sig") == text
    names = write_pseudonym_map(view.pseudonyms, tmp_path / "names.csv").read_text()
    assert names.splitlines() == ["original,placeholder,kind,count", "Maria,[PERSON 1],PERSON,2",
                                  "Leeds,[PLACE 1],PLACE,1"]


def test_names_and_identifiers_only_the_notes_give_are_replaced_in_them(maria_study):
    maria_study.decide("unit:u1", "reassign", theme_id="hope", analyst="KJ",
                       note="Discussed with Siobhan Kapoor at Pembury Hospital, 07911 123456.")
    view = study_view(maria_study, pseudonymise=True)
    note = view.decisions["note"].iloc[-1]
    assert not re.search(r"Siobhan|Kapoor|Pembury|07911", note), note
    assert "[PHONE 1]" in note
    counts = view.pseudonyms.table.set_index("original")["count"]
    assert counts.get("Maria") == 2  # the transcripts' mentions, whatever the notes say


def test_a_pseudonymised_report_names_no_study_folder(maria_study, tmp_path):
    from themesift import export_report

    page = export_report(maria_study, tmp_path / "r.html", pseudonymise=True).read_text(
        encoding="utf-8")
    assert str(maria_study.path.parent) not in page and not re.search("Maria|Leeds", page)
    plain = export_report(maria_study, tmp_path / "p.html").read_text(encoding="utf-8")
    assert str(maria_study.path) in plain


# Reported: "Tom: In Manchester" had the small model tag "Manchester" a date, and "Bristol the"
# is an organisation to it even without the label.
PLACES = [("Tom", "In Manchester the funding for those groups was cut, and nobody told the "
                  "residents."),
          ("P2", "When Sarah left for Bristol the residents asked about her for weeks."),
          ("P2", "Honestly, the peer group kept going without money.")]
PLACES_TEXT = "Moderator: What has changed?\n\n" + "\n\n".join(f"{s}: {t}" for s, t in PLACES)


def test_places_right_after_a_speaker_label_are_replaced(tmp_path, monkeypatch):
    monkeypatch.setattr(pipeline_module, "run_pipeline", lambda corpus, framework, **kw:
                        result_with_units(corpus, framework, units_of(PLACES_TEXT, PLACES),
                                          {"C01": [0, 1, 2]}))
    with Study.open(tmp_path / "s") as study:
        run = study.run(fakes.make_corpus(PLACES_TEXT))
        study.decide(f"code:{run.id}:C01", "accept")
        view = study_view(study, pseudonymise=True)
        sheet = export_codesheet(view, tmp_path / "codes.csv").read_text(encoding="utf-8-sig")
    key = pd.read_csv(write_pseudonym_map(view.pseudonyms, tmp_path / "names.csv"))
    assert key.set_index("original")["kind"].to_dict() == {
        "Tom": "PERSON", "Manchester": "PLACE", "Sarah": "PERSON", "Bristol": "PLACE"}
    assert not re.search("Manchester|Bristol", sheet + view.transcripts["text"].iloc[0])
    assert "[PLACE 1] the funding" in sheet and "left for [PLACE 2] the residents" in sheet


def test_timestamped_labels_are_not_read_as_part_of_the_words(tmp_path):
    (tmp_path / "fg.txt").write_text(
        "[00:00:05] Moderator: What has changed?\n"
        "[00:01:02] P3: In Manchester the funding for those groups was cut.\n"
        "[00:01:40] P2: When Sarah left for Bristol the residents asked about her.\n"
        "[00:02:10] P3: In Leeds it was the same story, honestly.\n", encoding="utf-8")
    corpus = ts.read_corpus(tmp_path)
    names = find_pseudonyms(corpus)
    assert [(n, k) for n, _, k, _ in names.names] == [
        ("Manchester", "PLACE"), ("Sarah", "PERSON"), ("Bristol", "PLACE"), ("Leeds", "PLACE")]
    text = pseudonymise(corpus, pseudonyms=names)[0].text
    assert "[00:01:02] P3: In [PLACE 1] the funding" in text
    assert "[00:01:40] P2: When [PERSON 1] left for [PLACE 2] the residents" in text


def test_bad_input_and_missing_model_are_explained():
    with pytest.raises(InputError, match="Cannot pseudonymise a int.*a Corpus"):
        pseudonymise(42)
    with pytest.raises(MissingDependencyError, match="no_such_pipeline"):
        find_pseudonyms(["Maria"], model="no_such_pipeline")


def test_the_frameworks_words_stay_in_lower_case_labels_whoever_shares_the_name():
    from themesift.pseudonymise import Pseudonyms

    names = Pseudonyms((("Hope", "[PERSON 1]", "PERSON", 1),))
    assert names.replace("hope, flat", ignore_case=True) == "[PERSON 1], flat"
    # the theme "hope" in a keyword list or label is no person (nor a clue to who is)
    assert names.replace("hope, flat", ignore_case=True, keep=frozenset({"hope"})) == "hope, flat"
    assert names.replace("Hope said so.", keep=frozenset({"hope"})) == "[PERSON 1] said so."


def test_identifiers_that_are_no_names_are_replaced_by_their_form():
    texts = ["Her phone is 07911 123456, the office 01227 456789, or +44 7700 900123.",
             "My NHS number is 485 777 3456, born 03/06/1987 (the 3rd of June 1987).",
             "Email rose.tremain52@gmail.com, postcode CT9 1AB.",
             "In 2019 we had 12 weeks; on 12/03 she rang 3 times."]  # no identifiers here
    assert pseudonymise(texts) == [
        "Her phone is [PHONE 1], the office [PHONE 2], or [PHONE 3].",
        "My NHS number is [ID 1], born [DATE 1] (the [DATE 2]).",
        "Email [EMAIL 1], postcode [POSTCODE 1].",
        texts[3]]
