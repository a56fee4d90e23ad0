"""Embedding throughput: sentences per second, cold (computed) and cached. Prints markdown.

    .venv/bin/python bench/bench_embed.py [FOLDER] [--n 500] [--batch-size 64]
        [--backends torch,onnx-int8] [--quality] [--json FILE]

Texts are the meaning units of FOLDER (default data/sample) plus their single sentences, so
there are enough distinct short texts. Each profile runs on a fresh, temporary cache:
"cold" embeds every text (model already loaded, load time reported apart), "cached" encodes
the same texts again from a new Embedder on that cache. The accurate profile is measured only
when its packages are installed. Each profile runs with every backend of ``--backends``
("onnx-int8": ONNX Runtime, int8 weights, built once from the local weights; its load time
includes that build the first time). ``--quality`` adds the Care Opinion zero-shot micro- and
macro-F1 of each (bench/quality.py; about a minute with fast, a quarter of an hour with
accurate on torch), the figure that decides whether a backend may be a profile's default.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import statistics
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

import themesift as ts  # noqa: E402
from themesift.embed import Embedder  # noqa: E402
from themesift.errors import MissingDependencyError  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


def bench_texts(folder: Path, n: int) -> list[str]:
    units = ts.segment(ts.read_corpus(folder))["text"].tolist()
    sentences = [s for u in units for s in re.split(r"(?<=[.!?])\s+", u) if len(s.split()) >= 3]
    texts = list(dict.fromkeys(units + sentences))
    if len(texts) < n:
        print(f"(only {len(texts)} distinct texts in {folder}; using all)\n")
    return texts[:n]


def measure(
    profile: str, backend: str, texts: list[str], batch_size: int, quality: bool
) -> dict[str, object] | None:
    with tempfile.TemporaryDirectory() as cache:
        emb = Embedder(profile, cache_dir=cache, batch_size=batch_size, quiet=True, backend=backend)
        try:
            started = time.perf_counter()
            emb.load()  # assembles the model (accurate, the first time) and loads it
            dimension = emb.dimension
        except MissingDependencyError as exc:
            print(f"(profile {profile} skipped: {exc})\n")
            return None
        load = time.perf_counter() - started

        started = time.perf_counter()
        emb.encode(texts)
        cold = time.perf_counter() - started

        cached_times = []
        for _ in range(3):
            started = time.perf_counter()
            Embedder(profile, cache_dir=cache, batch_size=batch_size, backend=backend).encode(texts)
            cached_times.append(time.perf_counter() - started)
        cached = statistics.median(cached_times)
        scores = care_opinion_zero_shot(emb) if quality else {}
    return {
        "profile": profile,
        "backend": backend,
        "model": emb.model_id,
        "dim": dimension,
        "load s": f"{load:.1f}",
        "cold sent/s": f"{len(texts) / cold:,.0f}",
        "cached sent/s": f"{len(texts) / cached:,.0f}",
        "cold s": f"{cold:.2f}",
        "cached s": f"{cached:.3f}",
        **scores,
    }


def care_opinion_zero_shot(embedder: Embedder) -> dict[str, float]:
    """Care Opinion zero-shot micro/macro F1 over all stories, as bench/quality.py scores it."""
    import numpy as np

    import quality
    from themesift.propose import score_themes

    if not quality.CARE_OPINION.exists():
        print(f"(quality skipped: {quality.CARE_OPINION} is not there)\n")
        return {}
    stories = quality.load_care_opinion()
    framework = ts.load_framework(quality.CODEBOOK)
    gold = np.array([[t in labels for t in framework.theme_ids] for labels in stories["labels"]])
    probs = score_themes(stories[["unit_id", "text"]], framework, embedder=embedder)
    scores = quality.f1_scores(gold, quality.multi_label(probs[framework.theme_ids].to_numpy()))
    return {"CO micro F1": scores["micro_f1"], "CO macro F1": scores["macro_f1"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", nargs="?", type=Path, default=ROOT / "data" / "sample")
    parser.add_argument("--n", type=int, default=500, help="number of distinct texts")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--profiles", default="fast,accurate", help="comma-separated profiles")
    parser.add_argument("--backends", default="torch,onnx-int8", help="comma-separated backends")
    parser.add_argument("--quality", action="store_true",
                        help="also score the Care Opinion benchmark zero-shot with each")
    parser.add_argument("--json", type=Path, default=None, help="also write the rows here")
    args = parser.parse_args()

    texts = bench_texts(args.folder, args.n)
    words = statistics.mean(len(t.split()) for t in texts)
    import torch

    print(
        f"{len(texts)} distinct texts, {words:.1f} words on average; batch size "
        f"{args.batch_size}; {platform.processor() or platform.machine()}, "
        f"{os.cpu_count()} CPUs, torch {torch.__version__} ({torch.get_num_threads()} threads)\n"
    )
    runs = [(p, b) for p in args.profiles.split(",") for b in args.backends.split(",")]
    rows = [r for r in (measure(p, b, texts, args.batch_size, args.quality) for p, b in runs) if r]
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2) + "\n", encoding="utf-8")
    header = list(rows[0])
    print("| " + " | ".join(header) + " |")
    print("|" + "|".join("---" for _ in header) + "|")
    for row in rows:
        print("| " + " | ".join(str(row[k]) for k in header) + " |")
    print(
        "\nload s: finding and loading the model; the first row also imports torch and "
        "sentence-transformers, and the accurate profile's first use ever assembles it (~5 s)."
    )


if __name__ == "__main__":
    main()
