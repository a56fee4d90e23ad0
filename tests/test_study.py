"""The Study store: persistence, decisions, the derived coding, concurrency and crash safety."""

import os
import signal
import sqlite3
import statistics
import subprocess
import sys
import textwrap
import time

import pytest

import themesift as ts
from themesift import pipeline as pipeline_module
from themesift import study as study_module
import fakes
from fakes import make_corpus
from themesift.errors import InputError, StoreError
from themesift.study import SCHEMA_VERSION, Study

THEMES = ["relationships", "hope", "structural_tension", "symptoms_barrier"]


def fake_result(corpus, framework, n_units=6, codes=None):
    """Units u0..u{n-1} of transcript t1, codes as given. By default C01 (u0-u2) and its
    members are suggested relationships; C02 (u3-u5) hope, but u5 on its own relationships."""
    if codes is None:
        codes, themes = {"C01": [0, 1, 2], "C02": [3, 4, 5]}, [0, 0, 0, 1, 1, 0]
    else:  # every member suggested its code's theme
        themes = {i: k % 4 for k, members in enumerate(codes.values()) for i in members}
    return fakes.fake_result(corpus, framework, scores=[(0.7, 0.2)] * n_units, codes=codes,
                             unit_theme=lambda i: THEMES[themes[i]])


@pytest.fixture
def fake_stages(monkeypatch):
    """Replace the pipeline's stages with a hand-made result (settings via attributes)."""
    settings = {"n_units": 6, "codes": None, "calls": 0}

    def stages(corpus, framework, **kwargs):
        settings["calls"] += 1
        settings["kwargs"] = kwargs
        return fake_result(corpus, framework, settings["n_units"], settings["codes"])

    monkeypatch.setattr(pipeline_module, "run_pipeline", stages)
    return settings


@pytest.fixture
def study(tmp_path, fake_stages):
    with Study.open(tmp_path / "s") as s:
        s.run(make_corpus())
        yield s


# -- opening -------------------------------------------------------------------------------------

def test_open_creates_store_in_folder_and_reopens(tmp_path):
    s = Study.open(tmp_path / "my-study")
    assert s.path == tmp_path / "my-study" / "study.sqlite"
    assert s.path.exists()
    assert s.schema_version == SCHEMA_VERSION == 4
    s.close()
    again = Study.open(tmp_path / "my-study")
    assert again.schema_version == 4
    conn = sqlite3.connect(again.path)
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert {"transcripts", "units", "runs", "codes", "code_members", "suggestions",
            "unit_suggestions", "decisions"} <= tables
    conn.close()
    again.close()


def test_open_accepts_a_sqlite_file(tmp_path):
    with Study.open(tmp_path / "x.db") as s:
        assert s.path == tmp_path / "x.db"
    with Study.open(tmp_path / "y.sqlite") as s:
        assert s.path.is_file()


def test_store_from_newer_themesift_is_refused(tmp_path):
    Study.open(tmp_path / "s").close()
    conn = sqlite3.connect(tmp_path / "s" / "study.sqlite")
    conn.execute("PRAGMA user_version = 99")
    conn.close()
    with pytest.raises(ts.StoreError, match=r"newer themesift.*version 99.*Upgrade themesift"):
        Study.open(tmp_path / "s")


def test_file_that_is_not_a_store_is_refused(tmp_path):
    text = tmp_path / "notes.txt"
    text.write_text("not a database at all\n" * 100)
    with pytest.raises(ts.StoreError, match="notes.txt is not a themesift study store"):
        Study.open(text)
    other = tmp_path / "other.db"
    conn = sqlite3.connect(other)
    conn.execute("CREATE TABLE t (x)")
    conn.close()
    with pytest.raises(ts.StoreError, match="other.db is an SQLite database but not a themesift"):
        Study.open(other)


# -- runs ----------------------------------------------------------------------------------------

def test_run_is_persisted(study):
    run = study.run(make_corpus())
    assert run.id.startswith("run-")
    assert (len(run.units), len(run.codes), len(run.suggestions)) == (6, 2, 8)
    assert run.suggestions["suggestion_id"].tolist()[:2] == [f"code:{run.id}:C01",
                                                               f"code:{run.id}:C02"]
    assert "unit:u0" in set(run.suggestions["suggestion_id"])
    conn = sqlite3.connect(study.path)
    count = lambda table: conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0]  # noqa: E731
    assert count("transcripts") == 1 and count("units") == 6
    assert count("codes") == 4 and count("code_members") == 12  # two runs, two codes each
    assert count("suggestions") == 2 + 2 + 6  # unit ids are shared by both runs
    status, manifest = conn.execute("SELECT status, manifest FROM runs WHERE run_id = ?",
                                    (run.id,)).fetchone()
    assert status == "complete" and '"fake": true' in manifest
    conn.close()


def test_run_reads_back_from_the_store(study):
    made = study.run(make_corpus())
    back = study.load_run()
    assert back.id == made.id == study.latest_run_id()
    assert back.result is None and back.manifest == made.manifest
    assert back.suggestions["suggestion_id"].tolist() == made.suggestions["suggestion_id"].tolist()
    assert back.suggestions["text"].tolist() == made.suggestions["text"].tolist()
    assert back.units["unit_id"].tolist() == made.units["unit_id"].tolist()
    assert back.codes["code_id"].tolist() == ["C01", "C02"]
    assert back.assignments.sort_values(["unit_id"]).values.tolist() == \
        made.assignments.sort_values(["unit_id"]).values.tolist()
    assert set(study.transcripts.columns) == {"doc_id", "path", "sha256", "format", "text"}
    assert study.units["unit_id"].tolist() == made.units["unit_id"].tolist()
    with pytest.raises(ts.InputError, match="No complete run 'run-nope'.*Complete runs: run-"):
        study.load_run("run-nope")


def test_run_keeps_its_own_copy_of_the_framework(tmp_path, fake_stages):
    source = tmp_path / "fw.yaml"
    source.write_text(ts.frameworks.framework.framework_to_yaml(
        ts.load_framework("recovery")).replace("name: Hope", "name: Hope and meaning"))
    with Study.open(tmp_path / "s") as s:
        s.run(make_corpus(), str(source))
        source.unlink()  # the analyst moved the file: the study still knows its framework
        fw = s.framework()
        assert fw.theme("hope").name == "Hope and meaning"
        assert fw.source == str(source)


def test_a_rerun_without_a_framework_keeps_the_studys_own(tmp_path, fake_stages):
    source = tmp_path / "fw.yaml"
    source.write_text(ts.frameworks.framework.framework_to_yaml(
        ts.load_framework("recovery")).replace("name: recovery-oriented-practice",
                                                 "name: my-codebook"))
    with Study.open(tmp_path / "s") as s:
        assert not s.has_run()
        assert s.framework(s.run(make_corpus()).id).name == "recovery-oriented-practice"
        s.run(make_corpus(), str(source))
        again = s.run(make_corpus())  # no framework: the study's own, not the built-in
        assert s.has_run() and s.framework(again.id).name == "my-codebook"


def test_empty_study_has_no_latest_run(tmp_path):
    with Study.open(tmp_path / "s") as s:
        with pytest.raises(ts.InputError, match="has no complete run yet.*themesift run"):
            s.load_run()


def test_a_new_store_is_created_without_migration_messages(tmp_path, caplog):
    caplog.set_level("INFO", logger="themesift.study")
    with Study.open(tmp_path / "new") as s:
        assert s.schema_version == SCHEMA_VERSION
    assert not [r for r in caplog.records if "Migrating" in r.getMessage()]


def test_version_1_store_is_migrated(tmp_path, fake_stages, caplog):
    caplog.set_level("INFO", logger="themesift.study")
    path = tmp_path / "old.sqlite"
    conn = sqlite3.connect(path)
    for statement in study_module.MIGRATIONS[0]:
        conn.execute(statement)
    conn.execute(f"PRAGMA application_id = {study_module.APPLICATION_ID}")
    conn.execute("PRAGMA user_version = 1")
    conn.execute("INSERT INTO runs (run_id, created, status, config) VALUES "
                 "('run-old', '2026-01-01', 'complete', "
                 "'{\"framework_source\": \"builtin:recovery\", \"inputs\": []}')")
    conn.commit()
    conn.close()
    with Study.open(path) as s:
        assert s.schema_version == 4
        assert [r.getMessage() for r in caplog.records if "Migrating" in r.getMessage()] == [
            f"Migrating {path} to schema version {v}" for v in (2, 3, 4)]
        assert s.framework("run-old").theme_ids == THEMES  # no copy: loaded from its source
        s.run(make_corpus())
        assert s.framework().theme_ids == THEMES


def test_interrupted_run_is_resumed_not_piled_up(tmp_path, fake_stages):
    s = Study.open(tmp_path / "s")
    corpus = make_corpus()
    config = study_module._run_config(corpus, ts.load_framework("recovery"), None, 0)
    stale = s._begin_run(config)  # as a process killed mid-run leaves it
    assert s.runs["status"].tolist() == ["running"]
    run = s.run(corpus)
    assert run.id == stale
    assert s.runs[["run_id", "status"]].values.tolist() == [[stale, "complete"]]
    s.close()


def test_a_resumed_run_that_finishes_last_is_the_latest(tmp_path, fake_stages):
    s = Study.open(tmp_path / "s")
    corpus = make_corpus()
    config = study_module._run_config(corpus, ts.load_framework("recovery"), None, 0)
    stale = s._begin_run(config)  # interrupted, then another run completes
    with s.transaction() as conn:
        conn.execute("UPDATE runs SET created = '2026-01-01T00:00:00Z' WHERE run_id = ?",
                     (stale,))
    other = s.run(make_corpus(), seed=1)
    assert s.latest_run_id() == other.id
    assert s.run(corpus).id == stale  # resumed, finished last
    assert s.latest_run_id() == stale
    s.close()


def test_a_store_locked_by_another_program_says_so_not_that_it_is_no_store(tmp_path,
                                                                            monkeypatch):
    path = tmp_path / "old.sqlite"
    conn = sqlite3.connect(path)
    for statement in study_module.MIGRATIONS[0]:  # an old store: opening it migrates
        conn.execute(statement)
    conn.execute(f"PRAGMA application_id = {study_module.APPLICATION_ID}")
    conn.execute("PRAGMA user_version = 1")
    conn.commit()
    conn.execute("BEGIN IMMEDIATE")  # another program writing
    monkeypatch.setattr(study_module, "_BUSY_TIMEOUT_MS", 100)
    try:
        with pytest.raises(ts.StoreError, match="in use by another program"):
            Study.open(path).runs
    finally:
        conn.rollback()
        conn.close()


def test_no_run_yet_names_the_store_file_as_opened(tmp_path):
    with Study.open(tmp_path / "mine.db") as s:
        with pytest.raises(ts.InputError, match=f"--study {tmp_path / 'mine.db'},"):
            s.latest_run_id()


def test_rerun_keeps_decisions_and_suggestion_ids(study):
    first = study.runs["run_id"][0]
    study.decide("unit:u1", "accept", analyst="KJ")
    study.decide(f"code:{first}:C02", "accept")
    second = study.run(make_corpus())
    assert second.id != first
    assert "unit:u1" in set(second.suggestions["suggestion_id"])
    assert len(study.decisions) == 2
    coding = study.coding().set_index("unit_id")
    assert coding.loc["u1", "theme_id"] == "relationships"
    assert coding.loc["u3", "source"] == "code"


def test_a_run_loads_its_own_units(study, monkeypatch):
    from dataclasses import replace

    first = study.runs["run_id"][0]

    def edited(corpus, framework, **kwargs):  # u5's words were edited away
        result = fake_result(corpus, framework)
        return replace(result, units=result.units[result.units["unit_id"] != "u5"],
                       unit_suggestions=result.unit_suggestions[
                           result.unit_suggestions["unit_id"] != "u5"])

    monkeypatch.setattr(pipeline_module, "run_pipeline", edited)
    second = study.run(make_corpus()).id
    assert "u5" in set(study.load_run(first).units["unit_id"])
    assert "u5" not in set(study.load_run(second).units["unit_id"])  # it had them all


def test_every_run_keeps_its_own_unit_suggestions(study, monkeypatch):
    first = study.runs["run_id"][0]
    before = study.load_run(first).suggestions

    def again(corpus, framework, **kwargs):  # the next run suggests otherwise
        result = fake_result(corpus, framework)
        result.unit_suggestions["theme_id"] = "symptoms_barrier"
        result.unit_suggestions["rationale"] = "second look"
        return result

    monkeypatch.setattr(pipeline_module, "run_pipeline", again)
    second = study.run(make_corpus()).id
    kept = study.load_run(first).suggestions
    assert kept.equals(before)  # the first run's unit suggestions are still its own
    assert kept["level"].value_counts().to_dict() == {"unit": 6, "code": 2}
    now = study.load_run(second).suggestions
    assert set(now.loc[now["level"] == "unit", "theme_id"]) == {"symptoms_barrier"}
    assert now["suggestion_id"].tolist()[2:] == [f"unit:u{i}" for i in range(6)]
    conn = sqlite3.connect(study.path)
    counts = conn.execute("SELECT run_id, count(*) FROM unit_suggestions GROUP BY run_id "
                          "ORDER BY run_id").fetchall()
    conn.close()
    assert sorted(counts) == sorted([(first, 6), (second, 6)])
    # a decision is on the latest run's suggestion, or on the run the analyst reviewed
    study.decide("unit:u0", "accept", analyst="KJ")
    study.decide("unit:u1", "accept", analyst="KJ", run_id=first)
    assert study.decisions[["run_id", "theme_id"]].values.tolist() == [
        [second, "symptoms_barrier"], [first, "relationships"]]
    with pytest.raises(ts.InputError, match="The study has no run 'run-nope'.*study.runs"):
        study.decide("unit:u1", "accept", analyst="KJ", run_id="run-nope")


def test_version_3_store_is_migrated_keeping_its_unit_suggestions(study):
    run_id = study.runs["run_id"][0]
    before = study.load_run(run_id).suggestions
    study.close()
    conn = sqlite3.connect(study.path)
    with conn:  # a store as version 3 wrote it: unit suggestions only in suggestions
        conn.execute("DROP TABLE unit_suggestions")
        conn.execute("PRAGMA user_version = 3")
    conn.close()
    with Study.open(study.path) as s:
        assert s.schema_version == SCHEMA_VERSION
        assert s.load_run(run_id).suggestions.equals(before)


def test_real_run_on_a_sample_transcript(tmp_path, sample_dir, embedder):
    with Study.open(tmp_path / "s") as s:
        run = s.run(sample_dir / "fg1_act_team.txt", "recovery", embedder=embedder, seed=0)
        assert len(run.units) > 20 and len(run.codes) >= 2
        offered = run.result.suggestions["offered"]
        assert len(run.suggestions) == len(run.units) + offered.sum()
        assert offered.sum() >= 1 and run.result.suggestions["agreement"][offered].min() >= 0.6
        assert set(run.suggestions["level"]) == {"code", "unit"}
        assert s.runs["status"].tolist() == ["complete"]
        stored = s.load_run(run.id).units.set_index("unit_id")["small_talk"]
        assert stored.dtype == bool and stored.any()
        assert stored.to_dict() == run.units.set_index("unit_id")["small_talk"].to_dict()
        unit_id = run.units["unit_id"][0]
        s.decide(f"unit:{unit_id}", "reassign", theme_id="none", analyst="KJ")
        assert s.coding()[["unit_id", "theme_id"]].values.tolist() == [[unit_id, "none"]]


# -- decisions and coding --------------------------------------------------------------------------

def test_decide_records_decisions_in_order(study):
    run_id = study.runs["run_id"][0]
    first = study.decide("unit:u0", "accept", analyst="KJ", note="clear")
    second = study.decide("unit:u0", "reassign", theme_id="hope", analyst="AB")
    assert second > first
    d = study.decisions
    assert d.columns.tolist() == ["id", "time", "analyst", "suggestion_id", "run_id", "action",
                                  "theme_id", "note"]
    shown = d[["suggestion_id", "run_id", "action", "theme_id", "analyst", "note"]]
    assert shown.values.tolist() == [
        ["unit:u0", run_id, "accept", "relationships", "KJ", "clear"],
        ["unit:u0", run_id, "reassign", "hope", "AB", ""]]
    assert d["time"][0].endswith("+00:00")


def test_decisions_grouped_in_a_transaction_are_kept_or_undone_together(study):
    """with study.transaction(): around several decide() (a bug error before)."""
    with study.transaction():
        study.decide("unit:u0", "accept", analyst="KJ")
        study.decide("unit:u1", "reject", analyst="KJ")
    assert len(study.decisions) == 2
    with pytest.raises(RuntimeError, match="changed my mind"):
        with study.transaction():
            study.decide("unit:u2", "accept", analyst="KJ")
            raise RuntimeError("changed my mind")
    assert len(study.decisions) == 2
    with study.transaction():  # a refused decision inside leaves the others
        study.decide("unit:u2", "accept", analyst="KJ")
        with pytest.raises(InputError):
            study.decide("unit:u3", "reassign", theme_id="no_such_theme")
    assert study.decisions["suggestion_id"].tolist() == ["unit:u0", "unit:u1", "unit:u2"]
    with pytest.raises(StoreError, match="inside a read"), study.reading():
        with study.transaction():
            pass


def test_a_rerun_sheet_says_how_many_members_of_a_code_are_decided_already(study):
    from themesift.review.sheet import review_sheet

    study.decide("unit:u3", "accept", analyst="KJ")  # C02 (hope) would code u3 and u4
    run = study.run(make_corpus())
    sheet = review_sheet(run.result, run_id=run.id, study=study).set_index("item_id")
    assert sheet.loc["C02", "rationale"].endswith(
        " Since then, 1 of the 2 it would code has been decided: accepting it now changes only "
        "the other 1.")
    assert "decided already" not in sheet.loc["C01", "rationale"]


def test_decide_takes_an_action_and_a_theme_in_any_letter_case(study):
    study.decide("unit:u0", " Reassign", theme_id="Hope ", analyst="KJ")
    assert study.decisions[["action", "theme_id"]].values.tolist() == [["reassign", "hope"]]
    with pytest.raises(ts.InputError, match="Unknown action .approve."):
        study.decide("unit:u0", "approve", analyst="KJ")


def test_coding_rules(study):
    run_id = study.runs["run_id"][0]
    study.decide("unit:u0", "accept")                       # relationships
    study.decide("unit:u0", "reassign", theme_id="hope")    # latest wins
    study.decide("unit:u1", "accept")
    study.decide("unit:u1", "reject")                       # reject removes
    study.decide(f"code:{run_id}:C01", "accept")            # relationships for u0..u2
    study.decide("unit:u5", "reassign", theme_id="none")
    study.decide(f"code:{run_id}:C02", "reject")            # codes nothing
    coding = study.coding()
    assert coding.columns.tolist() == ["unit_id", "doc_id", "theme_id", "decision_id", "analyst",
                                       "source"]
    rows = coding[["unit_id", "theme_id", "source"]].values.tolist()
    # u0: unit decision beats code; u1: rejected at unit level, so not coded from the code
    # either; u2: undecided member of an accepted code; u3, u4: members of a rejected code.
    assert rows == [["u0", "hope", "unit"], ["u2", "relationships", "code"],
                    ["u5", "none", "unit"]]
    assert set(coding["doc_id"]) == {"t1"}


def test_the_members_of_a_code_accepted_in_one_click_are_one_decision_in_the_examples(study):
    run_id = study.runs["run_id"][0]
    study.decide("unit:u5", "accept")
    code = study.decide(f"code:{run_id}:C01", "accept")     # relationships for u0..u2
    study.decide("unit:u4", "reject")
    examples = study.examples().set_index("unit_id")
    assert examples.loc[["u0", "u1", "u2"], "decision_id"].tolist() == [code] * 3
    assert examples.loc["u4", "rejected"]
    assert len(set(examples.loc[["u0", "u4", "u5"], "decision_id"])) == 3


def test_code_decision_latest_wins(study):
    run_id = study.runs["run_id"][0]
    study.decide(f"code:{run_id}:C01", "accept")
    assert len(study.coding()) == 3
    study.decide(f"code:{run_id}:C01", "reject")
    assert study.coding().empty
    study.decide(f"code:{run_id}:C01", "reassign", theme_id="symptoms_barrier")
    assert set(study.coding()["theme_id"]) == {"symptoms_barrier"}


def test_a_code_rejected_on_a_later_run_takes_back_an_earlier_runs_accept(study):
    # Day 1 accepted C01; day 2, on the re-run, the analyst accepted the same code and took it
    # back with a reject: day 1's accept still coded its members, though the latest decision
    # on them was the reject (a reject is how a mistaken accept is taken back).
    first = study.runs["run_id"][0]
    study.decide(f"code:{first}:C01", "accept")
    second = study.run(make_corpus()).id
    study.decide(f"code:{second}:C01", "accept")
    assert len(study.coding()) == 3
    study.decide(f"code:{second}:C01", "reject")
    assert study.coding().empty
    # ... and an accept after it codes them again, whichever run's code it is
    study.decide(f"code:{first}:C01", "accept")
    assert study.coding()["unit_id"].tolist() == ["u0", "u1", "u2"]
    # a reject codes nothing and takes nothing back where the members have their own decisions
    study.decide("unit:u1", "accept")
    study.decide(f"code:{second}:C01", "reject")
    assert study.coding()[["unit_id", "source"]].values.tolist() == [["u1", "unit"]]


def test_a_code_rejected_on_a_later_run_keeps_its_members_other_themes(study, fake_stages):
    # Rejecting "not hope" took back the members' relationships coding of an earlier run.
    first = study.runs["run_id"][0]
    study.decide(f"code:{first}:C01", "accept")  # relationships: u0, u1, u2
    fake_stages["codes"] = {"X0": [3, 4, 5], "X1": [0, 1, 2]}  # X1 hope, its members hope now
    second = study.run(make_corpus()).id
    study.decide(f"code:{second}:X1", "reject")
    assert study.coding()["theme_id"].tolist() == ["relationships"] * 3
    # ... and a reassignment of an earlier run stays when a later run's code is rejected
    study.decide(f"code:{first}:C01", "reassign", theme_id="hope")
    fake_stages["codes"] = None  # C01 relationships again
    third = study.run(make_corpus()).id
    study.decide(f"code:{third}:C01", "reject")
    assert study.coding()["theme_id"].tolist() == ["hope"] * 3


def test_accepting_a_code_never_codes_a_member_against_its_own_suggestion(study):
    run_id = study.runs["run_id"][0]
    code = f"code:{run_id}:C02"  # hope; u3 and u4 are suggested hope, u5 relationships
    assert study.code_reach(code) == (2, 3, 0)
    study.decide(code, "accept")
    coding = study.coding()
    assert coding[["unit_id", "theme_id", "source"]].values.tolist() == [
        ["u3", "hope", "code"], ["u4", "hope", "code"]]
    study.decide("unit:u5", "accept")  # the member left pending is decided on its own
    assert study.coding().set_index("unit_id").loc["u5", "theme_id"] == "relationships"
    study.decide(code, "reassign", theme_id="symptoms_barrier")  # the analyst's theme: all
    assert study.coding().set_index("unit_id")["theme_id"].to_dict() == {
        "u3": "symptoms_barrier", "u4": "symptoms_barrier", "u5": "relationships"}
    with pytest.raises(ts.InputError, match="Unknown code suggestion 'unit:u0'"):
        study.code_reach("unit:u0")


def test_a_code_of_a_run_stored_before_version_3_codes_all_its_members(study):
    run_id = study.runs["run_id"][0]
    conn = sqlite3.connect(study.path)
    with conn:  # what migrating a version 2 store leaves: no member's own suggestion
        conn.execute("UPDATE code_members SET theme_id = NULL")
    conn.close()
    assert study.code_reach(f"code:{run_id}:C02") == (3, 3, 0)
    study.decide(f"code:{run_id}:C02", "accept")
    assert study.coding()["unit_id"].tolist() == ["u3", "u4", "u5"]


def test_decisions_cannot_be_updated_or_deleted(study):
    study.decide("unit:u0", "accept")
    conn = sqlite3.connect(study.path)
    with pytest.raises(sqlite3.DatabaseError, match="append-only"):
        conn.execute("UPDATE decisions SET action = 'reject'")
    with pytest.raises(sqlite3.DatabaseError, match="append-only"):
        conn.execute("DELETE FROM decisions")
    conn.close()
    assert study.decisions["action"].tolist() == ["accept"]


@pytest.mark.parametrize("args, kwargs, message", [
    (("unit:u0", "approve"), {}, "Unknown action 'approve'. Available: accept, reject, reassign"),
    (("unit:nope", "accept"), {}, "Unknown suggestion 'unit:nope'.*look like 'unit:<unit_id>'"),
    (("unit:u0", "reassign"), {}, "needs a theme_id. Available: relationships, hope, "
                                  "structural_tension, symptoms_barrier, none"),
    (("unit:u0", "reassign"), {"theme_id": "hopes"}, "unknown theme 'hopes'. Available: "
                                                     "relationships, hope"),
    (("unit:u0", "accept"), {"theme_id": "hope"}, "suggested theme is 'relationships'.*reassign"),
    (("unit:u0", "reassign"), {"theme_id": "trust_over_time"},
     "'trust_over_time': it is a subtheme of 'relationships'.*Reassign it to 'relationships'"),
])
def test_bad_decisions_are_refused_with_messages(study, args, kwargs, message):
    with pytest.raises(ts.InputError, match=message):
        study.decide(*args, **kwargs)
    assert study.decisions.empty


def test_decide_is_fast(study):
    timings = []
    for i in range(50):
        started = time.perf_counter()
        study.decide(f"unit:u{i % 6}", "accept")
        timings.append(time.perf_counter() - started)
    median_ms = statistics.median(timings) * 1000
    print(f"decide median {median_ms:.2f} ms")
    assert median_ms < 20


def test_coding_of_10000_decided_units_is_fast(tmp_path, fake_stages):
    n = 10_000
    fake_stages.update(n_units=n, codes={f"C{k:03d}": list(range(k, n, 100)) for k in range(100)})
    s = Study.open(tmp_path / "s")
    run = s.run(make_corpus())
    conn = sqlite3.connect(s.path)
    actions = ["accept", "reassign", "reject", "accept"]
    rows = [("2026-01-01T00:00:00+00:00", "KJ", f"unit:u{i}", run.id, actions[i % 4], "hope", "")
            for i in range(n) if i % 5]  # every fifth unit is left to the code decisions
    rows += [("2026-01-01T00:00:00+00:00", "KJ", f"code:{run.id}:C{k:03d}", run.id, "accept",
              THEMES[k % 4], "") for k in range(100)]
    with conn:
        conn.executemany("INSERT INTO decisions (time, analyst, suggestion_id, run_id, action, "
                         "theme_id, note) VALUES (?,?,?,?,?,?,?)", rows)
    conn.close()
    started = time.perf_counter()
    coding = s.coding()
    seconds = time.perf_counter() - started
    print(f"coding() of {n} units: {seconds:.3f} s")
    # 8,000 unit decisions of which 2,000 rejects; the 2,000 undecided units come from codes
    assert len(coding) == 8_000
    assert (coding["source"] == "code").sum() == n // 5
    assert seconds < 1
    s.close()


# -- concurrency and crashes -----------------------------------------------------------------------

DECIDER = textwrap.dedent("""
    import os, sys, time
    from themesift.study import Study
    study = Study.open(sys.argv[1])
    n = int(sys.argv[2])
    if len(sys.argv) > 4:  # start together: say ready, then wait for the starting gun
        print("ready", flush=True)
        while not os.path.exists(sys.argv[4]):
            pass
    i = 0
    while n < 0 or i < n:
        study.decide(f"unit:u{i % 6}", "accept", analyst=sys.argv[3], note=f"decision {i}")
        i += 1
        print(i, flush=True)
        if len(sys.argv) > 4:
            time.sleep(0.002)  # leave a gap for the other process, as two analysts would
""")


def test_two_processes_deciding_at_once_lose_and_duplicate_nothing(study, tmp_path):
    go = tmp_path / "go"
    procs = [subprocess.Popen([sys.executable, "-c", DECIDER, str(study.path), "50", name, str(go)],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for name in ("A", "B")]
    for proc in procs:
        assert proc.stdout.readline().strip() == "ready", proc.stderr.read()
    go.touch()
    results = [p.communicate(timeout=120) for p in procs]
    for proc, (_, err) in zip(procs, results):
        assert proc.returncode == 0, err
    d = study.decisions
    assert len(d) == 100 and d["id"].is_unique
    assert d.groupby("analyst").size().to_dict() == {"A": 50, "B": 50}
    for name in ("A", "B"):
        notes = d.loc[d.analyst == name, "note"].tolist()
        assert notes == [f"decision {i}" for i in range(50)]
    switches = (d["analyst"] != d["analyst"].shift()).sum() - 1
    print(f"the two processes' decisions interleave {switches} times")
    assert switches > 1  # they really did write at the same time


RUN_FOREVER = textwrap.dedent("""
    import sys, time
    from themesift import pipeline as pipeline_module, study as study_module
    sys.path.insert(0, sys.argv[2])
    from test_study import make_corpus

    def stages(*args, **kwargs):  # the pipeline, stuck half way
        print("running", flush=True)
        time.sleep(600)

    pipeline_module.run_pipeline = stages
    study_module.Study.open(sys.argv[1]).run(make_corpus())
""")


def test_process_killed_mid_run_leaves_a_resumable_run(tmp_path, fake_stages):
    path = tmp_path / "s"
    proc = subprocess.Popen([sys.executable, "-c", RUN_FOREVER, str(path),
                             os.path.dirname(__file__)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "running", proc.stderr.read()
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.wait(timeout=30)
    with Study.open(path) as s:
        stale = s.runs
        assert stale["status"].tolist() == ["running"]
        run = s.run(make_corpus())
        assert run.id == stale["run_id"][0]
        assert s.runs["status"].tolist() == ["complete"]
        assert len(s.decisions) == 0 and len(run.suggestions) == 8


def test_process_killed_while_deciding_leaves_store_consistent(study):
    proc = subprocess.Popen([sys.executable, "-c", DECIDER, str(study.path), "-1", "K"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        for line in proc.stdout:
            if int(line) >= 30:
                break
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL
    study.close()
    conn = sqlite3.connect(study.path)
    assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    assert conn.execute("PRAGMA foreign_key_check").fetchall() == []
    conn.close()
    reopened = Study.open(study.path)
    d = reopened.decisions
    assert len(d) >= 30
    assert d[["time", "suggestion_id", "run_id", "action", "theme_id"]].notna().all().all()
    assert (d["analyst"] == "K").all() and d["note"].str.startswith("decision ").all()
    reopened.decide("unit:u0", "reject")  # still writable after the crash
    reopened.close()


def test_the_next_run_learns_from_the_analysts_coding(study, fake_stages):
    assert fake_stages["kwargs"]["examples"] is None  # nothing decided yet
    study.decide("unit:u0", "reassign", theme_id="hope", analyst="KJ")
    study.decide("unit:u1", "accept", analyst="KJ")
    study.decide("unit:u2", "reject", analyst="KJ")
    examples = study.examples().set_index("unit_id")
    assert list(examples.columns) == ["text", "theme_id", "rejected", "decision_id"]
    assert examples.loc["u0", "theme_id"] == "hope" and not examples.loc["u0", "rejected"]
    assert examples.loc["u1", "theme_id"] == "relationships" and not examples.loc["u1", "rejected"]
    # rejected: negative evidence for the suggested theme (u2 was suggested relationships)
    assert examples.loc["u2", "theme_id"] == "relationships" and examples.loc["u2", "rejected"]
    study.run(make_corpus())
    passed = fake_stages["kwargs"]["examples"]
    assert list(passed.columns) == ["text", "theme_id", "rejected", "decision_id"]
    assert len(passed) == len(examples)
    study.run(make_corpus(), learn=False)
    assert fake_stages["kwargs"]["examples"] is None


def test_a_revised_codebook_learns_from_the_decisions_it_still_has_themes_for(
        study, fake_stages, caplog):
    import dataclasses

    from themesift.frameworks import load_framework

    study.decide("unit:u0", "reassign", theme_id="hope", analyst="KJ")
    study.decide("unit:u1", "accept", analyst="KJ")  # relationships, which the revision drops
    recovery = load_framework("recovery")
    revised = dataclasses.replace(recovery, themes=tuple(
        t for t in recovery.themes if t.id != "relationships"))
    with caplog.at_level("WARNING", logger="themesift.study"):
        study.run(make_corpus(), revised)
    passed = fake_stages["kwargs"]["examples"]
    assert passed["theme_id"].tolist() == ["hope"]
    assert "1 decisions name themes that framework" in caplog.text and "relationships" in caplog.text
    assert len(study.decisions) == 2  # the decisions themselves stand


def test_reassigning_to_the_suggested_theme_is_an_accept(study):
    """As in the review sheet, where writing the suggested theme's id is an accept: both code
    the same units (a code's agreeing members only)."""
    run_id = study.runs["run_id"][0]
    code = f"code:{run_id}:C02"  # hope; u5 is suggested relationships on its own
    study.decide(code, "reassign", theme_id="hope", analyst="KJ")
    study.decide("unit:u0", "reassign", theme_id="relationships", analyst="KJ")
    assert study.decisions[["action", "theme_id"]].values.tolist() == [
        ["accept", "hope"], ["accept", "relationships"]]
    assert study.coding()["unit_id"].tolist() == ["u0", "u3", "u4"]


def test_code_reach_counts_what_accepting_then_codes(study):
    """Members decided one by one keep their decisions: an accept does not code them."""
    run_id = study.runs["run_id"][0]
    code = f"code:{run_id}:C01"  # relationships, as u0, u1 and u2 are on their own
    study.decide("unit:u1", "reject", analyst="KJ")
    study.decide("unit:u2", "reassign", theme_id="hope", analyst="KJ")
    reach = study.code_reach(code)
    assert reach == (1, 3, 2) and (reach.coded, reach.members, reach.decided) == (1, 3, 2)
    assert reach.pending == 0
    study.decide(code, "accept", analyst="KJ")
    assert study.coding().query("source == 'code'")["unit_id"].tolist() == ["u0"]


def test_a_decision_without_an_analyst_is_the_os_users_or_refused(study, monkeypatch):
    import getpass

    monkeypatch.setattr(getpass, "getuser", lambda: "kjones")
    study.decide("unit:u0", "accept")
    study.decide("unit:u1", "accept", analyst="  ")
    assert study.decisions["analyst"].tolist() == ["kjones", "kjones"]

    def unknown():
        raise OSError("No username set in the environment")

    monkeypatch.setattr(getpass, "getuser", unknown)
    with pytest.raises(ts.InputError, match="no analyst.*analyst='KJ'"):
        study.decide("unit:u2", "accept")
    assert len(study.decisions) == 2


def test_a_run_shows_as_a_line_not_its_tables(study):
    # a run left last in a notebook cell printed every unit row and the codes and suggestions
    run = study.load_run(study.latest_run_id())
    assert repr(run) == (f"Run({run.id!r}: 6 units, 2 codes, 6 unit and 2 code suggestions)")
