"""Suggestions: which theme of a framework a meaning unit (or a candidate code) belongs to.

How a unit is scored
--------------------
Every theme is represented by the text its framework gives: "name: description", each
indicator and example, and "name: description" of each of its subthemes (a subtheme counts
for its top-level theme). The bare name is not a text of its own. A unit's similarity to a
theme is the mean of its ``top_k`` closest theme texts (cosine of sentence embeddings); long
units are also scored sentence by sentence (vectors pooled from the unit's own forward pass,
see embed), and the best sentence counts half. The similarities are then smoothed with the
unit's neighbours in the same speaker turn (``context_weight``) and, when codes are given,
with the other units of its code (``code_weight``). Scores are probabilities from a softmax
over the themes at ``temperature``, and "none".

"None", and how well the best theme fits
----------------------------------------
Whether a unit fits *any* theme is judged against the study itself, not against how the
framework's own themes sit to each other (which varies with how close a codebook's themes
are: a codebook's themes always share a domain). The similarity of each unit to its best
theme is compared with the same figure for the study's other units: ``fit`` is the share of a
normal distribution with the study's median and robust spread (the MAD) that lies below it,
so 0.5 is a typical unit and 0.02 one of the worst fitting. "none" is even odds at
``NONE_Z`` = 2 spreads below the median and fades as a normal tail above it, so on a study
where every unit has a theme few get none (measured by bench/suite.py), while small talk,
or a unit unlike the rest of the study, does. A unit no closer to any theme text than to an
empty one (similarity <= 0) fits none whatever the study. Fewer than ``MIN_REFERENCE_UNITS`` units say nothing about what is typical: only
that last rule applies, and ``fit`` is empty. ``none_similarity`` replaces all this with a
level of the analyst's own that a unit's best similarity must beat.

Learning from coded examples
----------------------------
Analyst-coded examples (``examples=``, several rows per text for multi-label coding; ``none``
allowed) train a multinomial logistic regression on the embeddings, with each coded theme's
description as one more example of it. A theme no example names is left to the framework (its
learned logit neutral): learned from its description alone, one example among many, it was
hardly ever suggested. The regression's logits are added to the framework's zero-shot logits
times a weight. The regularisation and that weight are
chosen by cross-validation on the examples themselves (which choice makes held-out examples'
coded themes most probable), so the framework counts for as much as it proves worth on
*this* codebook: much where descriptions tell themes apart, little where they do not. The
examples are judged against the study as its units are (their "none" from their fit).
Examples coded ``none`` are not learned from: "none" is the absence of a theme, decided by
the fit above, and units an analyst coded none share nothing else (small talk, a topic the
framework lacks); learning them as a class took suggestions from themes on the suite's sample
(README, "Quality"). They are known units all the same, and never stand in as a theme's
clearest unit (below). Where fewer than half of the coded themes were coded by two
decisions or more (one example a theme, as early in a review) there is nothing to
cross-validate on (see ``_cross_validate``) and the learner takes ``DEFAULT_C`` and
``DEFAULT_WEIGHT``, or the largest weight where a code accepted in one click coded several
examples (its near twins would pull the study towards its theme). Where the examples name
fewer than ``MIN_THEMES_CODED`` themes or than half the framework's (an analyst working
theme by theme; never where they name every theme),
the themes they do not name learn from their clearest units in the study beside them
(``_stand_ins``), and the framework weighs as much as the cross-validation ever lets it (the
largest of ``ZERO_SHOT_WEIGHTS``, whatever the examples): shown one theme in the
participants' words and the others only in an analyst's descriptions, the learner learned the
words and took every unit for that theme. Examples that one decision coded together
(``decision_id``: a code accepted in one click, as :meth:`Study.examples` gives them) are
held out together in
the cross-validation: a code's members are near twins, so held out one by one they made the
examples look far more telling than they are, and accepting the first codes of a study
pulled its other units towards their themes (bench/accept_codes.py and the suite's "review,
N codes" rows). A unit that is itself an example gets its coded theme; a theme rejected for a
text is never suggested for it again. bench/suite.py measures this against the plain
baselines (nearest centroid, logistic regression) on every human-coded set we have.

A codebook of names and descriptions only
-----------------------------------------
Most analysts' codebooks give a theme a name and a sentence, written in the analyst's words,
not the participants'. With such a codebook (no indicators, examples or subthemes) and no
coded examples, the study's own units stand in for examples: each theme's
``CLEAREST_UNITS`` units with the highest zero-shot scores for it train the same learner
(their own suggestions are not fixed by it); the framework's weight is then at most 1
(``CLEAREST_WEIGHTS``): judged on units it chose itself, the framework always looks right.
Where the framework has indicators or examples,
which speak as participants do, this is not done: there it lowered accuracy on the suite's
sets (README, "Quality").
"""

from __future__ import annotations

import contextlib
import functools
import logging
import os
import warnings
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from ._blas import one_blas_thread
from .errors import InputError
from .model import (NONE_THEME, SEPARATOR, CandidateCodes, Framework, Theme, agreeing_first,
                    theme_label)
from .text import (FALSE_WORDS, LETTER, TRUE_WORDS, cell_text, counted, is_missing,
                   is_non_answer, reads_as_english, same_text)

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["suggest_units", "suggest_table", "propose", "suggest_units_and_codes", "score_themes",
           "SUGGESTION_COLUMNS"]

logger = logging.getLogger(__name__)

#: Columns of :func:`suggest_units`' table.
SUGGESTION_COLUMNS = ["unit_id", "theme_id", "score", "runner_up", "runner_up_score", "rationale",
                      "fit"]

# Defaults, each a documented parameter of the functions below.
TOP_K = 3
TEMPERATURE = 0.03
CONTEXT_WEIGHT = 0.2
CODE_WEIGHT = 0.2

# How "none" is decided (module docstring): a unit is even odds for none when its best theme
# fits NONE_Z robust spreads worse than the study's median unit's; the study needs at least
# MIN_REFERENCE_UNITS units to say what is typical.
NONE_Z = -2.0
MIN_REFERENCE_UNITS = 8
WEAK_FIT = 0.1  # a suggestion whose fit is below this says so in its rationale
MIN_SPREAD = 0.01  # cosine: a study of near-identical units does not make every gap an outlier

# Learning from coded examples: the classifier's inverse regularisation and the weight of the
# framework's own logits are chosen among these by CV_FOLDS-fold cross-validation on the
# examples, when at least half of the coded themes were coded by two decisions or more (each
# example its own decision unless a decision_id says otherwise), at least MIN_CV_EXAMPLES
# examples have such a theme and there are two decisions; else (one example a theme, as
# early in a review) DEFAULT_C and DEFAULT_WEIGHT, the choice that did best over the whole
# suite at one example a theme, or the largest weight where a decision (a code accepted in
# one click) coded several examples.
EXAMPLE_CS = (0.1, 0.3, 1.0, 3.0, 10.0)
ZERO_SHOT_WEIGHTS = (0.0, 0.1, 0.25, 0.5, 1.0, 2.0, 4.0)
#: ... and among these where the learner's examples are the study's clearest units, which
#: the framework itself chose: judged on them, the framework is right by construction.
CLEAREST_WEIGHTS = (0.0, 0.1, 0.25, 0.5, 1.0)
CV_FOLDS = 5
MIN_CV_EXAMPLES = 4
DEFAULT_C, DEFAULT_WEIGHT = 10.0, 0.25
#: With a codebook of descriptions only and no coded examples: each theme's clearest units
#: in the study that the learner takes as its examples (see the module docstring).
CLEAREST_UNITS = 5
#: ... and where coded examples name fewer themes than this (or than half the framework's), the
#: themes they do not name learn from their clearest units beside them (see ``_stand_ins``).
MIN_THEMES_CODED = 3


@dataclass(frozen=True)
class _Evidence:
    """The texts that stand for the themes, embedded."""

    theme_ids: list[str]
    texts: list[str]
    kinds: list[str]  # "description", "indicator", "example", "subtheme"
    owner: np.ndarray  # index into theme_ids, per text
    vectors: np.ndarray

    @functools.cached_property
    def words(self) -> list[list[str]]:
        """Per theme, its texts' content words (:func:`themesift.text.content_words`) of more
        than three letters, in order."""
        from .text import content_words

        out: list[dict[str, None]] = [{} for _ in self.theme_ids]
        for text, j in zip(self.texts, self.owner):
            out[j].update((w, None) for w in content_words(text) if len(w) > 3)
        return [list(words) for words in out]


def score_themes(
    units: pd.DataFrame,
    framework: Framework | str,
    *,
    embedder=None,
    examples: pd.DataFrame | None = None,
    codes: CandidateCodes | None = None,
    top_k: int = TOP_K,
    temperature: float = TEMPERATURE,
    none_similarity: float | None = None,
    context_weight: float = CONTEXT_WEIGHT,
    code_weight: float = CODE_WEIGHT,
) -> pd.DataFrame:
    """Probability of each theme (and "none") for each unit.

    Parameters are those of :func:`suggest_units`.

    Returns
    -------
    pandas.DataFrame
        Indexed by ``unit_id``; one column per top-level theme id plus ``none``; rows sum to 1.
    """
    return _probability_frame(_score(units, framework, embedder, examples, codes, top_k,
                                     temperature, none_similarity, context_weight, code_weight),
                              units)


def _probability_frame(s: _Scored, units: pd.DataFrame | None = None) -> pd.DataFrame:
    """The probabilities, indexed by unit id: as ``units`` gives them (1, not "1"), where given."""
    import pandas as pd

    ids = s.unit_ids if units is None else units["unit_id"].to_numpy()
    return pd.DataFrame(s.probs, index=pd.Index(ids, name="unit_id"),
                        columns=[*s.evidence.theme_ids, NONE_THEME])


def suggest_units(
    units: pd.DataFrame,
    framework: Framework | str,
    *,
    embedder=None,
    examples: pd.DataFrame | None = None,
    codes: CandidateCodes | None = None,
    top_k: int = TOP_K,
    temperature: float = TEMPERATURE,
    none_similarity: float | None = None,
    context_weight: float = CONTEXT_WEIGHT,
    code_weight: float = CODE_WEIGHT,
) -> pd.DataFrame:
    """Suggest a theme (or "none") for every meaning unit, with a score and a reason.

    Parameters
    ----------
    units:
        Meaning units; only ``unit_id`` and ``text`` are needed. ``doc_id`` and ``turn`` (as
        from :func:`themesift.segment`) let neighbouring units of one turn inform each other.
    framework:
        A :class:`Framework` or a built-in name / YAML path for :func:`load_framework`.
    embedder:
        An :class:`Embedder`; by default the packaged all-MiniLM-L6-v2.
    examples:
        Analyst-confirmed units to learn from: a DataFrame with columns ``text`` and
        ``theme_id`` (``none`` allowed; several rows per text for multi-label coding), and
        optionally a boolean ``rejected`` marking rows that say the text is *not* that theme
        (a rejected suggestion: never suggested for that text again). Themes without
        examples are still suggested, from their description; a unit whose text is an
        example gets the example's theme(s). How much the examples count against the
        framework is measured on them (see the module docstring): an optional column
        ``decision_id`` says which rows one decision coded (a code accepted in one click,
        as :meth:`Study.examples` gives them), and such rows are held out together, since
        a code's members tell little about units outside it. Without examples, a
        framework of names and descriptions only learns from each theme's clearest units in
        ``units`` instead (8 units or more).
    codes:
        Candidate codes from :func:`discover_codes` for the same units: units of one code
        pull towards the same theme.
    top_k:
        How many of a theme's closest texts are averaged into its similarity.
    temperature:
        Softmax temperature in cosine units: lower makes scores more decisive.
    none_similarity:
        A similarity a unit's best theme must beat, else it gets ``none`` (fits no theme;
        maybe a new one). By default "none" is judged against how well the study's other
        units fit (see the module docstring).
    context_weight, code_weight:
        How much the neighbours in the same turn, and the other units of the same code, count
        (0 turns it off).

    Returns
    -------
    pandas.DataFrame
        One row per unit, in input order: ``unit_id, theme_id, score, runner_up,
        runner_up_score, rationale, fit``. ``score`` is in [0, 1]; higher means more often
        right. ``fit`` says how well the unit's best theme fits it, whichever theme is
        suggested: the share of the study's units (as a normal curve) that fit their best
        theme worse; empty with fewer than 8 units.

    Raises
    ------
    InputError
        If ``units`` or ``examples`` lack a column, have empty texts or unknown theme ids.

    Examples
    --------
    >>> fw = load_framework("recovery")                          # doctest: +SKIP
    >>> suggest_units(units, fw).head()                          # doctest: +SKIP
    """
    return _unit_table(_score(units, framework, embedder, examples, codes, top_k, temperature,
                              none_similarity, context_weight, code_weight), units)


def suggest_units_and_codes(
    units: pd.DataFrame,
    codes: CandidateCodes,
    framework: Framework | str,
    *,
    embedder=None,
    examples: pd.DataFrame | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """``suggest_units(units, framework, codes=codes)`` and ``propose(codes, framework,
    units=units)`` (same embedder and examples, default settings) from one scoring of the
    units instead of two: what ``themesift run`` does."""
    s = _score(units, framework, embedder, examples, codes, TOP_K, TEMPERATURE, None,
               CONTEXT_WEIGHT, CODE_WEIGHT)
    unit_table = _unit_table(s, units)
    return unit_table, _code_table(codes.table, codes.assignments, _probability_frame(s),
                                   unit_table)


def _unit_table(s: _Scored, units: pd.DataFrame | None = None) -> pd.DataFrame:
    """One suggestion per unit; with ``units``, its small talk set aside (see
    :func:`_set_small_talk_aside`)."""
    import pandas as pd

    labels = [*s.evidence.theme_ids, NONE_THEME]
    # "none" first among equals: a unit no closer to one theme than to the others fits none.
    n = len(labels) - 1
    first_none = np.r_[n, np.arange(n)]
    order = first_none[np.argsort(-s.probs[:, first_none], axis=1, kind="stable")]
    rows = []
    for i, unit_id in enumerate(s.unit_ids):
        best, second = order[i, 0], order[i, 1]
        rows.append({
            "unit_id": unit_id,
            "theme_id": labels[best],
            "score": round(float(s.probs[i, best]), 4),
            "runner_up": labels[second],
            "runner_up_score": round(float(s.probs[i, second]), 4),
            "rationale": _rationale(s, i, best, second),
            "fit": float(s.fit[i]),
        })
    table = pd.DataFrame(rows, columns=SUGGESTION_COLUMNS)
    if units is None:
        return table
    table["unit_id"] = units["unit_id"].to_numpy()  # as the caller gave them (1, not "1")
    table.index = units.index  # so that a column of it goes back onto the caller's table
    return _set_small_talk_aside(table, units, set(s.coded or ()), s.evidence.texts)


def propose(
    codes: CandidateCodes,
    framework: Framework | str,
    *,
    embedder=None,
    units: pd.DataFrame | None = None,
    examples: pd.DataFrame | None = None,
    temperature: float = TEMPERATURE,
    none_similarity: float | None = None,
) -> pd.DataFrame:
    """Suggest a theme (or "none") for every candidate code, from its members' own suggestions.

    A code's theme is the theme most of its member units are suggested on their own (the
    ``theme_id`` of :func:`suggest_units`), and its rationale says how many agree. A code
    whose members disagree (fewer than ``MIN_AGREEMENT``, 60%, on one theme) is not offered
    as one decision (``offered`` is False): its units are reviewed one by one instead.
    Accepting an offered code codes only the members whose own suggestion agrees (see
    :meth:`themesift.Study.coding`). Without ``units``, the code's exemplar quotes stand for
    its members.

    Returns
    -------
    pandas.DataFrame
        One row per code: ``code_id, label, size, theme_id, score`` (the share of its members
        suggested ``theme_id`` on their own, the measure the theme is chosen by),
        ``runner_up, runner_up_score`` (the theme with the next most members, ties by the
        members' mean probability, and its share), ``agreement`` (the same share as
        ``score``, kept for earlier readers), ``offered`` and ``rationale`` (how many members
        agree, the keywords and member quotes).
    """
    import pandas as pd

    framework = _framework(framework)
    table = codes.table
    assignments = codes.assignments
    if units is None:  # the exemplar quotes stand for the members (codes=None says so below)
        quotes = [(code, f"{code}#{k}", quote) for code, exemplars in
                  zip(table["code_id"], table["exemplars"].fillna("").astype(str))
                  for k, quote in enumerate(exemplars.split(" | ")) if quote.strip()]
        units = pd.DataFrame({"unit_id": [q[1] for q in quotes], "text": [q[2] for q in quotes]})
        assignments = pd.DataFrame({"unit_id": units["unit_id"], "code_id": [q[0] for q in quotes]})
        codes = None
    stand_in = codes is None
    s = _score(units, framework, embedder, examples, codes, TOP_K, temperature, none_similarity,
               CONTEXT_WEIGHT, CODE_WEIGHT)
    unit_table = _unit_table(s, units)
    return _code_table(table, assignments, _probability_frame(s), unit_table, stand_in)


#: A code is offered as one decision when at least this share of its members is suggested
#: its theme on their own.
MIN_AGREEMENT = 0.6
CODE_COLUMNS = ["code_id", "label", "size", "theme_id", "score", "runner_up", "runner_up_score",
                "agreement", "offered", "rationale"]


def offered_codes(suggestions: pd.DataFrame) -> pd.DataFrame:
    """The code suggestions offered as one decision (``offered``: their members mostly agree);
    every row of a table without that column."""
    if "offered" not in suggestions:
        return suggestions
    return suggestions[suggestions["offered"].astype(bool)]


def _code_table(table: pd.DataFrame, assignments: pd.DataFrame, probs: pd.DataFrame,
                unit_table: pd.DataFrame, stand_in: bool = False) -> pd.DataFrame:
    """One suggestion per code: the theme most of its members are suggested on their own
    (ties: the higher mean probability), with how many agree; ``stand_in``: the members are
    the codes' exemplar quotes, and the rationales say so."""
    import pandas as pd

    labels = list(probs.columns)
    members = assignments[["unit_id", "code_id"]].astype({"unit_id": str}).merge(
        unit_table[["unit_id", "theme_id"]].astype({"unit_id": str}), on="unit_id")
    mean = members.join(probs, on="unit_id").drop(columns=["unit_id", "theme_id"]).groupby(
        "code_id", sort=False).mean()
    votes = members.groupby("code_id", sort=False)["theme_id"].agg(list)
    own = dict(zip(members["unit_id"], members["theme_id"]))
    rows = []
    for code in table.itertuples(index=False):
        suggested = votes.get(code.code_id, [])
        p = (mean.loc[code.code_id].to_numpy() if code.code_id in mean.index
             else np.zeros(len(labels)))
        count = {t: suggested.count(t) for t in labels}
        ranked = sorted(range(len(labels)), key=lambda j: (-count[labels[j]], -p[j], j))
        best, second = ranked[0], ranked[1]
        theme, n = labels[best], len(suggested)
        # The score is the measure the theme is chosen by: the share of members suggested it
        # (their mean probability can rank another theme first, and read as a contradiction).
        share = {t: count[t] / n if n else 0.0 for t in labels}
        agreement = share[theme]
        offered = n > 0 and agreement >= MIN_AGREEMENT
        rows.append({
            "code_id": code.code_id, "label": code.label, "size": int(code.size),
            "theme_id": theme, "score": round(agreement, 4),
            "runner_up": labels[second], "runner_up_score": round(share[labels[second]], 4),
            "agreement": round(agreement, 4), "offered": offered,
            "rationale": _code_rationale(code, theme, count, n, offered, stand_in, own),
        })
    return pd.DataFrame(rows, columns=CODE_COLUMNS).astype({"offered": bool})


def _code_rationale(code, theme: str, count: dict[str, int], n: int, offered: bool,
                    stand_in: bool = False, own: dict[str, str] | None = None) -> str:
    """Why a code is suggested its theme, its keywords, and two exemplar quotes, of members
    whose own suggestion (``own``: unit id -> theme) is the code's theme first."""
    others = ", ".join(f"{t} {c}" for t, c in sorted(count.items(), key=lambda tc: -tc[1])
                       if c and t != theme)
    agree = count[theme]
    if stand_in and n:
        reason = (f"{agree} of its {n} exemplar quotes are suggested {theme} ({agree / n:.0%}"
                  f"{'; ' + others if others else ''}), standing for its {int(code.size)} "
                  f"members: pass units= to count them all.")
    elif not n:
        reason = "No member unit has a suggestion of its own, so the code is not offered."
    elif not offered:
        reason = (f"Its members disagree: {agree} of {n} are suggested {theme} "
                  f"({agree / n:.0%}){'; ' + others if others else ''}. Below "
                  f"{MIN_AGREEMENT:.0%}, so the code is not offered as one decision: review "
                  "its units one by one.")
    elif agree == n:
        reason = f"All {n} member units are suggested {theme} on their own."
    else:
        reason = (f"{agree} of {n} member units are suggested {theme} ({agree / n:.0%}; "
                  f"{others}). Accepting codes those {agree}; "
                  + ("the other one stays" if n - agree == 1 else f"the other {n - agree} stay")
                  + " to be decided one by one.")
    exemplars = code.exemplars if isinstance(code.exemplars, str) else ""  # empty: NaN
    quotes = [q for q in exemplars.split(SEPARATOR) if q]
    ids = str(getattr(code, "exemplar_ids", "") or "").split(SEPARATOR)
    if own and len(ids) == len(quotes):
        quotes = [quotes[k] for k in agreeing_first(ids, own, theme)]
    quotes = quotes[:2]
    reason += f" Keywords: {str(code.keywords).replace(' | ', ', ')}."
    return reason + (" For example: " + " / ".join(f'"{_clip(q, 140)}"' for q in quotes)
                     if quotes else "")


def _set_small_talk_aside(unit_table: pd.DataFrame, units: pd.DataFrame,
                          coded: set[int] = frozenset(),
                          framework_texts: Sequence[str] = ()) -> pd.DataFrame:
    """Units flagged ``small_talk`` (see :mod:`themesift.smalltalk`) are suggested ``none``
    with score 1: set aside by a rule, which leaves no probability to the themes. The
    framework's best theme is the runner-up (score 0), and the rationale says why, and what
    the framework alone would suggest. Not the units the analyst coded (``coded``, by
    position): their coding stands. ``framework_texts``: their small-talk words are no cues in
    the reasons given (:func:`themesift.smalltalk.topic_words`)."""
    from .smalltalk import flagged_reasons, small_talk_flags, vocabulary_words

    flagged = small_talk_flags(units)
    flagged[list(coded)] = False
    if not flagged.any():
        return unit_table
    reasons = flagged_reasons(units, flagged, vocabulary_words(framework_texts))
    out = unit_table.copy()
    for i in np.flatnonzero(flagged):
        row = out.iloc[i]
        runner, runner_score = row["theme_id"], row["score"]
        if runner == NONE_THEME:
            runner, runner_score = row["runner_up"], row["runner_up_score"]
        why = reasons[i]
        out.iloc[i, out.columns.get_indexer(["theme_id", "score", "runner_up", "runner_up_score",
                                             "rationale"])] = [
            NONE_THEME, 1.0, runner, 0.0,
            f"Small talk ({why}): set aside, fits no theme of the study; the framework alone "
            f"would suggest {runner} ({float(runner_score):.2f})."]
    return out


# --- scoring ---------------------------------------------------------------------------------

@dataclass
class _Scored:
    unit_ids: list[str]
    texts: list[str]
    evidence: _Evidence
    similarity: np.ndarray  # (n_units, n_themes) after context/code smoothing
    probs: np.ndarray  # (n_units, n_themes + 1), last column "none"
    closest: np.ndarray  # (n_units, n_themes): index of the closest evidence text per theme
    closest_similarity: np.ndarray
    fit: np.ndarray  # (n_units,): how well the best theme fits, against the study (NaN: unknown)
    n_examples: int = 0  # coded texts learned from (rejections and none not counted)
    coded: dict[int, list[str]] | None = None  # units that are examples: their coded themes
    clearest: list[tuple[str, str, bool]] | None = None  # the study's units learned from instead
    learner: _Learner | None = None  # what learned from the examples or the clearest units
    rejected: dict[int, list[str]] | None = None  # units with themes rejected for their text


@dataclass(frozen=True)
class _Reference:
    """How closely the study's units fit their best themes: median and robust spread."""

    median: float
    spread: float

    @classmethod
    def of(cls, best: np.ndarray) -> _Reference | None:
        if len(best) < MIN_REFERENCE_UNITS:
            return None
        median = float(np.median(best))
        spread = 1.4826 * float(np.median(np.abs(best - median)))  # the MAD, scaled to a s.d.
        return cls(median, max(spread, MIN_SPREAD))

    def z(self, best: np.ndarray) -> np.ndarray:
        return (best - self.median) / self.spread


@one_blas_thread()
def _score(units, framework, embedder, examples, codes, top_k, temperature, none_similarity,
           context_weight, code_weight, reference: _Reference | None = None,
           clearest: list[tuple[str, str, bool]] | None = None,
           learner: _Learner | None = None) -> _Scored:
    _check_params(top_k, temperature, none_similarity, context_weight, code_weight)
    framework = _framework(framework)
    unit_ids, texts = _unit_texts(units)
    embedder = embedder if embedder is not None else _default_embedder()
    evidence = _evidence(framework, embedder)
    coded = check_examples(examples, framework) if examples is not None else []
    decisions = example_decisions(examples, coded) if examples is not None else {}

    first = reference is None
    if first:  # once a table: later chunks come with the first one's reference
        _say_if_not_english(texts)
        if len(framework.themes) < 3 and none_similarity is None:
            from .frameworks.framework import FEW_THEMES_NOTE

            logger.warning("%s: %s", framework.name, FEW_THEMES_NOTE.replace("`", ""))
    unit_vectors = embedder.encode(texts)
    similarity, closest, closest_sim = _text_similarity(embedder, texts, unit_vectors, evidence,
                                                        top_k)
    if context_weight > 0 and {"doc_id", "turn"} <= set(units.columns):
        similarity = _smooth(similarity, _turn_neighbours(units), context_weight)
    if codes is not None and code_weight > 0:
        similarity = _smooth(similarity, _code_groups(codes, unit_ids), code_weight)

    best = similarity.max(axis=1)
    reference = reference or _Reference.of(best)
    z = reference.z(best) if reference else np.full(len(best), np.nan)
    if none_similarity is not None:  # the analyst's own level: none competes as a similarity
        none_logit = (none_similarity - best) / temperature
    else:
        none_logit = _none_logit(best, reference, temperature)
    logits = np.column_stack([(similarity - best[:, None]) / temperature, none_logit])
    # "none" is no theme: it comes from how a unit fits (above), not from a class learned from
    # the units an analyst coded none, which share nothing but that (they stay known units).
    themed = [row for row in coded if row[1] != NONE_THEME]
    # ... and a text the analyst coded none is no theme's clearest unit either
    coded_none = {same_text(text) for text, theme, no in coded if theme == NONE_THEME and not no}
    if any(not rejected for _, _, rejected in themed):
        # Examples of a few themes say little about how the themes differ: the themes they do
        # not name get stand-ins, and the framework counts as much as the cross-validation
        # ever lets it (see _stand_ins).
        few = _few_themes_named(themed, len(evidence.theme_ids))
        if clearest is None:
            clearest = (_stand_ins(themed, texts, _softmax(logits), evidence, units, coded_none)
                        if few and reference is not None else [])
        learner = learner or _learn(themed + clearest, evidence, embedder, top_k, temperature,
                                    reference, weights=ZERO_SHOT_WEIGHTS[-1:] if few else None,
                                    decisions=decisions)
        framework_best = logits.argmax(axis=1)
        logits = learner.logits(logits, unit_vectors)
        if first:
            _say_if_examples_pull(framework_best, logits.argmax(axis=1), themed, evidence,
                                  texts)
    else:
        if clearest is None:
            rejected = {(same_text(text), theme) for text, theme, no in coded if no}
            clearest = (_clearest_units(texts, _softmax(logits), evidence, units, rejected,
                                        skip=coded_none)
                        if reference is not None else [])
        if clearest:
            learner = learner or _learn(clearest, evidence, embedder, top_k, temperature,
                                        reference, weights=CLEAREST_WEIGHTS)
            # What the clearest units teach comes from the framework: a unit no closer to any
            # theme text than to an empty one, or below the analyst's none level, stays none.
            stay = best <= 0
            if none_similarity is not None:
                stay |= best < none_similarity
            logits = np.where(stay[:, None], logits, learner.logits(logits, unit_vectors))
    probs = _softmax(logits)
    # A text with no letters (a number, emoji, a code such as "Q001"'s digits alone) has no
    # words to compare: whatever its vector is close to, it fits no theme.
    wordless = np.array([not LETTER.search(t) for t in texts])
    if first and len(texts) >= MIN_REFERENCE_UNITS and wordless.all():
        raise InputError(f"None of the {len(texts)} texts has words to compare with the "
                         f"framework (the first: {', '.join(map(repr, texts[:3]))})",
                         fix="Check that the text column is the one with the passages")
    probs[wordless | np.array([is_non_answer(t) for t in texts])] = np.eye(probs.shape[1])[-1]
    known, rejected = _known_units(texts, coded, evidence.theme_ids, probs)
    fit = np.round(_ndtr(z), 4)
    return _Scored(unit_ids, texts, evidence, similarity, probs, closest, closest_sim, fit,
                   len({same_text(text) for text, _, rejected in themed if not rejected}),
                   known, clearest, learner,
                   rejected)


def _say_if_not_english(texts: list[str]) -> None:
    """A warning where most texts that can be told do not read as English: the models are
    English, and suggest for any words with the same confidence."""
    from .text import reads_as_english

    looked_at = texts[::max(1, len(texts) // 200)]  # 200 or so, spread over the study, tell
    told = [english for english in map(reads_as_english, looked_at) if english is not None]
    other = told.count(False)
    if other > len(told) / 2:
        logger.warning("%d of the %d texts long enough to tell do not read as English. The "
                       "embedding models are English: their suggestions for other languages "
                       "mean little, however high their scores (translate the texts first).",
                       other, len(told))


#: The coded examples pull a study towards one theme (a warning) when they move more than
#: this share of its units to that theme from the theme the framework alone suggests.
PULLED_SHARE = 0.5


def _say_if_examples_pull(framework_best: np.ndarray, learned_best: np.ndarray, themed,
                          evidence: _Evidence, texts: list[str]) -> None:
    """A warning where the examples move most of the units (``texts``; those that are
    examples themselves aside) to one theme: a few examples, most of one theme and some coded
    loosely, taught a word rather than the theme (an analyst's 20 examples, 14 of one theme,
    put 282 of 297 survey answers on it)."""
    coded = {same_text(text) for text, _, _ in themed}
    moved = Counter(int(j) for j, was, text in zip(learned_best, framework_best, texts)
                    if j != was and same_text(text) not in coded)
    if not moved or len(learned_best) < MIN_REFERENCE_UNITS:
        return
    j, count = moved.most_common(1)[0]
    if j >= len(evidence.theme_ids) or count <= PULLED_SHARE * len(learned_best):
        return
    theme = evidence.theme_ids[j]
    named = Counter(t for _, t, rejected in themed if not rejected)
    logger.warning(
        "The coded examples move %d of the %d units to %s from the theme the framework alone "
        "suggests (%d of the %d coded examples are %s). Few examples, most of one theme, can "
        "teach its words rather than the theme: read some of those units, and code examples "
        "of the other themes too.", count, len(learned_best), theme, named[theme],
        sum(named.values()), theme)


def _few_themes_named(themed, n_themes: int) -> bool:
    """Whether the coded examples name fewer than ``MIN_THEMES_CODED`` themes, or fewer than
    half of the framework's (never where they name all of its themes, as with a codebook of
    one or two)."""
    named = {theme for _, theme, rejected in themed if not rejected}
    return len(named) < min(n_themes, max(MIN_THEMES_CODED, n_themes / 2))


def _stand_ins(themed, texts: list[str], probs: np.ndarray, evidence: _Evidence, units,
               coded_none: set[str]) -> list[tuple[str, str, bool]]:
    """For coded examples that name few themes (:func:`_few_themes_named`): for each theme
    they do not name, as many of its clearest units in the study (see :func:`_clearest_units`)
    as a named theme has examples (the median, at most ``CLEAREST_UNITS``).

    A classifier shown a few themes in the participants' words and the others only in an
    analyst's description learns the words, not the themes: eight units reassigned to hope made
    230 of a study's 249 units hope. The framework's clearest units give the other themes the
    participants' words too. With more themes named they are not added: there they lowered
    accuracy where the framework is weak (serdif's review loop after 25 and 50 decisions,
    README "Quality")."""
    named = Counter(theme for _, theme, rejected in themed if not rejected)
    rejected = {(same_text(text), theme) for text, theme, no in themed if no}
    per_theme = min(CLEAREST_UNITS, max(1, round(float(np.median(list(named.values()))))))
    coded = {same_text(text) for text, _, _ in themed}  # no stand-in for another theme
    return [row for row in _clearest_units(texts, probs, evidence, units, rejected,
                                           per_theme=per_theme, any_codebook=True,
                                           skip=coded_none)
            if row[1] not in named and same_text(row[0]) not in coded]


def _clearest_units(texts: list[str], probs: np.ndarray, evidence: _Evidence, units,
                    rejected: set[tuple[str, str]], per_theme: int = CLEAREST_UNITS,
                    any_codebook: bool = False, skip: set[str] = frozenset()
                    ) -> list[tuple[str, str, bool]]:
    """With a codebook that gives each theme only its description (or any codebook, with
    ``any_codebook``): per theme, the ``per_theme`` distinct texts suggested it with the
    highest scores, as examples
    ``(text, theme_id, False)`` (not small talk, nor a text the analyst rejected that theme
    for, nor one in ``skip``: coded none); else none. They teach the learner how this study's
    participants talk about each theme, which a description written by an analyst does not."""
    from .smalltalk import small_talk_flags

    if not any_codebook and any(kind != "description" for kind in evidence.kinds):
        return []
    aside = small_talk_flags(units)
    best = probs.argmax(axis=1)
    out = []
    for j, theme in enumerate(evidence.theme_ids):
        members = np.flatnonzero((best == j) & ~aside)
        chosen: dict[str, None] = {}
        for i in members[np.argsort(-probs[members, j], kind="stable")]:
            if len(chosen) == per_theme:
                break
            said = same_text(texts[i])  # as the analyst's texts are compared
            if (said, theme) not in rejected and said not in skip:
                chosen[texts[i]] = None
        out += [(text, theme, False) for text in chosen]
    return out


def _none_logit(best: np.ndarray, reference: _Reference | None, temperature: float
                ) -> np.ndarray:
    """Log-odds that a text whose similarity to its best theme is ``best`` fits no theme:
    even at ``NONE_Z`` robust spreads below the study's median, falling off as a normal tail
    above it (no chance where the study is too small to judge: ``reference`` None); and a
    text closer to no theme than to an empty one (similarity <= 0) fits none whatever the
    study."""
    from scipy.special import log_ndtr

    shifted = NONE_Z - (reference.z(best) if reference else np.full(len(best), np.inf))
    return np.maximum(log_ndtr(shifted) - log_ndtr(-shifted), -best / temperature)


def _ndtr(z: np.ndarray) -> np.ndarray:
    from scipy.special import ndtr

    return ndtr(z)


def _text_similarity(embedder, texts: list[str], vectors: np.ndarray, evidence: _Evidence,
                     top_k: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Each text's similarity to each theme (see the module docstring), and per theme the
    closest evidence text and its similarity."""
    similarity, closest, closest_sim = _theme_similarity(vectors @ evidence.vectors.T, evidence,
                                                         top_k)
    # Long texts: their best sentence counts half.
    sentence_vectors, owners = _sentence_vectors(embedder, texts)
    if len(owners):
        sentence_sim, _, _ = _theme_similarity(sentence_vectors @ evidence.vectors.T,
                                               evidence, top_k)
        best = np.full_like(similarity, -np.inf)
        np.maximum.at(best, owners, sentence_sim)
        has = np.isfinite(best[:, 0])
        similarity[has] = 0.5 * similarity[has] + 0.5 * best[has]
    return similarity, closest, closest_sim


def _softmax(logits: np.ndarray) -> np.ndarray:
    e = np.exp(logits - logits.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


@dataclass(frozen=True)
class _Learner:
    """A classifier trained on coded examples, and the weight of the framework beside it."""

    scores: Callable[[np.ndarray], np.ndarray]  # unit vectors -> (n, n_themes + 1) logits
    weight: float

    def logits(self, zero_shot: np.ndarray, unit_vectors: np.ndarray) -> np.ndarray:
        return self.scores(unit_vectors) + self.weight * zero_shot


def _learn(coded: list[tuple[str, str, bool]], evidence: _Evidence, embedder, top_k: int,
           temperature: float, reference: _Reference | None,
           weights: Sequence[float] | None = None,
           decisions: dict[str, str] | None = None) -> _Learner:
    """A classifier trained on the coded examples, whose logits are added to ``weight`` times
    the framework's zero-shot logits; its regularisation and the weight are chosen by
    cross-validation on the examples themselves (see the module docstring), the texts of one
    decision (``decisions``: text -> decision id) held out together."""
    labels = [*evidence.theme_ids, NONE_THEME]
    texts = list(dict.fromkeys(t for t, _, rejected in coded if not rejected))
    groups = [(decisions or {}).get(t, f"text {t}") for t in texts]
    row = {t: i for i, t in enumerate(texts)}
    gold = np.zeros((len(texts), len(labels)), dtype=bool)
    for text, theme, rejected in coded:
        if not rejected:
            gold[row[text], labels.index(theme)] = True
    vectors = embedder.encode(texts)
    # The examples' zero-shot logits, computed as the units' are and judged against the same
    # study.
    similarity, _, _ = _text_similarity(embedder, texts, vectors, evidence, top_k)
    best = similarity.max(axis=1)
    example_zero = np.column_stack([(similarity - best[:, None]) / temperature,
                                    _none_logit(best, reference, temperature)])
    # Each coded theme's description is one more example of it. A theme no example names is
    # left to the framework (its learned score neutral, as for a label never coded): learned
    # from its description alone, one example among many, it was hardly ever suggested (the
    # sample with fg1's coding less its symptoms units: symptoms 44 -> 3 units).
    # (Examples of a single theme keep every description: a regression needs two classes.)
    named = set(np.flatnonzero(gold[:, :-1].any(axis=0)))
    descriptions = [k for k, kind in enumerate(evidence.kinds) if kind == "description"
                    and (evidence.owner[k] in named or len(named) < 2)]
    x_descriptions, y_descriptions = evidence.vectors[descriptions], evidence.owner[descriptions]

    def fit(rows: np.ndarray, c: float, model=None):
        x = np.vstack([vectors[r] for r in rows for _ in range(gold[r].sum())] + [x_descriptions])
        y = np.r_[np.array([j for r in rows for j in np.flatnonzero(gold[r])], dtype=int),
                  y_descriptions]
        if len(set(y)) < 2:
            return None
        from sklearn.linear_model import LogisticRegression

        model = model or LogisticRegression(max_iter=1000, warm_start=True)
        with warnings.catch_warnings():  # few examples of many themes is the usual case here
            warnings.filterwarnings("ignore", message="The number of unique classes")
            return model.set_params(C=c).fit(x, y)

    def scores(model, x: np.ndarray) -> np.ndarray:
        out = np.zeros((len(x), len(labels)))
        if model is None:
            return out
        raw = model.decision_function(x)
        raw = np.column_stack([-raw / 2, raw / 2]) if raw.ndim == 1 else raw
        present = model.classes_
        out[:] = raw.mean(axis=1, keepdims=True)  # labels never coded: neutral
        out[:, present] = raw
        return out

    c, weight = _cross_validate(gold, example_zero, fit, scores, vectors,
                                weights or ZERO_SHOT_WEIGHTS, groups)
    return _Learner(functools.partial(scores, fit(np.arange(len(texts)), c)), weight)


def _cross_validate(gold, zero, fit, scores, x, weights: Sequence[float] = ZERO_SHOT_WEIGHTS,
                    groups: Sequence[str] | None = None) -> tuple[float, float]:
    """The (C, weight) under which held-out examples' coded themes are most probable, the
    weight among ``weights``; the examples of one group (``groups``: one per example, the
    decision that coded it) are held out together. Accepting a code codes its members in
    one click: held out one by one, each is predicted from its near twins, and the examples
    seem to carry over to other units far better than they do.

    A theme's only example (or only decision), held out, says nothing about how examples
    carry over to new text (its theme is then learned from the description alone), so
    cross-validation runs only where at least half of the coded themes have more than one
    (and at least ``MIN_CV_EXAMPLES`` examples have such a theme, in two decisions or more);
    else ``DEFAULT_C`` and the weight among ``weights`` nearest ``DEFAULT_WEIGHT`` (what suits
    one example a theme), or the largest where a decision coded several examples: a code
    accepted in one click is many near twins, which at that weight took a study towards its
    theme (the sample study: relationships from 106 to 220 of 280 units after two codes and
    a unit were decided; 133 at the largest weight)."""
    n = len(gold)
    group = (np.arange(n) if groups is None or len(set(groups)) == n  # one by one
             else np.unique(list(groups), return_inverse=True)[1])
    n_groups = int(group.max()) + 1
    # Per theme, how many decisions coded it (examples, where each is its own decision).
    counts = np.array([len(set(group[gold[:, j]])) for j in range(gold.shape[1])])
    shared = (gold & (counts >= 2)).any(axis=1)
    if (shared.sum() < MIN_CV_EXAMPLES or n_groups < 2
            or (counts >= 2).sum() < (counts >= 1).sum() / 2):
        if n_groups < n:  # a decision coded several examples: a code accepted in one click
            return DEFAULT_C, max(weights)
        return DEFAULT_C, min(weights, key=lambda w: abs(w - DEFAULT_WEIGHT))
    folds = (np.random.default_rng(0).permutation(n_groups) % min(CV_FOLDS, n_groups))[group]
    held_out = {c: np.zeros(gold.shape) for c in EXAMPLE_CS}
    for f in range(folds.max() + 1):
        train, test = np.flatnonzero(folds != f), np.flatnonzero(folds == f)
        model = None
        for c in EXAMPLE_CS:  # weakest regularisation last: each fit starts from the last
            model = fit(train, c, model)
            held_out[c][test] = scores(model, x[test])
    best, choice = -np.inf, (EXAMPLE_CS[0], weights[0])
    for c, raw in held_out.items():
        for weight in weights:
            p = _softmax(raw + weight * zero)
            likelihood = np.log((p * gold).sum(axis=1) + 1e-12).mean()
            if likelihood > best + 1e-9:
                best, choice = likelihood, (c, weight)
    return choice


def _known_units(texts: list[str], coded, theme_ids: list[str], probs: np.ndarray
                 ) -> tuple[dict[int, list[str]], dict[int, list[str]]]:
    """Units that are themselves coded examples: their coded themes (which their suggestion
    then is); a theme the analyst rejected for a text is never suggested for it again. Both
    by unit position: the coded themes, and the rejected ones."""
    if not coded:  # most calls: no text to look for
        return {}, {}
    labels = [*theme_ids, NONE_THEME]
    themes: dict[str, list[str]] = {}
    rejected: dict[str, list[str]] = {}
    for text, theme, no in coded:
        (rejected if no else themes).setdefault(same_text(text), []).append(theme)
    known, rejected_at = {}, {}
    for i, text in enumerate(map(same_text, texts)):  # typography and spacing don't count
        if text not in themes and text not in rejected:  # most units: nothing to do
            continue
        for theme in rejected.get(text, ()):
            probs[i, labels.index(theme)] = 0.0
            rejected_at.setdefault(i, []).append(theme)
        if text in themes:
            # coded none and a theme (a unit that two codings overlap): the theme
            known[i] = list(dict.fromkeys(themes[text]))
            if len(known[i]) > 1 and NONE_THEME in known[i]:
                known[i].remove(NONE_THEME)
            probs[i] = 0.0
            for rank, theme in enumerate(known[i]):
                probs[i, labels.index(theme)] = 1.0 / (rank + 1)
        probs[i] /= probs[i].sum() or 1.0
    return known, rejected_at


def _theme_similarity(sim_all: np.ndarray, evidence: _Evidence, top_k: int):
    """Per theme: mean of the top_k similarities to its texts, and the closest text."""
    n, t = sim_all.shape[0], len(evidence.theme_ids)
    out = np.zeros((n, t))
    closest = np.zeros((n, t), dtype=int)
    closest_sim = np.zeros((n, t))
    for j in range(t):
        cols = np.flatnonzero(evidence.owner == j)
        block = sim_all[:, cols]
        k = min(top_k, len(cols))
        out[:, j] = np.sort(block, axis=1)[:, -k:].mean(axis=1)
        arg = block.argmax(axis=1)
        closest[:, j] = cols[arg]
        closest_sim[:, j] = block[np.arange(n), arg]
    return out, closest, closest_sim


def _evidence(framework: Framework, embedder) -> _Evidence:
    texts, kinds, owner = framework_texts(framework)
    return _Evidence(framework.theme_ids, texts, kinds, np.array(owner), embedder.encode(texts))


def framework_texts(framework: Framework) -> tuple[list[str], list[str], list[int]]:
    """Every text the framework gives, its kind and its theme's index."""
    texts, kinds, owner = [], [], []

    def add(text: str, kind: str, j: int) -> None:
        texts.append(text)
        kinds.append(kind)
        owner.append(j)

    def add_theme(theme: Theme, j: int, top: bool) -> None:
        # The bare name is not evidence of its own: it is in "name: description", and alone
        # a one- or two-word name sits close to anything on its topic.
        add(f"{theme.name}: {theme.description}", "description" if top else "subtheme", j)
        for text in theme.indicators:
            add(text, "indicator", j)
        for text in theme.examples:
            add(text, "example", j)
        for sub in theme.subthemes:
            add_theme(sub, j, top=False)

    for j, theme in enumerate(framework.themes):
        add_theme(theme, j, top=True)
    return texts, kinds, owner


def _smooth(similarity: np.ndarray, groups: list[list[int]], weight: float) -> np.ndarray:
    """Move each unit's similarities towards the mean of its group's other members."""
    out = similarity.copy()
    for group in groups:
        if len(group) < 2:
            continue
        block = similarity[group]
        others = (block.sum(axis=0, keepdims=True) - block) / (len(group) - 1)
        out[group] = (1 - weight) * block + weight * others
    return out


def _turn_neighbours(units) -> list[list[int]]:
    keys = list(zip(units["doc_id"], units["turn"]))
    groups: dict[tuple, list[int]] = {}
    for i, key in enumerate(keys):
        groups.setdefault(key, []).append(i)
    return list(groups.values())


def _code_groups(codes: CandidateCodes, unit_ids: list[str]) -> list[list[int]]:
    position = {u: i for i, u in enumerate(unit_ids)}
    groups: dict[str, list[int]] = {}
    # ids as _unit_texts gives them: a spreadsheet's 1 is "1"
    for unit_id, code_id in zip(codes.assignments["unit_id"].astype(str),
                                codes.assignments["code_id"]):
        if unit_id in position:
            groups.setdefault(code_id, []).append(position[unit_id])
    return list(groups.values())


def _sentence_vectors(embedder, texts: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    """Vectors of the sentences of units that have several, and each one's unit: from the
    units' own forward passes with an :class:`Embedder`, else embedded alone."""
    if callable(getattr(embedder, "encode_sentences", None)):
        return embedder.encode_sentences(texts)
    from .embed import sentence_spans

    parts = [(i, text[s:e]) for i, text in enumerate(texts) for s, e in sentence_spans(text)]
    owners = np.array([i for i, _ in parts], dtype=np.int64)
    return (embedder.encode([p for _, p in parts]) if parts else np.zeros((0, 1))), owners


# --- explanations ----------------------------------------------------------------------------

def _rationale(s: _Scored, i: int, best: int, second: int) -> str:
    ids = s.evidence.theme_ids
    n = len(ids)
    if s.coded and i in s.coded:
        return f"Coded {' and '.join(s.coded[i])} in the examples (the analyst's own coding)."
    no = (s.rejected or {}).get(i, [])
    said_no = f"; {' and '.join(no)} rejected for it in the examples" if no else ""
    allowed = [k for k in range(n) if ids[k] not in no] or list(range(n))
    j = max(allowed, key=lambda k: s.similarity[i, k])
    closest = f"{ids[j]}, similarity {s.similarity[i, j]:.2f}"
    fit = s.fit[i]
    if best == n:  # none
        if no:
            return (f"Fits no theme well: the analyst rejected {' and '.join(no)} for it, and "
                    f"no other theme fits (closest: {closest}); maybe a new theme.")
        if not LETTER.search(s.texts[i]):
            return ("Fits no theme: it has no words to compare with the framework (only "
                    "numbers or symbols); check that this is the text column.")
        if is_non_answer(s.texts[i]):
            return (f"Fits no theme: {_clip(s.texts[i], 40)!r} says nothing a theme could "
                    "describe (an answer of no content).")
        if fit <= round(float(_ndtr(np.array(NONE_Z))), 4):  # fit is rounded so
            why = (f"its closest theme ({closest}) fits it worse than {_share_better(fit)} of "
                   "the study's units fit theirs")
        elif s.similarity[i, j] <= 0:
            why = f"no theme text is closer to it than to an empty text (closest: {closest})"
        elif s.n_examples:
            why = f"the coded examples weigh against every theme (closest: {closest})"
        elif s.clearest:
            why = (f"the units the descriptions suggest most clearly weigh against every theme "
                   f"(closest: {closest})")
        else:
            why = f"no theme reaches the none level set for this run (closest: {closest})"
        return f"Fits no theme well: {why}; maybe a new theme."
    k = s.closest[i, best]
    kind, text = s.evidence.kinds[k], s.evidence.texts[k]
    reason = (f'Closest {kind} of {ids[best]}: "{_clip(text, 120)}" (similarity '
              f"{s.closest_similarity[i, best]:.2f})")
    shared = _shared_words(s.texts[i], s.evidence.words[best])
    if shared:
        reason += f"; words shared with the theme's texts: {', '.join(shared)}"
    else:
        reason += "; no content word in common with the theme's texts (close in meaning only)"
    if fit < WEAK_FIT:
        reason += (f"; a weak fit (worse than {_share_better(fit)} of the study's units fit "
                   "theirs): the score says it is nearer this theme than the others, not that "
                   "it fits well")
    if _other_language(s.texts[i]):
        reason += ("; it does not read as English, and the models are English: this "
                   "suggestion means little")
    if j != best and s.n_examples:
        reason += (f"; the framework alone would suggest {ids[j]} (similarity "
                   f"{s.similarity[i, j]:.2f}): the coded examples outweigh it here")
    runner = ids[second] if second < n else NONE_THEME
    if s.n_examples:
        reason += f"; weighed against {counted(s.n_examples, 'coded example')}"
        if s.clearest:
            stood_in = len({theme for _, theme, _ in s.clearest})
            reason += (f" and {counted(len(s.clearest), 'unit')} of the study that the framework "
                       f"suggests most clearly for the {counted(stood_in, 'theme')} they do not "
                       "name")
    elif s.clearest:
        reason += (f"; weighed against the {counted(len(s.clearest), 'unit')} of the study that "
                   "the descriptions suggest most clearly")
    return reason + f"{said_no}; runner-up {runner} (score {s.probs[i, second]:.2f})."


def _other_language(text: str) -> bool:
    """Whether a text is surely not English: most of its letters of another script, or, of
    twelve words or more, too few English stop words (terse English notes have few). Only
    texts with a letter or mark outside ASCII are looked at (other languages' texts mostly
    have one; English as typed has none): a study's every unit goes through here."""
    if text.isascii():
        return False
    letters = [c for c in text if c.isalpha()]
    if letters and sum(c > "\u024f" for c in letters) > len(letters) / 2:
        return True
    return len(text.split()) >= 12 and reads_as_english(text) is False


def _share_better(fit: float) -> str:
    """The share of the study's units that fit their theme better, as a whole percentage
    that never says "100%" (the unit itself is one of them)."""
    return f"{min(99, int((1 - fit) * 100))}%"


def _shared_words(text: str, theme_words: list[str], most: int = 5) -> list[str]:
    """The theme's content words that are in ``text`` too, in the theme's order: no stop
    words, nor their contractions ("it's", "that's"), which say nothing of a topic."""
    from .text import content_words

    unit_words = set(content_words(text))
    return [w for w in theme_words if w in unit_words][:most]


def _clip(text: str, width: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= width else text[: width - 1].rstrip() + "…"


# --- input checks ----------------------------------------------------------------------------

def _framework(framework: Framework | str) -> Framework:
    if isinstance(framework, Framework):
        return framework
    from .frameworks import load_framework

    return load_framework(framework)


def _default_embedder():
    from .embed import Embedder

    return Embedder()


def _unit_texts(units) -> tuple[list[str], list[str]]:
    if not hasattr(units, "columns"):
        raise InputError(f"The units must be a table, not a {type(units).__name__}",
                         fix="Give a pandas DataFrame with columns unit_id and text, such as "
                             "themesift.segment() returns (for a list of texts: "
                             "pd.DataFrame({'unit_id': range(len(texts)), 'text': texts}))")
    missing = [c for c in ("unit_id", "text") if c not in units.columns]
    if missing:
        raise InputError(
            f"The units table has no {' or '.join(repr(c) for c in missing)} column "
            f"(columns: {', '.join(map(str, units.columns))})",
            fix="Pass the table from themesift.segment(), or name your columns unit_id and text",
        )
    if len(units) == 0:
        raise InputError("The units table is empty", fix="Give at least one meaning unit")
    # A number in a text cell (a spreadsheet's "42") is that text; a missing one is empty.
    texts = [cell_text(t) for t in units["text"]]
    empty = [label for label, t in zip(units.index, texts)
             if not isinstance(t, str) or not t.strip()]
    if empty:
        rows = ", ".join(map(repr, empty[:10])) + (" ..." if len(empty) > 10 else "")
        raise InputError(f"Empty text in the units table's row(s) of index {rows}",
                         fix="Remove those rows (units.loc[...]) or fill in their text")
    ids = [str(u) for u in units["unit_id"]]
    if len(set(ids)) != len(ids):
        dupes = sorted(u for u, k in Counter(ids).items() if k > 1)[:5]
        raise InputError(f"Repeated unit ids: {', '.join(dupes)}", fix="Give every unit its own id")
    return ids, [str(t) for t in texts]


EMPTY_CELL = "'' (an empty cell)"  # how an error names a blank theme cell


def unknown_themes(framework: Framework, cells: Iterable[tuple[int, object]]) -> str | None:
    """What is wrong with the theme cells (``(row, value)``) of an examples table that name no
    theme of ``framework`` (:func:`example_theme`): all of them at once, each value with its
    rows and the theme it nearly names; None where every cell names one."""
    unknown: dict[str | None, list[int]] = {}  # each unknown theme (None: empty), its rows
    for row, given in cells:
        if example_theme(framework, given) is None:
            unknown.setdefault(None if is_missing(given) else given, []).append(row)
    if not unknown:
        return None
    said = [f"{EMPTY_CELL if given is None else repr(given)} in "
            f"row{'s' if len(rows) > 1 else ''} {', '.join(map(str, rows[:5]))}"
            f"{' ...' if len(rows) > 5 else ''} of the examples"
            + (f" (did you mean {near!r}?)"
               if given is not None and (near := framework.closest_theme(given)) else "")
            for given, rows in unknown.items()]
    listed = "; ".join(said[:5]) + (f"; and {len(said) - 5} more" if len(said) > 5 else "")
    return f"Unknown theme{'s' if len(said) > 1 else ''} {listed}"


def check_examples(examples, framework: Framework) -> list[tuple[str, str, bool]]:
    """(text, theme_id, rejected) per row; an optional boolean column ``rejected`` marks rows
    that say the text is *not* that theme. A subtheme's id counts for its top-level theme, as
    a subtheme's texts do in scoring."""
    if not hasattr(examples, "columns"):
        raise InputError(f"examples= takes a table, not a {type(examples).__name__}",
                         fix="Give a pandas DataFrame with columns text and theme_id (and "
                             "optionally rejected)")
    theme_ids = framework.theme_ids
    missing = [c for c in ("text", "theme_id") if c not in examples.columns]
    if missing:
        raise InputError(
            f"The examples table has no {' or '.join(repr(c) for c in missing)} column",
            fix="Give examples as a DataFrame with columns text and theme_id",
        )
    out = []
    rejected = (examples["rejected"] if "rejected" in examples.columns
                else [False] * len(examples))
    problem = unknown_themes(framework, enumerate(examples["theme_id"], start=2))
    if problem:
        raise InputError(problem, fix=f"Available: {', '.join(theme_ids)}, none")
    for row, (text, given, no) in enumerate(zip(examples["text"], examples["theme_id"], rejected),
                                            start=2):
        text = cell_text(text)  # as in the units table
        theme = example_theme(framework, given)
        if not isinstance(text, str) or not text.strip():
            raise InputError(f"Empty text in row {row} of the examples (counting the header as "
                             "row 1)", fix="Remove the row or fill in the coded text")
        # a space before or after the words: the same text
        out.append((text.strip(), theme, _yes_or_no(no, row)))
    return out


def example_decisions(examples, coded: list[tuple[str, str, bool]]) -> dict[str, str]:
    """Text -> the decision that coded it, from an examples table's optional ``decision_id``
    column, its rows read as :func:`check_examples` gives them (``coded``, one per row);
    rejected rows and empty cells name none. Decisions that coded one text are one (held out
    together: a text in two accepted codes ties them); ids are compared as written, ``7``,
    ``"7"`` and ``7.0`` alike."""
    if "decision_id" not in examples.columns:
        return {}
    of_text: dict[str, list[str]] = {}
    for (text, _, rejected), given in zip(coded, examples["decision_id"], strict=True):
        decision = _decision_key(given)
        if decision is not None and not rejected:
            of_text.setdefault(text, []).append(decision)
    parent: dict[str, str] = {}

    def root(d: str) -> str:
        while parent.setdefault(d, d) != d:
            d = parent[d]
        return d

    for decisions in of_text.values():
        for other in decisions[1:]:
            parent[root(other)] = root(decisions[0])
    return {text: f"decision {root(decisions[0])}" for text, decisions in of_text.items()}


def _decision_key(value) -> str | None:
    """A ``decision_id`` cell as text (``7.0`` as ``7``), or None where it is empty."""
    import pandas as pd

    if value is None or pd.api.types.is_scalar(value) and pd.isna(value):
        return None
    text = str(value).strip()
    try:
        number = float(text)
    except ValueError:
        return text or None
    return str(int(number)) if number.is_integer() else text


def example_theme(framework: Framework, given) -> str | None:
    """The top-level theme id (or ``none``) a coded example's theme cell names, or None: an
    id or a subtheme's id, or a theme's name, in any letter case, spaces around ignored."""
    if not isinstance(given, str):
        return None
    theme = theme_label(given)  # a spreadsheet's " hope" or "None"
    if theme == NONE_THEME:
        return theme
    if found := framework.top_theme_id(theme):
        return found
    folded = theme.casefold()
    matches = {framework.top_theme_id(t.id) for t in framework.all_themes()
               if folded in (t.id.casefold(), t.name.strip().casefold())}
    return matches.pop() if len(matches) == 1 else None


def _yes_or_no(value, row: int) -> bool:
    """A ``rejected`` cell as a bool: True/False, 1/0, or such words as a spreadsheet or
    ``dtype=str`` gives ("False", "yes", "1.0", "rejected"); empty is False."""
    import pandas as pd

    if value is None or pd.api.types.is_scalar(value) and pd.isna(value):
        return False
    if isinstance(value, (bool, np.bool_, int, np.integer, float)) and value in (0, 1):
        return bool(value)
    word = str(value).strip().lower()
    if word in TRUE_WORDS or word == "rejected":
        return True
    if word in FALSE_WORDS:
        return False
    raise InputError(f"Cannot read {value!r} in the rejected column, row {row} of the examples",
                     fix="Write True (the text is not that theme) or False, or leave it empty")


def _check_params(top_k, temperature, none_similarity, context_weight, code_weight) -> None:
    def bad(name: str, rule: str, value) -> InputError:
        return InputError(f"The {name!r} parameter must be {rule}. Got {value!r} instead")

    if not isinstance(top_k, int) or top_k < 1:
        raise bad("top_k", "an int in [1, inf)", top_k)
    if not 0 < temperature <= 1:
        raise bad("temperature", "a number in (0, 1]", temperature)
    if none_similarity is not None and not -1 <= none_similarity <= 1:
        raise bad("none_similarity", "a number in [-1, 1]", none_similarity)
    for name, value in (("context_weight", context_weight), ("code_weight", code_weight)):
        if not 0 <= value <= 1:
            raise bad(name, "a number in [0, 1]", value)


# --------------------------------------------------------------------------------------------
# Streaming a big table through suggest_units

#: Rows suggested at a time by :func:`suggest_table`: bounds its memory.
CHUNK_ROWS = 5000
#: suggest_table judges what fits typically (and learns, where it does) on this many first rows.
REFERENCE_ROWS = 5000


def suggest_table(
    table: str | os.PathLike[str],
    out: str | os.PathLike[str],
    framework: Framework | str,
    *,
    text_column: str = "text",
    id_column: str | None = None,
    embedder=None,
    examples: pd.DataFrame | None = None,
    chunk_rows: int = CHUNK_ROWS,
    quiet: bool | None = None,
    none_similarity: float | None = None,
) -> pd.Series:
    """Suggest a theme for every row of a big table, ``chunk_rows`` rows at a time.

    What ``themesift suggest`` does, in bounded memory: a .csv/.tsv is read ``chunk_rows``
    rows at a time (an .xlsx is read whole, then suggested in chunks), each chunk goes through
    :func:`suggest_units` and its rows are appended to a temporary file beside ``out``, which
    replaces ``out`` only when every row is done. Rows are independent (no turn context or
    codes, even in a units table with ``doc_id`` and ``turn``: use :func:`suggest_units` or
    ``themesift run`` for those; a ``small_talk`` column, as ``themesift segment`` writes it,
    sets its rows aside as :func:`suggest_units` does) except for what counts as a typical
    fit, which rows stand in as examples (with
    a codebook of descriptions only, or examples of few themes) and so what the learner
    learns: the table's first ``REFERENCE_ROWS`` rows decide these for all, whatever
    ``chunk_rows`` is (they are read as one chunk), so a row's suggestion does not depend on
    the chunk size.

    Parameters
    ----------
    table:
        A .csv (any common delimiter and encoding), .tsv or .xlsx file, one unit per row.
    out:
        The .csv to write (another extension is refused; ``themesift suggest --out X.xlsx``
        makes a workbook of it): ``id`` (the ``id_column``'s values, or row numbers),
        ``theme_id``, ``score``, ``runner_up``, ``rationale``, ``fit``, one row per input row,
        in input order. An existing file is replaced;
        its folder must exist.
    framework:
        A :class:`Framework` or a built-in name / YAML path.
    text_column, id_column:
        The columns with the text and the row ids; by default ids are row numbers ("row2",
        "row3", ... counting the header as row 1), as :func:`themesift.read_table` gives.
    embedder, examples, none_similarity:
        As for :func:`suggest_units` (``themesift suggest --none-similarity``).
    chunk_rows:
        Rows per chunk after the first ``REFERENCE_ROWS``: memory grows with it (and with
        those), not with the table; the suggestions are the same for any value.
    quiet:
        ``True`` hides the progress bar; ``None`` shows it on a terminal; ``False`` always.

    Returns
    -------
    pandas.Series
        How many rows got each ``theme_id``.

    Raises
    ------
    InputError
        For a missing or unreadable file, a missing column, an empty text or id cell, a
        repeated id (each naming the row), a missing output folder or a bad ``chunk_rows``;
        ``out`` is then untouched (an error in a late chunk leaves no partial file either).

    Examples
    --------
    >>> suggest_table("comments.csv", "preds.csv", "recovery")   # doctest: +SKIP
    theme_id
    connectedness    40211
    none             31877
    ...
    """
    import pandas as pd

    from ._io import CSV_OPTIONS, atomic_output
    from .ingest.table import read_table_chunks

    if isinstance(chunk_rows, bool) or not isinstance(chunk_rows, int) or chunk_rows < 1:
        raise InputError(f"chunk_rows must be an int in [1, inf). Got {chunk_rows!r} instead")
    framework = _framework(framework)
    if embedder is None:  # quiet: the rows bar says how far it is
        from .embed import Embedder

        embedder = Embedder(quiet=True)
    counts: dict[str, int] = {}
    # A CSV only (themesift suggest turns it into a workbook for an .xlsx name).
    with atomic_output(out, force=True, suffixes=(".csv",)) as temp, _rows_bar(quiet) as bar:
        chunks = _first_rows_together(read_table_chunks(
            table, text_column=text_column, id_column=id_column, chunk_rows=chunk_rows,
            keep_empty=True), REFERENCE_ROWS)
        # What fits typically, the units learned from where the codebook has only
        # descriptions, and what was learned: judged on the first chunk, kept for the rest.
        reference = clearest = learner = None
        empty_ids: list[str] = []
        for number, units in enumerate(chunks):
            # Rows stand alone (no turns: a turn split between chunks would read differently),
            # but a units table's small-talk flags hold (themesift segment writes them).
            units = units[[c for c in ("unit_id", "text", "small_talk") if c in units]]
            # An empty cell (a survey question left unanswered) is a row of none.
            empty = units["text"].str.strip() == ""
            empty_ids += units.loc[empty, "unit_id"].tolist()
            if empty.all() and number == 0:
                raise InputError(f"Every {text_column!r} cell of the first {len(units)} rows is "
                                 "empty", path=table,
                                 fix="Check that the text column is the one with the passages")
            parts = [_empty_rows(units[empty])] if empty.any() else []
            if not empty.all():
                s = _score(units[~empty], framework, embedder, examples, None, TOP_K,
                           TEMPERATURE, none_similarity, CONTEXT_WEIGHT, CODE_WEIGHT,
                           reference, clearest, learner)
                reference = reference or _Reference.of(s.similarity.max(axis=1))
                if clearest is None and reference is not None:
                    clearest, learner = s.clearest, s.learner
                parts.append(_unit_table(s, units[~empty]))
            rows = parts[0] if len(parts) == 1 else pd.concat(parts).sort_index()
            rows = rows.rename(columns={"unit_id": "id"})
            rows = rows[["id", "theme_id", "score", "runner_up", "rationale", "fit"]]
            rows.to_csv(temp, mode="a", header=number == 0, **CSV_OPTIONS)
            for theme, n in rows["theme_id"].value_counts().items():
                counts[theme] = counts.get(theme, 0) + int(n)
            bar.update(len(units))
    if empty_ids:
        logger.warning("%s: %s no text in the %r column (%s): suggested none.", table,
                       "1 row has" if len(empty_ids) == 1 else f"{len(empty_ids)} rows have",
                       text_column,
                       ", ".join(map(str, empty_ids[:10])) + (" ..." if len(empty_ids) > 10
                                                              else ""))
    return pd.Series(counts, name="count", dtype=int).rename_axis("theme_id").sort_values(
        ascending=False, kind="stable")


def _empty_rows(units: pd.DataFrame) -> pd.DataFrame:
    """The suggestions for units without text: none, for want of words."""
    import pandas as pd

    return pd.DataFrame({"unit_id": units["unit_id"], "theme_id": NONE_THEME, "score": 1.0,
                         "runner_up": "", "runner_up_score": 0.0,
                         "rationale": "No text: the cell is empty.",
                         "fit": np.full(len(units), np.nan)},
                        index=units.index, columns=SUGGESTION_COLUMNS)


def _first_rows_together(chunks, rows: int):
    """The chunks, with the first ``rows`` rows of the table as one: what fits typically and
    what is learned are judged on them whatever the chunk size, so every row gets the
    suggestion it would get with any other ``chunk_rows``."""
    import pandas as pd

    held: list[pd.DataFrame] | None = []
    count = 0
    for chunk in chunks:
        if held is None:
            yield chunk
            continue
        take = rows - count
        held.append(chunk.iloc[:take])
        count += len(held[-1])
        if count >= rows:
            yield pd.concat(held, ignore_index=True)
            held = None
            if len(chunk) > take:
                yield chunk.iloc[take:].reset_index(drop=True)
    if held:
        yield pd.concat(held, ignore_index=True)


@contextlib.contextmanager
def _rows_bar(quiet: bool | None):
    from tqdm.auto import tqdm

    from ._io import progress_shown

    with tqdm(desc="Suggesting", unit="row", disable=not progress_shown(quiet)) as bar:
        yield bar
