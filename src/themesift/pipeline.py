"""The whole pipeline in one call, and the files a batch run writes.

``run_pipeline`` chains the public stages (read_corpus -> segment -> embed -> discover_codes ->
propose / suggest_units) and records what it did; ``write_outputs`` writes the files that
``themesift run`` promises (units.csv, codes.csv, suggestions.csv, unit_suggestions.csv,
review.xlsx and review.csv, report.html, manifest.json) into a folder, all or nothing.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import platform
import shutil
import tempfile
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .errors import InputError
from .model import CandidateCodes, Corpus, Framework
from .review.sheet import CSV_OPTIONS, REVIEW_COLUMNS, review_sheet, write_review

if TYPE_CHECKING:
    import pandas as pd

    from .study import Study

__all__ = ["PipelineResult", "run_pipeline", "write_outputs", "review_sheet",
           "REVIEW_COLUMNS", "OUTPUT_FILES", "embedder_info"]

logger = logging.getLogger(__name__)

OUTPUT_FILES = ("units.csv", "codes.csv", "suggestions.csv", "unit_suggestions.csv",
                "review.xlsx", "review.csv", "report.html", "manifest.json")
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
    from .embed import Embedder
    from .export.report import unit_map
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
                  segment, corpus)
    if units.empty:
        raise InputError("No meaning units were found in the transcripts",
                         fix="Check that participants' turns are labelled (see 'themesift segment')")
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


def write_outputs(
    result: PipelineResult,
    out_dir: str | os.PathLike[str],
    *,
    run_id: str | None = None,
    study: Study | str | os.PathLike[str] | None = None,
) -> list[Path]:
    """Write the run's files into ``out_dir``, all or nothing.

    The files are written into a temporary folder beside ``out_dir`` and moved into place
    only when every one is complete, so a failure never leaves half a set (the staging folder
    of a write that was killed is removed by the next write beside it). With ``run_id``
    (and ``study``) the review sheet carries the store's suggestion ids, so that
    ``themesift apply`` can read it back into that study.

    Returns
    -------
    list of Path
        The files written.
    """
    from .export.report import render_report

    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise InputError("The output path is a file, not a folder", path=out,
                         fix="Give a folder name for --out")
    out.parent.mkdir(parents=True, exist_ok=True)
    logger.info("write: writing the files into %s", out)
    _remove_abandoned_staging(out.parent)
    staging = Path(tempfile.mkdtemp(prefix=f"{_STAGING}{os.getpid()}-", dir=out.parent))
    try:
        result.units.to_csv(staging / "units.csv", **CSV_OPTIONS)
        result.codes.table.to_csv(staging / "codes.csv", **CSV_OPTIONS)
        result.suggestions.to_csv(staging / "suggestions.csv", **CSV_OPTIONS)
        _readable_unit_suggestions(result).to_csv(staging / "unit_suggestions.csv", **CSV_OPTIONS)
        write_review(review_sheet(result, run_id=run_id, study=study), staging)
        (staging / "report.html").write_text(render_report(result), encoding="utf-8")
        (staging / "manifest.json").write_text(
            json.dumps(result.manifest, indent=2, sort_keys=True, default=str) + "\n", encoding="utf-8")
        out.mkdir(exist_ok=True)
        for name in OUTPUT_FILES:
            os.replace(staging / name, out / name)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return [out / name for name in OUTPUT_FILES]


def _readable_unit_suggestions(result: PipelineResult) -> pd.DataFrame:
    """The unit suggestions with each unit's transcript, speaker and words, and its code, so
    that unit_suggestions.csv reads on its own."""
    units = result.units[[c for c in ("unit_id", "doc_id", "speaker", "text")
                          if c in result.units.columns]]
    suggestions = result.unit_suggestions.drop(columns=units.columns[1:], errors="ignore")
    return units.merge(suggestions, on="unit_id", how="right").merge(
        result.codes.assignments[["unit_id", "code_id"]], on="unit_id", how="left")


_STAGING = ".themesift-"  # + the writing process's id + a random part


def _remove_abandoned_staging(folder: Path) -> None:
    """Remove staging folders left in ``folder`` by a write that was killed (its process is
    gone); those of writes still running are left alone."""
    if os.name != "posix":  # no cheap, safe test of whether a process lives
        return
    for path in folder.glob(f"{_STAGING}*-*"):
        pid = path.name[len(_STAGING):].split("-", 1)[0]
        if not pid.isdigit() or not path.is_dir():
            continue
        try:
            os.kill(int(pid), 0)
        except ProcessLookupError:
            shutil.rmtree(path, ignore_errors=True)
        except OSError:  # alive but not ours to signal, or an impossible id: leave it
            pass


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

