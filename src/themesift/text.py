"""Words as the stages see them: what a word is, which words carry no topic, crude stems, and
the dates and numbers that say nothing about a topic.

Shared by segment (where a new idea starts), smalltalk, discover (keywords and labels), propose
(the words a unit shares with a theme) and the code sheet (exemplar sentences); how a count
is written ("1 code", "2 codes"); and how the cells of a table read as text or as yes/no.
"""

from __future__ import annotations

import functools
import math
import numbers
import re

__all__ = ["WORD", "LETTER", "ANNOTATION", "stop_words", "content_words", "content_stems",
           "short_words", "counted", "DAYS", "MONTHS", "NUMBERS", "TRUE_WORDS", "FALSE_WORDS",
           "cell_text", "is_missing", "same_text"]


def counted(n: int, word: str) -> str:
    """"1 code", "2 codes": a count and its noun, in the plural where it needs one."""
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


#: A word: letters or digits, with an apostrophe inside ("don't", "mum's").
WORD = re.compile(r"\w+(?:['’]\w+)*")
#: A letter of any script (a text without one has no words to compare).
LETTER = re.compile(r"[^\W\d_]")
#: A transcriber's note: "[laughs]", "(inaudible)".
ANNOTATION = re.compile(r"\[[^\]]*\]|\([^)]*\)")

#: How a yes/no cell of a table reads once lower-cased, as spreadsheets and ``dtype=str`` give
#: it ("TRUE", "1.0", "x"); an empty cell is no.
TRUE_WORDS = frozenset({"true", "t", "yes", "y", "1", "1.0", "x"})
FALSE_WORDS = frozenset({"false", "f", "no", "n", "0", "0.0", "", "nan", "none", "<na>"})


def cell_text(value):
    """A table cell as text where it holds one: a number (a spreadsheet's ``42``) as its text,
    other values (a string, an empty cell) as they are."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        return value
    if isinstance(value, numbers.Integral):
        return str(value)
    return value if math.isnan(value) else str(value)


def is_missing(value) -> bool:
    """Whether a table cell is empty: None, pandas' NA, NaN or only whitespace."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return True
    if isinstance(value, str):
        return not value.strip()
    import pandas as pd

    return value is pd.NA


# Words that carry no topic in spoken English, on top of spaCy's stop words.
_FILLERS = frozenset(
    "um uh erm er mm hmm mhm yeah yep yup nope nah yes okay ok like know mean think really "
    "just kind sort thing things "
    "lot lots stuff get got go going gone say said says actually basically obviously probably "
    "maybe quite bit little way something anything everything someone people".split()
)

DAYS = ("monday tuesday wednesday thursday friday saturday sunday today tomorrow tonight "
        "yesterday")
MONTHS = ("january february march april june july august september october november "
          "december")
# Numbers say nothing either way ("the room at three", "she has three kids").
NUMBERS = frozenset("one two three four five six seven eight nine ten eleven twelve twenty "
                    "thirty forty fifty hundred half quarter".split())


@functools.lru_cache(maxsize=1)
def stop_words() -> frozenset[str]:
    """spaCy's English stop words and spoken fillers ("yeah", "kind of", "stuff")."""
    from spacy.lang.en.stop_words import STOP_WORDS

    return frozenset(STOP_WORDS) | _FILLERS


def reads_as_english(text: str) -> bool | None:
    """Whether ``text`` reads as English, roughly: most of its letters Latin and at least one
    word in six an English stop word (English prose has two in five); None for a text too
    short to tell (under 12 letters or 6 words)."""
    letters = [c for c in text if c.isalpha()]
    if len(letters) < 12:
        return None
    if sum(c > "\u024f" for c in letters) > len(letters) / 2:  # another script
        return False
    words = WORD.findall(text.casefold().replace("’", "'"))
    if len(words) < 6:
        return None
    stop = stop_words()
    return sum(w in stop for w in words) >= len(words) / 6


#: Answers that say there is no answer: "N/A", "Nothing.", "No comment", "xxx", "Don't know"
#: (a cell of symbols alone has no words: :data:`LETTER`).
NON_ANSWER = re.compile(
    r"(?:n\s*/\s*a|n\.\s*a\.?|na|nil|none|nothing(?: (?:else|more|to (?:add|say)))?|"
    r"no comments?|not applicable|(?:i )?don'?t know|dk|no answer|x+)[\s.!]*", re.IGNORECASE)


def is_non_answer(text: str) -> bool:
    """Whether ``text`` is an answer that says there is none (a survey's "N/A", "Nothing",
    "No comment", "Don't know"), which fits no theme whatever it is close to."""
    return bool(NON_ANSWER.fullmatch(text.strip().replace("’", "'")))


_TYPOGRAPHY = str.maketrans({"\u2019": "'", "\u2018": "'", "\u201c": '"', "\u201d": '"'})


def same_text(text: str) -> str:
    """A text as compared with an analyst's copy of it: case, spaces around and inside the
    words, curly quotes and apostrophes (as Word and Excel write them) don't count."""
    return " ".join(text.translate(_TYPOGRAPHY).casefold().split())


def content_words(text: str) -> list[str]:
    """The content words of a text, lower-cased, in order: no stop words or fillers, no words
    of one or two letters or digits; a possessive keeps its noun ("mum's" -> "mum"), and a
    contraction goes ("i'd", "don't"), as does a stop word's "'s" ("it's", "that's")."""
    stop = stop_words()
    out = []
    for word in WORD.findall(text.casefold().replace("’", "'")):
        if "'" in word:
            word, _, suffix = word.partition("'")
            if suffix != "s":
                continue
        if word in stop or len(word) < 3 or word.isdigit():
            continue
        out.append(word)
    return out


def content_stems(text: str) -> set[str]:
    """Content words reduced to a crude stem ("meetings", "meeting" -> "meet", "days" -> "day")."""
    out = set()
    for word in content_words(text):
        if word.endswith("s") and not word.endswith("ss") and len(word) >= 4:
            word = word[:-1]
        for suffix in ("ing", "ed", "ly"):
            if word.endswith(suffix) and len(word) - len(suffix) >= 4:
                word = word[: -len(suffix)]
                break
        out.add(word)
    return out


def short_words(text: str, max_words: int) -> tuple[list[str], set[str]] | None:
    """The words of a short text (a back-channel, a short reply), lower-cased and without
    transcriber's notes ("[laughs]"), and their content stems (:func:`content_stems`); None
    where it has more than ``max_words`` words. Segment's short turns and the caption reader's
    back-channels are told by these, each with its own thresholds."""
    words = WORD.findall(ANNOTATION.sub(" ", text).casefold())
    if len(words) > max_words:
        return None
    return words, content_stems(" ".join(words))
