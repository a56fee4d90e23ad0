"""Accepting candidate codes, then running again: do the next suggestions stay as good?

    .venv/bin/python bench/accept_codes.py [--accept 3,5,8,all] [--model fast]

The review sheet and the widget offer codes first (largest first), and one click on a code
codes its members whose own suggestion agrees. This runs data/sample in a new Study, accepts
the first N codes offered with a theme (in review order), runs the study again (which learns
from the coding so far, as ``themesift run --study`` does), and scores both runs' unit
suggestions against the hand coding of fg1_act_team (data/sample/coding) on the hand-coded
units that the decisions did not code (each hand-marked unit stands for the run's unit that
covers most of it; right when the suggestion is one of its hand-coded themes, ``none``
included). Also the share of the units not coded that the commonest theme takes, before
and after: codes accepted for one or two themes must not pull the study towards them.
Prints markdown.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import warnings
from collections import Counter
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

import themesift as ts  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "data" / "sample"
HAND_CODED = SAMPLE / "coding" / "fg1_act_team_coding.csv"


def hand_coding(units: pd.DataFrame) -> dict[str, set[str]]:
    """Run unit id -> the hand-coded themes of the hand-marked unit it covers most of (over
    half of that unit's characters)."""
    out: dict[str, set[str]] = {}
    for row in pd.read_csv(HAND_CODED).itertuples():
        mine = units[units["doc_id"] == row.doc_id]
        overlap = (np.minimum(mine["end"], row.end)
                   - np.maximum(mine["start"], row.start)).to_numpy()
        if len(mine) and overlap.max() > (row.end - row.start) / 2:
            out.setdefault(mine["unit_id"].iloc[int(overlap.argmax())], set()).add(row.theme_id)
    return out


def unit_themes(run) -> dict[str, str]:
    table = run.suggestions
    units = table[table["suggestion_id"].str.startswith("unit:")]
    return dict(zip(units["suggestion_id"].str[len("unit:"):], units["theme_id"]))


def scored(themes: dict[str, str], gold: dict[str, set[str]], coded: set[str]
           ) -> tuple[float, float]:
    """Accuracy on the hand-coded units not coded, and the commonest theme's share of all units
    not coded (``none`` aside)."""
    right = [themes[u] in gold[u] for u in gold if u not in coded and u in themes]
    spread = Counter(t for u, t in themes.items() if u not in coded and t != "none")
    return float(np.mean(right)), max(spread.values()) / sum(spread.values())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--accept", default="3,5,8,all", help="numbers of codes to accept")
    parser.add_argument("--model", default="fast")
    args = parser.parse_args()
    warnings.filterwarnings("ignore")
    embedder = ts.Embedder(args.model, quiet=True)
    with tempfile.TemporaryDirectory(prefix="themesift-accept-") as tmp:
        first = Path(tmp) / "first"
        study = ts.Study.open(first)
        run = study.run(SAMPLE, "recovery", embedder=embedder, quiet=True)
        study.close()
        gold = hand_coding(run.units)
        table = run.suggestions
        offered = table.loc[table["suggestion_id"].str.startswith("code:")
                            & (table["theme_id"] != "none"), "suggestion_id"].tolist()
        print(f"data/sample: {len(run.units)} units, {len(offered)} codes offered with a theme; "
              f"{len(gold)} hand-coded units of fg1_act_team\n")
        print("| codes accepted | units coded (by theme) | accuracy before / after | "
              "commonest theme's share before / after |")
        print("|---|---|---|---|")
        for n in [len(offered) if a == "all" else int(a) for a in args.accept.split(",")]:
            folder = Path(tmp) / f"accept-{n}"
            shutil.copytree(first, folder)
            study = ts.Study.open(folder)
            for suggestion in offered[:n]:
                study.decide(suggestion, "accept", analyst="bench")
            coding = study.coding()
            coded = set(coding["unit_id"])
            again = study.run(SAMPLE, "recovery", embedder=embedder, quiet=True)
            study.close()
            before, spread_before = scored(unit_themes(run), gold, coded)
            after, spread_after = scored(unit_themes(again), gold, coded)
            by_theme = ", ".join(f"{t} {k}" for t, k in Counter(coding["theme_id"]).most_common())
            print(f"| {n} | {len(coded)} ({by_theme}) | {before:.3f} / {after:.3f} | "
                  f"{spread_before:.2f} / {spread_after:.2f} |")


if __name__ == "__main__":
    sys.exit(main())
