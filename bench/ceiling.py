"""How far the embedding models here can go on Care Opinion, whatever the decision rule.

    .venv/bin/python bench/ceiling.py [--model fast|accurate] [--seeds 2] [--fine-tune]

Issue 3 asks for micro-F1 >= 0.65 and macro-F1 >= 0.40 zero-shot, issue 4 for micro-F1 >= 0.75
after 200 decisions. This script measures the ceilings that bound both, on the nine major
labels (bench/quality.py's codebook and data):

1. Zero-shot signals, each a score per story and label that uses no human coding: cosine
   similarity to the codebook (whole story; its best sentence; themesift's mix of the two),
   word overlap with the codebook (tf-idf, with idf over the codebook's themes), and the mix
   of meaning and words. For each: mean AUC over the labels, and the F1 reached when each
   label's threshold is chosen *on the test labels themselves* to maximise that label's F1
   (an oracle: no rule that thresholds the signal label by label can do better on macro-F1),
   and thresholds chosen jointly for the best micro-F1.
2. Decoding without the labels, as a user would have to: themesift's probabilities with the
   best of a grid of temperatures, "none" levels and relative cut-offs (the best setting is
   chosen on the test labels, so this too is optimistic); every theme that one of the
   story's sentences is closest to (above the framework's "none" level); and per-label
   thresholds from a two-component Gaussian mixture of each label's scores.
3. The label prior alone: "Care received" and "Staff" for every story.
4. Learning from coded stories: a logistic regression per label on the frozen vectors, with
   200 stories drawn at random from a training half and with the whole half (986), scored on
   the other half; with ``--fine-tune`` (torch, minutes) also the model fine-tuned on the same
   200 stories (multi-label head, 8 epochs) with a regression on its vectors.

Prints markdown tables; writes bench/results/ceiling_<model>_<backend>.json.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import re
import sys
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

import numpy as np  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))

import themesift as ts  # noqa: E402
from quality import CARE_OPINION, CODEBOOK, ROOT, f1_scores, load_care_opinion, table  # noqa: E402
from themesift.embed import Embedder  # noqa: E402

propose = sys.modules["themesift.propose"]  # the module; ts.propose is its function

DECISIONS = 200
_WORD = re.compile(r"[a-z][a-z']+")


def label_oracle(scores: np.ndarray, gold: np.ndarray) -> np.ndarray:
    """Per label, the threshold that maximises that label's F1 on ``gold``; the predictions."""
    pred = np.zeros_like(gold)
    for j in range(gold.shape[1]):
        best = -1.0
        for cut in np.quantile(scores[:, j], np.linspace(0, 1, 201)):
            p = scores[:, j] >= cut
            f = 2 * (p & gold[:, j]).sum() / max(1, p.sum() + gold[:, j].sum())
            if f > best:
                best, pred[:, j] = f, p
    return pred


def micro_oracle(scores: np.ndarray, gold: np.ndarray, rounds: int = 3) -> np.ndarray:
    """Thresholds chosen label by label (coordinate ascent) for the best micro-F1 on ``gold``."""
    pred = np.zeros_like(gold)
    cuts = [np.r_[np.quantile(scores[:, j], np.linspace(0, 1, 101)), np.inf]
            for j in range(gold.shape[1])]
    for _ in range(rounds):
        for j in range(gold.shape[1]):
            best = -1.0
            for cut in cuts[j]:
                trial = pred.copy()
                trial[:, j] = scores[:, j] >= cut
                f = 2 * (trial & gold).sum() / (trial.sum() + gold.sum())
                if f > best:
                    best, column = f, trial[:, j]
            pred[:, j] = column
    return pred


def auc(scores: np.ndarray, gold: np.ndarray) -> float:
    from sklearn.metrics import roc_auc_score

    return float(np.mean([roc_auc_score(gold[:, j], scores[:, j])
                          for j in range(gold.shape[1]) if 0 < gold[:, j].sum() < len(gold)]))


def lexical(texts: list[str], framework) -> np.ndarray:
    """Cosine of tf-idf word vectors: each story against each theme's whole codebook text
    (name, description, indicators, examples, subthemes); idf over the themes."""
    from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS, CountVectorizer
    from sklearn.preprocessing import normalize

    def words(text: str) -> list[str]:
        return [w for w in _WORD.findall(text.lower()) if len(w) > 2 and w not in ENGLISH_STOP_WORDS]

    def theme_text(theme) -> str:
        parts = [theme.name, theme.description, *theme.indicators, *theme.examples]
        return " ".join(parts + [theme_text(s) for s in theme.subthemes])

    docs = [theme_text(t) for t in framework.themes]
    counts = CountVectorizer(analyzer=words).fit(docs + texts)
    themes = counts.transform(docs).toarray().astype(float)
    idf = np.log((1 + len(docs)) / (1 + (themes > 0).sum(axis=0))) + 1
    stories = counts.transform(texts).astype(float)
    stories.data = np.log1p(stories.data)
    return np.asarray(normalize(stories.multiply(idf).tocsr()) @ normalize(np.log1p(themes) * idf).T)


def similarities(texts: list[str], framework, embedder: Embedder):
    """themesift's theme similarities: the evidence, each whole text's, and each sentence's
    (with the index of its text)."""
    evidence = propose._evidence(framework, embedder)
    vectors = embedder.encode(texts)
    whole, _, _ = propose._theme_similarity(vectors @ evidence.vectors.T, evidence, propose.TOP_K)
    sentence_vectors, owners = embedder.encode_sentences(texts)
    per_sentence, _, _ = propose._theme_similarity(sentence_vectors @ evidence.vectors.T, evidence,
                                                   propose.TOP_K)
    return evidence, vectors, whole, per_sentence, owners


def zero_shot_signals(texts: list[str], framework, embedder: Embedder) -> dict[str, np.ndarray]:
    evidence, vectors, whole, per_sentence, owners = similarities(texts, framework, embedder)
    best = whole.copy()  # a one-sentence story is its own best sentence
    best[np.unique(owners)] = -np.inf
    np.maximum.at(best, owners, per_sentence)
    mixed, _, _ = propose._text_similarity(embedder, texts, vectors, evidence, propose.TOP_K)
    words = lexical(texts, framework)

    def z(m: np.ndarray) -> np.ndarray:
        return (m - m.mean(axis=0)) / m.std(axis=0)

    return {"whole story": whole, "best sentence": best, "themesift (whole + best sentence)": mixed,
            "codebook words (tf-idf)": words, "themesift + codebook words": z(mixed) + z(words)}


def decode_grid(similarity: np.ndarray, gold: np.ndarray) -> dict:
    """themesift's softmax-with-none and relative cut-off, best over a grid, on ``gold``."""
    best: dict = {}
    for temperature, none, cut in itertools.product((0.01, 0.03, 0.1), (0.25, 0.3, 0.35, 0.4, 0.5, 9.0),
                                                    (0.1, 0.2, 0.3, 0.5, 0.7)):
        logits = np.column_stack([similarity, np.full(len(similarity), none)]) / temperature
        probs = np.exp(logits - logits.max(axis=1, keepdims=True))[:, :-1]
        pred = probs >= cut * probs.max(axis=1, keepdims=True)
        scores = f1_scores(gold, pred)
        for key in ("micro_f1", "macro_f1"):
            if scores[key] > best.get(key, (-1,))[0]:
                best[key] = (scores[key], {"temperature": temperature, "none": none, "cut": cut})
    return best


def by_sentence(texts: list[str], framework, embedder: Embedder) -> np.ndarray:
    """Every theme that one of a story's sentences is closest to, when closer than the
    framework's "none" level, plus the whole story's closest theme."""
    evidence, _, whole, per_sentence, owners = similarities(texts, framework, embedder)
    pred = np.zeros(whole.shape, dtype=bool)
    fits = per_sentence.max(axis=1) >= framework_none_level(evidence)
    pred[owners[fits], per_sentence[fits].argmax(axis=1)] = True
    pred[np.arange(len(pred)), whole.argmax(axis=1)] = True
    return pred


def framework_none_level(evidence) -> float:
    """The "none" level themesift used before bench/suite.py: the 95th percentile of the
    similarities between texts of different themes of the framework."""
    similarity = evidence.vectors @ evidence.vectors.T
    different = evidence.owner[:, None] != evidence.owner[None, :]
    return float(np.percentile(similarity[different], 95))


def mixture_thresholds(scores: np.ndarray) -> np.ndarray:
    """Per label, the stories that a two-component Gaussian mixture of its scores puts in the
    higher component; plus each story's highest label (scores standardised per label)."""
    from sklearn.mixture import GaussianMixture

    pred = np.zeros(scores.shape, dtype=bool)
    for j in range(scores.shape[1]):
        x = scores[:, j:j + 1]
        mixture = GaussianMixture(2, random_state=0).fit(x)
        pred[:, j] = mixture.predict_proba(x)[:, int(np.argmax(mixture.means_.ravel()))] > 0.5
    z = (scores - scores.mean(axis=0)) / scores.std(axis=0)
    pred[np.arange(len(pred)), z.argmax(axis=1)] = True
    return pred


def learning(vectors: np.ndarray, texts: list[str], gold: np.ndarray, seeds: int,
             fine_tune: str | None) -> list[dict]:
    """Per-label regressions on coded stories; ``fine_tune`` names a model to fine-tune too."""
    from sklearn.linear_model import LogisticRegression

    def fit_predict(x, train, test):
        probs = np.zeros((len(test), gold.shape[1]))
        for j in range(gold.shape[1]):
            y = gold[train, j]
            if y.all() or not y.any():
                probs[:, j] = y.mean()
                continue
            probs[:, j] = LogisticRegression(max_iter=3000).fit(x[train], y).predict_proba(x[test])[:, 1]
        pred = probs >= 0.5
        pred[np.arange(len(pred)), probs.argmax(axis=1)] = True  # every story has a label
        return f1_scores(gold[test], pred)

    runs: dict[str, list[dict]] = {}
    for seed in range(seeds):
        rng = np.random.default_rng(seed)
        half = rng.permutation(len(gold))[: len(gold) // 2]
        test = np.setdiff1d(np.arange(len(gold)), half)
        picked = rng.permutation(half)[:DECISIONS]
        runs.setdefault(f"regression, {DECISIONS} random coded stories", []).append(
            fit_predict(vectors, picked, test))
        runs.setdefault(f"regression, whole half ({len(half)} stories)", []).append(
            fit_predict(vectors, half, test))
        if fine_tune:
            tuned = fine_tuned_vectors(fine_tune, texts, picked, gold, seed)
            runs.setdefault(f"fine-tuned on the {DECISIONS}, then regression", []).append(
                fit_predict(tuned, picked, test))
    return [{"learner": name, "seeds": len(r),
             "micro_f1": round(float(np.mean([s["micro_f1"] for s in r])), 3),
             "macro_f1": round(float(np.mean([s["macro_f1"] for s in r])), 3)}
            for name, r in runs.items()]



def fine_tuned_vectors(model: str, texts: list[str], picked: np.ndarray, gold: np.ndarray,
                       seed: int, epochs: int = 8) -> np.ndarray:
    """Fine-tune the model on the picked stories (multi-label head, binary cross-entropy)
    and embed every story with it. Minutes on 2 CPU cores."""
    import torch
    from sentence_transformers import SentenceTransformer

    from themesift.embed._profiles import resolve_model

    torch.manual_seed(seed)
    st = SentenceTransformer(str(resolve_model(model).path), device="cpu")
    st.max_seq_length = 128
    head = torch.nn.Linear(st.get_embedding_dimension(), gold.shape[1])
    optimiser = torch.optim.AdamW([{"params": st.parameters(), "lr": 3e-5},
                                   {"params": head.parameters(), "lr": 3e-3}], weight_decay=0.01)
    targets = torch.tensor(gold[picked], dtype=torch.float32)
    st.train()
    for epoch in range(epochs):
        order = np.random.default_rng(seed * 100 + epoch).permutation(len(picked))
        for start in range(0, len(order), 16):
            batch = order[start:start + 16]
            features = st.preprocess([texts[picked[i]] for i in batch])
            out = torch.nn.functional.normalize(st(features)["sentence_embedding"], dim=-1)
            loss = torch.nn.functional.binary_cross_entropy_with_logits(head(out * 10), targets[batch])
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
    st.eval()
    return st.encode(texts, batch_size=32, normalize_embeddings=True, convert_to_numpy=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="fast", help="embedding profile or model folder")
    parser.add_argument("--backend", default=None, choices=("torch", "onnx-int8"))
    parser.add_argument("--seeds", type=int, default=2)
    parser.add_argument("--fine-tune", action="store_true",
                        help="also fine-tune the model on 200 stories per seed (minutes each)")
    args = parser.parse_args()
    if not CARE_OPINION.exists():
        print(f"Skipping: {CARE_OPINION} is not there (it lives outside the repo).")
        return 0
    started = time.perf_counter()
    embedder = Embedder(args.model, backend=args.backend, quiet=True)
    stories = load_care_opinion()
    texts = list(stories["text"])
    framework = ts.load_framework(CODEBOOK)
    gold = np.array([[t in labels for t in framework.theme_ids] for labels in stories["labels"]])
    signals = zero_shot_signals(texts, framework, embedder)

    zero = []
    for name, scores in signals.items():
        per_label, micro = f1_scores(gold, label_oracle(scores, gold)), f1_scores(gold, micro_oracle(scores, gold))
        zero.append({"signal": name, "mean AUC": round(auc(scores, gold), 3),
                     "per-label oracle micro": per_label["micro_f1"],
                     "per-label oracle macro": per_label["macro_f1"],
                     "micro oracle micro": micro["micro_f1"], "micro oracle macro": micro["macro_f1"]})
    grid = decode_grid(signals["themesift (whole + best sentence)"], gold)
    prior = np.zeros_like(gold)
    prior[:, [framework.theme_ids.index("care_received"), framework.theme_ids.index("staff")]] = True
    other = [
        {"what": "themesift decoding, best micro-F1 of 90 settings", "micro_f1": grid["micro_f1"][0],
         "setting": json.dumps(grid["micro_f1"][1])},
        {"what": "themesift decoding, best macro-F1 of 90 settings", "macro_f1": grid["macro_f1"][0],
         "setting": json.dumps(grid["macro_f1"][1])},
        {"what": "every theme one of the story's sentences is closest to",
         **f1_scores(gold, by_sentence(texts, framework, embedder))},
        {"what": "per-label mixture thresholds, themesift + codebook words",
         **f1_scores(gold, mixture_thresholds(signals["themesift + codebook words"]))},
        {"what": "prior only: Care received + Staff on every story", **f1_scores(gold, prior)},
    ]
    learned = learning(embedder.encode(texts), texts, gold, args.seeds,
                       args.model if args.fine_tune else None)

    print(f"### Zero-shot ceilings on Care Opinion ({embedder.model_id}, "
          f"{embedder.info().get('backend')}): thresholds chosen on the test labels\n")
    print(table(zero))
    print("\n### Decoding and prior\n")
    print(table([{k: r.get(k, "") for k in ("what", "micro_f1", "macro_f1", "setting")} for r in other]))
    print(f"\n### Learning from coded stories (test half; mean of {args.seeds} seeds)\n")
    print(table(learned))
    print(f"\n({time.perf_counter() - started:.0f} s)", file=sys.stderr)
    out = ROOT / "bench" / "results" / f"ceiling_{Path(args.model).name}_{embedder.info().get('backend')}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"model": embedder.model_id, "zero_shot": zero, "decoding": other,
                               "learning": learned}, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
