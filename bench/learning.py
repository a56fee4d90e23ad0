"""Learning curve: how agreement with human coding grows with an analyst's decisions.

    .venv/bin/python bench/learning.py [--model fast] [--seeds 2]

A simulated analyst reviews suggestions in themesift's review order (the least certain first,
taking the suggested themes in turn so every theme gets reviewed) and answers each from the
human coding: the reviewed text becomes a coded example with all of its human labels. After
0, 10, 25, 50, 100 and 200 decisions the suggestions are recomputed with those examples and
scored on texts the analyst never saw.

1. Care Opinion (../shared/benchmarks/care_opinion), 9 major labels, multi-label: decisions
   come from one half of the stories, scores from the other (micro/macro-F1, as in
   bench/quality.py).
2. The hand-coded sample transcript (data/sample/coding): decisions and scores on the same 77
   units, scored only on the units not yet decided (accuracy, macro-F1, Cohen's kappa).

Prints markdown tables, writes bench/results/learning_<model>.json and learning_<model>.png.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))

import themesift as ts  # noqa: E402
from quality import CARE_OPINION, CODEBOOK, ROOT, f1_scores, load_care_opinion, multi_label, table  # noqa: E402
from themesift.embed import Embedder  # noqa: E402
from themesift.propose import score_themes  # noqa: E402
from themesift.review.sheet import theme_rounds  # noqa: E402

STEPS = (0, 10, 25, 50, 100, 200)


def review_order(probs: np.ndarray, candidates: list[int]) -> list[int]:
    """themesift's review order (review/sheet.py): least certain first, themes in rounds."""
    top2 = np.sort(probs[candidates], axis=1)[:, -2:]
    margins = top2[:, 1] - top2[:, 0]
    rounds = theme_rounds(probs[candidates].argmax(axis=1), margins)
    order = sorted(range(len(candidates)), key=lambda i: (rounds[i], margins[i], i))
    return [candidates[i] for i in order]


def care_opinion_curve(embedder: Embedder, seeds: int) -> list[dict]:
    stories = load_care_opinion()
    fw = ts.load_framework(CODEBOOK)
    ids = fw.theme_ids
    gold = np.array([[t in labels for t in ids] for labels in stories["labels"]])
    rows = []
    for seed in range(seeds):
        rng = np.random.default_rng(seed)
        train = rng.permutation(len(stories))[: len(stories) // 2]
        test = np.setdiff1d(np.arange(len(stories)), train)
        reviewed: list[int] = []
        for step in STEPS:
            examples = pd.DataFrame(
                [{"text": stories["text"].iloc[i], "theme_id": t}
                 for i in reviewed for t in stories["labels"].iloc[i]],
                columns=["text", "theme_id"])
            probs = score_themes(stories[["unit_id", "text"]], fw, embedder=embedder,
                                 examples=examples if len(examples) else None)[ids].to_numpy()
            rows.append({"seed": seed, "decisions": step, **f1_scores(gold[test], multi_label(probs[test]))})
            # The analyst reviews the next batch in review order, from the training half.
            remaining = [i for i in train if i not in set(reviewed)]
            nxt = STEPS[STEPS.index(step) + 1] if step != STEPS[-1] else step
            reviewed += review_order(probs, remaining)[: nxt - step]
    frame = pd.DataFrame(rows).groupby("decisions")[["micro_f1", "macro_f1"]].mean().round(3)
    return frame.reset_index().to_dict("records")


def cohen_kappa(a: list[str], b: list[str]) -> float:
    labels = sorted(set(a) | set(b))
    po = np.mean([x == y for x, y in zip(a, b)])
    pe = sum((a.count(l) / len(a)) * (b.count(l) / len(b)) for l in labels)
    return float((po - pe) / (1 - pe)) if pe < 1 else 1.0


def sample_curve(embedder: Embedder) -> list[dict]:
    paths = sorted((ROOT / "data" / "sample" / "coding").glob("*.csv"))
    coding = pd.concat([pd.read_csv(p) for p in paths])
    gold = coding.groupby("id")["theme_id"].apply(lambda s: sorted(set(s)))
    units = coding.drop_duplicates("id").rename(columns={"id": "unit_id"})[["unit_id", "text"]]
    fw = ts.load_framework("recovery")
    labels = [*fw.theme_ids, "none"]
    reviewed: list[int] = []
    rows = []
    for step in [s for s in STEPS if s < len(units)]:
        examples = pd.DataFrame(
            [{"text": units["text"].iloc[i], "theme_id": t}
             for i in reviewed for t in gold.loc[units["unit_id"].iloc[i]]],
            columns=["text", "theme_id"])
        probs = score_themes(units, fw, embedder=embedder,
                             examples=examples if len(examples) else None)[labels].to_numpy()
        unseen = [i for i in range(len(units)) if i not in set(reviewed)]
        predicted = [labels[probs[i].argmax()] for i in unseen]
        truth = [gold.loc[units["unit_id"].iloc[i]] for i in unseen]
        first = [t[0] if p not in t else p for p, t in zip(predicted, truth)]
        per = []
        for label in labels:
            tp = sum(p == label and label in t for p, t in zip(predicted, truth))
            per.append(2 * tp / max(1, predicted.count(label) + sum(label in t for t in truth)))
        rows.append({"decisions": step, "scored units": len(unseen),
                     "accuracy": round(float(np.mean([p in t for p, t in zip(predicted, truth)])), 3),
                     "macro_f1": round(float(np.mean(per)), 3),
                     "kappa": round(cohen_kappa(predicted, first), 3)})
        nxt = STEPS[STEPS.index(step) + 1] if step != STEPS[-1] else step
        reviewed += review_order(probs, unseen)[: nxt - step]
    return rows


def plot(curves: dict[str, list[dict]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4))
    for name, rows in curves.items():
        metric = "micro_f1" if "micro_f1" in rows[0] else "accuracy"
        ax.plot([r["decisions"] for r in rows], [r[metric] for r in rows], marker="o",
                label=f"{name} ({metric.replace('_', '-')})")
    ax.set_xlabel("analyst decisions")
    ax.set_ylabel("agreement with human coding")
    ax.set_xscale("symlog", linthresh=10)
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="fast")
    parser.add_argument("--seeds", type=int, default=2)
    args = parser.parse_args()
    embedder = Embedder(args.model)
    curves: dict[str, list[dict]] = {}
    if CARE_OPINION.exists():
        curves["Care Opinion"] = care_opinion_curve(embedder, args.seeds)
        print(f"### Care Opinion, 9 major labels ({embedder.model_id}, mean of {args.seeds} seeds)\n")
        print(table(curves["Care Opinion"]))
    else:
        print(f"Skipping Care Opinion: {CARE_OPINION} is not there (it lives outside the repo).")
    curves["sample transcript"] = sample_curve(embedder)
    print("\n### Hand-coded sample transcript (scored on units not yet decided)\n")
    print(table(curves["sample transcript"]))
    out = ROOT / "bench" / "results"
    out.mkdir(parents=True, exist_ok=True)
    name = Path(args.model).name
    (out / f"learning_{name}.json").write_text(json.dumps(curves, indent=2) + "\n")
    plot(curves, out / f"learning_{name}.png")
    return 0


if __name__ == "__main__":
    sys.exit(main())
