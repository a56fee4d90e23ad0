"""The words that can become keywords: a unit's text without transcriber notes, contractions,
punctuation or accents; the stop words (scikit-learn's, spaCy's and spoken fillers); the terms
(content words and two-word phrases of them) and the vocabulary of those used in a few units."""

from __future__ import annotations

import functools
import re
import unicodedata
from collections.abc import Sequence

from ..errors import InputError
from ..text import ANNOTATION


# Words that name no topic in spoken English, on top of spaCy's and scikit-learn's stop
# words: fillers, hedges, transcriber notes and contractions written without an apostrophe.
_SPOKEN_STOP_WORDS = frozenset(
    "um umm uh uhm er erm ah oh eh mm mmm mhm hmm huh yeah yea yep yup yes no nope okay ok "
    "alright like know mean think thought really just kind sort kinda sorta thing things "
    "stuff lot lots bit little way actually basically literally honestly obviously probably "
    "maybe perhaps guess suppose right sure well good great pretty quite said say says saying "
    "tell told talk talking go going goes gone went get gets got getting come comes came "
    "want wanted make makes made look looking need needs let lets gonna wanna gotta dunno "
    "cos cause laugh laughs laughing laughter crosstalk inaudible unclear pause overlapping "
    "overtalk coughs sighs indistinct name place dont cant wont aint im ive id youre youve "
    "youll youd theyre theyve theyll theyd thats theres heres whats whos hes shes weve "
    "were isnt wasnt arent werent didnt doesnt couldnt wouldnt shouldnt hasnt havent hadnt "
    "mustnt neednt itll thatll usually fine true sorry honest exactly means sounds nearly "
    "having especially seriously mate guys ones bloke man asked saw telling wanting bring "
    "keeping question round depends personally thinking times happening huge stupid "
    "hang different same whatever someone somebody anyone everybody everyone".split()
)
# Contractions go whole ("don't", "I'll" - else "ill" would look like a topic word); a
# possessive keeps its noun ("mum's" -> "mum").
_CONTRACTION = re.compile(r"\b\w+'(?:t|re|ve|ll|d|m)\b")
_POSSESSIVE = re.compile(r"'s\b")
_NOT_LETTER = re.compile(r"[^a-z]+")
_WORD = re.compile(r"\b[a-z]{2,}\b")


@functools.cache
def keyword_stop_words() -> frozenset[str]:
    from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS

    from ..text import stop_words as spacy_and_fillers

    words = set(ENGLISH_STOP_WORDS) | set(spacy_and_fillers()) | _SPOKEN_STOP_WORDS
    # As the tokenizer sees them: lower-case ASCII letters only.
    return frozenset(t for w in words for t in _NOT_LETTER.split(_ascii(w)) if len(t) >= 2)


def _ascii(text: str) -> str:
    return unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")


def keyword_text(text: str) -> str:
    """The words of a unit that can become keywords: no transcriber notes, contractions,
    punctuation or accents. BERTopic sees these texts; quotes always come from the units."""
    text = ANNOTATION.sub(" ", text.casefold().replace("’", "'"))
    text = _POSSESSIVE.sub("", _CONTRACTION.sub(" ", text))
    return " ".join(_NOT_LETTER.split(_ascii(text))).strip()


@functools.lru_cache(maxsize=1 << 16)
def word_text(word: str) -> str:
    """:func:`keyword_text` of one word, remembered: the label phrases ask it of the same
    words again and again."""
    return keyword_text(word)


def keyword_vectorizer(vocabulary: Sequence[str] | None = None, min_df: int = 1):
    from sklearn.feature_extraction.text import CountVectorizer

    return CountVectorizer(analyzer=_terms, vocabulary=vocabulary, min_df=min_df)


def _terms(text: str) -> list[str]:
    """Content words and two-word phrases of adjacent content words.

    scikit-learn's own analyzer removes stop words first and pairs what is left, so "the
    list for housing" would give the phrase "list housing"; here a phrase never spans a
    stop word ("waiting list", "care plan", "mental health").
    """
    stop = keyword_stop_words()
    words = _WORD.findall(text.lower())
    keep = [w not in stop for w in words]
    terms = [w for w, k in zip(words, keep) if k]
    terms += [f"{a} {b}" for a, b, ka, kb in zip(words, words[1:], keep, keep[1:]) if ka and kb]
    return terms


def keyword_vocabulary(docs: list[str]) -> tuple[list[str], int]:
    """Words and two-word phrases used in at least a few units.

    BERTopic fits its vectorizer on one joined document per code, so a ``min_df`` there would
    count codes and drop exactly the words unique to one code. Rare words are dropped here
    instead, counting units: 2 below 1,500 units, rising to 10 at 5,000.
    """
    min_units = min(10, max(2, len(docs) // 500))
    for min_df in dict.fromkeys((min_units, 1)):
        try:
            vectorizer = keyword_vectorizer(min_df=min_df).fit(docs)
        except ValueError:  # no word is left after the stop words and min_df
            continue
        if len(vectorizer.vocabulary_) >= 2:  # c-TF-IDF needs two terms to weigh
            return sorted(vectorizer.vocabulary_), min_df
    raise InputError(
        "The meaning units contain (almost) no content words, only stop words and fillers "
        "such as 'yeah', 'um' or 'you know': there is nothing to find codes in",
        fix="Check that the 'text' column holds what was said",
    )
