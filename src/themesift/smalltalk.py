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
("[laughs]"). Its *cues* are the phrases and words of small talk it uses, of two sorts:

* phrases said to the meeting itself, which only small talk uses: audio and video checks
  ("can you hear me", "you're on mute", "your connection is unstable", "I didn't catch
  that"), the recording ("for the recording", "I'll stop the recording"), the meeting's own
  business (breaks, starting, waiting for people to join, the link in the chat, being late,
  repeating the question, running out of time, consent given as the form is read out: "Yes,
  I consent.", "Happy to take part."), greetings and goodbyes ("good morning", "see
  you all next week"), offers of tea and coffee and weather idioms ("chucking it down");
* cues that accounts of the work use too: the small-talk vocabulary below (words of
  greetings, times and days, food and drink, weather, audio and video, recording) and
  phrases such as times ("7am", "half past", "o'clock"), "don't forget", "how are you",
  "the weather", "on mute", "fire alarm".

A cue counts only when the rest of the unit carries no content: what a unit says *beyond*
its cues is its content words that are not cues (numbers aside), plus the negations that make
a claim though they are stop words ("nobody", "never", "not once", "no choice"). A unit is
small talk when it is short (at most ``MAX_WORDS`` words), tells no one's own experience
("I felt", "I learned", "for years": an account, whatever its cue words), and

* it has no content word and no cue at all (a back-channel: "Oh, go on then."), or
* what it says beyond its cues is an aside at most (``MAX_CONTENT_BEYOND``: two content
  words), and either one of its cues is a phrase only small talk uses, or its cues outnumber
  the content words beyond them.

So "Lovely, I'll grab a coffee." and "Sorry I'm late, the traffic was awful." are small
talk, and "The weather makes my depression worse." (one cue, three content words beyond it),
"By 3 o'clock on a Friday there is simply nobody to refer to." and "I just froze." (frozen is
a cue only when a screen, a camera or "you" froze) are not.

Long units are never small talk: a participant who mentions the tea in a long account of
home visits ("the first months are mostly drinking tea together") is talking about the work.

Small talk in context
---------------------
Small talk comes in runs: the replies in an audio check ("Sorry, you're breaking up." - "It's
the signal in this building.") or a joke about the tea say little on their own,
and read as small talk only next to it. :func:`small_talk_reasons` takes the talk of a
transcript in order, and flags a unit that is *short with little content* (at most
``CONTEXT_MAX_WORDS`` words, at most ``CONTEXT_CONTENT_WORDS`` distinct content words, claims
counted, and no account of one's own experience: "I felt so alone." stays content) when
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
from collections.abc import Iterable

from .text import (ANNOTATION, DAYS, MONTHS, NUMBERS, TRUE_WORDS,
                   stop_words as spoken_stop_words)

__all__ = ["small_talk_reason", "small_talk_reasons", "is_small_talk", "topic_words",
           "vocabulary_words", "content_words", "is_aside",
           "SMALL_TALK_KINDS", "MAX_WORDS", "MAX_CONTENT_BEYOND", "ASIDE_CONTENT_WORDS",
           "CONTEXT_MAX_WORDS", "CONTEXT_CONTENT_WORDS", "IN_EXCHANGE", "flagged_reasons",
           "small_talk_flags"]

#: Longer units always carry some content for the study.
MAX_WORDS = 25
#: A cue counts only when the rest of the unit is an aside at most: this many content words
#: beyond the cues (the measure of an aside, :data:`ASIDE_CONTENT_WORDS`).
MAX_CONTENT_BEYOND = 2

_WORD = re.compile(r"[^\W_]+(?:'[^\W_]+)?")  # letters of any script

# Kind of small talk -> its words (lower case), each in one kind only. Words that also name
# the work ("key worker", "drink" for alcohol, "signs of relapse", "a connection", "froze")
# are left out: a unit is flagged by what only small talk says.
_VOCABULARY: dict[str, str] = {
    "greeting": "hello hi hiya hey welcome thanks thank bye goodbye cheers morning evening "
                "everyone everybody",
    "logistics": f"{DAYS} {MONTHS} afternoon clock room rooms booked booking lunch lunchtime "
                 "parking toilet toilets loo forget remind reminder slides laptop email calendar "
                 "diary timetable chair chairs seat seats traffic",
    "food and drink": "tea coffee cuppa biscuit biscuits cake cakes sandwich sandwiches pizza "
                      "milk sugar cup cups mug mugs kettle snack snacks cookie cookies chocolate "
                      "chocolates doughnut doughnuts donut donuts fruit juice crisps sweets "
                      "custard bourbons digestives bread toast bacon breakfast soup pastries "
                      "croissants muffins scones",
    "weather": "weather rain raining rained rainy sunny sunshine sun snow snowing snowed "
               "freezing umbrella soaked forecast heatwave pouring storm windy",
    "audio and video": "mute muted unmute microphone mic mics audio volume louder echo camera "
                       "cameras video lag lagging internet wifi zoom headphones headset",
    "recording": "recording recordings recorded recorder recorders tape transcript transcriber "
                 "transcription dictaphone",
}

_HOURS = "one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|noon|\\d{1,2}"
_FOOD = "tea|coffee|cuppa|brew|biscuits?|cake|sandwich(?:es)?|snack|water"

# Phrases said to the meeting itself, which only small talk uses: a unit with one is small
# talk when what else it says is an aside at most (MAX_CONTENT_BEYOND).
_ONLY_SMALL_TALK: dict[str, re.Pattern[str]] = {
    "audio and video": re.compile(
        r"\bcan (?:you|everyone|everybody|you all) hear\b|\b(?:i|we) can(?:'?t)? hear you\b|"
        r"\bcan (?:you|everyone|everybody|you all) see (?:me|us|my screen|the screen|the slides)\b|"
        r"\b(?:i|we) (?:can'?t|cannot|couldn'?t|didn'?t|did not) (?:quite )?(?:hear|catch) "
        r"(?:you|that|what you said|the question|the last bit)(?=[.,!?]|$| again| there)|"
        r"\b(?:you'?re|you are|you were|i'?m|i am|i was|we'?re|still|gone|go|went) on mute"
        r"(?=[.,!?]|$| again| still| the whole| sorry)|"
        r"\b(?:un)?mute (?:yourself|yourselves|your mic)\b|\boff mute\b|"
        r"\byou'?re (?:a bit |very |really )?(?:quiet|breaking up|frozen|cutting out|dropping out)"
        r"(?=[.,!?]|$| though| there| now| again| a bit)|"
        r"\byou (?:dropped|cut) out\b|"
        r"\b(?:could|can|would) you (?:please )?(?:speak|talk) (?:up|louder|a bit louder)\b|"
        r"\bspeak up a bit\b|\bshare (?:my|your) screen\b|"
        r"\b(?:you|it|screen|camera|video|picture|zoom|laptop|computer)(?:'s|'ve)?"
        r"(?: (?:just|has|have|was|were|is|are|keeps|kept|gone|went|a bit|completely))* "
        r"(?:froze|frozen)\b|\bkeeps? freezing\b|"
        r"\b(?:internet|wifi|network) (?:connection|signal)\b|"
        r"\bconnection(?:'s| is| was| keeps| kept)(?: \w+)? (?:unstable|dropping|cutting out|"
        r"playing up|bad|poor|terrible)\b|"
        r"\b(?:unstable|dodgy|patchy) (?:connection|signal|wifi)\b"),
    "recording": re.compile(
        r"\bfor the (?:recording|tape|transcript|record)\b|"
        r"\b(?:is|are) (?:we|it|this|you) (?:still )?recording\b|"
        r"\b(?:stop|start|pause|end|turn off|switch off|turn on|switch on) the record(?:ing|er)\b|"
        r"\b(?:stop|start|pause|press|hit) record(?:ing)?(?=[.,!?]|$| now| then| there)"),
    "logistics": re.compile(
        r"\b(?:let'?s|we'?ll|we will|shall we|we can|we could) (?:just )?(?:take|have) (?:a|an) "
        r"(?:\w+[- ]minutes? |quick |short |comfort )?break\b|"
        r"\b(?:\w+[- ]minutes?|comfort|tea|coffee) break\b|"
        r"\b(?:after|before|back from) the break\b|"
        r"\b(?:(?:shall|should|can|could) we|let'?s) (?:get )?(?:start|started|begin|get going|"
        r"kick off|make a start)(?=[.,!?]|$| then| now| shall| with (?:you|introductions))|"
        r"\bbefore we (?:start|begin|get going)(?=[.,!?]|$)|"
        r"\b(?:let'?s|we'?ll|shall we|we can) (?:just )?(?:wait|give it) (?:another|a|one more|"
        r"a few|a couple of|two|five) (?:more )?(?:minutes?|mins?|moments?)\b|"
        r"\bfor (?:people|others|everyone|everybody|the others|a few more) to (?:join|arrive|"
        r"come in|get here|log on)\b|\bjoining us\b|\bpeople (?:are )?(?:still )?joining\b|"
        r"\b(?:wrap|wind) (?:things |it )?up(?=[.,!?]|$| there| now| soon)|"
        r"\bwe(?:'re| are)(?: \w+)? (?:out of|running out of|short of) time\b|"
        r"\b(?:we'?ve|we have) (?:got )?(?:\w+ )?(?:minutes|mins) left\b|"
        r"\b(?:in|into|on) the chat\b|\bchat box\b|"
        r"\b(?:put|post(?:ed)?|drop(?:ped)?|sen[dt]|share[d]?|paste[d]?|pop(?:ped)?) "
        r"(?:the|a|that) link\b|"
        r"\bsorry (?:i'?m|i am|we'?re|to be|for being|i was|we were) (?:a bit |so |a little )?"
        r"late\b|\bstuck in traffic\b|"
        r"\b(?:could|can|would) you (?:please |just )?(?:repeat|say) (?:that|the question|it|"
        r"the last bit)\b|\brepeat the question\b|\bsay that again\b|"
        r"\bwhat was the question\b|\bcome again\s*\?|"
        r"\b(?:we'?ve|we have|we) (?:only |just )?(?:got|have|booked) (?:the|this) room\b|"
        r"\bfire (?:alarm )?(?:test|drill)\b|"
        # the study's own procedure: consent, as participants give it when it is read out
        r"\b(?:i|we) (?:all |do |both )?(?:consent|agree to take part)\b|"
        r"\b(?:i|we) (?:give|gave) (?:my|our) consent\b|\bconsent form\b|"
        r"\bhappy (?:to|for you to) (?:take part|carry on|continue|go ahead|proceed|be recorded|"
        r"record)(?=[.,!?]|$| then| yeah| yes)"),
    "greeting": re.compile(
        r"\bgood (?:morning|afternoon|evening)\b|"
        r"\bthanks? (?:you )?(?:all |everyone )?for (?:coming|having|joining|your time)\b|"
        r"\bnice to (?:meet|see) (?:you|everyone)\b|"
        r"\bsee you (?:all|everyone|everybody|soon|later|next (?:week|time|month)|tomorrow)\b|"
        r"\bsame time next week\b|\bhave a (?:good|nice|lovely) (?:weekend|evening|day)\b"),
    "food and drink": re.compile(
        rf"\b(?:i'?ll|i will|let me|shall i|i'?m (?:just )?going to|i'?m gonna) (?:just )?"
        rf"(?:go and )?(?:grab|get|fetch|make|pour)(?: me| myself| you| us)? "
        rf"(?:a|an|some|another|the)? ?(?:cup of |mug of )?(?:{_FOOD})\b|"
        rf"\b(?:anyone|does anyone|who) (?:want|wants|fancy|fancies|for) (?:a |an |some )?"
        rf"(?:more )?(?:{_FOOD})\b|\bput the kettle on\b|\bhelp yourselves\b"),
    "weather": re.compile(r"\bchucking it down\b|\braining cats\b|\btipping it down\b"),
}

# Cues that small talk uses but accounts of the work use too ("the weather makes my
# depression worse", "they wake you at 7am", "don't forget he'd been sectioned"): each counts
# as one word of the small-talk vocabulary.
_CUES: dict[str, re.Pattern[str]] = {
    "audio and video": re.compile(r"\b(?:on|off) mute\b|\bbreaking up\b|\b(?:speak|talk) up\b"),
    "logistics": re.compile(
        rf"\bdon'?t forget\b|\bhalf past\b|\bquarter (?:past|to)\b|\bo'?clock\b|"
        rf"\b(?:got|have|booked|need) the room\b|\b\d{{1,2}}(?::\d{{2}})? ?(?:am|pm)\b|"
        rf"\b(?:until|till|til) (?:{_HOURS})\b|\bfire alarm\b|\brunning late\b"),
    "greeting": re.compile(r"\bhow are you\b"),
    "weather": re.compile(r"\bthe weather\b|\bpouring down\b"),
}

# What marks an account, whatever the topic: one's own experience ("I felt", "I learned"),
# what someone did for or to a person ("she just listened", "that's all they ever ask"),
# and time on the scale of a life ("for years", "in two years").
_ACCOUNT = re.compile(
    r"\b(?:i|we)(?:'ve|'d| have| had)?(?: (?:just|really|always|still|never|often|finally|"
    r"slowly|actually))? (?:felt|feel|feeling|learned|learnt|realised|realized|"
    r"struggled?|coped?|panicked|cried|suffered|hated?|dreaded?)\b|"
    r"\b(?:she|he|they|staff|someone|somebody|nobody|no one)(?: (?:just|really|always|"
    r"never|actually|even|ever))? (?:listened|understood|noticed|cared|helped|sat with|"
    r"stayed with|ask(?:ed)?(?= (?:me|us|him|her|them|about|how)\b)|ever ask)\b|"
    r"\bfor (?:years|months|weeks|decades)\b|"
    r"\b(?:in|after|over|within) (?:\w+ )?(?:years|months)\b")
# Words that make a claim though spaCy calls them stop words ("nobody to refer to", "never",
# "no choice"): each counts as a content word beyond the cues.
_CLAIM = re.compile(r"\bnobody\b|\bno[- ]one\b|\bnever\b(?! mind)|\bnot once\b|\bno choice\b")

#: The kinds of small talk a rationale can name.
SMALL_TALK_KINDS = (*_VOCABULARY, "back-channel")


@functools.cache
def _kind_of() -> dict[str, str]:
    return {word: kind for kind, words in _VOCABULARY.items() for word in words.split()}


# Spoken words that say nothing about a topic, on top of text.stop_words().
# ("till", "til": "until"; "mate", "guys", "folks": whoever is spoken to.)
_SPOKEN = frozenset("oh ah eh aw ooh good great nice lovely fine right sure sorry round "
                    "anyway honestly literally ones somebody someone till til mate guys "
                    "folks".split())


@functools.cache
def _stop_words() -> frozenset[str]:
    # The vocabulary's own words count, even where spaCy calls them stop words ("three").
    return (frozenset(spoken_stop_words()) | _SPOKEN) - set(_kind_of())


def _plain(text: str) -> str:
    """Lower case, straight apostrophes, transcriber's notes blanked out."""
    return ANNOTATION.sub(" ", str(text).casefold().replace("’", "'"))


def _spans(text: str) -> list[tuple[str, int]]:
    """Lower-case words with where they start; "parking's" -> "parking", and contractions
    ("isn't", "I'd") are left out."""
    out = []
    for found in _WORD.finditer(ANNOTATION.sub(" ", text)):
        stem, _, suffix = found.group(0).partition("'")
        if suffix in ("", "s"):
            out.append((stem, found.start()))
    return out


def _words(text: str) -> list[str]:
    return [word for word, _ in _spans(text)]


def _read(plain: str, topic: frozenset[str] = frozenset()):
    """A unit's cues, in order, as (position, kind, what was said, only small talk says it);
    and its content words beyond them (each claim counted as one). Words of ``topic`` (see
    :func:`topic_words`) are content, whatever the vocabulary says."""
    cues = [(m.start(), kind, m.group(0), strong, m.end())
            for strong, table in ((True, _ONLY_SMALL_TALK), (False, _CUES))
            for kind, pattern in table.items() for m in pattern.finditer(plain)]
    covered = [(start, end) for start, _, _, _, end in cues]
    stop, kind_of = _stop_words(), _kind_of()
    beyond = []
    for word, at in _spans(plain):
        if word in stop or any(start <= at < end for start, end in covered):
            continue
        if word in kind_of and word not in topic:
            cues.append((at, kind_of[word], word, False, at + len(word)))
        elif not word.isdigit() and word not in NUMBERS:
            beyond.append(word)
    beyond += _CLAIM.findall(plain)
    return sorted(c[:4] for c in cues), beyond


def small_talk_reason(text: str, topic: frozenset[str] = frozenset()) -> str | None:
    """Why a meaning unit is small talk, or None if it is not. ``topic``: words that name the
    study's work (:func:`topic_words` of its framework), which are never cues ("parking" in a
    study of access to a clinic).

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
    >>> small_talk_reason("The weather makes my depression worse.") is None
    True
    """
    plain = _plain(text)
    if len(_WORD.findall(plain)) > MAX_WORDS or _ACCOUNT.search(plain):
        return None
    cues, beyond = _read(plain, topic)
    if not cues:
        return None if beyond or content_words(plain) else "back-channel"
    if len(beyond) > MAX_CONTENT_BEYOND:
        return None
    strong = [c for c in cues if c[3]]
    if strong:
        return f"{strong[0][1]}: {strong[0][2]}"
    if len(cues) <= len(beyond):
        return None
    counts: dict[str, int] = {}
    for _, kind, _, _ in cues:
        counts[kind] = counts.get(kind, 0) + 1
    kind = max(counts, key=counts.__getitem__)  # ties: the first kind met
    return f"{kind}: " + ", ".join(dict.fromkeys(said for _, k, said, _ in cues if k == kind))


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


def is_small_talk(text: str, topic: frozenset[str] = frozenset()) -> bool:
    """Whether a meaning unit is small talk (see :func:`small_talk_reason`)."""
    return small_talk_reason(text, topic) is not None


def topic_words(framework) -> frozenset[str]:
    """The small-talk vocabulary's words that a framework's own texts use (its themes' and
    subthemes' names, descriptions, indicators and examples): they name the study's work
    ("parking" for access to a clinic, "sugar" for diabetes care), so they are no cues there.
    None gives none."""
    if framework is None:
        return frozenset()
    return vocabulary_words(text for theme in framework.all_themes() for text in theme.texts)


def vocabulary_words(texts: Iterable[str]) -> frozenset[str]:
    """The small-talk vocabulary's words that ``texts`` use (:func:`topic_words` of texts)."""
    kind_of = _kind_of()
    return frozenset(word for text in texts for word in _words(_plain(text)) if word in kind_of)


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
    plain = _plain(text)
    return (len(_WORD.findall(plain)) <= CONTEXT_MAX_WORDS and not _ACCOUNT.search(plain)
            and len(set(content_words(plain))) + len(_CLAIM.findall(plain))
            <= CONTEXT_CONTENT_WORDS)


def small_talk_reasons(texts, documents=None, *, units=None, turns=None,
                       topic: frozenset[str] = frozenset()) -> list[str | None]:
    """Why each stretch of talk of a conversation is small talk, in context; None where not.

    A stretch is small talk by :func:`small_talk_reason`, or, when it is short with little
    content (see the module docstring), because the nearest stretch before or after it in the
    same document (back-channels skipped) is small talk of a kind: it is a reply in a
    small-talk exchange. A stretch that goes on from the one before it in the same turn is no
    reply: it is small talk in context only where that stretch is ("So I'd just want people
    to listen. That's it, really." ends a point, whatever the moderator says next).

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
    turns:
        Each stretch's turn (any value that two stretches of one turn share), so that a
        stretch that goes on from the one before it in its turn is told from a reply. None:
        each stretch is a turn of its own.
    topic:
        Words that name the study's work, never cues (:func:`topic_words`).

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
    turns = list(range(n)) if turns is None else list(turns)
    if not len(documents) == len(units) == len(turns) == n:
        raise ValueError(f"small_talk_reasons() got {n} texts, {len(documents)} documents, "
                         f"{len(units)} unit flags and {len(turns)} turns; give one of each "
                         "per stretch.")
    return _reasons(texts, documents, units, turns, range(n), topic)


def _reasons(texts: list[str], documents: list, units: list[bool], turns: list,
             wanted: Iterable[int], topic: frozenset[str] = frozenset()) -> list[str | None]:
    """:func:`small_talk_reasons` of the stretches ``wanted`` (None elsewhere), reading the
    others only as far as their context needs."""
    own: dict[int, str | None] = {}

    def reason(j: int) -> str | None:
        if j not in own:
            own[j] = small_talk_reason(texts[j], topic)
        return own[j]

    def kind(j: int) -> str | None:
        # Back-channels are transparent: a neighbour is the nearest stretch that is not one.
        r = reason(j)
        return None if r is None or r == "back-channel" else r.split(":")[0]

    def neighbour(i: int, step: int) -> str | None:
        j = i + step
        while 0 <= j < len(texts) and documents[j] == documents[i]:
            if reason(j) != "back-channel":
                return kind(j)
            j += step
        return None

    out: list[str | None] = [None] * len(texts)
    for i in wanted:
        out[i] = reason(i)
        if out[i] is None and units[i] and _little_content(texts[i]):
            goes_on = i > 0 and (documents[i - 1], turns[i - 1]) == (documents[i], turns[i])
            found = kind(i - 1) if goes_on else neighbour(i, -1) or neighbour(i, +1)
            if found:
                out[i] = f"{IN_EXCHANGE}: {found}"
    return out


def small_talk_flags(units, column: str = "small_talk"):
    """Which units of a units table are flagged small talk: its ``small_talk`` column (or
    another flag ``column``, such as ``short_reply``) as a new boolean array (empty cells
    false; read from a file as text, "true", "yes", "1" and the like true), all false where
    the table has no such column."""
    import numpy as np

    if column not in units.columns:
        return np.zeros(len(units), dtype=bool)
    import pandas as pd

    column = units[column]
    if not pd.api.types.is_bool_dtype(column):  # as read from a file: "True", "no", 1, ""
        column = column.map(lambda v: str(v).strip().lower() in TRUE_WORDS)
    return np.array(column.fillna(False).astype(bool), dtype=bool)


def flagged_reasons(units, flagged, topic: frozenset[str] = frozenset()) -> list[str]:
    """The reason to show for each unit of a units table (``text``, and ``doc_id`` where
    present, in transcript order) where ``flagged`` is true; "" elsewhere. ``topic``: words
    that are no cues (:func:`topic_words`).

    The table's own units are their context. A short unit with little content flagged next to
    small talk that is not in the table (the moderator's audio check: segment reads the turns
    it leaves out too) is "in a small-talk exchange" without a kind; any other unit flagged by
    hand is "flagged in the units table".
    """
    texts = [str(t) for t in units["text"]]
    n = len(texts)
    documents = list(units["doc_id"]) if "doc_id" in units else [None] * n
    turns = list(units["turn"]) if "turn" in units else list(range(n))
    reasons = _reasons(texts, documents, [True] * n, turns,
                       [i for i, flag in enumerate(flagged) if flag], topic)
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
