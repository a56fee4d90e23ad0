"""Crash safety: `themesift run --study S` killed with SIGKILL at random (seeded) moments.

The moment is set by the run's own progress, not by the clock (a warm run takes a few seconds,
less than a fixed delay could safely assume): the test reads the stage lines the CLI writes on
stderr and kills at a seeded stage plus a seeded delay, but never later than the last stage
line before the run is saved, so the process is surely alive and the run not yet complete.
After each kill the study opens, passes SQLite's integrity check, and holds every decision
made before and during the killed run; --out holds either nothing or a complete set of
files. The slow test kills twice and then lets the run finish: it resumes the interrupted run
and gives the same files as an uninterrupted run on a study with the same decisions.
(tests/test_study.py kills a run with fake stages and a process in the middle of deciding;
these tests kill the real CLI.)
"""

import os
import queue
import random
import re
import shutil
import signal
import sqlite3
import threading
import time

import themesift as ts
from test_offline import (SCRATCH, TRANSCRIPT, assert_no_network_use, first_run,
                          run_cli_offline, start_cli_offline)
from test_reproducible import assert_same_csvs, slow

OUTPUT_FILES = {"units.csv", "codes.csv", "suggestions.csv", "unit_suggestions.csv", "review.csv",
                "review.xlsx", "report.html", "manifest.json"}

# The lines `themesift run` writes on stderr (not a terminal, no --quiet) before it saves the
# run, in order. After the last one it still has the suggestions, the save and the files to
# make, so a kill no later than that line finds it alive and its run 'running'.
STAGES = ("started", "framework", "segment", "embed", "discover", "suggest")
_STAGE_LINE = re.compile(r"themesift run: (?:Run \S+ (?P<run>started|complete)\b|(?P<stage>\w+): )")
MAX_DELAY = 2.0  # seconds after the chosen stage line; about the warm run's span up to 'suggest'
STAGE_TIMEOUT = 300  # a run that hangs fails the test instead of stalling it


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
    # Not --quiet: the stage lines on stderr tell _kill_during_run how far the run has come.
    return ["run", str(TRANSCRIPT), "--study", str(folder / "study"), "--out", str(folder / "out")]


def _stage(line: str) -> str | None:
    """The stage a line of `themesift run`'s stderr announces, if it is a stage line."""
    match = _STAGE_LINE.match(line)
    return match and (match["run"] or match["stage"])


class _StageLines:
    """The stage lines of a running CLI, read from its stderr as they come (a thread keeps
    the pipe drained, so the run never blocks on it)."""

    def __init__(self, proc):
        self.stderr: list[str] = []
        self._reached: list[str] = []
        self._lines: queue.Queue[str | None] = queue.Queue()
        self._thread = threading.Thread(target=self._read, args=(proc.stderr,), daemon=True)
        self._thread.start()

    def _read(self, stream) -> None:
        with stream:
            for line in stream:
                self.stderr.append(line)
                self._lines.put(line)
        self._lines.put(None)

    def wait_for(self, stage: str, timeout: float = STAGE_TIMEOUT) -> bool:
        """Read up to ``stage``'s line (at once if it was read before); False if ``timeout``
        seconds pass first."""
        deadline = time.monotonic() + timeout
        while stage not in self._reached and (left := deadline - time.monotonic()) > 0:
            try:
                line = self._lines.get(timeout=left)
            except queue.Empty:
                break
            assert line is not None, f"the run ended before {stage!r}:\n{''.join(self.stderr)}"
            self._reached.append(_stage(line))
        return stage in self._reached

    def stages(self) -> list[str]:
        """The stages whose lines came, in order (after the stream is closed: all of them)."""
        self._thread.join(timeout=60)
        return [stage for stage in map(_stage, self.stderr) if stage]


def _kill_during_run(folder, rng: random.Random, decide_meanwhile=()) -> None:
    """Start the run, make decisions once it has started, SIGKILL it at a seeded moment.

    The moment is a seeded stage line (any before 'suggest') plus a seeded delay, or the
    'suggest' line if it comes first.
    """
    stage, delay = rng.choice(STAGES[:-1]), rng.uniform(0.0, MAX_DELAY)
    moment = f"{stage!r} + {delay:.2f} s"
    proc = start_cli_offline(*_run_args(folder), cache=first_run()["cache"],
                             network_log=folder / "network.log")
    lines = _StageLines(proc)
    try:
        assert lines.wait_for("started"), "the run did not start"
        _decide(folder / "study", decide_meanwhile)  # while the run is under way
        assert lines.wait_for(stage), f"the run did not reach {stage!r}"
        lines.wait_for(STAGES[-1], timeout=delay)
        assert proc.poll() is None, f"the run ended before it could be killed ({moment})"
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        if proc.poll() is None:
            proc.kill()  # something above failed: do not leave the run going
        proc.wait(timeout=60)
        proc.stdout.close()
    seen = lines.stages()
    assert proc.returncode == -signal.SIGKILL
    assert "complete" not in seen, f"the kill ({moment}) came after the run was saved: {seen}"
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
    _kill_during_run(folder, rng, decide_meanwhile=plan[2:])
    statuses = _assert_consistent(folder, plan)
    assert statuses[0] == "complete" and set(statuses[1:]) <= {"running"}


@slow
def test_killed_runs_resume_to_the_result_of_an_uninterrupted_run():
    rng = random.Random(7)
    reference, crashed = _copy_of_first_study("reference"), _copy_of_first_study("crashed")
    plan = _planned_decisions(reference / "study", 6)

    _decide(reference / "study", plan)
    result = run_cli_offline(*_run_args(reference), cache=first_run()["cache"],
                             network_log=reference / "network.log")
    assert result["returncode"] == 0, result["stderr"]

    _decide(crashed / "study", plan[:2])
    _kill_during_run(crashed, rng, decide_meanwhile=plan[2:4])
    _assert_consistent(crashed, plan[:4])
    _decide(crashed / "study", plan[4:])
    _kill_during_run(crashed, rng)
    _assert_consistent(crashed, plan)

    result = run_cli_offline(*_run_args(crashed), cache=first_run()["cache"],
                             network_log=crashed / "network.log")
    assert result["returncode"] == 0, result["stderr"]
    assert _assert_consistent(crashed, plan) == ["complete", "complete"]  # resumed, not a third run
    assert_same_csvs({"out": reference / "out", "study": reference / "study"},
                      {"out": crashed / "out", "study": crashed / "study"})
