"""Small talk: meaning units that carry no content for the study, set aside but kept.

Focus groups are full of talk around the talk: greetings, logistics ("the room's ours till
half past"), food and drink ("the good biscuits"), the weather, audio and video checks ("can
you hear me?"), jokes about the recording, and back-channels that slipped through
segmentation. Graneheim & Lundman's meaning units leave them out; themesift flags them
(``small_talk`` in the units table) instead of dropping them, so every word stays traceable:
flagged units keep their spans, are left out of the candidate codes and of the candidate new
themes, and are suggested ``none`` with a rationale that says why.

The rule
--------
A unit's *content words* are its words less stop words, spoken fillers and transcriber notes
("[laughs]"). A unit is small talk when it is short (at most ``MAX_WORDS`` words) and

* it has no content word at all (a back-channel: "Oh, go on then."), or
* it matches a phrase that only small talk uses ("can you hear me", "you're on mute", "for
  the recording", "don't forget", "half past", "chucking it down"), or
* more than half of its content words (numbers aside) come from the small-talk vocabulary
  below: words of greetings, meeting logistics and times, food and drink, weather, audio and
  video, and recording.

Long units are never small talk: a participant who mentions the tea in a long account of
home visits ("the first months are mostly drinking tea together") is talking about the work.

Small talk in context
---------------------
Small talk comes in runs: the replies in an audio check ("Sorry, you're breaking up." - "It's
the signal in this building.") or a joke about the tea say little on their own,
and read as small talk only next to it. :func:`small_talk_reasons` takes the talk of a
transcript in order, and flags a unit that is *short with little content* (at most
``CONTEXT_MAX_WORDS`` words and at most ``CONTEXT_CONTENT_WORDS`` distinct content words) when
the stretch of talk just before or just after it, in the same transcript, is small talk by the
rule above: "in a small-talk exchange: audio and video".

* Only small talk of a kind (greeting, logistics, ...) starts an exchange; back-channels are
  everywhere in talk about the work ("Mm." after an account of a relapse), so they neither
  start one nor break one: they are skipped when looking for a unit's neighbours.
* It does not spread: a unit flagged by context does not flag its own neighbours. A chain
  would let one audio check take over a whole round of short answers ("Housing, mainly." -
  "The waiting lists." - ...), which also comes in runs; one step bounds what a single seed
  can reach to the unit on either side, and a real run of small talk is usually seeded again
  and again (every check, greeting and joke has words of its own).
* A long or contentful unit next to small talk stays content: "Trust takes months." (three
  content words) is an answer, whatever was said before it.

The vocabulary and the thresholds were written and checked on texts written for the purpose
(tests/test_smalltalk.py), not on the sample transcripts; bench/bench_discover.py measures the
rule against the hand-coded sample.
"""

from __future__ import annotations

import functools
import re

from .text import DAYS, MONTHS, NUMBERS, stop_words as spoken_stop_words

__all__ = ["small_talk_reason", "small_talk_reasons", "is_small_talk", "content_words", "is_aside",
           "SMALL_TALK_KINDS", "MAX_WORDS", "ASIDE_CONTENT_WORDS", "CONTEXT_MAX_WORDS",
           "CONTEXT_CONTENT_WORDS", "IN_EXCHANGE", "flagged_reasons", "small_talk_flags"]

#: Longer units always carry some content for the study.
MAX_WORDS = 25
#: A short unit is small talk when more than this share of its content words (numbers aside)
#: come from the small-talk vocabulary.
MIN_SHARE = 0.5

_WORD = re.compile(r"[a-z0-9]+(?:'[a-z]+)?")
_ANNOTATION = re.compile(r"\[[^\]]*\]|\([^)]*\)")

# Kind of small talk -> its words (lower case), each in one kind only. Words that also name
# the work ("key worker", "drink" for alcohol, "signs of relapse", "a connection") are left
# out: a unit is flagged by what only small talk says.
_VOCABULARY: dict[str, str] = {
    "greeting": "hello hi hiya hey welcome thanks thank bye goodbye cheers morning evening "
                "everyone everybody",
    "logistics": f"{DAYS} {MONTHS} clock room rooms booked booking lunch lunchtime parking "
                 "toilet toilets loo forget remind reminder slides laptop email calendar diary "
                 "timetable chair chairs seat seats",
    "food and drink": "tea coffee biscuit biscuits cake cakes sandwich sandwiches pizza milk "
                      "sugar cup cups mug mugs kettle snack snacks cookie cookies chocolate "
                      "chocolates doughnut doughnuts donut donuts fruit juice crisps sweets "
                      "custard bourbons digestives bread toast bacon breakfast soup pastries "
                      "croissants muffins scones",
    "weather": "weather rain raining rained rainy sunny sunshine sun snow snowing snowed "
               "freezing umbrella soaked forecast heatwave pouring storm windy",
    "audio and video": "mute muted unmute microphone mic mics audio volume louder echo camera "
                       "cameras video frozen froze lag lagging internet wifi zoom headphones "
                       "headset",
    "recording": "recording recorded recorder tape transcript transcriber transcription "
                 "dictaphone",
}

# Phrases that only small talk uses, whatever else the unit says.
_PHRASES: dict[str, re.Pattern[str]] = {
    "audio and video": re.compile(
        r"\bcan (?:you|everyone|everybody) (?:hear|see)\b|\bcan hear (?:you|me)\b|"
        r"\b(?:on|off) mute\b|"
        r"\byou'?re (?:a bit )?(?:quiet|breaking up|frozen)\b|\bbreaking up\b|"
        r"\b(?:speak|talk) up\b|\bshare (?:my|your) screen\b"),
    "recording": re.compile(r"\bfor the (?:recording|tape|transcript|record)\b|"
                            r"\b(?:is|are) (?:we|it|this) recording\b"),
    "logistics": re.compile(r"\bdon'?t forget\b|\bhalf past\b|\bquarter (?:past|to)\b|"
                            r"\bo'?clock\b|\b(?:got|have|booked|need) the room\b|\b\d{1,2}(?::\d{2})? ?(?:am|pm)\b|\bfire alarm\b"),
    "greeting": re.compile(r"\bgood (?:morning|afternoon|evening)\b|\bhow are you\b|"
                           r"\bthanks? (?:you )?for (?:coming|having)\b|\bnice to (?:meet|see)\b"),
    "weather": re.compile(r"\bchucking it down\b|\braining cats\b|\bpouring down\b|"
                          r"\bthe weather\b"),
}

#: The kinds of small talk a rationale can name.
SMALL_TALK_KINDS = (*_VOCABULARY, "back-channel")


@functools.cache
def _kind_of() -> dict[str, str]:
    return {word: kind for kind, words in _VOCABULARY.items() for word in words.split()}


# Spoken words that say nothing about a topic, on top of text.stop_words().
_SPOKEN = frozenset("oh ah eh aw ooh good great nice lovely fine right sure sorry round "
                    "anyway honestly literally ones somebody someone".split())


@functools.cache
def _stop_words() -> frozenset[str]:
    # The vocabulary's own words count, even where spaCy calls them stop words ("three").
    return (frozenset(spoken_stop_words()) | _SPOKEN) - set(_kind_of())


def _plain(text: str) -> str:
    """Lower case, straight apostrophes, transcriber's notes blanked out."""
    return _ANNOTATION.sub(" ", str(text).casefold().replace("’", "'"))


def _words(text: str) -> list[str]:
    """Lower-case words without transcriber notes; "parking's" -> "parking", and
    contractions ("isn't", "I'd") are left out."""
    plain = _ANNOTATION.sub(" ", text)
    out = []
    for word in _WORD.findall(plain):
        stem, _, suffix = word.partition("'")
        if suffix in ("", "s"):
            out.append(stem)
    return out


def small_talk_reason(text: str) -> str | None:
    """Why a meaning unit is small talk, or None if it is not.

    Returns
    -------
    str or None
        ``"<kind>"`` or ``"<kind>: word, word"``, where kind is one of
        :data:`SMALL_TALK_KINDS` and the words are what gave it away.

    Examples
    --------
    >>> small_talk_reason("Can everyone hear me? You're a bit quiet.")
    'audio and video: can everyone hear'
    >>> small_talk_reason("Trust takes months; we sit in their kitchen and listen.") is None
    True
    """
    plain = _plain(text)
    words = _words(plain)
    if len(_WORD.findall(plain)) > MAX_WORDS:
        return None
    for kind, pattern in _PHRASES.items():
        found = pattern.search(plain)
        if found:
            return f"{kind}: {found.group(0)}"
    stop = _stop_words()
    content = [w for w in words if w not in stop]
    if not content:
        return "back-channel"
    content = [w for w in content if not w.isdigit() and w not in NUMBERS]
    kind_of = _kind_of()
    hits = [w for w in content if w in kind_of]
    if not hits or len(hits) <= MIN_SHARE * len(content):
        return None
    counts: dict[str, int] = {}
    for word in hits:
        counts[kind_of[word]] = counts.get(kind_of[word], 0) + 1
    kind = max(counts, key=counts.__getitem__)  # ties: the first kind met
    return f"{kind}: " + ", ".join(dict.fromkeys(w for w in hits if kind_of[w] == kind))


#: A code whose members hold a median of at most this many distinct content words is made of
#: short asides ("Not yet. Fingers crossed.", "The bread was amazing."): talk around the
#: talk, not a candidate new theme, even where no unit of it is small talk on its own.
ASIDE_CONTENT_WORDS = 2


def content_words(text: str) -> list[str]:
    """A unit's content words: its words less stop words, fillers and transcriber's notes."""
    stop = _stop_words()
    return [w for w in _words(str(text).casefold().replace("’", "'")) if w not in stop]


def is_aside(texts) -> bool:
    """Whether a group of units (a code's members) is made of short asides (see
    :data:`ASIDE_CONTENT_WORDS`)."""
    import statistics

    counts = [len(set(content_words(t))) for t in texts]  # "fair ... a fair challenge": 2
    return bool(counts) and statistics.median(counts) <= ASIDE_CONTENT_WORDS


def is_small_talk(text: str) -> bool:
    """Whether a meaning unit is small talk (see :func:`small_talk_reason`)."""
    return small_talk_reason(text) is not None


# --- small talk in context -------------------------------------------------------------------

#: A unit next to small talk is small talk too when it has at most this many words ...: a
#: reply in an exchange is one short sentence. (segment joins fragments under 8 words to their
#: neighbours, so units this short are nearly always whole turns: replies.)
CONTEXT_MAX_WORDS = 12
#: ... and at most this many distinct content words: the measure and the limit of an aside
#: (:data:`ASIDE_CONTENT_WORDS`). Three content words make a claim ("Trust takes months.").
CONTEXT_CONTENT_WORDS = ASIDE_CONTENT_WORDS
#: How a reason given by the context starts: "in a small-talk exchange: audio and video".
IN_EXCHANGE = "in a small-talk exchange"


def _little_content(text: str) -> bool:
    """Short, with little content: what reads as small talk next to small talk."""
    return (len(_WORD.findall(_plain(text))) <= CONTEXT_MAX_WORDS
            and len(set(content_words(text))) <= CONTEXT_CONTENT_WORDS)


def small_talk_reasons(texts, documents=None, *, units=None) -> list[str | None]:
    """Why each stretch of talk of a conversation is small talk, in context; None where not.

    A stretch is small talk by :func:`small_talk_reason`, or, when it is short with little
    content (see the module docstring), because the nearest stretch before or after it in the
    same document (back-channels skipped) is small talk of a kind.

    Parameters
    ----------
    texts:
        The stretches of talk in conversation order: meaning units, and the turns no unit
        comes from (a moderator's, where they are left out) as context.
    documents:
        Each stretch's document, so that the last unit of one transcript and the first of the
        next are not neighbours. None: all one document.
    units:
        Which stretches may be flagged by their context (True) and which are context only
        (their own reason is still returned). None: all.

    Returns
    -------
    list of str or None
        One per stretch: :func:`small_talk_reason`'s reason, or ``"in a small-talk
        exchange: <kind>"`` (the kind of its neighbour, the one before where both are).

    Examples
    --------
    >>> small_talk_reasons(["Sorry, you're breaking up.", "It's the signal in this building.",
    ...                     "Trust takes months, though. You can't rush it."])
    ["audio and video: you're breaking up", 'in a small-talk exchange: audio and video', None]
    """
    texts = [str(t) for t in texts]
    n = len(texts)
    documents = [None] * n if documents is None else list(documents)
    units = [True] * n if units is None else [bool(u) for u in units]
    if not len(documents) == len(units) == n:
        raise ValueError(f"small_talk_reasons() got {n} texts, {len(documents)} documents and "
                         f"{len(units)} unit flags; give one of each per stretch.")
    own = [small_talk_reason(t) for t in texts]
    # Back-channels are transparent: a neighbour is the nearest stretch that is not one.
    kind = [None if r is None or r == "back-channel" else r.split(":")[0] for r in own]

    def neighbour(i: int, step: int) -> str | None:
        j = i + step
        while 0 <= j < n and documents[j] == documents[i]:
            if own[j] != "back-channel":
                return kind[j]
            j += step
        return None

    out = list(own)
    for i in range(n):
        if own[i] is None and units[i] and _little_content(texts[i]):
            found = neighbour(i, -1) or neighbour(i, +1)
            if found:
                out[i] = f"{IN_EXCHANGE}: {found}"
    return out


def small_talk_flags(units):
    """Which units of a units table are flagged small talk: its ``small_talk`` column as a
    boolean array (empty cells false), all false where the table has no such column."""
    import numpy as np

    if "small_talk" not in units.columns:
        return np.zeros(len(units), dtype=bool)
    return units["small_talk"].fillna(False).astype(bool).to_numpy()


def flagged_reasons(units, flagged) -> list[str]:
    """The reason to show for each unit of a units table (``text``, and ``doc_id`` where
    present, in transcript order) where ``flagged`` is true; "" elsewhere.

    The table's own units are their context. A short unit with little content flagged next to
    small talk that is not in the table (the moderator's audio check: segment reads the turns
    it leaves out too) is "in a small-talk exchange" without a kind; any other unit flagged by
    hand is "flagged in the units table".
    """
    texts = [str(t) for t in units["text"]]
    documents = list(units["doc_id"]) if "doc_id" in units else None
    reasons = small_talk_reasons(texts, documents)
    out = []
    for text, reason, flag in zip(texts, reasons, flagged):
        if not flag:
            out.append("")
        elif reason is not None:
            out.append(reason)
        elif _little_content(text):
            out.append(f"{IN_EXCHANGE}: next to small talk in the transcript")
        else:
            out.append("flagged in the units table")
    return out
