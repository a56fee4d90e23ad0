"""Labels: each code named by a short phrase in the participants' own words, the labels chosen
together so that the closest label to as many units as possible is their own code's; the
phrases a text offers, and the ascent that chooses among them."""

from __future__ import annotations

import functools
import re
from collections import Counter
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any

from ._bertopic import keyword_label
from ._input import normalise
from ._words import keyword_text, word_text

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

#: Labels (see phrase_labels): phrases of this many members nearest a code's centre are
#: candidates; about LABEL_BUDGET of them in all are pre-ranked, LABEL_SHORTLIST a code of
#: those embedded; the labels compete for at most LABEL_SAMPLE units.
N_LABEL_UNITS = 15
LABEL_BUDGET = 1000
LABEL_SAMPLE = 3000
LABEL_ROUNDS = 4
LABEL_PER_CODE = 40
LABEL_SOFTNESS = 0.05
LABEL_PAIRS = 8
LABEL_SHORTLIST = 15


def phrase_labels(table: pd.DataFrame, assignments: pd.DataFrame, texts: list[str],
                  vectors: np.ndarray, keywords: dict[str, list[str]], embedder: Any,
                  seed: int = 0, docs: list[str] | None = None) -> list[str]:
    """Each code's label: a phrase of its members that tells its members from the others.

    Candidates are the 2-6-word stretches of the ``N_LABEL_UNITS`` members nearest the code's
    centre that start and end on a content word and hold no filler, time, number or name
    (see :func:`_phrases`). They are pre-ranked by how much of the code's own vocabulary they
    carry (its keywords, and words its members use more than the other units do), and the
    best of each code (``LABEL_BUDGET`` phrases in all, 8 to 40 a code) are kept. Where the
    embedder can pool stretches of the units' own forward passes (``encode_spans``, no model
    run), each code keeps the ``LABEL_SHORTLIST`` of those that stand out most for it as said
    (:func:`_shortlist`): only they are embedded. The
    labels are then chosen together, so that as many units as possible have their own code's
    label as the closest label: from three starts (each code's candidate closest to its
    centre, its first by the pre-ranking, the one nearest its members on average), code by
    code and ``LABEL_ROUNDS`` times over, each code takes the candidate that wins the most
    units given the other labels (ties: the earlier candidate), once directly and once after
    the same ascent on a soft count (see :func:`_label_ascent`); the best of these wins. A
    reader who knows only the labels then places most units where the codes put them. Last,
    each label may take a second key phrase of its code (no shared word, six words in all:
    "no-drugs rule, urine screens"), by the same ascent over the phrase alone and up to
    ``LABEL_PAIRS`` such pairs, where that wins more units. Without an embedder the
    pre-ranking decides; a code with no candidate keeps a keyword label. ``docs``: the
    texts' :func:`keyword_text`, where already made.
    """
    import numpy as np

    code_of = assignments["code_id"].to_numpy()
    codes = table["code_id"].tolist()
    distance = assignments["distance"].to_numpy()
    outlier = assignments["outlier"].to_numpy()
    if docs is None:
        docs = [keyword_text(t) for t in texts]
    words_of = [set(doc.split()) for doc in docs]  # as _phrases gives them
    df_all = Counter(w for words in words_of for w in words)
    per_code = max(8, min(LABEL_PER_CODE, LABEL_BUDGET // max(1, len(codes))))
    candidates: list[list[str]] = []
    said: dict[str, str] = {}  # a candidate (lower case) as first said ("I'd" stays "I'd")
    where: dict[str, tuple[int, tuple[int, int]]] = {}  # ... and where: unit, span
    for code in codes:
        member = np.flatnonzero(code_of == code)
        central = sorted(member, key=lambda i: (bool(outlier[i]), distance[i], i))[:N_LABEL_UNITS]
        df_in = Counter(w for i in member for w in words_of[i])
        weight = {w: max(0.0, df_in[w] / len(member) - (df_all[w] - df_in[w])
                         / max(1, len(texts) - len(member))) for w in df_in}
        # The keywords' words in order, each counting less than the one before.
        for rank, w in enumerate(w for keyword in keywords[code] for w in keyword.split()):
            weight[w] = weight.get(w, 0.0) + 1.0 / (rank + 2)
        scored: dict[str, float] = {}
        for i in central:
            for phrase, words, span in _phrase_spans(texts[i]):
                scored.setdefault(phrase.lower(), sum(weight.get(w, 0.0) for w in set(words)))
                said.setdefault(phrase.lower(), phrase)
                where.setdefault(phrase.lower(), (i, span))
        candidates.append(sorted(scored, key=lambda p: (-scored[p], len(p), p))[:per_code])

    pool = sorted({p for ps in candidates for p in ps})
    if not pool or embedder is None or not callable(getattr(embedder, "encode", None)):
        return [said[ps[0]] if ps else _fallback_label(keywords[c], texts, code_of == c)
                for c, ps in zip(codes, candidates)]
    centres = np.stack([normalise(vectors[code_of == c].mean(axis=0)) for c in codes])
    # Only the codes with more candidates than the shortlist need their in-context vectors
    # (none from about 70 codes on, where the budget leaves fewer a code).
    longer = sorted({p for ps in candidates if len(ps) > LABEL_SHORTLIST for p in ps})
    if longer and callable(getattr(embedder, "encode_spans", None)):
        candidates = _shortlist(candidates, longer, centres, _span_vectors(
            embedder, texts, [where[p] for p in longer]))
        pool = sorted({p for ps in candidates for p in ps})
    index = {p: j for j, p in enumerate(pool)}
    phrase_vectors = normalise(np.asarray(embedder.encode(pool), dtype=np.float64))
    # The units the labels compete for: all of them, or a fixed sample of a big corpus.
    rows = np.arange(len(texts))
    if len(rows) > LABEL_SAMPLE:
        rows = np.sort(np.random.RandomState(seed).permutation(len(rows))[:LABEL_SAMPLE])
    similarity = (vectors[rows] @ phrase_vectors.T).astype(np.float32)
    position = {c: k for k, c in enumerate(codes)}
    own = np.array([position[c] for c in code_of[rows]])  # each unit's code, as a position
    columns = [np.array([index[p] for p in ps], dtype=int) for ps in candidates]
    starts = [  # closest to the centre; the best by the code's vocabulary; nearest its members
        [int(np.argmax(phrase_vectors[cols] @ centres[k])) if len(cols) else -1
         for k, cols in enumerate(columns)],
        [0 if len(cols) else -1 for cols in columns],
        [int(np.argmax(similarity[own == k][:, cols].mean(axis=0)))  # nearest its members
         if len(cols) and (own == k).any() else (0 if len(cols) else -1)
         for k, cols in enumerate(columns)],
    ]
    choice, best_wins = _best_ascent(similarity, columns, own, starts)
    labels = [said[ps[choice[k]]] if ps else None for k, ps in enumerate(candidates)]
    # Then each label may take a second key phrase of its code (MMR-like: no shared word,
    # 6 words in all) where the pair wins more units than the phrase alone.
    pairs = [[f"{first}, {said[p]}" for p in ps if len(first.split()) + len(p.split()) <= 6
              and not set(p.split()) & set(first.lower().split())][:LABEL_PAIRS]
             if first else [] for first, ps in zip(labels, candidates)]
    extra = sorted({p for ps in pairs for p in ps})
    if extra:
        pair_vectors = normalise(np.asarray(embedder.encode(extra), dtype=np.float64))
        at = {p: len(pool) + j for j, p in enumerate(extra)}
        similarity = np.hstack([similarity, (vectors[rows] @ pair_vectors.T).astype(np.float32)])
        columns = [np.array([cols[choice[k]], *(at[p] for p in pairs[k])], dtype=int)
                   if len(cols) else cols for k, cols in enumerate(columns)]
        found, wins = _best_ascent(similarity, columns, own,
                                   [[0 if len(cols) else -1 for cols in columns]])
        if wins > best_wins:  # else the phrases alone win at least as many units
            labels = [([label, *pair][found[k]] if label else None)
                      for k, (label, pair) in enumerate(zip(labels, pairs))]
    return [label or _fallback_label(keywords[c], texts, code_of == c)
            for c, label in zip(codes, labels)]


def _shortlist(candidates: list[list[str]], pool: list[str], centres: np.ndarray,
               in_context: np.ndarray) -> list[list[str]]:
    """Each code's ``LABEL_SHORTLIST`` candidates that stand out most for it as said: by the
    vector of the phrase in its unit's forward pass (``in_context``, a row per phrase of
    ``pool``, which holds the candidates of every code that has more), its cosine to the
    code's centre less its highest to another code's. In the candidates' order."""
    import numpy as np

    row = {p: j for j, p in enumerate(pool)}
    in_context = normalise(in_context)
    shortlisted = []
    for k, phrases in enumerate(candidates):
        if len(phrases) <= LABEL_SHORTLIST:
            shortlisted.append(phrases)
            continue
        closeness = in_context[[row[p] for p in phrases]] @ centres.T
        mine = closeness[:, k].copy()
        closeness[:, k] = -np.inf
        stands_out = mine - closeness.max(axis=1) if len(centres) > 1 else mine
        kept = set(np.argsort(-stands_out, kind="stable")[:LABEL_SHORTLIST].tolist())
        shortlisted.append([p for j, p in enumerate(phrases) if j in kept])
    return shortlisted


def _span_vectors(embedder: Any, texts: list[str],
                  places: list[tuple[int, tuple[int, int]]]) -> np.ndarray:
    """The vectors of stretches of the units (unit, span), pooled from the units' own forward
    passes (``embedder.encode_spans``), in the order given."""
    import numpy as np

    spans: dict[int, list[tuple[int, int]]] = {}
    for i, span in places:
        spans.setdefault(i, []).append(span)
    vectors = np.asarray(embedder.encode_spans([texts[i] for i in spans], list(spans.values())),
                         dtype=np.float64)
    row = {}
    for i, ss in spans.items():
        for span in ss:
            row[i, span] = len(row)
    return vectors[[row[place] for place in places]]


def _best_ascent(similarity: np.ndarray, columns: list[np.ndarray], own: np.ndarray,
                 starts: list[list[int]]) -> tuple[list[int], int]:
    """The best of :func:`_label_ascent` from each start, once on the count of units won and
    once after the same ascent on a soft count: counting is flat where no unit flips, and the
    soft count (each unit's margin through a sigmoid) first moves towards labels that many
    units are close to choosing. The choice and the units it wins."""
    blocks = _ascent_blocks(similarity, columns, own)  # the same for every ascent
    best_wins, choice = -1, list(starts[0])
    for start in starts:
        for softness in (None, LABEL_SOFTNESS):
            found = list(start)
            if softness:
                found, _ = _label_ascent(similarity, columns, own, found, softness, blocks)
            found, wins = _label_ascent(similarity, columns, own, found, blocks=blocks)
            if wins > best_wins:
                best_wins, choice = wins, found
    return choice, best_wins


def _ascent_blocks(similarity: np.ndarray, columns: list[np.ndarray], own: np.ndarray
                   ) -> list[tuple[np.ndarray, np.ndarray, np.ndarray] | None]:
    """For each code with a choice to make: which units are its own, and its candidates'
    columns of ``similarity`` for its own units and for the others (None for a code with
    fewer than two candidates)."""
    blocks: list[tuple[np.ndarray, np.ndarray, np.ndarray] | None] = []
    for k, cols in enumerate(columns):
        if len(cols) < 2:
            blocks.append(None)
            continue
        mine = own == k
        block = similarity[:, cols]
        blocks.append((mine, block[mine], block[~mine]))
    return blocks


def _label_ascent(similarity: np.ndarray, columns: list[np.ndarray], own: np.ndarray,
                  choice: list[int], softness: float | None = None,
                  blocks: list | None = None) -> tuple[list[int], int]:
    """Coordinate ascent on the units won: code by code, ``LABEL_ROUNDS`` times (fewer where
    a round changes nothing), the candidate (a column of ``similarity``, units x phrases)
    that makes the most units closest to their own code's label, given the other codes'
    labels. With ``softness``, a unit counts by a sigmoid of its margin (own label's
    similarity less the best other's) at that scale instead of 0 or 1. ``blocks``:
    :func:`_ascent_blocks` of the same arguments, if already made. The choice and the units
    won (counted 0 or 1)."""
    import numpy as np

    n_units = len(similarity)
    rows = np.arange(n_units)
    if blocks is None:
        blocks = _ascent_blocks(similarity, columns, own)
    # Each code's chosen label's similarities as a row, kept up to date as the choice
    # changes (rows, so that the maxima over codes run along the units).
    current = np.stack([similarity[:, cols[picked]] if picked >= 0
                        else np.full(n_units, -np.inf, dtype=np.float32)
                        for cols, picked in zip(columns, choice)])
    for _ in range(LABEL_ROUNDS):
        changed = False
        for k, cols in enumerate(columns):
            if blocks[k] is None:
                continue
            mine, block_mine, block_other = blocks[k]
            chosen = current.copy()
            chosen[k] = -np.inf
            best_other = chosen.max(axis=0)
            own_label = chosen[own, rows]
            if softness:
                rivals = chosen
                rivals[own, rows] = -np.inf  # other units: their best rival but code k's
                margin_mine = block_mine - best_other[mine, None]
                margin_other = own_label[~mine, None] - np.maximum(
                    rivals.max(axis=0)[~mine, None], block_other)
                wins = (np.tanh(margin_mine / (2 * softness)).sum(axis=0)
                        + np.tanh(margin_other / (2 * softness)).sum(axis=0))
            else:
                wins = (block_mine > best_other[mine, None]).sum(axis=0)
                kept = own_label[~mine] >= best_other[~mine]  # others' units their label holds
                wins += (kept[:, None] & (own_label[~mine, None] > block_other)).sum(axis=0)
            picked = int(np.argmax(wins))
            if picked != choice[k]:
                choice[k], changed = picked, True
                current[k] = similarity[:, cols[picked]]
        if not changed:  # a round that changes nothing: the next would repeat it
            break
    won = int((current.argmax(axis=0) == own).sum())
    return choice, won


def _fallback_label(keywords: list[str], texts: list[str], member: np.ndarray) -> str:
    import numpy as np

    return keyword_label([k for k in keywords if k], texts[int(np.flatnonzero(member)[0])])


# Words that break a label phrase: fillers, and the transcriber's notes.
_HARD_FILLERS = frozenset("um umm uh uhm er erm ah oh eh mm mmm mhm hmm huh yeah yep yup okay ok "
                          "like".split())
_LABEL_TOKEN = re.compile(r"\[[^\]]*\]|\([^)]*\)|[^\W\d_][\w'’]*(?:-[^\W\d_]+)*|\d[\d:.,]*|"
                          r"[^\s\w]+")
# Modifiers that leave a phrase hanging when it starts or ends on them ("a proper", "tests
# especially").
_WEAK_EDGES = frozenset("proper own whole other big small good bad huge little first last next "
                        "much many few various certain lot lots bit".split())
# Who says or does something: a label may start on one, in the participants' own voice,
# unless a hedge follows.
_SUBJECTS = frozenset("i we you they he she".split())
_HEDGES = frozenset("know mean think guess suppose reckon".split())
_CLAUSE_WORDS = frozenset("and but so because cos cause or then if when although though while "
                          "whereas".split())


@functools.cache
def _label_stop_words() -> frozenset[str]:
    """Words a label may hold but not start or end on: spaCy's stop words and spoken fillers
    (a shorter list than the keywords', so that a label can say "tell the psychiatrist")."""
    from ..text import stop_words as spoken

    return frozenset(spoken()) | _HARD_FILLERS | {"yes", "no", "sorry", "guess", "suppose"}


@functools.cache
def _not_label_words() -> frozenset[str]:
    """Times, dates and numbers: never part of a label."""
    from ..text import DAYS, MONTHS, NUMBERS

    times = ("half past quarter oclock o'clock am pm morning afternoon evening tonight day days "
             "week weeks month months year years ago twice")
    return frozenset(f"{DAYS} {MONTHS} {times}".split()) | NUMBERS


def _phrases(text: str, lengths: Sequence[int] = range(2, 7)) -> Iterator[tuple[str, list[str]]]:
    """Stretches of ``lengths`` words inside one clause of ``text``, as said, each with its
    content words (lower case), that start on a content word or a subject ("I hate the
    tests"; not "you know ..."), end on a content word, hold at least two content words and
    contain no filler, transcriber's note, time, number or name."""
    for phrase, words, _ in _phrase_spans(text, lengths):
        yield phrase, words


def _phrase_spans(text: str, lengths: Sequence[int] = range(2, 7)
                  ) -> Iterator[tuple[str, list[str], tuple[int, int]]]:
    """:func:`_phrases`, each with where it stands in ``text`` (character offsets)."""
    stop, times = _label_stop_words(), _not_label_words()
    # (word as said, kind, start, end); kind: content, inner, subject
    clauses: list[list[tuple[str, str, int, int]]] = [[]]
    sentence_start = True
    for match in _LABEL_TOKEN.finditer(text):
        token = match.group()
        plain = word_text(token).replace(" ", "")  # "self-care" -> "selfcare"
        starts, sentence_start = sentence_start, (sentence_start and not token[0].isalnum()
                                                  or any(c in token for c in ".!?"))
        if not token[0].isalpha():
            kind = "break"
        elif token.lower() in _CLAUSE_WORDS:
            kind = "clause"
        elif plain in _HARD_FILLERS or plain in times or (
                token[0].isupper() and not starts and plain not in ("i", "")):  # a name
            kind = "break"
        elif plain in _SUBJECTS:
            kind = "subject"  # may start a label ("I hate the tests"), not end it
        elif plain in stop or len(plain) < 3 or plain in _WEAK_EDGES or plain.endswith("ly"):
            kind = "inner"  # may stand inside a label, not at its ends
        else:
            kind = "content"
        if kind in ("break", "clause"):
            if clauses[-1]:
                clauses.append([])
            continue
        clauses[-1].append((token.replace("’", "'"), kind, match.start(), match.end()))
    for clause in clauses:
        for start in range(len(clause)):
            if clause[start][1] not in ("content", "subject") or (
                    clause[start][1] == "subject" and start + 1 < len(clause)
                    and word_text(clause[start + 1][0]) in _HEDGES):
                continue  # "you know ...", "I think ..." are fillers, not a start
            for length in lengths:
                end = start + length
                if end > len(clause) or clause[end - 1][1] != "content":
                    continue
                words = [part for w, kind, _, _ in clause[start:end] if kind == "content"
                         for part in word_text(w).split()]
                if len(words) >= min(2, length):
                    phrase = " ".join(w for w, _, _, _ in clause[start:end])
                    phrase = phrase[0].lower() + phrase[1:] if phrase[:2] != "I " else phrase
                    yield phrase, words, (clause[start][2], clause[end - 1][3])
