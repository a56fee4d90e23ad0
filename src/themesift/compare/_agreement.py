"""Two coding tables, human vs machine or two humans: :func:`compare` and its
:class:`AgreementReport` (summary statistics with bootstrap intervals, per-theme figures,
confusion matrix, disagreements)."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from os import PathLike
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:  # pandas loads when a comparison is made, to keep `import themesift` fast
    import pandas as pd

from ..errors import InputError, MissingDependencyError
from ._coders import CoderAgreement, compare_coders
from ._format import jsonable, md_table
from ._spans import align_spans
from ._stats import pair_stats
from ._tables import first_label, label_sets, load_coding_table, read_table_file, rows_text

STATS = ("percent_agreement", "cohen_kappa", "krippendorff_alpha", "gwet_ac1")
_CHUNK = 200  # bootstrap replicates drawn at a time (bounded memory)
logger = logging.getLogger(__name__)


def _pyplot():
    try:
        import matplotlib.pyplot as plt
    except ImportError:
        raise MissingDependencyError("matplotlib (for plots)", "pip install matplotlib") from None
    return plt


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
    warnings : tuple of str
        What makes the figures doubtful, e.g. two tables that share no theme label; shown at
        the top of :meth:`to_markdown`.
    """

    summary: dict[str, Any]
    per_theme: pd.DataFrame
    confusion: pd.DataFrame
    disagreements: pd.DataFrame
    multilabel: dict[str, Any]
    only_a_ids: tuple[str, ...] = field(default=())
    only_b_ids: tuple[str, ...] = field(default=())
    warnings: tuple[str, ...] = field(default=())

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
        return jsonable({
            "summary": self.summary,
            "per_theme": per_theme,
            "confusion": confusion,
            "disagreements": self.disagreements.to_dict("records"),
            "multilabel": self.multilabel,
            "only_a_ids": list(self.only_a_ids),
            "only_b_ids": list(self.only_b_ids),
            "warnings": list(self.warnings),
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
            *(f"**Warning:** {w}\n" for w in self.warnings),
            f"Statistics on {s['n']} units coded by both sides; {rule}.",
            "",
            "## Summary",
            "",
            md_table(summ),
            "",
            md_table(counts),
            "",
            "## Set-level agreement",
            "",
            md_table(pd.DataFrame({"value": list(self.multilabel.values())},
                                   index=pd.Index(list(self.multilabel), name="figure"))),
            "",
            "## Per theme (a = reference)",
            "",
            md_table(self.per_theme, "theme"),
            "",
            "## Confusion (rows: a, columns: b; first label in sorted order per unit)",
            "",
            md_table(self.confusion, "a \\ b"),
            "",
        ]
        d = self.disagreements
        parts += [f"## Disagreements ({len(d)})", ""]
        if len(d):
            shown = d.head(max_disagreements).set_index("id")
            parts += [md_table(shown, "id"), ""]
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
        return pair_stats(conf.reshape(-1, k, k))
    per = pair_stats(_binary_confusions(weights, ind_a, ind_b))
    return {name: _nanmean(v) for name, v in per.items()}


def _nanmean(values: np.ndarray) -> np.ndarray:
    """Mean over the last axis ignoring NaN (NaN, without a warning, when all are NaN)."""
    values = np.asarray(values, dtype=float)
    ok = np.isfinite(values)
    count = ok.sum(axis=-1)
    total = np.where(ok, values, 0.0).sum(axis=-1)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(count > 0, total / np.maximum(count, 1), np.nan)


def _is_qdpx(table: Any) -> bool:
    """A REFI-QDA project: a QdaProject or a path to a .qdpx file."""
    return hasattr(table, "to_coding_table") or (
        isinstance(table, (str, PathLike)) and str(table).lower().endswith(".qdpx"))


def _is_span_table(table: Any) -> bool:
    """A coding of character spans (``start`` and ``end``, no ``unit_id``), or a REFI-QDA
    project, rather than a coding table keyed by unit ids."""
    import pandas as pd

    if _is_qdpx(table):
        return True
    if isinstance(table, (str, PathLike)):
        try:
            columns = set(read_table_file(table, "coding table").columns)
        except InputError:  # unreadable: load_coding_table reports it properly
            return False
    elif isinstance(table, pd.DataFrame):
        columns = set(table.columns)
    else:
        return False
    return {"start", "end"} <= columns and "unit_id" not in columns


def _on_units(table: Any, units: Any, min_overlap: float, mapping: Any) -> Any:
    """``table`` aligned to the meaning units when it codes character spans; else as it is."""
    if table is None or not _is_span_table(table):
        return table
    if isinstance(table, (str, PathLike)) and _is_qdpx(table):
        from ..ingest import read_qdpx

        table = read_qdpx(table)
    if hasattr(table, "to_coding_table"):
        if table.codings.empty:
            raise InputError(
                f"The .qdpx has no codings ({len(table.sources)} sources, {len(table.codebook)} "
                "codes), so there is nothing to compare", path=table.path,
                fix="Export the project again from the QDA program after coding the "
                    "transcripts (codes applied to text, not only the codebook)")
        table = table.to_coding_table(mapping)
    return align_spans(table, units, min_overlap=min_overlap)


def _label_warnings(ta: Any, tb: Any) -> tuple[str, ...]:
    """A warning when the two tables share no theme label: every unit then disagrees."""
    a, b = sorted(set(ta.frame["theme"])), sorted(set(tb.frame["theme"]))
    if set(a) & set(b):
        return ()
    return (f"The two tables share no theme label: {ta} uses {rows_text(a, 5)}; "
            f"{tb} uses {rows_text(b, 5)}. Every unit counts as a disagreement, so "
            "the figures say nothing. If the tables name the same themes differently (code "
            "names against theme ids), rename one table's labels to the other's, or compare a "
            ".qdpx through a mapping of its codes to theme ids (themesift compare --mapping "
            "MAP.csv, or ts.compare(..., mapping=)).",)


def compare(
    human: Any,
    machine: Any = None,
    *,
    units: Any = None,
    min_overlap: float = 0.5,
    mapping: Any = None,
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
    mapping : mapping, optional
        With ``units``, for a ``.qdpx`` or :class:`~themesift.QdaProject`: code names or paths
        to theme ids, as :meth:`QdaProject.to_coding_table` takes it. A code the mapping does
        not name takes the theme of its nearest mapped ancestor (a candidate code filed under
        a theme counts as that theme); codes left unmapped keep their names, with a warning.
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
    present/absent statistic per theme. See the docstring of :mod:`themesift.compare` for all rules.

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

    if mapping and not (_is_qdpx(human) or _is_qdpx(machine)):
        raise InputError("A mapping maps the codes of a .qdpx, and neither table is one",
                         fix="Leave the mapping out, or rename the labels in the table itself")
    if units is not None:
        aligned = (_on_units(human, units, min_overlap, mapping),
                   _on_units(machine, units, min_overlap, mapping))
        if aligned[0] is not human or aligned[1] is not machine:
            id_column = "id"  # align_spans keys its rows by the machine's unit ids
        human, machine = aligned
    if machine is None:
        return compare_coders(human, id_column=id_column, label_column=label_column,
                              coder_column=coder_column)
    ta = load_coding_table(human, "A", id_column, label_column, coder_column)
    tb = load_coding_table(machine, "B", id_column, label_column, coder_column)
    for t in (ta, tb):
        if "coder" in t.frame:
            coders = sorted(set(t.frame["coder"]))
            if len(coders) > 1:
                raise InputError(
                    f"{t.name} holds {len(coders)} coders ({', '.join(coders[:5])}); compare() "
                    "takes one coder per table", path=t.path,
                    fix="Split the table by coder, or call compare_coders(table) for all of "
                        "them at once")
    warnings = _label_warnings(ta, tb)
    for warning in warnings:
        logger.warning("%s", warning)
    sets_a = label_sets(ta.frame)
    sets_b = label_sets(tb.frame)
    common = [u for u in sets_a if u in sets_b]
    only_a = [u for u in sets_a if u not in sets_b]
    only_b = [u for u in sets_b if u not in sets_a]
    if not common:
        raise InputError(
            f"The two tables share no unit ids: {ta} has ids like "
            f"{', '.join(list(sets_a)[:3])}; {tb} has ids like "
            f"{', '.join(list(sets_b)[:3])}",
            fix="Check that both tables code the same units with the same ids (and the "
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

    first_a = [first_label(sets_a[u]) for u in common]
    first_b = [first_label(sets_b[u]) for u in common]
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
    per = pair_stats(_binary_confusions(np.ones((1, n)), ind_a, ind_b))
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
                           only_a_ids=tuple(only_a), only_b_ids=tuple(only_b),
                           warnings=warnings)
