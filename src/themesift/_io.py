"""Files, caches and progress: how themesift writes a user's file (all or nothing) and its
CSVs, where it keeps its caches, when it draws a progress bar, and the time and user name it
stamps."""

from __future__ import annotations

import datetime
import getpass
import os
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from .errors import InputError

__all__ = ["check_output", "atomic_output", "key_path", "default_cache_dir", "user_cache_root",
           "cache_db", "progress_shown", "CSV_OPTIONS", "utc_now", "os_user"]

#: How every CSV themesift writes is formatted: same data, same bytes on every platform.
CSV_OPTIONS = {"index": False, "lineterminator": "\n", "float_format": "%.4f"}


def files_digest(paths: Iterator[Path] | list[Path], root: Path,
                 read: Any = Path.read_bytes) -> str:
    """sha256 over each of ``paths`` in order: its path from ``root``, its length and its
    bytes (``read(path)``): which code ran, or made a cached result."""
    import hashlib

    digest = hashlib.sha256()
    for path in paths:
        data = read(path)
        digest.update(f"{path.relative_to(root).as_posix()}\0{len(data)}\0".encode())
        digest.update(data)
    return digest.hexdigest()


def utc_now() -> str:
    """The time now in UTC, as the store records it (ISO 8601, microseconds)."""
    return datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="microseconds")


def os_user() -> str:
    """The operating-system user name, who decides when no analyst is named; blank where the
    system does not say (no LOGNAME or USER, no password-database entry)."""
    try:
        return getpass.getuser().strip()
    except Exception:  # noqa: BLE001 - OSError, KeyError or ImportError, by platform and version
        return ""


def progress_shown(quiet: bool | None) -> bool:
    """Whether to draw a progress bar: always with ``quiet=False``, never with ``True``, and
    with ``None`` only when the output goes to a terminal."""
    return quiet is False or (quiet is None and sys.stderr is not None and sys.stderr.isatty())


def user_cache_root() -> Path:
    """``~/.cache/themesift`` (``$XDG_CACHE_HOME`` respected)."""
    return Path(os.environ.get("XDG_CACHE_HOME") or "~/.cache").expanduser() / "themesift"


def default_cache_dir() -> Path:
    """The cache folder (embedding vectors, sentence splits, codes) when none is given.

    ``$THEMESIFT_CACHE_DIR`` if set, else ``~/.cache/themesift/embeddings``.
    """
    configured = os.environ.get("THEMESIFT_CACHE_DIR")
    if configured:
        return Path(configured).expanduser()
    return user_cache_root() / "embeddings"


@contextmanager
def cache_db(name: str, schema: str) -> Iterator[Any]:
    """A connection to the SQLite file ``name`` in :func:`default_cache_dir` (created with the
    table ``schema`` if need be), closed afterwards. Callers treat OSError and sqlite3.Error
    as "no cache": a cache only ever saves time."""
    import sqlite3

    folder = default_cache_dir()
    folder.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(folder / name, timeout=30)
    try:
        conn.execute(schema)
        yield conn
    finally:
        conn.close()


def key_path(path: str | os.PathLike[str]) -> Path:
    """Where a pseudonymised export's key (real names -> placeholders) is written."""
    target = Path(path)
    return target.with_name(f"{target.name}.pseudonyms.csv")


def check_output(path: str | os.PathLike[str], *, force: bool = False,
                 suffixes: tuple[str, ...] = (), example: str = "study") -> Path:
    """The output path, checked as :func:`atomic_output` does (call it before slow work).
    ``example``: the file name a refusal suggests (with the first of ``suffixes``)."""
    target = Path(path)
    name = example + (suffixes[0] if suffixes and not example.endswith(suffixes) else "")
    # "out/" names a folder, which Path() would quietly turn into the file "out"
    if target.is_dir() or str(path).endswith(("/", os.sep)):
        raise InputError("The output path is a folder", path=path,
                         fix=f"Give a file name, e.g. {target / name}")
    if suffixes and target.suffix.lower() not in suffixes:
        raise InputError(f"Cannot tell the format from the file name (it should end with "
                         f"{' or '.join(suffixes)})", path=target,
                         fix=f"Name the output file with {' or '.join(suffixes)}")
    if not target.parent.is_dir():
        raise InputError("The folder for the output file does not exist", path=target.parent,
                         fix="Create the folder first, or choose another output file")
    if target.exists() and not force:
        raise InputError("The output file already exists", path=target,
                         fix="Choose another name, or pass --force (force=True in Python) to replace it")
    return target


def _unwritable(target: Path, exc: OSError) -> InputError:
    return InputError(f"Cannot write the file here ({exc.strerror or exc})", path=target,
                      fix="Choose a folder you may write to, on a disk with room")


@contextmanager
def atomic_output(path: str | os.PathLike[str], *, force: bool = False,
                  suffixes: tuple[str, ...] = (), pseudonyms: Any = None) -> Iterator[Path]:
    """Yield a temporary path to write; it becomes ``path`` only if the block succeeds.

    Refuses (InputError) an existing file unless ``force``, a folder that does not exist, a
    target that is a folder, and, with ``suffixes``, a file name with another extension.
    Nothing is left behind when the block fails. With ``pseudonyms`` (a
    :class:`~themesift.pseudonymise.Pseudonyms`), its key is written beside the file, at
    :func:`key_path`, in the same all-or-nothing way.
    """
    if pseudonyms is not None:
        with atomic_output(key_path(path), force=force) as key, \
                atomic_output(path, force=force, suffixes=suffixes) as temp:
            pseudonyms.table.to_csv(key, index=False, encoding="utf-8")
            yield temp
        return
    target = check_output(path, force=force, suffixes=suffixes)
    try:
        fd, temp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".part", dir=target.parent)
    except OSError as exc:  # a folder one may not write to, a full or read-only disk
        raise _unwritable(target, exc) from exc
    os.close(fd)
    try:
        yield Path(temp)
        umask = os.umask(0)  # mkstemp made it private; give it the usual permissions
        os.umask(umask)
        os.chmod(temp, 0o666 & ~umask)
        try:
            os.replace(temp, target)
        except OSError as exc:
            raise _unwritable(target, exc) from exc
    finally:
        if os.path.exists(temp):
            os.unlink(temp)
