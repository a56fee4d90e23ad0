"""Agreement statistics: machine vs human and human vs human coding.

Inputs are *coding tables* (DESIGN.md, "Coding tables"): one row per (unit, theme) with the
columns ``id`` and ``theme_id``; several rows for one id mean the unit carries several themes
(multi-label); ``none`` is a legal theme meaning "fits no theme". The unit-suggestion table of
:func:`themesift.suggest_units` (``unit_id``, ``theme_id``) is accepted as it is.

Rules this module follows (a method section can cite them):

* **Which units.** Chance-corrected statistics are computed on the units coded by *both* sides.
  Units coded by only one side are counted (``only_a`` / ``only_b``) and listed in
  :attr:`AgreementReport.disagreements`; they are never silently dropped.
* **Single-label vs multi-label.** When every shared unit carries exactly one theme on both
  sides, the summary statistics (percent agreement, Cohen's kappa, Krippendorff's alpha
  (nominal), Gwet's AC1) are the ordinary single-label statistics over the themes. When any
  shared unit carries two or more themes on either side, each theme is scored as
  present/absent per unit and the summary statistics are the *unweighted mean over themes*
  of the per-theme binary statistics (the per-theme values are in
  :attr:`AgreementReport.per_theme`); set-level figures (exact-set agreement, mean Jaccard)
  are in :attr:`AgreementReport.multilabel`.
* **Confusion matrix.** A single-label view: each unit's label set is reduced to its first
  label in sorted (string) order.
* **Undefined statistics.** When expected agreement is 1 (e.g. both sides used one theme for
  every unit) kappa, alpha and AC1 are undefined and reported as NaN (``None`` in
  :meth:`AgreementReport.to_dict`); precision/recall/F1 with a zero denominator are NaN too.
* **Duplicates.** A repeated (id, theme) row (per coder) is an error naming its rows: in a hand
  coding table it is almost always a copy-paste slip, and silently collapsing it would hide
  that.
* **Confidence intervals.** Percentile bootstrap (95%) resampling units with replacement,
  ``bootstrap`` replicates, deterministic for a given ``seed``.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from os import PathLike
from pathlib import Path
from typing import TYPE_CHECKING, Any, Sequence

import numpy as np

if TYPE_CHECKING:  # pandas loads when a comparison is made, to keep `import themesift` fast
    import pandas as pd

from .errors import InputError
from .model import NONE_THEME

__all__ = [
    "AgreementReport",
    "CoderAgreement",
    "compare",
    "compare_coders",
    "cohen_kappa",
    "percent_agreement",
    "krippendorff_alpha",
    "gwet_ac1",
    "fleiss_kappa",
    "rating_counts",
]

STATS = ("percent_agreement", "cohen_kappa", "krippendorff_alpha", "gwet_ac1")
_CHUNK = 200  # bootstrap replicates drawn at a time (bounded memory)


# --------------------------------------------------------------------------------------------
# Statistics (pure functions, tested against published reference values)
# --------------------------------------------------------------------------------------------


def _chance_corrected(po: np.ndarray, pe: np.ndarray) -> np.ndarray:
    po = np.asarray(po, dtype=float)
    pe = np.asarray(pe, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        out = (po - pe) / (1.0 - pe)
    return np.where(np.isclose(pe, 1.0) | ~np.isfinite(pe), np.nan, out)


def _pair_stats(conf: np.ndarray) -> dict[str, np.ndarray]:
    """All two-coder statistics from (a batch of) K x K confusion matrices ``conf[..., a, b]``."""
    conf = np.asarray(conf, dtype=float)
    k = conf.shape[-1]
    n = conf.sum(axis=(-2, -1))
    with np.errstate(divide="ignore", invalid="ignore"):
        diag = np.trace(conf, axis1=-2, axis2=-1)
        po = diag / n
        pa = conf.sum(axis=-1) / n[..., None]
        pb = conf.sum(axis=-2) / n[..., None]
        kappa = _chance_corrected(po, (pa * pb).sum(axis=-1))
        pi = (pa + pb) / 2.0
        if k > 1:
            pe_g = (pi * (1.0 - pi)).sum(axis=-1) / (k - 1)
        else:
            pe_g = np.ones_like(po)
        ac1 = _chance_corrected(po, pe_g)
        # Krippendorff: coincidence matrix of two coders without missing values is conf + conf.T
        big_n = 2.0 * n
        nc = conf.sum(axis=-1) + conf.sum(axis=-2)
        s = (nc * (nc - 1.0)).sum(axis=-1)
        den = big_n * (big_n - 1.0) - s
        alpha = ((big_n - 1.0) * 2.0 * diag - s) / den
        alpha = np.where(np.isclose(den, 0.0), np.nan, alpha)
    return {"percent_agreement": po, "cohen_kappa": kappa, "krippendorff_alpha": alpha,
            "gwet_ac1": ac1}


def _confusion(a: Sequence[Any], b: Sequence[Any]) -> tuple[np.ndarray, list[Any]]:
    a = list(a)
    b = list(b)
    if len(a) != len(b):
        raise InputError(f"the two label sequences differ in length ({len(a)} vs {len(b)})",
                         fix="pass one label per unit for each coder")
    cats = sorted(set(a) | set(b), key=str)
    index = {c: i for i, c in enumerate(cats)}
    conf = np.zeros((len(cats), len(cats)))
    for x, y in zip(a, b):
        conf[index[x], index[y]] += 1
    return conf, cats


def percent_agreement(a: Sequence[Any], b: Sequence[Any]) -> float:
    """Share of units on which two coders gave the same label.

    Examples
    --------
    >>> percent_agreement(["x", "y", "y"], ["x", "y", "x"])
    0.6666666666666666
    """
    conf, _ = _confusion(a, b)
    return float(_pair_stats(conf)["percent_agreement"])


def cohen_kappa(a: Sequence[Any], b: Sequence[Any]) -> float:
    """Cohen's kappa of two coders' single labels (one label per unit, same unit order).

    Equal to :func:`sklearn.metrics.cohen_kappa_score`; NaN when expected agreement is 1.

    Examples
    --------
    >>> round(cohen_kappa(["x", "x", "y", "y"], ["x", "y", "y", "y"]), 3)
    0.5
    """
    conf, _ = _confusion(a, b)
    return float(_pair_stats(conf)["cohen_kappa"])


def rating_counts(ratings: Any) -> pd.DataFrame:
    """Units x categories count table from raw ratings (coders in rows, units in columns).

    Missing ratings are ``None`` / NaN / ``""``.

    Examples
    --------
    >>> rating_counts([["a", "b"], ["a", None]]).to_dict("list")
    {'a': [2, 0], 'b': [0, 1]}
    """
    import pandas as pd

    frame = pd.DataFrame(ratings)
    values = [[None if _is_missing(v) else v for v in row] for row in frame.to_numpy().tolist()]
    cats = sorted({v for row in values for v in row if v is not None}, key=str)
    index = {c: i for i, c in enumerate(cats)}
    counts = np.zeros((frame.shape[1], len(cats)), dtype=int)
    for row in values:
        for u, v in enumerate(row):
            if v is not None:
                counts[u, index[v]] += 1
    return pd.DataFrame(counts, index=frame.columns, columns=cats)


def _is_missing(v: Any) -> bool:
    import pandas as pd

    if v is None or v is pd.NA:
        return True
    if isinstance(v, float) and math.isnan(v):
        return True
    return isinstance(v, str) and not v.strip()


def _multi_parts(counts: Any) -> tuple[np.ndarray, np.ndarray, float]:
    """(per-category mean shares pi_k, the count rows with >= 2 ratings, observed agreement)."""
    m = np.asarray(counts, dtype=float)
    if m.ndim != 2 or m.shape[1] == 0:
        raise InputError("a count table needs one row per unit and one column per category")
    r = m.sum(axis=1)
    rated = r >= 1
    paired = r >= 2
    if not paired.any():
        raise InputError("no unit was rated by two or more coders, so agreement is undefined",
                         fix="have at least two coders code some of the same units")
    pi = (m[rated] / r[rated, None]).mean(axis=0)
    mp, rp = m[paired], r[paired]
    pa = float(((mp * (mp - 1.0)).sum(axis=1) / (rp * (rp - 1.0))).mean())
    return pi, mp, pa


def fleiss_kappa(counts: Any) -> float:
    """Fleiss' kappa from a units x categories table of rating counts.

    With missing ratings (rows with different totals) this is Gwet's generalisation (as in
    the R package irrCAC, ``fleiss.kappa.raw``): observed agreement over units rated at least
    twice, category shares averaged over units rated at least once. Build the table from raw
    ratings with :func:`rating_counts`.

    Examples
    --------
    >>> round(fleiss_kappa([[2, 0], [0, 2], [1, 1]]), 3)
    0.333
    """
    pi, _, pa = _multi_parts(counts)
    return float(_chance_corrected(pa, (pi**2).sum()))


def gwet_ac1(counts: Any) -> float:
    """Gwet's AC1 from a units x categories table of rating counts (any number of coders).

    Chance agreement is ``sum_k pi_k (1 - pi_k) / (q - 1)`` with ``q`` the number of
    categories (columns); missing ratings are handled as in Gwet (2014) / irrCAC.

    Examples
    --------
    >>> round(gwet_ac1([[2, 0], [0, 2], [1, 1]]), 3)
    0.333
    """
    pi, _, pa = _multi_parts(counts)
    q = len(pi)
    pe = (pi * (1.0 - pi)).sum() / (q - 1) if q > 1 else 1.0
    return float(_chance_corrected(pa, pe))


def krippendorff_alpha(counts: Any) -> float:
    """Krippendorff's alpha (nominal) from a units x categories table of value counts.

    Units with fewer than two values are not pairable and are left out, as in Krippendorff
    (2011); missing data are therefore allowed.

    Examples
    --------
    >>> round(krippendorff_alpha([[2, 0], [0, 2], [1, 1]]), 3)
    0.444
    """
    _, mp, _ = _multi_parts(counts)
    rp = mp.sum(axis=1)
    big_n = rp.sum()
    diag = ((mp * (mp - 1.0)).sum(axis=1) / (rp - 1.0)).sum()
    nc = mp.sum(axis=0)
    s = (nc * (nc - 1.0)).sum()
    den = big_n * (big_n - 1.0) - s
    if np.isclose(den, 0.0):
        return float("nan")
    return float(((big_n - 1.0) * diag - s) / den)


# --------------------------------------------------------------------------------------------
# Reading and checking coding tables
# --------------------------------------------------------------------------------------------


@dataclass
class _Table:
    frame: pd.DataFrame  # columns: id, theme, [coder], [text], _row (1-based row/line label)
    name: str  # "A" / "B" / file path, for messages
    path: str | None


def _norm_id(v: Any) -> str:
    if isinstance(v, float) and v.is_integer():
        v = int(v)
    return str(v).strip()


def _rows_text(rows: list[str], limit: int = 10) -> str:
    shown = ", ".join(rows[:limit])
    return shown + (f" and {len(rows) - limit} more" if len(rows) > limit else "")


def _load(table: Any, side: str, id_column: str, label_column: str,
          coder_column: str) -> _Table:
    import pandas as pd

    path: str | None = None
    if isinstance(table, (str, PathLike)):
        p = Path(table)
        path = str(p)
        if not p.is_file():
            raise InputError(f"coding table {side} not found", path=path,
                             fix="check the path (a .csv or .xlsx file)")
        suffix = p.suffix.lower()
        try:
            if suffix in (".csv", ".tsv", ".txt"):
                frame = pd.read_csv(p, dtype=str, keep_default_na=False,
                                    sep="\t" if suffix == ".tsv" else ",")
            elif suffix in (".xlsx", ".xlsm", ".xls"):
                frame = pd.read_excel(p, dtype=str, keep_default_na=False)
            else:
                raise InputError(f"cannot read a coding table from a '{suffix}' file", path=path,
                                 fix="save it as .csv or .xlsx")
        except InputError:
            raise
        except Exception as exc:  # parser errors, bad encodings, broken zip
            raise InputError(f"cannot read coding table {side}: {exc}", path=path,
                             fix="save it as UTF-8 .csv or as .xlsx") from exc
        first_row = 2  # file line / spreadsheet row of the first data row (header = 1)
        label = path
    elif isinstance(table, pd.DataFrame):
        frame = table.copy()
        first_row = None
        label = f"table {side}"
    else:
        raise InputError(f"coding table {side} must be a pandas DataFrame or a path to a .csv "
                         f"or .xlsx file, not {type(table).__name__}")

    frame.columns = [str(c).strip() for c in frame.columns]
    id_col = id_column
    if id_col not in frame.columns and id_column == "id" and "unit_id" in frame.columns:
        id_col = "unit_id"
    missing = [c for c in (id_col, label_column) if c not in frame.columns]
    if missing:
        raise InputError(
            f"coding table {side} lacks the column(s) {', '.join(missing)}; its columns are: "
            f"{', '.join(frame.columns) or '(none)'}",
            path=path,
            fix=f"name the unit column '{id_column}' (or 'unit_id') and the theme column "
                f"'{label_column}', or pass id_column= / label_column=")

    if first_row is None:
        rows = [f"index {i}" for i in frame.index]
        where = "rows"
    else:
        rows = [str(first_row + i) for i in range(len(frame))]
        where = "lines"
    out = pd.DataFrame({"_row": rows})
    out["id"] = ["" if _is_missing(v) else _norm_id(v) for v in frame[id_col].tolist()]
    out["theme"] = ["" if _is_missing(v) else str(v).strip() for v in frame[label_column].tolist()]
    if coder_column in frame.columns:
        out["coder"] = ["" if _is_missing(v) else str(v).strip()
                        for v in frame[coder_column].tolist()]
    if "text" in frame.columns:
        out["text"] = [None if _is_missing(v) else str(v) for v in frame["text"].tolist()]

    def fail(what: str, bad: pd.Series, fix: str) -> None:
        bad_rows = out.loc[bad, "_row"].tolist()
        line = int(bad_rows[0]) if first_row is not None else None
        raise InputError(f"{label}: {what} in {where} {_rows_text(bad_rows)}", path=path,
                         line=line, fix=fix)

    if len(out) == 0:
        raise InputError(f"{label}: the coding table has no rows", path=path,
                         fix="add one row per (unit id, theme)")
    if (out["id"] == "").any():
        fail(f"empty {id_col}", out["id"] == "", "give every row the id of the unit it codes")
    if (out["theme"] == "").any():
        fail(f"empty {label_column}", out["theme"] == "",
             f"give every row a theme id (use '{NONE_THEME}' for a unit that fits no theme)")
    if "coder" in out and (out["coder"] == "").any():
        fail(f"empty {coder_column}", out["coder"] == "", "name the coder on every row")
    keys = ["coder", "id", "theme"] if "coder" in out else ["id", "theme"]
    dup = out.duplicated(keys, keep=False)
    if dup.any():
        fail(f"duplicate ({', '.join(keys)}) rows", dup,
             "keep one row per unit and theme (several rows per unit are fine when their "
             "themes differ)")
    return _Table(out, label, path)


def _label_sets(frame: pd.DataFrame) -> dict[str, frozenset[str]]:
    sets: dict[str, set[str]] = {}
    for uid, theme in zip(frame["id"], frame["theme"]):
        sets.setdefault(uid, set()).add(theme)
    return {k: frozenset(v) for k, v in sets.items()}


def _first(labels: frozenset[str]) -> str:
    return sorted(labels)[0]


# --------------------------------------------------------------------------------------------
# Two tables: AgreementReport
# --------------------------------------------------------------------------------------------


def _jsonable(value: Any) -> Any:
    import pandas as pd

    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
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


def _md_table(frame: pd.DataFrame, index_name: str | None = None) -> str:
    head = [index_name or frame.index.name or ""] + [str(c) for c in frame.columns]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for row in frame.itertuples(index=True, name=None):  # keeps each column's type
        lines.append("| " + " | ".join(_fmt(v) for v in row) + " |")
    return "\n".join(lines)


@dataclass(frozen=True, eq=False)
class AgreementReport:
    """Agreement between two coding tables ``a`` and ``b`` (see :func:`compare`).

    Attributes
    ----------
    summary : dict
        ``percent_agreement``, ``cohen_kappa``, ``krippendorff_alpha``, ``gwet_ac1``, ``n``
        (units coded by both sides), each statistic's 95% bootstrap interval as
        ``<name>_ci = (lo, hi)`` (``None`` when ``bootstrap=0``), and ``only_a`` / ``only_b``
        (numbers of units coded by one side only).
    per_theme : pandas.DataFrame
        Indexed by theme: ``precision``, ``recall``, ``f1``, ``support`` (``a`` is the
        reference), ``kappa``, ``alpha``, ``ac1``, ``agreement`` (present/absent per theme over
        the shared units), ``n_a``, ``n_b`` (units given the theme by each side).
    confusion : pandas.DataFrame
        Single-label view, rows ``a``'s label, columns ``b``'s label; a multi-label unit counts
        under the first of its labels in sorted order.
    disagreements : pandas.DataFrame
        ``id``, ``kind`` (``"disagree"``, ``"only_a"``, ``"only_b"``), ``a_themes``,
        ``b_themes`` (themes joined by ``"; "``) and ``text`` when either input had one.
    multilabel : dict
        ``mode`` (``"single-label"`` or ``"multi-label"``: which rule the summary used),
        ``exact_set_agreement``, ``mean_jaccard``, the per-theme means ``macro_*`` and the
        numbers of multi-label units on each side.
    only_a_ids, only_b_ids : tuple of str
        The units coded by only one side.
    """

    summary: dict[str, Any]
    per_theme: pd.DataFrame
    confusion: pd.DataFrame
    disagreements: pd.DataFrame
    multilabel: dict[str, Any]
    only_a_ids: tuple[str, ...] = field(default=())
    only_b_ids: tuple[str, ...] = field(default=())

    def to_dict(self) -> dict[str, Any]:
        """Everything as plain JSON-serialisable values (NaN becomes ``None``).

        Examples
        --------
        >>> import json, pandas as pd
        >>> t = pd.DataFrame({"id": ["u1", "u2"], "theme_id": ["x", "y"]})
        >>> _ = json.dumps(compare(t, t, bootstrap=0).to_dict())
        """
        per_theme = self.per_theme.reset_index().to_dict("records")
        confusion = {str(r): {str(c): int(v) for c, v in row.items()}
                     for r, row in self.confusion.iterrows()}
        return _jsonable({
            "summary": self.summary,
            "per_theme": per_theme,
            "confusion": confusion,
            "disagreements": self.disagreements.to_dict("records"),
            "multilabel": self.multilabel,
            "only_a_ids": list(self.only_a_ids),
            "only_b_ids": list(self.only_b_ids),
        })

    def to_json(self, **kwargs: Any) -> str:
        """:meth:`to_dict` as a JSON string (keyword arguments go to :func:`json.dumps`)."""
        return json.dumps(self.to_dict(), **kwargs)

    def to_markdown(self, max_disagreements: int = 20) -> str:
        """A readable report: summary, per-theme table, confusion matrix, disagreements.

        Examples
        --------
        >>> import pandas as pd
        >>> t = pd.DataFrame({"id": ["u1", "u2"], "theme_id": ["x", "y"]})
        >>> "cohen_kappa" in compare(t, t, bootstrap=0).to_markdown()
        True
        """
        import pandas as pd

        s = self.summary
        rows = []
        for name in STATS:
            rows.append((name, s[name], s.get(f"{name}_ci")))
        summ = pd.DataFrame(rows, columns=["statistic", "value", "95% CI"]).set_index("statistic")
        counts = pd.DataFrame({"value": [s["n"], s["only_a"], s["only_b"]]},
                              index=pd.Index(["n", "only_a", "only_b"], name="count"))
        mode = self.multilabel.get("mode", "single-label")
        rule = ("single labels of the units coded by both sides" if mode == "single-label" else
                "mean over themes of per-theme present/absent statistics (multi-label units)")
        parts = [
            "# Agreement report",
            "",
            f"Statistics on {s['n']} units coded by both sides; rule: {rule}.",
            "",
            "## Summary",
            "",
            _md_table(summ),
            "",
            _md_table(counts),
            "",
            "## Set-level agreement",
            "",
            _md_table(pd.DataFrame({"value": list(self.multilabel.values())},
                                   index=pd.Index(list(self.multilabel), name="figure"))),
            "",
            "## Per theme (a = reference)",
            "",
            _md_table(self.per_theme, "theme"),
            "",
            "## Confusion (rows: a, columns: b; first label in sorted order per unit)",
            "",
            _md_table(self.confusion, "a \\ b"),
            "",
        ]
        d = self.disagreements
        parts += [f"## Disagreements ({len(d)})", ""]
        if len(d):
            shown = d.head(max_disagreements).set_index("id")
            parts += [_md_table(shown, "id"), ""]
            if len(d) > max_disagreements:
                parts += [f"... and {len(d) - max_disagreements} more.", ""]
        else:
            parts += ["None.", ""]
        return "\n".join(parts)


def _binary_confusions(wa: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(R, T, 2, 2) present/absent confusions per theme; ``wa`` is (R, n) unit weights."""
    a = a.astype(float)
    b = b.astype(float)
    n11 = wa @ (a * b)
    n10 = wa @ (a * (1 - b))
    n01 = wa @ ((1 - a) * b)
    n00 = wa @ ((1 - a) * (1 - b))
    return np.stack([np.stack([n00, n01], -1), np.stack([n10, n11], -1)], -2)


def _summary_stats(weights: np.ndarray, multi: bool, pair_index: np.ndarray, k: int,
                   ind_a: np.ndarray, ind_b: np.ndarray) -> dict[str, np.ndarray]:
    """Summary statistics for each row of unit weights ``weights`` (R, n)."""
    if not multi:
        conf = np.stack([np.bincount(pair_index, weights=w, minlength=k * k) for w in weights])
        return _pair_stats(conf.reshape(-1, k, k))
    per = _pair_stats(_binary_confusions(weights, ind_a, ind_b))
    return {name: _nanmean(v) for name, v in per.items()}


def _nanmean(values: np.ndarray) -> np.ndarray:
    """Mean over the last axis ignoring NaN (NaN, without a warning, when all are NaN)."""
    values = np.asarray(values, dtype=float)
    ok = np.isfinite(values)
    count = ok.sum(axis=-1)
    total = np.where(ok, values, 0.0).sum(axis=-1)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(count > 0, total / np.maximum(count, 1), np.nan)


def compare(
    human: Any,
    machine: Any = None,
    *,
    id_column: str = "id",
    label_column: str = "theme_id",
    coder_column: str = "coder",
    bootstrap: int = 1000,
    seed: int = 0,
) -> AgreementReport | CoderAgreement:
    """Agreement between two coding tables (human vs machine, or two humans).

    Parameters
    ----------
    human, machine : pandas.DataFrame or path
        Coding tables ``a`` and ``b`` (.csv or .xlsx paths are read with pandas): columns
        ``id`` (``unit_id`` is used when ``id`` is absent) and ``theme_id``; several rows per
        id mean several themes; ``none`` is a legal theme. ``a`` (the first) is the reference
        for precision and recall. With ``machine`` left out, ``human`` must be one table with
        a ``coder`` column and the result is :func:`compare_coders`'s.
    id_column, label_column, coder_column : str
        Column names.
    bootstrap : int
        Bootstrap replicates (units resampled with replacement) for the 95% percentile
        intervals; 0 switches them off.
    seed : int
        Seed of the bootstrap; the same seed gives the same intervals.

    Returns
    -------
    AgreementReport

    Raises
    ------
    themesift.errors.InputError
        Missing columns (the message lists the columns present), empty ids or themes, duplicate
        (id, theme) rows (with their row numbers), a table holding several coders, or no unit
        id shared by the two tables.

    Notes
    -----
    Statistics are on the units both sides coded. Single-label data: ordinary percent
    agreement, Cohen's kappa, Krippendorff's alpha (nominal) and Gwet's AC1. Multi-label data
    (any shared unit with 2+ themes on either side): each is the mean over themes of the
    present/absent statistic per theme. See the module docstring for all rules.

    Examples
    --------
    >>> import pandas as pd
    >>> human = pd.DataFrame({"id": ["u1", "u2", "u3", "u4"],
    ...                       "theme_id": ["housing", "family", "none", "family"]})
    >>> machine = pd.DataFrame({"unit_id": ["u1", "u2", "u3", "u5"],
    ...                         "theme_id": ["housing", "family", "family", "none"]})
    >>> report = compare(human, machine, bootstrap=200)
    >>> report.summary["n"], report.summary["only_a"], report.summary["only_b"]
    (3, 1, 1)
    >>> round(report.summary["percent_agreement"], 3)
    0.667
    """
    import pandas as pd

    if machine is None:
        return compare_coders(human, id_column=id_column, label_column=label_column,
                              coder_column=coder_column)
    ta = _load(human, "A", id_column, label_column, coder_column)
    tb = _load(machine, "B", id_column, label_column, coder_column)
    for t in (ta, tb):
        if "coder" in t.frame:
            coders = sorted(set(t.frame["coder"]))
            if len(coders) > 1:
                raise InputError(
                    f"{t.name} holds {len(coders)} coders ({', '.join(coders[:5])}); compare() "
                    "takes one coder per table", path=t.path,
                    fix="split the table by coder, or call compare_coders(table) for all of "
                        "them at once")
    sets_a = _label_sets(ta.frame)
    sets_b = _label_sets(tb.frame)
    common = [u for u in sets_a if u in sets_b]
    only_a = [u for u in sets_a if u not in sets_b]
    only_b = [u for u in sets_b if u not in sets_a]
    if not common:
        raise InputError(
            f"the two tables share no unit ids; A ({ta.name}) has ids like "
            f"{', '.join(list(sets_a)[:3])}, B ({tb.name}) has ids like "
            f"{', '.join(list(sets_b)[:3])}",
            fix="check that both tables code the same units with the same ids (and the "
                "id_column)")

    n = len(common)
    themes = sorted(set().union(*(sets_a[u] | sets_b[u] for u in common)))
    tix = {t: i for i, t in enumerate(themes)}
    ind_a = np.zeros((n, len(themes)), dtype=bool)
    ind_b = np.zeros((n, len(themes)), dtype=bool)
    for i, u in enumerate(common):
        ind_a[i, [tix[t] for t in sets_a[u]]] = True
        ind_b[i, [tix[t] for t in sets_b[u]]] = True
    multi_a = sum(len(sets_a[u]) > 1 for u in common)
    multi_b = sum(len(sets_b[u]) > 1 for u in common)
    multi = bool(multi_a or multi_b)

    first_a = [_first(sets_a[u]) for u in common]
    first_b = [_first(sets_b[u]) for u in common]
    cats = sorted(set(first_a) | set(first_b))
    cix = {c: i for i, c in enumerate(cats)}
    k = len(cats)
    pair_index = np.array([cix[x] * k + cix[y] for x, y in zip(first_a, first_b)], dtype=int)

    point = _summary_stats(np.ones((1, n)), multi, pair_index, k, ind_a, ind_b)
    summary: dict[str, Any] = {name: float(point[name][0]) for name in STATS}
    summary["n"] = n
    if bootstrap and bootstrap > 0:
        rng = np.random.default_rng(seed)
        draws: dict[str, list[np.ndarray]] = {name: [] for name in STATS}
        done = 0
        while done < bootstrap:
            size = min(_CHUNK, bootstrap - done)
            w = rng.multinomial(n, np.full(n, 1.0 / n), size=size).astype(float)
            res = _summary_stats(w, multi, pair_index, k, ind_a, ind_b)
            for name in STATS:
                draws[name].append(res[name])
            done += size
        for name in STATS:
            vals = np.concatenate(draws[name])
            vals = vals[np.isfinite(vals)]
            summary[f"{name}_ci"] = (
                (float(np.percentile(vals, 2.5)), float(np.percentile(vals, 97.5)))
                if len(vals) else None)
    else:
        for name in STATS:
            summary[f"{name}_ci"] = None
    summary["only_a"] = len(only_a)
    summary["only_b"] = len(only_b)

    # per theme, present/absent over the shared units
    per = _pair_stats(_binary_confusions(np.ones((1, n)), ind_a, ind_b))
    tp = (ind_a & ind_b).sum(axis=0).astype(float)
    n_a = ind_a.sum(axis=0).astype(float)
    n_b = ind_b.sum(axis=0).astype(float)
    with np.errstate(divide="ignore", invalid="ignore"):
        precision = np.where(n_b > 0, tp / n_b, np.nan)
        recall = np.where(n_a > 0, tp / n_a, np.nan)
        f1 = np.where(n_a + n_b > 0, 2 * tp / (n_a + n_b), np.nan)
    per_theme = pd.DataFrame({
        "precision": precision, "recall": recall, "f1": f1, "support": n_a.astype(int),
        "kappa": per["cohen_kappa"][0], "alpha": per["krippendorff_alpha"][0],
        "ac1": per["gwet_ac1"][0], "agreement": per["percent_agreement"][0],
        "n_a": n_a.astype(int), "n_b": n_b.astype(int),
    }, index=pd.Index(themes, name="theme"))

    conf = np.bincount(pair_index, minlength=k * k).reshape(k, k)
    confusion = pd.DataFrame(conf, index=pd.Index(cats, name="a"),
                             columns=pd.Index(cats, name="b"))

    texts: dict[str, str] = {}
    has_text = False
    for t in (ta, tb):
        if "text" in t.frame:
            has_text = True
            for uid, txt in zip(t.frame["id"], t.frame["text"]):
                if txt is not None and uid not in texts:
                    texts[uid] = txt
    records = []
    for u in common:
        if sets_a[u] != sets_b[u]:
            records.append((u, "disagree", "; ".join(sorted(sets_a[u])),
                            "; ".join(sorted(sets_b[u]))))
    records += [(u, "only_a", "; ".join(sorted(sets_a[u])), "") for u in only_a]
    records += [(u, "only_b", "", "; ".join(sorted(sets_b[u]))) for u in only_b]
    disagreements = pd.DataFrame(records, columns=["id", "kind", "a_themes", "b_themes"])
    if has_text:
        disagreements["text"] = [texts.get(u) for u in disagreements["id"]]

    inter = (ind_a & ind_b).sum(axis=1)
    union = (ind_a | ind_b).sum(axis=1)
    macro = {f"macro_{name}": float(_nanmean(per[name][0])) for name in STATS}
    multilabel = {
        "mode": "multi-label" if multi else "single-label",
        "exact_set_agreement": float(np.mean([sets_a[u] == sets_b[u] for u in common])),
        "mean_jaccard": float(np.mean(inter / union)),
        **macro,
        "multi_label_units_a": int(multi_a),
        "multi_label_units_b": int(multi_b),
    }
    return AgreementReport(summary=summary, per_theme=per_theme, confusion=confusion,
                           disagreements=disagreements, multilabel=multilabel,
                           only_a_ids=tuple(only_a), only_b_ids=tuple(only_b))


# --------------------------------------------------------------------------------------------
# One table, several coders: CoderAgreement
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class CoderAgreement:
    """Agreement among several coders of one table (see :func:`compare_coders`).

    Attributes
    ----------
    coders : tuple of str
    pairwise_kappa, pairwise_agreement : pandas.DataFrame
        Coder x coder matrices of Cohen's kappa and percent agreement on the units both coders
        coded (diagonal 1.0; NaN where a pair shares no unit or kappa is undefined).
    pairwise_n : pandas.DataFrame
        Number of units each pair shares.
    summary : dict
        ``fleiss_kappa``, ``krippendorff_alpha``, ``gwet_ac1`` (over all coders, missing
        codings allowed), ``percent_agreement`` (mean pairwise agreement within units),
        ``n`` (units rated by two or more coders), ``n_coders``, ``multi_label_codings``.
    ratings : pandas.DataFrame
        Units x coders single labels used (NaN where a coder did not code a unit).
    """

    coders: tuple[str, ...]
    pairwise_kappa: pd.DataFrame
    pairwise_agreement: pd.DataFrame
    pairwise_n: pd.DataFrame
    summary: dict[str, Any]
    ratings: pd.DataFrame

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-serialisable values (NaN becomes ``None``)."""
        return _jsonable({
            "coders": list(self.coders),
            "summary": self.summary,
            "pairwise_kappa": self.pairwise_kappa.to_dict(),
            "pairwise_agreement": self.pairwise_agreement.to_dict(),
            "pairwise_n": self.pairwise_n.to_dict(),
        })

    def to_markdown(self) -> str:
        """A readable report: summary and the pairwise matrices."""
        import pandas as pd

        summ = pd.DataFrame({"value": list(self.summary.values())},
                            index=pd.Index(list(self.summary), name="statistic"))
        return "\n".join([
            "# Agreement among coders", "", "## Summary", "", _md_table(summ), "",
            "## Pairwise Cohen's kappa", "", _md_table(self.pairwise_kappa, "coder"), "",
            "## Pairwise percent agreement", "", _md_table(self.pairwise_agreement, "coder"),
            "", "## Units shared by each pair", "", _md_table(self.pairwise_n, "coder"), "",
        ])


def compare_coders(
    table: Any,
    *,
    id_column: str = "id",
    label_column: str = "theme_id",
    coder_column: str = "coder",
) -> CoderAgreement:
    """Agreement among two or more coders stored in one coding table.

    Parameters
    ----------
    table : pandas.DataFrame or path
        Coding table with columns ``id`` (or ``unit_id``), ``theme_id`` and ``coder``.
    id_column, label_column, coder_column : str
        Column names.

    Returns
    -------
    CoderAgreement
        Pairwise Cohen's kappa and percent agreement, plus Fleiss' kappa, Krippendorff's alpha
        (nominal) and Gwet's AC1 over all coders. Missing codings (a coder who skipped a unit)
        are allowed.

    Raises
    ------
    themesift.errors.InputError
        No coder column, fewer than two coders, or the bad-table errors of :func:`compare`.

    Notes
    -----
    These statistics need one label per coder and unit: a coder's multi-label unit counts
    under its first theme in sorted order (the count is ``summary["multi_label_codings"]``).

    Examples
    --------
    >>> import pandas as pd
    >>> t = pd.DataFrame({"id": ["u1", "u2", "u1", "u2", "u1", "u2"],
    ...                   "theme_id": ["x", "y", "x", "y", "x", "x"],
    ...                   "coder": ["A", "A", "B", "B", "C", "C"]})
    >>> result = compare_coders(t)
    >>> result.coders
    ('A', 'B', 'C')
    >>> float(result.pairwise_kappa.loc["A", "B"])
    1.0
    """
    import pandas as pd

    t = _load(table, "A", id_column, label_column, coder_column)
    if "coder" not in t.frame:
        raise InputError(
            f"{t.name} has no '{coder_column}' column, so there are fewer than 2 coders to "
            "compare", path=t.path,
            fix=f"add a '{coder_column}' column, or pass a second table: compare(a, b)")
    coders = tuple(sorted(set(t.frame["coder"])))
    if len(coders) < 2:
        raise InputError(
            f"{t.name} has {len(coders)} coder ({', '.join(coders)}); agreement needs at "
            "least 2 coders", path=t.path, fix="add the codings of a second coder")
    sets = {c: _label_sets(t.frame[t.frame["coder"] == c]) for c in coders}
    units: list[str] = list(dict.fromkeys(t.frame["id"]))
    multi = sum(len(s) > 1 for c in coders for s in sets[c].values())
    ratings = pd.DataFrame(
        {c: [_first(sets[c][u]) if u in sets[c] else np.nan for u in units] for c in coders},
        index=pd.Index(units, name="id"), dtype=object)

    kap = pd.DataFrame(np.nan, index=list(coders), columns=list(coders))
    agr = kap.copy()
    pn = pd.DataFrame(0, index=list(coders), columns=list(coders))
    for i, c1 in enumerate(coders):
        for c2 in coders[i:]:
            both = [u for u in units if u in sets[c1] and u in sets[c2]]
            pn.loc[c1, c2] = pn.loc[c2, c1] = len(both)
            if not both:
                continue
            conf, _ = _confusion([_first(sets[c1][u]) for u in both],
                                 [_first(sets[c2][u]) for u in both])
            st = _pair_stats(conf)
            kv = 1.0 if c1 == c2 else float(st["cohen_kappa"])
            kap.loc[c1, c2] = kap.loc[c2, c1] = kv
            agr.loc[c1, c2] = agr.loc[c2, c1] = float(st["percent_agreement"])
    for m in (kap, agr, pn):
        m.index.name = "coder"

    counts = rating_counts(ratings.T)
    paired = int((counts.sum(axis=1) >= 2).sum())
    if paired == 0:
        raise InputError(f"{t.name}: no unit was coded by two or more coders", path=t.path,
                         fix="have the coders code some of the same units")
    _, _, pa = _multi_parts(counts)
    summary = {
        "fleiss_kappa": fleiss_kappa(counts),
        "krippendorff_alpha": krippendorff_alpha(counts),
        "gwet_ac1": gwet_ac1(counts),
        "percent_agreement": pa,
        "n": paired,
        "n_coders": len(coders),
        "multi_label_codings": int(multi),
    }
    return CoderAgreement(coders=coders, pairwise_kappa=kap, pairwise_agreement=agr,
                          pairwise_n=pn, summary=summary, ratings=ratings)
