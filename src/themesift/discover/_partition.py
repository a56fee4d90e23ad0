"""Grouping small corpora: BERTopic's clustering block of Ward (or k-means) with the number of
codes chosen by silhouette, Ward's merge tree cut at every number tried, and the settling that
dissolves codes too small to stand, gives poor fits their nearest code and flags outliers."""

from __future__ import annotations

from collections import deque
from typing import TYPE_CHECKING, Any

from .._io import progress_shown
from ._bertopic import import_bertopic, topic_keywords, topic_model
from ._geometry import (
    PRECOMPUTE_MAX,
    code_centres,
    cosine_distances,
    nested_sums,
    silhouette,
    unit_silhouettes,
)
from ._input import normalise

if TYPE_CHECKING:
    import numpy as np

#: The search range for the number of codes: between n/60 and n/8 units per code on
#: average, and at most 40 codes.
UNITS_PER_CODE = (8, 60)
MAX_CODES = 40
#: ... and at least this many where there are 8 units for each (one focus group alone).
MIN_CODES = 6


class _PartitionClusterer:
    """BERTopic's clustering block for small corpora: Ward or k-means with k by silhouette.

    After ``fit(X)``: ``labels_`` (every unit in a code; no -1), ``outlier_`` (poor fits, given
    their nearest code), ``k_scores_`` (silhouette per k tried), ``k_`` (the k chosen) and
    ``distances_`` (the units' cosine distances; None above ``PRECOMPUTE_MAX`` units).
    """

    def __init__(self, algorithm: str, n_codes: int | None, min_code_size: int, seed: int,
                 quiet: bool | None = None) -> None:
        self.algorithm = algorithm
        self.n_codes = n_codes
        self.min_code_size = min_code_size
        self.seed = seed
        self.quiet = quiet

    def fit(self, X: np.ndarray, y: Any = None) -> _PartitionClusterer:
        import numpy as np

        X = normalise(np.asarray(X, dtype=np.float64))
        n = len(X)
        distances = cosine_distances(X) if n <= PRECOMPUTE_MAX else None
        self.distances_ = distances  # the code's silhouette needs them again
        ks = [self.n_codes] if self.n_codes else _k_range(n)
        candidates = self._partitions(X, ks, distances)
        # Ward's cuts nest; k-means' partitions do not (nested_sums would find that out only
        # after its n-by-n product)
        sums = (nested_sums(distances, candidates)
                if distances is not None and self.algorithm == "agglomerative" else {})
        self.k_scores_ = {
            k: silhouette(X, labels, self.seed, distances, sums.get(k))
            for k, labels in candidates.items()
        }
        # Best silhouette first; ties go to the fewer codes (sorted is stable, ks ascend).
        ranked = sorted(self.k_scores_, key=lambda k: -self.k_scores_[k])
        min_code_size = None if self.n_codes else self.min_code_size
        for k in ranked:
            # Dissolving codes too small to stand may leave fewer than the range's lower end
            # (a focus group of 65 units would get 5 codes): then the next best k is taken.
            labels, outlier = _settle(X, candidates[k], distances, min_code_size=min_code_size)
            if k == ranked[0]:
                self.k_, self.labels_, self.outlier_ = k, labels, outlier
            if len(np.unique(labels)) >= min(ks):
                self.k_, self.labels_, self.outlier_ = k, labels, outlier
                break
        return self

    def _partitions(self, X: np.ndarray, ks: list[int],
                    distances: np.ndarray | None) -> dict[int, np.ndarray]:
        if self.algorithm == "agglomerative":
            import numpy as np
            from scipy.cluster.hierarchy import linkage
            from scipy.spatial.distance import squareform

            # Unit vectors: Euclidean distance is sqrt(2 * cosine distance), so the matrix
            # the silhouette needs anyway spares Ward computing its own (same merges).
            points = X
            if distances is not None:  # condensed first: half the square roots
                points = squareform(distances, checks=False)
                np.sqrt(np.multiply(points, 2.0, out=points), out=points)
            # One merge tree serves every k, and the codes at k+1 split one code at k.
            cuts = _cut_tree(linkage(points, method="ward"), ks)
            return {k: cuts[:, i].astype(int) for i, k in enumerate(ks)}
        from sklearn.cluster import KMeans

        return {
            k: KMeans(n_clusters=k, n_init=4, random_state=self.seed).fit_predict(X)
            for k in _progress(ks, len(X), self.quiet, "Trying numbers of codes")
        }


def _cut_tree(merges: np.ndarray, ks: list[int]) -> np.ndarray:
    """scipy's ``cut_tree(merges, n_clusters=ks)``, without its walk over all the units under
    every merge: the codes after the first ``n - k`` merges, for each k, numbered by their
    first unit. The merges go in scipy's order: by height, and where heights tie (identical
    units), later ones first in a breadth-first walk from the top, right before left."""
    import numpy as np
    from scipy.cluster.hierarchy import cut_tree

    n = len(merges) + 1
    if not all(1 <= k < n for k in ks):
        return cut_tree(merges, n_clusters=ks)
    pairs = merges[:, :2].astype(int)
    walked: dict[int, int] = {}  # merge -> its place in the walk
    queue = deque([2 * n - 2])
    while queue:
        node = queue.popleft()
        if node >= n:
            walked[node - n] = len(walked)
            queue.extend((pairs[node - n, 1], pairs[node - n, 0]))
    order = sorted(range(n - 1), key=lambda i: (merges[i, 2], -walked[i]))
    cuts = np.zeros((n, len(ks)), dtype=np.int64)
    members: dict[int, list[int]] = {i: [i] for i in range(n)}  # each code's units
    first = {i: i for i in range(n)}  # each code's first unit
    for done, merge in enumerate(order[: n - min(ks)], start=1):
        left, right = pairs[merge]
        if left not in members or right not in members:  # a tree scipy cuts its own way
            return cut_tree(merges, n_clusters=ks)
        members[n + merge] = members.pop(left) + members.pop(right)
        first[n + merge] = min(first.pop(left), first.pop(right))
        for column in (j for j, k in enumerate(ks) if n - k == done):
            for label, code in enumerate(sorted(members, key=first.__getitem__)):
                cuts[members[code], column] = label
    return cuts


def _k_range(n: int) -> list[int]:
    """Numbers of codes to try: about 8 to 60 units per code, at most 40 codes, and at least
    ``MIN_CODES`` where there are units enough for them (8 each).

    The lower end is capped at half the upper one, so that from 2,400 units on (where n/60
    reaches 40) there is still a choice, between 20 and 40 codes. The floor of ``MIN_CODES``
    is for one focus group alone (50-100 units, of which n/60 would allow a single code):
    an analyst reading one transcript expects a handful of codes, not two.
    """
    low_units, high_units = UNITS_PER_CODE
    hi = max(2, min(MAX_CODES, n // low_units))
    lo = max(min(MIN_CODES, hi), min(round(n / high_units), hi // 2))
    return list(range(lo, hi + 1))


def _settle(X: np.ndarray, labels: np.ndarray, distances: np.ndarray | None, *,
            min_code_size: int | None) -> tuple[np.ndarray, np.ndarray]:
    """Dissolve codes too small to stand, give poor fits their nearest code, flag outliers.

    Outliers are judged twice: before moving (to know which units to move and which codes
    have enough well-fitting members) and after (a unit that fits its new code is no outlier;
    the members of a dissolved code always are).
    """
    import numpy as np

    labels = np.asarray(labels).copy()
    poor = _poor_fit(X, labels, distances)
    codes = list(np.unique(labels))
    core = {c: int(np.sum((labels == c) & ~poor)) for c in codes}
    homeless = np.zeros(len(labels), dtype=bool)
    if min_code_size:
        keep = [c for c in codes if core[c] >= min_code_size]
        if not keep:  # every group is small: keep the largest rather than none
            keep = [max(codes, key=lambda c: (core[c], -c))]
        homeless = ~np.isin(labels, keep)
        codes, move = keep, poor | homeless
    else:  # n_codes asks for exactly that many: a code of poor fits only keeps them
        move = poor & ~np.isin(labels, [c for c in codes if core[c] == 0])

    centres = code_centres(X, labels, ~(poor | homeless))
    matrix = np.stack([centres[c] for c in codes])
    labels[move] = np.asarray(codes)[np.argmax(X[move] @ matrix.T, axis=1)]
    # Codes 0..K-1 in order of first appearance.
    order = {c: i for i, c in enumerate(dict.fromkeys(labels.tolist()))}
    labels = np.array([order[c] for c in labels])
    return labels, _poor_fit(X, labels, distances) | homeless


def _poor_fit(X: np.ndarray, labels: np.ndarray, distances: np.ndarray | None) -> np.ndarray:
    """Units with a negative silhouette, or beyond their code's upper Tukey fence
    (Q3 + 1.5 IQR) in distance to its centre."""
    import numpy as np
    from sklearn.metrics import silhouette_samples

    if len(np.unique(labels)) < 2:
        poor = np.zeros(len(labels), dtype=bool)
    elif distances is not None:
        poor = unit_silhouettes(distances, labels) < 0
    else:
        poor = silhouette_samples(X, labels, metric="cosine") < 0
    centres = code_centres(X, labels, ~poor)
    to_centre = 1.0 - np.einsum("ij,ij->i", X, np.stack([centres[c] for c in labels]))
    for code in np.unique(labels):
        member = labels == code
        if member.sum() >= 4:
            q1, q3 = np.percentile(to_centre[member], [25, 75])
            poor |= member & (to_centre > q3 + 1.5 * (q3 - q1))
    return poor


def _progress(items: list, n_units: int, quiet: bool | None, desc: str):
    """A progress bar over items for long runs (many units) on a terminal only."""
    if n_units < 2000 or not progress_shown(quiet):
        return items
    from tqdm.auto import tqdm

    return tqdm(items, desc=desc, leave=False)


def fit_partition(algorithm: str, docs: list[str], vectors: np.ndarray, vocabulary: list[str],
                  representation: Any, seed: int, n_codes: int | None, min_code_size: int,
                  quiet: bool | None):
    import_bertopic()
    from bertopic.dimensionality import BaseDimensionalityReduction

    clusterer = _PartitionClusterer(algorithm, n_codes, min_code_size, seed, quiet)
    # No reduction: Ward and the silhouette work on the cosine geometry of the vectors
    # themselves, and a few thousand 384-d vectors cluster in seconds.
    model = topic_model(BaseDimensionalityReduction(), clusterer, vocabulary, representation)
    topics, _ = model.fit_transform(docs, vectors)
    info = {
        "k_selected": int(clusterer.k_),
        "k_candidates": {int(k): float(s) for k, s in clusterer.k_scores_.items()},
        "reduction": "none",
    }
    return topics, clusterer.outlier_.copy(), topic_keywords(model), info, clusterer.distances_
