"""The input of :func:`~themesift.discover.discover_codes` checked (its parameters, the units
table, small talk set aside) and the units' vectors, L2-normalised so that cosine similarity is
a dot product throughout."""

from __future__ import annotations

import numbers
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from ..errors import InputError

if TYPE_CHECKING:
    import numpy as np

#: Values of ``method`` accepted by :func:`discover_codes`.
METHODS = ("auto", "agglomerative", "kmeans", "hdbscan")
#: Fewer units than this cannot be grouped into codes in any useful way.
MIN_UNITS = 10


def without_small_talk(units: Any, embeddings: Any) -> tuple[Any, Any, Any]:
    """The units (and their vectors) that are not flagged ``small_talk`` nor ``short_reply``
    (columns of :func:`themesift.segment`'s table), and their rows in ``units`` (positions from
    0; the table's length less theirs is how many were flagged).

    Small talk is kept in the units table but finds no code: grouped with the rest it makes
    codes such as "biscuits, coffee" that read as candidate new themes. A short reply to a
    question ("Racism.", "My dog.") is a unit of its own but too short to say what a code is
    about (with the sample's 31 in, label retrieval fell from 0.72 to 0.58).
    """
    import numpy as np
    import pandas as pd

    from ..smalltalk import small_talk_flags

    if not isinstance(units, pd.DataFrame):
        return units, embeddings, None
    flagged = small_talk_flags(units) | small_talk_flags(units, "short_reply")
    if not flagged.any():
        return units, embeddings, np.arange(len(units))
    if embeddings is not None:
        embeddings = np.asarray(embeddings)
        if embeddings.ndim == 2 and len(embeddings) != len(units):
            raise InputError(
                f"embeddings has {len(embeddings)} rows but the units table has {len(units)} "
                f"(small talk included)",
                fix="Give one row per meaning unit of the table, in its order")
        if embeddings.ndim == 2:
            embeddings = embeddings[~flagged]
    return units[~flagged], embeddings, np.flatnonzero(~flagged)


def check_params(seed: object, n_codes: object, method: object, min_code_size: object) -> None:
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


def check_n_codes(n_codes: int | None, units: Any) -> None:
    """Refuse more codes than half the units that get one (small talk and short replies get
    none): a code needs at least two units. The pipeline calls this before embedding, so the
    answer comes early."""
    if not isinstance(n_codes, numbers.Integral) or isinstance(n_codes, bool):
        return  # None, or a bad value check_params names
    kept = without_small_talk(units, None)[2]
    n = len(units) if kept is None else len(kept)
    if n_codes > n // 2:
        raise InputError(
            f"{n_codes} codes are too many for {n} meaning units (small talk and short "
            f"replies aside): a code needs at least two units",
            fix=f"Ask for at most {n // 2} codes (--codes on the command line, n_codes= in "
                f"Python), or leave the number out to let themesift choose it",
        )


def check_units(units: object, min_code_size: int, rows: Sequence[int] | None = None,
                n_aside: int = 0) -> tuple[list[Any], list[str]]:
    """The unit ids and texts, after checking that codes can be found in them. Where small
    talk was set aside first (see :func:`without_small_talk`): ``rows``, each unit's row in
    the table the caller gave (positions from 0), and ``n_aside``, how many were, for the
    messages."""
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
        flagged = (f" ({n_aside} more are small talk or short replies, which get no code: see "
                   "the small_talk and short_reply columns)" if n_aside else "")
        raise InputError(
            f"Only {n} meaning unit{'s' if n != 1 else ''}{flagged}: too few to find codes",
            fix=f"Give at least {needed}, or code them by hand",
        )

    ids = units["unit_id"]
    missing = ids.isna() | (ids.astype(str).str.strip() == "")
    if missing.any():
        raise InputError(
            f"Meaning units without a unit_id: {_rows(missing.to_numpy().nonzero()[0], rows=rows)}",
            fix="Give every unit an id (themesift.segment() makes stable ones)",
        )
    unit_ids = ids.tolist()  # kept as given (ints from a spreadsheet stay ints)
    repeated = ids.duplicated(keep=False).to_numpy()
    if repeated.any():
        rows_of: dict[Any, list[int]] = {}
        for position in repeated.nonzero()[0]:
            rows_of.setdefault(unit_ids[position], []).append(int(position))
        shown = [f"{uid!r} ({_rows(at, rows=rows)})" for uid, at in list(rows_of.items())[:5]]
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
            f"Meaning units with no text: {_rows(positions, unit_ids, rows)}",
            fix="Remove those rows or fill in their text",
        )
    return unit_ids, text.astype(str).tolist()


_COLUMN_ROLE = {"unit_id": "unit ids", "text": "meaning-unit text"}


def _rows(positions: Sequence[int], unit_ids: Sequence[str] | None = None,
          rows: Sequence[int] | None = None) -> str:
    """'rows 3, 8 (unit ids a, b)', rows counted from 1 as in a spreadsheet; at most 10.
    ``rows``: where the table was filtered, each position's row in the table given."""
    positions = [int(p) for p in positions]
    shown = positions[:10]
    text = ("row " if len(positions) == 1 else "rows ") + ", ".join(
        str((p if rows is None else int(rows[p])) + 1) for p in shown)
    if unit_ids is not None:
        text += " (unit ids " + ", ".join(str(unit_ids[p]) for p in shown) + ")"
    if len(positions) > len(shown):
        text += f" and {len(positions) - len(shown)} more"
    return text


def unit_vectors(texts: list[str], embedder: Any, embeddings: Any) -> np.ndarray:
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
    return normalise(vectors)


def normalise(vectors: np.ndarray) -> np.ndarray:
    import numpy as np

    norms = np.linalg.norm(vectors, axis=-1, keepdims=True)
    return vectors / np.where(norms == 0, 1.0, norms)
