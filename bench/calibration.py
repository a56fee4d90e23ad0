"""How well the unit scores say how often a suggestion is right, zero-shot, on every set of the suite.

    .venv/bin/python bench/calibration.py [--model fast|accurate|PATH] [--backend torch|onnx-int8]

Each set of bench/suite.py is scored whole with ``suggest_units`` and no coded examples, with
its codebook as it is and cut to names and descriptions (where the study's clearest units
teach the learner). Per row: accuracy (right when the suggestion is any of the passage's gold
themes, or ``none`` where the gold says none), the mean score of the suggestions, the expected
calibration error (ECE: ten equal score bins, the gap between mean score and accuracy in
each, weighted by its share of units) and the top-label Brier score (mean squared gap between
a suggestion's score and 1 if right, else 0); for units whose ``fit`` is below
``propose.WEAK_FIT``, their count, accuracy and mean score. Lower ECE and Brier are better.
Prints markdown.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

import numpy as np  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))

import themesift as ts  # noqa: E402
from suite import datasets, names_and_descriptions  # noqa: E402
from themesift.embed import Embedder  # noqa: E402
from themesift.propose import WEAK_FIT  # noqa: E402


def expected_calibration_error(score: np.ndarray, right: np.ndarray, bins: int = 10) -> float:
    which = np.minimum((score * bins).astype(int), bins - 1)
    return float(sum((which == b).mean() * abs(score[which == b].mean() - right[which == b].mean())
                     for b in range(bins) if (which == b).any()))


def row(name: str, data, embedder) -> dict:
    table = ts.suggest_units(data.units, data.framework, embedder=embedder)
    right = np.array([theme in gold for theme, gold in zip(table["theme_id"], data.gold)])
    score = table["score"].to_numpy(dtype=float)
    weak = table["fit"].to_numpy(dtype=float) < WEAK_FIT
    return {"set": name, "units": len(table), "accuracy": round(right.mean(), 3),
            "mean score": round(score.mean(), 3),
            "ECE": round(expected_calibration_error(score, right), 3),
            "Brier": round(float(np.mean((score - right) ** 2)), 3),
            "weak fit: units": int(weak.sum()),
            "weak fit: accuracy": round(right[weak].mean(), 3) if weak.any() else "-",
            "weak fit: mean score": round(score[weak].mean(), 3) if weak.any() else "-"}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="fast")
    parser.add_argument("--backend", default=None, choices=("torch", "onnx-int8"))
    args = parser.parse_args()
    embedder = Embedder(args.model, backend=args.backend, quiet=True)
    rows = []
    for data in datasets(None):
        plain = names_and_descriptions(data)
        if plain is not data:
            rows.append(row(data.name, data, embedder))
        rows.append(row(f"{data.name}, names and descriptions only", plain, embedder))
    columns = list(rows[0])
    print("| " + " | ".join(columns) + " |\n|" + "---|" * len(columns))
    for r in rows:
        print("| " + " | ".join(str(r[c]) for c in columns) + " |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
