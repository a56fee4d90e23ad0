"""The tables of :class:`~themesift.model.CandidateCodes`: one row per code (label, keywords,
size, speakers, transcripts, exemplars, cohesion, one speaker's share, outliers) and one per
unit (its code, its distance to the code's centre, whether it is an outlier)."""

from __future__ import annotations

from collections import Counter
from typing import TYPE_CHECKING, Any

from ..model import SEPARATOR
from ._bertopic import N_KEYWORDS
from ._geometry import code_centres

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

#: Columns of ``CandidateCodes.table``, in order.
TABLE_COLUMNS = [
    "code_id", "label", "keywords", "size", "n_speakers", "n_transcripts", "exemplar_ids",
    "exemplars", "cohesion", "single_speaker", "top_speaker_share", "n_outliers",
]
#: Columns of ``CandidateCodes.assignments``, in order.
ASSIGNMENT_COLUMNS = ["unit_id", "code_id", "distance", "outlier"]
#: A code is flagged ``single_speaker`` when one speaker said more than this share of it, and
#: more of it than their share of the study's units explains: the chance that a speaker who
#: says that share of all units says so many of the code's is below SINGLE_SPEAKER_CHANCE
#: (binomial), and the code has at least SINGLE_SPEAKER_MIN_UNITS units. A code 75% from the
#: nurse who says 8 of a study's 13 units is how that nurse talks, not one talkative person's
#: topic; a code of 10 units all from one of five equal speakers is.
SINGLE_SPEAKER_SHARE = 0.7
SINGLE_SPEAKER_CHANCE = 0.05
SINGLE_SPEAKER_MIN_UNITS = 4
N_EXEMPLARS = 5


def code_tables(units: pd.DataFrame, unit_ids: list[Any], texts: list[str], vectors: np.ndarray,
                topics: Any, outlier: np.ndarray, keywords: dict[int, list[str]]):
    import numpy as np
    import pandas as pd

    topics = np.asarray(topics, dtype=int)
    outlier = np.asarray(outlier, dtype=bool)
    found = np.unique(topics)
    size = {t: int(np.sum(topics == t)) for t in found}
    first = {t: int(np.argmax(topics == t)) for t in found}
    order = sorted(found, key=lambda t: (-size[t], first[t]))
    width = max(2, len(str(len(order))))
    code_id = {t: f"C{i + 1:0{width}d}" for i, t in enumerate(order)}

    centres = code_centres(vectors, topics, ~outlier)
    similarity = np.einsum("ij,ij->i", vectors, np.stack([centres[t] for t in topics]))
    distance = np.round(np.clip(1.0 - similarity, 0.0, 2.0), 6)

    speakers, doc_ids = _column(units, "speaker"), _column(units, "doc_id")
    if speakers is not None and doc_ids is not None:  # "P1" of one transcript is not another's
        speakers = np.array([s if s is None else f"{d} / {s}" for d, s in zip(doc_ids, speakers)],
                            dtype=object)

    # How much each speaker talks in the study: the share of the units with a speaker.
    talk = Counter() if speakers is None else Counter(s for s in speakers if s is not None)
    rows = []
    for t in order:
        member = np.flatnonzero(topics == t)
        # Exemplars: nearest the centre, well-fitting members first.
        exemplars = sorted(member, key=lambda i: (bool(outlier[i]), distance[i], i))[:N_EXEMPLARS]
        said_by = Counter() if speakers is None else Counter(
            s for s in speakers[member] if s is not None)
        top, most = max(said_by.items(), key=lambda sn: sn[1], default=(None, 0))
        top_share = most / len(member)
        n_transcripts = 1 if doc_ids is None else len({d for d in doc_ids[member] if d is not None})
        words = keywords.get(int(t), [])
        rows.append({
            "code_id": code_id[t],
            "label": "",  # named by phrase_labels
            "keywords": SEPARATOR.join(words[:N_KEYWORDS]),
            "size": len(member),
            "n_speakers": len(said_by),
            "n_transcripts": n_transcripts,
            "exemplar_ids": SEPARATOR.join(str(unit_ids[i]) for i in exemplars),
            "exemplars": SEPARATOR.join(texts[i].replace(SEPARATOR, " / ") for i in exemplars),
            "cohesion": round(float(similarity[member].mean()), 6),
            "single_speaker": _one_speakers(most, len(member), talk[top] / talk.total()
                                            if top is not None else 1.0),
            "top_speaker_share": round(top_share, 4),
            "n_outliers": int(outlier[member].sum()),
        })
    table = pd.DataFrame(rows, columns=TABLE_COLUMNS).astype(
        {"size": "int64", "n_speakers": "int64", "n_transcripts": "int64", "n_outliers": "int64",
         "single_speaker": "bool"}
    )
    assignments = pd.DataFrame({
        "unit_id": unit_ids,
        "code_id": [code_id[t] for t in topics],
        "distance": distance,
        "outlier": outlier,
    }, columns=ASSIGNMENT_COLUMNS)
    return table, assignments


def _one_speakers(said: int, size: int, share_of_all: float) -> bool:
    """Whether a code of ``size`` units, ``said`` of them by one speaker who says
    ``share_of_all`` of the study's units, is that speaker's more than the study's (see
    ``SINGLE_SPEAKER_SHARE``)."""
    if size < SINGLE_SPEAKER_MIN_UNITS or said <= SINGLE_SPEAKER_SHARE * size:
        return False
    from scipy.stats import binom

    return float(binom.sf(said - 1, size, share_of_all)) < SINGLE_SPEAKER_CHANCE


def _column(units: pd.DataFrame, name: str) -> np.ndarray | None:
    """A column as strings with None where empty; None if the table has no such column."""
    if name not in units.columns:
        return None
    return units[name].astype("string").to_numpy(dtype=object, na_value=None)
