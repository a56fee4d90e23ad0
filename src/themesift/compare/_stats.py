"""Agreement statistics as pure functions of labels or of count tables: percent agreement,
Cohen's and Fleiss' kappa, Krippendorff's alpha (nominal), Gwet's AC1 (tested against
published reference values)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Sequence

import numpy as np

if TYPE_CHECKING:  # pandas loads when a comparison is made, to keep `import themesift` fast
    import pandas as pd

from ..errors import InputError
from ..text import is_missing


def _chance_corrected(po: np.ndarray, pe: np.ndarray) -> np.ndarray:
    po = np.asarray(po, dtype=float)
    pe = np.asarray(pe, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        out = (po - pe) / (1.0 - pe)
    return np.where(np.isclose(pe, 1.0) | ~np.isfinite(pe), np.nan, out)


def pair_stats(conf: np.ndarray) -> dict[str, np.ndarray]:
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


def confusion_matrix(a: Sequence[Any], b: Sequence[Any]) -> tuple[np.ndarray, list[Any]]:
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
    conf, _ = confusion_matrix(a, b)
    return float(pair_stats(conf)["percent_agreement"])


def cohen_kappa(a: Sequence[Any], b: Sequence[Any]) -> float:
    """Cohen's kappa of two coders' single labels (one label per unit, same unit order).

    Equal to :func:`sklearn.metrics.cohen_kappa_score`; NaN when expected agreement is 1.

    Examples
    --------
    >>> round(cohen_kappa(["x", "x", "y", "y"], ["x", "y", "y", "y"]), 3)
    0.5
    """
    conf, _ = confusion_matrix(a, b)
    return float(pair_stats(conf)["cohen_kappa"])


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
    values = [[None if is_missing(v) else v for v in row] for row in frame.to_numpy().tolist()]
    cats = sorted({v for row in values for v in row if v is not None}, key=str)
    index = {c: i for i, c in enumerate(cats)}
    counts = np.zeros((frame.shape[1], len(cats)), dtype=int)
    for row in values:
        for u, v in enumerate(row):
            if v is not None:
                counts[u, index[v]] += 1
    return pd.DataFrame(counts, index=frame.columns, columns=cats)


def multi_parts(counts: Any) -> tuple[np.ndarray, np.ndarray, float]:
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
    pi, _, pa = multi_parts(counts)
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
    pi, _, pa = multi_parts(counts)
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
    _, mp, _ = multi_parts(counts)
    rp = mp.sum(axis=1)
    big_n = rp.sum()
    diag = ((mp * (mp - 1.0)).sum(axis=1) / (rp - 1.0)).sum()
    nc = mp.sum(axis=0)
    s = (nc * (nc - 1.0)).sum()
    den = big_n * (big_n - 1.0) - s
    if np.isclose(den, 0.0):
        return float("nan")
    return float(((big_n - 1.0) * diag - s) / den)


#: The summary statistics of a comparison, in the order reports show them.
STATS = ("percent_agreement", "cohen_kappa", "krippendorff_alpha", "gwet_ac1")


def nanmean(values: Any) -> np.ndarray:
    """Mean over the last axis ignoring NaN (NaN, without a warning, when all are NaN)."""
    values = np.asarray(values, dtype=float)
    ok = np.isfinite(values)
    count = ok.sum(axis=-1)
    total = np.where(ok, values, 0.0).sum(axis=-1)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(count > 0, total / np.maximum(count, 1), np.nan)


MULTI_LABEL_RULE = ("multi-label: percent agreement is the share of units with the same set of "
                    "themes; kappa, alpha and AC1 are means over themes of the present/absent "
                    "statistic")


class SetPairs:
    """Two coders' sets of themes on the same units, and the agreement statistics of
    :func:`themesift.compare` on them (also each coder pair's in :func:`compare_coders`).

    The rule: ``percent_agreement`` is the share of units whose whole set of themes is the
    same on both sides (with one theme per unit, the ordinary percent agreement). Kappa, alpha
    and AC1 are the ordinary single-label statistics when every unit has one theme on both
    sides; otherwise (multi-label) the unweighted mean over the themes either side used of the
    present/absent statistic of each theme. Nothing depends on how the themes are spelled.
    """

    def __init__(self, sets_a: Sequence[frozenset[str]], sets_b: Sequence[frozenset[str]]):
        self.themes = sorted(set().union(*sets_a, *sets_b))
        index = {t: i for i, t in enumerate(self.themes)}
        n, k = len(sets_a), len(self.themes)
        self.present_a = np.zeros((n, k), dtype=bool)
        self.present_b = np.zeros((n, k), dtype=bool)
        for i, (a, b) in enumerate(zip(sets_a, sets_b)):
            self.present_a[i, [index[t] for t in a]] = True
            self.present_b[i, [index[t] for t in b]] = True
        self.same = np.array([a == b for a, b in zip(sets_a, sets_b)], dtype=float)
        self.multi = bool((self.present_a.sum(1) > 1).any() or (self.present_b.sum(1) > 1).any())
        # single-label: the index of each unit's (theme of a, theme of b) cell in a k x k table
        self._cells = self.present_a.argmax(1) * k + self.present_b.argmax(1)

    @property
    def rule(self) -> str:
        """Which rule the statistics follow, in words (``summary["rule"]``)."""
        return MULTI_LABEL_RULE if self.multi else "single-label"

    def per_theme(self, weights: np.ndarray) -> dict[str, np.ndarray]:
        """Each theme's present/absent statistics, shape (R, themes), for unit weights (R, n)."""
        a = self.present_a.astype(float)
        b = self.present_b.astype(float)
        n11, n10 = weights @ (a * b), weights @ (a * (1 - b))
        n01, n00 = weights @ ((1 - a) * b), weights @ ((1 - a) * (1 - b))
        conf = np.stack([np.stack([n00, n01], -1), np.stack([n10, n11], -1)], -2)
        return pair_stats(conf)

    def stats(self, weights: np.ndarray) -> dict[str, np.ndarray]:
        """The :data:`STATS`, each of shape (R,), for unit weights (R, n) (bootstrap draws)."""
        weights = np.atleast_2d(np.asarray(weights, dtype=float))
        if self.multi:
            out = {name: nanmean(v) for name, v in self.per_theme(weights).items()}
        else:
            k = len(self.themes)
            conf = np.stack([np.bincount(self._cells, weights=w, minlength=k * k)
                             for w in weights])
            out = pair_stats(conf.reshape(-1, k, k))
        with np.errstate(divide="ignore", invalid="ignore"):
            out["percent_agreement"] = weights @ self.same / weights.sum(axis=1)
        return out
