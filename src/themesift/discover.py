"""Candidate codes: meaning units grouped by what they say, each named by keywords and quotes.

How codes are found
-------------------
1. Every meaning unit is a vector (from the embedder, or given). Vectors are L2-normalised, so
   cosine similarity is what "close" means throughout.
2. The units are grouped. BERTopic hosts the pipeline, with blocks chosen for the corpus size:

   * **Fewer than 5,000 units** (every focus-group study): no dimension reduction and Ward
     clustering of the vectors. UMAP + HDBSCAN, BERTopic's defaults, are built for tens of
     thousands of documents; on a few hundred meaning units they leave about half of them in
     the outlier topic (52% of the 251 units of the sample transcripts). On unit vectors the
     squared Euclidean distance is ``2 - 2 cos``, so Ward makes codes whose members are close
     in cosine terms. Average linkage on cosine distance chains spoken talk into one giant
     code, and k-means depends on its seed and gives a noisier silhouette curve; Ward is
     deterministic, matches or beats k-means against a hand coding at the same k, and one
     merge tree gives every candidate number of codes. The number of codes ``k`` is the one
     with the best mean silhouette (cosine) in ``[max(6, n/60), min(40, n/8)]``, so a code
     has about 8 to 60 units (the lower end is at most 20, so that large corpora still get a
     choice, and 6 only where there are 8 units for each: one focus group alone gets a
     handful of codes, not the two that n/60 allows). If dissolving codes too small to stand
     (step 3) leaves fewer than the lower end, the next best k is taken.
   * **5,000 units or more**: BERTopic's defaults, UMAP (5 dimensions, cosine) and HDBSCAN,
     with a minimum code size of 10 that grows with the corpus (0.1% of the units).
3. Outliers are flagged and kept, never dropped. (Units flagged ``small_talk`` are not
   grouped at all: see :mod:`themesift.smalltalk`.) With Ward or k-means, units that fit their
   group poorly (negative silhouette: closer to another group than to their own; or a distance
   to the group's centre above its upper Tukey fence, Q3 + 1.5 IQR) move to the code with the
   nearest centre, and groups with fewer than ``min_code_size`` well-fitting members are
   dissolved the same way. A unit is then flagged as an outlier if it still fits its final
   code poorly by the same two tests, or its group was dissolved. With HDBSCAN the outliers
   are HDBSCAN's noise, given their nearest code by BERTopic's
   ``reduce_outliers(strategy="embeddings")``.
4. Each code gets keywords from class-based TF-IDF (BERTopic's c-TF-IDF) over its members'
   words, with English stop words and spoken fillers ("um", "yeah", "you know", "[laughs]")
   removed: the 30 best-scoring words and two-word phrases are re-ranked by how close their
   embedding is to the code's centre, with maximal marginal relevance so that the keywords
   are not near synonyms (KeyBERT-style). Its label is a phrase of two to six words in the
   participants' own words ("ring the housing officer", "letting yourself hope again is
   scary"), or two such key phrases joined by a comma: stretches of the members nearest the
   centre that start and end on a content word and hold no filler, time, number or name,
   chosen together for all codes so that the closest label to as many units as possible is
   their own code's (see _phrase_labels).
5. The codes are kept in ``codes.sqlite`` in the cache folder, keyed by everything they depend
   on: the units (ids, texts, speakers, transcripts), their vectors, the keyword model, the
   parameters, the seed, the library versions and this module's source. Re-running a study
   (say with an edited framework) reads them back instead of clustering again; the last
   ``CODE_CACHE_ENTRIES`` sets are kept.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import json
import logging
import numbers
import re
import time
import unicodedata
import warnings
from collections import Counter, deque
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any

from ._io import cache_db, progress_shown
from .errors import InputError
from .model import CandidateCodes

if TYPE_CHECKING:  # numpy, pandas, sklearn and bertopic load when codes are made
    import numpy as np
    import pandas as pd

__all__ = ["discover_codes", "METHODS", "TABLE_COLUMNS", "ASSIGNMENT_COLUMNS"]

logger = logging.getLogger(__name__)

#: Values of ``method`` accepted by :func:`discover_codes`.
METHODS = ("auto", "agglomerative", "kmeans", "hdbscan")

#: Columns of ``CandidateCodes.table``, in order.
TABLE_COLUMNS = [
    "code_id", "label", "keywords", "size", "n_speakers", "n_transcripts", "exemplar_ids",
    "exemplars", "cohesion", "single_speaker", "top_speaker_share", "n_outliers",
]
#: Columns of ``CandidateCodes.assignments``, in order.
ASSIGNMENT_COLUMNS = ["unit_id", "code_id", "distance", "outlier"]

#: From this many units on, ``method="auto"`` uses UMAP + HDBSCAN instead of Ward.
LARGE_CORPUS = 5000
#: Fewer units than this cannot be grouped into codes in any useful way.
MIN_UNITS = 10
#: The search range for the number of codes: between n/60 and n/8 units per code on
#: average, and at most 40 codes.
UNITS_PER_CODE = (8, 60)
MAX_CODES = 40
#: ... and at least this many where there are 8 units for each (one focus group alone).
MIN_CODES = 6
#: A code is flagged ``single_speaker`` when one speaker said more than this share of it.
SINGLE_SPEAKER_SHARE = 0.7
N_KEYWORDS = 8
N_EXEMPLARS = 5
#: c-TF-IDF candidates per code that the keyword re-ranking chooses from (BERTopic's 30).
N_CANDIDATES = 30
UMAP_NEIGHBOURS = 15  # BERTopic's default
CODE_CACHE_ENTRIES = 20
#: Labels (see _phrase_labels): phrases of this many members nearest a code's centre are
#: candidates; about LABEL_BUDGET of them in all are pre-ranked, LABEL_SHORTLIST a code of
#: those embedded; the labels compete for at most LABEL_SAMPLE units.
N_LABEL_UNITS = 15
LABEL_BUDGET = 1000
LABEL_SAMPLE = 3000
LABEL_ROUNDS = 4
LABEL_PER_CODE = 40
LABEL_SOFTNESS = 0.05
LABEL_PAIRS = 8
LABEL_SHORTLIST = 15
#: Maximal marginal relevance: 0 ranks keywords by relevance only, 1 by novelty only.
MMR_DIVERSITY = 0.3
#: Pairwise distances are precomputed for the silhouette up to this many units (~100 MB).
_PRECOMPUTE_MAX = 5000

_SEPARATOR = " | "

# Words that name no topic in spoken English, on top of spaCy's and scikit-learn's stop
# words: fillers, hedges, transcriber notes and contractions written without an apostrophe.
_SPOKEN_STOP_WORDS = frozenset(
    "um umm uh uhm er erm ah oh eh mm mmm mhm hmm huh yeah yea yep yup yes no nope okay ok "
    "alright like know mean think thought really just kind sort kinda sorta thing things "
    "stuff lot lots bit little way actually basically literally honestly obviously probably "
    "maybe perhaps guess suppose right sure well good great pretty quite said say says saying "
    "tell told talk talking go going goes gone went get gets got getting come comes came "
    "want wanted make makes made look looking need needs let lets gonna wanna gotta dunno "
    "cos cause laugh laughs laughing laughter crosstalk inaudible unclear pause overlapping "
    "overtalk coughs sighs indistinct name place dont cant wont aint im ive id youre youve "
    "youll youd theyre theyve theyll theyd thats theres heres whats whos hes shes weve "
    "were isnt wasnt arent werent didnt doesnt couldnt wouldnt shouldnt hasnt havent hadnt "
    "mustnt neednt itll thatll usually fine true sorry honest exactly means sounds nearly "
    "having especially seriously mate guys ones bloke man asked saw telling wanting bring "
    "keeping question round depends personally thinking times happening huge stupid "
    "hang different same whatever someone somebody anyone everybody everyone".split()
)
_ANNOTATION = re.compile(r"\[[^\]]*\]|\([^)]*\)")
# Contractions go whole ("don't", "I'll" - else "ill" would look like a topic word); a
# possessive keeps its noun ("mum's" -> "mum").
_CONTRACTION = re.compile(r"\b\w+'(?:t|re|ve|ll|d|m)\b")
_POSSESSIVE = re.compile(r"'s\b")
_NOT_LETTER = re.compile(r"[^a-z]+")
_WORD = re.compile(r"\b[a-z]{2,}\b")


# ----------------------------------------------------------------------------------------
# Public function


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
    outliers and given their nearest code, never dropped. Units flagged ``small_talk`` (a
    column of :func:`themesift.segment`'s table) are left out: they get no code.

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
        the centre), ``single_speaker`` (one speaker said more than 70% of it: "one talkative
        participant is not a theme"), ``top_speaker_share`` and ``n_outliers``.
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
    _check_params(seed, n_codes, method, min_code_size)
    units, embeddings, n_small_talk = _without_small_talk(units, embeddings)
    unit_ids, texts = _check_units(units, min_code_size)
    n = len(texts)
    if n_codes is not None and n_codes > n // 2:
        raise InputError(
            f"n_codes={n_codes} is too many for {n} meaning units: a code needs at least two "
            f"units",
            fix=f"Ask for at most {n // 2} codes, or leave n_codes=None to choose by silhouette",
        )
    vectors = _unit_vectors(texts, embedder, embeddings)
    embedded = time.perf_counter()
    key = _cache_key(units, vectors, embedder, seed, n_codes, method, min_code_size)
    cached = _cached_codes(key)
    if cached is not None:
        cached.params.update(cached=True, n_small_talk=n_small_talk,
                             seconds_embedding=round(embedded - started, 2),
                             seconds_codes=round(time.perf_counter() - embedded, 2))
        logger.info("Candidate codes read from the cache (%d codes)", len(cached.table))
        return cached

    chosen = method
    if method == "auto":
        chosen = "agglomerative" if n < LARGE_CORPUS else "hdbscan"
    docs = [_keyword_text(t) for t in texts]
    vocabulary, min_units = _vocabulary(docs)
    representation = _representation_class()(vectors=vectors, embedder=embedder)

    with _bertopic_quiet():
        if chosen == "hdbscan":
            fit = _fit_hdbscan(docs, vectors, vocabulary, representation, seed, n_codes,
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
            fit = _fit_partition(chosen, docs, vectors, vocabulary, representation, seed,
                                 n_codes, min_code_size, quiet)
    topics, outlier, keywords, info, distances = fit

    table, assignments = _code_tables(units, unit_ids, texts, vectors, topics, outlier, keywords)
    table["label"] = _phrase_labels(table, assignments, texts, vectors,
                                    dict(zip(table["code_id"], table["keywords"].str.split(
                                        _SEPARATOR, regex=False))), embedder, seed, docs)
    finished = time.perf_counter()
    labels = assignments["code_id"].to_numpy()
    params = {
        "method": chosen,
        "requested_method": method,
        "k": int(len(table)),
        **info,
        "silhouette": _silhouette(vectors, labels, seed, distances) if len(table) > 1 else None,
        "outlier_share": round(float(np.mean(assignments["outlier"])), 4),
        "seed": seed,
        "n_units": n,
        "n_small_talk": n_small_talk,
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
    _store_codes(key, codes)
    return codes


# ----------------------------------------------------------------------------------------
# The cache of codes (see the module docstring)


def _cache_key(units: pd.DataFrame, vectors: np.ndarray, embedder: Any, seed: int,
               n_codes: int | None, method: str, min_code_size: int) -> str | None:
    """What the codes depend on, hashed; None when the keyword model cannot be named."""
    import numpy as np
    import pandas as pd

    model_id = "none" if embedder is None else getattr(embedder, "model_id", None)
    if not isinstance(model_id, str):
        return None
    columns = [c for c in ("unit_id", "text", "doc_id", "speaker") if c in units]
    digest = hashlib.sha256()
    digest.update(pd.util.hash_pandas_object(units[columns], index=False).to_numpy().tobytes())
    digest.update(np.ascontiguousarray(vectors).tobytes())
    digest.update(json.dumps({
        "columns": columns, "shape": list(vectors.shape), "model": model_id, "seed": seed,
        "n_codes": n_codes, "method": method, "min_code_size": min_code_size,
        "versions": _versions(), "source": _source_digest(),
    }, sort_keys=True).encode())
    return digest.hexdigest()


@functools.cache
def _versions() -> dict[str, str | None]:
    from importlib import metadata

    def version(name: str) -> str | None:
        try:
            return metadata.version(name)
        except metadata.PackageNotFoundError:
            return None

    return {p: version(p) for p in ("themesift", "bertopic", "umap-learn", "hdbscan",
                                    "scikit-learn", "numpy", "pandas")}


@functools.cache
def _source_digest() -> str:
    from pathlib import Path

    return hashlib.sha256(Path(__file__).read_bytes()).hexdigest()


def _codes_db():
    return cache_db("codes.sqlite", "CREATE TABLE IF NOT EXISTS codes "
                    "(key TEXT PRIMARY KEY, used REAL NOT NULL, value TEXT NOT NULL)")


def _cached_codes(key: str | None) -> CandidateCodes | None:
    import sqlite3

    if key is None:
        return None
    try:
        with _codes_db() as conn:
            row = conn.execute("SELECT value FROM codes WHERE key = ?", (key,)).fetchone()
            if row is None:
                return None
            with conn:
                conn.execute("UPDATE codes SET used = ? WHERE key = ?", (time.time(), key))
        value = json.loads(row[0])
        params = value["params"]
        if "k_candidates" in params:  # JSON made its int keys strings
            params["k_candidates"] = {int(k): v for k, v in params["k_candidates"].items()}
        return CandidateCodes(table=_frame(value["table"]),
                              assignments=_frame(value["assignments"]), params=params)
    except (OSError, sqlite3.Error, ValueError, KeyError, TypeError) as exc:
        logger.info("Code cache not used: %s", exc)
        return None


def _store_codes(key: str | None, codes: CandidateCodes) -> None:
    import sqlite3

    if key is None:
        return
    value = json.dumps({"table": _frame_json(codes.table),
                        "assignments": _frame_json(codes.assignments),
                        "params": dict(codes.params)})
    try:
        with _codes_db() as conn, conn:
            conn.execute("INSERT OR REPLACE INTO codes VALUES (?, ?, ?)", (key, time.time(), value))
            conn.execute("DELETE FROM codes WHERE key NOT IN "
                         "(SELECT key FROM codes ORDER BY used DESC LIMIT ?)",
                         (CODE_CACHE_ENTRIES,))
    except (OSError, sqlite3.Error) as exc:
        logger.info("Code cache not written: %s", exc)


def _frame_json(frame: pd.DataFrame) -> dict[str, Any]:
    """A table as JSON that reads back exactly (Python writes floats in full)."""
    split = frame.to_dict("split")
    return {"columns": split["columns"], "data": split["data"],
            "dtypes": {c: str(t) for c, t in frame.dtypes.items()}}


def _frame(value: dict[str, Any]) -> pd.DataFrame:
    import pandas as pd

    return pd.DataFrame(value["data"], columns=value["columns"]).astype(value["dtypes"])


# ----------------------------------------------------------------------------------------
# Checking the input


def _without_small_talk(units: Any, embeddings: Any) -> tuple[Any, Any, int]:
    """The units (and their vectors) that are not flagged ``small_talk``, and how many were.

    Small talk is kept in the units table but finds no code: grouped with the rest it makes
    codes such as "biscuits, coffee" that read as candidate new themes.
    """
    import numpy as np
    import pandas as pd

    if not isinstance(units, pd.DataFrame) or "small_talk" not in units.columns:
        return units, embeddings, 0
    flagged = units["small_talk"].fillna(False).astype(bool).to_numpy()
    if not flagged.any():
        return units, embeddings, 0
    if embeddings is not None:
        embeddings = np.asarray(embeddings)
        if embeddings.ndim == 2 and len(embeddings) == len(units):
            embeddings = embeddings[~flagged]
    return units[~flagged], embeddings, int(flagged.sum())


def _check_params(seed: object, n_codes: object, method: object, min_code_size: object) -> None:
    def bad(name: str, rule: str, value: object) -> InputError:
        return InputError(
            f"The {name!r} parameter of discover_codes() must be {rule}. Got {value!r} instead"
        )

    def is_int(value: object) -> bool:
        return isinstance(value, numbers.Integral) and not isinstance(value, bool)

    if method not in METHODS:
        raise bad("method", "one of " + ", ".join(repr(m) for m in METHODS), method)
    if not is_int(seed) or not 0 <= seed < 2**32:
        raise bad("seed", "an int in [0, 2**32)", seed)
    if not is_int(min_code_size) or min_code_size < 1:
        raise bad("min_code_size", "an int in [1, inf)", min_code_size)
    if n_codes is not None and (not is_int(n_codes) or n_codes < 2):
        raise bad("n_codes", "None or an int in [2, inf)", n_codes)


def _check_units(units: object, min_code_size: int) -> tuple[list[Any], list[str]]:
    """The unit ids and texts, after checking that codes can be found in them."""
    import pandas as pd

    if not isinstance(units, pd.DataFrame):
        raise InputError(
            f"units must be a table (pandas DataFrame) of meaning units, not a "
            f"{type(units).__name__}",
            fix="Pass the table from themesift.segment(), or pd.DataFrame({'unit_id': ids, "
                "'text': texts})",
        )
    for column in ("unit_id", "text"):
        if column not in units.columns:
            present = ", ".join(map(str, units.columns)) or "none"
            raise InputError(
                f"The units table has no {column!r} column. Columns present: {present}",
                fix=f"Rename the column that holds the {_COLUMN_ROLE[column]} to {column!r}, "
                    f"e.g. units.rename(columns={{'my_column': {column!r}}})",
            )

    n = len(units)
    needed = max(MIN_UNITS, 2 * min_code_size)
    if n < needed:
        raise InputError(
            f"Only {n} meaning unit{'s' if n != 1 else ''}: too few to find codes",
            fix=f"Give at least {needed}, or code them by hand",
        )

    ids = units["unit_id"]
    missing = ids.isna() | (ids.astype(str).str.strip() == "")
    if missing.any():
        raise InputError(
            f"Meaning units without a unit_id: {_rows(missing.to_numpy().nonzero()[0])}",
            fix="Give every unit an id (themesift.segment() makes stable ones)",
        )
    unit_ids = ids.tolist()  # kept as given (ints from a spreadsheet stay ints)
    repeated = ids.duplicated(keep=False).to_numpy()
    if repeated.any():
        rows_of: dict[Any, list[int]] = {}
        for position in repeated.nonzero()[0]:
            rows_of.setdefault(unit_ids[position], []).append(int(position))
        shown = [f"{uid!r} ({_rows(rows)})" for uid, rows in list(rows_of.items())[:5]]
        more = len(rows_of) - len(shown)
        raise InputError(
            "Unit ids must be unique; repeated: " + "; ".join(shown)
            + (f"; and {more} more" if more > 0 else ""),
            fix="Give each meaning unit its own id",
        )

    text = units["text"]
    is_blank = text.isna() | (text.astype(str).str.strip() == "")
    if is_blank.any():
        positions = is_blank.to_numpy().nonzero()[0]
        raise InputError(
            f"Meaning units with no text: {_rows(positions, unit_ids)}",
            fix="Remove those rows or fill in their text",
        )
    return unit_ids, text.astype(str).tolist()


_COLUMN_ROLE = {"unit_id": "unit ids", "text": "meaning-unit text"}


def _rows(positions: Sequence[int], unit_ids: Sequence[str] | None = None) -> str:
    """'rows 3, 8 (unit ids a, b)', rows counted from 1 as in a spreadsheet; at most 10."""
    positions = [int(p) for p in positions]
    shown = positions[:10]
    text = ("row " if len(positions) == 1 else "rows ") + ", ".join(str(p + 1) for p in shown)
    if unit_ids is not None:
        text += " (unit ids " + ", ".join(str(unit_ids[p]) for p in shown) + ")"
    if len(positions) > len(shown):
        text += f" and {len(positions) - len(shown)} more"
    return text


def _unit_vectors(texts: list[str], embedder: Any, embeddings: Any) -> np.ndarray:
    """One L2-normalised float64 row per unit."""
    import numpy as np

    n = len(texts)
    if embeddings is None:
        if embedder is None:
            raise InputError(
                "discover_codes() needs vectors for the meaning units",
                fix="Pass embedder=themesift.Embedder(), or embeddings=an array with one row "
                    "per unit",
            )
        if not callable(getattr(embedder, "encode", None)):
            raise InputError(
                f"The embedder has no encode() method (got a {type(embedder).__name__})",
                fix="Pass embedder=themesift.Embedder(), or embeddings=an array",
            )
        embeddings, source = embedder.encode(list(texts)), "the embedder's vectors"
    else:
        source = "embeddings"
    try:
        vectors = np.asarray(embeddings, dtype=np.float64)
    except (TypeError, ValueError):
        raise InputError(f"{source} must be a numeric array of shape (units, dimensions)") from None
    if vectors.ndim != 2:
        raise InputError(
            f"{source} must be 2-dimensional (one row per meaning unit); got shape "
            f"{vectors.shape}"
        )
    if vectors.shape[0] != n:
        raise InputError(
            f"{source} has {vectors.shape[0]} rows but there are {n} meaning units",
            fix="Give one row per meaning unit, in the order of the units table",
        )
    if not np.isfinite(vectors).all():
        rows = np.flatnonzero(~np.isfinite(vectors).all(axis=1))
        raise InputError(f"{source} contains NaN or infinite values at {_rows(rows)}")
    return _normalise(vectors)


def _normalise(vectors: np.ndarray) -> np.ndarray:
    import numpy as np

    norms = np.linalg.norm(vectors, axis=-1, keepdims=True)
    return vectors / np.where(norms == 0, 1.0, norms)


# ----------------------------------------------------------------------------------------
# Words for keywords


@functools.cache
def _stop_words() -> frozenset[str]:
    from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS

    from .text import stop_words as spacy_and_fillers

    words = set(ENGLISH_STOP_WORDS) | set(spacy_and_fillers()) | _SPOKEN_STOP_WORDS
    # As the tokenizer sees them: lower-case ASCII letters only.
    return frozenset(t for w in words for t in _NOT_LETTER.split(_ascii(w)) if len(t) >= 2)


def _ascii(text: str) -> str:
    return unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")


def _keyword_text(text: str) -> str:
    """The words of a unit that can become keywords: no transcriber notes, contractions,
    punctuation or accents. BERTopic sees these texts; quotes always come from the units."""
    text = _ANNOTATION.sub(" ", text.casefold().replace("’", "'"))
    text = _POSSESSIVE.sub("", _CONTRACTION.sub(" ", text))
    return " ".join(_NOT_LETTER.split(_ascii(text))).strip()


@functools.lru_cache(maxsize=1 << 16)
def _word_text(word: str) -> str:
    """:func:`_keyword_text` of one word, remembered: the label phrases ask it of the same
    words again and again."""
    return _keyword_text(word)


def _vectorizer(vocabulary: Sequence[str] | None = None, min_df: int = 1):
    from sklearn.feature_extraction.text import CountVectorizer

    return CountVectorizer(analyzer=_terms, vocabulary=vocabulary, min_df=min_df)


def _terms(text: str) -> list[str]:
    """Content words and two-word phrases of adjacent content words.

    scikit-learn's own analyzer removes stop words first and pairs what is left, so "the
    list for housing" would give the phrase "list housing"; here a phrase never spans a
    stop word ("waiting list", "care plan", "mental health").
    """
    stop = _stop_words()
    words = _WORD.findall(text.lower())
    keep = [w not in stop for w in words]
    terms = [w for w, k in zip(words, keep) if k]
    terms += [f"{a} {b}" for a, b, ka, kb in zip(words, words[1:], keep, keep[1:]) if ka and kb]
    return terms


def _vocabulary(docs: list[str]) -> tuple[list[str], int]:
    """Words and two-word phrases used in at least a few units.

    BERTopic fits its vectorizer on one joined document per code, so a ``min_df`` there would
    count codes and drop exactly the words unique to one code. Rare words are dropped here
    instead, counting units: 2 below 1,000 units, rising to 10 at 5,000.
    """
    min_units = min(10, max(2, len(docs) // 500))
    for min_df in dict.fromkeys((min_units, 1)):
        try:
            vectorizer = _vectorizer(min_df=min_df).fit(docs)
        except ValueError:  # no word is left after the stop words and min_df
            continue
        if len(vectorizer.vocabulary_) >= 2:  # c-TF-IDF needs two terms to weigh
            return sorted(vectorizer.vocabulary_), min_df
    raise InputError(
        "The meaning units contain (almost) no content words, only stop words and fillers "
        "such as 'yeah', 'um' or 'you know': there is nothing to find codes in",
        fix="Check that the 'text' column holds what was said",
    )


# ----------------------------------------------------------------------------------------
# Grouping: small corpora (Ward or k-means, k by silhouette)


class _PartitionClusterer:
    """BERTopic's clustering block for small corpora: Ward or k-means with k by silhouette.

    After ``fit(X)``: ``labels_`` (every unit in a code; no -1), ``outlier_`` (poor fits, given
    their nearest code), ``k_scores_`` (silhouette per k tried), ``k_`` (the k chosen) and
    ``distances_`` (the units' cosine distances; None above ``_PRECOMPUTE_MAX`` units).
    """

    def __init__(self, algorithm: str, n_codes: int | None, min_code_size: int, seed: int,
                 quiet: bool | None = None) -> None:
        self.algorithm = algorithm
        self.n_codes = n_codes
        self.min_code_size = min_code_size
        self.seed = seed
        self.quiet = quiet

    def fit(self, X: np.ndarray, y: Any = None) -> _PartitionClusterer:
        import numpy as np

        X = _normalise(np.asarray(X, dtype=np.float64))
        n = len(X)
        distances = _cosine_distances(X) if n <= _PRECOMPUTE_MAX else None
        self.distances_ = distances  # the code's silhouette needs them again
        ks = [self.n_codes] if self.n_codes else _k_range(n)
        candidates = self._partitions(X, ks, distances)
        sums = _nested_sums(distances, candidates) if distances is not None else {}
        self.k_scores_ = {
            k: _silhouette(X, labels, self.seed, distances, sums.get(k))
            for k, labels in candidates.items()
        }
        # Best silhouette first; ties go to the fewer codes (sorted is stable, ks ascend).
        ranked = sorted(self.k_scores_, key=lambda k: -self.k_scores_[k])
        min_code_size = None if self.n_codes else self.min_code_size
        for k in ranked:
            # Dissolving codes too small to stand may leave fewer than the range's lower end
            # (a focus group of 65 units would get 5 codes): then the next best k is taken.
            labels, outlier = _settle(X, candidates[k], distances, min_code_size=min_code_size)
            if k == ranked[0]:
                self.k_, self.labels_, self.outlier_ = k, labels, outlier
            if len(np.unique(labels)) >= min(ks):
                self.k_, self.labels_, self.outlier_ = k, labels, outlier
                break
        return self

    def _partitions(self, X: np.ndarray, ks: list[int],
                    distances: np.ndarray | None) -> dict[int, np.ndarray]:
        if self.algorithm == "agglomerative":
            import numpy as np
            from scipy.cluster.hierarchy import linkage
            from scipy.spatial.distance import squareform

            # Unit vectors: Euclidean distance is sqrt(2 * cosine distance), so the matrix
            # the silhouette needs anyway spares Ward computing its own (same merges).
            points = X if distances is None else squareform(np.sqrt(2.0 * distances),
                                                            checks=False)
            # One merge tree serves every k, and the codes at k+1 split one code at k.
            cuts = _cut_tree(linkage(points, method="ward"), ks)
            return {k: cuts[:, i].astype(int) for i, k in enumerate(ks)}
        from sklearn.cluster import KMeans

        return {
            k: KMeans(n_clusters=k, n_init=4, random_state=self.seed).fit_predict(X)
            for k in _progress(ks, len(X), self.quiet, "Trying numbers of codes")
        }


def _cut_tree(merges: np.ndarray, ks: list[int]) -> np.ndarray:
    """scipy's ``cut_tree(merges, n_clusters=ks)``, without its walk over all the units under
    every merge: the codes after the first ``n - k`` merges, for each k, numbered by their
    first unit. The merges go in scipy's order: by height, and where heights tie (identical
    units), later ones first in a breadth-first walk from the top, right before left."""
    import numpy as np
    from scipy.cluster.hierarchy import cut_tree

    n = len(merges) + 1
    if not all(1 <= k < n for k in ks):
        return cut_tree(merges, n_clusters=ks)
    pairs = merges[:, :2].astype(int)
    walked: dict[int, int] = {}  # merge -> its place in the walk
    queue = deque([2 * n - 2])
    while queue:
        node = queue.popleft()
        if node >= n:
            walked[node - n] = len(walked)
            queue.extend((pairs[node - n, 1], pairs[node - n, 0]))
    order = sorted(range(n - 1), key=lambda i: (merges[i, 2], -walked[i]))
    cuts = np.zeros((n, len(ks)), dtype=np.int64)
    members: dict[int, list[int]] = {i: [i] for i in range(n)}  # each code's units
    first = {i: i for i in range(n)}  # each code's first unit
    for done, merge in enumerate(order[: n - min(ks)], start=1):
        left, right = pairs[merge]
        if left not in members or right not in members:  # a tree scipy cuts its own way
            return cut_tree(merges, n_clusters=ks)
        members[n + merge] = members.pop(left) + members.pop(right)
        first[n + merge] = min(first.pop(left), first.pop(right))
        for column in (j for j, k in enumerate(ks) if n - k == done):
            for label, code in enumerate(sorted(members, key=first.__getitem__)):
                cuts[members[code], column] = label
    return cuts


def _k_range(n: int) -> list[int]:
    """Numbers of codes to try: about 8 to 60 units per code, at most 40 codes, and at least
    ``MIN_CODES`` where there are units enough for them (8 each).

    The lower end is capped at half the upper one, so that from 2,400 units on (where n/60
    reaches 40) there is still a choice, between 20 and 40 codes. The floor of ``MIN_CODES``
    is for one focus group alone (50-100 units, of which n/60 would allow a single code):
    an analyst reading one transcript expects a handful of codes, not two.
    """
    low_units, high_units = UNITS_PER_CODE
    hi = max(2, min(MAX_CODES, n // low_units))
    lo = max(min(MIN_CODES, hi), min(round(n / high_units), hi // 2))
    return list(range(lo, hi + 1))


def _cosine_distances(X: np.ndarray) -> np.ndarray:
    import numpy as np

    distances = 1.0 - X @ X.T
    np.clip(distances, 0.0, 2.0, out=distances)
    np.fill_diagonal(distances, 0.0)
    return distances


def _silhouette(X: np.ndarray, labels: Any, seed: int,
                distances: np.ndarray | None = None, sums: np.ndarray | None = None) -> float:
    """Mean cosine silhouette; for large corpora on the sample of 5,000 units that
    ``sklearn.metrics.silhouette_score(..., sample_size=5000, random_state=seed)`` takes."""
    import numpy as np

    labels = np.asarray(labels)
    if distances is None:
        if len(X) > _PRECOMPUTE_MAX:
            sample = np.random.RandomState(seed).permutation(len(X))[:_PRECOMPUTE_MAX]
            X, labels = X[sample], labels[sample]
        distances = _cosine_distances(_normalise(np.asarray(X, dtype=np.float64)))
    if len(np.unique(labels)) < 2:
        return 0.0
    return round(float(_silhouette_samples(distances, labels, sums).mean()), 4)


def _nested_sums(distances: np.ndarray, partitions: dict[int, np.ndarray]
                 ) -> dict[int, np.ndarray]:
    """Each partition's ``distances @ members`` (see :func:`_silhouette_samples`) where the
    partitions nest, as Ward's cuts do: one matrix product for the finest, and each coarser
    one's columns as sums of its columns (a tenth of the time for the k search's twenty
    partitions). Empty where they do not nest."""
    import numpy as np

    if len(partitions) < 2:
        return {}
    finest = max(partitions, key=lambda k: len(np.unique(partitions[k])))
    fine = np.unique(partitions[finest], return_inverse=True)[1]
    members = np.zeros((len(fine), fine.max() + 1))
    members[np.arange(len(fine)), fine] = 1.0
    fine_sums = distances @ members
    out = {}
    for k, labels in partitions.items():
        coarse = np.unique(labels, return_inverse=True)[1]
        merge = np.zeros((members.shape[1], coarse.max() + 1))
        merge[fine, coarse] = 1.0
        if (merge.sum(axis=1) != 1).any():  # a fine code split between coarse ones
            return {}
        out[k] = fine_sums @ merge
    return out


def _silhouette_samples(distances: np.ndarray, labels: Any,
                        sums: np.ndarray | None = None) -> np.ndarray:
    """Each unit's silhouette from precomputed distances, as sklearn's ``silhouette_samples``
    (0 for a unit alone in its code) but with every code's distance sums in one matrix
    product: the k search scores some twenty partitions, and this is four times faster."""
    import numpy as np

    codes = np.unique(np.asarray(labels), return_inverse=True)[1]
    rows = np.arange(len(codes))
    members = np.zeros((len(codes), codes.max() + 1))
    members[rows, codes] = 1.0
    if sums is None:  # unit x code: sum of distances to the code's members
        sums = distances @ members
    sizes = members.sum(axis=0)
    own = sizes[codes]
    intra = sums[rows, codes] / np.maximum(own - 1, 1)
    means = sums / sizes
    means[rows, codes] = np.inf
    inter = means.min(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        scores = (inter - intra) / np.maximum(intra, inter)
    scores[(own == 1) | ~np.isfinite(scores)] = 0.0
    return scores


def _settle(X: np.ndarray, labels: np.ndarray, distances: np.ndarray | None, *,
            min_code_size: int | None) -> tuple[np.ndarray, np.ndarray]:
    """Dissolve codes too small to stand, give poor fits their nearest code, flag outliers.

    Outliers are judged twice: before moving (to know which units to move and which codes
    have enough well-fitting members) and after (a unit that fits its new code is no outlier;
    the members of a dissolved code always are).
    """
    import numpy as np

    labels = np.asarray(labels).copy()
    poor = _poor_fit(X, labels, distances)
    codes = list(np.unique(labels))
    core = {c: int(np.sum((labels == c) & ~poor)) for c in codes}
    homeless = np.zeros(len(labels), dtype=bool)
    if min_code_size:
        keep = [c for c in codes if core[c] >= min_code_size]
        if not keep:  # every group is small: keep the largest rather than none
            keep = [max(codes, key=lambda c: (core[c], -c))]
        homeless = ~np.isin(labels, keep)
        codes, move = keep, poor | homeless
    else:  # n_codes asks for exactly that many: a code of poor fits only keeps them
        move = poor & ~np.isin(labels, [c for c in codes if core[c] == 0])

    centres = _centres(X, labels, ~(poor | homeless))
    matrix = np.stack([centres[c] for c in codes])
    labels[move] = np.asarray(codes)[np.argmax(X[move] @ matrix.T, axis=1)]
    # Codes 0..K-1 in order of first appearance.
    order = {c: i for i, c in enumerate(dict.fromkeys(labels.tolist()))}
    labels = np.array([order[c] for c in labels])
    return labels, _poor_fit(X, labels, distances) | homeless


def _poor_fit(X: np.ndarray, labels: np.ndarray, distances: np.ndarray | None) -> np.ndarray:
    """Units with a negative silhouette, or beyond their code's upper Tukey fence
    (Q3 + 1.5 IQR) in distance to its centre."""
    import numpy as np
    from sklearn.metrics import silhouette_samples

    if len(np.unique(labels)) < 2:
        poor = np.zeros(len(labels), dtype=bool)
    elif distances is not None:
        poor = _silhouette_samples(distances, labels) < 0
    else:
        poor = silhouette_samples(X, labels, metric="cosine") < 0
    centres = _centres(X, labels, ~poor)
    to_centre = 1.0 - np.einsum("ij,ij->i", X, np.stack([centres[c] for c in labels]))
    for code in np.unique(labels):
        member = labels == code
        if member.sum() >= 4:
            q1, q3 = np.percentile(to_centre[member], [25, 75])
            poor |= member & (to_centre > q3 + 1.5 * (q3 - q1))
    return poor


def _centres(X: np.ndarray, labels: np.ndarray, core: np.ndarray) -> dict[int, np.ndarray]:
    """Normalised mean of each code's well-fitting members (of all members if none fit)."""
    import numpy as np

    centres = {}
    for code in np.unique(labels):
        member = labels == code
        use = member & core if (member & core).any() else member
        centres[int(code)] = _normalise(X[use].mean(axis=0))
    return centres


def _progress(items: list, n_units: int, quiet: bool | None, desc: str):
    """A progress bar over items for long runs (many units) on a terminal only."""
    if n_units < 2000 or not progress_shown(quiet):
        return items
    from tqdm.auto import tqdm

    return tqdm(items, desc=desc, leave=False)


def _fit_partition(algorithm: str, docs: list[str], vectors: np.ndarray, vocabulary: list[str],
                   representation: Any, seed: int, n_codes: int | None, min_code_size: int,
                   quiet: bool | None):
    from bertopic.dimensionality import BaseDimensionalityReduction

    clusterer = _PartitionClusterer(algorithm, n_codes, min_code_size, seed, quiet)
    # No reduction: Ward and the silhouette work on the cosine geometry of the vectors
    # themselves, and a few thousand 384-d vectors cluster in seconds.
    model = _topic_model(BaseDimensionalityReduction(), clusterer, vocabulary, representation)
    topics, _ = model.fit_transform(docs, vectors)
    info = {
        "k_selected": int(clusterer.k_),
        "k_candidates": {int(k): float(s) for k, s in clusterer.k_scores_.items()},
        "reduction": "none",
    }
    return topics, clusterer.outlier_.copy(), _keywords(model), info, clusterer.distances_


# ----------------------------------------------------------------------------------------
# Grouping: large corpora (BERTopic's UMAP + HDBSCAN)


def _fit_hdbscan(docs: list[str], vectors: np.ndarray, vocabulary: list[str], representation: Any,
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
    model = _topic_model(umap_model, hdbscan_model, vocabulary, None, nr_topics=n_codes)
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
            centres = _centres(vectors, topics, ~outlier)
            codes = [c for c in centres if c != -1]
            matrix = np.stack([centres[c] for c in codes])
            left = reassigned == -1
            reassigned[left] = np.asarray(codes)[np.argmax(vectors[left] @ matrix.T, axis=1)]
    model.update_topics(docs, topics=reassigned.tolist(), top_n_words=10,
                        vectorizer_model=_vectorizer(vocabulary),
                        ctfidf_model=_ctfidf(), representation_model=representation)
    topics = reassigned
    info = {
        "hdbscan_min_cluster_size": int(min_cluster_size),
        "hdbscan_noise": int(outlier.sum()),
        "reduction": "umap",
    }
    return topics, outlier, _keywords(model), info, None


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


# ----------------------------------------------------------------------------------------
# BERTopic and its keyword block


def _ctfidf():
    from bertopic.vectorizers import ClassTfidfTransformer

    return ClassTfidfTransformer(reduce_frequent_words=True)


def _topic_model(umap_model: Any, cluster_model: Any, vocabulary: list[str], representation: Any,
                 nr_topics: int | None = None):
    from bertopic import BERTopic

    model = BERTopic(
        embedding_model=None,  # vectors are always passed to fit_transform: nothing downloads
        umap_model=umap_model,
        hdbscan_model=cluster_model,
        vectorizer_model=_vectorizer(vocabulary),
        ctfidf_model=_ctfidf(),
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
def _bertopic_quiet() -> Iterator[None]:
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


def _keywords(model: Any) -> dict[int, list[str]]:
    return {
        int(topic): [word for word, _ in words if word]
        for topic, words in model.get_topics().items()
    }


@functools.cache
def _representation_class() -> type:
    """The keyword block, defined on first use because it subclasses a BERTopic class."""
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
            word_vectors = dict(zip(vocab, _normalise(np.asarray(embedder.encode(vocab),
                                                                 dtype=np.float64))))
    ids = documents["ID"].to_numpy(dtype=int)
    topic_of = documents["Topic"].to_numpy()
    ranked = {}
    for t, words in candidates.items():
        if not words:
            ranked[t] = []
            continue
        if word_vectors and vectors is not None:
            centre = _normalise(vectors[ids[topic_of == t]].mean(axis=0))
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

    from .text import content_stems

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


def _label(keywords: list[str], fallback: str) -> str:
    """Two to four words: the top keyword, plus the next ones that add a new word."""
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
    content = [w for w in _keyword_text(fallback).split() if w not in _stop_words()]
    return " ".join(content[:3]) or "unnamed code"


# ----------------------------------------------------------------------------------------
# Labels: a short phrase in the participants' own words


def _phrase_labels(table: pd.DataFrame, assignments: pd.DataFrame, texts: list[str],
                   vectors: np.ndarray, keywords: dict[str, list[str]], embedder: Any,
                   seed: int = 0, docs: list[str] | None = None) -> list[str]:
    """Each code's label: a phrase of its members that tells its members from the others.

    Candidates are the 2-6-word stretches of the ``N_LABEL_UNITS`` members nearest the code's
    centre that start and end on a content word and hold no filler, time, number or name
    (see :func:`_phrases`). They are pre-ranked by how much of the code's own vocabulary they
    carry (its keywords, and words its members use more than the other units do), and the
    best of each code (``LABEL_BUDGET`` phrases in all, 8 to 40 a code) are kept. Where the
    embedder can pool stretches of the units' own forward passes (``encode_spans``, no model
    run), each code keeps the ``LABEL_SHORTLIST`` of those that stand out most for it as said
    (:func:`_shortlist`): only they are embedded. The
    labels are then chosen together, so that as many units as possible have their own code's
    label as the closest label: from three starts (each code's candidate closest to its
    centre, its first by the pre-ranking, the one nearest its members on average), code by
    code and ``LABEL_ROUNDS`` times over, each code takes the candidate that wins the most
    units given the other labels (ties: the earlier candidate), once directly and once after
    the same ascent on a soft count (see :func:`_label_ascent`); the best of these wins. A
    reader who knows only the labels then places most units where the codes put them. Last,
    each label may take a second key phrase of its code (no shared word, six words in all:
    "no-drugs rule, urine screens"), by the same ascent over the phrase alone and up to
    ``LABEL_PAIRS`` such pairs, where that wins more units. Without an embedder the
    pre-ranking decides; a code with no candidate keeps a keyword label. ``docs``: the
    texts' :func:`_keyword_text`, where already made.
    """
    import numpy as np

    code_of = assignments["code_id"].to_numpy()
    codes = table["code_id"].tolist()
    distance = assignments["distance"].to_numpy()
    outlier = assignments["outlier"].to_numpy()
    if docs is None:
        docs = [_keyword_text(t) for t in texts]
    words_of = [set(doc.split()) for doc in docs]  # as _phrases gives them
    df_all = Counter(w for words in words_of for w in words)
    per_code = max(8, min(LABEL_PER_CODE, LABEL_BUDGET // max(1, len(codes))))
    candidates: list[list[str]] = []
    said: dict[str, str] = {}  # a candidate (lower case) as first said ("I'd" stays "I'd")
    where: dict[str, tuple[int, tuple[int, int]]] = {}  # ... and where: unit, span
    for code in codes:
        member = np.flatnonzero(code_of == code)
        central = sorted(member, key=lambda i: (bool(outlier[i]), distance[i], i))[:N_LABEL_UNITS]
        df_in = Counter(w for i in member for w in words_of[i])
        weight = {w: max(0.0, df_in[w] / len(member) - (df_all[w] - df_in[w])
                         / max(1, len(texts) - len(member))) for w in df_in}
        # The keywords' words in order, each counting less than the one before.
        for rank, w in enumerate(w for keyword in keywords[code] for w in keyword.split()):
            weight[w] = weight.get(w, 0.0) + 1.0 / (rank + 2)
        scored: dict[str, float] = {}
        for i in central:
            for phrase, words, span in _phrase_spans(texts[i]):
                scored.setdefault(phrase.lower(), sum(weight.get(w, 0.0) for w in set(words)))
                said.setdefault(phrase.lower(), phrase)
                where.setdefault(phrase.lower(), (i, span))
        candidates.append(sorted(scored, key=lambda p: (-scored[p], len(p), p))[:per_code])

    pool = sorted({p for ps in candidates for p in ps})
    if not pool or embedder is None or not callable(getattr(embedder, "encode", None)):
        return [said[ps[0]] if ps else _fallback_label(keywords[c], texts, code_of == c)
                for c, ps in zip(codes, candidates)]
    centres = np.stack([_normalise(vectors[code_of == c].mean(axis=0)) for c in codes])
    # Only the codes with more candidates than the shortlist need their in-context vectors
    # (none from about 70 codes on, where the budget leaves fewer a code).
    longer = sorted({p for ps in candidates if len(ps) > LABEL_SHORTLIST for p in ps})
    if longer and callable(getattr(embedder, "encode_spans", None)):
        candidates = _shortlist(candidates, longer, centres, _span_vectors(
            embedder, texts, [where[p] for p in longer]))
        pool = sorted({p for ps in candidates for p in ps})
    index = {p: j for j, p in enumerate(pool)}
    phrase_vectors = _normalise(np.asarray(embedder.encode(pool), dtype=np.float64))
    # The units the labels compete for: all of them, or a fixed sample of a big corpus.
    rows = np.arange(len(texts))
    if len(rows) > LABEL_SAMPLE:
        rows = np.sort(np.random.RandomState(seed).permutation(len(rows))[:LABEL_SAMPLE])
    similarity = (vectors[rows] @ phrase_vectors.T).astype(np.float32)
    position = {c: k for k, c in enumerate(codes)}
    own = np.array([position[c] for c in code_of[rows]])  # each unit's code, as a position
    columns = [np.array([index[p] for p in ps], dtype=int) for ps in candidates]
    starts = [  # closest to the centre; the best by the code's vocabulary; nearest its members
        [int(np.argmax(phrase_vectors[cols] @ centres[k])) if len(cols) else -1
         for k, cols in enumerate(columns)],
        [0 if len(cols) else -1 for cols in columns],
        [int(np.argmax(similarity[own == k][:, cols].mean(axis=0)))  # nearest its members
         if len(cols) and (own == k).any() else (0 if len(cols) else -1)
         for k, cols in enumerate(columns)],
    ]
    choice, best_wins = _best_ascent(similarity, columns, own, starts)
    labels = [said[ps[choice[k]]] if ps else None for k, ps in enumerate(candidates)]
    # Then each label may take a second key phrase of its code (MMR-like: no shared word,
    # 6 words in all) where the pair wins more units than the phrase alone.
    pairs = [[f"{first}, {said[p]}" for p in ps if len(first.split()) + len(p.split()) <= 6
              and not set(p.split()) & set(first.lower().split())][:LABEL_PAIRS]
             if first else [] for first, ps in zip(labels, candidates)]
    extra = sorted({p for ps in pairs for p in ps})
    if extra:
        pair_vectors = _normalise(np.asarray(embedder.encode(extra), dtype=np.float64))
        at = {p: len(pool) + j for j, p in enumerate(extra)}
        similarity = np.hstack([similarity, (vectors[rows] @ pair_vectors.T).astype(np.float32)])
        columns = [np.array([cols[choice[k]], *(at[p] for p in pairs[k])], dtype=int)
                   if len(cols) else cols for k, cols in enumerate(columns)]
        found, wins = _best_ascent(similarity, columns, own,
                                   [[0 if len(cols) else -1 for cols in columns]])
        if wins > best_wins:  # else the phrases alone win at least as many units
            labels = [([label, *pair][found[k]] if label else None)
                      for k, (label, pair) in enumerate(zip(labels, pairs))]
    return [label or _fallback_label(keywords[c], texts, code_of == c)
            for c, label in zip(codes, labels)]


def _shortlist(candidates: list[list[str]], pool: list[str], centres: np.ndarray,
               in_context: np.ndarray) -> list[list[str]]:
    """Each code's ``LABEL_SHORTLIST`` candidates that stand out most for it as said: by the
    vector of the phrase in its unit's forward pass (``in_context``, a row per phrase of
    ``pool``, which holds the candidates of every code that has more), its cosine to the
    code's centre less its highest to another code's. In the candidates' order."""
    import numpy as np

    row = {p: j for j, p in enumerate(pool)}
    in_context = _normalise(in_context)
    shortlisted = []
    for k, phrases in enumerate(candidates):
        if len(phrases) <= LABEL_SHORTLIST:
            shortlisted.append(phrases)
            continue
        closeness = in_context[[row[p] for p in phrases]] @ centres.T
        mine = closeness[:, k].copy()
        closeness[:, k] = -np.inf
        stands_out = mine - closeness.max(axis=1) if len(centres) > 1 else mine
        kept = set(np.argsort(-stands_out, kind="stable")[:LABEL_SHORTLIST].tolist())
        shortlisted.append([p for j, p in enumerate(phrases) if j in kept])
    return shortlisted


def _span_vectors(embedder: Any, texts: list[str],
                  places: list[tuple[int, tuple[int, int]]]) -> np.ndarray:
    """The vectors of stretches of the units (unit, span), pooled from the units' own forward
    passes (``embedder.encode_spans``), in the order given."""
    import numpy as np

    spans: dict[int, list[tuple[int, int]]] = {}
    for i, span in places:
        spans.setdefault(i, []).append(span)
    vectors = np.asarray(embedder.encode_spans([texts[i] for i in spans], list(spans.values())),
                         dtype=np.float64)
    row = {}
    for i, ss in spans.items():
        for span in ss:
            row[i, span] = len(row)
    return vectors[[row[place] for place in places]]


def _best_ascent(similarity: np.ndarray, columns: list[np.ndarray], own: np.ndarray,
                 starts: list[list[int]]) -> tuple[list[int], int]:
    """The best of :func:`_label_ascent` from each start, once on the count of units won and
    once after the same ascent on a soft count: counting is flat where no unit flips, and the
    soft count (each unit's margin through a sigmoid) first moves towards labels that many
    units are close to choosing. The choice and the units it wins."""
    blocks = _ascent_blocks(similarity, columns, own)  # the same for every ascent
    best_wins, choice = -1, list(starts[0])
    for start in starts:
        for softness in (None, LABEL_SOFTNESS):
            found = list(start)
            if softness:
                found, _ = _label_ascent(similarity, columns, own, found, softness, blocks)
            found, wins = _label_ascent(similarity, columns, own, found, blocks=blocks)
            if wins > best_wins:
                best_wins, choice = wins, found
    return choice, best_wins


def _ascent_blocks(similarity: np.ndarray, columns: list[np.ndarray], own: np.ndarray
                   ) -> list[tuple[np.ndarray, np.ndarray, np.ndarray] | None]:
    """For each code with a choice to make: which units are its own, and its candidates'
    columns of ``similarity`` for its own units and for the others (None for a code with
    fewer than two candidates)."""
    blocks: list[tuple[np.ndarray, np.ndarray, np.ndarray] | None] = []
    for k, cols in enumerate(columns):
        if len(cols) < 2:
            blocks.append(None)
            continue
        mine = own == k
        block = similarity[:, cols]
        blocks.append((mine, block[mine], block[~mine]))
    return blocks


def _label_ascent(similarity: np.ndarray, columns: list[np.ndarray], own: np.ndarray,
                  choice: list[int], softness: float | None = None,
                  blocks: list | None = None) -> tuple[list[int], int]:
    """Coordinate ascent on the units won: code by code, ``LABEL_ROUNDS`` times, the
    candidate (a column of ``similarity``, units x phrases) that makes the most units closest
    to their own code's label, given the other codes' labels. With ``softness``, a unit
    counts by a sigmoid of its margin (own label's similarity less the best other's) at that
    scale instead of 0 or 1. ``blocks``: :func:`_ascent_blocks` of the same arguments, if
    already made. The choice and the units won (counted 0 or 1)."""
    import numpy as np

    n_units = len(similarity)
    rows = np.arange(n_units)
    if blocks is None:
        blocks = _ascent_blocks(similarity, columns, own)
    # Each code's chosen label's similarities as a row, kept up to date as the choice
    # changes (rows, so that the maxima over codes run along the units).
    current = np.stack([similarity[:, cols[picked]] if picked >= 0
                        else np.full(n_units, -np.inf, dtype=np.float32)
                        for cols, picked in zip(columns, choice)])
    for _ in range(LABEL_ROUNDS):
        for k, cols in enumerate(columns):
            if blocks[k] is None:
                continue
            mine, block_mine, block_other = blocks[k]
            chosen = current.copy()
            chosen[k] = -np.inf
            best_other = chosen.max(axis=0)
            own_label = chosen[own, rows]
            if softness:
                rivals = chosen
                rivals[own, rows] = -np.inf  # other units: their best rival but code k's
                margin_mine = block_mine - best_other[mine, None]
                margin_other = own_label[~mine, None] - np.maximum(
                    rivals.max(axis=0)[~mine, None], block_other)
                wins = (np.tanh(margin_mine / (2 * softness)).sum(axis=0)
                        + np.tanh(margin_other / (2 * softness)).sum(axis=0))
            else:
                wins = (block_mine > best_other[mine, None]).sum(axis=0)
                kept = own_label[~mine] >= best_other[~mine]  # others' units their label holds
                wins += (kept[:, None] & (own_label[~mine, None] > block_other)).sum(axis=0)
            choice[k] = int(np.argmax(wins))
            current[k] = similarity[:, cols[choice[k]]]
    won = int((current.argmax(axis=0) == own).sum())
    return choice, won


def _fallback_label(keywords: list[str], texts: list[str], member: np.ndarray) -> str:
    import numpy as np

    return _label([k for k in keywords if k], texts[int(np.flatnonzero(member)[0])])


# Words that break a label phrase: fillers, and the transcriber's notes.
_HARD_FILLERS = frozenset("um umm uh uhm er erm ah oh eh mm mmm mhm hmm huh yeah yep yup okay ok "
                          "like".split())
_LABEL_TOKEN = re.compile(r"\[[^\]]*\]|\([^)]*\)|[^\W\d_][\w'’]*(?:-[^\W\d_]+)*|\d[\d:.,]*|"
                          r"[^\s\w]+")
# Modifiers that leave a phrase hanging when it starts or ends on them ("a proper", "tests
# especially").
_WEAK_EDGES = frozenset("proper own whole other big small good bad huge little first last next "
                        "much many few various certain lot lots bit".split())
# Who says or does something: a label may start on one, in the participants' own voice,
# unless a hedge follows.
_SUBJECTS = frozenset("i we you they he she".split())
_HEDGES = frozenset("know mean think guess suppose reckon".split())
_CLAUSE_WORDS = frozenset("and but so because cos cause or then if when although though while "
                          "whereas".split())


@functools.cache
def _label_stop_words() -> frozenset[str]:
    """Words a label may hold but not start or end on: spaCy's stop words and spoken fillers
    (a shorter list than the keywords', so that a label can say "tell the psychiatrist")."""
    from .text import stop_words as spoken

    return frozenset(spoken()) | _HARD_FILLERS | {"yes", "no", "sorry", "guess", "suppose"}


@functools.cache
def _not_label_words() -> frozenset[str]:
    """Times, dates and numbers: never part of a label."""
    from .text import DAYS, MONTHS, NUMBERS

    times = ("half past quarter oclock o'clock am pm morning afternoon evening tonight day days "
             "week weeks month months year years ago twice")
    return frozenset(f"{DAYS} {MONTHS} {times}".split()) | NUMBERS


def _phrases(text: str, lengths: Sequence[int] = range(2, 7)) -> Iterator[tuple[str, list[str]]]:
    """Stretches of ``lengths`` words inside one clause of ``text``, as said, each with its
    content words (lower case), that start on a content word or a subject ("I hate the
    tests"; not "you know ..."), end on a content word, hold at least two content words and
    contain no filler, transcriber's note, time, number or name."""
    for phrase, words, _ in _phrase_spans(text, lengths):
        yield phrase, words


def _phrase_spans(text: str, lengths: Sequence[int] = range(2, 7)
                  ) -> Iterator[tuple[str, list[str], tuple[int, int]]]:
    """:func:`_phrases`, each with where it stands in ``text`` (character offsets)."""
    stop, times = _label_stop_words(), _not_label_words()
    # (word as said, kind, start, end); kind: content, inner, subject
    clauses: list[list[tuple[str, str, int, int]]] = [[]]
    sentence_start = True
    for match in _LABEL_TOKEN.finditer(text):
        token = match.group()
        plain = _word_text(token).replace(" ", "")  # "self-care" -> "selfcare"
        starts, sentence_start = sentence_start, (sentence_start and not token[0].isalnum()
                                                  or any(c in token for c in ".!?"))
        if not token[0].isalpha():
            kind = "break"
        elif token.lower() in _CLAUSE_WORDS:
            kind = "clause"
        elif plain in _HARD_FILLERS or plain in times or (
                token[0].isupper() and not starts and plain not in ("i", "")):  # a name
            kind = "break"
        elif plain in _SUBJECTS:
            kind = "subject"  # may start a label ("I hate the tests"), not end it
        elif plain in stop or len(plain) < 3 or plain in _WEAK_EDGES or plain.endswith("ly"):
            kind = "inner"  # may stand inside a label, not at its ends
        else:
            kind = "content"
        if kind in ("break", "clause"):
            if clauses[-1]:
                clauses.append([])
            continue
        clauses[-1].append((token.replace("’", "'"), kind, match.start(), match.end()))
    for clause in clauses:
        for start in range(len(clause)):
            if clause[start][1] not in ("content", "subject") or (
                    clause[start][1] == "subject" and start + 1 < len(clause)
                    and _word_text(clause[start + 1][0]) in _HEDGES):
                continue  # "you know ...", "I think ..." are fillers, not a start
            for length in lengths:
                end = start + length
                if end > len(clause) or clause[end - 1][1] != "content":
                    continue
                words = [part for w, kind, _, _ in clause[start:end] if kind == "content"
                         for part in _word_text(w).split()]
                if len(words) >= min(2, length):
                    phrase = " ".join(w for w, _, _, _ in clause[start:end])
                    phrase = phrase[0].lower() + phrase[1:] if phrase[:2] != "I " else phrase
                    yield phrase, words, (clause[start][2], clause[end - 1][3])


# ----------------------------------------------------------------------------------------
# The tables


def _code_tables(units: pd.DataFrame, unit_ids: list[Any], texts: list[str], vectors: np.ndarray,
                 topics: Any, outlier: np.ndarray, keywords: dict[int, list[str]]):
    import numpy as np
    import pandas as pd

    topics = np.asarray(topics, dtype=int)
    outlier = np.asarray(outlier, dtype=bool)
    found = np.unique(topics)
    size = {t: int(np.sum(topics == t)) for t in found}
    first = {t: int(np.argmax(topics == t)) for t in found}
    order = sorted(found, key=lambda t: (-size[t], first[t]))
    width = max(2, len(str(len(order))))
    code_id = {t: f"C{i + 1:0{width}d}" for i, t in enumerate(order)}

    centres = _centres(vectors, topics, ~outlier)
    similarity = np.einsum("ij,ij->i", vectors, np.stack([centres[t] for t in topics]))
    distance = np.round(np.clip(1.0 - similarity, 0.0, 2.0), 6)

    speakers, doc_ids = _column(units, "speaker"), _column(units, "doc_id")
    if speakers is not None and doc_ids is not None:  # "P1" of one transcript is not another's
        speakers = np.array([s if s is None else f"{d} / {s}" for d, s in zip(doc_ids, speakers)],
                            dtype=object)

    rows = []
    for t in order:
        member = np.flatnonzero(topics == t)
        # Exemplars: nearest the centre, well-fitting members first.
        exemplars = sorted(member, key=lambda i: (bool(outlier[i]), distance[i], i))[:N_EXEMPLARS]
        said_by = Counter() if speakers is None else Counter(
            s for s in speakers[member] if s is not None)
        top_share = max(said_by.values(), default=0) / len(member)
        n_transcripts = 1 if doc_ids is None else len({d for d in doc_ids[member] if d is not None})
        words = keywords.get(int(t), [])
        rows.append({
            "code_id": code_id[t],
            "label": _label(words, texts[exemplars[0]]),
            "keywords": _SEPARATOR.join(words[:N_KEYWORDS]),
            "size": len(member),
            "n_speakers": len(said_by),
            "n_transcripts": n_transcripts,
            "exemplar_ids": _SEPARATOR.join(str(unit_ids[i]) for i in exemplars),
            "exemplars": _SEPARATOR.join(texts[i].replace(_SEPARATOR, " / ") for i in exemplars),
            "cohesion": round(float(similarity[member].mean()), 6),
            "single_speaker": top_share > SINGLE_SPEAKER_SHARE,
            "top_speaker_share": round(top_share, 4),
            "n_outliers": int(outlier[member].sum()),
        })
    table = pd.DataFrame(rows, columns=TABLE_COLUMNS).astype(
        {"size": "int64", "n_speakers": "int64", "n_transcripts": "int64", "n_outliers": "int64",
         "single_speaker": "bool"}
    )
    assignments = pd.DataFrame({
        "unit_id": unit_ids,
        "code_id": [code_id[t] for t in topics],
        "distance": distance,
        "outlier": outlier,
    }, columns=ASSIGNMENT_COLUMNS)
    return table, assignments


def _column(units: pd.DataFrame, name: str) -> np.ndarray | None:
    """A column as strings with None where empty; None if the table has no such column."""
    if name not in units.columns:
        return None
    return units[name].astype("string").to_numpy(dtype=object, na_value=None)
