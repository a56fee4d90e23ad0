"""Theme-level comparison for inductive runs: the machine's candidate codes matched to human
themes by their member units (:func:`compare_codes` and its :class:`CodeMatchReport`)."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:  # pandas loads when a comparison is made, to keep `import themesift` fast
    import pandas as pd

from ..errors import InputError
from ..model import NONE_THEME
from ._format import jsonable, md_table
from ._spans import align_spans
from ._tables import (
    first_label,
    label_sets,
    load_coding_table,
    none_beside_theme,
    none_beside_theme_warning,
    norm_id,
    own_columns,
)

logger = logging.getLogger(__name__)


@dataclass(frozen=True, eq=False)
class CodeMatchReport:
    """Machine candidate codes matched to human themes (see :func:`compare_codes`).

    Attributes
    ----------
    summary : dict
        ``n`` (units both sides have), ``n_codes``, ``n_themes``, ``purity`` (share of units
        whose code's majority theme is one of their own themes), ``inverse_purity`` (for each
        theme the most of its units inside one code, summed, over all unit-theme memberships),
        ``adjusted_rand``, ``nmi`` (normalized mutual information, arithmetic mean; both on
        one theme per unit), ``matched_overlap`` (share of units on the one-to-one matched
        pairs), ``n_missed``, ``n_split``, ``only_codes`` /
        ``only_human`` (units on one side only), ``multi_label_units``.
    contingency : pandas.DataFrame
        Codes (rows) x human themes (columns): number of units in the code carrying the theme.
    matching : pandas.DataFrame
        The one-to-one (Hungarian) view: ``code_id``, ``theme_id``, ``overlap``, ``code_size``,
        ``theme_size``, ``precision`` (overlap / code size), ``recall`` (overlap / theme size),
        ``jaccard``; pairs with no overlap are left out.
    codes : pandas.DataFrame
        The many-to-one view, one row per code: ``code_id``, ``label`` (when known), ``size``,
        ``majority_theme``, ``majority_share``, ``matched_theme`` (Hungarian).
    themes : pandas.DataFrame
        One row per human theme: ``theme_id``, ``size``, ``status`` (``"matched"``: one code
        has it as majority; ``"split"``: two or more; ``"missed"``: none), ``majority_codes``,
        ``covering_codes`` (every code holding some of its units, as ``"C01 (5); C03 (2)"``),
        ``coverage`` (share of its units inside codes whose majority it is),
        ``matched_code`` (Hungarian).
    missed, split : tuple of str
        The human themes no code has as majority, and those two or more codes have.
    """

    summary: dict[str, Any]
    contingency: pd.DataFrame
    matching: pd.DataFrame
    codes: pd.DataFrame
    themes: pd.DataFrame
    missed: tuple[str, ...] = field(default=())
    split: tuple[str, ...] = field(default=())

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-serialisable values (NaN becomes ``None``)."""
        return jsonable({
            "summary": self.summary,
            "contingency": {str(r): {str(c): int(v) for c, v in row.items()}
                            for r, row in self.contingency.iterrows()},
            "matching": self.matching.to_dict("records"),
            "codes": self.codes.to_dict("records"),
            "themes": self.themes.to_dict("records"),
            "missed": list(self.missed),
            "split": list(self.split),
        })

    def to_json(self, **kwargs: Any) -> str:
        """:meth:`to_dict` as a JSON string."""
        return json.dumps(self.to_dict(), **kwargs)

    def to_markdown(self) -> str:
        """A readable report: summary, human themes, codes, one-to-one matching, contingency."""
        import pandas as pd

        s = self.summary
        summ = pd.DataFrame({"value": pd.Series(list(s.values()), dtype=object).tolist()},
                            index=pd.Index(list(s), name="figure"), dtype=object)
        return "\n".join([
            "# Machine codes vs human themes", "",
            f"{s['n']} units both sides have; {s['n_codes']} machine codes, {s['n_themes']} "
            f"human themes. Missed themes: {', '.join(self.missed) or '–'}. Split themes: "
            f"{', '.join(self.split) or '–'}.", "",
            "## Summary", "", md_table(summ), "",
            "## Human themes", "", md_table(self.themes.set_index("theme_id"), "theme"), "",
            "## Machine codes (many-to-one: each code to its majority theme)", "",
            md_table(self.codes.set_index("code_id"), "code"), "",
            "## One-to-one matching (Hungarian, on shared units)", "",
            md_table(self.matching.set_index("code_id"), "code") if len(self.matching)
            else "No code shares a unit with a theme.", "",
            "## Contingency (rows: codes, columns: human themes)", "",
            md_table(self.contingency, "code \\ theme"), "",
        ])


def compare_codes(codes: Any, human: Any, *, units: Any = None,
                  label_column: str = "theme_id") -> CodeMatchReport:
    """Match machine candidate codes to human themes by their member units.

    Parameters
    ----------
    codes : CandidateCodes or pandas.DataFrame
        :func:`themesift.discover_codes`'s result (its ``assignments``: ``unit_id``,
        ``code_id``), or such a table.
    human : pandas.DataFrame or path
        Coding table keyed by the same unit ids (``id`` or ``unit_id``, ``theme_id``; several
        rows per unit for several themes), e.g. :func:`align_spans`'s output. A span table
        (``doc_id``/``source``, ``start``, ``end``) is aligned first when ``units`` is given.
    units : pandas.DataFrame, optional
        Units table, used to align a span table with :func:`align_spans` (default rule).
    label_column : str
        Theme column of ``human``.

    Returns
    -------
    CodeMatchReport

    Notes
    -----
    Only units present on both sides count. The contingency table counts, for each code and
    theme, the code's units carrying the theme (a multi-label unit counts under each of its
    themes). Views:

    * **many-to-one**: each code goes to its majority theme (ties: the theme first in sorted
      order); a theme no code has as majority is *missed*, one that two or more codes have is
      *split*. ``purity`` = sum over codes of the majority count / n.
    * **one-to-one**: Hungarian assignment (:func:`scipy.optimize.linear_sum_assignment`)
      maximising the total overlap; surplus codes or themes stay unmatched.
    * **ARI / NMI** (:mod:`sklearn.metrics`) need one theme per unit: a multi-label unit
      uses its first theme in sorted order, preferring any theme other than ``none``.

    A unit coded a theme and ``none`` is that theme, as in :func:`compare` (with a warning).

    Examples
    --------
    >>> import pandas as pd
    >>> codes = pd.DataFrame({"unit_id": ["u1", "u2", "u3", "u4"],
    ...                       "code_id": ["C1", "C1", "C2", "C2"]})
    >>> human = pd.DataFrame({"id": ["u1", "u2", "u3", "u4"],
    ...                       "theme_id": ["a", "a", "b", "b"]})
    >>> r = compare_codes(codes, human)
    >>> r.summary["purity"], r.summary["adjusted_rand"], r.missed, r.split
    (1.0, 1.0, (), ())
    """
    import pandas as pd
    from scipy.optimize import linear_sum_assignment
    from sklearn.metrics import adjusted_rand_score, normalized_mutual_info_score

    labels: dict[str, str] = {}
    if hasattr(codes, "assignments"):
        table = getattr(codes, "table", None)
        if table is not None and {"code_id", "label"} <= set(table.columns):
            labels = {str(c): str(lb) for c, lb in zip(table["code_id"], table["label"])}
        assign = codes.assignments
    elif isinstance(codes, pd.DataFrame):
        assign = codes
    else:
        raise InputError(f"codes must be CandidateCodes or a DataFrame, not "
                         f"{type(codes).__name__}")
    missing = [c for c in ("unit_id", "code_id") if c not in assign.columns]
    if missing:
        raise InputError(f"the code assignments lack the column(s) {', '.join(missing)}; "
                         f"their columns are: {', '.join(map(str, assign.columns))}",
                         fix="pass discover_codes()'s result or its assignments table")
    code_of: dict[str, str] = {}
    for u, c in zip(assign["unit_id"], assign["code_id"]):
        uid = norm_id(u)
        if uid in code_of and code_of[uid] != str(c):
            raise InputError(f"unit {uid} is assigned to two codes ({code_of[uid]}, {c})",
                             fix="pass one code per unit")
        code_of[uid] = str(c)

    if (units is not None and isinstance(human, pd.DataFrame)
            and len(own_columns(human.columns, ("start", "end"))) == 2
            and not set(human.get("id", pd.Series(dtype=str)).astype(str)) & set(code_of)):
        human = align_spans(human, units)
    th = load_coding_table(human, "human", "id", label_column, "coder")
    if "coder" in th.frame and len(set(th.frame["coder"])) > 1:
        raise InputError(f"{th.name} holds several coders; compare_codes takes one",
                         path=th.path, fix="split the table by coder")
    sets = label_sets(th.frame)
    for warning in none_beside_theme_warning(none_beside_theme(th.frame), th.name):
        logger.warning("%s", warning)
    common = [u for u in code_of if u in sets]
    if not common:
        raise InputError(
            f"the codes and the human table share no unit ids; codes have ids like "
            f"{', '.join(list(code_of)[:3])}, the human table {', '.join(list(sets)[:3])}",
            fix="key the human coding by the machine unit ids (align_spans(human, units))")
    code_ids = sorted({code_of[u] for u in common})
    themes = sorted(set().union(*(sets[u] for u in common)))
    ci = {c: i for i, c in enumerate(code_ids)}
    ti = {t: i for i, t in enumerate(themes)}
    cont = np.zeros((len(code_ids), len(themes)), dtype=int)
    for u in common:
        for t in sets[u]:
            cont[ci[code_of[u]], ti[t]] += 1
    n = len(common)
    code_size = np.array([sum(code_of[u] == c for u in common) for c in code_ids])
    theme_size = cont.sum(axis=0)  # units carrying each theme

    majority = [themes[int(np.argmax(row))] for row in cont]  # argmax: first in sorted order
    maj_count = cont.max(axis=1)
    purity = float(maj_count.sum() / n)
    # inverse purity: for each theme, the most of its units in one code, over all memberships
    inverse_purity = float(cont.max(axis=0).sum() / cont.sum())

    rows_i, cols_i = linear_sum_assignment(-cont)
    match_rows = []
    for r, c in zip(rows_i, cols_i):
        ov = int(cont[r, c])
        if ov == 0:
            continue
        match_rows.append({
            "code_id": code_ids[r], "theme_id": themes[c], "overlap": ov,
            "code_size": int(code_size[r]), "theme_size": int(theme_size[c]),
            "precision": ov / code_size[r], "recall": ov / theme_size[c],
            "jaccard": ov / (code_size[r] + theme_size[c] - ov)})
    matching = pd.DataFrame(match_rows, columns=["code_id", "theme_id", "overlap", "code_size",
                                                 "theme_size", "precision", "recall",
                                                 "jaccard"])
    code_to_theme = dict(zip(matching["code_id"], matching["theme_id"]))
    theme_to_code = dict(zip(matching["theme_id"], matching["code_id"]))

    codes_df = pd.DataFrame({
        "code_id": code_ids,
        "label": [labels.get(c, "") for c in code_ids],
        "size": code_size.astype(int),
        "majority_theme": majority,
        "majority_share": maj_count / code_size,
        "matched_theme": [code_to_theme.get(c, "") for c in code_ids],
    })
    if not labels:
        codes_df = codes_df.drop(columns="label")
    theme_rows = []
    missed, split = [], []
    for j, t in enumerate(themes):
        maj = [code_ids[i] for i in range(len(code_ids)) if majority[i] == t]
        status = "missed" if not maj else ("split" if len(maj) > 1 else "matched")
        (missed if status == "missed" else split if status == "split" else []).append(t)
        order = sorted((i for i in range(len(code_ids)) if cont[i, j] > 0),
                       key=lambda i: (-cont[i, j], code_ids[i]))
        covered = sum(int(cont[ci[c], j]) for c in maj)
        theme_rows.append({
            "theme_id": t, "size": int(theme_size[j]), "status": status,
            "majority_codes": "; ".join(maj),
            "covering_codes": "; ".join(f"{code_ids[i]} ({int(cont[i, j])})" for i in order),
            "coverage": covered / theme_size[j],
            "matched_code": theme_to_code.get(t, ""),
        })
    themes_df = pd.DataFrame(theme_rows)

    def single(labs: frozenset[str]) -> str:
        real = sorted(x for x in labs if x != NONE_THEME)
        return real[0] if real else first_label(labs)

    human_single = [single(sets[u]) for u in common]
    machine_single = [code_of[u] for u in common]
    summary = {
        "n": n, "n_codes": len(code_ids), "n_themes": len(themes),
        "purity": purity, "inverse_purity": inverse_purity,
        "adjusted_rand": float(adjusted_rand_score(human_single, machine_single)),
        "nmi": float(normalized_mutual_info_score(human_single, machine_single)),
        "matched_overlap": float(matching["overlap"].sum() / n) if len(matching) else 0.0,
        "n_missed": len(missed), "n_split": len(split),
        "only_codes": sum(u not in sets for u in code_of),
        "only_human": sum(u not in code_of for u in sets),
        "multi_label_units": sum(len(sets[u]) > 1 for u in common),
    }
    contingency = pd.DataFrame(cont, index=pd.Index(code_ids, name="code_id"),
                               columns=pd.Index(themes, name="theme_id"))
    return CodeMatchReport(summary=summary, contingency=contingency, matching=matching,
                           codes=codes_df, themes=themes_df, missed=tuple(missed),
                           split=tuple(split))
