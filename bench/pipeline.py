"""Performance of the whole pipeline on N meaning units, against plain BERTopic. Prints markdown.

    .venv/bin/python bench/pipeline.py --units 1500 [--model fast] [--backend torch]
        [--suggest-rows 100000] [--no-bertopic] [--json FILE]

Units are real patient feedback: sentences of the Care Opinion stories
(../shared/benchmarks/care_opinion) of 8 words or more, and runs of two or three consecutive
sentences of one story, all distinct, shuffled, written as focus-group transcripts (one
participant turn per unit) so that ``themesift run`` reads and segments them as usual.
In one process, on a fresh temporary embedding cache each (cold), with the model already
loaded (its load time is reported apart):

- ``embed_s``: ``Embedder.encode`` of the meaning units alone (as segmented, in a child
  process, so that the run is the first to show these words to this process's spaCy), the mean of
  one measurement just before the run and one just after: this machine's speed drifts by 10-20%
  over minutes, and bracketing the run keeps that drift out of the ratio;
- ``total_s``: ``run_pipeline`` + ``write_outputs`` (what ``themesift run`` does), per stage;
- ``short_texts_s``: the run's own ``encode`` calls for texts other than the units (the
  framework's texts, keyword candidates, label phrases, and any stretch of a unit past the
  model's window), inside ``total_s``; model runs inside ``encode_spans`` (the token states
  of label candidates' units, once no longer kept) are not in it. ``total_s / (embed_s +
  short_texts_s)`` is the run against all the embedding it does;
- ``cached_total_s``: the same again on the now warm cache;
- ``peak_rss_mb``: the process's peak resident memory after those runs (before BERTopic);
- ``bertopic_s``: ``BERTopic(embedding_model=<the same model>).fit_transform`` of the texts,
  embedding included, the reference a user would otherwise pick;
- ``suggest``: ``suggest_table`` streaming a CSV of ``--suggest-rows`` rows (the units' texts
  repeated, so their vectors come from the warm cache: this measures the streaming, not the
  embedding) in a child process, at that size and at a tenth of it: the same peak memory
  for both means memory is bounded by the chunk, not the table.

Numba compiles UMAP's and HDBSCAN's kernels on their first use in a process (~20 s; the
pipeline uses them from 5,000 units on, BERTopic always). The benchmark pays that once, up
front, in a tiny warm-up fit reported as ``jit_warmup_s``, so ``total_s`` and ``bertopic_s``
are the steady-state times; a fresh ``themesift run`` process on 5,000+ units pays it on top
(less when numba's on-disk cache is warm). Likewise the one-off cost of a process's first run
(importing spaCy, BERTopic, scikit-learn and XlsxWriter, building spaCy's sentencizer, about
2 s) is paid up front by a run on 40 other units, reported as ``warmup_s``: like the model's
loading, it does not grow with the corpus. What a user waits for in all is measured too:
``fresh_process_s`` is ``themesift run`` in a new process on cold caches, model loading,
imports and compilation included (``--no-fresh-process`` skips it).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import random
import re
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

from themesift.embed import Embedder  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
CARE_OPINION = ROOT.parent / "shared" / "benchmarks" / "care_opinion" / "co_multi_label.csv"
TURNS_PER_TRANSCRIPT = 250
MIN_WORDS, MAX_WORDS = 8, 70  # inside segment()'s bounds, so one turn stays one unit
SUGGEST_CHUNK_ROWS = 5000
WARMUP_UNITS = 40


def unit_texts(n: int, seed: int = 0) -> list[str]:
    """``n`` distinct, realistic meaning-unit texts (see the module docstring)."""
    import pandas as pd

    if not CARE_OPINION.exists():
        sys.exit(f"The unit texts come from {CARE_OPINION}, which is not there (it lives "
                 "outside the repository, in ../shared).")
    pool: dict[str, None] = {}
    for story in pd.read_csv(CARE_OPINION)["feedback"].dropna():
        sentences = [s.strip() for s in re.split(r"(?<=[.!?])\s+", story) if s.strip()]
        for size in (1, 2, 3):
            for start in range(len(sentences) - size + 1):
                text = " ".join(sentences[start:start + size])
                if MIN_WORDS <= len(text.split()) <= MAX_WORDS:
                    pool[text] = None
    if len(pool) < n:
        sys.exit(f"Only {len(pool):,} distinct unit texts can be made; ask for fewer --units.")
    texts = list(pool)
    random.Random(seed).shuffle(texts)
    return texts[:n]


def write_transcripts(texts: list[str], folder: Path) -> None:
    """Focus-group transcripts, one participant turn per text, a moderator question each."""
    for number, start in enumerate(range(0, len(texts), TURNS_PER_TRANSCRIPT), start=1):
        lines = ["Moderator: Can you tell me about your experience of the service?", ""]
        for i, text in enumerate(texts[start:start + TURNS_PER_TRANSCRIPT]):
            lines += [f"P{i % 7 + 1}: {text}", ""]
        (folder / f"fg{number:03d}.txt").write_text("\n".join(lines), encoding="utf-8")


def peak_rss_mb() -> float:
    """This process's peak resident memory: VmHWM, which starts afresh in a new program
    (ru_maxrss carries the parent's peak over into a child on Linux)."""
    with contextlib.suppress(OSError):
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024  # kB
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def child(command: list[str], what: str, env: dict[str, str] | None = None) -> str:
    """Run ``command`` and return what it printed; stop the benchmark if it fails."""
    done = subprocess.run(command, capture_output=True, text=True, env=env, check=False)
    if done.returncode:
        sys.exit(f"{what} failed:\n{done.stderr[-3000:]}")
    return done.stdout


def timed(fn, *args, **kwargs):
    started = time.perf_counter()
    result = fn(*args, **kwargs)
    return result, round(time.perf_counter() - started, 2)


def jit_warmup(seed: int) -> float:
    """Compile UMAP's and HDBSCAN's numba kernels on a tiny fit; seconds taken."""
    import numpy as np
    from hdbscan import HDBSCAN
    from umap import UMAP

    vectors = np.random.default_rng(seed).normal(size=(300, 32)).astype("float32")
    started = time.perf_counter()
    reduced = UMAP(n_components=5, metric="cosine", random_state=seed).fit_transform(vectors)
    HDBSCAN(min_cluster_size=10).fit(reduced)
    return round(time.perf_counter() - started, 1)


def process_warmup(texts: list[str], embedder: Embedder, tmp: Path) -> float:
    """One run on a few other units (own caches): imports and one-off setup; seconds."""
    from themesift.pipeline import run_pipeline, write_outputs
    from themesift.segment import load_spacy

    load_spacy()  # the trained sentence splitter, which a few unpunctuated paragraphs need
    folder = tmp / "warmup"
    folder.mkdir()
    write_transcripts(texts, folder)
    os.environ["THEMESIFT_CACHE_DIR"] = str(tmp / "warmup-cache")
    started = time.perf_counter()
    result = run_pipeline(folder, "recovery", embedder=Embedder(
        embedder.model, backend=embedder.backend, cache_dir=tmp / "warmup-cache", quiet=True),
        quiet=True)
    write_outputs(result, tmp / "warmup-out")
    return round(time.perf_counter() - started, 2)


def fresh_process(folder: Path, args: argparse.Namespace, tmp: Path) -> float:
    """Wall seconds of ``themesift run`` in a new process with empty caches."""
    env = dict(os.environ, THEMESIFT_CACHE_DIR=str(tmp / "fresh-cache"))
    command = [str(Path(sys.executable).with_name("themesift")), "run", str(folder),
               "--out", str(tmp / "fresh-out"), "--model", args.model, "--quiet"]
    if args.backend:
        command += ["--backend", args.backend]
    started = time.perf_counter()
    child(command, "themesift run", env)
    return round(time.perf_counter() - started, 2)


def short_text_calls(embedder: Embedder, units: set[str]) -> list[tuple[int, float]]:
    """Wrap ``embedder.encode`` to note the number of texts and the seconds of each call that
    is not for the meaning units (the list returned): the run's other embedding, of the
    framework's texts, keyword candidates and label phrases."""
    calls: list[tuple[int, float]] = []
    encode = embedder.encode

    def noted(texts):
        started = time.perf_counter()
        vectors = encode(texts)
        if not set(texts) <= units:
            calls.append((len(texts), time.perf_counter() - started))
        return vectors

    embedder.encode = noted
    return calls


def run_once(folder: Path, embedder: Embedder, out: Path) -> tuple[dict, float, int]:
    """``themesift run`` without the study store: stage times, total seconds, units."""
    from themesift.pipeline import run_pipeline, write_outputs

    started = time.perf_counter()
    result = run_pipeline(folder, "recovery", embedder=embedder, quiet=True)
    stages = dict(result.manifest["timings_s"])
    _, stages["write"] = timed(write_outputs, result, out)
    return stages, round(time.perf_counter() - started, 2), len(result.units)


def bertopic_reference(texts: list[str], embedder: Embedder, seed: int) -> float:
    """Seconds of ``BERTopic().fit_transform`` (embedding included), UMAP seeded."""
    from bertopic import BERTopic
    from umap import UMAP

    # The same model as PyTorch runs it (what BERTopic users get), embedding in BERTopic.
    model = Embedder(embedder.model, backend="torch")._load()
    umap = UMAP(n_neighbors=15, n_components=5, min_dist=0.0, metric="cosine", random_state=seed)
    _, seconds = timed(BERTopic(embedding_model=model, umap_model=umap).fit_transform, texts)
    return seconds


def suggest_child(args: argparse.Namespace) -> None:
    """Child process: stream one table through suggest_table; print seconds and peak RSS."""
    from themesift.propose import suggest_table

    embedder = Embedder(args.model, backend=args.backend, cache_dir=args.cache, quiet=True)
    embedder.load()  # before the clock starts, as in the parent
    counts, seconds = timed(suggest_table, args.suggest_child, args.suggest_out, "recovery",
                            id_column="ref", embedder=embedder, chunk_rows=SUGGEST_CHUNK_ROWS, quiet=True)
    print(json.dumps({"rows": int(counts.sum()), "seconds": seconds,
                      "peak_rss_mb": round(peak_rss_mb())}))


def measure_suggest(texts: list[str], rows: int, args: argparse.Namespace, cache: str,
                    tmp: Path) -> dict:
    import pandas as pd

    table, out = tmp / f"rows{rows}.csv", tmp / f"preds{rows}.csv"
    pd.DataFrame({"ref": [f"r{i}" for i in range(rows)],
                  "text": [texts[i % len(texts)] for i in range(rows)]}).to_csv(table, index=False)
    command = [sys.executable, __file__, "--suggest-child", str(table), "--suggest-out", str(out),
               "--model", args.model, "--backend", args.backend or "", "--cache", cache]
    return json.loads(child(command, f"suggest_table on {rows} rows").strip().splitlines()[-1])


def segmented_units(folder: Path, tmp: Path) -> list[str]:
    """The meaning units ``themesift run`` makes of ``folder``, segmented in a child process
    with a cache folder of its own."""
    env = dict(os.environ, THEMESIFT_CACHE_DIR=str(tmp / "segment-cache"))
    return json.loads(child([sys.executable, __file__, "--units-child", str(folder)],
                            "Segmenting", env))


def units_child(folder: Path) -> None:
    import themesift as ts

    print(json.dumps(ts.segment(ts.read_corpus(folder))["text"].tolist()))


def cached_texts(cache: Path) -> int:
    """How many vectors a run stored: units, their sentences, keyword candidates."""
    import sqlite3

    (path,) = cache.glob("*.sqlite3")
    with contextlib.closing(sqlite3.connect(path)) as conn:
        return conn.execute("SELECT COUNT(*) FROM vectors").fetchone()[0]


def markdown(rows: list[tuple[str, object]]) -> str:
    return "\n".join(["| measure | value |", "|---|---|",
                      *(f"| {name} | {value} |" for name, value in rows)])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--units", type=int, default=1500, help="meaning units to make")
    parser.add_argument("--model", default="fast", help="embedding profile or model folder")
    parser.add_argument("--backend", default=None, help="torch or onnx-int8 (default: profile's)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--suggest-rows", type=int, default=100_000,
                        help="rows for the streaming suggest (0 skips it)")
    parser.add_argument("--no-bertopic", action="store_true", help="skip the BERTopic reference")
    parser.add_argument("--no-fresh-process", action="store_true",
                        help="skip timing themesift run in a new process")
    parser.add_argument("--json", type=Path, default=None, help="also write the figures here")
    parser.add_argument("--suggest-child", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--suggest-out", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--cache", help=argparse.SUPPRESS)
    parser.add_argument("--units-child", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    args.backend = args.backend or None
    if args.suggest_child:
        suggest_child(args)
        return
    if args.units_child:
        units_child(args.units_child)
        return

    import torch

    texts = unit_texts(args.units + WARMUP_UNITS, args.seed)
    texts, warmup_texts = texts[:args.units], texts[args.units:]
    probe = Embedder(args.model, backend=args.backend, cache_dir=False, quiet=True)
    _, load_s = timed(probe.load)
    info = probe.info()
    figures: dict = {
        "when": time.strftime("%Y-%m-%d %H:%M %Z"), "units_requested": args.units,
        "model": info["model_id"], "backend": info["backend"], "cpus": os.cpu_count(),
        "torch_threads": torch.get_num_threads(), "load_average": os.getloadavg()[0],
        "python": platform.python_version(), "model_load_s": load_s,
    }
    print(f"{args.units:,} units requested; model {info['model_id']} ({info['backend']}); "
          f"{os.cpu_count()} CPUs, torch threads {torch.get_num_threads()}; "
          f"load average {os.getloadavg()[0]:.1f} at {figures['when']}", flush=True)
    figures["jit_warmup_s"] = jit_warmup(args.seed)

    with tempfile.TemporaryDirectory(prefix="themesift-bench-") as tmp_name:
        tmp = Path(tmp_name)
        (tmp / "transcripts").mkdir()
        write_transcripts(texts, tmp / "transcripts")

        def embedder(cache: str) -> Embedder:
            return Embedder(args.model, backend=args.backend, cache_dir=tmp / cache, quiet=True)

        figures["warmup_s"] = process_warmup(warmup_texts, probe, tmp)
        # The same texts the run embeds: the meaning units its segmentation makes, found in
        # another process so that this one's spaCy has not met these words before the run.
        units = segmented_units(tmp / "transcripts", tmp)
        _, before = timed(embedder("cold-embed-before").encode, units)
        # Sentence splits and codes are cached too (in the cache folder): cold means all cold.
        os.environ["THEMESIFT_CACHE_DIR"] = str(tmp / "run")
        run = embedder("run")
        calls = short_text_calls(run, set(units))
        stages, figures["total_s"], figures["units"] = run_once(
            tmp / "transcripts", run, tmp / "out1")
        figures["short_texts"] = sum(n for n, _ in calls)
        figures["short_texts_s"] = round(sum(s for _, s in calls), 2)
        _, after = timed(embedder("cold-embed-after").encode, units)
        figures["embed_s_before_after"] = [before, after]
        figures["embed_s"] = round((before + after) / 2, 2)
        cached_stages, figures["cached_total_s"], _ = run_once(
            tmp / "transcripts", embedder("run"), tmp / "out2")
        figures["stages_s"], figures["cached_stages_s"] = stages, cached_stages
        figures["vectors_stored"] = cached_texts(tmp / "run")
        figures["peak_rss_mb"] = round(peak_rss_mb())
        figures["total_over_embed"] = round(figures["total_s"] / figures["embed_s"], 2)
        figures["total_over_all_embedding"] = round(
            figures["total_s"] / (figures["embed_s"] + figures["short_texts_s"]), 2)
        figures["cached_over_total"] = round(figures["cached_total_s"] / figures["total_s"], 3)
        figures["units_per_s_embed"] = round(figures["units"] / figures["embed_s"])
        if not args.no_bertopic:
            figures["bertopic_s"] = bertopic_reference(texts, probe, args.seed)
        if not args.no_fresh_process:
            figures["fresh_process_s"] = fresh_process(tmp / "transcripts", args, tmp)
        if args.suggest_rows:
            figures["suggest"] = [measure_suggest(texts, rows, args, str(tmp / "run"), tmp)
                                  for rows in (max(args.suggest_rows // 10, 1), args.suggest_rows)]

    rows: list[tuple[str, object]] = [
        ("units (after segmenting)", f"{figures['units']:,}"),
        ("model load s (apart)", load_s), ("numba warm-up s (apart)", figures["jit_warmup_s"]),
        ("first-run warm-up s: imports, one-off setup (apart)", figures["warmup_s"]),
        ("embed_s (cold cache; mean of before and after the run)",
         f"{figures['embed_s']} ({before} / {after})"),
        ("embedding units/s", figures["units_per_s_embed"]),
        ("total_s (cold cache)", figures["total_s"]),
        ("vectors stored by the run (units, their sentences, keywords)",
         f"{figures['vectors_stored']:,}"),
        ("total_s / embed_s (target <= 1.5)", figures["total_over_embed"]),
        (f"the run's other embedding s ({figures['short_texts']:,} short texts: the "
         "framework's, keyword candidates, label phrases)", figures["short_texts_s"]),
        ("total_s / (embed_s + that)", figures["total_over_all_embedding"]),
        ("cached_total_s (warm cache)", figures["cached_total_s"]),
        ("cached_total_s / total_s (target <= 0.2)", figures["cached_over_total"]),
        ("peak memory MB (target < 2,048 at 20,000)", f"{figures['peak_rss_mb']:,}"),
        *((f"stage {name} s (cold / warm)", f"{seconds} / {cached_stages.get(name)}")
          for name, seconds in stages.items()),
    ]
    if "fresh_process_s" in figures:
        rows.append(("themesift run in a new process, cold caches, all included s",
                     figures["fresh_process_s"]))
    if "bertopic_s" in figures:
        rows.append(("BERTopic().fit_transform s (embedding included)", figures["bertopic_s"]))
    for run in figures.get("suggest", []):
        rows.append((f"suggest {run['rows']:,} rows streamed: s / peak MB",
                     f"{run['seconds']} / {run['peak_rss_mb']:,}"))
    print(markdown(rows))
    print("\nA unit's sentences get their vectors from the unit's own forward pass (in "
          "embed_s too); the framework's texts, keyword candidates and label phrases are "
          "embedded in total_s only (the run's other embedding).")
    print("total_s excludes model loading, numba's compilation and a process's first-run "
          "warm-up (reported apart; the new-process row includes them). The suggest rows "
          "repeat the units' texts, so their vectors come from the cache.")
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
