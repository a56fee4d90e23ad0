"""What the readers share: decoding files, recognising speaker labels, building turns."""

from __future__ import annotations

import codecs
import hashlib
import re
from collections import Counter
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from pathlib import Path

from ..errors import InputError
from ..model import Turn

#: Speaker names that mark the person running the group, matched case-insensitively
#: against the label with digits and punctuation removed.
MODERATOR_NAMES = frozenset(
    {
        "moderator", "mod", "interviewer", "int", "i", "facilitator", "researcher", "host",
        "chair", "q", "question", "co moderator", "comoderator", "assistant moderator",
        "note taker", "observer",
    }
)

# Labels that are plainly speakers even when they speak only once.
_SPEAKERISH = re.compile(
    r"^(p|r|fg|participant|respondent|interviewee|speaker|person|member|staff|nurse|doctor|"
    r"dr|psychiatrist|psychologist|therapist|social worker|peer worker|support worker|"
    r"worker|manager|user|client|patient|carer)\b|\d$",
    re.IGNORECASE,
)

_TIMESTAMP = r"\d{1,2}:\d{2}(?::\d{2})?(?:[.,]\d{1,3})?"
# A speaker label at the start of a line, in the forms transcribers use:
#   "P3: text", "Nurse 2: text", "INTERVIEWER: text", "**P3:** text", "[00:01:02] P3: text",
#   "P3 (00:01:02): text", "P3 [00:01:02]: text", "[Moderator] text", "[Moderator]: text".
_LABEL_LINE = re.compile(
    rf"""^[ \t]*
    (?:[\[(]?(?P<ts1>{_TIMESTAMP})[\])]?[ \t]+)?            # optional leading timestamp
    (?:
        \[(?P<blabel>[^\]\n]{{1,40}})\][ \t]*:?              # [Label]
      | (?P<md>\*\*|__)?(?P<label>[^\W\d_][\w .'’&/-]{{0,38}}?)(?P=md)?   # Label / **Label**
        [ \t]*(?:[\[(](?P<ts2>{_TIMESTAMP})[\])])?[ \t]*     # optional (timestamp)
        (?:\*\*|__)?:(?:\*\*|__)?                           # the colon, maybe inside bold
    )
    (?=[ \t]|$)[ \t]*""",
    re.VERBOSE,
)
# A line that is only a label and a timestamp, with the words on the next lines
# (Otter.ai and Teams .docx exports): "Speaker 1  0:03", "Nurse 2   00:01:12".
_LABEL_ONLY_LINE = re.compile(
    rf"^[ \t]*(?P<label>[^\W\d_][\w .'’&/-]{{0,38}}?)[ \t]+(?P<ts1>{_TIMESTAMP})[ \t]*$"
)
_SENTENCE_LIKE = re.compile(r"\b(the|and|that|is|was|we|it|you|to)\b", re.IGNORECASE)
# Transcribers' notes in brackets ("[laughs] Honestly, ..."): sounds, not speaker labels.
_NON_SPEECH = re.compile(
    r"^(laugh\w*|chuckl\w*|sigh\w*|cough\w*|pause\w*|silence|inaudible|unclear|crosstalk|"
    r"overlapping|applause|music|noise|background\b.*|long pause|laughter)$", re.IGNORECASE)


def clean_label(label: str) -> str:
    """A speaker label without surrounding markup and whitespace, inner spaces collapsed."""
    label = re.sub(r"[*_\[\]]", "", label)
    return re.sub(r"\s+", " ", label).strip(" \t:-")


def is_moderator(speaker: str, moderator: Collection[str] | None = None) -> bool:
    """Whether a speaker label names the moderator (by the given names, else by role words)."""
    key = speaker.casefold()
    if moderator:
        return key in {m.casefold().strip() for m in moderator}
    words = re.sub(r"[^a-z ]+", " ", key).split()
    return " ".join(words) in MODERATOR_NAMES or (bool(words) and words[0] in MODERATOR_NAMES
                                                  and len(words) <= 2 and words[0] != "i")


def parse_timestamp(value: str) -> float:
    """Seconds from "HH:MM:SS.mmm", "MM:SS", "H:MM:SS,mmm" and similar."""
    value = value.replace(",", ".")
    seconds = 0.0
    for part in value.split(":"):
        seconds = seconds * 60 + float(part)
    return seconds


def read_text_file(path: Path, encoding: str | None = None) -> tuple[str, str]:
    """Read a text file as str, returning ``(text, encoding)``.

    Handles UTF-8 with or without BOM, UTF-16 with or without BOM (Word's and Notepad's
    "Unicode text"), and cp1252/latin-1 files from Word on Windows. Line endings become "\\n".

    Raises
    ------
    InputError
        For an empty or binary file, or a file that is not valid in the given encoding.
    """
    data = path.read_bytes()
    return decode_bytes(data, path, encoding)


def decode_bytes(data: bytes, path: Path, encoding: str | None = None) -> tuple[str, str]:
    """Decode file content; see :func:`read_text_file`."""
    if not data.strip():
        raise InputError(
            "The file is empty", path=path, fix="Check that the transcript was saved, or remove it"
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
        text, encoding = _detect_and_decode(data, path)
    text = text.lstrip("\ufeff").replace("\r\n", "\n").replace("\r", "\n")
    return text, encoding


def _detect_and_decode(data: bytes, path: Path) -> tuple[str, str]:
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
            "This looks like a binary file, not a transcript",
            path=path,
            fix="Save the transcript as .txt, .docx, .vtt or .srt and read that file",
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
    """A source line that starts a new turn: its speaker and where the words begin."""

    label: str
    speech_start: int  # offset within the line where the spoken words begin
    time: float | None


def match_label(line: str) -> LabelledLine | None:
    """Recognise a speaker label at the start of ``line``, or None."""
    m = _LABEL_LINE.match(line)
    if m:
        label = clean_label(m["blabel"] or m["label"] or "")
        ts = m["ts1"] or m["ts2"]
        if not label or _SENTENCE_LIKE.search(label) and len(label.split()) > 2:
            return None
        if m["blabel"] and _NON_SPEECH.match(label):
            return None
        return LabelledLine(label, m.end(), parse_timestamp(ts) if ts else None)
    m = _LABEL_ONLY_LINE.match(line)
    if m:
        label = clean_label(m["label"])
        if label and not (_SENTENCE_LIKE.search(label) and len(label.split()) > 2):
            return LabelledLine(label, len(line), parse_timestamp(m["ts1"]))
    return None


def accepted_labels(candidates: Sequence[str]) -> set[str]:
    """Which candidate labels are speakers.

    A label is a speaker if it occurs at least twice, or looks like one ("P3", "Nurse 2",
    "Moderator") even when that person spoke once. One-off labels such as "Date:" or
    "Note:" in a header are not speakers.
    """
    counts = Counter(c.casefold() for c in candidates)
    return {
        c
        for c in candidates
        if counts[c.casefold()] >= 2 or _SPEAKERISH.search(c) or is_moderator(c)
    }


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
