"""Embedding throughput: sentences per second, cold (computed) and cached. Prints markdown.

    .venv/bin/python bench/bench_embed.py [FOLDER] [--n 500] [--batch-size 64]

Texts are the meaning units of FOLDER (default data/sample) plus their single sentences, so
there are enough distinct short texts. Each profile runs on a fresh, temporary cache:
"cold" embeds every text (model already loaded, load time reported apart), "cached" encodes
the same texts again from a new Embedder on that cache. The accurate profile is measured only
when its packages are installed.
"""

from __future__ import annotations

import argparse
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


def measure(profile: str, texts: list[str], batch_size: int) -> dict[str, object] | None:
    with tempfile.TemporaryDirectory() as cache:
        emb = Embedder(profile, cache_dir=cache, batch_size=batch_size, quiet=True)
        try:
            started = time.perf_counter()
            dimension = emb.info()["dimension"]  # assembles (accurate, first time) and loads
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
            Embedder(profile, cache_dir=cache, batch_size=batch_size).encode(texts)
            cached_times.append(time.perf_counter() - started)
        cached = statistics.median(cached_times)
    return {
        "profile": profile,
        "model": emb.model_id,
        "dim": dimension,
        "load s": f"{load:.1f}",
        "cold sent/s": f"{len(texts) / cold:,.0f}",
        "cached sent/s": f"{len(texts) / cached:,.0f}",
        "cold s": f"{cold:.2f}",
        "cached s": f"{cached:.3f}",
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", nargs="?", type=Path, default=ROOT / "data" / "sample")
    parser.add_argument("--n", type=int, default=500, help="number of distinct texts")
    parser.add_argument("--batch-size", type=int, default=64)
    args = parser.parse_args()

    texts = bench_texts(args.folder, args.n)
    words = statistics.mean(len(t.split()) for t in texts)
    import torch

    print(
        f"{len(texts)} distinct texts, {words:.1f} words on average; batch size "
        f"{args.batch_size}; {platform.processor() or platform.machine()}, "
        f"{os.cpu_count()} CPUs, torch {torch.__version__} ({torch.get_num_threads()} threads)\n"
    )
    rows = [r for r in (measure(p, texts, args.batch_size) for p in ("fast", "accurate")) if r]
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
