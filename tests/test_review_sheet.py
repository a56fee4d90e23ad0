"""The review sheet: its layout and order, and reading the analyst's decisions back."""


import pandas as pd
import pytest
from openpyxl import load_workbook

import themesift as ts
from themesift import pipeline as pipeline_module
from themesift.pipeline import write_outputs
from themesift.review import REVIEW_COLUMNS, apply_review, read_review, review_sheet, write_review
import fakes
from fakes import make_corpus
from themesift.study import Study

THEMES = ["relationships", "hope", "structural_tension", "symptoms_barrier"]
# unit i: (score, runner_up_score); margins 0.5, 0.1, 0.3, 0.05, 0.6, 0.2
SCORES = [(0.7, 0.2), (0.5, 0.4), (0.6, 0.3), (0.45, 0.4), (0.8, 0.2), (0.6, 0.4)]
CODES = {"C01": [0, 1], "C02": [2, 3, 4, 5]}


def fake_result(corpus, framework, **kwargs):
    """Units u0..u5 of transcript t1, codes C01 (2) and C02 (4)."""
    return fakes.fake_result(corpus, framework, scores=SCORES, codes=CODES,
                             speaker=lambda i: f"P{i % 2 + 1}", n_exemplars=2)


@pytest.fixture
def fake_stages(monkeypatch):
    monkeypatch.setattr(pipeline_module, "run_pipeline", fake_result)


@pytest.fixture
def reviewed(tmp_path, fake_stages):
    """A study with one run, and the files `themesift run --study` writes for it."""
    with Study.open(tmp_path / "study") as study:
        run = study.run(make_corpus(), "recovery")
        out = tmp_path / "out"
        write_outputs(run.result, out, run_id=run.id, study=study)
        yield study, run, out


def fill_xlsx(path, decisions):
    """Fill cells by suggestion id: {suggestion_id: {column: value}}; returns their rows."""
    book = load_workbook(path)
    ws = book["review"]
    header = [c.value for c in ws[1]]
    col = {name: i + 1 for i, name in enumerate(header)}
    rows = {}
    for r in range(2, ws.max_row + 1):
        sid = ws.cell(r, col["suggestion_id"]).value
        if sid in decisions:
            rows[sid] = r
            for name, value in decisions[sid].items():
                ws.cell(r, col[name]).value = value
    book.save(path)
    return rows


def fill_csv(path, decisions):
    sheet = pd.read_csv(path, dtype=str, keep_default_na=False)
    for sid, values in decisions.items():
        for name, value in values.items():
            sheet.loc[sheet["suggestion_id"] == sid, name] = value
    sheet.to_csv(path, index=False)
    return {sid: int(sheet.index[sheet["suggestion_id"] == sid][0]) + 2 for sid in decisions}


# -- the sheet ---------------------------------------------------------------------------------

def test_sheet_puts_big_codes_then_uncertain_units_of_every_theme_first(tmp_path):
    result = fake_result(make_corpus(), ts.load_framework("recovery"))
    sheet = review_sheet(result, run_id="run-x", study=tmp_path / "s")
    assert list(sheet.columns) == REVIEW_COLUMNS
    assert list(sheet["suggestion_id"]) == [
        "code:run-x:C02", "code:run-x:C01",  # codes, largest first
        # closest calls first, one of each suggested theme per round: u3 u1 u2 u0 | u5 u4
        "unit:u3", "unit:u1", "unit:u2", "unit:u0", "unit:u5", "unit:u4"]
    assert (sheet[["decision", "analyst", "note"]] == "").all().all()
    assert set(sheet["run_id"]) == {"run-x"} and set(sheet["study"]) == {str(tmp_path / "s")}
    code = sheet.iloc[0]["text"]
    assert code.startswith("label C02 (4 units)")
    assert "\u201cunit 2 text\u201d (P1, t1)" in code and "\u201cunit 3 text\u201d (P2, t1)" in code
    unit = sheet.set_index("suggestion_id").loc["unit:u3"]
    assert (unit["text"], unit["speaker"], unit["doc_id"]) == ("unit 3 text", "P2", "t1")


def test_sheet_without_a_study_keeps_plain_code_ids():
    sheet = review_sheet(fake_result(make_corpus(), ts.load_framework("recovery")))
    assert sheet["suggestion_id"].iloc[0] == "code:C02"
    assert (sheet["run_id"] == "").all() and (sheet["study"] == "").all()


def test_written_spreadsheet_is_ready_to_fill_in(tmp_path):
    result = fake_result(make_corpus(), ts.load_framework("recovery"))
    files = write_review(review_sheet(result, run_id="run-x"), tmp_path)
    assert sorted(p.name for p in files) == ["review.csv", "review.xlsx"]
    ws = load_workbook(tmp_path / "review.xlsx")["review"]
    assert ws.freeze_panes == "A2"
    assert ws["F2"].alignment.wrap_text
    decision = "ABCDEFGHIJKLMNOP"[REVIEW_COLUMNS.index("decision")]
    (validation,) = ws.data_validations.dataValidation
    assert str(validation.sqref) == f"{decision}2:{decision}9"
    assert validation.formula1.startswith('"accept,reject,none,relationships')
    assert pd.read_csv(tmp_path / "review.csv").shape == (8, len(REVIEW_COLUMNS))


def test_store_ids_in_the_sheet_match_the_study(reviewed):
    study, run, out = reviewed
    sheet = pd.read_csv(out / "review.csv", dtype=str, keep_default_na=False)
    assert set(sheet["suggestion_id"]) == set(run.suggestions["suggestion_id"])
    assert set(sheet["run_id"]) == {run.id}


# -- applying it -------------------------------------------------------------------------------

def test_xlsx_round_trip(reviewed):
    study, run, out = reviewed
    code = f"code:{run.id}:C02"
    rows = fill_xlsx(out / "review.xlsx", {
        code: {"decision": "Accept ", "analyst": "KJ", "note": "clear"},
        "unit:u3": {"decision": "Relationships"},         # reassign, case-insensitive
        "unit:u0": {"decision": "reject", "analyst": "AB"},
        "unit:u1": {"decision": "none"},
        "unit:u5": {"analyst": "KJ", "note": "not sure yet"},  # no decision: skipped
    })
    applied = apply_review(study, out / "review.xlsx", analyst="ZZ")
    assert list(applied["row"]) == sorted(rows[s] for s in (code, "unit:u3", "unit:u0", "unit:u1"))
    decisions = study.decisions.set_index("suggestion_id")
    assert len(decisions) == 4 and "unit:u5" not in decisions.index
    assert decisions.loc[code, ["action", "theme_id", "analyst", "note"]].tolist() == [
        "accept", "hope", "KJ", "clear"]
    assert decisions.loc["unit:u3", ["action", "theme_id", "analyst"]].tolist() == [
        "reassign", "relationships", "ZZ"]
    assert decisions.loc["unit:u0", ["action", "analyst"]].tolist() == ["reject", "AB"]
    assert decisions.loc["unit:u1", ["action", "theme_id"]].tolist() == ["reassign", "none"]
    assert (decisions["run_id"] == run.id).all()
    coding = study.coding().set_index("unit_id")["theme_id"].to_dict()
    # C02 = u2..u5 accepted as hope: u5, the one member suggested hope on its own (u3 is
    # decided on its own; u2 and u4, suggested other themes, stay pending); u0 rejected
    assert coding == {"u1": "none", "u3": "relationships", "u5": "hope"}
    assert applied.attrs["code_units"] == {"coded": 1, "pending": 2, "decided": 1}


def test_csv_round_trip_and_reapplying_is_idempotent(reviewed):
    study, run, out = reviewed
    fill_csv(out / "review.csv", {"unit:u2": {"decision": "structural_tension"},  # = suggested
                                  "unit:u4": {"decision": "symptoms_barrier", "note": "n"}})
    first = apply_review(study, out / "review.csv", analyst="KJ")
    assert sorted(first["action"]) == ["accept", "reassign"]
    again = apply_review(study, out / "review.csv", analyst="KJ")
    assert again.empty and again.attrs["skipped"] == 2
    assert len(study.decisions) == 2
    # changing one decision adds exactly that one
    fill_csv(out / "review.csv", {"unit:u4": {"decision": "hope"}})
    third = apply_review(study, out / "review.csv", analyst="KJ")
    assert list(third["suggestion_id"]) == ["unit:u4"] and len(study.decisions) == 3
    assert study.coding().set_index("unit_id").loc["u4", "theme_id"] == "hope"


def test_problems_are_listed_with_row_numbers_and_nothing_is_written(reviewed):
    study, run, out = reviewed
    study.decide("unit:u0", "accept")
    rows = fill_xlsx(out / "review.xlsx", {
        "unit:u1": {"decision": "accept", "analyst": "KJ"},  # fine, but must not be written
        "unit:u2": {"decision": "hopeful", "analyst": "KJ"},  # unknown theme
        "unit:u3": {"decision": "Structual tension", "analyst": "KJ"},  # a typo of a name
        "unit:u4": {"decision": "reject", "analyst": "KJ"},
    })
    book = load_workbook(out / "review.xlsx")
    ws = book["review"]
    ws.cell(rows["unit:u4"], 1).value = "unit:nope"  # unknown suggestion id
    book.save(out / "review.xlsx")
    with pytest.raises(ts.InputError) as caught:
        apply_review(study, out / "review.xlsx")
    message = str(caught.value)
    assert "3 problems in the review sheet, so nothing was applied" in message
    assert (f"row {rows['unit:u2']}: unknown decision 'hopeful' for unit:u2 (did you mean "
            "'hope'?): use") in message
    assert (f"row {rows['unit:u3']}: unknown decision 'Structual tension' for unit:u3 (did you "
            "mean 'structural_tension'?): use accept, reject, or a theme's id or name") in message
    assert "relationships, hope, structural_tension, symptoms_barrier, none" in message
    assert f"row {rows['unit:u4']}: unknown suggestion id 'unit:nope'" in message
    assert len(study.decisions) == 1


def test_a_decision_without_an_analyst_is_refused_unless_one_is_given(reviewed):
    study, run, out = reviewed
    rows = fill_csv(out / "review.csv", {"unit:u1": {"decision": "accept"},
                                         "unit:u2": {"decision": "hope", "analyst": " "},
                                         "unit:u3": {"decision": "reject", "analyst": "AB"}})
    with pytest.raises(ts.InputError) as caught:
        apply_review(study, out / "review.csv")
    message = str(caught.value)
    blank = sorted([rows["unit:u1"], rows["unit:u2"]])
    assert "1 problem in the review sheet, so nothing was applied" in message
    assert f"rows {blank[0]}, {blank[1]}: no analyst" in message or \
        f"rows {blank[0]}-{blank[1]}: no analyst" in message
    assert "--analyst NAME" in message
    assert study.decisions.empty
    apply_review(study, out / "review.csv", analyst="KJ")
    assert study.decisions.set_index("suggestion_id")["analyst"].to_dict() == {
        "unit:u1": "KJ", "unit:u2": "KJ", "unit:u3": "AB"}


def test_sheet_from_another_study_is_refused(reviewed, tmp_path):
    study, run, out = reviewed
    fill_csv(out / "review.csv", {"unit:u1": {"decision": "accept"},
                                  "unit:u2": {"decision": "accept"}})
    with Study.open(tmp_path / "other") as other:
        other.run(make_corpus())  # same units, another run id
        with pytest.raises(ts.InputError, match=rf"rows? \d.*comes from run {run.id}.*not in this study"):
            apply_review(other, out / "review.csv")
        assert other.decisions.empty


def test_conflicting_rows_and_missing_columns(reviewed, tmp_path):
    study, run, out = reviewed
    sheet = pd.read_csv(out / "review.csv", dtype=str, keep_default_na=False)
    sheet["decision"] = ""
    twice = pd.concat([sheet, sheet[sheet["suggestion_id"] == "unit:u1"]], ignore_index=True)
    twice.loc[twice["suggestion_id"] == "unit:u1", "decision"] = ["accept", "reject"]
    twice.to_csv(tmp_path / "twice.csv", index=False)
    with pytest.raises(ts.InputError, match=r"row 10: unit:u1 was already decided differently"):
        apply_review(study, tmp_path / "twice.csv")
    sheet.drop(columns="decision").to_csv(tmp_path / "nodecision.csv", index=False)
    with pytest.raises(ts.InputError, match=r"line 1: No column 'decision'"):
        read_review(tmp_path / "nodecision.csv")
    sheet.drop(columns="decision").to_excel(tmp_path / "nodecision.xlsx", index=False)
    with pytest.raises(ts.InputError, match=r"nodecision\.xlsx, row 1: No column 'decision'"):
        read_review(tmp_path / "nodecision.xlsx")  # a workbook has rows
    assert study.decisions.empty


@pytest.mark.parametrize("sep, encoding", [(",", "cp1252"), (";", "utf-8-sig"), (";", "cp1252"),
                                           ("\t", "utf-8")])
def test_csv_as_excel_saves_it_is_read_back(reviewed, sep, encoding):
    """Excel saves 'CSV' in the Windows code page (curly quotes are byte 0x93), and with ';'
    where the decimal mark is a comma; both, with CRLF line ends, are read back."""
    study, run, out = reviewed
    sheet = pd.read_csv(out / "review.csv", dtype=str, keep_default_na=False)
    sheet.loc[sheet["suggestion_id"] == "unit:u2", ["decision", "analyst", "note"]] = \
        ["hope", "Zoë", "“not yet”; 0,5 – see café notes"]
    sheet.to_csv(out / "excel.csv", index=False, sep=sep, encoding=encoding, lineterminator="\r\n")
    applied = apply_review(study, out / "excel.csv")
    assert applied[["suggestion_id", "action", "theme_id", "analyst", "note"]].values.tolist() == [
        ["unit:u2", "reassign", "hope", "Zoë", "“not yet”; 0,5 – see café notes"]]


def test_a_rerun_sheet_leaves_out_the_units_already_decided(reviewed):
    study, run, out = reviewed
    fill_csv(out / "review.csv", {"unit:u2": {"decision": "hope"}, "unit:u4": {"decision": "reject"}})
    apply_review(study, out / "review.csv", analyst="KJ")
    again = study.run(make_corpus(), "recovery", learn=False)
    write_outputs(again.result, out / "again", run_id=again.id, study=study)
    sheet = pd.read_csv(out / "again" / "review.csv", dtype=str, keep_default_na=False)
    units = [s for s in sheet["suggestion_id"] if s.startswith("unit:")]
    # u4's theme was rejected and is suggested again (learn=False): left out as well
    assert sorted(units) == ["unit:u0", "unit:u1", "unit:u3", "unit:u5"]
    assert sum(s.startswith("code:") for s in sheet["suggestion_id"]) == 2  # the new run's codes
    assert (sheet["decision"] == "").all()
    # without a study (or before any decision) every unit is listed
    assert len(review_sheet(again.result, run_id=again.id)) == 8


def test_a_rerun_sheet_offers_again_a_unit_whose_rejected_theme_is_not_suggested(
        reviewed, monkeypatch):
    # A rejection says what a unit is not; suggested another theme, it still needs coding.
    study, run, out = reviewed
    fill_csv(out / "review.csv", {"unit:u4": {"decision": "reject"}})
    apply_review(study, out / "review.csv", analyst="KJ")
    rejected = study.decisions["theme_id"].iloc[-1]
    again = rerun(study, monkeypatch, ["hope" if rejected != "hope" else "relationships"] * 8)
    write_outputs(again.result, out / "again", run_id=again.id, study=study)
    sheet = pd.read_csv(out / "again" / "review.csv", dtype=str, keep_default_na=False)
    assert "unit:u4" in set(sheet["suggestion_id"])


def rerun(study, monkeypatch, themes):
    """A later run of the same transcript in which unit i is suggested ``themes[i]``."""
    monkeypatch.setattr(pipeline_module, "run_pipeline", lambda corpus, framework, **kw:
                        fakes.fake_result(corpus, framework, scores=SCORES, codes=CODES,
                                          unit_theme=lambda i: themes[i]))
    return study.run(make_corpus(), "recovery", learn=False)


def test_an_old_sheet_rejects_the_theme_it_showed_after_a_rerun(reviewed, monkeypatch):
    study, run, out = reviewed
    fill_csv(out / "review.csv", {"unit:u2": {"decision": "reject", "analyst": "KJ"}})
    rerun(study, monkeypatch, ["relationships"] * 6)  # the sheet showed u2 structural_tension
    applied = apply_review(study, out / "review.csv")
    assert applied[["action", "theme_id"]].values.tolist() == [["reject", "structural_tension"]]
    assert study.examples()[["unit_id", "theme_id", "rejected"]].values.tolist() == [
        ["u2", "structural_tension", True]]


def test_a_sheet_renamed_and_moved_behind_notes_by_hand_is_still_read(reviewed):
    study, run, out = reviewed
    fill_xlsx(out / "review.xlsx", {"unit:u0": {"decision": "accept", "analyst": "KJ"}})
    book = load_workbook(out / "review.xlsx")
    book["review"].title = "Review (KJ)"
    book.create_sheet("Notes", 0)["A1"] = "what I was unsure of"
    book.save(out / "review.xlsx")
    applied = apply_review(study, out / "review.xlsx")
    assert applied[["suggestion_id", "action"]].values.tolist() == [["unit:u0", "accept"]]


def test_a_sheet_applied_then_changed_in_the_widget_has_nothing_left_to_apply(reviewed):
    from themesift.review.sheet import unapplied_decisions

    study, run, out = reviewed
    fill_csv(out / "review.csv", {"unit:u0": {"decision": "accept", "analyst": "KJ"},
                                  "unit:u1": {"decision": "hope"}})  # no analyst yet
    assert unapplied_decisions(out / "review.csv", study) == 2
    apply_review(study, out / "review.csv", analyst="KJ")
    study.decide("unit:u0", "reassign", theme_id="hope", analyst="KJ")  # a changed mind
    # a new run may write its sheet over this one: every decision of it is in the study
    assert unapplied_decisions(out / "review.csv", study) == 0
    with study.transaction():  # and the check reads while another write is under way
        assert unapplied_decisions(out / "review.csv", study) == 0


def test_a_decision_may_name_the_theme_as_the_report_does(reviewed):
    study, run, out = reviewed
    fill_csv(out / "review.csv", {"unit:u0": {"decision": " structural  TENSION ",
                                              "analyst": "KJ"}})
    applied = apply_review(study, out / "review.csv")
    assert applied["theme_id"].tolist() == ["structural_tension"]


def _decide_first_code_and_rerun(reviewed, monkeypatch, action):
    """The first code of the sheet decided (``action``), then the same run again (a re-run
    has new code ids): the code, the new run and its review sheet."""
    study, run, out = reviewed
    sheet = pd.read_csv(out / "review.csv", dtype=str, keep_default_na=False)
    first = sheet[sheet["level"] == "code"].iloc[0]
    study.decide(first["suggestion_id"], action, analyst="KJ")
    themes = dict(zip(run.result.unit_suggestions["unit_id"],
                      run.result.unit_suggestions["theme_id"]))
    again = rerun(study, monkeypatch, [themes[f"u{i}"] for i in range(6)])
    return first["item_id"], again, review_sheet(again.result, run_id=again.id, study=study)


def test_a_code_accepted_before_is_not_offered_again_after_a_rerun(reviewed, monkeypatch):
    # a code whose members it would code are all coded already would code nothing new, and
    # "Accepting codes those N" said otherwise
    code, again, later = _decide_first_code_and_rerun(reviewed, monkeypatch, "accept")
    assert code not in set(later.loc[later["level"] == "code", "item_id"])
    coded = set(reviewed[0].coding()["unit_id"])
    members = set(again.result.codes.assignments.query("code_id == @code")["unit_id"])
    left = set(later.loc[later["level"] == "unit", "item_id"])
    assert members - coded <= left and not coded & left  # the others are there one by one


def test_a_code_rejected_before_is_not_offered_again_after_a_rerun(reviewed, monkeypatch):
    from themesift.review.widget import ReviewWidget

    code, again, later = _decide_first_code_and_rerun(reviewed, monkeypatch, "reject")
    assert code not in set(later.loc[later["level"] == "code", "item_id"])
    pytest.importorskip("ipywidgets")
    study = reviewed[0]
    assert ReviewWidget(study, analyst="KJ").current["suggestion_id"] != f"code:{again.id}:{code}"
    # another theme for the same units is a new suggestion: offered
    assert study.rejected_before({"x": ("none", ["u0"])}) == set()


def test_reapplying_a_sheet_after_a_rerun_adds_nothing(reviewed, monkeypatch):
    study, run, out = reviewed
    fill_csv(out / "review.csv", {"unit:u0": {"decision": "accept"},   # relationships
                                  "unit:u1": {"decision": "hope"},     # = suggested: accept
                                  "unit:u2": {"decision": "reject"},   # structural_tension
                                  "unit:u3": {"decision": "none"}})
    assert len(apply_review(study, out / "review.csv", analyst="KJ")) == 4
    rerun(study, monkeypatch, ["hope", "relationships", "hope", "none", "hope", "hope"])
    study.decide("unit:u1", "reject", analyst="MB")  # a colleague's later decision stands
    again = apply_review(study, out / "review.csv", analyst="KJ")
    assert again.empty and again.attrs["skipped"] == 4 and len(study.decisions) == 5
    # a changed mind is recorded, and so is changing it back
    fill_csv(out / "review.csv", {"unit:u0": {"decision": "reject"}})
    assert apply_review(study, out / "review.csv", analyst="KJ")["action"].tolist() == ["reject"]
    fill_csv(out / "review.csv", {"unit:u0": {"decision": "accept"}})
    back = apply_review(study, out / "review.csv", analyst="KJ")
    # an accept of the suggestion the sheet's run made (each run keeps its own)
    assert back[["action", "theme_id", "run_id"]].values.tolist() == [
        ["accept", "relationships", run.id]]
    assert study.coding().set_index("unit_id")["theme_id"].to_dict() == {
        "u0": "relationships", "u3": "none"}


def test_an_old_sheet_applied_again_leaves_a_later_runs_decision_standing(reviewed, monkeypatch):
    study, run, out = reviewed
    row = fill_csv(out / "review.csv", {"unit:u2": {"decision": "reject"}})["unit:u2"]
    apply_review(study, out / "review.csv", analyst="KJ")
    later = rerun(study, monkeypatch, ["hope", "relationships", "hope", "none", "hope", "hope"])
    study.decide("unit:u2", "accept", analyst="KJ")  # on the later run's suggestion: hope
    again = apply_review(study, out / "review.csv", analyst="KJ")
    assert again.empty and again.attrs["changed_since"] == [row]
    assert study.coding().set_index("unit_id").at["u2", "theme_id"] == "hope"
    assert study.decisions["run_id"].iloc[-1] == later.id


def test_accepted_codes_count_what_the_coding_then_holds(reviewed):
    study, run, out = reviewed
    code = f"code:{run.id}:C02"  # hope: of its members u2..u5 only u5 is suggested hope
    fill_csv(out / "review.csv", {code: {"decision": "accept"},
                                  "unit:u5": {"decision": "reject"},  # decided one by one
                                  "unit:u2": {"decision": "hope"}})
    applied = apply_review(study, out / "review.csv", analyst="KJ")
    assert applied.attrs["code_units"] == {"coded": 0, "pending": 2, "decided": 2}
    assert study.coding().query("source == 'code'").empty


def test_reassigned_codes_count_what_the_coding_then_holds(reviewed):
    study, run, out = reviewed
    code = f"code:{run.id}:C02"  # hope, members u2..u5: all but u5 coded relationships
    fill_csv(out / "review.csv", {code: {"decision": "relationships"},
                                  "unit:u5": {"decision": "reject"}})
    applied = apply_review(study, out / "review.csv", analyst="KJ")
    assert applied.attrs["reassigned_code_units"] == {"coded": 3, "decided": 1}
    assert applied.attrs["code_units"] == {"coded": 0, "pending": 0, "decided": 0}
    assert len(study.coding().query("source == 'code' and theme_id == 'relationships'")) == 3


def test_a_rerun_sheet_leaves_out_units_coded_through_codes_and_codes_fully_decided(reviewed):
    study, run, out = reviewed
    # C01 (relationships) codes u0, whose own suggestion agrees; u1 stays to decide, one by
    # one: the re-run's C01 would code nothing new, so it is not offered again.
    # C02's members u2..u5 are all decided one by one.
    fill_csv(out / "review.csv", {f"code:{run.id}:C01": {"decision": "accept"},
                                  **{f"unit:u{i}": {"decision": "accept"} for i in range(2, 6)}})
    apply_review(study, out / "review.csv", analyst="KJ")
    again = study.run(make_corpus(), "recovery", learn=False)
    sheet = review_sheet(again.result, run_id=again.id, study=study)
    assert sheet["suggestion_id"].tolist() == ["unit:u1"]


def test_a_subtheme_id_is_refused_naming_its_theme(reviewed):
    study, run, out = reviewed
    rows = fill_csv(out / "review.csv", {"unit:u2": {"decision": "Keeping_hope", "analyst": "KJ"}})
    with pytest.raises(ts.InputError) as caught:
        apply_review(study, out / "review.csv")
    assert (f"row {rows['unit:u2']}: 'Keeping_hope' is a subtheme of 'hope', and decisions are "
            "on themes: write hope") in str(caught.value)
    assert study.decisions.empty


def test_apply_counts_units_a_later_code_decision_recodes(tmp_path, monkeypatch, capsys):
    """Run 1's code C01 (u0-u2, relationships) is accepted; run 2's code C02 (u1, u2, u4, hope)
    too: u1 and u2 change theme, and apply says so."""
    from themesift.cli import main

    def stages(codes):
        def fake(corpus, framework, **kwargs):
            return fakes.fake_result(corpus, framework, scores=SCORES, codes=codes,
                                     unit_theme=fakes.agreeing(codes))
        return fake

    with Study.open(tmp_path / "study") as study:
        sheets = []
        for n, codes in enumerate(({"C01": [0, 1, 2]}, {"C01": [3], "C02": [1, 2, 4]})):
            monkeypatch.setattr(pipeline_module, "run_pipeline", stages(codes))
            run = study.run(make_corpus(), "recovery")
            write_outputs(run.result, tmp_path / f"out{n}", run_id=run.id, study=study)
            sheets.append((tmp_path / f"out{n}" / "review.xlsx", run.id))
        first, second = sheets
        fill_xlsx(first[0], {f"code:{first[1]}:C01": {"decision": "accept", "analyst": "KJ"}})
        assert apply_review(study, first[0]).attrs["recoded_units"] == 0
        fill_xlsx(second[0], {f"code:{second[1]}:C02": {"decision": "accept", "analyst": "KJ"}})
    assert main(["apply", str(second[0]), "--study", str(tmp_path / "study")]) == 0
    out = capsys.readouterr().out
    assert "2 units that a code decision made before had coded with another theme now have " \
           "the new decision's theme (the latest code decision counts" in out
    with Study.open(tmp_path / "study") as study:
        coding = study.coding().set_index("unit_id")["theme_id"]
    assert coding[["u0", "u1", "u2", "u4"]].tolist() == ["relationships", "hope", "hope", "hope"]


def test_a_code_rows_quotes_start_with_the_members_accepting_it_would_code():
    from types import SimpleNamespace

    from themesift.review.sheet import _code_text

    units = pd.DataFrame({"unit_id": ["u1", "u2"], "speaker": ["P1", "P2"], "doc_id": "fg",
                          "text": ["About symptoms.", "About hope."]}).set_index("unit_id",
                                                                              drop=False)
    code = SimpleNamespace(label="x", size=2, theme_id="hope")
    row = {"exemplar_ids": "u1 | u2", "exemplars": "About symptoms. | About hope."}
    text = _code_text(code, row, units, {"u1": "symptoms_barrier", "u2": "hope"})
    assert text.index("About hope.") < text.index("About symptoms.")
    plain = _code_text(code, row, units)  # nothing to choose by: in their order
    assert plain.index("About symptoms.") < plain.index("About hope.")
