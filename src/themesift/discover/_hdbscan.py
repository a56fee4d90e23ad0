"""Grouping large corpora: BERTopic's UMAP + HDBSCAN, UMAP given each unit's exact nearest
neighbours, and HDBSCAN's noise given its nearest code."""

from __future__ import annotations

import warnings
from typing import TYPE_CHECKING, Any

from ._bertopic import ctfidf, topic_keywords, topic_model
from ._geometry import code_centres
from ._words import keyword_vectorizer

if TYPE_CHECKING:
    import numpy as np

UMAP_NEIGHBOURS = 15  # BERTopic's default


def fit_hdbscan(docs: list[str], vectors: np.ndarray, vocabulary: list[str], representation: Any,
                seed: int, n_codes: int | None, min_code_size: int):
    """UMAP + HDBSCAN as BERTopic sets them up; None when HDBSCAN finds no cluster."""
    import numpy as np
    from umap import UMAP

    try:
        from hdbscan import HDBSCAN

        # Its core distances in joblib workers take 5 s on 21,000 units, in-process 1 s (same
        # result: only that step is parallel).
        options = {"core_dist_n_jobs": 1}
    except ImportError:  # scikit-learn's own HDBSCAN is a fine stand-in
        from sklearn.cluster import HDBSCAN

        options = {}
    min_cluster_size = max(min_code_size, 10, len(docs) // 1000)
    # BERTopic's defaults; random_state makes UMAP deterministic (and single-threaded).
    umap_model = UMAP(n_neighbors=UMAP_NEIGHBOURS, n_components=5, min_dist=0.0,
                      metric="cosine", random_state=seed, n_jobs=1, low_memory=False,
                      precomputed_knn=(*_nearest_neighbours(vectors, UMAP_NEIGHBOURS), None))
    hdbscan_model = HDBSCAN(min_cluster_size=min_cluster_size, metric="euclidean",
                            cluster_selection_method="eom", **options)
    # The keywords come from update_topics below, once the noise has found its codes: the fit
    # itself needs none (on 21,000 units ranking them twice cost about 1.8 s more).
    model = topic_model(umap_model, hdbscan_model, vocabulary, None, nr_topics=n_codes)
    with warnings.catch_warnings():  # UMAP warns that it cannot embed new data: never asked
        warnings.filterwarnings("ignore", message="precomputed_knn", category=UserWarning)
        topics = np.asarray(model.fit_transform(docs, vectors)[0])
    outlier = topics == -1
    if outlier.all():
        return None
    reassigned = topics
    if outlier.any():
        reassigned = np.asarray(model.reduce_outliers(docs, topics.tolist(), strategy="embeddings",
                                                      embeddings=vectors))
        if (reassigned == -1).any():  # similar to no topic at all: still the nearest one
            centres = code_centres(vectors, topics, ~outlier)
            codes = [c for c in centres if c != -1]
            matrix = np.stack([centres[c] for c in codes])
            left = reassigned == -1
            reassigned[left] = np.asarray(codes)[np.argmax(vectors[left] @ matrix.T, axis=1)]
    model.update_topics(docs, topics=reassigned.tolist(), top_n_words=10,
                        vectorizer_model=keyword_vectorizer(vocabulary),
                        ctfidf_model=ctfidf(), representation_model=representation)
    topics = reassigned
    info = {
        "hdbscan_min_cluster_size": int(min_cluster_size),
        "hdbscan_noise": int(outlier.sum()),
        "reduction": "umap",
    }
    return topics, outlier, topic_keywords(model), info, None


def _nearest_neighbours(vectors: np.ndarray, k: int, chunk: int = 512):
    """Each unit's ``k`` nearest units (itself first) and their cosine distances, exactly.

    UMAP would find them with NN-descent, whose numba kernels compile for 30 s or more in
    every new process above 4,096 units; one matrix product per chunk of rows does it in about
    6 s for 20,000 units on 2 cores, in bounded memory (``chunk`` rows at a time).
    """
    import numpy as np

    n = len(vectors)
    k = min(k, n)
    data = vectors.astype(np.float32)
    indices = np.empty((n, k), dtype=np.int64)
    distances = np.empty((n, k), dtype=np.float32)
    for start in range(0, n, chunk):
        similarity = data[start:start + chunk] @ data.T
        rows = np.arange(start, min(start + chunk, n))
        similarity[rows - start, rows] = np.inf  # itself first, whatever its duplicates
        top = np.argpartition(similarity, n - k, axis=1)[:, n - k:]
        top_sim = np.take_along_axis(similarity, top, axis=1)
        order = np.lexsort((top, -top_sim), axis=1)  # by similarity, then index: deterministic
        indices[start:start + chunk] = np.take_along_axis(top, order, axis=1)
        distances[start:start + chunk] = np.clip(
            1 - np.take_along_axis(top_sim, order, axis=1), 0, 2)
    return indices, distances
