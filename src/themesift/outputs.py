"""The files of a batch run: what ``themesift run`` writes into its folder, all or nothing.

``write_outputs`` takes a :class:`~themesift.pipeline.PipelineResult` and writes units.csv,
codes.csv, suggestions.csv, unit_suggestions.csv, review.xlsx and review.csv (the review
sheet), report.html and manifest.json.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

from ._io import CSV_OPTIONS
from .errors import InputError
from .export.report import render_report, render_study_report
from .review.sheet import review_sheet, write_review

if TYPE_CHECKING:
    import pandas as pd

    from .pipeline import PipelineResult
    from .study import Study

__all__ = ["write_outputs", "check_out_dir", "OUTPUT_FILES"]

logger = logging.getLogger(__name__)

OUTPUT_FILES = ("units.csv", "codes.csv", "suggestions.csv", "unit_suggestions.csv",
                "review.xlsx", "review.csv", "report.html", "manifest.json")


def check_out_dir(out_dir: str | os.PathLike[str]) -> Path:
    """The output folder, or an InputError where the path is a file (check before slow work)."""
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise InputError("The output path is a file, not a folder", path=out,
                         fix="Give a folder name for --out")
    # a folder where a file goes would stop the files' move into place half way
    for name in OUTPUT_FILES:
        if (out / name).is_dir():
            raise InputError(f"The output folder holds a folder named {name}, where the run's "
                             "file of that name goes", path=out / name,
                             fix="Rename or remove that folder, or give another --out")
    return out


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
    and ``study`` the review sheet carries the store's suggestion ids, so that
    ``themesift apply`` can read it back into that study, and report.html is the study's
    report of that run (its coding and decisions, as ``themesift export --format report``).

    Returns
    -------
    list of Path
        The files written.
    """
    out = check_out_dir(out_dir)
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
        page = (render_study_report(study, run_id, result.unit_map)
                if study is not None and run_id else render_report(result))
        (staging / "report.html").write_text(page, encoding="utf-8")
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
