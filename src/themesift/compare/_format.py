"""How the reports show their figures: as plain JSON-serialisable values, and as markdown
tables."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:  # pandas loads when a comparison is made, to keep `import themesift` fast
    import pandas as pd


def jsonable(value: Any) -> Any:
    import pandas as pd

    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return None if not math.isfinite(float(value)) else float(value)
    if isinstance(value, np.bool_):
        return bool(value)
    if value is pd.NA or value is None:
        return None
    return value


def _fmt(v: Any) -> str:
    if v is None:
        return "–"
    if isinstance(v, (tuple, list)):
        return "[" + ", ".join(_fmt(x) for x in v) + "]"
    if isinstance(v, (bool, np.bool_)):
        return str(bool(v))
    if isinstance(v, (int, np.integer)):
        return str(int(v))
    if isinstance(v, (float, np.floating)):
        return "–" if not math.isfinite(float(v)) else f"{float(v):.3f}"
    return str(v).replace("|", "\\|").replace("\n", " ")


def md_table(frame: pd.DataFrame, index_name: str | None = None) -> str:
    head = [index_name or frame.index.name or ""] + [str(c) for c in frame.columns]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for row in frame.itertuples(index=True, name=None):  # keeps each column's type
        lines.append("| " + " | ".join(_fmt(v) for v in row) + " |")
    return "\n".join(lines)
