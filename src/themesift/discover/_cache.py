"""The cache of candidate codes: ``codes.sqlite`` in the cache folder, one row per set of codes
keyed by a hash of everything they depend on (see the package docstring), the code that makes
them included; the last ``CODE_CACHE_ENTRIES`` sets are kept."""

from __future__ import annotations

import functools
import hashlib
import json
import logging
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .._io import cache_db
from ..model import CandidateCodes

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

logger = logging.getLogger(__name__)

CODE_CACHE_ENTRIES = 20
_PACKAGE_DIR = Path(__file__).parent


def cache_key(units: pd.DataFrame, vectors: np.ndarray, embedder: Any, seed: int,
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


# The code that makes the codes: every module of this package, and text.py (the stop words,
# stems, days and numbers that keywords and labels are made of) and smalltalk.py (which units
# are small talk, left out of the codes). When discover was one module only discover.py was
# hashed, so a change to text.py or smalltalk.py did not invalidate the codes cached before it.
def _source_files() -> list[Path]:
    """The files hashed into the cache key, in order: the package's modules by name, then
    ``text.py`` and ``smalltalk.py``."""
    themesift = _PACKAGE_DIR.parent
    return [*sorted(_PACKAGE_DIR.glob("*.py"), key=lambda path: path.name),
            themesift / "text.py", themesift / "smalltalk.py"]


def _source_bytes(path: Path) -> bytes:
    return path.read_bytes()


@functools.cache
def _source_digest() -> str:
    """sha256 over each of :func:`_source_files`: its path from ``src/themesift/``, its length
    and its bytes."""
    from .._io import files_digest

    return files_digest(_source_files(), _PACKAGE_DIR.parent, _source_bytes)


def _codes_db():
    return cache_db("codes.sqlite", "CREATE TABLE IF NOT EXISTS codes "
                    "(key TEXT PRIMARY KEY, used REAL NOT NULL, value TEXT NOT NULL)")


def cached_codes(key: str | None) -> CandidateCodes | None:
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


def store_codes(key: str | None, codes: CandidateCodes) -> None:
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
