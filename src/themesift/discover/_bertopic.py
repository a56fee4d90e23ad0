"""BERTopic as themesift drives it: the topic model built from the given blocks, its c-TF-IDF,
its warnings held back and the keywords it found; the keyword block, which re-ranks c-TF-IDF's
candidates by closeness to a code's centre with maximal marginal relevance; and the keyword
label, a code named by its top keywords."""

from __future__ import annotations

import contextlib
import functools
import logging
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from ._input import normalise
from ._words import keyword_stop_words, keyword_text, keyword_vectorizer

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd


@functools.cache
def import_bertopic() -> Any:
    """``import bertopic``, its plotting module left for first use: BERTopic imports it with
    the package, and with it plotly, nbformat and jsonschema, 2.4 of the 6 seconds the import
    takes here, for figures themesift never draws. While bertopic imports, a stand-in answers
    for ``bertopic.plotting``; it stays the package's ``plotting`` attribute (what BERTopic's
    ``visualize_*`` methods call) and imports the real module, as ``import
    bertopic.plotting`` does, on first use. Where bertopic is already imported, or plotly is
    not installed (BERTopic then plots nothing), this is a plain import. Every import of
    bertopic in themesift goes through here."""
    import importlib
    import importlib.util
    import sys
    import types

    name = "bertopic.plotting"
    if ("bertopic" in sys.modules or name in sys.modules
            or importlib.util.find_spec("plotly") is None):
        return importlib.import_module("bertopic")

    class Deferred(types.ModuleType):
        def __getattr__(self, attribute: str) -> Any:  # what the stand-in does not have
            if attribute.startswith("__"):  # inspect and pickle look for __file__ & co.
                raise AttributeError(attribute)
            if sys.modules.get(name) is self:  # only while bertopic itself imports
                sys.modules.pop(name, None)
            return getattr(importlib.import_module(name), attribute)

    stand_in = Deferred(name, "bertopic.plotting, imported on first use")
    sys.modules[name] = stand_in
    try:
        bertopic = importlib.import_module("bertopic")
    finally:
        if sys.modules.get(name) is stand_in:
            del sys.modules[name]  # ``import bertopic.plotting`` imports the real one
    if getattr(bertopic, "plotting", None) is None:
        bertopic.plotting = stand_in  # ``bertopic.plotting.visualize_topics`` works
    return bertopic


N_KEYWORDS = 8
#: c-TF-IDF candidates per code that the keyword re-ranking chooses from (BERTopic's 30).
N_CANDIDATES = 30
#: Maximal marginal relevance: 0 ranks keywords by relevance only, 1 by novelty only.
MMR_DIVERSITY = 0.3


def ctfidf():
    import_bertopic()
    from bertopic.vectorizers import ClassTfidfTransformer

    return ClassTfidfTransformer(reduce_frequent_words=True)


def topic_model(umap_model: Any, cluster_model: Any, vocabulary: list[str], representation: Any,
                nr_topics: int | None = None):
    BERTopic = import_bertopic().BERTopic
    model = BERTopic(
        embedding_model=None,  # vectors are always passed to fit_transform: nothing downloads
        umap_model=umap_model,
        hdbscan_model=cluster_model,
        vectorizer_model=keyword_vectorizer(vocabulary),
        ctfidf_model=ctfidf(),
        representation_model=representation,
        top_n_words=10,
        nr_topics=nr_topics,
        calculate_probabilities=False,
        verbose=False,
    )
    # BERTopic picks representative documents by c-TF-IDF after every fit (a second pass over
    # the documents, 15% of the fit on 1,500 units); the exemplars here are the members nearest
    # each code's centre, computed apart, so that pass is skipped.
    model._save_representative_docs = lambda documents: None
    return model


@contextlib.contextmanager
def bertopic_quiet() -> Iterator[None]:
    """Hold back BERTopic's warnings (its logger prints to stderr) while we drive it.

    A filter rather than a level: BERTopic() resets its logger's level when constructed.
    The one it would print, after ``update_topics(topics=...)``, is about later topic
    reduction, which themesift never does.
    """
    bertopic_logger = logging.getLogger("BERTopic")

    def errors_only(record: logging.LogRecord) -> bool:
        return record.levelno >= logging.ERROR

    bertopic_logger.addFilter(errors_only)
    try:
        yield
    finally:
        bertopic_logger.removeFilter(errors_only)


def topic_keywords(model: Any) -> dict[int, list[str]]:
    return {
        int(topic): [word for word, _ in words if word]
        for topic, words in model.get_topics().items()
    }


@functools.cache
def representation_class() -> type:
    """The keyword block, defined on first use because it subclasses a BERTopic class."""
    import_bertopic()
    from bertopic.representation import BaseRepresentation

    class CentroidKeywords(BaseRepresentation):
        """Re-rank a code's c-TF-IDF candidates by closeness to its centre, with MMR.

        Like BERTopic's KeyBERTInspired, but the centre is the mean of the members' own vectors
        and the words are embedded by themesift's embedder, so nothing needs BERTopic's
        embedding model. Without an embedder the c-TF-IDF order stays.
        """

        def __init__(self, vectors: Any = None, embedder: Any = None, top_n: int = N_KEYWORDS,
                     diversity: float = MMR_DIVERSITY) -> None:
            self.vectors = vectors
            self.embedder = embedder
            self.top_n = top_n
            self.diversity = diversity

        def extract_topics(self, topic_model, documents, c_tf_idf, topics):
            return _rank_keywords(documents, topics, self.vectors, self.embedder, self.top_n,
                                  self.diversity)

    return CentroidKeywords


def _rank_keywords(documents: pd.DataFrame, topics: dict, vectors: np.ndarray, embedder: Any,
                   top_n: int, diversity: float) -> dict[int, list[tuple[str, float]]]:
    import numpy as np

    candidates = {
        t: [(w, float(s)) for w, s in words[:N_CANDIDATES] if w] for t, words in topics.items()
    }
    word_vectors: dict[str, np.ndarray] = {}
    if embedder is not None and callable(getattr(embedder, "encode", None)):
        vocab = sorted({w for words in candidates.values() for w, _ in words})
        if vocab:
            word_vectors = dict(zip(vocab, normalise(np.asarray(embedder.encode(vocab),
                                                                dtype=np.float64))))
    ids = documents["ID"].to_numpy(dtype=int)
    topic_of = documents["Topic"].to_numpy()
    ranked = {}
    for t, words in candidates.items():
        if not words:
            ranked[t] = []
            continue
        if word_vectors and vectors is not None:
            centre = normalise(vectors[ids[topic_of == t]].mean(axis=0))
            matrix = np.stack([word_vectors[w] for w, _ in words])
            relevance = matrix @ centre
        else:
            matrix, relevance = None, np.array([s for _, s in words])
        ranked[t] = _mmr([w for w, _ in words], matrix, relevance, top_n, diversity)
    return ranked


def _mmr(words: list[str], matrix: np.ndarray | None, relevance: np.ndarray, top_n: int,
         diversity: float) -> list[tuple[str, float]]:
    """Maximal marginal relevance, skipping words already said by a chosen phrase
    ("waiting" after "waiting list", "test" after "tests"). Without vectors: relevance order,
    same skipping."""
    import numpy as np

    from ..text import content_stems

    stems = [content_stems(w) or set(w.split()) for w in words]
    chosen: list[int] = []
    said: set[str] = set()
    left = list(range(len(words)))
    while left and len(chosen) < top_n:
        left = [i for i in left if not stems[i] <= said]
        if not left:
            break
        score = relevance[left].astype(float)
        if matrix is not None and chosen:
            redundancy = (matrix[left] @ matrix[chosen].T).max(axis=1)
            score = (1 - diversity) * score - diversity * redundancy
        best = left[int(np.argmax(score))]  # ties: the better c-TF-IDF rank
        chosen.append(best)
        said |= stems[best]
        left.remove(best)
    return [(words[i], round(float(relevance[i]), 4)) for i in chosen]


def keyword_label(keywords: list[str], fallback: str) -> str:
    """One to four words: the top keyword, plus the next ones that add a new word; without
    keywords, the first content words of ``fallback`` (or "unnamed code")."""
    parts: list[str] = []
    n_words = 0
    for keyword in keywords:
        words = keyword.split()
        if n_words + len(words) > 4 or set(words) <= {w for p in parts for w in p.split()}:
            continue
        parts.append(keyword)
        n_words += len(words)
        if n_words >= 3 or len(parts) == 2:
            break
    if parts:
        return ", ".join(parts)
    content = [w for w in keyword_text(fallback).split() if w not in keyword_stop_words()]
    return " ".join(content[:3]) or "unnamed code"
