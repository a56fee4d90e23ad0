"""What the readers share: decoding files, recognising speaker labels, building turns."""

from __future__ import annotations

import codecs
import hashlib
import logging
import re
import unicodedata
from collections import Counter
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from pathlib import Path

from ..errors import InputError
from ..model import Turn

logger = logging.getLogger(__name__)

#: Speaker names that mark the person running the group, matched case-insensitively
#: against the label with digits and punctuation removed.
MODERATOR_NAMES = frozenset(
    {
        "moderator", "mod", "interviewer", "int", "i", "facilitator", "researcher", "host",
        "chair", "q", "question", "co moderator", "comoderator", "assistant moderator",
        "note taker", "observer",
    }
)
#: Role words that make a label of a few words the moderator's wherever they stand: "Focus
#: Group Facilitator", "Lead Facilitator", "Co-facilitator", "Anna - Facilitator",
#: "Facilitator Anna Lindqvist".
_MODERATOR_ROLES = frozenset({"moderator", "facilitator", "interviewer", "cofacilitator",
                              "comoderator"})

# Labels that are plainly speakers even when they speak only once.
_SPEAKERISH = re.compile(
    r"^(p|r|fg|participant|respondent|resp|interviewee|speaker|person|member|staff|nurse|doctor|"
    r"dr|psychiatrist|psychologist|therapist|social worker|peer worker|support worker|"
    r"worker|manager|user|client|patient|carer)\b|\d$",
    re.IGNORECASE,
)
# Words that open a title, header or note line ("Focus group 2: ...", "Transcriber: ..."), never
# a speaker's label, however often they occur.
_NOT_A_SPEAKER = re.compile(
    r"^(note|notes|nb|date|time|duration|location|venue|site|title|subject|topic|transcriber|"
    r"transcribed by|transcript|transcription|recording|recorded|audio|file|project|study|"
    r"focus group(?!\s+(?:co-?)?(?:facilitator|moderator|lead|leader|host|chair))|"
    r"interview|session|meeting|present|attendees|participants|summary|keywords|"
    r"page|part|section)\b",
    re.IGNORECASE,
)
# Lowercase particles inside a person's name ("Ruud van Dijk", "Maria da Silva", "Dafydd ap
# Rhys", "Máire ní Dhomhnaill", "José García y López", "Ana de los Santos").
_PARTICLES = frozenset(
    "van von de da di del der den la le al el bin ibn ter ten du dos das ap ab ferch verch ní "
    "ni nic mhic y e los las della degli dei zu af av".split())
_NAME_WORD = re.compile(r"[^\W\d_][\w'’.\u0300-\u036f-]*,?$")
# A note in parentheses after a label: a role ("Anna (Host)"), pronouns ("Sam (he/him)").
_NOTE = re.compile(r"^(?P<name>.*?)[ \t]*\((?P<note>[^()]*)\)$")
_QUOTES = ('"', "“", "„", "«", "'", "‘")

_TIMESTAMP = r"\d{1,2}:\d{2}(?::\d{2})?(?:[.,]\d{1,3})?"
# A time or a stretch of time: "00:00:01 - 00:00:05" (its start counts).
_TIMES = rf"{_TIMESTAMP}(?:[ \t]*[-–—][ \t]*{_TIMESTAMP})?"
#: A cell, or a line, that is only a time: "00:01:02", "[1:02]".
TIME_ONLY = re.compile(rf"^\[?{_TIMESTAMP}\]?$")
# A speaker label at the start of a line, in the forms transcribers use:
#   "P3: text", "Nurse 2: text", "INTERVIEWER: text", "**P3:** text", "[00:01:02] P3: text",
#   "[00:01:02 - 00:01:09] P3: text", "P3 (00:01:02): text", "P3 [00:01:02]: text",
#   "[Moderator] text", "[Moderator]: text", "Anna Lindqvist (Host): text",
#   "Participant 3 (female, 40s): text", "Lindqvist, Anna: text".
_LABEL_LINE = re.compile(
    rf"""^[ \t]*
    (?:[\[(]?(?P<ts1>{_TIMES})[\])]?[ \t]+)?                # optional leading timestamp
    (?:
        \[(?P<blabel>[^\]\n]{{1,40}})\]                         # [Label]
        (?:[ \t]+(?P<ts3>{_TIMESTAMP})(?=[ \t]*$))?[ \t]*:?     # "[Anna] 10:02:03" (Zoom)
      | (?P<md>\*\*|__)?(?P<label>[^\W\d_][\w .,'’&/\u0300-\u036f-]{{0,38}}?)(?P=md)?  # Label, **Label**
        [ \t]*(?:[\[(](?P<ts2>{_TIMES})[\])]                  # optional (timestamp)
                | [\[(](?P<note>[^()\[\]:\n]{{1,30}})[\])])?[ \t]*   # or (Host), [Moderator]
        (?:\*\*|__)?:(?:\*\*|__)?                           # the colon, maybe inside bold
    )
    (?=[ \t]|$)[ \t]*
    (?:[\[(](?P<ts4>{_TIMES})[\])](?=[ \t]|$)[ \t]*)?         # "P3: [00:01:02] text"
    """,
    re.VERBOSE,
)
# A bold label without a colon in Markdown: "**P3** text", "__Nurse 2__ text" (read only as
# :func:`bold_may_be_label` says; the file's other labels decide whether it is one, as for a
# bold run in a .docx).
_MD_BOLD_LINE = re.compile(
    r"^[ \t]*(?P<md>\*\*|__)(?P<label>[^\W\d_][\w .'’&/\u0300-\u036f-]{0,38}?)(?P=md)[ \t]+(?=\S)"
)
# A label and a dash, the words after it, as some transcription services write turns:
# "Participant 3 - For me...", "Interviewer - What helps?" (read only as :func:`match_dash_label`
# says).
_DASH_LABEL_LINE = re.compile(
    rf"""^[ \t]*(?:[\[(]?(?P<ts1>{_TIMES})[\])]?[ \t]+)?
    (?P<label>[^\W\d_][\w .'’&/\u0300-\u036f-]{{0,38}}?)
    (?:[ \t]*[\[(](?P<ts2>{_TIMES})[\])])?
    [ \t]+[-–—][ \t]+(?=\S)""",
    re.VERBOSE,
)
# The role labels a dash may follow: "Participant 3", "P1", "R1", "INT", "Interviewer",
# "Speaker 2"; a name or an ordinary word before a dash is speech ("Honestly - no").
_DASH_ROLE = re.compile(
    r"^(?:(?:participant|respondent|interviewee|speaker|person|resp|member|nurse|p|r|fg|pt)"
    r"[ _]?\d{1,3}|participant|respondent|interviewee|interviewer|int|moderator|mod|"
    r"facilitator|researcher|(?:interviewer|moderator|facilitator|int)[ _]?\d{1,2})$",
    re.IGNORECASE,
)
#: A line that is only a time, maybe with transcriber's notes: "[00:02:10]", "[00:02:10]
#: [crosstalk]" (a time mark between paragraphs, no one's words).
_TIME_MARK_LINE = re.compile(
    rf"^[ \t]*[\[(]?(?P<time>{_TIMES})[\])]?(?P<notes>(?:[ \t]*\[[^\[\]\n]*\])*)[ \t]*$"
)
# A transcriber's or transcription company's line that says the recording is over: "[END OF
# RECORDING]", "[End of recording]", "END OF TRANSCRIPT", "[END]", "(Recording ends)",
# "*** End of interview 00:54:12 ***" (read only as :func:`end_marker` says).
_END_MARKER = re.compile(
    rf"""^(?P<open>[\W_]*)(?P<words>
        end[ \t]+of[ \t]+(?:the[ \t]+)?(?:recording|transcript|transcription|interview|
            focus[ \t]+group|group|session|audio|tape|file|meeting|discussion)
      | (?:recording|transcript|interview|audio|tape|session)[ \t]+(?:ends|ended|stops|stopped)
      | end
    )(?:[ \t,:–—-]*{_TIMESTAMP})?[\W_]*$""",
    re.IGNORECASE | re.VERBOSE,
)
# A line that is only a label and a timestamp, with the words on the next lines
# (Otter.ai and Teams .docx exports): "Speaker 1  0:03", "Nurse 2   00:01:12".
_LABEL_ONLY_LINE = re.compile(
    rf"^[ \t]*(?P<label>[^\W\d_][\w .'’&/\u0300-\u036f-]{{0,38}}?)[ \t]+(?P<ts1>{_TIMESTAMP})[ \t]*$"
)
# A label and a tab, the words after it (a table pasted as text, "Interviewer<TAB>How...").
_TAB_LABEL_LINE = re.compile(r"^(?P<label>[^\W\d_][\w .'’&/\u0300-\u036f-]{0,38}?)\t+(?=\S)")
# What sets a line apart as a marker rather than speech ("end of the session."): an opening
# bracket, "*", "=", "#", "~", "--" or "__" before its words ("*** End ***", "## End").
_MARKER_OPENS = re.compile(r"[\[(<*=#~]|--|__")
# Words that open a sentence, said or written in bold for emphasis, never a person's name:
# "**Really** I mean it.", "Honestly - no."
_COMMON_WORDS = frozenset(
    "really honestly seriously absolutely definitely exactly totally literally certainly clearly "
    "obviously basically actually personally generally usually sometimes always never often "
    "again also so well yes yeah yep no nope okay ok right sure sorry true false look listen "
    "note important wow oh ah um uh and but or then now first second third finally however "
    "anyway anyways still just very please thanks hello hi nothing everything everyone "
    "everybody nobody this that these those it i we you they he she there here what why "
    "how when where who which not maybe perhaps probably fine good great agreed indeed "
    "anything something somebody someone all none ever only even".split())
_SENTENCE_LIKE = re.compile(r"\b(the|and|that|is|was|we|it|you|to)\b", re.IGNORECASE)
# Transcribers' notes in brackets ("[laughs] Honestly, ...", "[inaudible 00:00:24]"): sounds,
# not speaker labels.
_NON_SPEECH = re.compile(
    r"^(laugh\w*|chuckl\w*|sigh\w*|cough\w*|pause\w*|silence|inaudible|unclear|crosstalk|"
    r"overlapping|applause|music|noise|background\b.*|long pause|laughter|cr(y|ies|ying)|"
    r"sob\w*|tearful|tears|weep\w*|sniff\w*|groan\w*|gasp\w*|yawn\w*|whisper\w*|"
    r"shout\w*|clap\w*|phone ring\w*|door\b.*|knock\w*|interruption|break|redacted|"
    r"name redacted)$", re.IGNORECASE)


def clean_label(label: str) -> str:
    """A speaker label without surrounding markup and whitespace, inner spaces collapsed.

    Underscores inside a label stay ("SPEAKER_00", as WhisperX and pyannote write it); those
    around it are Markdown emphasis ("__P3__"). Accents are composed (Unicode NFC), so "José"
    typed either way is one speaker; the label is a name, the transcript text keeps its own
    spelling.
    """
    label = re.sub(r"[*\[\]]", "", unicodedata.normalize("NFC", label))
    return re.sub(r"\s+", " ", label).strip(" \t:-_")


def split_note(label: str) -> tuple[str, str]:
    """A label's name and its note in parentheses: "Anna (Host)" -> ("Anna", "Host")."""
    m = _NOTE.match(label)
    return (m["name"], m["note"]) if m else (label, "")


def is_moderator(speaker: str, moderator: Collection[str] | None = None) -> bool:
    """Whether a speaker label names the moderator (by the given names, else by role words).

    A role in parentheses counts: "Anna Lindqvist (Host)", "Dr. O'Connor (Facilitator)"; a
    given name matches with or without it, and as it is written in the file ("**Anna:**",
    "[Moderator]"), in any case, with or without underscores, spaces or hyphens ("SPEAKER_00",
    "speaker00" or "Speaker 00").
    """
    name, note = split_note(speaker)
    if moderator:
        return not {_given_name(speaker), _given_name(name)}.isdisjoint(map(_given_name, moderator))
    return _names_moderator(name) or _names_moderator(note)


def _given_name(label: str) -> str:
    # Earlier versions read "SPEAKER_00" as "SPEAKER00": a name copied from their output
    # matches, and so does one typed as it reads ("Speaker 00").
    return re.sub(r"[\s_-]+", "", clean_label(label)).casefold()


def _names_moderator(label: str) -> bool:
    words = re.sub(r"[^a-z ]+", " ", label.casefold().replace("co-", "co")).split()
    return (" ".join(words) in MODERATOR_NAMES
            or (bool(words) and words[0] in MODERATOR_NAMES and len(words) <= 2
                and words[0] != "i")
            or (bool(words) and len(words) <= 4
                and (words[0] in _MODERATOR_ROLES or words[-1] in _MODERATOR_ROLES)))


def name_shape(label: str) -> str | None:
    """"Title" for a person's name ("Aoife", "Anna Lindqvist (Host)", "Lindqvist, Anna"),
    "UPPER" for one in capitals ("AOIFE"), None for anything else ("So basically", "P3")."""
    name = split_note(label)[0]
    words = name.split()
    if not 1 <= len(words) <= 4 or name.count(",") > 1 or not all(map(_NAME_WORD.match, words)):
        return None
    if name.isupper():
        return "UPPER"
    if all(w[0].isupper() or w in _PARTICLES for w in words[1:]) and words[0][0].isupper():
        return "Title"
    return None


def _is_role(label: str) -> bool:
    """A label that names a role ("P3", "Nurse 2", "Moderator"), not a person."""
    name = split_note(label)[0]
    return bool(_SPEAKERISH.search(name)) or is_moderator(name)


def parse_timestamp(value: str) -> float:
    """Seconds from "HH:MM:SS.mmm", "MM:SS", "H:MM:SS,mmm" and similar."""
    value = value.replace(",", ".")
    seconds = 0.0
    for part in value.split(":"):
        seconds = seconds * 60 + float(part)
    return seconds


def decode_bytes(data: bytes, path: Path, encoding: str | None = None,
                 what: str = "transcript") -> tuple[str, str]:
    """A text file's bytes (at ``path``) as str, and the encoding used: ``(text, encoding)``.
    ``what`` the file should be, for the messages: "transcript" or "table".

    Handles UTF-8 with or without BOM, UTF-16 with or without BOM (Word's and Notepad's
    "Unicode text"), and cp1252/latin-1 files from Word on Windows. Line endings become "\\n".

    Raises
    ------
    InputError
        For an empty or binary file, or a file that is not valid in the given encoding.
    """
    if not data.strip():
        raise InputError(
            "The file is empty", path=path, fix=f"Check that the {what} was saved, or remove it"
        )
    if encoding is not None:
        try:
            text = data.decode(encoding)
        except (UnicodeDecodeError, LookupError) as exc:
            raise InputError(
                f"The file cannot be read as {encoding} ({exc.__class__.__name__})",
                path=path,
                fix="Pass the right encoding, or leave it out to let themesift detect it",
            ) from None
    else:
        text, encoding = _detect_and_decode(data, path, what)
    text = text.lstrip("\ufeff").replace("\r\n", "\n").replace("\r", "\n")
    return text, encoding


def _detect_and_decode(data: bytes, path: Path, what: str = "transcript") -> tuple[str, str]:
    utf16 = _utf16_variant(data)
    if utf16 is not None:
        try:
            return data.decode(utf16), utf16
        except UnicodeDecodeError as exc:
            raise InputError(
                f"The file looks like UTF-16 text but byte {exc.start} cannot be read as UTF-16 "
                "(the file may be cut short or damaged)",
                path=path,
                fix="Open it in a text editor and save it again as UTF-8",
            ) from None
    head = data[:65536]
    control = sum(b < 32 and b not in (9, 10, 12, 13) for b in head)
    if b"\x00" in head or control > len(head) * 0.01:
        raise InputError(
            f"This looks like a binary file, not a {what}",
            path=path,
            fix=("Save the table as .csv or .xlsx and read that file" if what == "table" else
                 "Save the transcript as .txt, .docx, .vtt or .srt and read that file"),
        )
    for candidate in ("utf-8-sig", "cp1252", "latin-1"):
        try:
            return data.decode(candidate), candidate
        except UnicodeDecodeError:
            continue
    raise AssertionError("latin-1 decodes every byte string")  # pragma: no cover


def _utf16_variant(data: bytes) -> str | None:
    """"utf-16" for text with a UTF-16 byte-order mark, "utf-16-le"/"-be" for BOM-less UTF-16.

    Without a BOM, UTF-16 text in a Latin script has a zero byte in every other position
    (Notepad's and Word's "Unicode" without a signature); a binary file does not.
    """
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    head = data[:4096]
    pairs = len(head) // 2
    if pairs < 2:
        return None
    even, odd = head[0::2].count(0), head[1::2].count(0)
    if odd >= 0.9 * pairs and even <= 0.1 * pairs:
        return "utf-16-le"
    if even >= 0.9 * pairs and odd <= 0.1 * pairs:
        return "utf-16-be"
    return None


def content_hash(data: bytes | str) -> str:
    """sha256 of file content (str is hashed as UTF-8)."""
    if isinstance(data, str):
        data = data.encode("utf-8")
    return hashlib.sha256(data).hexdigest()


#: The longest speaker turn the readers accept, in characters (about 17,000 words, or two hours
#: of uninterrupted speech). A longer "turn" is a file whose speaker labels were not
#: recognised (one label, then everything else), and cutting it into meaning units would take
#: minutes for nothing, so it is refused with the line where it starts.
MAX_TURN_CHARS = 100_000


def check_turn_lengths(turns: Sequence[Turn], path: Path | str) -> None:
    """Refuse a transcript with a turn longer than :data:`MAX_TURN_CHARS` (see there)."""
    for turn in turns:
        if turn.end - turn.start > MAX_TURN_CHARS:
            raise InputError(
                f"The turn of {turn.speaker!r} is {turn.end - turn.start:,} characters long, "
                f"more than the {MAX_TURN_CHARS:,} a speaker turn can have",
                path=path,
                line=turn.line,
                fix="Check that every speaker is labelled (each turn on its own line starting with "
                "a label such as \"P3: ...\", or in captions a voice tag); hours of one person "
                "talking belong in several files",
            )


@dataclass
class LabelledLine:
    """A source line that may start a new turn: its speaker and where the words begin."""

    label: str
    speech_start: int  # offset within the line where the spoken words begin
    time: float | None
    #: "colon" ("Aoife: ..."), "only" (Otter's "Aoife  0:31" alone on a line), "tab"
    #: ("Aoife<TAB>...") or "bold" (a bold run without a colon in a .docx)
    form: str = "colon"
    opens: str = ""  # the first character of the words: a quotation mark in 'Patient: "You lot..."'
    #: the line before is words whose sentence goes on ("Mine said" / "Follow Up: GP in two
    #: weeks."): a one-off label here is words read out, not a speaker
    mid_sentence: bool = False
    #: written in brackets ("[Moderator]"): a label, maybe, but never suggested as one
    bracketed: bool = False


def match_label(line: str) -> LabelledLine | None:
    """Recognise a speaker label at the start of ``line``, or None."""
    m = _LABEL_LINE.match(line)
    if m:
        label = clean_label(m["blabel"] or m["label"] or "")
        if m["note"]:
            label = f"{label} ({clean_label(m['note'])})"
        ts = m["ts1"] or m["ts2"] or m["ts3"] or m["ts4"]  # "[Anna] 10:02:03", as Zoom writes it
        ts = ts and re.match(_TIMESTAMP, ts)[0]  # a stretch of time: when it starts
        if not _reads_as_label(label):
            return None
        if m["blabel"] and _is_annotation(label):
            return None
        # "Yes, exactly: ..." is speech; "Participant 3 (female, 40s)" a label with a note
        if "," in split_note(label)[0] and name_shape(label) is None:
            return None
        return LabelledLine(label, m.end(), parse_timestamp(ts) if ts else None,
                            opens=line[m.end():][:1], bracketed=bool(m["blabel"]))
    m = _MD_BOLD_LINE.match(line)
    if m and _reads_as_label(label := clean_label(m["label"])) and bold_may_be_label(label):
        return LabelledLine(label, m.end(), None, form="bold", opens=line[m.end():][:1])
    m = _LABEL_ONLY_LINE.match(line)
    if m and _reads_as_label(label := clean_label(m["label"])):
        return LabelledLine(label, len(line), parse_timestamp(m["ts1"]), form="only")
    m = _TAB_LABEL_LINE.match(line)
    if m and _reads_as_label(label := clean_label(m["label"])):
        return LabelledLine(label, m.end(), None, form="tab", opens=line[m.end():][:1])
    return None


def match_dash_label(line: str) -> LabelledLine | None:
    """A label and a dash at the start of ``line`` ("Participant 3 - For me..."), or None.

    Any label-like words before " - " match; only a role (:func:`is_dash_role`) is read as a
    speaker, and only where the file has no other labels (see ``parse_labelled_text``).
    """
    m = _DASH_LABEL_LINE.match(line)
    if not m or not _reads_as_label(label := clean_label(m["label"])):
        return None
    ts = m["ts1"] or m["ts2"]
    ts = ts and re.match(_TIMESTAMP, ts)[0]
    return LabelledLine(label, m.end(), parse_timestamp(ts) if ts else None, form="dash",
                        opens=line[m.end():][:1])


def bold_may_be_label(label: str) -> bool:
    """Whether words in bold at the start of a paragraph, without a colon, may be a speaker's
    label: a role ("P3", "Nurse 2", "Moderator") or a name ("Anna", "Maria Lopez"), not a word
    said with emphasis ("**Really** I mean it"). The file's other labels decide whether it is
    one (:func:`accepted_labels`)."""
    return _is_role(label) or (name_shape(label) is not None and not _is_common_word(label))


def is_dash_name(label: str) -> bool:
    """Whether a label before a dash may be a person's name ("Anna", "Maria Lopez", "KWAME"):
    one to three words, each capitalised, not a word that opens a sentence ("Honestly - no")
    nor a title or a note ("Note - ...")."""
    return (name_shape(label) is not None and len(label.split()) <= 3
            and not _is_common_word(label) and not _NOT_A_SPEAKER.match(label))


def _is_common_word(label: str) -> bool:
    return label.casefold() in _COMMON_WORDS


def is_dash_role(label: str) -> bool:
    """Whether a label before a dash is plainly a speaker's role ("Participant 3", "P1",
    "INT", "Interviewer"), so that "Participant 3 - words" is a turn."""
    return bool(_DASH_ROLE.match(label))


def time_mark(line: str) -> float | None:
    """The time of a line that is only a time mark ("[00:02:10]", "[00:02:10] [crosstalk]"),
    in seconds; None for any other line."""
    m = _TIME_MARK_LINE.match(line)
    if not m or not all(map(_is_annotation, re.findall(r"\[([^\[\]\n]*)\]", m["notes"]))):
        return None
    return parse_timestamp(re.match(_TIMESTAMP, m["time"])[0])


def end_marker(line: str) -> str | None:
    """Whether a line says the recording or transcript ends there, and how surely: "set
    apart" for words in capitals or set apart by a bracket or "***" before them ("[END OF
    RECORDING]", "END OF TRANSCRIPT", "[End]", "*** End of interview ***", "(Recording
    ends)"), a marker wherever it stands (a recording cut off mid-sentence ends so too);
    "plain" for such words opening with a capital and nothing else ("End of Transcript"),
    a marker only after a finished sentence (else it is a sentence wrapped onto a new line:
    "...towards the" / "End of the session."); None otherwise ("end of the session.")."""
    m = _END_MARKER.match(line)
    if not m:
        return None
    if m["words"].isupper() or _MARKER_OPENS.search(m["open"]):
        return "set apart"
    return "plain" if m["words"][0].isupper() else None


def is_end_marker(line: str) -> bool:
    """Whether a line surely ends the recording (:func:`end_marker` "set apart")."""
    return end_marker(line) == "set apart"


# How a line of words ends when its sentence does: a mark, maybe a closing quote or bracket.
_SENTENCE_END = re.compile(r"[.?!…:;,\-–—\"”’')\]]$")


def ends_sentence(words: str) -> bool:
    """Whether words end where a sentence may ("...again.", "...said:"), not mid-sentence
    ("...and keeping"): a label after words that do not is words read out, and a line that
    says the recording ends is words wrapped onto a new line. (Captions have their own rule.)"""
    return bool(_SENTENCE_END.search(words.rstrip()))


def _reads_as_label(label: str) -> bool:
    """Not empty, and not words of a sentence ("So the thing is: ...")."""
    return bool(label) and not (_SENTENCE_LIKE.search(label) and len(label.split()) > 2)


def _is_annotation(bracketed: str) -> bool:
    """A transcriber's note in brackets: "[laughs]", "[inaudible 00:00:24]", "[phone rings]"."""
    words = re.sub(_TIMESTAMP, " ", bracketed).strip(" \t-–—>")  # "[00:01 - 00:05]": times
    return (not words or words[0].islower() or bool(_NON_SPEECH.match(words))
            or is_end_marker(f"[{bracketed}]"))


def accepted_labels(candidates: Sequence[LabelledLine | str], *, header: bool = True) -> set[str]:
    """Which candidate labels, in the order they occur, are speakers.

    A label is a speaker if it occurs at least twice, or looks like one ("P3", "Nurse 2",
    "Moderator", "Anna (Host)") even when that person spoke once. A one-off label is also
    a speaker when it has the form of the file's other speakers: a person's name
    ("Aoife:") where others are labelled with names of the same form ("Siobhan:"), an
    Otter-style "Name  0:31" line where others are. One-off labels that are not names
    ("Date:", "So basically:"), words that open a title or a note ("Focus group 2:",
    "Transcriber:", "Note:", however often) and, with ``header``, any one-off before the first
    speaker's turn are not speakers. A one-off whose words open with a quotation mark is
    someone being quoted ('Patient: "You lot only come when..."'); a one-off name whose words
    open in lowercase is a list item or a phrase ("Training: nobody has had any").
    """
    cands = [LabelledLine(c, 0, None) if isinstance(c, str) else c for c in candidates]
    counts = Counter(c.label.casefold() for c in cands)

    def plain(c: LabelledLine) -> bool:
        if _NOT_A_SPEAKER.match(c.label):
            return False
        return counts[c.label.casefold()] >= 2 or c.opens not in _QUOTES and (
            bool(_SPEAKERISH.search(split_note(c.label)[0])) or is_moderator(c.label))

    sure = [plain(c) for c in cands]
    forms = {(c.form, name_shape(c.label)) for c, ok in zip(cands, sure) if ok and not _is_role(c.label)}
    otter = any(ok and c.form == "only" for c, ok in zip(cands, sure))
    first = sure.index(True) if header and True in sure else 0

    def alike(i: int, c: LabelledLine) -> bool:  # a one-off of the form of the file's speakers
        if not may_speak_once(c):
            return False
        if c.form == "only":
            return otter
        shape = name_shape(c.label)
        return i >= first and shape is not None and (c.form, shape) in forms

    return {c.label for i, c in enumerate(cands) if sure[i] or alike(i, c)}


def may_speak_once(c: LabelledLine) -> bool:
    """Whether a label used once may be a speaker's: not a title or a note ("Focus group 2:"),
    not someone quoted ('Patient: "You lot..."'), a phrase in lowercase ("Training: nobody")
    or words read out mid-sentence."""
    return not (_NOT_A_SPEAKER.match(c.label) or c.opens in _QUOTES or c.opens.islower()
                or c.mid_sentence)


def warn_labels_read_as_words(path: Path | str,
                              read_as_words: Sequence[tuple[LabelledLine, int, str]]) -> None:
    """Warn, once for the file, where a label used once that may be a person's ("Mary:") is
    read as words of the turn before it (as :func:`accepted_labels` rules), and say how to
    make it a speaker.

    ``read_as_words`` holds ``(label, line, speaker of the turn it is read into)`` for each
    label in the file that is not a speaker's. A note in brackets ("[Fire Alarm]") is never
    suggested as a label.
    """
    names = [(c, line, speaker) for c, line, speaker in read_as_words
             if name_shape(c.label) and may_speak_once(c) and not c.bracketed]
    if not names:
        return
    shown = names[:3]
    more = f" (and {len(names) - 3} more)" if len(names) > 3 else ""
    logger.warning(
        "%s, %s%s. If %s is a speaker, write the label as one that always is: 'Participant "
        "%s:' or an unused number such as 'P3:' (a name is a speaker where it is used twice, "
        "or where the file's other speakers are named the same way).", path,
        "; ".join(f"line {line}: '{c.label}{':' if c.form == 'colon' else ''}' is used once, "
                  f"so it is read as words of {speaker}'s turn" for c, line, speaker in shown),
        more, " or ".join(c.label for c, _, _ in shown), shown[0][0].label)


def build_turns(
    text: str,
    starts: Sequence[tuple[int, int, str, int | None, float | None]],
    moderator: Collection[str] | None,
    ends: Sequence[int] | None = None,
) -> tuple[Turn, ...]:
    """Turns from where each one's words start in ``text``.

    ``starts`` holds ``(speech_start, next_boundary, speaker, line, time)``: a turn's words run
    from ``speech_start`` to just before ``next_boundary`` (where the next label begins, or
    the end of the text), trimmed of surrounding whitespace. Turns with no words are skipped,
    and a speaker's consecutive turns stay separate (the transcriber split them for a reason).
    """
    turns: list[Turn] = []
    for i, (begin, stop, speaker, line, time) in enumerate(starts):
        chunk = text[begin:stop]
        lead = len(chunk) - len(chunk.lstrip())
        body = chunk.strip()
        if not body:
            continue
        start = begin + lead
        end_time = ends[i] if ends is not None else None
        turns.append(
            Turn(
                index=len(turns),
                speaker=speaker,
                role="moderator" if is_moderator(speaker, moderator) else "participant",
                start=start,
                end=start + len(body),
                text=body,
                line=line,
                time_start=time,
                time_end=end_time,
            )
        )
    return tuple(turns)
