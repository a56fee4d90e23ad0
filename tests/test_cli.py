"""The `themesift` command: help, exit codes, messages for people."""

import json
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

from themesift.cli import main

ROOT = Path(__file__).resolve().parents[1]


def run_cli(*args: str) -> subprocess.CompletedProcess:
    exe = Path(sys.executable).with_name("themesift")
    return subprocess.run([str(exe), *args], capture_output=True, text=True, cwd=ROOT)


def test_help_is_fast_and_lists_the_commands():
    started = time.perf_counter()
    result = run_cli("--help")
    elapsed = time.perf_counter() - started
    assert result.returncode == 0
    assert "segment" in result.stdout
    assert elapsed < 1.0, f"themesift --help took {elapsed:.2f} s"


def test_python_dash_m_is_the_same_command():
    result = subprocess.run([sys.executable, "-m", "themesift", "frameworks"], capture_output=True,
                            text=True, cwd=ROOT)
    assert result.returncode == 0 and "recovery" in result.stdout
    usage = subprocess.run([sys.executable, "-m", "themesift", "nonsense"], capture_output=True,
                           text=True, cwd=ROOT)
    assert usage.returncode == 2 and usage.stderr.startswith("usage: themesift")


def test_import_is_fast_and_loads_no_heavy_library():
    code = ("import sys, time; t = time.perf_counter(); import themesift; "
            "print(time.perf_counter() - t); "
            "print([m for m in ('torch', 'spacy', 'pandas', 'sentence_transformers', 'bertopic', 'docx')"
            " if m in sys.modules])")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    seconds, heavy = out.stdout.splitlines()
    assert float(seconds) < 1.0
    assert heavy == "[]"


def test_every_command_has_help_text():
    from themesift.cli import _parser

    parser = _parser()
    verbs = parser._subparsers._group_actions[0]
    for name, sub in verbs.choices.items():
        assert sub.description, name
    for action in verbs._choices_actions:
        assert action.help, action.dest


def test_no_command_is_a_usage_error(capsys):
    assert main([]) == 2
    assert "commands" in capsys.readouterr().out


def test_unknown_option_exits_2_without_traceback():
    result = run_cli("segment", "--no-such-option", "x.txt")
    assert result.returncode == 2
    assert "unrecognized arguments" in result.stderr and "Traceback" not in result.stderr
    # said by the command, with its usage and where its options are
    assert "usage: themesift segment" in result.stderr
    assert "the options are in 'themesift segment --help'" in result.stderr
    early = run_cli("--quiet", "run", "x.txt", "--out", "o")  # run's option before the command
    assert early.returncode == 2
    assert "themesift run: error: --quiet goes after the command" in early.stderr


@pytest.mark.parametrize("name", ["empty.txt", "binary.txt", "no_turns.txt", "notes.pdf", "missing.txt"])
def test_bad_input_exits_1_with_one_readable_line(name):
    result = run_cli("segment", f"tests/fixtures/{name}")
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) <= 2 and lines[0].startswith("themesift segment: error: tests/fixtures/" + name)


def test_segment_prints_a_summary_and_writes_units(tmp_path, fixtures, capsys):
    out = tmp_path / "units.csv"
    assert main(["segment", str(fixtures / "basic.txt"), str(fixtures / "teams.vtt"),
                 "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "| transcript" in printed and "| basic" in printed and "| teams" in printed
    units = pd.read_csv(out)
    assert list(units.columns) == ["unit_id", "doc_id", "speaker", "role", "turn", "start", "end", "text",
                                    "small_talk", "short_reply"]
    assert set(units["doc_id"]) == {"basic", "teams"}


def test_moderator_option(fixtures, tmp_path, capsys):
    out = tmp_path / "u.csv"
    assert main(["segment", str(fixtures / "basic.txt"), "--moderator", "P3",
                 "--include-moderator", "--out", str(out)]) == 0
    units = pd.read_csv(out)
    assert set(units.loc[units["role"] == "moderator", "speaker"]) == {"P3"}


def test_readme_commands_exist():
    readme = (ROOT / "README.md").read_text()
    assert "make demo" in readme and "make test" in readme
    from themesift.cli import _parser

    verbs = set(_parser()._subparsers._group_actions[0].choices)
    in_code = False
    for line in readme.splitlines():
        if line.startswith("```"):
            in_code = not in_code
        elif in_code and line.startswith("themesift "):
            assert line.split()[1] in verbs | {"--help", "--version"}, line


def test_run_with_an_unknown_framework_exits_1_and_writes_nothing(tmp_path, capsys):
    out = tmp_path / "out"
    assert main(["run", "tests/fixtures/basic.txt", "--framework", "recovry", "--out", str(out)]) == 1
    err = capsys.readouterr().err
    assert "Unknown framework 'recovry'. Available: recovery" in err
    assert not out.exists()


def test_run_on_too_few_units_exits_1_and_writes_nothing(tmp_path, capsys):
    out = tmp_path / "out"
    assert main(["run", "tests/fixtures/basic.txt", "--out", str(out), "--quiet"]) == 1
    assert "too few" in capsys.readouterr().err
    assert not out.exists()


def test_run_names_skipped_files_and_shows_each_stage_when_stderr_is_not_a_terminal(
        tmp_path, monkeypatch, capsys):
    from conftest import FakeEmbedder

    from themesift import embed

    folder = tmp_path / "transcripts"
    folder.mkdir()
    (folder / "fg1.txt").write_bytes((ROOT / "data/sample/fg1_act_team.txt").read_bytes())
    (folder / "notes.pdf").write_bytes((ROOT / "tests/fixtures/notes.pdf").read_bytes())
    monkeypatch.setattr(embed, "Embedder", lambda *args, **kwargs: FakeEmbedder())
    assert main(["run", str(folder), "--out", str(tmp_path / "out"),
                 "--framework", "recovery"]) == 0
    captured = capsys.readouterr()
    lines = captured.err.splitlines()
    assert lines[2] == (f"themesift run: warning: {folder / 'notes.pdf'}: skipped: themesift "
                        "does not read '.pdf' files. Save the transcript as .docx or .txt from "
                        "the program that made the PDF, or move it out of the folder.")
    stages = [line.split(":")[1].strip() for line in lines if "warning:" not in line]
    assert stages == ["framework", "read", "segment", "embed", "discover", "suggest", "write"]
    assert "1 transcript, 78 units" in captured.out and "1 skipped file in" in captured.out
    manifest = json.loads((tmp_path / "out" / "manifest.json").read_text())
    assert manifest["skipped_files"] == [str(folder / "notes.pdf")]
    # --quiet: no stage lines, but the skipped file is still named
    assert main(["run", str(folder), "--out", str(tmp_path / "out"), "--quiet"]) == 0
    assert capsys.readouterr().err.splitlines() == [lines[2]]


def test_without_framework_a_run_says_it_uses_the_builtin_and_a_rerun_keeps_the_studys(
        study_run, capsys, tmp_path):
    from themesift.study import Study

    out, store = study_run  # its run gave no --framework
    own = tmp_path / "mine.yaml"
    own.write_text("name: mine\nversion: 1\ndescription: d\nthemes:\n"
                   "  - {id: access, name: Access, description: Getting to the clinic.}\n"
                   "  - {id: staff, name: Staff, description: How staff treat patients.}\n"
                   "  - {id: diet, name: Diet, description: Food and blood sugar.}\n")
    assert main(["run", "tests/fixtures/basic.txt", "--out", str(out / "a"), "--study",
                 str(store), "--framework", str(own), "--quiet"]) == 0
    capsys.readouterr()
    assert main(["run", "tests/fixtures/basic.txt", "--out", str(out / "b"), "--study",
                 str(store)]) == 0
    assert "no --framework was given" not in capsys.readouterr().err
    with Study.open(store) as study:
        assert study.framework().name == "mine"  # the study's own, not the built-in
    assert main(["run", "tests/fixtures/basic.txt", "--out", str(out / "c"), "--study",
                 str(tmp_path / "new")]) == 0  # a new study: the built-in, said
    assert ("themesift run: no --framework was given, so the built-in 'recovery'"
            in capsys.readouterr().err)


def test_the_readme_review_loop_works_right_after_make_demo(tmp_path, monkeypatch, capsys):
    """`make demo`'s own command, then the README's commands on out/demo (in a temporary
    folder), with a decision filled into the demo's review.xlsx in between."""
    from conftest import FakeEmbedder
    from openpyxl import load_workbook

    from themesift import Study, embed, read_qdpx

    (demo,) = [line.split()[1:] for line in (ROOT / "Makefile").read_text().splitlines()
               if line.startswith("\t$(VENV)/bin/themesift run")]
    loop = [line.split()[1:] for line in (ROOT / "README.md").read_text().splitlines()
            if line.startswith("themesift ") and " out/demo" in line]
    assert [args[0] for args in loop] == ["apply", "export", "export"]
    out = tmp_path / "out" / "demo"

    def here(args):
        return [a.replace("out/demo", str(out)).replace("data/sample", str(ROOT / "data/sample"))
                for a in args]

    monkeypatch.setattr(embed, "Embedder", lambda *args, **kwargs: FakeEmbedder())
    assert main(here(demo)) == 0
    stages = capsys.readouterr().err  # not a terminal: a line per stage, and the study's
    assert "started on 4 transcripts" in stages and "themesift run: suggest: " in stages
    book = load_workbook(out / "review.xlsx")
    sheet = book["review"]
    header = [c.value for c in sheet[1]]
    sheet.cell(2, header.index("decision") + 1).value = "accept"
    suggestion = sheet.cell(2, header.index("suggestion_id") + 1).value
    book.save(out / "review.xlsx")
    for args in loop:
        assert main(here(args)) == 0, capsys.readouterr().err
    with Study.open(out) as study:
        assert study.decisions[["suggestion_id", "analyst"]].values.tolist() == [[suggestion, "KJ"]]
    assert "KJ" in set(read_qdpx(out / "demo.qdpx").codings["coder"])
    assert (out / "codes.xlsx").is_file()


@pytest.fixture
def table(tmp_path):
    path = tmp_path / "quotes.csv"
    pd.DataFrame({
        "quote_id": ["q1", "q2", "q3"],
        "quote": ["It took months before he trusted me enough to open the door.",
                  "The council only funds twelve weeks, then he has to be discharged.",
                  "Is the recorder on?"],
    }).to_csv(path, index=False)
    return path


def test_suggest_writes_one_row_per_input_row(table, tmp_path, capsys):
    out = tmp_path / "preds.csv"
    assert main(["suggest", str(table), "--text-column", "quote", "--id-column", "quote_id",
                 "--out", str(out), "--quiet"]) == 0
    preds = pd.read_csv(out)
    # DESIGN: "id, theme_id, score, runner_up, rationale", whatever --id-column names
    assert list(preds.columns) == ["id", "theme_id", "score", "runner_up", "rationale", "fit"]
    assert list(preds["id"]) == ["q1", "q2", "q3"]
    assert preds.loc[0, "theme_id"] == "relationships"
    assert preds.loc[1, "theme_id"] == "structural_tension"


def test_suggest_takes_a_none_level_of_the_analysts_own(table, tmp_path, capsys):
    out = tmp_path / "preds.csv"
    assert main(["suggest", str(table), "--text-column", "quote", "--out", str(out), "--quiet",
                 "--none-similarity", "0.99"]) == 0
    assert set(pd.read_csv(out)["theme_id"]) == {"none"}  # no row is that close to a theme
    with pytest.raises(SystemExit) as usage:
        main(["suggest", str(table), "--text-column", "quote", "--out", str(out),
              "--none-similarity", "2"])
    assert usage.value.code == 2
    assert "--none-similarity: must be a number from -1 to 1" in capsys.readouterr().err


def test_suggest_refuses_to_write_over_its_own_table_or_examples(table, tmp_path, capsys):
    before = table.read_bytes()
    assert main(["suggest", str(table), "--text-column", "quote", "--out", str(table)]) == 1
    assert "--out is the table file itself" in capsys.readouterr().err
    examples = tmp_path / "coded.csv"
    examples.write_text("text,theme_id\nWe cooked together.,relationships\n")
    assert main(["suggest", str(table), "--text-column", "quote", "--examples", str(examples),
                 "--out", str(tmp_path / "." / "coded.csv")]) == 1
    assert "--out is the examples file itself" in capsys.readouterr().err
    assert table.read_bytes() == before and "cooked" in examples.read_text()


def test_suggest_without_the_text_column_lists_the_columns(table, tmp_path, capsys):
    out = tmp_path / "preds.csv"
    assert main(["suggest", str(table), "--out", str(out)]) == 1
    err = capsys.readouterr().err
    assert "quotes.csv, line 1: No column 'text'. Columns in the file: quote_id, quote" in err
    assert not out.exists()


@pytest.mark.parametrize("out", ["p.csv", "p.xlsx"])
def test_suggest_gives_empty_text_cells_rows_of_none_and_names_them(tmp_path, capsys, out,
                                                                    fake_embedder, monkeypatch):
    # Survey exports have unanswered questions: the whole job stopped at them, and deleting
    # the rows as told shifted the row-number ids away from the export's.
    monkeypatch.setattr("themesift.embed.Embedder", lambda *a, **k: fake_embedder)
    path = tmp_path / "t.csv"
    path.write_text("site,text\nA,Rent arrears and eviction.\nB,\nC,  \nD,Her mum rings.\n")
    assert main(["suggest", str(path), "--framework", "recovery", "--out",
                 str(tmp_path / out)]) == 0
    assert ("t.csv: 2 rows have no text in the 'text' column (row3, row4): suggested none."
            in capsys.readouterr().err)
    rows = (pd.read_csv if out.endswith(".csv") else pd.read_excel)(tmp_path / out)
    assert rows["id"].tolist() == ["row2", "row3", "row4", "row5"]
    assert rows["theme_id"].tolist()[1:3] == ["none", "none"]
    assert rows["rationale"].tolist()[1:3] == ["No text: the cell is empty."] * 2
    assert not rows["rationale"][[0, 3]].str.startswith("No text").any()


def test_suggest_with_every_text_cell_empty_says_to_check_the_column(tmp_path, capsys):
    path = tmp_path / "t.csv"
    path.write_text("id,text,notes\na,,x\nb,  ,y\n")
    assert main(["suggest", str(path), "--out", str(tmp_path / "p.csv")]) == 1
    assert ("t.csv: Every 'text' cell of the first 2 rows is empty. Check that the text column"
            in capsys.readouterr().err)


# -- run --study and apply -------------------------------------------------------------------

@pytest.fixture
def study_run(tmp_path, monkeypatch, capsys):
    """`themesift run --study` with hand-made pipeline stages (no model), and its outputs."""
    from test_review_sheet import fake_result

    from themesift import embed, pipeline

    def stages(corpus, framework, **kwargs):
        result = fake_result(corpus, framework)
        result.manifest = {"counts": {"transcripts": 1, "units": 6, "codes": 2},
                           "timings_s": {"segment": 0.1}}
        return result

    class Model:
        model_id = "fake/model"

        def __init__(self, *args, **kwargs):
            pass

    monkeypatch.setattr(pipeline, "run_pipeline", stages)
    monkeypatch.setattr(embed, "Embedder", Model)
    out, store = tmp_path / "out", tmp_path / "study"
    assert main(["run", "tests/fixtures/basic.txt", "--out", str(out), "--study", str(store),
                 "--quiet"]) == 0
    assert "stored as run-" in capsys.readouterr().out
    return out, store


def test_run_with_a_study_writes_a_sheet_with_the_store_ids(study_run):
    from themesift.pipeline import OUTPUT_FILES
    from themesift.study import Study

    out, store = study_run
    assert sorted(p.name for p in out.iterdir()) == sorted(OUTPUT_FILES)
    sheet = pd.read_csv(out / "review.csv", dtype=str, keep_default_na=False)
    with Study.open(store) as study:
        (run_id,) = study.runs["run_id"]
        assert set(sheet["run_id"]) == {run_id}
        assert sheet["suggestion_id"].iloc[0] == f"code:{run_id}:C02"
        assert len(study.runs) == 1


def test_apply_exits_0_and_counts_decisions_per_action(study_run, capsys):
    from themesift.study import Study

    out, store = study_run
    sheet = pd.read_csv(out / "review.csv", dtype=str, keep_default_na=False)
    sheet.loc[sheet["suggestion_id"] == "unit:u1", "decision"] = "accept"
    sheet.loc[sheet["suggestion_id"] == "unit:u2", "decision"] = "hope"
    sheet.loc[sheet["suggestion_id"] == "unit:u3", "decision"] = "reject"
    sheet.to_csv(out / "review.csv", index=False)
    assert main(["apply", str(out / "review.csv"), "--study", str(store), "--analyst", "KJ"]) == 0
    printed = capsys.readouterr().out
    assert "3 decisions applied" in printed and "1 accept, 1 reject, 1 reassign" in printed
    assert main(["apply", str(out / "review.csv"), "--study", str(store)]) == 0
    assert "3 already recorded, skipped" in capsys.readouterr().out
    sheet.loc[sheet["suggestion_id"] == "unit:u4", "note"] = "Ask MB about this one"
    sheet.to_csv(out / "review.csv", index=False)
    row = int(sheet.index[sheet["suggestion_id"] == "unit:u4"][0]) + 2
    assert main(["apply", str(out / "review.csv"), "--study", str(store)]) == 0
    assert (f"warning: row {row} of the sheet has a note but no decision, so nothing was "
            "recorded for it") in capsys.readouterr().err
    with Study.open(store) as study:
        assert len(study.decisions) == 3 and set(study.decisions["analyst"]) == {"KJ"}


def test_apply_of_an_old_sheet_says_the_newer_decisions_stand(study_run, capsys):
    from themesift.study import Study

    out, store = study_run
    sheet = pd.read_csv(out / "review.csv", dtype=str, keep_default_na=False)
    sheet.loc[sheet["suggestion_id"] == "unit:u3", "decision"] = "reject"
    sheet.to_csv(out / "review.csv", index=False)
    row = int(sheet.index[sheet["suggestion_id"] == "unit:u3"][0]) + 2
    assert main(["apply", str(out / "review.csv"), "--study", str(store), "--analyst", "KJ"]) == 0
    assert main(["run", "tests/fixtures/basic.txt", "--out", str(out.parent / "out2"),
                 "--study", str(store), "--quiet"]) == 0
    with Study.open(store) as study:
        study.decide("unit:u3", "accept", analyst="KJ")
    capsys.readouterr()
    assert main(["apply", str(out / "review.csv"), "--study", str(store), "--analyst", "KJ"]) == 0
    printed = capsys.readouterr()
    assert "0 decisions applied" in printed.out and "1 already recorded" in printed.out
    assert (f"warning: row {row} of the sheet says what the analyst decided before and changed "
            "since on a later run, so the newer decision stands") in printed.err


def test_apply_to_a_study_another_program_keeps_locked_exits_1_saying_so(study_run, capsys,
                                                                         monkeypatch):
    import sqlite3

    from themesift import study as study_module

    out, store = study_run
    sheet = pd.read_csv(out / "review.csv", dtype=str, keep_default_na=False)
    sheet.loc[sheet["suggestion_id"] == "unit:u1", "decision"] = "accept"
    sheet.to_csv(out / "review.csv", index=False)
    monkeypatch.setattr(study_module, "_BUSY_TIMEOUT_MS", 200)
    other = sqlite3.connect(store / "study.sqlite", isolation_level=None)
    other.execute("BEGIN IMMEDIATE")  # a notebook in the middle of a write
    try:
        assert main(["apply", str(out / "review.csv"), "--study", str(store),
                     "--analyst", "KJ"]) == 1
    finally:
        other.execute("ROLLBACK")
        other.close()
    err = capsys.readouterr().err
    assert "in use by another program" in err and "try again" in err
    assert "Traceback" not in err
    assert main(["apply", str(out / "review.csv"), "--study", str(store), "--analyst", "KJ"]) == 0


def test_a_rerun_never_writes_over_a_filled_in_sheet_not_yet_applied(study_run, capsys):
    out, store = study_run
    rerun = ["run", "tests/fixtures/basic.txt", "--out", str(out), "--study", str(store),
             "--quiet"]
    sheet = pd.read_csv(out / "review.csv", dtype=str, keep_default_na=False)
    sheet.loc[sheet["suggestion_id"] == "unit:u1", ["decision", "analyst"]] = ["accept", "KJ"]
    sheet.to_csv(out / "review.csv", index=False)
    assert main(rerun) == 1
    err = capsys.readouterr().err
    assert "review.csv" in err and "1 filled-in decision not yet applied" in err
    assert "themesift apply" in err and "--force" in err
    assert "unit:u1" in (out / "review.csv").read_text()  # untouched: refused before the work
    assert main(["apply", str(out / "review.csv"), "--study", str(store)]) == 0
    assert main(rerun) == 0  # applied: nothing is lost by writing the new sheet


def test_a_run_without_a_study_writes_over_a_filled_in_sheet_only_when_forced(
        study_run, capsys, monkeypatch):
    from themesift import load_framework, pipeline
    from themesift.ingest import read_corpus

    out, _ = study_run
    stages = pipeline.run_pipeline  # the fixture's, which wants the corpus read
    monkeypatch.setattr(pipeline, "run_pipeline",
                        lambda inputs, framework, **kw: stages(read_corpus(inputs),
                                                                  load_framework(framework)))
    again = ["run", "tests/fixtures/basic.txt", "--out", str(out), "--quiet"]
    sheet = pd.read_csv(out / "review.csv", dtype=str, keep_default_na=False)
    sheet.loc[sheet["suggestion_id"] == "unit:u2", "decision"] = "hope"
    sheet.to_csv(out / "review.csv", index=False)
    assert main(again) == 1
    assert "holds 1 filled-in decision, and this run would write" in capsys.readouterr().err
    assert main([*again, "--force"]) == 0
    assert not pd.read_csv(out / "review.csv", dtype=str, keep_default_na=False)[
        "decision"].str.strip().any()


def test_a_sheet_of_a_run_without_a_study_is_told_the_way_into_one(study_run, capsys,
                                                                    monkeypatch, tmp_path):
    # A first-hour user ran without --study and filled in the sheet: `run --study` said
    # "apply it first", and apply said "there is no study store here", round and round.
    from themesift import Corpus, load_framework, pipeline
    from themesift.ingest import read_corpus

    stages = pipeline.run_pipeline  # the fixture's, which wants the corpus read (a study's is)
    monkeypatch.setattr(pipeline, "run_pipeline", lambda inputs, framework, **kw: stages(
        inputs if isinstance(inputs, Corpus) else read_corpus(inputs), load_framework(framework)))
    first, study, second = tmp_path / "first", tmp_path / "mine", tmp_path / "second"
    assert main(["run", "tests/fixtures/basic.txt", "--out", str(first), "--quiet"]) == 0
    assert "run with --study FOLDER before you fill in the sheet" in capsys.readouterr().out
    sheet = pd.read_csv(first / "review.csv", dtype=str, keep_default_na=False)
    sheet.loc[sheet["suggestion_id"].str.startswith("unit:"), "decision"] = "accept"
    sheet.to_csv(first / "review.csv", index=False)
    assert main(["apply", str(first / "review.csv"), "--study", str(study)]) == 1
    assert "'themesift run TRANSCRIPTS --study FOLDER --out ANOTHER_FOLDER'" in \
        capsys.readouterr().err
    run = ["run", "tests/fixtures/basic.txt", "--study", str(study), "--quiet"]
    assert main([*run, "--out", str(first)]) == 1
    err = capsys.readouterr().err
    assert "of a run without this study" in err and "Apply it first" not in err
    assert main([*run, "--out", str(second)]) == 0
    assert main(["apply", str(first / "review.csv"), "--study", str(study),
                 "--analyst", "KJ"]) == 0
    assert "applied to" in capsys.readouterr().out


def test_a_run_that_fails_leaves_no_new_empty_study_behind(tmp_path, capsys):
    store = tmp_path / "new-study"
    assert main(["run", str(tmp_path / "no-such-folder"), "--out", str(tmp_path / "o"),
                 "--study", str(store)]) == 1
    assert "No such file or folder" in capsys.readouterr().err
    assert not store.exists()


def test_an_empty_file_is_no_study_store(tmp_path, capsys):
    empty = tmp_path / "notes.txt"
    empty.touch()
    assert main(["export", "--study", str(empty), "--format", "codesheet",
                 "--out", str(tmp_path / "c.csv")]) == 1
    assert "is an empty file, not a themesift study store" in capsys.readouterr().err
    assert empty.read_bytes() == b""


def test_apply_given_the_output_folder_asks_for_the_sheet_in_it(study_run, capsys):
    out, store = study_run
    assert main(["apply", str(out), "--study", str(store)]) == 1
    assert "This is a folder, not a review sheet" in capsys.readouterr().err


def test_a_rerun_says_decided_units_are_left_out_of_the_sheet(study_run, capsys, monkeypatch):
    out, store = study_run
    sheet = pd.read_csv(out / "review.csv", dtype=str, keep_default_na=False)
    # C01 (relationships): u0 agrees and is coded through it; u1 is decided one by one
    code = sheet["suggestion_id"][sheet["suggestion_id"].str.endswith(":C01")].iloc[0]
    sheet.loc[sheet["suggestion_id"].isin([code, "unit:u1", "unit:u2"]), "decision"] = "accept"
    sheet.to_csv(out / "review.csv", index=False)
    assert main(["apply", str(out / "review.csv"), "--study", str(store), "--analyst", "KJ"]) == 0
    assert main(["run", "tests/fixtures/basic.txt", "--out", str(out / "again"), "--study",
                 str(store), "--quiet"]) == 0
    assert ("themesift run: left out of the review sheet: 3 units decided before (2 one by one, "
            "1 through code "
            "decisions) and 1 code with nothing left to decide. Their decisions stand"
            in capsys.readouterr().out)
    # a code the sheet would not offer (its members disagree) is not counted as left out
    from dataclasses import replace

    from themesift import pipeline

    stages = pipeline.run_pipeline

    def c01_not_offered(*args, **kwargs):
        result = stages(*args, **kwargs)
        return replace(result, suggestions=result.suggestions.assign(
            offered=result.suggestions["code_id"] != "C01"))

    monkeypatch.setattr(pipeline, "run_pipeline", c01_not_offered)
    assert main(["run", "tests/fixtures/basic.txt", "--out", str(out / "third"), "--study",
                 str(store), "--quiet"]) == 0
    said = capsys.readouterr().out
    assert "3 units decided before" in said and "nothing left to decide" not in said
    again = pd.read_csv(out / "again" / "review.csv", dtype=str, keep_default_na=False)
    assert not {"unit:u0", "unit:u1", "unit:u2"} & set(again["suggestion_id"])
    assert [s.rsplit(":", 1)[1] for s in again["suggestion_id"] if s.startswith("code:")] == [
        "C02"]
    # its report.html is the study's: the coding so far, the code accepted in the first run
    page = (out / "again" / "report.html").read_text(encoding="utf-8")
    first = (out / "report.html").read_text(encoding="utf-8")
    assert "of study" in page and "of study" in first and "batch run" not in page
    assert "accepted in an earlier run" in page and "accepted in an earlier run" not in first


def test_a_rerun_names_coded_units_no_longer_in_the_transcripts_once(tmp_path, capsys,
                                                                      monkeypatch):
    """As the exports judge them: a coded unit whose words were edited is told about once
    (the study report's own warning is held back)."""
    from dataclasses import replace

    from test_review_sheet import fake_result

    from themesift import embed, pipeline
    from themesift.study import Study

    def turns_as_units(corpus, framework, **kwargs):  # the turns, ids from their words
        result = fake_result(corpus, framework)
        turns = corpus[0].turns[:6]
        ids = {f"u{i}": f"u{i}-{len(t.text)}" for i, t in enumerate(turns)}
        units = result.units.assign(unit_id=result.units["unit_id"].map(ids),
                                    start=[t.start for t in turns], end=[t.end for t in turns],
                                    text=[t.text for t in turns])
        result.manifest = {"counts": {"units": 6}, "timings_s": {"segment": 0.1}}
        codes = replace(result.codes, assignments=result.codes.assignments.replace(ids),
                        table=result.codes.table.assign(exemplar_ids=""))
        return replace(result, units=units, codes=codes,
                       unit_suggestions=result.unit_suggestions.replace(ids))

    monkeypatch.setattr(pipeline, "run_pipeline", turns_as_units)
    monkeypatch.setattr(embed, "Embedder", lambda *args, **kwargs: None)
    transcript = tmp_path / "basic.txt"
    transcript.write_text(Path("tests/fixtures/basic.txt").read_text(encoding="utf-8"),
                          encoding="utf-8")
    store = tmp_path / "study"
    assert main(["run", str(transcript), "--out", str(tmp_path / "o1"), "--study", str(store),
                 "--quiet"]) == 0
    with Study.open(store) as study:
        units = study.units.set_index("unit_id")
        edited = units["text"].iloc[4]
        for unit in units.index[[1, 4]]:
            study.decide(f"unit:{unit}", "accept", analyst="KJ")
    transcript.write_text(transcript.read_text(encoding="utf-8").replace(
        edited, edited.replace(" ", "  ", 1)), encoding="utf-8")
    capsys.readouterr()
    assert main(["run", str(transcript), "--out", str(tmp_path / "o2"), "--study", str(store),
                 "--quiet"]) == 0
    printed = capsys.readouterr()
    assert "1 coded unit of the study is not in these transcripts" in printed.out
    assert "no longer in the transcripts" not in printed.err


def test_apply_says_how_many_units_an_accepted_code_coded(study_run, capsys):
    from themesift.study import Study

    out, store = study_run
    sheet = pd.read_csv(out / "review.csv", dtype=str, keep_default_na=False)
    code = sheet["suggestion_id"].iloc[0]
    sheet.loc[0, "decision"] = "accept"
    sheet.to_csv(out / "review.csv", index=False)
    assert main(["apply", str(out / "review.csv"), "--study", str(store), "--analyst", "KJ"]) == 0
    with Study.open(store) as study:
        reach = study.code_reach(code)
        assert (study.coding()["source"] == "code").sum() == reach.coded
    units = "unit" if reach.coded == 1 else "units"
    assert (f"Accepted codes coded {reach.coded} {units} whose own suggestion agrees; "
            f"{reach.pending} other members stay to be decided one by one."
            ) in capsys.readouterr().out


def test_apply_says_one_member_left_to_decide_in_the_singular(study_run, capsys):
    out, store = study_run
    sheet = pd.read_csv(out / "review.csv", dtype=str, keep_default_na=False)
    sheet.loc[sheet["suggestion_id"].str.endswith(":C01"), "decision"] = "accept"  # u0 agrees
    sheet.to_csv(out / "review.csv", index=False)
    assert main(["apply", str(out / "review.csv"), "--study", str(store), "--analyst", "KJ"]) == 0
    assert ("Accepted codes coded 1 unit whose own suggestion agrees; 1 other member stays to "
            "be decided one by one.\n") in capsys.readouterr().out


def test_apply_says_how_many_units_a_reassigned_code_coded(study_run, capsys):
    from themesift.study import Study

    out, store = study_run
    sheet = pd.read_csv(out / "review.csv", dtype=str, keep_default_na=False)
    sheet.loc[sheet["suggestion_id"].str.endswith(":C02"), "decision"] = "relationships"
    sheet.loc[sheet["suggestion_id"] == "unit:u5", "decision"] = "reject"
    sheet.to_csv(out / "review.csv", index=False)
    assert main(["apply", str(out / "review.csv"), "--study", str(store), "--analyst", "KJ"]) == 0
    printed = capsys.readouterr().out
    assert ("Reassigned codes coded 3 units with the theme they were reassigned to; 1 decided "
            "one by one keeps its own decision.") in printed
    assert "Accepted codes" not in printed
    with Study.open(store) as study:
        coded = study.coding().query("source == 'code'")
        assert sorted(coded["unit_id"]) == ["u2", "u3", "u4"]


def test_apply_counts_members_decided_one_by_one_apart(study_run, capsys):
    from themesift.study import Study

    out, store = study_run
    sheet = pd.read_csv(out / "review.csv", dtype=str, keep_default_na=False)
    codes = sheet["suggestion_id"].str.startswith("code:")
    sheet.loc[codes, "decision"] = "accept"  # C01 (u0 agrees, u1 not), C02 (u5 agrees)
    sheet.loc[sheet["suggestion_id"] == "unit:u0", "decision"] = "reject"
    sheet.to_csv(out / "review.csv", index=False)
    assert main(["apply", str(out / "review.csv"), "--study", str(store), "--analyst", "KJ"]) == 0
    assert ("Accepted codes coded 1 unit whose own suggestion agrees; 4 other members stay to "
            "be decided one by one; 1 decided one by one keeps its own decision."
            ) in capsys.readouterr().out
    with Study.open(store) as study:
        assert study.coding()[["unit_id", "source"]].values.tolist() == [["u5", "code"]]


def test_apply_with_bad_rows_exits_1_naming_the_rows(study_run, capsys, tmp_path):
    from themesift.study import Study

    out, store = study_run
    sheet = pd.read_csv(out / "review.csv", dtype=str, keep_default_na=False)
    sheet.loc[sheet["suggestion_id"] == "unit:u1", "decision"] = "accept"
    sheet.loc[sheet["suggestion_id"] == "unit:u2", "decision"] = "hopeful"
    sheet.to_csv(out / "review.csv", index=False)
    row = int(sheet.index[sheet["suggestion_id"] == "unit:u2"][0]) + 2
    assert main(["apply", str(out / "review.csv"), "--study", str(store)]) == 1
    err = capsys.readouterr().err
    assert err.startswith("themesift apply: error:") and "Traceback" not in err
    assert f"row {row}: unknown decision 'hopeful'" in err
    assert "no analyst" in err and "--analyst NAME" in err
    with Study.open(store) as study:
        assert study.decisions.empty
    assert main(["apply", str(out / "review.csv"), "--study", str(tmp_path / "nowhere")]) == 1
    assert "There is no study store here" in capsys.readouterr().err
    assert not (tmp_path / "nowhere").exists()
    # A folder that holds no store is not given a new, empty one.
    (tmp_path / "empty").mkdir()
    assert main(["apply", str(out / "review.csv"), "--study", str(tmp_path / "empty")]) == 1
    assert "There is no study store here" in capsys.readouterr().err
    assert not any((tmp_path / "empty").iterdir())


def test_compare_prints_agreement_and_writes_json(tmp_path, capsys):
    human, machine = tmp_path / "human.csv", tmp_path / "machine.csv"
    human.write_text("id,theme_id\nu1,hope\nu2,hope\nu3,none\nu4,relationships\n")
    machine.write_text("id,theme_id\nu1,hope\nu2,relationships\nu3,none\nu4,relationships\n")
    out = tmp_path / "agreement.json"
    assert main(["compare", str(human), str(machine), "--json", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "cohen_kappa" in printed or "Cohen" in printed
    figures = json.loads(out.read_text())
    assert figures["summary"]["percent_agreement"] == 0.75 and figures["summary"]["n"] == 4


@pytest.mark.parametrize("where", ["no_such_folder/agreement.json", "."])
def test_compare_json_to_a_bad_place_says_so_before_the_work(tmp_path, capsys, where):
    human = tmp_path / "human.csv"
    human.write_text("id,theme_id\nu1,hope\nu2,none\n")
    assert main(["compare", str(human), str(human), "--json", str(tmp_path / where)]) == 1
    err = capsys.readouterr().err
    assert "error:" in err and ("does not exist" in err or "is a folder" in err)


@pytest.mark.parametrize("given", ["human", "machine", "units"])
def test_compare_json_into_one_of_its_inputs_is_refused(tmp_path, capsys, given):
    human, machine = tmp_path / "human.csv", tmp_path / "machine.csv"
    human.write_text("id,theme_id\nu1,hope\nu2,none\n")
    machine.write_text("id,theme_id\nu1,hope\nu2,hope\n")
    units = tmp_path / "units.csv"
    units.write_text("unit_id,doc_id,start,end,text\nu1,d,0,5,hello\n")
    inputs = [str(human), str(machine)] + (["--units", str(units)] if given == "units" else [])
    before = {p: p.read_text() for p in (human, machine, units)}
    assert main(["compare", *inputs, "--json", str(tmp_path / f"{given}.csv")]) == 1
    assert "--json is the " in capsys.readouterr().err
    assert {p: p.read_text() for p in before} == before


@pytest.mark.parametrize("options, message", [
    (["--format", "report", "--no-suggestions"], "--no-suggestions is for --format qdpx only"),
    (["--format", "qdpx", "--human", "h.csv"], "--human is for --format report only"),
    (["--format", "qdc", "--pseudonymise"], "--pseudonymise is not needed for --format qdc"),
])
def test_export_options_that_do_not_go_with_the_format_are_usage_errors(tmp_path, capsys,
                                                                        options, message):
    with pytest.raises(SystemExit) as exit_:
        main(["export", "--study", str(tmp_path / "s"), "--out", str(tmp_path / "x"), *options])
    assert exit_.value.code == 2 and message in capsys.readouterr().err


def test_a_folder_one_may_not_write_to_is_an_error_not_a_traceback(tmp_path, fixtures, capsys,
                                                                   monkeypatch):
    import tempfile

    def refused(*args, **kwargs):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(tempfile, "mkstemp", refused)
    assert main(["segment", str(fixtures / "basic.txt"), "--out", str(tmp_path / "u.csv")]) == 1
    err = capsys.readouterr().err
    assert "Cannot write the file here (Permission denied)" in err and "Traceback" not in err


def test_segment_with_a_framework_keeps_its_words_as_the_studys(tmp_path, capsys):
    transcript = tmp_path / "fg.txt"
    transcript.write_text("Moderator: What gets in the way of coming to clinic?\n\n"
                          "P1: Oh, the parking.\n\nP2: The buses only come every hour, and the "
                          "clinic moves your appointment without telling you.\n",
                          encoding="utf-8")
    codebook = tmp_path / "access.yaml"
    codebook.write_text("name: access\nversion: 1\ndescription: d\nthemes:\n"
                        "  - {id: access, name: Access, description: 'Buses and parking.'}\n"
                        "  - {id: staff, name: Staff, description: How staff treat patients.}\n"
                        "  - {id: diet, name: Diet, description: Food.}\n", encoding="utf-8")
    flags = []
    for extra in ([], ["--framework", str(codebook)]):
        assert main(["segment", str(transcript), "--out", str(tmp_path / "u.csv"), *extra]) == 0
        flags.append(pd.read_csv(tmp_path / "u.csv")["small_talk"].tolist())
    assert flags == [[True, False], [False, False]]


def test_segment_out_to_a_missing_folder_says_so(tmp_path, fixtures, capsys):
    out = tmp_path / "no_such_folder" / "units.csv"
    assert main(["segment", str(fixtures / "basic.txt"), "--out", str(out)]) == 1
    assert "The folder for the output file does not exist" in capsys.readouterr().err


@pytest.mark.parametrize("out, message", [
    # a folder to be, not a file named "units_folder"
    ("units_folder/", f"The output path is a folder. Give a file name, e.g. {Path('units_folder', 'units.csv')}"),
    (".", f"The output path is a folder. Give a file name, e.g. {Path('units.csv')}"),
    # the units are written as CSV whatever the name
    ("units.xlsx", "it should end with .csv). Name the output file with .csv"),
])
def test_segment_out_that_is_no_csv_file_is_refused_before_the_work(tmp_path, fixtures, capsys,
                                                                    monkeypatch, out, message):
    monkeypatch.chdir(tmp_path)
    assert main(["segment", str(fixtures / "basic.txt"), "--out", out]) == 1
    assert message in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []


def test_compare_json_into_a_folder_suggests_a_file_name(tmp_path, capsys):
    human = tmp_path / "human.csv"
    human.write_text("id,theme_id\nu1,hope\nu2,none\n")
    assert main(["compare", str(human), str(human), "--json", str(tmp_path)]) == 1
    assert f"e.g. {tmp_path / 'agreement.json'}" in capsys.readouterr().err


def test_a_reader_that_stops_early_gets_no_traceback():
    process = subprocess.Popen([sys.executable, "-m", "themesift", "frameworks"],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=ROOT)
    process.stdout.close()  # `themesift frameworks | head -0`
    err = process.stderr.read().decode()
    assert process.wait(timeout=60) == 0 and "Traceback" not in err, err


def test_run_into_a_file_is_refused_before_the_work(tmp_path, capsys, monkeypatch):
    from themesift import pipeline as pipeline_module

    monkeypatch.setattr(pipeline_module, "run_pipeline", lambda *a, **k: pytest.fail("ran"))
    (tmp_path / "afile").write_text("hi")
    assert main(["run", "tests/fixtures/basic.txt", "--out", str(tmp_path / "afile"),
                 "--quiet"]) == 1
    assert "The output path is a file, not a folder" in capsys.readouterr().err


def test_run_into_a_folder_holding_a_folder_named_like_its_file_is_refused_first(
        tmp_path, capsys, monkeypatch):
    from themesift import pipeline as pipeline_module

    monkeypatch.setattr(pipeline_module, "run_pipeline", lambda *a, **k: pytest.fail("ran"))
    (tmp_path / "out" / "report.html").mkdir(parents=True)
    assert main(["run", "tests/fixtures/basic.txt", "--out", str(tmp_path / "out"),
                 "--quiet"]) == 1
    assert "The output folder holds a folder named report.html" in capsys.readouterr().err


def test_compare_tables_without_common_ids_exits_1(tmp_path, capsys):
    a, b = tmp_path / "a.csv", tmp_path / "b.csv"
    a.write_text("id,theme_id\nx1,hope\n")
    b.write_text("id,theme_id\ny1,hope\n")
    assert main(["compare", str(a), str(b)]) == 1
    assert "share no unit ids" in capsys.readouterr().err


def test_compare_with_a_missing_or_broken_units_table_says_which(tmp_path, capsys):
    a = tmp_path / "a.csv"
    a.write_text("id,theme_id\nx1,hope\n")
    broken = tmp_path / "units.csv"
    broken.write_text("unit_id,text\nu1,fine\nu2,one,too,many\n")
    for units, says in ((tmp_path / "gone.csv", "The units table was not found"),
                        (broken, "The units table cannot be read as CSV")):
        assert main(["compare", str(a), str(a), "--units", str(units)]) == 1
        err = capsys.readouterr().err
        assert says in err and str(units) in err and "Traceback" not in err


def test_compare_aligns_hand_coded_spans_to_machine_units(tmp_path, sample_dir, capsys):
    import themesift as ts

    units = ts.segment(ts.read_corpus(sample_dir / "fg1_act_team.txt"))
    units.to_csv(tmp_path / "units.csv", index=False)
    machine = tmp_path / "machine.csv"
    units.assign(theme_id="relationships")[["unit_id", "theme_id"]].to_csv(machine, index=False)
    out = tmp_path / "agreement.json"
    human = sample_dir / "coding" / "fg1_act_team_coding.csv"
    assert main(["compare", str(human), str(machine), "--units", str(tmp_path / "units.csv"),
                 "--json", str(out)]) == 0
    figures = json.loads(out.read_text())
    assert figures["summary"]["n"] > 40  # hand-coded spans landed on machine units
    assert 0 < figures["summary"]["percent_agreement"] < 1


def test_compare_reads_transcript_ids_such_as_01_as_text(tmp_path, sample_dir, capsys):
    import shutil

    import themesift as ts

    folder = tmp_path / "interviews"
    folder.mkdir()
    shutil.copy(sample_dir / "fg1_act_team.txt", folder / "01.txt")
    units = ts.segment(ts.read_corpus(folder))
    assert set(units["doc_id"]) == {"01"}
    units.to_csv(tmp_path / "units.csv", index=False)
    machine = tmp_path / "machine.csv"
    units.assign(theme_id="relationships")[["unit_id", "theme_id"]].to_csv(machine, index=False)
    human = pd.read_csv(sample_dir / "coding" / "fg1_act_team_coding.csv", dtype=str)
    human.assign(doc_id="01").to_csv(tmp_path / "human.csv", index=False)
    assert main(["compare", str(tmp_path / "human.csv"), str(machine),
                 "--units", str(tmp_path / "units.csv")]) == 0
    assert "share no document" not in capsys.readouterr().err


def test_compare_a_qdpx_without_units_says_how(tmp_path, capsys):
    qdpx = Path(__file__).resolve().parents[2] / "shared" / "refi-qda" / "qc_demo.qdpx"
    if not qdpx.exists():
        pytest.skip(f"{qdpx} is not there (the shared REFI-QDA files live outside the repo)")
    b = tmp_path / "b.csv"
    b.write_text("id,theme_id\nx,hope\n")
    assert main(["compare", str(qdpx), str(b)]) == 1
    assert "Give the machine's units with --units" in capsys.readouterr().err



def test_compare_one_qdpx_compares_its_coders(tmp_path, capsys):
    from test_compare import write_two_coder_qdpx

    qdpx = write_two_coder_qdpx(tmp_path / "two.qdpx")
    assert main(["compare", str(qdpx)]) == 0
    printed = capsys.readouterr().out
    assert "# Agreement among coders" in printed and "| AB | 1.000 |" in printed


def test_compare_coder_picks_one_coder_of_the_first_table(tmp_path, capsys):
    from test_compare import UNITS, write_two_coder_qdpx

    qdpx = write_two_coder_qdpx(tmp_path / "two.qdpx")
    units, machine = tmp_path / "units.csv", tmp_path / "machine.csv"
    UNITS.to_csv(units, index=False)
    machine.write_text("id,theme_id\nu1,Hope\nu2,Hope\nu4,Hope\n")
    argv = ["compare", str(qdpx), str(machine), "--units", str(units)]
    assert main(argv) == 1
    err = capsys.readouterr().err
    assert f"Table A ({qdpx}) holds 2 coders (AB, KJ)" in err and "--coder NAME" in err
    out = tmp_path / "ab.json"
    assert main(argv + ["--coder", "KJ", "--json", str(out)]) == 0
    assert json.loads(out.read_text())["summary"]["percent_agreement"] == pytest.approx(1 / 3)


def test_compare_help_says_two_coders_are_enough(capsys):
    with pytest.raises(SystemExit):
        main(["compare", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "3+" not in text and "2 or more coders" in text and "--coder NAME" in text


def test_a_study_compared_with_its_own_qdpx_agrees_through_the_mapping(export_study, tmp_path,
                                                                       capsys):
    from themesift import Study, read_qdpx

    with Study.open(export_study) as study:  # code C02's units filed under its theme
        study.decide(f"code:{study.load_run().id}:C02", "accept", analyst="KJ")
        study.decide("unit:u1", "reassign", theme_id="hope", analyst="KJ")  # one coder
        study.units.to_csv(tmp_path / "units.csv", index=False)
        study.coding()[["unit_id", "theme_id"]].to_csv(tmp_path / "coding.csv", index=False)
    qdpx, units, coding = (str(tmp_path / n) for n in ("s.qdpx", "units.csv", "coding.csv"))
    assert main(["export", "--study", str(export_study), "--format", "qdpx", "--out", qdpx,
                 "--no-suggestions"]) == 0
    assert any("/" in p for p in read_qdpx(qdpx).codings["code_path"])  # a sub-code is coded
    (tmp_path / "map.csv").write_text("code,theme_id\nRelationships,relationships\nHope,hope\n"
                                      "Structural tension,structural_tension\n")
    capsys.readouterr()
    assert main(["compare", qdpx, coding, "--units", units, "--mapping",
                 str(tmp_path / "map.csv"), "--json", str(tmp_path / "a.json")]) == 0
    assert json.loads((tmp_path / "a.json").read_text())["summary"]["percent_agreement"] == 1
    assert "warning" not in capsys.readouterr().err
    # without the mapping, code names meet theme ids: said loudly, on stderr and in the report
    assert main(["compare", qdpx, coding, "--units", units]) == 0
    out, err = capsys.readouterr()
    assert "themesift compare: warning: The two tables share no theme label" in err
    assert "**Warning:** The two tables share no theme label" in out and "--mapping" in out
    # a mapping that leaves a coded theme out: its codings are named
    (tmp_path / "map.csv").write_text("code,theme_id\nRelationships,relationships\n")
    assert main(["compare", qdpx, coding, "--units", units, "--mapping",
                 str(tmp_path / "map.csv")]) == 0
    err = capsys.readouterr().err
    assert "s.qdpx: 2 coding(s) have a code that the mapping does not name" in err
    assert "'Hope' (1), 'Structural tension/label C02' (1)" in err


@pytest.mark.parametrize("mapping, message", [
    ("code,theme_id\nHope,\n", "map.csv, line 2: Empty code or theme_id cell in the mapping"),
    ("code,theme\nHope,hope\n", "map.csv, line 1: The mapping needs the columns code and theme_id"),
])
def test_compare_with_a_bad_mapping_says_where(tmp_path, capsys, mapping, message):
    (tmp_path / "map.csv").write_text(mapping)
    qdpx = tmp_path / "p.qdpx"
    qdpx.write_bytes(b"")
    a = tmp_path / "a.csv"
    a.write_text("id,theme_id\nu1,hope\n")
    argv = ["compare", str(qdpx), str(a), "--units", str(a), "--mapping", str(tmp_path / "map.csv")]
    assert main(argv) == 1
    assert message in capsys.readouterr().err
    (tmp_path / "good.csv").write_text("code,theme_id\nHope,hope\n")
    with pytest.raises(SystemExit) as usage:  # told from the arguments alone: a usage error
        main(["compare", str(a), str(a), "--mapping", str(tmp_path / "good.csv")])
    assert usage.value.code == 2
    assert "--mapping maps the codes of a .qdpx to theme ids, and no table is a .qdpx" in (
        capsys.readouterr().err)


def test_compare_a_qdpx_without_codings_says_so(tmp_path, capsys):
    qdpx = Path(__file__).resolve().parents[2] / "shared" / "refi-qda" / "nvivo_sample.qdpx"
    if not qdpx.exists():
        pytest.skip(f"{qdpx} is not there (the shared REFI-QDA files live outside the repo)")
    units = tmp_path / "units.csv"
    pd.DataFrame({"unit_id": ["u1"], "doc_id": ["d"], "start": [0], "end": [5]}).to_csv(units)
    b = tmp_path / "b.csv"
    b.write_text("id,theme_id\nu1,hope\n")
    assert main(["compare", str(qdpx), str(b), "--units", str(units)]) == 1
    assert "The .qdpx has no codings (2 sources, 262 codes)" in capsys.readouterr().err


ANSWERS = {"fg1": [("P1", "We trust each other after a long time together."),
                   ("P2", "I hope Maria Lopez gets her own flat in Leeds next year.")],
           "fg2": [("P3", "The forms and the rules take all our time."),
                   ("P4", "The voices stop him from coming to the group.")]}


@pytest.fixture
def export_study(tmp_path, monkeypatch):
    """A study whose units sit at their places in two transcripts, with two decisions."""
    import fakes

    from themesift import Study, pipeline

    corpus = fakes.make_corpus_of(ANSWERS)
    monkeypatch.setattr(pipeline, "run_pipeline", lambda corpus, framework, **kw: fakes.result_of(
        corpus, framework, ANSWERS, codes={"C01": [0, 1], "C02": [2, 3]},
        themes=["relationships", "hope", "structural_tension", "symptoms_barrier"],
        code_themes={"C01": "relationships", "C02": "structural_tension"}))
    with Study.open(tmp_path / "study") as study:
        study.run(corpus, "recovery")
        study.decide("unit:u0", "accept", analyst="KJ")
        study.decide("unit:u1", "reassign", theme_id="hope", analyst="AB")
    return tmp_path / "study"


def test_export_writes_each_format_and_refuses_to_overwrite(export_study, capsys, tmp_path):
    from themesift import read_qdpx

    store = export_study
    files = {"qdpx": "study.qdpx", "qdc": "codebook.qdc", "codesheet": "codes.xlsx",
             "report": "report.html"}
    for fmt, name in files.items():
        assert main(["export", "--study", str(store), "--format", fmt,
                     "--out", str(tmp_path / name)]) == 0, capsys.readouterr().err
        assert f"{fmt} written to {tmp_path / name}" in capsys.readouterr().out
    coded = read_qdpx(tmp_path / "study.qdpx").codings
    assert set(coded["coder"]) >= {"KJ", "AB"}
    assert "Hope" in set(pd.read_excel(tmp_path / "codes.xlsx")["theme"])
    before = (tmp_path / "study.qdpx").read_bytes()
    assert main(["export", "--study", str(store), "--format", "qdpx",
                 "--out", str(tmp_path / "study.qdpx")]) == 1
    err = capsys.readouterr().err
    assert err.startswith("themesift export: error:") and "already exists" in err
    assert "--force" in err and (tmp_path / "study.qdpx").read_bytes() == before
    assert main(["export", "--study", str(store), "--format", "qdpx", "--force",
                 "--out", str(tmp_path / "study.qdpx")]) == 0


@pytest.mark.parametrize("args, message", [
    (["--format", "qdpx", "--out", "{tmp}/missing/study.qdpx"], "does not exist"),
    (["--format", "codesheet", "--out", "{tmp}/codes.docx"], "should end with .xlsx or .csv"),
])
def test_export_bad_input_exits_1_and_leaves_nothing(export_study, capsys, tmp_path, args,
                                                    message):
    store = export_study
    before = sorted(p.name for p in tmp_path.iterdir())
    argv = ["export", "--study", str(store), *[a.format(tmp=tmp_path) for a in args]]
    assert main(argv) == 1
    err = capsys.readouterr().err
    assert err.startswith("themesift export: error:") and message in err and "Traceback" not in err
    assert sorted(p.name for p in tmp_path.iterdir()) == before


def test_export_of_a_missing_or_empty_study_exits_1(tmp_path, capsys):
    assert main(["export", "--study", str(tmp_path / "nowhere"), "--format", "report",
                 "--out", str(tmp_path / "r.html")]) == 1
    assert "There is no study here" in capsys.readouterr().err
    from themesift import Study

    Study.open(tmp_path / "empty").close()
    assert main(["export", "--study", str(tmp_path / "empty"), "--format", "qdpx",
                 "--out", str(tmp_path / "s.qdpx")]) == 1
    assert "has no complete run yet" in capsys.readouterr().err
    assert not (tmp_path / "r.html").exists() and not (tmp_path / "s.qdpx").exists()


def test_export_with_an_unknown_format_is_a_usage_error():
    result = run_cli("export", "--study", "s", "--format", "pdf", "--out", "x.pdf")
    assert result.returncode == 2 and "invalid choice: 'pdf'" in result.stderr
    assert "Traceback" not in result.stderr


def test_export_pseudonymised_writes_the_key_apart(export_study, capsys, tmp_path):
    out = tmp_path / "codes.csv"
    assert main(["export", "--study", str(export_study), "--format", "codesheet",
                 "--pseudonymise", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    key = tmp_path / "codes.csv.pseudonyms.csv"
    assert str(key) in printed and "keep it private" in printed
    text = out.read_text(encoding="utf-8-sig")
    assert "Maria" not in text and "Leeds" not in text and "[PERSON 1]" in text
    names = pd.read_csv(key)
    assert {"Maria Lopez", "Leeds"} <= set(names["original"])
    assert main(["export", "--study", str(export_study), "--format", "codesheet",
                 "--pseudonymise", "--out", str(out)]) == 1  # the export and its key exist


# -- option values are checked before any work ------------------------------------------------

@pytest.mark.parametrize("args, message", [
    (["run", "missing.txt", "--out", "x", "--codes", "0"], "argument --codes: must be a whole number, 2 or more, not '0'"),
    (["run", "missing.txt", "--out", "x", "--seed", "-1"], "argument --seed: must be a whole number from 0 to 4294967295"),
    (["run", "missing.txt", "--out", "x", "--seed", "1.5"], "argument --seed: must be a whole number"),
    (["segment", "missing.txt", "--max-words", "0"], "argument --max-words: must be a whole number, 2 or more"),
    (["segment", "missing.txt", "--min-words", "-5"], "argument --min-words: must be a whole number, 1 or more"),
    (["segment", "missing.txt", "--max-words", "10"], "--max-words (10) must be at least twice --min-words (8 by default)"),
    (["segment", "missing.txt", "--min-words", "50"], "--max-words (80 by default) must be at least twice --min-words (50)"),
    (["suggest", "missing.csv", "--out", "p.csv", "--chunk-rows", "0"], "argument --chunk-rows: must be a whole number, 1 or more"),
    (["compare", "a.csv", "b.csv", "--min-overlap", "0"], "argument --min-overlap: must be a number above 0 and at most 1"),
    (["compare", "a.csv", "b.csv", "c.csv"], "give two coding tables, or one with a coder column"),
    (["compare", "a.csv", "--coder", "AB"], "--coder picks a coder of the first table to compare with a second table"),
])
def test_bad_option_values_are_usage_errors_naming_the_option(capsys, args, message):
    with pytest.raises(SystemExit) as caught:  # before the (missing) input is even looked at
        main(args)
    assert caught.value.code == 2
    err = capsys.readouterr().err
    assert f"themesift {args[0]}: error: {message}" in err and "Traceback" not in err
    assert "parameter of" not in err and "n_codes" not in err


def test_too_many_codes_is_refused_before_embedding(tmp_path, monkeypatch, capsys):
    from themesift import embed

    class Model:
        model_id = "fake/model"

        def __init__(self, *args, **kwargs):
            pass

        def encode(self, texts):
            raise AssertionError("embedded before checking --codes")

    monkeypatch.setattr(embed, "Embedder", Model)
    assert main(["run", "tests/fixtures/basic.txt", "--out", str(tmp_path / "o"),
                 "--codes", "1000", "--quiet"]) == 1
    err = capsys.readouterr().err
    assert "1000 codes are too many for" in err and "(--codes on the command line" in err


def test_a_transcript_with_no_participant_talk_is_refused_by_segment_as_by_run(
        tmp_path, monkeypatch, capsys):
    from themesift import embed

    monkeypatch.setattr(embed, "Embedder", lambda *args, **kwargs: None)
    path = tmp_path / "modonly.txt"
    path.write_text("Moderator: Welcome everyone, thanks for coming.\n\n"
                    "Moderator: Shall we start with introductions?\n")
    messages = []
    for args in (["segment", str(path), "--out", str(tmp_path / "units.csv")],
                 ["run", str(path), "--out", str(tmp_path / "out"), "--quiet"]):
        assert main(args) == 1
        err = capsys.readouterr().err
        assert "warning:" not in err  # said once, as the error
        messages.append(err.split(": error: ", 1)[1])
    assert messages[0] == messages[1]
    assert messages[0].startswith(f"{path}: No meaning units were found in the transcript")
    assert "--moderator" in messages[0]
    assert not (tmp_path / "units.csv").exists() and not (tmp_path / "out").exists()


# -- hints name the file and options the command has -----------------------------------------

@pytest.mark.parametrize("content, message, line", [
    ("quote,theme\nIt took months.,relationships\n",
     "The examples table has no column 'text' or 'theme_id'", "line 1"),
    ("text,theme_id\nIt took months.,relationships\nNo funding.,Trust\n",
     "Unknown theme 'Trust' in row 3 of the examples", "row 3"),
    ('text,theme_id\nIt took months.,None\n" ",hope\n', "Empty text cell", "row 3"),  # None: none
    # a cell with a line break: row 3 is on the file's line 4
    ('text,theme_id\n"It took\nmonths.",hope\nNo funding.,Trust\n',
     "Unknown theme 'Trust' in row 3 of the examples", "row 3"),
    ("text,theme_id\nIt took months.,relationship\nNo funding.,acess\nA.,hope\n",
     "Unknown themes 'relationship' in row 2 of the examples (did you mean 'relationships'?); "
     "'acess' in row 3", "row 2"),  # all at once
])
def test_suggest_examples_problems_name_the_examples_file(table, tmp_path, capsys, content,
                                                          message, line):
    examples = tmp_path / "ex.csv"
    examples.write_text(content)
    out = tmp_path / "preds.csv"
    assert main(["suggest", str(table), "--text-column", "quote", "--id-column", "quote_id",
                 "--examples", str(examples), "--out", str(out), "--quiet"]) == 1
    err = capsys.readouterr().err
    assert f"themesift suggest: error: {examples}, {line}: {message}" in err
    assert "Name the right one with --text-column" not in err and not out.exists()
    assert ("columns text and theme_id" in err) if line == "line 1" else (
        "relationships, hope" in err or "Write the coded text" in err)


def test_suggest_with_an_examples_file_of_no_rows_says_so(table, tmp_path, capsys):
    examples = tmp_path / "ex.csv"
    examples.write_text("text,theme_id\n")
    assert main(["suggest", str(table), "--text-column", "quote", "--examples", str(examples),
                 "--out", str(tmp_path / "p.csv")]) == 1
    assert f"{examples}: The examples file has a header row but no coded texts" in \
        capsys.readouterr().err


def test_suggest_examples_with_a_bad_rejected_cell_name_the_file(table, tmp_path, capsys):
    examples = tmp_path / "ex.csv"
    examples.write_text("text,theme_id,rejected\nIt took months.,relationships,maybe\n")
    assert main(["suggest", str(table), "--text-column", "quote", "--examples", str(examples),
                 "--out", str(tmp_path / "p.csv")]) == 1
    err = capsys.readouterr().err
    assert str(examples) in err and "'maybe'" in err and "Traceback" not in err


def test_export_report_with_a_bad_human_table_says_how_to_shape_it(export_study, capsys,
                                                                   tmp_path):
    human = tmp_path / "bad.csv"
    human.write_text("unit,code\nu0,relationships\n")
    assert main(["export", "--study", str(export_study), "--format", "report",
                 "--human", str(human), "--out", str(tmp_path / "r.html")]) == 1
    err = capsys.readouterr().err
    assert str(human) in err and "in the header row" in err
    assert "or pass id_column=" not in err and not (tmp_path / "r.html").exists()


def test_suggest_writes_a_real_workbook_for_xlsx(table, tmp_path, capsys):
    from openpyxl import load_workbook

    args = ["suggest", str(table), "--text-column", "quote", "--id-column", "quote_id", "--quiet"]
    assert main([*args, "--out", str(tmp_path / "p.csv")]) == 0
    assert main([*args, "--out", str(tmp_path / "p.xlsx"), "--chunk-rows", "2"]) == 0
    assert "3 rows -> " in capsys.readouterr().out
    book = load_workbook(tmp_path / "p.xlsx")  # a workbook, not CSV text under its name
    assert book.sheetnames == ["suggestions"]
    expected = pd.read_csv(tmp_path / "p.csv", keep_default_na=False)
    assert pd.read_excel(tmp_path / "p.xlsx", keep_default_na=False).equals(expected)
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


@pytest.mark.parametrize("name", ["p.xls", "p.tsv", "preds"])
def test_suggest_refuses_an_output_format_it_cannot_write_before_the_work(table, tmp_path,
                                                                          capsys, name):
    assert main(["suggest", str(table), "--text-column", "quote", "--model", "no-such-model",
                 "--out", str(tmp_path / name)]) == 1
    err = capsys.readouterr().err
    assert f"{tmp_path / name}: Cannot tell the format from the file name (it should end with " \
        ".csv or .xlsx)" in err
    assert not (tmp_path / name).exists()
