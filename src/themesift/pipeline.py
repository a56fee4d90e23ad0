"""The whole pipeline in one call.

``run_pipeline`` chains the public stages (read_corpus -> segment -> embed -> discover_codes ->
propose / suggest_units) and returns what they produced, with a manifest of what it did, as a
:class:`PipelineResult`. It knows nothing of files, sheets, reports or the store: the files of
``themesift run`` are written by :mod:`themesift.outputs`, runs are kept by
:class:`themesift.Study`.
"""

from __future__ import annotations

import functools
import hashlib
import logging
import os
import platform
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ._blas import one_blas_thread
from .errors import InputError
from .model import CandidateCodes, Corpus, Framework

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

__all__ = ["PipelineResult", "run_pipeline", "unit_map", "embedder_info",
           # moved up to themesift.outputs and themesift.review.sheet; see __getattr__
           "write_outputs", "review_sheet", "REVIEW_COLUMNS", "OUTPUT_FILES"]

logger = logging.getLogger(__name__)

_PACKAGES = ("themesift", "numpy", "pandas", "scikit-learn", "spacy", "torch",
             "sentence-transformers", "bertopic", "python-docx", "openpyxl", "xlsxwriter",
             "onnxruntime")


@dataclass
class PipelineResult:
    """Everything one run produced, as plain tables, plus its manifest."""

    corpus: Corpus
    framework: Framework
    units: pd.DataFrame
    codes: CandidateCodes
    suggestions: pd.DataFrame  # code level
    unit_suggestions: pd.DataFrame
    manifest: dict[str, Any] = field(default_factory=dict)
    #: ``unit_id, x, y``: the units on a 2-D map of their embeddings, for the report.
    unit_map: pd.DataFrame | None = None


def run_pipeline(
    inputs: Corpus | str | os.PathLike[str] | Iterable[str | os.PathLike[str]],
    framework: Framework | str = "recovery",
    *,
    embedder=None,
    seed: int = 0,
    moderator: Iterable[str] | str | None = None,
    encoding: str | None = None,
    n_codes: int | None = None,
    examples: pd.DataFrame | None = None,
    quiet: bool | None = None,
) -> PipelineResult:
    """Read transcripts and produce meaning units, candidate codes and theme suggestions.

    Parameters
    ----------
    inputs:
        A :class:`Corpus` already read, or transcript files or folders as for
        :func:`themesift.read_corpus`.
    framework:
        A :class:`Framework`, a built-in name or a YAML path.
    embedder:
        An :class:`Embedder`; by default the packaged all-MiniLM-L6-v2.
    seed:
        Seed for every random choice; the same inputs, settings and seed give the same tables.
    moderator, encoding, n_codes, quiet:
        Passed on to :func:`read_corpus` and :func:`discover_codes`.
    examples:
        Analyst-coded units (``text, theme_id``) for :func:`suggest_units` and :func:`propose`
        to learn from.

    Returns
    -------
    PipelineResult
    """
    from .discover import discover_codes
    from .discover import check_n_codes
    from .embed import Embedder
    from .frameworks import load_framework
    from .frameworks.framework import framework_to_yaml
    from .ingest import read_corpus
    from .propose import suggest_units_and_codes
    from .segment import segment

    timings: dict[str, float] = {}

    def timed(stage: str, what: str, fn, *args, **kwargs):
        # One line per stage as it starts (the CLI shows them where there are no progress bars).
        logger.info("%s: %s", stage, what)
        started = time.perf_counter()
        result = fn(*args, **kwargs)
        timings[stage] = round(time.perf_counter() - started, 3)
        logger.debug("%s took %.1f s", stage, timings[stage])
        return result

    framework = timed("framework", "loading the framework", load_framework, framework)
    corpus = inputs if isinstance(inputs, Corpus) else timed(
        "read", "reading the transcripts", read_corpus, inputs, moderator=moderator,
        encoding=encoding)
    units = timed("segment", f"cutting the transcripts ({len(corpus)}) into meaning units",
                  segment, corpus, refuse_empty=True, framework=framework)
    check_n_codes(n_codes, units)  # before the slow embedding
    embedder = embedder if embedder is not None else Embedder(quiet=quiet)
    vectors = timed("embed", f"embedding {len(units)} meaning units (the slowest stage when "
                    "they are new)", embedder.encode, list(units["text"]))
    # The units' vectors go along: the embedder would only fetch them again (or, with no
    # cache, compute them again); it still embeds the keywords and labels.
    codes = timed("discover", "grouping the units into candidate codes", discover_codes, units,
                  embedder=embedder, embeddings=vectors, seed=seed, n_codes=n_codes,
                  quiet=quiet)
    unit_suggestions, suggestions = timed(
        "suggest", f"suggesting themes of {framework.name!r} for units and codes",
        suggest_units_and_codes, units, codes, framework, embedder=embedder, examples=examples)
    manifest = {
        "themesift_version": _version("themesift"),
        "themesift_source_sha256": source_digest(),
        "python": platform.python_version(),
        "packages": {p: _version(p) for p in _PACKAGES},
        "seed": seed,
        "config": {"framework": framework.name, "framework_version": framework.version,
                   "framework_source": framework.source, "moderator": moderator,
                   "n_codes": n_codes, "examples": 0 if examples is None else len(examples),
                   "framework_sha256": hashlib.sha256(
                       framework_to_yaml(framework).encode("utf-8")).hexdigest(),
                   "segment": _segmenter_info(), "codes": dict(codes.params)},
        "embedding_model": embedder_info(embedder),
        "inputs": [{"doc_id": t.id, "path": t.meta.get("path"), "sha256": t.meta.get("sha256"),
                    "format": t.meta.get("format"), "turns": len(t.turns)} for t in corpus],
        "counts": {"transcripts": len(corpus), "units": len(units), "codes": len(codes.table),
                   **({"skipped files": len(corpus.skipped)} if corpus.skipped else {})},
        "skipped_files": list(corpus.skipped),
        "timings_s": timings,
    }
    return PipelineResult(corpus, framework, units, codes, suggestions, unit_suggestions, manifest,
                          unit_map=unit_map(units, vectors))


@functools.cache
def source_digest() -> str:
    """sha256 over themesift's own modules (each one's path in the package, length and bytes):
    which build ran, where one version number has had several."""
    from ._io import files_digest

    package = Path(__file__).resolve().parent
    return files_digest(sorted(package.rglob("*.py")), package)


def unit_map(units: pd.DataFrame, vectors: np.ndarray) -> pd.DataFrame:
    """Place meaning units on a 2-D map: the first two principal components of their vectors.

    Deterministic: each component's sign is fixed so that its largest loading is positive.

    Parameters
    ----------
    units:
        The unit table (``unit_id``), one row per vector.
    vectors:
        The units' embeddings, shape (n_units, dimension).

    Returns
    -------
    pandas.DataFrame
        ``unit_id, x, y``.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> units = pd.DataFrame({"unit_id": ["a", "b", "c"]})
    >>> unit_map(units, np.eye(3)).columns.tolist()
    ['unit_id', 'x', 'y']
    """
    import numpy as np
    import pandas as pd

    vectors = np.asarray(vectors, dtype=float)
    if len(vectors) != len(units):
        raise InputError(f"unit_map() got {len(vectors)} vectors for {len(units)} units",
                         fix="Pass one vector per unit row, in the same order")
    centred = vectors - vectors.mean(axis=0) if len(vectors) else vectors
    xy = np.zeros((len(vectors), 2))
    if len(vectors) > 1:
        from scipy.linalg import eigh

        # The top two eigenvectors of the scatter matrix, not a full SVD (0.01 s instead of
        # 0.06 s at 1,500 units); on one BLAS thread, as two OpenBLAS threads took 1-13 s
        # when the machine was busy (they wait for each other).
        dimension = centred.shape[1]
        with one_blas_thread():
            _, eigenvectors = eigh(centred.T @ centred,
                                   subset_by_index=[max(dimension - 2, 0), dimension - 1])
        components = eigenvectors[:, ::-1].T
        signs = np.sign(components[np.arange(len(components)),
                                   np.abs(components).argmax(axis=1)])
        xy[:, :len(components)] = centred @ (components * signs[:, None]).T
    return pd.DataFrame({"unit_id": list(units["unit_id"]), "x": xy[:, 0].round(6),
                         "y": xy[:, 1].round(6)})


def _version(package: str) -> str | None:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return None


def _segmenter_info() -> dict[str, Any]:
    """What cut the talk into units: the spaCy pipeline and the segmentation settings."""
    import spacy
    from spacy.util import get_package_version

    from .segment import MAX_WORDS, MIN_WORDS, PUNCTUATED_WORDS, SHIFT_THRESHOLD, SPACY_MODELS

    name = next((n for n in SPACY_MODELS if get_package_version(n)), None)
    return {"spacy_model": name, "spacy_version": name and get_package_version(name),
            "spacy": spacy.__version__, "punctuated_words": PUNCTUATED_WORDS,
            "min_words": MIN_WORDS, "max_words": MAX_WORDS, "shift_threshold": SHIFT_THRESHOLD}


def embedder_info(embedder) -> dict[str, Any]:
    """What embedded the units, for a manifest: the embedder's ``info()``, or its model id."""
    info = getattr(embedder, "info", None)
    return info() if callable(info) else {"model_id": getattr(embedder, "model_id", repr(embedder))}


def __getattr__(name: str) -> Any:
    # The files of a run, and the review sheet, moved up a layer (to modules that import this
    # one): what this module used to hold is found there when asked for, so that
    # ``themesift.pipeline.write_outputs`` and the rest keep working.
    if name in ("write_outputs", "OUTPUT_FILES"):
        from . import outputs

        return getattr(outputs, name)
    if name in ("review_sheet", "REVIEW_COLUMNS", "write_review", "CSV_OPTIONS"):
        from .review import sheet

        return getattr(sheet, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
