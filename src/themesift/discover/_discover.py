"""The public function, :func:`discover_codes`: meaning units in, candidate codes out, read
back from the cache of codes where it has them (see the package docstring)."""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING, Any

from .._blas import one_blas_thread
from ..errors import InputError
from ..model import SEPARATOR, CandidateCodes
from ._bertopic import bertopic_quiet, representation_class
from ._cache import cache_key, cached_codes, store_codes
from ._geometry import silhouette
from ._hdbscan import fit_hdbscan
from ._input import (check_n_codes, check_params, check_units, unit_vectors,
                     without_small_talk)
from ._labels import phrase_labels
from ._partition import fit_partition
from ._tables import code_tables
from ._words import keyword_text, keyword_vocabulary

if TYPE_CHECKING:  # numpy, pandas, sklearn and bertopic load when codes are made
    import pandas as pd

logger = logging.getLogger(__name__)

#: From this many units on, ``method="auto"`` uses UMAP + HDBSCAN instead of Ward.
LARGE_CORPUS = 5000


def discover_codes(
    units: pd.DataFrame,
    *,
    embedder: Any = None,
    embeddings: Any = None,
    seed: int = 0,
    n_codes: int | None = None,
    method: str = "auto",
    min_code_size: int = 3,
    quiet: bool | None = None,
) -> CandidateCodes:
    """Group meaning units into candidate codes, each with a label, keywords and quotes.

    The machine proposes, the analyst disposes: codes are candidates to read, rename, merge or
    split. Every unit gets exactly one code; units that fit no code well are flagged as
    outliers and given their nearest code, never dropped. Units flagged ``small_talk`` or
    ``short_reply`` (columns of :func:`themesift.segment`'s table) are left out: they get no
    code.

    Parameters
    ----------
    units:
        The meaning-unit table from :func:`themesift.segment`, or any table with the columns
        ``unit_id`` and ``text``. ``doc_id`` and ``speaker`` are used when present, to count
        transcripts and speakers per code.
    embedder:
        An object with ``encode(texts) -> array (n, d)`` (L2-normalised rows), such as
        :class:`themesift.Embedder`. It embeds the units (unless ``embeddings`` is given) and
        the candidate keywords, which are then ranked by meaning rather than by frequency only.
    embeddings:
        Precomputed unit vectors, shape ``(len(units), d)``, rows in the order of ``units``.
    seed:
        Seed of every random step (k-means, UMAP). The same units, vectors and seed give the
        same codes.
    n_codes:
        Exactly this many codes instead of choosing the number by silhouette. With
        ``method="hdbscan"`` it is an upper limit (BERTopic merges the closest topics).
    method:
        ``"auto"`` (Ward below 5,000 units, else UMAP + HDBSCAN), ``"agglomerative"`` (Ward),
        ``"kmeans"`` or ``"hdbscan"``.
    min_code_size:
        A code needs at least this many well-fitting units; smaller groups are dissolved into
        their nearest codes (not when ``n_codes`` is given). HDBSCAN's minimum cluster size
        is the largest of this, 10 (BERTopic's default) and 0.1% of the units.
    quiet:
        No progress bar. By default a bar shows only for long runs on a terminal.

    Returns
    -------
    CandidateCodes
        ``table``: one row per code, largest first, with columns ``code_id`` ("C01", ...),
        ``label``, ``keywords`` (top 8, " | "-joined), ``size``, ``n_speakers`` (distinct
        transcript-speaker pairs; 0 without a ``speaker`` column), ``n_transcripts`` (1
        without a ``doc_id`` column), ``exemplar_ids`` and ``exemplars`` (the members nearest
        the code's centre, " | "-joined), ``cohesion`` (mean cosine similarity of members to
        the centre), ``single_speaker`` (one speaker said more than 70% of it, and more than
        their share of the study's units explains, in a code of 4 units or more:
        "one talkative participant is not a theme"), ``top_speaker_share`` and ``n_outliers``.
        ``assignments``: one row per unit in input order (small talk aside) with ``unit_id,
        code_id, distance`` (cosine distance to the code's centre) and ``outlier``.
        ``params``: method, k, the silhouette of every k tried, seed, number of units,
        embedder model id and timings.

    Raises
    ------
    InputError
        If a column is missing, a text is empty, unit ids repeat, there are too few units,
        the embeddings do not match the units, or a parameter is out of range.

    Examples
    --------
    >>> import themesift as ts
    >>> units = ts.segment(ts.read_corpus("data/sample"))          # doctest: +SKIP
    >>> codes = discover_codes(units, embedder=ts.Embedder())      # doctest: +SKIP
    >>> codes.table[["code_id", "label", "size"]].head(3)          # doctest: +SKIP
      code_id                label  size
    0     C01  patients, care plan    20
    >>> codes.members("C01")[:2]                                   # doctest: +SKIP
    ['fg2_supported_housing-3f1c...', 'fg2_supported_housing-9a0b...']
    """
    import numpy as np

    started = time.perf_counter()
    check_params(seed, n_codes, method, min_code_size)
    given = len(units) if hasattr(units, "__len__") else 0
    from ..smalltalk import small_talk_flags

    small_talk = int(small_talk_flags(units).sum()) if hasattr(units, "columns") else 0
    units, embeddings, rows = without_small_talk(units, embeddings)
    left_out = 0 if rows is None else given - len(rows)  # small talk and short replies
    counts = {"n_small_talk": small_talk, "n_short_replies": left_out - small_talk}
    unit_ids, texts = check_units(units, min_code_size, rows, left_out)
    n = len(texts)
    check_n_codes(n_codes, units)
    vectors = unit_vectors(texts, embedder, embeddings)
    embedded = time.perf_counter()
    key = cache_key(units, vectors, embedder, seed, n_codes, method, min_code_size)
    cached = cached_codes(key)
    if cached is not None:
        cached.params.update(cached=True, **counts,
                             seconds_embedding=round(embedded - started, 2),
                             seconds_codes=round(time.perf_counter() - embedded, 2))
        logger.info("Candidate codes read from the cache (%d codes)", len(cached.table))
        return cached

    chosen = method
    if method == "auto":
        chosen = "agglomerative" if n < LARGE_CORPUS else "hdbscan"
    # One BLAS thread but for UMAP + HDBSCAN's large products (see themesift._blas).
    with one_blas_thread(chosen != "hdbscan"):
        docs = [keyword_text(t) for t in texts]
        vocabulary, min_units = keyword_vocabulary(docs)
        representation = representation_class()(vectors=vectors, embedder=embedder)

        with bertopic_quiet():
            if chosen == "hdbscan":
                fit = fit_hdbscan(docs, vectors, vocabulary, representation, seed, n_codes,
                                  min_code_size)
                if fit is None and method == "auto":
                    logger.warning("HDBSCAN found no codes in %d units; using k-means instead", n)
                    chosen = "kmeans"
                elif fit is None:
                    raise InputError(
                        f"HDBSCAN found no codes in these {n} meaning units: it put every unit in "
                        f"its noise class",
                        fix="Use method='agglomerative' or 'kmeans', which always find codes",
                    )
            if chosen != "hdbscan":
                fit = fit_partition(chosen, docs, vectors, vocabulary, representation, seed,
                                    n_codes, min_code_size, quiet)
        topics, outlier, keywords, info, distances = fit

        table, assignments = code_tables(units, unit_ids, texts, vectors, topics, outlier, keywords)
        table["label"] = phrase_labels(table, assignments, texts, vectors,
                                       dict(zip(table["code_id"], table["keywords"].str.split(
                                            SEPARATOR, regex=False))), embedder, seed, docs)
    finished = time.perf_counter()
    labels = assignments["code_id"].to_numpy()
    params = {
        "method": chosen,
        "requested_method": method,
        "k": int(len(table)),
        **info,
        "silhouette": silhouette(vectors, labels, seed, distances) if len(table) > 1 else None,
        "outlier_share": round(float(np.mean(assignments["outlier"])), 4),
        "seed": seed,
        "n_units": n,
        **counts,
        "min_code_size": min_code_size,
        "keyword_min_units": min_units,
        "embedder": getattr(embedder, "model_id", None),
        "embedding_dim": int(vectors.shape[1]),
        "seconds_embedding": round(embedded - started, 2),
        "seconds_codes": round(finished - embedded, 2),
        "cached": False,
    }
    if "k_selected" in params:  # the silhouette's k, before codes too small to stand dissolved
        params["codes_dissolved"] = params["k_selected"] - params["k"]
    logger.info(
        "Found %d candidate codes in %d meaning units (%s, silhouette %s, %.0f%% outliers) "
        "in %.1f s",
        params["k"], n, chosen, params["silhouette"], 100 * params["outlier_share"],
        finished - started,
    )
    codes = CandidateCodes(table=table, assignments=assignments, params=params)
    store_codes(key, codes)
    return codes
