"""Speed of reading and segmenting the sample transcripts, and agreement of the meaning-unit
boundaries with a hand segmentation. Prints markdown tables.

    .venv/bin/python bench/bench_segment.py [FOLDER] [--repeat N]

The hand segmentation is the coding table in FOLDER/coding/*.csv (columns doc_id, start, end).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

import pandas as pd  # noqa: E402

import themesift as ts  # noqa: E402
from themesift.segment import load_spacy  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


def timed(fn, *args, repeat=1, **kwargs):
    times, result = [], None
    for _ in range(repeat):
        started = time.perf_counter()
        result = fn(*args, **kwargs)
        times.append(time.perf_counter() - started)
    return result, statistics.median(times)


def span_agreement(human: pd.DataFrame, machine: pd.DataFrame) -> dict[str, float]:
    """How well machine units cover hand-marked units of the same transcripts.

    For each hand-marked unit, the best character-overlap (Jaccard) with any machine unit;
    and boundary precision/recall: a unit start counts as matched when the other side has one
    within 25 characters (about four words).
    """
    best, matched_h, matched_m, n_m = [], 0, 0, 0
    for doc_id, h in human.groupby("doc_id"):
        m = machine[machine["doc_id"] == doc_id]
        n_m += len(m)
        for s, e in zip(h["start"], h["end"]):
            inter = (m["end"].clip(upper=e) - m["start"].clip(lower=s)).clip(lower=0)
            union = (m["end"].clip(lower=e) - m["start"].clip(upper=s))
            best.append(float((inter / union).max()) if len(m) else 0.0)
        hs, ms = h["start"].to_numpy(), m["start"].to_numpy()
        matched_h += sum(bool(len(ms)) and abs(ms - x).min() <= 25 for x in hs)
        matched_m += sum(bool(len(hs)) and abs(hs - x).min() <= 25 for x in ms)
    recall = matched_h / len(best)
    precision = matched_m / n_m if n_m else 0.0
    return {
        "hand units": len(best),
        "machine units": n_m,
        "mean best overlap (Jaccard)": round(statistics.mean(best), 3),
        "boundary precision": round(precision, 3),
        "boundary recall": round(recall, 3),
        "boundary F1": round(2 * precision * recall / (precision + recall), 3) if precision + recall else 0.0,
    }


def table(rows: list[dict]) -> str:
    cols = list(rows[0])
    lines = ["| " + " | ".join(cols) + " |", "|" + "|".join("---" for _ in cols) + "|"]
    lines += ["| " + " | ".join(str(r[c]) for c in cols) + " |" for r in rows]
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", nargs="?", default=str(ROOT / "data" / "sample"))
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    folder = Path(args.folder)

    _, load_s = timed(load_spacy)
    corpus, read_s = timed(ts.read_corpus, folder, repeat=args.repeat)

    def segment_uncached(corpus):  # every repeat on an empty sentence cache
        os.environ["THEMESIFT_CACHE_DIR"] = tempfile.mkdtemp(prefix="themesift-bench-")
        return ts.segment(corpus)

    units, seg_s = timed(segment_uncached, corpus, repeat=args.repeat)
    words = sum(len(turn.text.split()) for t in corpus for turn in t.turns)
    print(f"### Segmentation speed ({len(corpus)} transcripts, {words:,} words, median of {args.repeat})\n")
    print(table([
        {"step": "load spaCy (tok2vec + senter), once per process", "seconds": f"{load_s:.2f}", "words/s": ""},
        {"step": "read_corpus", "seconds": f"{read_s:.3f}", "words/s": f"{words / read_s:,.0f}"},
        {"step": "segment", "seconds": f"{seg_s:.3f}", "words/s": f"{words / seg_s:,.0f}"},
    ]))
    summary = ts.summarize_units(corpus, units)
    print("\n### Meaning units per transcript\n")
    print(table(summary.to_dict("records")))

    codings = sorted((folder / "coding").glob("*.csv"))
    if codings:
        human = pd.concat([pd.read_csv(p) for p in codings]).drop_duplicates(["doc_id", "start", "end"])
        human = human[human["doc_id"].isin(corpus.ids)]
        print("\n### Agreement with the hand segmentation (" + ", ".join(p.name for p in codings) + ")\n")
        print(table([span_agreement(human, units)]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
