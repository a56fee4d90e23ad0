"""One coding table, several coders: :func:`compare_coders` and its :class:`CoderAgreement`
(pairwise kappa and agreement, and Fleiss' kappa, Krippendorff's alpha and Gwet's AC1 over all
coders)."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:  # pandas loads when a comparison is made, to keep `import themesift` fast
    import pandas as pd

from ..errors import InputError
from ._format import jsonable, md_table
from ._stats import (
    MULTI_LABEL_RULE,
    SetPairs,
    fleiss_kappa,
    gwet_ac1,
    krippendorff_alpha,
    multi_parts,
    nanmean,
    rating_counts,
)
from ._tables import CodingTable, is_span_table, label_sets, load_coding_table, set_text

logger = logging.getLogger(__name__)


@dataclass(frozen=True, eq=False)
class CoderAgreement:
    """Agreement among several coders of one table (see :func:`compare_coders`).

    Attributes
    ----------
    coders : tuple of str
    pairwise_kappa, pairwise_agreement : pandas.DataFrame
        Coder x coder matrices of Cohen's kappa and percent agreement on the units both coders
        coded, exactly as :func:`compare` gives them for the two coders' tables (diagonal 1.0;
        NaN where a pair shares no unit or kappa is undefined).
    pairwise_n : pandas.DataFrame
        Number of units each pair shares.
    summary : dict
        Over all coders (missing codings allowed): ``percent_agreement`` (the share of agreeing
        coder pairs within a unit, a unit's coders agreeing when their whole sets of themes are
        the same, averaged over units), ``cohen_kappa`` (mean of the pairwise kappas, Light's
        kappa), ``krippendorff_alpha``, ``gwet_ac1``, ``fleiss_kappa``, ``n`` (units coded by
        two or more coders), ``n_coders``, ``multi_label_codings`` (a coder's units with
        several themes), ``rule`` (as in :func:`compare`).
    ratings : pandas.DataFrame
        Units x coders: each coder's themes of each unit, sorted and joined by ``"; "`` (NaN
        where a coder did not code a unit).
    warnings : tuple of str
        What the figures leave out (e.g. coded spans that reached no unit).
    """

    coders: tuple[str, ...]
    pairwise_kappa: pd.DataFrame
    pairwise_agreement: pd.DataFrame
    pairwise_n: pd.DataFrame
    summary: dict[str, Any]
    ratings: pd.DataFrame
    warnings: tuple[str, ...] = field(default=())

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-serialisable values (NaN becomes ``None``)."""
        return jsonable({
            "coders": list(self.coders),
            "summary": self.summary,
            "pairwise_kappa": self.pairwise_kappa.to_dict(),
            "pairwise_agreement": self.pairwise_agreement.to_dict(),
            "pairwise_n": self.pairwise_n.to_dict(),
            "warnings": list(self.warnings),
        })

    def to_markdown(self) -> str:
        """A readable report: summary and the pairwise matrices."""
        import pandas as pd

        summ = pd.DataFrame({"value": pd.Series(list(self.summary.values()), dtype=object)}
                            ).set_axis(pd.Index(list(self.summary), name="statistic"))
        return "\n".join([
            "# Agreement among coders", "", *(f"**Warning:** {w}\n" for w in self.warnings),
            "## Summary", "", md_table(summ), "",
            "## Pairwise Cohen's kappa", "", md_table(self.pairwise_kappa, "coder"), "",
            "## Pairwise percent agreement", "", md_table(self.pairwise_agreement, "coder"),
            "", "## Units shared by each pair", "", md_table(self.pairwise_n, "coder"), "",
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
    table : pandas.DataFrame, path or QdaProject
        Coding table with columns ``id`` (or ``unit_id``), ``theme_id`` and ``coder``; or a
        :class:`~themesift.QdaProject` / ``.qdpx`` coded by several users, whose coded spans
        are the units (:meth:`QdaProject.to_coding_table`; :func:`compare` with ``units=``
        carries them onto meaning units first).
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
    The rules of :func:`compare`, so that two coders get the same figures whether they share
    one table or each has their own: percent agreement counts a unit's coders as agreeing when
    their whole sets of themes are the same; when any unit coded by two or more coders has
    several themes from one of them (multi-label), Fleiss' kappa, alpha and AC1 are the means
    over themes of the present/absent statistic of each theme (its counts: the coders who gave
    the unit the theme, and those who did not), else the ordinary single-label statistics.
    Nothing depends on how the themes are spelled. Missing codings follow Gwet (2014) and
    Krippendorff (2011): a unit one coder alone coded counts in Fleiss' and AC1's theme
    shares, so with skipped units these two can differ a little from :func:`compare`'s
    (which uses the shared units only); alpha and the pairwise figures are the same.

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
    result = coder_agreement(load_coding_table(table, "A", id_column, label_column,
                                               coder_column), coder_column,
                             spans=is_span_table(table))
    for warning in result.warnings:
        logger.warning("%s", warning)
    return result


def _all_coders(sets: dict[str, dict[str, frozenset[str]]], units: list[str]
                ) -> dict[str, Any]:
    """The statistics over all coders of ``units`` (each coded by two or more of them)."""
    coded = [[sets[c].get(u) for u in units] for c in sets]
    exact = rating_counts([[None if s is None else set_text(s) for s in row] for row in coded])
    _, _, agreement = multi_parts(exact)
    raters = exact.to_numpy().sum(axis=1)
    paired = raters >= 2
    multi = any(len(s) > 1 for row in coded for s, p in zip(row, paired) if p and s)
    if multi:  # per theme, the coders who gave each unit the theme and those who did not
        themes = sorted({t for row in coded for s, p in zip(row, paired) if p and s for t in s})
        per = []
        for theme in themes:
            present = np.array([sum(s is not None and theme in s for s in column)
                                for column in zip(*coded)])
            counts = np.stack([present, raters - present], axis=1)
            per.append([fleiss_kappa(counts), krippendorff_alpha(counts), gwet_ac1(counts)])
        fleiss, alpha, ac1 = (float(v) for v in nanmean(np.array(per).T))
    else:
        fleiss, alpha, ac1 = fleiss_kappa(exact), krippendorff_alpha(exact), gwet_ac1(exact)
    return {"percent_agreement": agreement, "krippendorff_alpha": alpha, "gwet_ac1": ac1,
            "fleiss_kappa": fleiss, "n": int(paired.sum()),
            "rule": MULTI_LABEL_RULE if multi else "single-label"}


def coder_agreement(t: CodingTable, coder_column: str = "coder", spans: bool = False
                    ) -> CoderAgreement:
    """:func:`compare_coders` of a loaded table; with ``spans`` (it codes character spans,
    matched only on their exact characters) a warning counts the spans no other coder
    selected exactly."""
    import pandas as pd

    where = "The table" if t.path else t.name
    if "coder" not in t.frame:
        raise InputError(
            f"{where} has no '{coder_column}' column, so there are fewer than 2 coders to "
            "compare", path=t.path,
            fix=f"Add a '{coder_column}' column, or pass a second table: compare(a, b)")
    coders = tuple(sorted(set(t.frame["coder"])))
    if len(coders) < 2:
        raise InputError(
            f"{where} has {len(coders)} coder ({', '.join(coders)}); agreement needs at "
            "least 2 coders", path=t.path, fix="Add the codings of a second coder")
    sets = {c: label_sets(t.frame[t.frame["coder"] == c]) for c in coders}
    units: list[str] = list(dict.fromkeys(t.frame["id"]))
    ratings = pd.DataFrame(
        {c: [set_text(sets[c][u]) if u in sets[c] else np.nan for u in units] for c in coders},
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
            st = SetPairs([sets[c1][u] for u in both], [sets[c2][u] for u in both]
                          ).stats(np.ones((1, len(both))))
            kap.loc[c1, c2] = kap.loc[c2, c1] = 1.0 if c1 == c2 else float(st["cohen_kappa"][0])
            agr.loc[c1, c2] = agr.loc[c2, c1] = float(st["percent_agreement"][0])
    for m in (kap, agr, pn):
        m.index.name = "coder"

    paired = [u for u in units if sum(u in sets[c] for c in coders) >= 2]
    if not paired:
        raise InputError(f"{where}: no unit was coded by two or more coders", path=t.path,
                         fix="Have the coders code some of the same units")
    overall = _all_coders(sets, units)
    pairs = kap.to_numpy()[np.triu_indices(len(coders), 1)]
    summary = {
        "percent_agreement": overall["percent_agreement"],
        "cohen_kappa": float(nanmean(pairs)),
        **{k: overall[k] for k in ("krippendorff_alpha", "gwet_ac1", "fleiss_kappa", "n")},
        "n_coders": len(coders),
        "multi_label_codings": sum(len(s) > 1 for c in coders for s in sets[c].values()),
        "rule": overall["rule"],
    }
    return CoderAgreement(coders=coders, pairwise_kappa=kap, pairwise_agreement=agr,
                          pairwise_n=pn, summary=summary, ratings=ratings,
                          warnings=_exact_spans_warning(t) if spans else ())


def _exact_spans_warning(t: CodingTable) -> tuple[str, ...]:
    """Coders of character spans compared without units: a span is matched only by another
    coder's span of exactly the same characters, which coders seldom select. A warning
    counting, per coder, the spans no other coder selected exactly (they count as skipped by
    the others, in no pairwise figure)."""
    if "coder" not in t.frame:
        return ()
    coders_of: dict[str, set[str]] = {}
    for uid, coder in zip(t.frame["id"], t.frame["coder"]):
        coders_of.setdefault(uid, set()).add(coder)
    lone: dict[str, int] = {}
    for uid, coders in coders_of.items():
        if len(coders) == 1:
            coder, = coders
            lone[coder] = lone.get(coder, 0) + 1
    if not lone:
        return ()
    total = {c: len(set(t.frame["id"][t.frame["coder"] == c])) for c in lone}
    each = ", ".join(f"{c}: {n} of {total[c]}" for c, n in sorted(lone.items()))
    return (f"Without meaning units, coded spans are matched only by their exact characters, "
            f"and {sum(lone.values())} span(s) no other coder selected exactly count as "
            f"skipped by the others ({each}). To compare coders who select a passage a little "
            "differently, give the units: themesift compare FILE --units units.csv "
            "(compare(table, units=units) in Python), or measure agreement character by "
            "character with character_agreement.",)
