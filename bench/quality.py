"""Quality of unit-level theme suggestions against human coding. Prints markdown, writes JSON.

    .venv/bin/python bench/quality.py [--model fast|accurate|PATH] [--seeds 3] [--json FILE]

1. Care Opinion (../shared/benchmarks/care_opinion, real patient stories coded by people): the
   nine major labels, described in our own words in bench/frameworks/care_opinion.yaml.
   Multi-label micro- and macro-F1, zero-shot and with k = 1, 5, 10 human-coded examples per
   label (coded stories drawn from a training half with all their labels; scored on the
   other half, averaged over seeds), next to
   plain cosine similarity to the label names and to the descriptions.
2. The hand-coded sample transcript (data/sample/coding/*.csv) with the built-in recovery
   framework: accuracy and macro-F1 over the four themes and "none".
3. Calibration: how often the top suggestion is right, by score band.

A story's predicted labels are every theme whose probability is at least RELATIVE_CUTOFF times
the top theme's (the top theme always): stories carry two labels on average.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

import themesift as ts  # noqa: E402
from themesift.embed import Embedder  # noqa: E402
from themesift.propose import score_themes  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
CARE_OPINION = ROOT.parent / "shared" / "benchmarks" / "care_opinion"
CODEBOOK = ROOT / "bench" / "frameworks" / "care_opinion.yaml"
RELATIVE_CUTOFF = 0.5
# Our theme ids -> the dataset's major labels.
MAJOR = {
    "access": "Access", "care_received": "Care received", "communication": "Communication",
    "couldnt_be_improved": "Couldn't be improved", "dignity": "Dignity",
    "environment": "Environment/ facilities", "miscellaneous": "Miscellaneous", "staff": "Staff",
    "transition": "Transition/coordination",
}


def load_care_opinion() -> pd.DataFrame:
    """Stories with their major labels, cleaned as the data's README says."""
    stories = pd.read_csv(CARE_OPINION / "co_multi_label.csv")
    codebook = pd.read_csv(CARE_OPINION / "codebook_phase1_derived.csv")
    major = dict(zip(codebook["code"].str.strip().str.lower(), codebook["major_label"].str.strip()))
    to_id = {v: k for k, v in MAJOR.items()}
    rows = []
    for i, story in stories.iterrows():
        codes = {str(story[f"cat_{k}"]).strip().lower() for k in range(1, 7) if pd.notna(story[f"cat_{k}"])}
        labels = sorted({to_id[major[c]] for c in codes if c in major})
        if labels and isinstance(story["feedback"], str) and story["feedback"].strip():
            rows.append({"unit_id": f"co{i}", "text": story["feedback"].strip(), "labels": labels})
    return pd.DataFrame(rows)


def f1_scores(gold: np.ndarray, pred: np.ndarray) -> dict[str, float]:
    tp = (gold & pred).sum()
    micro = 2 * tp / (gold.sum() + pred.sum())
    per = [2 * (gold[:, j] & pred[:, j]).sum() / max(1, gold[:, j].sum() + pred[:, j].sum())
           for j in range(gold.shape[1]) if gold[:, j].any()]
    return {"micro_f1": round(float(micro), 3), "macro_f1": round(float(np.mean(per)), 3)}


def multi_label(probs: np.ndarray) -> np.ndarray:
    """Every theme with at least RELATIVE_CUTOFF of the top theme's probability."""
    top = probs.max(axis=1, keepdims=True)
    pred = probs >= RELATIVE_CUTOFF * top
    pred[np.arange(len(probs)), probs.argmax(axis=1)] = True
    return pred


def plain_cosine(stories: pd.DataFrame, texts: list[str], embedder: Embedder) -> np.ndarray:
    sim = embedder.encode(list(stories["text"])) @ embedder.encode(texts).T
    return multi_label(np.exp((sim - sim.max(axis=1, keepdims=True)) / 0.03))


def care_opinion(embedder: Embedder, seeds: int) -> tuple[list[dict], list[dict]]:
    stories = load_care_opinion()
    fw = ts.load_framework(CODEBOOK)
    ids = fw.theme_ids
    gold_all = np.array([[t in labels for t in ids] for labels in stories["labels"]])

    def probs_for(frame, examples=None):
        p = score_themes(frame[["unit_id", "text"]], fw, embedder=embedder, examples=examples)
        return p[ids].to_numpy()

    rows, calibration = [], []
    names = plain_cosine(stories, [t.name for t in fw.themes], embedder)
    rows.append({"method": "plain cosine to label names", "k": 0, **f1_scores(gold_all, names)})
    descriptions = plain_cosine(stories, [f"{t.name}: {t.description}" for t in fw.themes], embedder)
    rows.append({"method": "plain cosine to descriptions", "k": 0, **f1_scores(gold_all, descriptions)})
    started = time.perf_counter()
    zero = probs_for(stories)
    rows.append({"method": "themesift zero-shot (all stories)", "k": 0,
                 **f1_scores(gold_all, multi_label(zero))})
    calibration = calibration_table(zero, gold_all)
    logger_time = time.perf_counter() - started

    for k in (1, 5, 10):
        scores = []
        for seed in range(seeds):
            rng = np.random.default_rng(seed)
            train = rng.permutation(len(stories))[: len(stories) // 2]
            test = np.setdiff1d(np.arange(len(stories)), train)
            # k coded stories per label, each with all the labels its coder gave it.
            picked: set[int] = set()
            for j in range(len(ids)):
                pool = [i for i in train if gold_all[i, j]]
                picked |= set(rng.permutation(pool)[:k].tolist())
            examples = pd.DataFrame(
                [{"text": stories["text"].iloc[i], "theme_id": t}
                 for i in sorted(picked) for t in stories["labels"].iloc[i]]
            )
            test_frame = stories.iloc[test]
            scores.append({
                "zero": f1_scores(gold_all[test], multi_label(zero[test])),
                "few": f1_scores(gold_all[test], multi_label(probs_for(test_frame, examples))),
            })
        for key, label in (("zero", "themesift zero-shot (test halves)"), ("few", "themesift with examples")):
            if key == "zero" and k != 1:
                continue
            rows.append({
                "method": label, "k": 0 if key == "zero" else k,
                "micro_f1": round(float(np.mean([s[key]["micro_f1"] for s in scores])), 3),
                "macro_f1": round(float(np.mean([s[key]["macro_f1"] for s in scores])), 3),
            })
    print(f"(zero-shot scoring of {len(stories)} stories took {logger_time:.1f} s)", file=sys.stderr)
    return rows, calibration


def calibration_table(probs: np.ndarray, gold: np.ndarray) -> list[dict]:
    top = probs.argmax(axis=1)
    score = probs.max(axis=1)
    right = gold[np.arange(len(gold)), top]
    out = []
    for low, high in ((0, 0.4), (0.4, 0.6), (0.6, 0.8), (0.8, 1.01)):
        band = (score >= low) & (score < high)
        if band.any():
            out.append({"score": f"{low:.1f}-{min(high, 1):.1f}", "stories": int(band.sum()),
                        "top suggestion right": round(float(right[band].mean()), 3)})
    return out


def sample_coding(embedder: Embedder) -> dict | None:
    paths = sorted((ROOT / "data" / "sample" / "coding").glob("*.csv"))
    if not paths:
        return None
    coding = pd.concat([pd.read_csv(p) for p in paths])
    corpus = ts.read_corpus(ROOT / "data" / "sample")
    gold = coding.groupby("id")["theme_id"].apply(set)
    units = coding.drop_duplicates("id").rename(columns={"id": "unit_id"})
    # The turn each hand-marked unit lies in, so neighbouring units inform each other.
    units["turn"] = [
        next((t.index for t in corpus[d].turns if t.start <= s < t.end), -1)
        for d, s in zip(units["doc_id"], units["start"])
    ]
    suggestions = ts.suggest_units(units, "recovery", embedder=embedder).set_index("unit_id")
    predicted = suggestions.loc[gold.index, "theme_id"]
    right = [p in g for p, g in zip(predicted, gold)]
    labels = sorted({t for g in gold for t in g} | set(predicted))
    per = []
    for label in labels:
        tp = sum(p == label and label in g for p, g in zip(predicted, gold))
        n_pred = sum(p == label for p in predicted)
        n_gold = sum(label in g for g in gold)
        per.append(2 * tp / max(1, n_pred + n_gold))
    return {"units": len(gold), "accuracy": round(float(np.mean(right)), 3),
            "macro_f1": round(float(np.mean(per)), 3),
            "none_predicted": int((predicted == "none").sum()), "none_gold": int(sum("none" in g for g in gold))}


def write_results(results: dict, kind: str, model: str, path: str | None) -> None:
    """The figures as JSON: to ``path``, else bench/results/<kind>_<model>_<backend>.json."""
    name = f"{kind}_{Path(model).name}_{results['backend']}.json"
    out = Path(path or ROOT / "bench" / "results" / name)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2) + "\n")


def table(rows: list[dict]) -> str:
    cols = list(rows[0])
    lines = ["| " + " | ".join(cols) + " |", "|" + "|".join("---" for _ in cols) + "|"]
    return "\n".join(lines + ["| " + " | ".join(str(r[c]) for c in cols) + " |" for r in rows])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="fast", help="embedding profile or model folder")
    parser.add_argument("--backend", default=None, choices=("torch", "onnx-int8"),
                        help="how vectors are computed (default: the profile's own)")
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--json", default=None, help="where to write the figures (default bench/results/quality_<model>_<backend>.json)")
    args = parser.parse_args()
    embedder = Embedder(args.model, backend=args.backend)
    results: dict = {"model": embedder.model_id, "backend": embedder.info().get("backend")}
    if CARE_OPINION.exists():
        rows, calibration = care_opinion(embedder, args.seeds)
        print(f"### Care Opinion, 9 major labels ({embedder.model_id})\n")
        print(table(rows))
        print("\n### Calibration (zero-shot, top suggestion)\n")
        print(table(calibration))
        results["care_opinion"] = rows
        results["calibration"] = calibration
    else:
        print(f"Skipping Care Opinion: {CARE_OPINION} is not there (it lives outside the repo).")
    sample = sample_coding(embedder)
    if sample:
        print("\n### Hand-coded sample transcript (recovery framework, themes + none)\n")
        print(table([sample]))
        results["sample"] = sample
    write_results(results, "quality", args.model, args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
