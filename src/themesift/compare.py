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

from .errors import InputError, MissingDependencyError
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
    "align_spans",
    "character_agreement",
    "CodeMatchReport",
    "compare_codes",
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


def _pyplot():
    try:
        import matplotlib.pyplot as plt
    except ImportError:
        raise MissingDependencyError("matplotlib (for plots)", "pip install matplotlib") from None
    return plt


def _read_table_file(path: str | PathLike[str], what: str) -> pd.DataFrame:
    """A .csv/.tsv/.xlsx file as text cells ("none" and "NA" stay labels, not missing values)."""
    import pandas as pd

    p = Path(path)
    if not p.is_file():
        raise InputError(f"{what} not found", path=str(p), fix="check the path (a .csv or .xlsx file)")
    suffix = p.suffix.lower()
    try:
        if suffix in (".csv", ".tsv", ".txt"):
            return pd.read_csv(p, dtype=str, keep_default_na=False,
                               sep="\t" if suffix == ".tsv" else ",")
        if suffix in (".xlsx", ".xlsm", ".xls"):
            return pd.read_excel(p, dtype=str, keep_default_na=False)
    except Exception as exc:  # parser errors, bad encodings, broken zip
        raise InputError(f"cannot read {what}: {exc}", path=str(p),
                         fix="save it as UTF-8 .csv or as .xlsx") from exc
    raise InputError(f"cannot read {what} from a '{suffix}' file", path=str(p),
                     fix="save it as .csv or .xlsx")


def _load(table: Any, side: str, id_column: str, label_column: str,
          coder_column: str) -> _Table:
    import pandas as pd

    path: str | None = None
    if isinstance(table, (str, PathLike)):
        path = str(table)
        frame = _read_table_file(table, f"coding table {side}")
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
        ``<name>_ci = (lo, hi)`` (``None`` when ``bootstrap=0``), ``only_a`` / ``only_b``
        (numbers of units coded by one side only), ``rule`` (``"single-label"``, or for
        multi-label coding the mean over themes of the present/absent statistic) and
        ``exact_set_agreement`` (share of units whose whole set of themes is the same on
        both sides: the strict figure to read beside a multi-label ``percent_agreement``).
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

    def plot_confusion(self, ax=None):
        """The confusion matrix as a heatmap (rows: table A, columns: table B).

        Returns the matplotlib ``Axes``; needs matplotlib (``pip install matplotlib``).
        """
        plt = _pyplot()
        if ax is None:
            _, ax = plt.subplots(figsize=(1.2 + 0.7 * len(self.confusion.columns),
                                          1.0 + 0.6 * len(self.confusion.index)))
        values = self.confusion.to_numpy(dtype=float)
        ax.imshow(values, cmap="Blues")
        ax.set_xticks(range(len(self.confusion.columns)), [str(c) for c in self.confusion.columns],
                      rotation=45, ha="right")
        ax.set_yticks(range(len(self.confusion.index)), [str(i) for i in self.confusion.index])
        ax.set_xlabel("B")
        ax.set_ylabel("A")
        for (r, c), v in np.ndenumerate(values):
            ax.text(c, r, f"{v:g}", ha="center", va="center",
                    color="white" if v > values.max() / 2 else "black")
        ax.set_title("Confusion (single-label view)")
        return ax

    def plot_per_theme(self, ax=None, metric: str = "f1"):
        """Per-theme ``metric`` (f1, precision, recall or kappa) as horizontal bars."""
        plt = _pyplot()
        if metric not in self.per_theme.columns:
            raise InputError(f"Unknown metric {metric!r}",
                             fix=f"Use one of {', '.join(map(str, self.per_theme.columns))}")
        values = self.per_theme[metric].astype(float).fillna(0.0)
        if ax is None:
            _, ax = plt.subplots(figsize=(6, 0.9 + 0.4 * len(values)))
        ax.barh([str(t) for t in values.index], values.to_numpy())
        ax.set_xlim(0, 1)
        ax.invert_yaxis()
        ax.set_xlabel(metric)
        ax.set_title(f"{metric} per theme")
        return ax

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
        multi = self.multilabel.get("mode") == "multi-label"
        how = "mean over themes, present/absent" if multi else "single label per unit"
        rows = [(name, s[name], s.get(f"{name}_ci"), how) for name in STATS]
        if multi:  # the stricter figure beside the headline, so neither is read alone
            rows.insert(1, ("exact_set_agreement", s["exact_set_agreement"], None,
                            "the whole set of themes identical"))
        summ = pd.DataFrame(rows, columns=["statistic", "value", "95% CI", "rule"]
                            ).set_index("statistic")
        counts = pd.DataFrame({"value": [s["n"], s["only_a"], s["only_b"]]},
                              index=pd.Index(["n", "only_a", "only_b"], name="count"))
        rule = ("single-label coding: each statistic compares the one theme of each unit"
                if not multi else
                "multi-label coding: each statistic is the mean over themes of the "
                "present/absent statistic of that theme (a unit coded hope and relationships "
                "by one side and hope by the other agrees on every theme but relationships); "
                "exact_set_agreement counts a unit only when its whole set of themes matches")
        parts = [
            "# Agreement report",
            "",
            f"Statistics on {s['n']} units coded by both sides; {rule}.",
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


def _is_span_table(table: Any) -> bool:
    """A coding of character spans (``start`` and ``end``, no ``unit_id``), or a REFI-QDA
    project, rather than a coding table keyed by unit ids."""
    import pandas as pd

    if hasattr(table, "to_coding_table") or (
            isinstance(table, (str, PathLike)) and str(table).lower().endswith(".qdpx")):
        return True
    if isinstance(table, (str, PathLike)):
        try:
            columns = set(_read_table_file(table, "coding table").columns)
        except InputError:  # unreadable: _load reports it properly
            return False
    elif isinstance(table, pd.DataFrame):
        columns = set(table.columns)
    else:
        return False
    return {"start", "end"} <= columns and "unit_id" not in columns


def _on_units(table: Any, units: Any, min_overlap: float) -> Any:
    """``table`` aligned to the meaning units when it codes character spans; else as it is."""
    if table is None or not _is_span_table(table):
        return table
    if isinstance(table, (str, PathLike)) and str(table).lower().endswith(".qdpx"):
        from .ingest import read_qdpx

        table = read_qdpx(table)
    if hasattr(table, "to_coding_table"):
        table = table.to_coding_table()
    return align_spans(table, units, min_overlap=min_overlap)


def compare(
    human: Any,
    machine: Any = None,
    *,
    units: Any = None,
    min_overlap: float = 0.5,
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
    units : pandas.DataFrame, optional
        The machine's meaning units (``unit_id, doc_id, start, end``; units.csv of a run).
        A table that codes character spans (``doc_id`` or ``source``, ``start``, ``end``, as
        NVivo exports them, or a :class:`~themesift.QdaProject` / ``.qdpx``) is first carried
        onto these units with :func:`align_spans`, so that it can be compared with a coding
        of the units (the command line's ``--units``).
    min_overlap : float
        With ``units``: the overlap rule of :func:`align_spans`.
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

    if units is not None:
        aligned = (_on_units(human, units, min_overlap), _on_units(machine, units, min_overlap))
        if aligned[0] is not human or aligned[1] is not machine:
            id_column = "id"  # align_spans keys its rows by the machine's unit ids
        human, machine = aligned
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
                "id_column). If one side coded character spans (doc_id, start, end, as NVivo "
                "or a .qdpx does) and the other meaning units, carry the spans onto the units "
                "first: compare(human, machine, units=units) or align_spans(human, units) in "
                "Python, --units units.csv on the command line")

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
    summary["exact_set_agreement"] = float(np.mean([sets_a[u] == sets_b[u] for u in common]))
    summary["rule"] = ("multi-label: mean over themes of the present/absent statistic" if multi
                       else "single-label")

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
        "exact_set_agreement": summary["exact_set_agreement"],
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


# --------------------------------------------------------------------------------------------
# Different segment boundaries: character spans vs meaning units (issue 5, item 2)
# --------------------------------------------------------------------------------------------

ALIGN_COLUMNS = ["id", "theme_id", "coder", "doc_id", "unit_start", "unit_end", "overlap_chars",
                 "unit_coverage", "span_coverage", "n_spans", "span_ids"]


def _span_frame(table: Any, side: str, doc_column: str, *, need_theme: bool = True,
                units: Any = None) -> pd.DataFrame:
    """A span table as ``_row, span_id, doc, start, end, theme, [coder], [text]``.

    Accepts ``doc_column`` or ``source`` for the document, and (with ``units``) a table keyed by
    unit ids without ``start``/``end``, whose spans are looked up in ``units``.
    """
    import pandas as pd

    path = None
    if isinstance(table, (str, PathLike)):
        path = str(table)
        frame = _read_table_file(table, f"span table {side}")
        first_row: int | None = 2
    elif isinstance(table, pd.DataFrame):
        frame = table.copy()
        first_row = None
    else:
        raise InputError(f"span table {side} must be a pandas DataFrame or a path to a .csv or "
                         f".xlsx file, not {type(table).__name__}")
    frame.columns = [str(c).strip() for c in frame.columns]
    label = path or f"table {side}"
    if units is not None and not {"start", "end"} <= set(frame.columns):
        idc = "unit_id" if "unit_id" in frame.columns else "id"
        if idc not in frame.columns:
            raise InputError(f"{label} has neither start/end columns nor a unit id column; its "
                             f"columns are: {', '.join(frame.columns)}", path=path,
                             fix="give character spans (doc_id, start, end) or unit ids")
        u = _units_frame(units)
        frame = frame.rename(columns={idc: "_uid"})
        frame = frame.drop(columns=[c for c in ("doc_id", "start", "end") if c in frame.columns])
        known = set(u["unit_id"])
        bad = [str(x) for x in frame["_uid"] if _norm_id(x) not in known]
        if bad:
            raise InputError(f"{label}: {len(bad)} unit id(s) not in the units table, e.g. "
                             f"{', '.join(bad[:3])}", path=path,
                             fix="pass the units table the suggestions were made from")
        frame["_uid"] = [_norm_id(x) for x in frame["_uid"]]
        frame = frame.merge(u.rename(columns={"unit_id": "_uid"})[["_uid", "doc_id", "start",
                                                                    "end"]],
                            on="_uid", how="left")
        frame = frame.rename(columns={"_uid": "id"})
    doc = doc_column if doc_column in frame.columns else (
        "source" if "source" in frame.columns else None)
    needed = ["start", "end"] + (["theme_id"] if need_theme else [])
    missing = ([doc_column] if doc is None else []) + [c for c in needed
                                                       if c not in frame.columns]
    if missing:
        raise InputError(f"{label} lacks the column(s) {', '.join(missing)}; its columns are: "
                         f"{', '.join(frame.columns) or '(none)'}", path=path,
                         fix=f"a span table needs {doc_column} (or source), start, end and "
                             "theme_id, e.g. QdaProject.to_coding_table()")
    rows = ([f"index {i}" for i in frame.index] if first_row is None
            else [str(first_row + i) for i in range(len(frame))])
    out = pd.DataFrame({"_row": rows})
    out["doc"] = ["" if _is_missing(v) else str(v).strip() for v in frame[doc].tolist()]
    starts = pd.to_numeric(frame["start"], errors="coerce").to_numpy(dtype=float)
    ends = pd.to_numeric(frame["end"], errors="coerce").to_numpy(dtype=float)
    bad = ~np.isfinite(starts) | ~np.isfinite(ends) | (starts < 0) | (ends <= starts) | (
        starts != np.floor(starts)) | (ends != np.floor(ends))
    bad |= (out["doc"] == "").to_numpy()
    if bad.any():
        bad_rows = [r for r, b in zip(rows, bad) if b]
        raise InputError(f"{label}: empty {doc} or bad character span (need whole numbers "
                         f"0 <= start < end) in rows {_rows_text(bad_rows)}", path=path,
                         line=int(bad_rows[0]) if first_row is not None else None,
                         fix="give every row its document and a non-empty span")
    out["start"] = starts.astype(int)
    out["end"] = ends.astype(int)
    if need_theme:
        out["theme"] = ["" if _is_missing(v) else str(v).strip()
                        for v in frame["theme_id"].tolist()]
        if (out["theme"] == "").any():
            bad_rows = out.loc[out["theme"] == "", "_row"].tolist()
            raise InputError(f"{label}: empty theme_id in rows {_rows_text(bad_rows)}",
                             path=path, fix=f"give every span a theme (or '{NONE_THEME}')")
    if "coder" in frame.columns:
        out["coder"] = ["" if _is_missing(v) else str(v).strip() for v in frame["coder"]]
    if "id" in frame.columns:
        out["span_id"] = [_norm_id(v) for v in frame["id"]]
    else:
        out["span_id"] = [f"{d}:{s}-{e}" for d, s, e in zip(out["doc"], out["start"], out["end"])]
    return out


def _units_frame(units: Any) -> pd.DataFrame:
    import pandas as pd

    if not isinstance(units, pd.DataFrame):
        raise InputError(f"units must be the units table (a DataFrame from themesift.segment), "
                         f"not {type(units).__name__}")
    missing = [c for c in ("unit_id", "doc_id", "start", "end") if c not in units.columns]
    if missing:
        raise InputError(f"the units table lacks the column(s) {', '.join(missing)}; its "
                         f"columns are: {', '.join(map(str, units.columns))}",
                         fix="pass the table returned by themesift.segment()")
    u = units.copy()
    u["unit_id"] = [_norm_id(v) for v in u["unit_id"]]
    u["doc_id"] = [str(v).strip() for v in u["doc_id"]]
    u["start"] = u["start"].astype(int)
    u["end"] = u["end"].astype(int)
    if u["unit_id"].duplicated().any():
        dups = u.loc[u["unit_id"].duplicated(), "unit_id"].tolist()
        raise InputError(f"the units table repeats unit ids: {_rows_text(dups)}",
                         fix="pass one row per meaning unit")
    return u


def _covered(intervals: list[tuple[int, int]]) -> int:
    """Number of characters covered by the union of half-open intervals."""
    total, cur_s, cur_e = 0, None, None
    for s, e in sorted(intervals):
        if cur_e is None or s > cur_e:
            if cur_e is not None:
                total += cur_e - cur_s
            cur_s, cur_e = s, e
        else:
            cur_e = max(cur_e, e)
    if cur_e is not None:
        total += cur_e - cur_s
    return total


def align_spans(human: Any, units: Any, *, min_overlap: float = 0.5,
                doc_column: str = "doc_id") -> pd.DataFrame:
    """Carry character-span coding (e.g. NVivo) onto the machine's meaning units.

    Parameters
    ----------
    human : pandas.DataFrame or path
        Coding table of character spans: ``doc_id`` (or ``source``), ``start``, ``end``
        (half-open character offsets into the document text), ``theme_id``, optionally
        ``coder``, ``id`` and ``text``; e.g. :meth:`QdaProject.to_coding_table` or a CSV.
    units : pandas.DataFrame
        The machine's units table (:func:`themesift.segment`): ``unit_id``, ``doc_id``,
        ``start``, ``end`` (the same character offsets).
    min_overlap : float in (0, 1]
        Share of characters the overlap must cover (see the rule below).
    doc_column : str
        Document column of ``human`` (``source`` is used when it is absent).

    Returns
    -------
    pandas.DataFrame
        A coding table keyed by the **machine unit ids**, one row per (unit, theme[, coder]):
        ``id`` (= unit_id), ``theme_id``, ``coder`` (only when ``human`` has one), ``doc_id``,
        ``unit_start``, ``unit_end``, ``overlap_chars`` (characters of the unit covered by
        the qualifying spans of that theme), ``unit_coverage`` (= overlap_chars / unit
        length), ``span_coverage`` (the largest share of one qualifying span inside the unit),
        ``n_spans`` and ``span_ids`` (``"; "``-joined), plus ``text`` when ``units`` has it.
        ``compare(aligned, machine_suggestions)`` works on it directly.

        ``aligned.attrs`` holds the bookkeeping: ``"uncoded_units"`` (unit ids of the
        documents the human coded that no qualifying span reached: they are **left out** of the
        table, no theme is invented for them, and ``compare`` lists them as coded by one side
        only), ``"unaligned_spans"`` (span ids that coded no unit, e.g. a very short span
        straddling two long units, or a document not in ``units``) and ``"summary"`` (counts
        and the rule).

    Notes
    -----
    **Overlap rule.** Within one document, a human span codes a machine unit when their
    character overlap covers at least ``min_overlap`` of the *unit's* characters **or** at
    least ``min_overlap`` of the *span's* characters. So a short span inside a long unit codes
    that unit, and a long span stretching over several units codes each unit it mostly
    covers. A span can code several units and a unit can receive several spans; several
    themes on one unit become several rows (multi-label). Offsets must refer to the same
    text (the transcript text as read by :func:`themesift.read_corpus`).

    Examples
    --------
    >>> import pandas as pd
    >>> units = pd.DataFrame({"unit_id": ["u1", "u2"], "doc_id": ["d", "d"],
    ...                       "start": [0, 100], "end": [100, 200]})
    >>> human = pd.DataFrame({"doc_id": ["d"], "start": [10], "end": [30],
    ...                       "theme_id": ["hope"]})
    >>> align_spans(human, units)[["id", "theme_id", "overlap_chars"]].values.tolist()
    [['u1', 'hope', 20]]
    """
    import pandas as pd

    if not (isinstance(min_overlap, (int, float)) and 0 < float(min_overlap) <= 1):
        raise InputError(f"min_overlap must be a share in (0, 1], not {min_overlap!r}",
                         fix="e.g. min_overlap=0.5")
    spans = _span_frame(human, "human", doc_column)
    u = _units_frame(units)
    has_coder = "coder" in spans
    if has_coder and (spans["coder"] == "").any():
        bad_rows = spans.loc[spans["coder"] == "", "_row"].tolist()
        raise InputError(f"human: empty coder in rows {_rows_text(bad_rows)}",
                         fix="name the coder on every row")
    human_docs = set(spans["doc"])
    unit_docs = set(u["doc_id"])
    if not human_docs & unit_docs:
        raise InputError(
            f"the human spans and the units share no document; spans name "
            f"{', '.join(sorted(human_docs)[:3])}, units name {', '.join(sorted(unit_docs)[:3])}",
            fix=f"make the human '{doc_column}'/'source' values the transcript ids (doc_id)")

    by_doc = {d: g for d, g in u.groupby("doc_id", sort=False)}
    hits: dict[tuple, dict[str, Any]] = {}
    span_used: dict[str, bool] = {}
    for sp in spans.itertuples(index=False):
        span_used.setdefault(sp.span_id, False)
        g = by_doc.get(sp.doc)
        if g is None:
            continue
        us, ue = g["start"].to_numpy(), g["end"].to_numpy()
        ov = np.minimum(ue, sp.end) - np.maximum(us, sp.start)
        ulen = np.maximum(ue - us, 1)
        slen = sp.end - sp.start
        ok = (ov > 0) & ((ov >= min_overlap * ulen) | (ov >= min_overlap * slen))
        for i in np.flatnonzero(ok):
            span_used[sp.span_id] = True
            uid = g["unit_id"].iloc[i]
            key = (uid, sp.theme, sp.coder if has_coder else "")
            rec = hits.setdefault(key, {"intervals": [], "span_cov": 0.0, "spans": []})
            rec["intervals"].append((max(int(us[i]), sp.start), min(int(ue[i]), sp.end)))
            rec["span_cov"] = max(rec["span_cov"], float(ov[i]) / slen)
            if sp.span_id not in rec["spans"]:
                rec["spans"].append(sp.span_id)

    uinfo = u.set_index("unit_id")
    order = {uid: i for i, uid in enumerate(u["unit_id"])}
    records = []
    for (uid, theme, coder), rec in sorted(hits.items(),
                                           key=lambda kv: (order[kv[0][0]], kv[0][2], kv[0][1])):
        row = uinfo.loc[uid]
        chars = _covered(rec["intervals"])
        ulen = max(int(row["end"]) - int(row["start"]), 1)
        records.append({"id": uid, "theme_id": theme, "coder": coder, "doc_id": row["doc_id"],
                        "unit_start": int(row["start"]), "unit_end": int(row["end"]),
                        "overlap_chars": chars, "unit_coverage": chars / ulen,
                        "span_coverage": rec["span_cov"], "n_spans": len(rec["spans"]),
                        "span_ids": "; ".join(rec["spans"])})
    out = pd.DataFrame(records, columns=ALIGN_COLUMNS)
    out = out.astype({"unit_start": "int64", "unit_end": "int64", "overlap_chars": "int64",
                      "n_spans": "int64", "unit_coverage": float, "span_coverage": float})
    if not has_coder:
        out = out.drop(columns="coder")
    if "text" in u.columns:
        out["text"] = out["id"].map(uinfo["text"])
    coded = set(out["id"])
    uncoded = [x for x, d in zip(u["unit_id"], u["doc_id"]) if d in human_docs and x not in coded]
    unaligned = [s for s, used in span_used.items() if not used]
    out.attrs["uncoded_units"] = uncoded
    out.attrs["unaligned_spans"] = unaligned
    out.attrs["summary"] = {
        "rule": (f"a span codes a unit when the overlap covers >= {min_overlap:g} of the "
                 f"unit's characters or >= {min_overlap:g} of the span's characters"),
        "min_overlap": float(min_overlap),
        "n_spans": int(len(span_used)),
        "n_spans_aligned": int(len(span_used) - len(unaligned)),
        "n_units": int(sum(d in human_docs for d in u["doc_id"])),
        "n_units_coded": int(len(coded)),
        "n_units_uncoded": int(len(uncoded)),
        "documents_not_in_units": sorted(human_docs - unit_docs),
    }
    return out


def _doc_lengths(lengths: Any) -> dict[str, int] | None:
    import pandas as pd

    if lengths is None:
        return None
    if isinstance(lengths, pd.DataFrame):
        key = next((c for c in ("doc_id", "name", "id", "source") if c in lengths.columns), None)
        if key is None or "text" not in lengths.columns:
            raise InputError("lengths as a table needs a doc_id (or name) and a text column",
                             fix="pass {doc_id: n_characters}, a Corpus, or "
                                 "QdaProject.sources")
        return {str(k): len(str(t)) for k, t in zip(lengths[key], lengths["text"])}
    if isinstance(lengths, dict) or hasattr(lengths, "items"):
        return {str(k): int(v) for k, v in lengths.items()}
    try:
        return {str(t.id): len(t.text) for t in lengths}
    except (AttributeError, TypeError) as exc:
        raise InputError(f"cannot read document lengths from a {type(lengths).__name__}",
                         fix="pass {doc_id: n_characters}, a Corpus, or "
                             "QdaProject.sources") from exc


def character_agreement(human: Any, machine_spans: Any, *, lengths: Any = None,
                        units: Any = None, doc_column: str = "doc_id") -> pd.DataFrame:
    """NVivo-style character-level agreement per source and theme.

    Parameters
    ----------
    human, machine_spans : pandas.DataFrame or path
        Span tables (``doc_id`` or ``source``, ``start``, ``end``, ``theme_id``), side ``a``
        and ``b``. ``machine_spans`` may instead be keyed by unit ids (``unit_id`` or ``id``,
        ``theme_id``, e.g. :func:`themesift.suggest_units`'s table) when ``units`` is given:
        each unit then codes its own characters.
    lengths : mapping, Corpus or DataFrame, optional
        Number of characters per document (``{doc_id: n}``, a :class:`themesift.Corpus`, or a
        table with ``doc_id``/``name`` and ``text`` such as ``QdaProject.sources``). Without
        it a document's length is the largest ``end`` in either table, which leaves out the
        uncoded tail and so understates agreement on "not coded"; pass it when you can.
    units : pandas.DataFrame, optional
        Units table, to turn a unit-keyed ``machine_spans`` into spans.
    doc_column : str
        Document column (``source`` is used when it is absent).

    Returns
    -------
    pandas.DataFrame
        One row per (source, theme) coded by either side in that source: ``source``,
        ``theme_id``, ``n_chars`` (document length), ``chars_a``, ``chars_b``, ``chars_both``
        (characters coded with the theme; overlapping spans count once), the NVivo
        percentages ``agreement_pct`` (both coded + both not coded), ``a_and_b_pct``,
        ``not_a_and_not_b_pct``, ``disagreement_pct``, ``a_not_b_pct``, ``b_not_a_pct``, and
        ``kappa``: Cohen's kappa over characters, ``(po - pe) / (1 - pe)`` with ``po`` the
        agreement share and ``pe = pa*pb + (1-pa)(1-pb)``. Where ``pe`` is 1 kappa is NaN
        (NVivo shows 1 there when the sides agree completely).

    Raises
    ------
    themesift.errors.InputError
        Missing columns, bad spans, a span past the end of its document, several coders on
        one side.

    Examples
    --------
    >>> import pandas as pd
    >>> a = pd.DataFrame({"doc_id": ["d"], "start": [0], "end": [50], "theme_id": ["x"]})
    >>> b = pd.DataFrame({"doc_id": ["d"], "start": [25], "end": [75], "theme_id": ["x"]})
    >>> r = character_agreement(a, b, lengths={"d": 100})
    >>> float(r["agreement_pct"][0]), float(r["kappa"][0])
    (50.0, 0.0)
    """
    import pandas as pd

    sa = _span_frame(human, "A", doc_column)
    sb = _span_frame(machine_spans, "B", doc_column, units=units)
    for s, name in ((sa, "A"), (sb, "B")):
        if "coder" in s and len(set(s["coder"])) > 1:
            raise InputError(f"span table {name} holds {len(set(s['coder']))} coders; "
                             "character_agreement takes one coder per table",
                             fix="split the table by coder")
    given = _doc_lengths(lengths)
    docs = list(dict.fromkeys(list(sa["doc"]) + list(sb["doc"])))
    rows = []
    for d in docs:
        ga, gb = sa[sa["doc"] == d], sb[sb["doc"] == d]
        far = int(max(ga["end"].max() if len(ga) else 0, gb["end"].max() if len(gb) else 0))
        if given is not None:
            if d not in given:
                raise InputError(f"no length given for document '{d}'",
                                 fix="include every document of both tables in lengths")
            n = given[d]
            if far > n:
                raise InputError(f"a span in document '{d}' ends at character {far}, past the "
                                 f"document's length {n}",
                                 fix="check that the offsets refer to the same text")
        else:
            n = far
        for theme in sorted(set(ga["theme"]) | set(gb["theme"])):
            ma = np.zeros(n, dtype=bool)
            mb = np.zeros(n, dtype=bool)
            for s, e in zip(ga.loc[ga["theme"] == theme, "start"],
                            ga.loc[ga["theme"] == theme, "end"]):
                ma[s:e] = True
            for s, e in zip(gb.loc[gb["theme"] == theme, "start"],
                            gb.loc[gb["theme"] == theme, "end"]):
                mb[s:e] = True
            both = int((ma & mb).sum())
            neither = int((~ma & ~mb).sum())
            a_only = int((ma & ~mb).sum())
            b_only = int((~ma & mb).sum())
            pa, pb = ma.mean(), mb.mean()
            po = (both + neither) / n
            pe = pa * pb + (1 - pa) * (1 - pb)
            kappa = float("nan") if np.isclose(pe, 1.0) else float((po - pe) / (1 - pe))
            rows.append({
                "source": d, "theme_id": theme, "n_chars": n, "chars_a": int(ma.sum()),
                "chars_b": int(mb.sum()), "chars_both": both,
                "agreement_pct": 100.0 * po, "a_and_b_pct": 100.0 * both / n,
                "not_a_and_not_b_pct": 100.0 * neither / n,
                "disagreement_pct": 100.0 * (a_only + b_only) / n,
                "a_not_b_pct": 100.0 * a_only / n, "b_not_a_pct": 100.0 * b_only / n,
                "kappa": kappa,
            })
    return pd.DataFrame(rows, columns=[
        "source", "theme_id", "n_chars", "chars_a", "chars_b", "chars_both", "agreement_pct",
        "a_and_b_pct", "not_a_and_not_b_pct", "disagreement_pct", "a_not_b_pct", "b_not_a_pct",
        "kappa"])


# --------------------------------------------------------------------------------------------
# Theme-level comparison for inductive runs: candidate codes vs human themes (issue 5, item 3)
# --------------------------------------------------------------------------------------------


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
        return _jsonable({
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
            "## Summary", "", _md_table(summ), "",
            "## Human themes", "", _md_table(self.themes.set_index("theme_id"), "theme"), "",
            "## Machine codes (many-to-one: each code to its majority theme)", "",
            _md_table(self.codes.set_index("code_id"), "code"), "",
            "## One-to-one matching (Hungarian, on shared units)", "",
            _md_table(self.matching.set_index("code_id"), "code") if len(self.matching)
            else "No code shares a unit with a theme.", "",
            "## Contingency (rows: codes, columns: human themes)", "",
            _md_table(self.contingency, "code \\ theme"), "",
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
        uid = _norm_id(u)
        if uid in code_of and code_of[uid] != str(c):
            raise InputError(f"unit {uid} is assigned to two codes ({code_of[uid]}, {c})",
                             fix="pass one code per unit")
        code_of[uid] = str(c)

    if (units is not None and isinstance(human, pd.DataFrame)
            and {"start", "end"} <= set(human.columns)
            and not set(human.get("id", pd.Series(dtype=str)).astype(str)) & set(code_of)):
        human = align_spans(human, units)
    th = _load(human, "human", "id", label_column, "coder")
    if "coder" in th.frame and len(set(th.frame["coder"])) > 1:
        raise InputError(f"{th.name} holds several coders; compare_codes takes one",
                         path=th.path, fix="split the table by coder")
    sets = _label_sets(th.frame)
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
        return real[0] if real else _first(labs)

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
