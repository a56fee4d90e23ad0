"""Crash safety: `themesift run --study S` killed with SIGKILL at random (seeded) moments.

After each kill the study opens, passes SQLite's integrity check, and holds every decision
made before and during the killed run; --out holds either nothing or a complete set of
files. The slow test kills twice and then lets the run finish: it resumes the interrupted run
and gives the same files as an uninterrupted run on a study with the same decisions.
(tests/test_study.py kills a run with fake stages and a process in the middle of deciding;
these tests kill the real CLI.)
"""

import os
import random
import shutil
import signal
import sqlite3
import time

import themesift as ts
from test_offline import (SCRATCH, TRANSCRIPT, assert_no_network_use, first_run,
                          run_cli_offline, start_cli_offline)
from test_reproducible import assert_same_csvs, slow

OUTPUT_FILES = {"units.csv", "codes.csv", "suggestions.csv", "unit_suggestions.csv", "review.csv",
                "review.xlsx", "report.html", "manifest.json"}


def _copy_of_first_study(name: str):
    """A study holding the first run (complete) and nothing else, in a folder of its own."""
    folder = SCRATCH / name
    shutil.copytree(first_run()["study"], folder / "study")
    return folder


def _planned_decisions(study_folder, n: int) -> list[tuple[str, str, str | None, str]]:
    """``n`` decisions on unit suggestions: accept, reject and reassign in turn."""
    with ts.Study.open(study_folder) as study:
        run = study.load_run()
        themes = study.framework().theme_ids
    units = run.suggestions[run.suggestions["level"] == "unit"].head(n)
    plan = []
    for i, row in enumerate(units.itertuples()):
        action = ("accept", "reject", "reassign")[i % 3]
        other = next(t for t in themes if t != row.theme_id) if action == "reassign" else None
        plan.append((row.suggestion_id, action, other, f"decision {i}"))
    return plan


def _decide(study_folder, plan) -> None:
    with ts.Study.open(study_folder) as study:
        for suggestion_id, action, theme_id, note in plan:
            study.decide(suggestion_id, action, theme_id=theme_id, analyst="KJ", note=note)


def _run_args(folder) -> list[str]:
    return ["run", str(TRANSCRIPT), "--study", str(folder / "study"), "--out", str(folder / "out"),
            "--quiet"]


def _kill_during_run(folder, seconds: float, decide_meanwhile=()) -> None:
    """Start the run, make decisions half way, SIGKILL it after ``seconds``."""
    proc = start_cli_offline(*_run_args(folder), cache=first_run()["cache"],
                             network_log=folder / "network.log")
    try:
        time.sleep(seconds / 2)
        _decide(folder / "study", decide_meanwhile)
        time.sleep(seconds / 2)
        assert proc.poll() is None, "the run ended before it could be killed"
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.communicate(timeout=60)
    assert proc.returncode == -signal.SIGKILL
    assert_no_network_use(folder / "network.log")


def _assert_consistent(folder, plan) -> list[str]:
    """The store is sound and has exactly the planned decisions; returns the runs' statuses."""
    conn = sqlite3.connect(folder / "study" / "study.sqlite")
    try:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert conn.execute("PRAGMA foreign_key_check").fetchall() == []
    finally:
        conn.close()
    with ts.Study.open(folder / "study") as study:
        decisions = study.decisions
        statuses = study.runs["status"].tolist()
    kept = decisions.to_dict("records")
    assert [(d["suggestion_id"], d["action"], d["analyst"], d["note"]) for d in kept] == \
        [(s, a, "KJ", n) for s, a, _, n in plan]
    for d, (_, action, theme_id, _) in zip(kept, plan):
        assert action != "reassign" or d["theme_id"] == theme_id
    out = folder / "out"
    assert not out.exists() or {p.name for p in out.iterdir()} == OUTPUT_FILES
    return statuses


def test_a_run_killed_at_a_random_moment_loses_no_decision():
    rng = random.Random(20261123)
    folder = _copy_of_first_study("killed-once")
    plan = _planned_decisions(folder / "study", 4)
    _decide(folder / "study", plan[:2])
    # Within the first seconds the process is surely alive: importing, loading spaCy and the model.
    _kill_during_run(folder, rng.uniform(1.0, 5.0), decide_meanwhile=plan[2:])
    statuses = _assert_consistent(folder, plan)
    assert statuses[0] == "complete" and set(statuses[1:]) <= {"running"}


@slow
def test_killed_runs_resume_to_the_result_of_an_uninterrupted_run():
    rng = random.Random(7)
    reference, crashed = _copy_of_first_study("reference"), _copy_of_first_study("crashed")
    plan = _planned_decisions(reference / "study", 6)

    _decide(reference / "study", plan)
    started = time.perf_counter()
    result = run_cli_offline(*_run_args(reference), cache=first_run()["cache"],
                             network_log=reference / "network.log")
    assert result["returncode"] == 0, result["stderr"]
    duration = time.perf_counter() - started

    _decide(crashed / "study", plan[:2])
    _kill_during_run(crashed, rng.uniform(1.0, 0.8 * duration), decide_meanwhile=plan[2:4])
    _assert_consistent(crashed, plan[:4])
    _decide(crashed / "study", plan[4:])
    _kill_during_run(crashed, rng.uniform(0.3 * duration, 0.75 * duration))
    _assert_consistent(crashed, plan)

    result = run_cli_offline(*_run_args(crashed), cache=first_run()["cache"],
                             network_log=crashed / "network.log")
    assert result["returncode"] == 0, result["stderr"]
    assert _assert_consistent(crashed, plan) == ["complete", "complete"]  # resumed, not a third run
    assert_same_csvs({"out": reference / "out", "study": reference / "study"},
                      {"out": crashed / "out", "study": crashed / "study"})
