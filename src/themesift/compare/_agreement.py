"""Two coding tables, human vs machine or two humans: :func:`compare` and its
:class:`AgreementReport` (summary statistics with bootstrap intervals, per-theme figures,
confusion matrix, disagreements)."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field, replace
from os import PathLike
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:  # pandas loads when a comparison is made, to keep `import themesift` fast
    import pandas as pd

from ..errors import InputError, MissingDependencyError
from ..text import counted
from ._coders import CoderAgreement, coder_agreement
from ._format import jsonable, md_table
from ._spans import align_spans
from ._stats import STATS, SetPairs, nanmean
from ._tables import (
    CodingTable,
    alike_labels_warning,
    is_qdpx,
    is_span_table,
    label_sets,
    load_coding_table,
    none_beside_theme,
    none_beside_theme_warning,
    norm_id,
    project_codings,
    read_table_file,
    rows_text,
    set_text,
    source_of,
)

#: Bootstrap replicates for the 95% intervals, wherever themesift compares codings (compare's
#: default, the command line, the HTML report), so that one comparison gets one interval.
BOOTSTRAP = 1000
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
        ``percent_agreement`` (share of the shared units whose whole set of themes is the same
        on both sides), ``cohen_kappa``, ``krippendorff_alpha``, ``gwet_ac1`` (single-label:
        the ordinary statistics; multi-label: the mean over themes of the present/absent
        statistic), ``n`` (units coded by both sides), each statistic's 95% bootstrap interval
        as ``<name>_ci = (lo, hi)`` (``None`` when ``bootstrap=0``), ``only_a`` / ``only_b``
        (units coded by one side only), ``left_out_a`` / ``left_out_b`` (units in documents
        the other side did not code at all, left out of every figure), ``unaligned_spans_a``
        / ``unaligned_spans_b`` (coded spans that reached no meaning unit),
        ``none_overruled_a`` / ``none_overruled_b`` (units coded a theme and ``none``, which
        count as the theme), ``rule`` (which rule the statistics follow) and
        ``exact_set_agreement`` (the same as ``percent_agreement``; kept for older code).
        Where a side's coded spans were carried onto units (``units=``): ``span_rule`` and
        ``min_overlap`` (the overlap rule of :func:`align_spans`) and ``uncoded_units_a`` /
        ``uncoded_units_b`` (units of the documents that side coded that no span reached).
    per_theme : pandas.DataFrame
        Indexed by theme: ``precision``, ``recall``, ``f1``, ``support`` (``a`` is the
        reference), ``kappa``, ``alpha``, ``ac1``, ``agreement`` (present/absent per theme over
        the shared units), ``n_a``, ``n_b`` (units given the theme by each side).
    confusion : pandas.DataFrame
        Single-label view, rows ``a``'s label, columns ``b``'s label, of the units with one
        theme on each side (units with several themes on either side are left out, and a
        warning counts them).
    disagreements : pandas.DataFrame
        ``id``, ``kind`` (``"disagree"``, ``"only_a"``, ``"only_b"``), ``a_themes``,
        ``b_themes`` (themes joined by ``"; "``) and ``text`` when either input had one.
        :meth:`to_markdown` counts as disagreements the ``"disagree"`` rows alone (units both
        sides coded differently) and lists the units one side alone coded apart.
    multilabel : dict
        ``mode`` (``"single-label"`` or ``"multi-label"``: which rule the summary used),
        ``exact_set_agreement``, ``mean_jaccard``, the per-theme means ``macro_*``
        (``macro_percent_agreement``: the present/absent agreement averaged over themes, which
        the many themes a unit lacks inflate) and the numbers of multi-label units on each
        side.
    only_a_ids, only_b_ids : tuple of str
        The units coded by only one side.
    warnings : tuple of str
        What makes the figures doubtful or what they leave out, e.g. two tables that share no
        theme label, coded spans that reached no unit, documents only one side coded; shown
        at the top of :meth:`to_markdown` (and logged, but for the confusion matrix's note).
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
        rows = [(name, s[name], s.get(f"{name}_ci"),
                 "the whole set of themes identical" if multi and name == "percent_agreement"
                 else how)
                for name in STATS]
        summ = pd.DataFrame(rows, columns=["statistic", "value", "95% CI", "rule"]
                            ).set_index("statistic")
        shown = ["n", "only_a", "only_b"] + [
            k for k in ("left_out_a", "left_out_b", "unaligned_spans_a", "unaligned_spans_b",
                        "uncoded_units_a", "uncoded_units_b", "none_overruled_a",
                        "none_overruled_b") if s.get(k)]
        counts = pd.DataFrame({"value": [s[k] for k in shown]},
                              index=pd.Index(shown, name="count"))
        rule = ("single-label coding: each statistic compares the one theme of each unit"
                if not multi else
                "multi-label coding: percent_agreement counts a unit when its whole set of "
                "themes matches; kappa, alpha and AC1 are each the mean over themes of the "
                "present/absent statistic of that theme (a unit coded hope and relationships "
                "by one side and hope by the other agrees on every theme but relationships)")
        parts = [
            "# Agreement report",
            "",
            *(f"**Warning:** {w}\n" for w in self.warnings),
            f"Statistics on {s['n']} units coded by both sides; {rule}.",
            "",
            *([f"Coded spans were carried onto the meaning units: {s['span_rule']} "
               f"(min_overlap {s['min_overlap']:g}).", ""] if "span_rule" in s else []),
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
            "## Confusion (rows: a, columns: b; units with one theme on each side)",
            "",
            md_table(self.confusion, "a \\ b"),
            "",
        ]
        d = self.disagreements
        # units both sides coded differently; those one side alone coded are no disagreement
        # (115 units only the machine coded must not read as 115 disagreements)
        differ, one_side = d[d["kind"] == "disagree"], d[d["kind"] != "disagree"]
        parts += [f"## Disagreements ({len(differ)})", ""]
        parts += (_rows_md(differ.drop(columns="kind"), max_disagreements) if len(differ)
                  else ["None.", ""])
        if len(one_side):
            n_a, n_b = (int((one_side["kind"] == k).sum()) for k in ("only_a", "only_b"))
            parts += [f"## Coded by one side only ({len(one_side)}: {n_a} only by a, {n_b} "
                      "only by b; not in the statistics)", ""]
            parts += _rows_md(one_side, max_disagreements)
        return "\n".join(parts)


def _rows_md(rows: pd.DataFrame, most: int) -> list[str]:
    """Up to ``most`` rows as a markdown table, and how many more there are (nothing when
    ``most`` is 0: the heading's count says it)."""
    shown = rows.head(max(most, 0)).set_index("id")
    if not len(shown):
        return []
    more = [f"... and {len(rows) - len(shown)} more.", ""] if len(rows) > len(shown) else []
    return [md_table(shown, "id"), "", *more]


def _on_units(table: Any, units: Any, min_overlap: float, label_column: str,
              coder_column: str) -> Any:
    """``table`` aligned to the meaning units when it codes character spans; else as it is."""
    if table is None or not is_span_table(table):
        return table
    return align_spans(table, units, min_overlap=min_overlap, label_column=label_column,
                       coder_column=coder_column)


def _label_warnings(ta: Any, tb: Any) -> tuple[str, ...]:
    """A warning naming labels that differ only in case or spacing
    (:func:`alike_labels_warning`), and one when the two tables, each with two labels or more, share no theme label (every
    unit then disagrees: most likely the same themes named two ways; a side with one label, as
    a study's first decisions often are, is no sign of that)."""
    a, b = sorted(set(ta.frame["theme"])), sorted(set(tb.frame["theme"]))
    warnings = list(alike_labels_warning(a + b, "in both tables"))
    if not set(a) & set(b) and len(a) > 1 and len(b) > 1:
        warnings.append(
            f"The two tables share no theme label: {ta} uses {rows_text(a, 5)}; "
            f"{tb} uses {rows_text(b, 5)}. Every unit counts as a disagreement. If the "
            "tables name the same themes differently (code "
            "names against theme ids), rename one table's labels to the other's, or compare a "
            ".qdpx through a mapping of its codes to theme ids (themesift compare --mapping "
            "MAP.csv, or ts.compare(..., mapping=)).")
    return tuple(warnings)


def _alignment(table: Any, coder: str | None) -> dict[str, Any]:
    """What :func:`align_spans` noted about ``table`` (of ``coder`` alone, when one is picked):
    ``documents`` (those coded), ``unaligned_spans``, ``unaligned_reasons``,
    ``uncoded_units``, ``none_overruled`` and ``summary``; empty for a table not aligned."""
    attrs = getattr(table, "attrs", {})
    if coder is None:
        return attrs
    return {**attrs, **attrs.get("by_coder", {}).get(coder, {})}


#: Why coded spans reached no meaning unit (align_spans' reasons), and what to do about it.
_UNALIGNED = {
    "document": ("in a document the units do not have", "check that the doc_id (or source) "
                 "values are the transcript ids of the units' doc_id"),
    "no unit": ("where no meaning unit is (a moderator's question, a back-channel or other "
                "talk not cut into units)", "nothing to do, unless that talk should be a unit"),
    "overlap": ("overlapping units by less than the min_overlap share of the unit and of the "
                "span", "lower min_overlap (themesift compare --min-overlap) to count them, or "
                "check that the offsets refer to the transcript text the units were cut from"),
}


def _unaligned_warning(spans: list[str], reasons: dict[str, str], side: str
                       ) -> tuple[str, ...]:
    """A warning about the coded spans of one side that reached no meaning unit, so that
    they count nowhere in the figures, grouped by why."""
    if not spans:
        return ()
    groups: dict[str, list[str]] = {}
    for span in spans:
        groups.setdefault(reasons.get(span, "overlap"), []).append(span)
    said = "; ".join(f"{len(group)} {_UNALIGNED[why][0]} ({rows_text(group, 5)}): "
                     f"{_UNALIGNED[why][1]}" for why, group in groups.items())
    one = len(spans) == 1
    return (f"{counted(len(spans), 'coded span')} of {side} "
            f"{'reaches' if one else 'reach'} no meaning unit, so "
            f"{'it counts' if one else 'they count'} nowhere in the figures: {said}.",)


def _alignment_summary(alignment: dict[str, Any], suffix: str) -> dict[str, Any]:
    """How a side's coded spans were carried onto the units, for a report's summary: the
    overlap rule and ``min_overlap``, and the units of the documents coded that no span
    reached (``uncoded_units`` + ``suffix``)."""
    return {"span_rule": alignment["summary"]["rule"],
            "min_overlap": alignment["summary"]["min_overlap"],
            f"uncoded_units{suffix}": len(alignment.get("uncoded_units", ()))}


def _undefined_warning(pairs: SetPairs, kappa: np.ndarray) -> tuple[str, ...]:
    """Multi-label: a warning naming the themes whose kappa and alpha are undefined (chance
    agreement 1; ``kappa`` per theme), which the means over themes leave out, where AC1's
    mean keeps them."""
    undefined = [t for t, k in zip(pairs.themes, kappa) if not np.isfinite(k)]
    if not pairs.multi or not undefined:
        return ()
    n = len(pairs.themes)
    means = ("Kappa and alpha are undefined for every theme" if len(undefined) == n else
             f"Kappa and alpha are the means over {n - len(undefined)} of the {n} themes")
    return (f"{means}: for {rows_text(undefined, 5)} chance agreement is 1 (both sides gave "
            f"it to every shared unit), where they are undefined. AC1 is the mean over all {n}.",)


def _documents_of(units: Any, tables: tuple[CodingTable, CodingTable]) -> dict[str, str]:
    """Each unit id's document, from the units table and the tables' doc_id columns."""
    doc_of: dict[str, str] = {}
    for t in tables:
        if "doc" in t.frame:
            doc_of.update((u, d) for u, d in zip(t.frame["id"], t.frame["doc"]) if d)
    if units is not None and {"unit_id", "doc_id"} <= set(units.columns):
        doc_of.update((norm_id(u), str(d).strip()) for u, d in zip(units["unit_id"],
                                                                   units["doc_id"]))
    return doc_of


def _in_shared_documents(sets: tuple[dict, dict], coded: tuple[set, set],
                         tables: tuple[CodingTable, CodingTable], doc_of: dict[str, str]
                         ) -> tuple[tuple[dict, dict], tuple[int, int], tuple[str, ...]]:
    """Each side's units without those in documents the other side coded nothing of.

    ``coded``: the documents each side coded (known from align_spans, or from the documents of
    its units). Returns the kept label sets, the numbers left out and the warnings."""
    docs = [c | {doc_of[u] for u in s if u in doc_of} for s, c in zip(sets, coded)]
    if not (docs[0] and docs[1]):  # a side whose documents are unknown: keep everything
        return sets, (0, 0), ()
    shared = docs[0] & docs[1]
    if not shared:
        raise InputError(
            f"The two tables code no document in common: {tables[0]} codes "
            f"{rows_text(sorted(docs[0]), 3)}; {tables[1]} codes {rows_text(sorted(docs[1]), 3)}",
            fix="Compare codings of the same transcripts (the doc_id values must be the "
                "transcript ids)")
    kept = tuple({u: v for u, v in s.items() if u not in doc_of or doc_of[u] in shared}
                 for s in sets)
    left_out = (len(sets[0]) - len(kept[0]), len(sets[1]) - len(kept[1]))
    warnings = tuple(
        f"{counted(n, 'unit')} of {t} in documents that {other} did not code at all "
        f"({rows_text(sorted(d - shared), 5)}) are left out of every figure (left_out_{t.side.lower()}); "
        f"the comparison covers the documents both coded: {rows_text(sorted(shared), 5)}."
        for n, t, other, d in ((left_out[0], tables[0], tables[1].side, docs[0]),
                               (left_out[1], tables[1], tables[0].side, docs[1])) if n)
    return kept, left_out, warnings


def _one_coder(t: CodingTable, coder: str | None) -> CodingTable:
    """``t`` with the codings of ``coder`` only (``coder=`` / ``--coder``); an error naming
    the file and the option when ``t`` holds several coders and none is picked."""
    coders = sorted(set(t.frame["coder"])) if "coder" in t.frame else []
    where = f"Table {t.side}" + (f" ({t.source})" if t.source else "")
    if coder is not None and t.side == "A":
        if not coders:
            raise InputError(f"{where} names no coders, so there is no coder {coder!r} to pick",
                             fix="Leave --coder (coder=) out to compare the whole table, or "
                                 "name each row's coder in a coder column (coder_column= in "
                                 "Python)")
        if coder not in coders:
            raise InputError(f"{where} has no codings by the coder {coder!r}",
                             fix=f"Pick one of its coders: {', '.join(coders)}")
        return replace(t, frame=t.frame[t.frame["coder"] == coder])
    if len(coders) > 1:
        pick = ("pick one with --coder NAME on the command line (coder='NAME' in Python), "
                if t.side == "A" else "make it table A and pick one with --coder NAME "
                "(coder='NAME' in Python), split it by coder, ")
        raise InputError(
            f"{where} holds {len(coders)} coders ({rows_text(coders, 5)}); compare() takes one "
            "coder per table", fix=f"To compare one of them, {pick}or compare all of them "
            f"with each other: themesift compare {t.source or 'TABLE'} (compare_coders(table) "
            "in Python)")
    return t


def _bootstrap(pairs: SetPairs, n: int, bootstrap: int, seed: int) -> dict[str, Any]:
    """The 95% percentile interval of each statistic (None when switched off or undefined)."""
    if not bootstrap or bootstrap <= 0:
        return {f"{name}_ci": None for name in STATS}
    rng = np.random.default_rng(seed)
    draws: dict[str, list[np.ndarray]] = {name: [] for name in STATS}
    for done in range(0, bootstrap, _CHUNK):
        size = min(_CHUNK, bootstrap - done)
        res = pairs.stats(rng.multinomial(n, np.full(n, 1.0 / n), size=size).astype(float))
        for name in STATS:
            draws[name].append(res[name])
    out = {}
    for name in STATS:
        vals = np.concatenate(draws[name])
        vals = vals[np.isfinite(vals)]
        out[f"{name}_ci"] = ((float(np.percentile(vals, 2.5)), float(np.percentile(vals, 97.5)))
                             if len(vals) else None)
    return out


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
    coder: str | None = None,
    bootstrap: int = BOOTSTRAP,
    seed: int = 0,
) -> AgreementReport | CoderAgreement:
    """Agreement between two coding tables (human vs machine, or two humans).

    Parameters
    ----------
    human, machine : pandas.DataFrame, path or QdaProject
        Coding tables ``a`` and ``b`` (.csv or .xlsx paths are read with pandas): columns
        ``id`` (``unit_id`` is used when ``id`` is absent) and ``theme_id``; several rows per
        id mean several themes; ``none`` is a legal theme. ``a`` (the first) is the reference
        for precision and recall. A :class:`~themesift.QdaProject` or ``.qdpx`` path stands
        for its coding table (:meth:`QdaProject.to_coding_table`, one id per coded span).
        With ``machine`` left out, ``human`` must hold two or more coders (a ``coder``
        column, or a ``.qdpx`` coded by several users) and the result is
        :func:`compare_coders`'s.
    units : pandas.DataFrame, optional
        The machine's meaning units (``unit_id, doc_id, start, end``; units.csv of a run).
        A table that codes character spans (``doc_id`` or ``source``, ``start``, ``end``, as
        NVivo exports them, or a :class:`~themesift.QdaProject` / ``.qdpx``) is first carried
        onto these units with :func:`align_spans`, so that it can be compared with a coding
        of the units (the command line's ``--units``). Units also tell each unit's document:
        units of documents one side did not code at all are left out (``left_out_a`` /
        ``left_out_b``), as they are when the tables carry a ``doc_id`` column.
    min_overlap : float
        With ``units``: the overlap rule of :func:`align_spans`.
    mapping : mapping, optional
        For a ``.qdpx`` or :class:`~themesift.QdaProject`: code names or paths
        to theme ids, as :meth:`QdaProject.to_coding_table` takes it. A code the mapping does
        not name takes the theme of its nearest mapped ancestor (a candidate code filed under
        a theme counts as that theme); codes left unmapped keep their names, with a warning.
    id_column, label_column, coder_column : str
        Column names; a table without the id or label column named is read by themesift's
        own names (``id`` or ``unit_id``, ``theme_id``), so a hand coding with columns of its
        own compares with a run's ``unit_suggestions.csv``. ``id_column="text"`` matches the
        units of both tables by their words (a hand coding of copied quotes against
        ``unit_suggestions.csv``): case, spacing and curly quotes aside, and units that say the
        same words are one unit (a warning counts such texts).
    coder : str, optional
        Compare only this coder's codings of table ``a`` (for a table or ``.qdpx`` holding
        several coders; the command line's ``--coder``).
    bootstrap : int
        Bootstrap replicates (units resampled with replacement) for the 95% percentile
        intervals; 0 switches them off. The default, :data:`BOOTSTRAP`, is what the command
        line and the HTML report use.
    seed : int
        Seed of the bootstrap; the same seed gives the same intervals.

    Returns
    -------
    AgreementReport

    Raises
    ------
    themesift.errors.InputError
        Missing columns (the message lists the columns present), empty ids or themes, duplicate
        (id, theme) rows (with their row numbers), a table holding several coders (unless
        ``coder`` picks one of table ``a``'s), no unit id or no document shared by the two
        tables.

    Notes
    -----
    Statistics are on the units both sides coded. ``percent_agreement`` is the share of those
    units whose whole set of themes is the same on both sides (with one theme per unit: the
    ordinary percent agreement), so it is not inflated by the many themes a unit lacks. Kappa,
    alpha and AC1: single-label data, the ordinary Cohen's kappa, Krippendorff's alpha
    (nominal) and Gwet's AC1; multi-label data (any shared unit with 2+ themes on either
    side), the mean over themes of the present/absent statistic of each theme. Nothing
    depends on how the themes are spelled. :func:`compare_coders` gives each pair of coders
    the same figures. See the docstring of :mod:`themesift.compare` for all rules.

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

    if mapping and not (is_qdpx(human) or is_qdpx(machine)):
        raise InputError("A mapping maps the codes of a .qdpx, and neither table is one",
                         fix="Leave the mapping out, or rename the labels in the table itself")
    if coder is not None and machine is None:
        raise InputError(f"coder={coder!r} picks one coder of table A to compare with table B, "
                         "and there is no table B", fix="Give a second table, or leave coder "
                         "(--coder) out to compare all the coders of one table")
    sources = (source_of(human), source_of(machine))
    human, machine = project_codings(human, mapping, coder), project_codings(machine, mapping)
    said = tuple(w for t in (human, machine) for w in getattr(t, "attrs", {}).get("warnings", ()))
    columns = [(id_column, label_column, coder_column)] * 2  # per table
    if units is not None:
        aligned = [_on_units(t, units, min_overlap, label_column, coder_column)
                   for t in (human, machine)]
        for i, given in enumerate((human, machine)):
            if aligned[i] is not given:  # keyed by the machine's unit ids, as align_spans names
                columns[i] = ("id", "theme_id", "coder")
                said += tuple(aligned[i].attrs["warnings"])  # align_spans logged them
        human, machine = aligned
    alignment = (_alignment(human, coder), _alignment(machine, None))
    unaligned = [list(a.get("unaligned_spans", ())) for a in alignment]
    warnings = said + sum((_unaligned_warning(spans, a.get("unaligned_reasons", {}),
                                              f"{side} ({source})" if source else side)
                           for spans, a, side, source in zip(unaligned, alignment, "AB",
                                                             sources)), ())
    if machine is None:
        team = load_coding_table(human, "A", *columns[0], sources[0])
        warnings += team.warnings
        result = coder_agreement(team, columns[0][2], spans=is_span_table(human),
                                 none_overruled=alignment[0].get("none_overruled", 0))
        if "summary" in alignment[0]:
            result = replace(result, summary={**result.summary,
                                              **_alignment_summary(alignment[0], "")})
        warnings += result.warnings
        for warning in warnings[len(said):]:
            logger.warning("%s", warning)
        return replace(result, warnings=warnings)
    tables = (
        _one_coder(load_coding_table(human, "A", *columns[0], sources[0]), coder),
        _one_coder(load_coding_table(machine, "B", *columns[1], sources[1]), None))
    ta, tb = tables
    warnings += ta.warnings + tb.warnings
    coded = tuple(set(a.get("documents", ())) for a in alignment)
    (sets_a, sets_b), left_out, left_warnings = _in_shared_documents(
        (label_sets(ta.frame), label_sets(tb.frame)), coded, tables,
        _documents_of(units, tables))
    common = [u for u in sets_a if u in sets_b]
    only_a = [u for u in sets_a if u not in sets_b]
    only_b = [u for u in sets_b if u not in sets_a]
    if not common:
        raise InputError(
            f"The two tables share no unit ids: {ta} has ids like "
            f"{', '.join(list(sets_a)[:3])}; {tb} has ids like "
            f"{', '.join(list(sets_b)[:3])}",
            fix="Check that both tables code the same units with the same ids (and the "
                "id_column)" + (
                    ". If one side coded character spans (doc_id, start, end, as NVivo or a "
                    ".qdpx does) and the other meaning units, carry the spans onto the units "
                    "first: compare(human, machine, units=units) or align_spans(human, units) "
                    "in Python, themesift compare --units units.csv on the command line"
                    if units is None else ", and that the units are those of the run that "
                    "made the machine's table"))

    n = len(common)
    pairs = SetPairs([sets_a[u] for u in common], [sets_b[u] for u in common])
    themes = pairs.themes
    multi_a = sum(len(sets_a[u]) > 1 for u in common)
    multi_b = sum(len(sets_b[u]) > 1 for u in common)
    overruled = [none_beside_theme(t.frame) + a.get("none_overruled", 0)
                 for t, a in zip(tables, alignment)]
    warnings += (_label_warnings(ta, tb) + left_warnings
                 + sum((none_beside_theme_warning(k, str(t))
                        for k, t in zip(overruled, tables)), ()))

    point = pairs.stats(np.ones((1, n)))
    summary: dict[str, Any] = {name: float(point[name][0]) for name in STATS}
    summary["n"] = n
    summary.update(_bootstrap(pairs, n, bootstrap, seed))
    summary["only_a"] = len(only_a)
    summary["only_b"] = len(only_b)
    summary["left_out_a"], summary["left_out_b"] = left_out
    summary["unaligned_spans_a"], summary["unaligned_spans_b"] = map(len, unaligned)
    summary["none_overruled_a"], summary["none_overruled_b"] = overruled
    for a, side in zip(alignment, "ab"):
        if "summary" in a:
            summary.update(_alignment_summary(a, f"_{side}"))
    summary["exact_set_agreement"] = float(pairs.same.mean())
    summary["rule"] = pairs.rule

    # per theme, present/absent over the shared units
    per = pairs.per_theme(np.ones((1, n)))
    warnings += _undefined_warning(pairs, per["cohen_kappa"][0])
    ind_a, ind_b = pairs.present_a, pairs.present_b
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

    # the confusion matrix is a single-label view: units with several themes stay out of it
    single = [u for u in common if len(sets_a[u]) == 1 and len(sets_b[u]) == 1]
    # about the confusion matrix only: in the report (atop its markdown), not logged each call
    matrix_note = () if len(single) == n else (
        f"The confusion matrix shows the {counted(len(single), 'unit')} with one theme on each "
        f"side; it leaves out the {n - len(single)} given several themes by either side (the "
        "per-theme figures and the statistics count them).",)
    cells = np.zeros((len(themes), len(themes)), dtype=int)
    for u in single:
        cells[themes.index(*sets_a[u]), themes.index(*sets_b[u])] += 1
    confusion = pd.DataFrame(cells, index=pd.Index(themes, name="a"),
                             columns=pd.Index(themes, name="b"))

    texts: dict[str, str] = {}
    has_text = False
    for t in (ta, tb):
        if "text" in t.frame:
            has_text = True
            for uid, txt in zip(t.frame["id"], t.frame["text"]):
                if txt is not None and uid not in texts:
                    texts[uid] = txt
    records = [(u, "disagree", set_text(sets_a[u]), set_text(sets_b[u]))
               for u in common if sets_a[u] != sets_b[u]]
    records += [(u, "only_a", set_text(sets_a[u]), "") for u in only_a]
    records += [(u, "only_b", "", set_text(sets_b[u])) for u in only_b]
    disagreements = pd.DataFrame(records, columns=["id", "kind", "a_themes", "b_themes"])
    if has_text:
        disagreements["text"] = [texts.get(u) for u in disagreements["id"]]

    inter = (ind_a & ind_b).sum(axis=1)
    union = (ind_a | ind_b).sum(axis=1)
    macro = {f"macro_{name}": float(nanmean(per[name][0])) for name in STATS}
    multilabel = {
        "mode": "multi-label" if pairs.multi else "single-label",
        "exact_set_agreement": summary["exact_set_agreement"],
        "mean_jaccard": float(np.mean(inter / union)),
        **macro,
        "multi_label_units_a": int(multi_a),
        "multi_label_units_b": int(multi_b),
    }
    for warning in warnings[len(said):]:  # the .qdpx reader logged its own
        logger.warning("%s", warning)
    return AgreementReport(summary=summary, per_theme=per_theme, confusion=confusion,
                           disagreements=disagreements, multilabel=multilabel,
                           only_a_ids=tuple(only_a), only_b_ids=tuple(only_b),
                           warnings=warnings + matrix_note)
