"""One coding table, several coders: :func:`compare_coders` and its :class:`CoderAgreement`
(pairwise kappa and agreement, and Fleiss' kappa, Krippendorff's alpha and Gwet's AC1 over all
coders)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:  # pandas loads when a comparison is made, to keep `import themesift` fast
    import pandas as pd

from ..errors import InputError
from ._format import jsonable, md_table
from ._stats import (
    confusion_matrix,
    fleiss_kappa,
    gwet_ac1,
    krippendorff_alpha,
    multi_parts,
    pair_stats,
    rating_counts,
)
from ._tables import first_label, label_sets, load_coding_table


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
        return jsonable({
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
            "# Agreement among coders", "", "## Summary", "", md_table(summ), "",
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

    t = load_coding_table(table, "A", id_column, label_column, coder_column)
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
    sets = {c: label_sets(t.frame[t.frame["coder"] == c]) for c in coders}
    units: list[str] = list(dict.fromkeys(t.frame["id"]))
    multi = sum(len(s) > 1 for c in coders for s in sets[c].values())
    ratings = pd.DataFrame(
        {c: [first_label(sets[c][u]) if u in sets[c] else np.nan for u in units] for c in coders},
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
            conf, _ = confusion_matrix([first_label(sets[c1][u]) for u in both],
                                 [first_label(sets[c2][u]) for u in both])
            st = pair_stats(conf)
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
    _, _, pa = multi_parts(counts)
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
