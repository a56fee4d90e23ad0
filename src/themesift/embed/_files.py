"""Where model files live and what identifies them: the models folder, a sha256 over a model
folder's files, the versions of installed packages, and the clean-up of temporary folders left
by a build that was killed."""

from __future__ import annotations

import contextlib
import functools
import hashlib
import importlib.metadata
import os
import shutil
import time
from pathlib import Path

from .._io import user_cache_root

MARKER = ".themesift-model.json"
# Files in the split zip that are not part of the model (Windows Explorer droppings).
JUNK_FILES = frozenset({"desktop.ini", "thumbs.db", ".ds_store"})
_STALE_TEMP_SECONDS = 3600


def models_dir() -> Path:
    """The folder that holds assembled models (the ``accurate`` profile).

    ``$THEMESIFT_MODELS_DIR`` if set; else the repository's ``models/`` folder when themesift
    runs from a source checkout; else ``~/.cache/themesift/models`` (``$XDG_CACHE_HOME``
    respected). The folder need not exist yet.

    Examples
    --------
    >>> models_dir()                                  # doctest: +SKIP
    PosixPath('/home/kj/themesift/models')
    """
    configured = os.environ.get("THEMESIFT_MODELS_DIR")
    if configured:
        return Path(configured).expanduser()
    checkout = Path(__file__).resolve().parents[3]  # the folder above src/themesift/embed
    if (checkout / "models").is_dir() and (checkout / "src" / "themesift").is_dir():
        return checkout / "models"
    return user_cache_root() / "models"


def dist_version(name: str) -> str:
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return "unknown"


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _model_files(folder: Path) -> list[Path]:
    """The files that make a model: everything but docs, hidden files and Explorer junk."""
    return sorted(
        p
        for p in folder.rglob("*")
        if p.is_file()
        and not any(part.startswith(".") for part in p.relative_to(folder).parts)
        and p.suffix.lower() != ".md"
        and p.name.lower() not in JUNK_FILES
    )


def folder_fingerprint(folder: Path) -> str:
    """sha256 over a model folder's files, so a changed model never reads old vectors."""
    files = _model_files(folder)
    stamp = tuple((str(p), p.stat().st_size, p.stat().st_mtime_ns) for p in files)
    return _fingerprint_files(str(folder), stamp)


@functools.lru_cache(maxsize=16)
def _fingerprint_files(folder: str, stamp: tuple[tuple[str, int, int], ...]) -> str:
    digest = hashlib.sha256()
    for file, _, _ in stamp:
        digest.update(Path(file).relative_to(folder).as_posix().encode() + b"\0")
        digest.update(sha256_file(Path(file)).encode() + b"\n")
    return digest.hexdigest()


def remove_stale_temporaries(target: Path) -> None:
    """Delete temporary folders left by an assembly that was killed (hours ago)."""
    for leftover in target.parent.glob(f".{target.name}-*"):
        with contextlib.suppress(OSError):
            if time.time() - leftover.stat().st_mtime > _STALE_TEMP_SECONDS:
                shutil.rmtree(leftover, ignore_errors=True)
