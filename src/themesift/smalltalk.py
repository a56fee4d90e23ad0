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

* it has no content word at all (a back-channel: "It's coming back, I'm told."), or
* it matches a phrase that only small talk uses ("can you hear me", "you're on mute", "for
  the recording", "don't forget", "half past", "chucking it down"), or
* more than half of its content words (numbers aside) come from the small-talk vocabulary
  below: words of greetings, meeting logistics and times, food and drink, weather, audio and
  video, and recording.

Long units are never small talk: a participant who mentions the tea in a long account of
home visits ("the first months are mostly drinking tea together") is talking about the work.
The vocabulary and the thresholds were written and checked on texts written for the purpose
(tests/test_smalltalk.py), not on the sample transcripts; bench/bench_discover.py measures the
rule against the hand-coded sample.
"""

from __future__ import annotations

import functools
import re

__all__ = ["small_talk_reason", "is_small_talk", "content_words", "is_aside", "SMALL_TALK_KINDS",
           "MAX_WORDS", "ASIDE_CONTENT_WORDS"]

#: Longer units always carry some content for the study.
MAX_WORDS = 25
#: A short unit is small talk when more than this share of its content words (numbers aside)
#: come from the small-talk vocabulary.
MIN_SHARE = 0.5

_WORD = re.compile(r"[a-z0-9]+(?:'[a-z]+)?")
_ANNOTATION = re.compile(r"\[[^\]]*\]|\([^)]*\)")

_DAYS = ("monday tuesday wednesday thursday friday saturday sunday today tomorrow tonight "
         "yesterday")
_MONTHS = ("january february march april june july august september october november "
           "december")

# Kind of small talk -> its words (lower case), each in one kind only. Words that also name
# the work ("key worker", "drink" for alcohol, "signs of relapse", "a connection") are left
# out: a unit is flagged by what only small talk says.
_VOCABULARY: dict[str, str] = {
    "greeting": "hello hi hiya hey welcome thanks thank bye goodbye cheers morning evening "
                "everyone everybody",
    "logistics": f"{_DAYS} {_MONTHS} clock room rooms booked booking lunch lunchtime parking "
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
# Numbers say nothing either way ("the room at three", "she has three kids").
_NUMBERS = frozenset("one two three four five six seven eight nine ten eleven twelve twenty "
                     "thirty forty fifty hundred half quarter".split())

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


# Spoken words that say nothing about a topic, on top of segment's stop words and fillers.
_SPOKEN = frozenset("oh ah eh aw ooh good great nice lovely fine right sure sorry round "
                    "anyway honestly literally ones somebody someone".split())


@functools.cache
def _stop_words() -> frozenset[str]:
    from .segment import _stop_words as spoken_stop_words

    # The vocabulary's own words count, even where spaCy calls them stop words ("three").
    return (frozenset(spoken_stop_words()) | _SPOKEN) - set(_kind_of())


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
    plain = _ANNOTATION.sub(" ", str(text).casefold().replace("’", "'"))
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
    content = [w for w in content if not w.isdigit() and w not in _NUMBERS]
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
