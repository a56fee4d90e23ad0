"""The on-disk embedding cache: one SQLite file per model (and backend) of float32 vectors keyed
by the sha256 of the text, or of a sentence's place in its text; several processes may share
one file."""

from __future__ import annotations

import contextlib
import hashlib
import logging
import re
import sqlite3
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np

from ..errors import StoreError

logger = logging.getLogger(__name__)

_LOOKUP_CHUNK = 500  # stays under SQLite's limit on bound parameters
_SENTENCE_KEY = "\x1fsentence\x1f"  # prefix of a sentence's (or any span's) cache key
#: The vectors' table: rows with rowids (384 dimensions are 1.5 KB: WITHOUT ROWID is the
#: wrong choice for rows over a twentieth of a page).
_VECTORS = "(text_hash TEXT PRIMARY KEY, vector BLOB NOT NULL)"


class VectorCache:
    """One SQLite file of vectors for one model: text_hash -> float32 bytes."""

    def __init__(self, path: Path, model_id: str) -> None:
        self.path = path
        self._conn = sqlite3.connect(path, timeout=60, isolation_level=None)
        try:
            with contextlib.suppress(sqlite3.OperationalError):  # e.g. a network drive
                self._conn.execute("PRAGMA journal_mode=WAL")
            self._conn.execute("PRAGMA synchronous=NORMAL")
            self._conn.execute(f"CREATE TABLE IF NOT EXISTS vectors {_VECTORS}")
            self._move_out_of_without_rowid()
            self._conn.execute(
                "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)"
            )
            self._conn.execute(
                "INSERT OR IGNORE INTO meta VALUES ('model_id', ?), ('format', 'float32-le')",
                (model_id,),
            )
            meta = dict(self._conn.execute("SELECT key, value FROM meta"))
        except BaseException:
            self._conn.close()
            raise
        if meta["model_id"] != model_id:
            self._conn.close()
            raise StoreError(
                f"The embedding cache {path} belongs to model {meta['model_id']!r}, not "
                f"{model_id!r}. Delete it (it is only a cache) or choose another cache_dir."
            )
        self.dimension: int | None = int(meta["dimension"]) if "dimension" in meta else None

    def close(self) -> None:
        self._conn.close()

    def _move_out_of_without_rowid(self) -> None:
        """Caches written by earlier versions keep their vectors in a WITHOUT ROWID table, which
        stores rows this long four times slower (and reads them three times slower) than a
        table with rowids: move them once, under the write lock."""
        def old_table() -> bool:
            sql = self._conn.execute(
                "SELECT sql FROM sqlite_master WHERE type = 'table' AND name = 'vectors'"
            ).fetchone()[0]
            return "WITHOUT ROWID" in sql.upper()

        if not old_table():
            return
        logger.info("Moving the embedding cache %s to its faster layout (once)", self.path)
        with self._transaction():
            if not old_table():  # another process has just moved them
                return
            self._conn.execute(f"CREATE TABLE vectors_moved {_VECTORS}")
            self._conn.execute("INSERT INTO vectors_moved SELECT text_hash, vector FROM vectors")
            self._conn.execute("DROP TABLE vectors")
            self._conn.execute("ALTER TABLE vectors_moved RENAME TO vectors")
        # The old table's pages would stay in the file, half of it empty; another process
        # using the file meanwhile only means they stay until a later VACUUM.
        with contextlib.suppress(sqlite3.OperationalError):
            self._conn.execute("VACUUM")

    def get(self, hashes: Sequence[str]) -> dict[str, np.ndarray]:
        """The cached vectors among ``hashes``; rows of the wrong size count as absent. A cache
        that cannot be read now (locked too long) gives none; a damaged one is a StoreError."""
        try:
            return self._get(hashes)
        except sqlite3.OperationalError as exc:
            logger.warning("Embedding cache %s could not be read (%s); embedding without it",
                           self.path, exc)
            return {}
        except sqlite3.DatabaseError as exc:
            raise self._damaged(exc) from exc

    def _get(self, hashes: Sequence[str]) -> dict[str, np.ndarray]:
        if self.dimension is None:  # another process may have stored some since this opened
            stored = self._conn.execute(
                "SELECT value FROM meta WHERE key = 'dimension'").fetchone()
            self.dimension = int(stored[0]) if stored else None
        found: dict[str, np.ndarray] = {}
        bad: list[str] = []
        for start in range(0, len(hashes), _LOOKUP_CHUNK):
            chunk = hashes[start : start + _LOOKUP_CHUNK]
            marks = ",".join("?" * len(chunk))
            rows = self._conn.execute(
                f"SELECT text_hash, vector FROM vectors WHERE text_hash IN ({marks})", chunk
            )
            for text_hash, blob in rows:
                if self.dimension is None:  # no size known yet: nothing to trust or drop
                    continue
                if len(blob) != 4 * self.dimension:
                    bad.append(text_hash)
                else:
                    found[text_hash] = np.frombuffer(blob, dtype="<f4")
        if bad:
            logger.warning(
                "Dropping %d cached vectors of the wrong size from %s; they are recomputed",
                len(bad),
                self.path,
            )
            with self._transaction():
                self._conn.executemany(
                    "DELETE FROM vectors WHERE text_hash = ?", [(h,) for h in bad]
                )
        return found

    def check_dimension(self, dimension: int) -> None:
        if self.dimension is None:
            with self._transaction():
                self._conn.execute(
                    "INSERT OR IGNORE INTO meta VALUES ('dimension', ?)", (str(dimension),)
                )
                stored = self._conn.execute(
                    "SELECT value FROM meta WHERE key = 'dimension'"
                ).fetchone()[0]
            self.dimension = int(stored)
        if self.dimension != dimension:
            raise StoreError(
                f"The embedding cache {self.path} holds {self.dimension}-dimensional vectors "
                f"but the model gives {dimension}. Delete the file (it is only a cache)."
            )

    def put(self, hashes: Sequence[str], vectors: np.ndarray) -> None:
        """Store these vectors; where the cache cannot be written now, they are not kept (a
        warning says so); a damaged cache is a StoreError."""
        rows = [
            (h, v.astype("<f4", copy=False).tobytes()) for h, v in zip(hashes, vectors, strict=True)
        ]
        try:
            with self._transaction():
                # Another process may have stored the same text meanwhile: same bits, keep one.
                self._conn.executemany("INSERT OR IGNORE INTO vectors VALUES (?, ?)", rows)
        except sqlite3.OperationalError as exc:
            logger.warning("Embedding cache %s could not be written (%s); %d vectors not kept",
                           self.path, exc, len(rows))
        except sqlite3.DatabaseError as exc:
            raise self._damaged(exc) from exc

    def _damaged(self, exc: Exception) -> StoreError:
        return StoreError(f"The embedding cache {self.path} is damaged ({exc}). Delete it (it is "
                          "only a cache) or choose another cache_dir.")

    @contextlib.contextmanager
    def _transaction(self) -> Iterator[None]:
        self._conn.execute("BEGIN IMMEDIATE")
        try:
            yield
            self._conn.execute("COMMIT")
        except BaseException:
            if self._conn.in_transaction:
                self._conn.execute("ROLLBACK")
            raise


def cache_file_name(model_id: str) -> str:
    slug = re.sub(r"[^A-Za-z0-9._-]+", "_", model_id).strip("_.")[:80]
    return f"{slug}-{hashlib.sha256(model_id.encode()).hexdigest()[:12]}.sqlite3"


def hash_text(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


def sentence_key(text_hash: str, span: tuple[int, int]) -> str:
    return hash_text(f"{_SENTENCE_KEY}{span[0]}:{span[1]}\x1f{text_hash}")
