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
from ..text import counted
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
from ._tables import (
    CodingTable,
    alike_labels_warning,
    is_span_table,
    label_sets,
    load_coding_table,
    none_beside_theme,
    none_beside_theme_warning,
    set_text,
)

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
        Over all coders, on the units coded by two or more of them (missing codings allowed;
        a unit one coder alone coded is left out, with a warning): ``percent_agreement`` (the
        share of agreeing coder pairs within a unit, a unit's coders agreeing when their whole
        sets of themes are the same, averaged over units), ``cohen_kappa`` (mean of the pairwise kappas, Light's
        kappa), ``krippendorff_alpha``, ``gwet_ac1``, ``fleiss_kappa``, ``n`` (units coded by
        two or more coders), ``one_coder_only`` (units one coder alone coded, left out),
        ``none_overruled`` (a coder's units coded a theme and ``none``, counted as the theme),
        ``n_coders``, ``multi_label_codings`` (a coder's units with several themes), ``rule``
        (as in :func:`compare`); with spans carried onto units (``compare(table,
        units=units)``) also ``span_rule``, ``min_overlap`` and ``uncoded_units`` (units of
        the coded documents that no span reached).
    ratings : pandas.DataFrame
        Units x coders: each coder's themes of each unit, sorted and joined by ``"; "`` (NaN
        where a coder did not code a unit).
    warnings : tuple of str
        What the figures leave out (units one coder alone coded, coded spans that reached no
        unit) and what makes them doubtful (labels differing only in case).
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
    Nothing depends on how the themes are spelled. Every figure over all coders (percent
    agreement, Fleiss' kappa, alpha, AC1) is on the units coded by two or more coders (``n``),
    as :func:`compare` uses the units both sides coded: a unit one coder alone coded is left
    out, and a warning counts such units per coder (otherwise a coder who alone coded more
    transcripts, all ``none``, would move Fleiss' kappa and AC1 through the theme shares while
    ``n`` stayed the same). A unit one coder gave a theme and ``none`` is that theme, with a
    warning; labels that differ only in case or spacing are warned about, as in
    :func:`compare`.

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
    multi = any(s is not None and len(s) > 1 for row in coded for s in row)
    if multi:  # per theme, the coders who gave each unit the theme and those who did not
        themes = sorted({t for row in coded for s in row if s for t in s})
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
            "fleiss_kappa": fleiss, "n": len(units),
            "rule": MULTI_LABEL_RULE if multi else "single-label"}


def coder_agreement(t: CodingTable, coder_column: str = "coder", spans: bool = False,
                    none_overruled: int = 0) -> CoderAgreement:
    """:func:`compare_coders` of a loaded table; with ``spans`` (it codes character spans,
    matched only on their exact characters) the warning about units one coder alone coded
    says how to compare them on units; ``none_overruled`` counts the units reached by spans
    of a theme and of ``none`` when the table was carried onto units."""
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
    overall = _all_coders(sets, paired)
    overruled = none_beside_theme(t.frame) + none_overruled
    pairs = kap.to_numpy()[np.triu_indices(len(coders), 1)]
    summary = {
        "percent_agreement": overall["percent_agreement"],
        "cohen_kappa": float(nanmean(pairs)),
        **{k: overall[k] for k in ("krippendorff_alpha", "gwet_ac1", "fleiss_kappa", "n")},
        "one_coder_only": len(units) - len(paired),
        "none_overruled": overruled,
        "n_coders": len(coders),
        "multi_label_codings": sum(len(s) > 1 for c in coders for s in sets[c].values()),
        "rule": overall["rule"],
    }
    warnings = (_lone_warning(sets, set(paired), spans)
                + none_beside_theme_warning(overruled, "the coders' codings")
                + alike_labels_warning(t.frame["theme"], "for every coder"))
    return CoderAgreement(coders=coders, pairwise_kappa=kap, pairwise_agreement=agr,
                          pairwise_n=pn, summary=summary, ratings=ratings, warnings=warnings)


def _lone_warning(sets: dict[str, dict[str, frozenset[str]]], paired: set[str], spans: bool
                  ) -> tuple[str, ...]:
    """A warning counting, per coder, the units no other coder coded, which every figure
    leaves out (as compare() leaves out the units one side coded). With ``spans`` (coded
    character spans compared without units, matched only by another coder's span of exactly
    the same characters, which coders seldom select) it says how to compare them on units."""
    lone = {c: sum(u not in paired for u in coded) for c, coded in sets.items()}
    lone = {c: n for c, n in lone.items() if n}
    if not lone:
        return ()
    each = ", ".join(f"{c}: {n} of {len(sets[c])}" for c, n in sorted(lone.items()))
    total = sum(lone.values())
    what = "span" if spans else "unit"
    said = (f"{counted(total, what)} coded by one coder only ({each}) "
            f"{'is' if total == 1 else 'are'} left out of every figure, which cover the "
            f"{counted(len(paired), what)} coded by two or more coders.")
    if spans:
        said = ("Without meaning units, coded spans are matched only by their exact "
                f"characters: {said} To compare coders who select a passage a little "
                "differently, give the units: themesift compare FILE --units units.csv "
                "(compare(table, units=units) in Python), or measure agreement character by "
                "character with character_agreement.")
    return (said,)
