"""The code sheet: rows, grouping, condensation, the .xlsx and .csv files, and refusals."""

import dataclasses
import re
import zipfile

import pandas as pd
import pytest

import fakes
from themesift import pipeline as pipeline_module
from themesift.errors import InputError
from themesift.export._common import study_view
from themesift.export.codesheet import (CONDENSED, COLUMNS, SUBTHEME, codesheet, condense,
                                        export_codesheet)
from themesift.model import UNIT_COLUMNS
from themesift.review.sheet import quote_formula
from themesift.study import Study

ANSWERS = [
    ("P1", "Um, I think, you know, trust takes a long time. It has to be earned, it is never "
           "given, and you keep turning up week after week."),
    ("P2", '=HYPERLINK("http://example.org","click") is what he typed into the care plan.'),
    ("P3", "+44 7700 900123 was the number on the crisis card, and nobody answered it."),
    ("P1", "-- so we bake or cook together, and the talking happens while we do something "
           "else."),
    ("P2", "@everyone on the ward hoped she would get her flat back and start college."),
]
TRANSCRIPT = "Moderator: What helps?\n\n" + "\n\n".join(f"{s}: {t}" for s, t in ANSWERS)


def units_of(text, answers):
    """The unit table of ``answers`` (speaker, words) found in ``text``: ids u0, u1, ..."""
    rows, position = [], 0
    for i, (speaker, words) in enumerate(answers):
        start = text.index(words, position)
        position = start + len(words)
        rows.append({"unit_id": f"u{i}", "doc_id": "t1", "speaker": speaker,
                     "role": "participant", "turn": i + 1, "start": start, "end": position,
                     "text": words})
    return pd.DataFrame(rows, columns=UNIT_COLUMNS)


def result_with_units(corpus, framework, units, codes):
    """A hand-made pipeline result whose units are ``units`` (ids u0..u{n-1})."""
    result = fakes.fake_result(corpus, framework, scores=[(0.7, 0.2)] * len(units), codes=codes,
                               unit_theme=fakes.agreeing(codes))
    return dataclasses.replace(result, units=units)


@pytest.fixture
def uncoded_study(tmp_path, monkeypatch):
    """A study of one transcript with a run and no decision yet."""
    monkeypatch.setattr(pipeline_module, "run_pipeline", lambda corpus, framework, **kw:
                        result_with_units(corpus, framework, units_of(TRANSCRIPT, ANSWERS),
                                          {"C01": [0, 1, 2], "C02": [3, 4]}))
    with Study.open(tmp_path / "s") as study:
        study.run(fakes.make_corpus(TRANSCRIPT))
        yield study


@pytest.fixture
def coded_study(uncoded_study):
    """That study with a code decision, unit decisions and a "none"."""
    study = uncoded_study
    study.decide(f"code:{study.latest_run_id()}:C01", "accept", analyst="KJ")  # u0-u2
    study.decide("unit:u2", "reassign", theme_id="none", analyst="KJ")
    study.decide("unit:u3", "reassign", theme_id="relationships", analyst="AB")
    study.decide("unit:u4", "reassign", theme_id="hope", analyst="AB")
    return study


# -- the table ---------------------------------------------------------------------------------

def test_one_row_per_coded_unit_grouped_in_framework_theme_order(coded_study):
    sheet = codesheet(study_view(coded_study))
    assert list(sheet.columns) == COLUMNS
    assert "machine-made" in CONDENSED and "machine" in SUBTHEME
    # u2 was coded "none": not listed. Relationships before hope (the framework's order);
    # within a theme, by subtheme in the framework's order, blank last.
    assert list(sheet["unit_id"]) == ["u0", "u3", "u1", "u4"]
    assert list(sheet["theme"]) == ["Relationships"] * 3 + ["Hope"]
    assert list(sheet["decided by"]) == ["code decision", "unit decision", "code decision",
                                         "unit decision"]
    assert list(sheet["analyst"]) == ["KJ", "AB", "KJ", "AB"]
    # nobody decided on C02 (u3, u4): the analyst placed it under no theme, so no code
    assert list(sheet["code"]) == ["label C01", "", "label C01", ""]


def test_a_code_shows_only_under_the_theme_the_analysts_decisions_gave_it(uncoded_study):
    study, run_id = uncoded_study, uncoded_study.latest_run_id()
    study.decide(f"code:{run_id}:C01", "reassign", theme_id="hope", analyst="KJ")  # u0-u2
    study.decide("unit:u1", "reassign", theme_id="relationships", analyst="KJ")
    study.decide(f"code:{run_id}:C02", "reject", analyst="KJ")  # u3 u4, suggested hope
    study.decide("unit:u3", "accept", analyst="KJ")  # hope, one by one
    study.decide("unit:u4", "reassign", theme_id="relationships", analyst="KJ")
    sheet = codesheet(study_view(study)).set_index("unit_id")
    assert sheet.loc[["u0", "u2"], ["theme", "code", "decided by"]].values.tolist() == [
        ["Hope", "label C01", "code decision"]] * 2
    # a member moved away from its code's theme, and the members of a rejected code: no code
    assert sheet.loc[["u1", "u3", "u4"], ["theme", "code"]].values.tolist() == [
        ["Relationships", ""], ["Hope", ""], ["Relationships", ""]]


def test_positions_point_into_the_transcript(coded_study):
    sheet = codesheet(study_view(coded_study))
    for row in sheet.to_dict("records"):
        start, end = map(int, row["characters"].split("-"))
        assert TRANSCRIPT[start:end] == row["meaning unit"]
        assert (row["speaker"], row["meaning unit"]) in ANSWERS
        assert row["document"] == "t1"
    assert list(sheet["turn"]) == [1, 4, 2, 5]


def test_subtheme_is_suggested_by_shared_words_or_left_blank(coded_study):
    sheet = codesheet(study_view(coded_study)).set_index("unit_id")
    assert sheet.loc["u0", SUBTHEME] == "Trust built over time"
    assert sheet.loc["u3", SUBTHEME] == "Doing everyday things together"
    assert sheet.loc["u1", SUBTHEME] == ""  # shares nothing with any relationships subtheme


def test_condensed_column_is_the_condensation_of_each_unit(coded_study):
    sheet = codesheet(study_view(coded_study))
    assert list(sheet[CONDENSED]) == [condense(t) for t in sheet["meaning unit"]]
    assert sheet[CONDENSED].iloc[0] == ("Trust takes a long time. It has to be earned, it is "
                                        "never given, and you keep turning up week after week.")


def test_a_coded_subtheme_is_shown_and_an_unknown_theme_comes_last(coded_study):
    view = study_view(coded_study)
    coding = view.coding.copy()
    coding.loc[coding["unit_id"] == "u1", "theme_id"] = "secure_community"
    coding.loc[coding["unit_id"] == "u0", "theme_id"] = "old_theme"  # from another framework
    sheet = codesheet(dataclasses.replace(view, coding=coding)).set_index("unit_id")
    assert sheet.loc["u1", ["theme", SUBTHEME]].tolist() == ["Relationships", "A secure community"]
    assert sheet.loc["u0", ["theme", SUBTHEME]].tolist() == ["old_theme", ""]
    assert list(sheet.index) == ["u3", "u1", "u4", "u0"]


# -- condensation ------------------------------------------------------------------------------

@pytest.mark.parametrize("unit, condensed", [
    ("Um, I can start, I suppose. For me it's- it's less about a model and more about, like, "
     "who you are when you walk through someone's door.",
     "For me it's less about a model and more about who you are when you walk through "
     "someone's door."),
    ("Staff. Honestly, more staff. Then the groups don't get cancelled.",
     "Then the groups don't get cancelled."),
    ("Sometimes I literally leave the folder in the car. [laughs] Which my manager would not "
     "love to hear.",
     "Sometimes I literally leave the folder in the car. Which my manager would not love to "
     "hear."),
    ("More peer workers. [laughs] Biased, I know. But people believe you differently when "
     "you've been there.",
     "More peer workers. People believe you differently when you've been there."),
    ("Open plan. Hot desks. For a service where people walk in in crisis.",
     "Open plan. Hot desks. For a service where people walk in in crisis."),
    ("And she's, like, she's thrown things, the the poor woman.",
     "She's thrown things, the poor woman."),
    # a filler removed before a full stop or as a sentence of its own leaves no stray mark
    ("And you watch it just go out of them. That's the bit I find hardest, honestly.",
     "That's the bit I find hardest."),
    ("So from the OT side, a big part of it is reminding people they're not just a patient. "
     "You know? On the ward everything's about the illness.",
     "From the OT side, a big part of it is reminding people they're not just a patient. On "
     "the ward everything's about the illness."),
    # a sentence ending in a quotation is a sentence too
    ('He told me, eventually. He said, "you lot were so excited I didn\'t want to let you '
     'down." Which, you know. That was a lesson.',
     'He told me, eventually. He said, "you lot were so excited I didn\'t want to let you '
     'down."'),
    ("--something lovely and stupid.", "Something lovely and stupid."),
    # a pseudonymised export's placeholders are words of the sentence, not notes
    ("I had to read [PERSON 3]'s NHS number out [laughs] twice.",
     "I had to read [PERSON 3]'s NHS number out twice."),
    # "no" that says the opposite stays; one parted off by a comma goes
    ("No targets, no forms, nothing.", "No targets, no forms, nothing."),
    ("No, I'd finished by then.", "I'd finished by then."),
])
def test_condense_removes_fillers_and_keeps_the_speakers_words(unit, condensed):
    assert condense(unit) == condensed


@pytest.mark.parametrize("unit, condensed", [
    # the words of the sentence stay
    ("Weight creeping up by a kilo a week isn't alarming on one visit, you only see it if you "
     "know the person.",
     "Weight creeping up by a kilo a week isn't alarming on one visit, you only see it if you "
     "know the person."),
    ("I mean the world to her, she said.", "I mean the world to her, she said."),
    ("I told her you know the way home", "I told her you know the way home."),
    ("You see the change in his breathing before anyone else does.",
     "You see the change in his breathing before anyone else does."),
    ("We built a sort of shed for the garden tools.",
     "We built a sort of shed for the garden tools."),
    # the same words set off by commas, or starting a sentence before one, are fillers
    ("You know, the ankles swell first and the family notices it.",
     "The ankles swell first and the family notices it."),
    ("I mean, the world changes for her when he comes home.",
     "The world changes for her when he comes home."),
    ("I told her, you know, the way home from the surgery.",
     "I told her the way home from the surgery."),  # its commas go with it
    ("She's, you know, she's thrown things.", "She's thrown things."),
    ("I was, um, there all day with them.", "I was there all day with them."),
    ("The carers get tired, you see. Nobody visits them at night.",
     "The carers get tired. Nobody visits them at night."),
    ("It was, sort of, a relief when the hospital bed arrived, I suppose.",
     "It was a relief when the hospital bed arrived."),
])
def test_condense_removes_fillers_only_where_they_are_fillers(unit, condensed):
    assert condense(unit) == condensed


def test_condense_cuts_a_long_sentence_to_its_richest_clauses_marking_the_cut():
    unit = ("Something about sitting side by side, you know? We went to the seaside once with "
            "one of the guys, just for an afternoon, because he'd mentioned he hadn't been since "
            "he was a kid, and he talked more on that drive than he had in a year.")
    condensed = condense(unit)
    assert " [...] " in condensed and len(condensed.split()) <= 30
    assert condensed.startswith("We went to the seaside once with one of the guys [...] ")
    kept = condensed.replace(" [...] ", " ").replace(",", "").rstrip(".").split()
    spoken = unit.replace(",", "").replace(".", "").split()
    assert all(word in spoken for word in kept)  # extractive: no word the speaker did not say


def test_condense_leaves_no_clause_alone_that_says_nothing():
    unit = ("We used to ask people to come in to the clinic and half of them never turned up, "
            "and then they'd get discharged for not engaging, which, you know, is a bit mad "
            "when you think about it.")
    assert "which [...]" not in condense(unit)
    assert not condense(unit).endswith("which [...]")


_MARK_CLASH = re.compile(r"[,;:][.!?]|[.!?][,;:?!]|\s[,.;:!?]")


def condensation_problems(condensed: str) -> list[str]:
    """What makes a condensed meaning unit ill-formed; empty when it reads well."""
    problems = []
    if not condensed:
        return problems
    if _MARK_CLASH.search(condensed.replace("[...]", "")):
        problems.append("punctuation marks clash or follow a space")
    if not (condensed[0].isupper() or condensed[0].isdigit() or condensed[0] in "\"“'‘"):
        problems.append("does not start with a capital letter")
    if not re.search(r"([.!?…][\"”’)]?|\[\.\.\.\])$", condensed):
        problems.append("does not end with a full stop (or [...])")
    if condensed.startswith("[...]") or "[...] [...]" in condensed:
        problems.append("misplaced [...]")
    for fragment in condensed.removesuffix("[...]").split("[...]"):
        if len(re.findall(r"[^\W\d_]{3,}", fragment)) < 2:
            problems.append(f"a fragment that says nothing: {fragment.strip()!r}")
    bare = condensed.replace("[...]", "")
    if any(bare.count(o) != bare.count(c) for o, c in ("[]", "()")) or bare.count('"') % 2:
        problems.append("unbalanced brackets or quotes")
    return problems


@pytest.mark.parametrize("bad", ["That's the bit I find hardest,.",
                                 "Just a patient.? On the ward.", "Half of them never [...] which [...]",
                                 "--something lovely and stupid.", "in the ward somewhere."])
def test_the_well_formed_check_catches_what_the_issue_found(bad):
    assert condensation_problems(bad)


def test_every_sample_units_condensation_is_well_formed(sample_units):
    long_enough = sample_units[~sample_units["short_reply"]]  # "A folder." stays as said
    found = {text: problems for text in long_enough["text"]
             if (problems := condensation_problems(condense(text)))}
    assert found == {}


def test_condense_of_a_back_channel_is_empty():
    assert condense("Mm. Yeah.") == condense("[laughs]") == condense("") == ""


# -- files -------------------------------------------------------------------------------------

def test_xlsx_looks_like_a_paper_table_and_reads_back(coded_study, tmp_path):
    from openpyxl import load_workbook

    path = export_codesheet(coded_study, tmp_path / "codes.xlsx")
    assert path == tmp_path / "codes.xlsx"
    ws = load_workbook(path)["code sheet"]
    assert [c.value for c in ws[1]] == COLUMNS
    assert all(c.font.bold for c in ws[1])
    assert ws.freeze_panes == "A2"
    assert ws.column_dimensions["D"].width == 60  # the meaning unit gets room
    assert ws["D2"].alignment.wrap_text
    expected = codesheet(study_view(coded_study))
    rows = [["" if c.value is None else c.value for c in row] for row in ws.iter_rows(min_row=2)]
    assert rows == expected.astype(object).values.tolist()
    # A theme's first row is bold and starts a group; the rest fold under it.
    assert ws["A2"].font.bold and ws["A5"].font.bold and not ws["A3"].font.bold
    assert [ws.row_dimensions[r].outlineLevel for r in range(2, 6)] == [0, 1, 1, 0]


def test_formula_like_cells_are_text_in_xlsx(coded_study, tmp_path):
    from openpyxl import load_workbook

    path = export_codesheet(coded_study, tmp_path / "codes.xlsx")
    with zipfile.ZipFile(path) as book:
        sheet_xml = book.read("xl/worksheets/sheet1.xml").decode()
    assert "<f>" not in sheet_xml and "<f " not in sheet_xml
    cells = {c.value: c for row in load_workbook(path)["code sheet"].iter_rows() for c in row}
    for text in (ANSWERS[1][1], ANSWERS[3][1], ANSWERS[4][1]):  # starts with =, - and @
        assert cells[text].data_type == "s" and cells[text].quotePrefix


def test_control_characters_of_a_transcript_become_spaces_in_xlsx(coded_study, tmp_path,
                                                                    monkeypatch):
    # a form feed survives reading a .txt transcript; a worksheet cell cannot hold one
    import importlib

    from openpyxl import load_workbook

    module = importlib.import_module("themesift.export.codesheet")
    made = module.codesheet
    monkeypatch.setattr(module, "codesheet", lambda *a, **k: made(*a, **k).assign(
        **{"meaning unit": lambda t: t["meaning unit"].str.replace(" ", "\x0c", n=1,
                                                                     regex=False)}))
    path = export_codesheet(coded_study, tmp_path / "codes.xlsx")
    column = COLUMNS.index("meaning unit") + 1
    texts = [row[0] for row in load_workbook(path)["code sheet"].iter_rows(
        min_row=2, min_col=column, max_col=column, values_only=True)]
    assert texts == list(made(study_view(coded_study))["meaning unit"])


def test_formula_like_cells_get_a_quote_in_csv(coded_study, tmp_path):
    path = export_codesheet(coded_study, tmp_path / "codes.csv")
    assert path.read_bytes().startswith(b"\xef\xbb\xbf")  # Excel reads UTF-8 with a BOM
    sheet = pd.read_csv(path, encoding="utf-8-sig", keep_default_na=False)
    assert list(sheet.columns) == COLUMNS
    units = list(sheet["meaning unit"])
    assert "'" + ANSWERS[1][1] in units and "'" + ANSWERS[4][1] in units
    assert "'" + ANSWERS[3][1] in units
    assert ANSWERS[0][1] in units  # ordinary text is left alone
    assert [quote_formula(v) for v in ["\tx", "\rx", "+1", "x=1", 3]] == [
        "'\tx", "'\rx", "'+1", "x=1", 3]


# -- refusals ----------------------------------------------------------------------------------

def test_nothing_coded_yet_says_to_review_first_and_writes_nothing(uncoded_study, tmp_path):
    with pytest.raises(InputError, match="Nothing in the study .* is coded yet.*themesift apply"):
        export_codesheet(uncoded_study, tmp_path / "codes.xlsx")
    assert list(tmp_path.glob("codes*")) == [] and list(tmp_path.glob(".codes*")) == []


def test_study_without_a_run_is_refused(tmp_path):
    Study.open(tmp_path / "empty").close()
    with pytest.raises(InputError, match="has no complete run yet"):
        export_codesheet(tmp_path / "empty", tmp_path / "codes.csv")
    assert not (tmp_path / "codes.csv").exists()


def test_existing_file_is_refused_unless_forced(coded_study, tmp_path):
    target = tmp_path / "codes.csv"
    target.write_text("keep me")
    with pytest.raises(InputError, match="already exists.*--force"):
        export_codesheet(coded_study, target)
    assert target.read_text() == "keep me"
    export_codesheet(coded_study, target, force=True)
    assert target.read_text(encoding="utf-8-sig").startswith("theme,")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["codes.csv", "s"]  # no temp file


@pytest.mark.parametrize("name, message", [
    ("missing/codes.xlsx", "folder for the output file does not exist"),
    ("codes.docx", "should end with .xlsx or .csv"),
])
def test_bad_output_paths_are_refused(coded_study, tmp_path, name, message):
    with pytest.raises(InputError, match=message):
        export_codesheet(coded_study, tmp_path / name)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["s"]
