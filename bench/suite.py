"""The benchmark suite: unit suggestions against every real human-coded set we have.

    .venv/bin/python bench/suite.py [--model fast|accurate|PATH] [--backend torch|onnx-int8]
                                    [--seeds 3] [--sets serdif_thinkaloud,sample] [--json FILE]
    .venv/bin/python bench/suite.py --from-json bench/results/suite_fast_onnx-int8.json

Sets (each skipped with a message when absent):

- every folder of ``../shared/benchmarks/`` holding ``passages.csv`` (id, text, optionally
  document and speaker), ``gold.csv`` (id, theme_id; several rows per id = several tags) and
  ``codebook.yaml`` (a themesift framework); where a ``speaker`` column says ``participant``,
  only participant passages are scored (what an analyst codes);
- ``care_opinion``: patient stories with the nine major labels, described in our own words in
  bench/frameworks/care_opinion.yaml (each story is its own document);
- ``sample``: the hand-coded sample transcript (data/sample/coding) with the built-in recovery
  framework, its small talk flagged as ``themesift run`` flags it, the only set with ``none`` in its gold coding (one transcript: its halves are
  split by speaker turn).

For each set, methods are compared on the same embeddings:

- zero-shot: themesift's ``suggest_units`` against plain cosine to each theme's "name:
  description" (forced choice); where the codebook has indicators, examples or subthemes,
  again with its names and descriptions only (the codebook most analysts write);
- k = 1, 5, 10, 20 coded passages per theme (and ``none`` where the gold coding has it):
  for each seed, the documents are split in two halves; examples are drawn from one half and
  the other half is scored, then the other way round, so every passage is scored once per seed
  with examples from other documents (a one-document set is split by passage). Baselines: the
  nearest centroid of the examples and the description, and scikit-learn's
  LogisticRegression on the embeddings;
- k = 5, one theme not coded: the k = 5 examples without the rows of one theme (each draw
  leaves out another theme, in the codebook's order), an analyst who has not reached that
  theme yet; baselines as for k (logistic regression cannot suggest the theme at all);
- 16 and 50 at random: passages of the other half drawn at random, each with all of its
  gold themes (``none`` included), as an analyst coding quotes as they come gives them: the
  themes in the proportions the set has them (the team's own check codes 16 quotes; the 16
  are the first of the 50; a half with fewer passages has no such row); baselines as for k;
- k = 8 of one theme: 8 passages of one theme (drawn per seed and half), the first thing an
  analyst coding theme by theme gives; baseline: the nearest centroid;
- the review loop: an analyst answers suggestions of one half in themesift's review order
  (least certain first, themes taking turns, small talk last), 0, 25, 50, 100 and 200 decisions, and the other
  half is scored with the decisions as examples (the baselines learn from the same decisions).

Metrics, each the mean over seeds: accuracy (a suggestion is right when it is any of the
passage's gold themes; ``none`` is right only where the gold says ``none``), macro-F1 over the
gold themes, Cohen's kappa (against the gold theme that matches the suggestion, else the
passage's first gold theme), the share of ``none`` suggestions (with its precision and recall
against the passages coded ``none``, where there are any), and bootstrap 95% intervals
(passages resampled, 1,000 times) for accuracy and macro-F1.

Prints markdown, writes bench/results/suite_<model>_<backend>.json.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import time
import warnings
from dataclasses import dataclass
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))

import themesift as ts  # noqa: E402
from quality import CODEBOOK, ROOT, load_care_opinion, write_results  # noqa: E402
from themesift.embed import Embedder  # noqa: E402
from themesift.propose import suggest_units_and_codes  # noqa: E402
from themesift.review.sheet import review_order  # noqa: E402
from themesift.segment import small_talk_in_transcripts  # noqa: E402

BENCHMARKS = ROOT.parent / "shared" / "benchmarks"
KS = (1, 5, 10, 20)
ONE_THEME_K = 8  # "one theme": this many passages of a single theme, as an analyst working
ONE_THEME = f"k = {ONE_THEME_K} of one theme"  # theme by theme codes them first
UNCODED_K = 5  # "one theme not coded": the k = 5 examples without those of one theme (the
UNCODED = f"k = {UNCODED_K}, one theme not coded"  # theme an analyst has not reached yet)
STEPS = (0, 25, 50, 100, 200)
RANDOM_NS = (16, 50)  # passages coded as they come (drawn at random), as an analyst codes
ACCEPTED = (3, 10)  # codes accepted in one click each, the review's first decisions
BOOTSTRAP = 1000


@dataclass
class Dataset:
    name: str
    units: pd.DataFrame  # unit_id, text (+ doc_id, turn where known)
    gold: list[list[str]]  # per unit, its gold themes (first = the coder's first)
    framework: ts.Framework
    documents: np.ndarray  # per unit, the document it comes from

    @property
    def labels(self) -> list[str]:
        """The labels an analyst codes with: the framework's themes, plus none where used."""
        used = {t for g in self.gold for t in g}
        return [*self.framework.theme_ids, *(["none"] if "none" in used else [])]


# --- the sets ---------------------------------------------------------------------------------

def load_folder(folder: Path) -> Dataset:
    """A set in the shared shape: passages.csv, gold.csv, codebook.yaml."""
    passages = pd.read_csv(folder / "passages.csv", dtype=str)
    if "speaker" in passages and (passages["speaker"] == "participant").any():
        passages = passages[passages["speaker"] == "participant"]
    gold = pd.read_csv(folder / "gold.csv", dtype=str)
    themes = gold.groupby("id", sort=False)["theme_id"].apply(list)
    passages = passages[passages["id"].isin(themes.index) & passages["text"].notna()]
    units = pd.DataFrame({"unit_id": passages["id"].to_numpy(),
                          "text": passages["text"].str.strip().to_numpy()})
    documents = (passages["document"].to_numpy() if "document" in passages
                 else units["unit_id"].to_numpy())
    return Dataset(folder.name, units, [themes[i] for i in units["unit_id"]],
                   ts.load_framework(folder / "codebook.yaml"), documents)


def load_care_opinion_set() -> Dataset:
    stories = load_care_opinion()
    return Dataset("care_opinion", stories[["unit_id", "text"]].reset_index(drop=True),
                   [list(x) for x in stories["labels"]], ts.load_framework(CODEBOOK),
                   stories["unit_id"].to_numpy())


def load_sample() -> Dataset:
    coding = pd.concat([pd.read_csv(p) for p in sorted((ROOT / "data" / "sample" / "coding")
                                                      .glob("*.csv"))])
    corpus = ts.read_corpus(ROOT / "data" / "sample")
    gold = coding.groupby("id", sort=False)["theme_id"].apply(list)
    units = coding.drop_duplicates("id").rename(columns={"id": "unit_id"}).reset_index(drop=True)
    # The turn each hand-marked unit lies in, so neighbouring units inform each other.
    units["turn"] = [next((t.index for t in corpus[d].turns if t.start <= s < t.end), -1)
                     for d, s in zip(units["doc_id"], units["start"])]
    # Small talk is flagged as segmentation flags it in a run (and so suggested none).
    units["small_talk"] = [r is not None for r in small_talk_in_transcripts(units, corpus)]
    units = units[["unit_id", "doc_id", "turn", "text", "small_talk"]]
    # One transcript: the halves are split by speaker turn (so a unit's turn neighbours are
    # scored with it).
    turns = (units["doc_id"] + "#" + units["turn"].astype(str)).to_numpy()
    return Dataset("sample", units, [gold[u] for u in units["unit_id"]],
                   ts.load_framework("recovery"), turns)


def datasets(wanted: set[str] | None) -> list[Dataset]:
    out = []
    if BENCHMARKS.exists():
        for folder in sorted(BENCHMARKS.iterdir()):
            if wanted and folder.name not in wanted:
                continue
            if all((folder / f).exists() for f in ("passages.csv", "gold.csv", "codebook.yaml")):
                out.append(load_folder(folder))
            elif folder.name == "care_opinion":
                out.append(load_care_opinion_set())
    else:
        print(f"Skipping the shared benchmarks: {BENCHMARKS} is not there (it lives outside "
              "the repo).", file=sys.stderr)
    if not wanted or "sample" in wanted:
        out.append(load_sample())
    return out


# --- methods: each maps (set, scored rows, examples) to one label per scored row ----------------

def themesift(data: Dataset, rows: np.ndarray, examples: pd.DataFrame | None, embedder
              ) -> list[str]:
    table = ts.suggest_units(data.units.iloc[rows], data.framework, embedder=embedder,
                             examples=examples if examples is not None and len(examples) else None)
    return list(table["theme_id"])


def description_vectors(data: Dataset, embedder) -> np.ndarray:
    return embedder.encode([f"{t.name}: {t.description}" for t in data.framework.themes])


def description_cosine(data, rows, vectors, embedder) -> list[str]:
    sim = vectors[rows] @ description_vectors(data, embedder).T
    return [data.framework.theme_ids[j] for j in sim.argmax(axis=1)]


def centroid(data, rows, vectors, embedder, examples) -> list[str]:
    """Nearest centroid of each label's examples and its description ("none": examples only)."""
    descriptions = dict(zip(data.framework.theme_ids, description_vectors(data, embedder)))
    ex_vectors = embedder.encode(list(examples["text"])) if len(examples) else np.zeros((0, 1))
    labels, centres = [], []
    for label in data.labels:
        members = [ex_vectors[i] for i in np.flatnonzero(examples["theme_id"].to_numpy() == label)]
        if label in descriptions:
            members.append(descriptions[label])
        if members:
            c = np.mean(members, axis=0)
            labels.append(label)
            centres.append(c / np.linalg.norm(c))
    return [labels[j] for j in (vectors[rows] @ np.array(centres).T).argmax(axis=1)]


def logistic(data, rows, vectors, embedder, examples) -> list[str]:
    from sklearn.linear_model import LogisticRegression

    y = examples["theme_id"].to_numpy()
    if len(set(y)) < 2:
        return [y[0]] * len(rows)
    with warnings.catch_warnings():  # one example per theme: "more classes than half the rows"
        warnings.simplefilter("ignore", UserWarning)
        model = LogisticRegression(max_iter=2000).fit(embedder.encode(list(examples["text"])), y)
    return list(model.predict(vectors[rows]))


# --- protocol ---------------------------------------------------------------------------------

def names_and_descriptions(data: Dataset) -> Dataset:
    """The set with a codebook of its themes' names and descriptions only (no indicators,
    examples or subthemes); the set itself where its codebook is already that."""
    import dataclasses

    themes = data.framework.themes
    if not any(t.indicators or t.examples or t.subthemes for t in themes):
        return data
    plain = [dataclasses.replace(t, indicators=(), examples=(), subthemes=()) for t in themes]
    return dataclasses.replace(data, framework=dataclasses.replace(data.framework,
                                                                   themes=tuple(plain)))


def halves(data: Dataset, seed: int) -> list[np.ndarray]:
    """Two halves of the set's units, split by document (alternating shuffled documents)."""
    rng = np.random.default_rng(seed)
    docs = rng.permutation(pd.unique(data.documents))
    first = set(docs[::2])
    in_first = np.array([d in first for d in data.documents])
    return [np.flatnonzero(in_first), np.flatnonzero(~in_first)]


def draw_examples(data: Dataset, pool: np.ndarray, k: int, rng) -> pd.DataFrame:
    """k coded passages per label from the pool, each with all of its gold themes."""
    picked: dict[int, None] = {}
    for label in data.labels:
        having = [i for i in pool if label in data.gold[i]]
        picked.update((int(i), None) for i in rng.permutation(having)[:k])
    return examples_of(data, list(picked))


def examples_of(data: Dataset, rows) -> pd.DataFrame:
    return pd.DataFrame([{"text": data.units["text"].iloc[i], "theme_id": t}
                         for i in rows for t in data.gold[i]], columns=["text", "theme_id"])


def run_set(data: Dataset, embedder, seeds: int, fine_tune_ks: tuple[int, ...] = ()
            ) -> dict[tuple[str, str], list[list[str]]]:
    """Predictions per (setting, method), one list of labels per seed, in unit order; with
    ``fine_tune_ks``, also themesift on a model fine-tuned on those settings' examples
    (``ts.fine_tune``; its seconds under the key ``("fine-tune", "seconds")``)."""
    vectors = embedder.encode(list(data.units["text"]))
    n = len(data.units)
    out: dict[tuple[str, str], list[list[str]]] = {}

    def put(setting, method, seed, rows, labels):
        runs = out.setdefault((setting, method), [])
        while len(runs) <= seed:
            runs.append([""] * n)
        for i, label in zip(rows, labels):
            runs[seed][i] = label

    every = np.arange(n)
    out[("zero-shot", "description cosine")] = [description_cosine(data, every, vectors, embedder)]
    out[("zero-shot", "themesift")] = [themesift(data, every, None, embedder)]
    plain = names_and_descriptions(data)
    if plain is not data:  # the codebook most analysts write: what its own texts add
        setting = "zero-shot, names and descriptions only"
        out[(setting, "description cosine")] = out[("zero-shot", "description cosine")]
        out[(setting, "themesift")] = [themesift(plain, every, None, embedder)]
    def learned(setting, seed, test, examples) -> None:
        """themesift and both learning baselines on the same examples."""
        put(setting, "centroid", seed, test, centroid(data, test, vectors, embedder, examples))
        put(setting, "logistic regression", seed, test,
            logistic(data, test, vectors, embedder, examples))
        put(setting, "themesift", seed, test, themesift(data, test, examples, embedder))

    for seed in range(seeds):
        parts = halves(data, seed)
        for side, (test, pool) in enumerate((parts, parts[::-1])):
            rng = np.random.default_rng([seed, int(test[0])])
            for k in KS:
                examples = draw_examples(data, pool, k, rng)
                setting = f"k = {k}"
                learned(setting, seed, test, examples)
                if k == UNCODED_K:  # the same examples less one theme's, in turn per draw
                    themes = data.framework.theme_ids
                    left = themes[(2 * seed + side) % len(themes)]
                    learned(UNCODED, seed, test, examples[examples["theme_id"] != left])
                if k in fine_tune_ks:
                    tuned = ts.fine_tune(examples, data.framework, embedder=embedder, seed=seed)
                    tuned.cache_dir = False  # one model per draw: nothing to reuse
                    out.setdefault(("fine-tune", "seconds"), []).append(tuned.fine_tuning.seconds)
                    put(setting, "themesift, fine-tuned", seed, test,
                        themesift(data, test, examples, tuned))
                    shutil.rmtree(tuned.fine_tuning.path)
            # One order of the pool, so that the 16 are the first of the 50 (its own stream:
            # the other rows' draws stay as they were); none where the pool is smaller.
            drawn = np.random.default_rng([seed, int(test[0]), 1]).permutation(pool)
            for n_coded in (n for n in RANDOM_NS if n <= len(pool)):
                learned(f"{n_coded} at random", seed, test, examples_of(data, drawn[:n_coded]))
            examples = one_theme_examples(data, pool, rng)
            if examples is not None:
                put(ONE_THEME, "centroid", seed, test,
                    centroid(data, test, vectors, embedder, examples))
                put(ONE_THEME, "themesift", seed, test, themesift(data, test, examples, embedder))
            review_loop(data, pool, test, vectors, embedder, seed, put)
            accepting_codes(data, pool, test, vectors, embedder, seed, put)
    return out


def one_theme_examples(data: Dataset, pool, rng) -> pd.DataFrame | None:
    """``ONE_THEME_K`` passages of the pool coded with one theme (drawn among those with that
    many), as examples of that theme alone: what an analyst coding theme by theme has first.
    (No logistic regression: it needs two themes.)"""
    themes = [t for t in data.framework.theme_ids
              if sum(t in data.gold[i] for i in pool) >= ONE_THEME_K]
    if not themes:
        return None
    theme = themes[int(rng.integers(len(themes)))]
    having = [i for i in pool if theme in data.gold[i]]
    rows = rng.permutation(having)[:ONE_THEME_K]
    return pd.DataFrame({"text": data.units["text"].iloc[rows].to_numpy(), "theme_id": theme})


def review_loop(data, pool, test, vectors, embedder, seed, put) -> None:
    """The analyst decides the pool's units in themesift's review order (review/sheet.py:
    least certain first, themes taking turns, small talk last), answering from the gold
    coding; after each step the test half is scored with the decisions as examples."""
    reviewed: list[int] = []
    rows = np.r_[pool, test]
    for step in STEPS:
        if step > len(pool):
            break
        examples = examples_of(data, reviewed)
        table = ts.suggest_units(data.units.iloc[rows], data.framework, embedder=embedder,
                                 examples=examples if len(examples) else None)
        setting = f"review, {step} decisions"
        put(setting, "themesift", seed, test, list(table["theme_id"][len(pool):]))
        if step:
            put(setting, "centroid", seed, test, centroid(data, test, vectors, embedder, examples))
            put(setting, "logistic regression", seed, test,
                logistic(data, test, vectors, embedder, examples))
        else:
            put(setting, "description cosine", seed, test,
                description_cosine(data, test, vectors, embedder))
        nxt = STEPS[STEPS.index(step) + 1] if step != STEPS[-1] else step
        done = set(reviewed)
        waiting = table.iloc[: len(pool)].assign(
            suggestion_id=[str(i) for i in pool], level="unit",
            small_talk=data.units["small_talk"].iloc[pool].to_numpy()
            if "small_talk" in data.units else False)
        waiting = waiting[[int(i) not in done for i in pool]]
        reviewed += [int(i) for i in review_order(waiting)[: nxt - step]]


def accepting_codes(data, pool, test, vectors, embedder, seed, put) -> None:
    """The review starts with codes: the pool's candidate codes (``discover_codes``), those
    offered with a theme taken largest first, as the review sheet and the widget give them.
    The analyst accepts a code when most of the members it would code (those whose own
    suggestion agrees) carry its theme in the gold coding, and rejects it otherwise; each
    acceptance codes those members, right or wrong, as one decision (``decision_id``). After
    each number of ``ACCEPTED`` codes decided (or all offered, where fewer), the test half is
    scored with the coding as examples."""
    units = data.units.iloc[pool]
    try:
        codes = ts.discover_codes(units, embeddings=vectors[pool], seed=seed, quiet=True)
    except ts.InputError:  # too few units to make codes of
        return
    unit_table, code_table = suggest_units_and_codes(units, codes, data.framework,
                                                     embedder=embedder)
    own = dict(zip(unit_table["unit_id"], unit_table["theme_id"]))
    gold = dict(zip(units["unit_id"], (data.gold[i] for i in pool)))
    text = dict(zip(units["unit_id"], units["text"]))
    members = codes.assignments.groupby("code_id")["unit_id"].agg(list)
    offered = code_table[code_table["offered"] & (code_table["theme_id"] != "none")]
    rows: list[dict] = []
    for code in offered.sort_values("size", ascending=False, kind="stable").itertuples():
        agree = [u for u in members[code.code_id] if own[u] == code.theme_id]
        if sum(code.theme_id in gold[u] for u in agree) > len(agree) / 2:
            rows.append([{"text": text[u], "theme_id": code.theme_id,
                          "decision_id": code.code_id} for u in agree])
        else:
            rows.append([])
    for n in ACCEPTED:
        examples = pd.DataFrame([r for code in rows[:n] for r in code],
                                columns=["text", "theme_id", "decision_id"])
        setting = f"review, {n} codes"
        put(setting, "themesift", seed, test,
            themesift(data, test, examples if len(examples) else None, embedder))
        plain = examples[["text", "theme_id"]]  # no codes accepted: the descriptions alone
        put(setting, "centroid", seed, test, centroid(data, test, vectors, embedder, plain))
        put(setting, "logistic regression", seed, test,
            logistic(data, test, vectors, embedder, plain) if len(plain)
            else description_cosine(data, test, vectors, embedder))


# --- metrics ----------------------------------------------------------------------------------

def metrics(data: Dataset, runs: list[list[str]], rng) -> dict:
    """Accuracy, macro-F1, kappa and none rate (mean over seeds), with bootstrap intervals."""
    labels = data.labels
    gold = np.array([[t in g for t in labels] for g in data.gold])  # (n, L)
    scored = np.array([i for i, p in enumerate(runs[0]) if p])
    gold = gold[scored]
    n = len(scored)
    weights = rng.multinomial(n, np.full(n, 1 / n), size=BOOTSTRAP).astype(float)
    weights = np.vstack([np.ones(n), weights])  # row 0: the sample itself
    acc, macro, kappa, none, none_hits = [], [], [], [], []
    gold_none = np.array(["none" in data.gold[i] for i in scored])
    for run in runs:
        pred_labels = [run[i] for i in scored]
        pred = np.array([[p == t for t in labels] for p in pred_labels])
        right = (pred & gold).any(axis=1)
        acc.append(weights @ right / n)
        tp = weights @ (pred & gold)
        f1 = 2 * tp / np.maximum(1e-9, weights @ pred + weights @ gold)
        macro.append(f1.mean(axis=1))
        matched = [p if p in data.gold[i] else data.gold[i][0]
                   for p, i in zip(pred_labels, scored)]
        kappa.append(cohen_kappa(pred_labels, matched))
        said_none = np.array([p == "none" for p in pred_labels])
        none.append(said_none.mean())
        none_hits.append((said_none & gold_none).sum() / max(1, said_none.sum()))
        none_hits.append((said_none & gold_none).sum() / max(1, gold_none.sum()))
    acc, macro = np.mean(acc, axis=0), np.mean(macro, axis=0)

    def interval(values):
        low, high = np.percentile(values[1:], [2.5, 97.5])
        return [round(float(values[0]), 3), round(float(low), 3), round(float(high), 3)]

    out = {"accuracy": interval(acc), "macro_f1": interval(macro),
           "kappa": round(float(np.mean(kappa)), 3), "none_rate": round(float(np.mean(none)), 3),
           "passages": int(n), "seeds": len(runs)}
    if gold_none.any():  # how well "none" finds the passages the coder said fit no theme
        out["none_precision"] = round(float(np.mean(none_hits[::2])), 3)
        out["none_recall"] = round(float(np.mean(none_hits[1::2])), 3)
    return out


def cohen_kappa(a: list[str], b: list[str]) -> float:
    labels = sorted(set(a) | set(b))
    po = np.mean([x == y for x, y in zip(a, b)])
    pe = sum((a.count(x) / len(a)) * (b.count(x) / len(b)) for x in labels)
    return float((po - pe) / (1 - pe)) if pe < 1 else 1.0


def none_found(row: dict) -> str:
    if "none_precision" not in row or not row["none_rate"]:
        return ""
    return f" (P {row['none_precision']:.2f}, R {row['none_recall']:.2f})"


def markdown(name: str, rows: list[dict]) -> str:
    lines = [f"### {name}\n",
             "| setting | method | accuracy [95% CI] | macro-F1 [95% CI] | kappa | none |",
             "|---|---|---|---|---|---|"]
    for r in rows:
        a, m = r["accuracy"], r["macro_f1"]
        lines.append(f"| {r['setting']} | {r['method']} | {a[0]:.3f} [{a[1]:.3f}, {a[2]:.3f}] | "
                     f"{m[0]:.3f} [{m[1]:.3f}, {m[2]:.3f}] | {r['kappa']:.3f} | "
                     f"{r['none_rate']:.0%}{none_found(r)} |")
    return "\n".join(lines)


def summary(results: dict) -> str:
    """Accuracy of themesift against the better plain baseline, per set and setting."""
    lines = ["### themesift against the better plain baseline (accuracy)\n",
             "| set | setting | description cosine / centroid / logistic regression | "
             "themesift | difference | themesift none |", "|---|---|---|---|---|---|"]
    for name, entry in results["sets"].items():
        rows = {(r["setting"], r["method"]): r for r in entry["rows"]}
        for setting in dict.fromkeys(r["setting"] for r in entry["rows"]):
            ours = rows.get((setting, "themesift"))
            plain = [rows.get((setting, m)) for m in ("description cosine", "centroid",
                                                       "logistic regression")]
            values = [r["accuracy"][0] if r else None for r in plain]
            if not ours or not any(v is not None for v in values):
                continue
            best = max(v for v in values if v is not None)
            shown = " / ".join("-" if v is None else f"{v:.3f}" for v in values)
            lines.append(f"| {name} | {setting} | {shown} | {ours['accuracy'][0]:.3f} | "
                         f"{ours['accuracy'][0] - best:+.3f} | {ours['none_rate']:.0%} |")
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="fast", help="embedding profile or model folder")
    parser.add_argument("--backend", default=None, choices=("torch", "onnx-int8"))
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--sets", default=None, help="comma-separated set names (default: all)")
    parser.add_argument("--json", default=None)
    parser.add_argument("--fine-tune", default="", metavar="KS",
                        help="also fine-tune the model on the examples of these k (e.g. 5,10; "
                             "a minute or so per draw on a CPU)")
    parser.add_argument("--from-json", default=None, metavar="FILE",
                        help="print the tables of an earlier run's JSON instead of running")
    args = parser.parse_args()
    if args.from_json:
        results = json.loads(Path(args.from_json).read_text())
        for entry in results["sets"].values():
            print(markdown(entry["title"], entry["rows"]) + "\n")
        print(summary(results))
        return 0
    embedder = Embedder(args.model, backend=args.backend, quiet=True)
    wanted = set(args.sets.split(",")) if args.sets else None
    results = {"model": embedder.model_id, "backend": embedder.info().get("backend"),
               "seeds": args.seeds, "sets": {}}
    for data in datasets(wanted):
        started = time.perf_counter()
        predictions = run_set(data, embedder, args.seeds,
                              tuple(int(k) for k in args.fine_tune.split(",") if k))
        seconds = predictions.pop(("fine-tune", "seconds"), None)
        if seconds:
            print(f"(fine-tuning took {np.mean(seconds):.0f} s a draw on average, "
                  f"{min(seconds):.0f}-{max(seconds):.0f} s)", file=sys.stderr)
        # Each row's bootstrap on its own stream: a row added leaves the others' intervals.
        rows = [{"setting": s, "method": m, **metrics(data, runs, np.random.default_rng(0))}
                for (s, m), runs in predictions.items()]
        order = ["zero-shot", "zero-shot, names and descriptions only", *[f"k = {k}" for k in KS],
                 UNCODED, *[f"{n} at random" for n in RANDOM_NS],
                 ONE_THEME, *[f"review, {s} decisions" for s in STEPS],
                 *[f"review, {n} codes" for n in ACCEPTED]]
        rows.sort(key=lambda r: order.index(r["setting"]))
        title = (f"{data.name}: {len(data.units)} passages, {len(data.framework.theme_ids)} themes"
                 f"{' + none' if 'none' in data.labels else ''}, "
                 f"{len(pd.unique(data.documents))} documents (or turns)")
        print(markdown(title, rows) + "\n", flush=True)
        print(f"({data.name} took {time.perf_counter() - started:.0f} s)", file=sys.stderr)
        results["sets"][data.name] = {"title": title, "rows": rows,
                                      **({"fine_tune_seconds": seconds} if seconds else {})}
    print(summary(results))
    write_results(results, "suite", args.model, args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
