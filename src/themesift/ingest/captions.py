"""Caption files from video calls and transcription services: WebVTT (.vtt) and SubRip (.srt)."""

from __future__ import annotations

import html
import re
from collections.abc import Collection
from dataclasses import dataclass
from pathlib import Path

from ..errors import InputError
from ..model import Transcript, Turn
from ..text import short_words
from ._common import (LabelledLine, accepted_labels, check_turn_lengths, clean_label, content_hash, decode_bytes,
                      is_moderator, match_label, may_speak_once, parse_timestamp,
                      warn_labels_read_as_words)

_TIMING = re.compile(
    r"^\s*(?P<start>(?:\d+:)?\d{1,2}:\d{2}[.,]\d{1,3})\s*-->\s*(?P<end>(?:\d+:)?\d{1,2}:\d{2}[.,]\d{1,3})"
)
# A voice tag, with the dialogue dash that may mark it one speaker of two ("- <v Jo>...").
_VOICE = re.compile(r"(?:^[-–—][ \t]+)?<v(?:\.[\w.-]+)?[ \t]+([^>]+)>", re.MULTILINE)
# Markup, not words: HTML-like tags ("<i>", "<font color=...>", "<00:00:01.500>") and the
# position and style overrides of SubStation Alpha that SRT files carry ("{\\an8}", "{\\i1}").
_TAG = re.compile(r"</?[a-zA-Z][^>]*>|<\d{1,2}:\d{2}[^>]*>|\{\\[^{}\n]*\}")
_SPEAKER_SEPARATOR = ": "
# How a cue ends when its sentence does: ".", "?" or "!", maybe a closing quote or bracket after
# it. A comma, a dash or an ellipsis ("…", "...") at the end of a cue means the sentence goes on
# in the next.
_CUE_SENTENCE_END = re.compile(r"(?<!\.)[.?!][\"”’')\]]*$")
# Transcriber's notes at the end of a cue ("...everyone safe. [laughs]"): no words of the sentence.
_TRAILING_NOTES = re.compile(r"(?:[ \t]*(?:\[[^\[\]]*\]|\([^()]*\)))+[ \t]*$")


@dataclass
class _Cue:
    line: int
    start: float
    end: float
    speaker: str | None
    words: str
    voiced: bool = False  # the speaker comes from a voice tag, which is always a speaker
    dashed: bool = False  # the label follows a dialogue dash ("- JO: "): a speaker, if a person


def read_captions(
    path: Path,
    *,
    moderator: Collection[str] | None = None,
    encoding: str | None = None,
) -> Transcript:
    """Read a .vtt or .srt caption file as a transcript.

    The speaker of a cue comes from a WebVTT voice tag (``<v Nurse 2>``, as Teams and Zoom
    export; a cue with several voices is one piece per voice) or a label at the start of the
    cue ("INTERVIEWER: ..."; after a dialogue dash, "- JO: ...", a speaker unless the label is
    no person's, "- Note: ..."); a cue
    without either continues the previous speaker. Consecutive cues of one speaker become one turn with the
    first cue's start time and the last cue's end time; so do a speaker's cues on either side
    of another's back-channel ("Mm.") said while their sentence went on (the back-channel is
    a turn after theirs). The transcript text is rendered as
    "Speaker: words" per turn, turns separated by a blank line.

    Raises
    ------
    InputError
        If the file is empty or binary, has no cues, a cue timing that is not a time or ends
        before it starts, no cue that names a speaker, or a turn longer than
        ``MAX_TURN_CHARS``.
    """
    data = path.read_bytes()
    text, used_encoding = decode_bytes(data, path, encoding)
    cues = _parse_cues(text, path)
    if not cues:
        raise InputError(
            "No caption cues found",
            path=path,
            fix='A cue is a timing line such as "00:00:01.000 --> 00:00:04.000" followed by its '
            "text; check that this is a caption file",
        )
    labelled = [c for c in cues if c.speaker and not c.voiced]
    speakers = accepted_labels([_labelled(c) for c in labelled], header=False)
    # after a dialogue dash a label is a speaker's, unless it is no person's ("- Note: ...")
    speakers |= {c.speaker for c in labelled if c.dashed and may_speak_once(_labelled(c))}
    current: str | None = None
    read_as_words = []
    for cue in cues:
        if cue.voiced or cue.speaker in speakers:
            current = cue.speaker
        elif cue.speaker:  # a one-off "label" such as "NOTE:" is part of the words
            if current is not None:
                read_as_words.append((_labelled(cue), cue.line, current))
            cue.words = f"{cue.speaker}: {cue.words}"
        cue.speaker = current
    if current is None:
        raise InputError(
            "No cue names a speaker, so turns cannot be told apart",
            path=path,
            line=cues[0].line,
            fix="Export the captions with speaker names (Teams and Zoom: include speaker names), "
            'or start cues with a label such as "P3: ..."',
        )

    merged = _turns_of_cues([c for c in cues if c.speaker is not None and c.words])

    parts: list[str] = []
    turns: list[Turn] = []
    offset = 0
    for cue in merged:
        prefix = f"{cue.speaker}{_SPEAKER_SEPARATOR}"
        start = offset + len(prefix)
        turns.append(Turn(
            index=len(turns), speaker=cue.speaker, role="moderator" if is_moderator(cue.speaker, moderator) else "participant",
            start=start, end=start + len(cue.words), text=cue.words, line=cue.line,
            time_start=cue.start, time_end=cue.end,
        ))
        parts.append(prefix + cue.words)
        offset += len(parts[-1]) + 2
    check_turn_lengths(turns, path)
    warn_labels_read_as_words(path, read_as_words)
    return Transcript(
        path.stem,
        "\n\n".join(parts),
        tuple(turns),
        {"path": str(path), "format": path.suffix.lstrip(".").lower(), "encoding": used_encoding,
         "sha256": content_hash(data), "header": ""},
    )


def _turns_of_cues(cues: list[_Cue]) -> list[_Cue]:
    """Consecutive cues of one speaker joined into one (a turn). Another speaker's back-channel
    ("Mm.") between two cues of a speaker whose sentence goes on ("...and keeping" / "Mm." /
    "everyone safe.") does not cut the sentence: it becomes a turn of its own after the
    sentence's turn."""
    merged: list[_Cue] = []
    held: list[_Cue] = []  # back-channels said inside the last turn's sentence, placed after it
    for i, cue in enumerate(cues):
        last = merged[-1] if merged else None
        if last is not None and last.speaker == cue.speaker:
            _add(merged, cue)
            continue
        if (last is not None and not _ends_sentence(last.words) and _is_back_channel(cue.words)
                and _speaks_next(cues, i, last.speaker)):
            held.append(cue)
            continue
        for back_channel in held:  # the next cue was not said right after them: a turn of its own
            _add(merged, back_channel)
        held = []
        _add(merged, cue)  # one turn with the back-channel before it if its speaker's
    for back_channel in held:
        _add(merged, back_channel)
    return merged


def _add(merged: list[_Cue], cue: _Cue) -> None:
    """``cue`` at the end of ``merged``: joined to the last turn if its speaker's, else a turn."""
    last = merged[-1] if merged else None
    if last is not None and last.speaker == cue.speaker:
        last.words += " " + cue.words
        last.end = max(last.end, cue.end)  # cues may overlap or come out of order
    else:
        merged.append(_Cue(cue.line, cue.start, cue.end, cue.speaker, cue.words))


def _ends_sentence(words: str) -> bool:
    """Whether a cue's words end a sentence: with ".", "?" or "!" (a closing quote or bracket,
    and transcriber's notes, may follow). Not ``_common.ends_sentence``, the text reader's rule
    for words before a label, where a comma or a dash may end a line of speech: in a caption,
    "...and keeping," goes on in the speaker's next cue."""
    words = _TRAILING_NOTES.sub("", words)
    return not words.strip() or bool(_CUE_SENTENCE_END.search(words.rstrip()))


def _speaks_next(cues: list[_Cue], i: int, speaker: str) -> bool:
    """Whether ``speaker`` has the next cue after the back-channels from ``cues[i]`` on."""
    for cue in cues[i:]:
        if cue.speaker == speaker:
            return True
        if not _is_back_channel(cue.words):
            return False
    return False


def _is_back_channel(words: str) -> bool:
    """A cue that does not take the floor from a speaker in mid-sentence: three words at most
    (transcriber's notes aside), one content word at most ("Mm.", "Sure.", "Right, yeah.",
    "Yes, exactly.", "[laughs]"). Not ``segment.is_backchannel``, the units' rule: segment is
    a layer above the readers, and a reply as short as this inside another's sentence is said
    over it, whatever its words."""
    short = short_words(words, 3)
    return short is not None and len(short[1]) <= 1


def _labelled(cue: _Cue) -> LabelledLine:
    return LabelledLine(cue.speaker, 0, None, opens=cue.words[:1])


def _parse_cues(text: str, path: Path) -> list[_Cue]:
    lines = text.split("\n")
    cues: list[_Cue] = []
    i = 0
    while i < len(lines):
        m = _TIMING.match(lines[i])
        if not m:
            i += 1
            continue
        line_no = i + 1
        start, end = (_cue_time(m[part], lines[i], path, line_no) for part in ("start", "end"))
        if end < start:
            raise InputError(f"The cue {lines[i].strip()!r} ends before it starts", path=path,
                             line=line_no, fix="Correct the timing so that the end comes after the start")
        body: list[str] = []
        i += 1
        while i < len(lines) and lines[i].strip() and not _TIMING.match(lines[i]):
            body.append(lines[i])
            i += 1
        # Cues not parted by a blank line: an SRT cue number (or a VTT cue id of digits) just
        # before the next timing line is not speech; other lines there are.
        if body and i < len(lines) and _TIMING.match(lines[i]) and body[-1].strip().isdigit():
            body.pop()
        cues.extend(_Cue(line_no, start, end, *piece) for piece in _cue_voices(body))
    return cues


def _cue_time(value: str, line: str, path: Path, line_no: int) -> float:
    """Seconds of a cue timestamp; minutes and seconds past 59 are a broken timing."""
    *_, minutes, seconds = value.replace(",", ".").split(":")
    if int(minutes) > 59 or float(seconds) >= 60:
        raise InputError(f"Cannot read the cue timing {line.strip()!r}: {value!r} is not a time",
                         path=path, line=line_no,
                         fix='Write timings as "00:01:02.500 --> 00:01:05.000" (minutes and '
                         "seconds below 60)")
    return parse_timestamp(value)


def _cue_voices(body: list[str]) -> list[tuple[str | None, str, bool, bool]]:
    """A cue's ``(speaker, words, voiced, dashed)`` pieces: one per voice tag, and the words
    before the first: with the speaker of a "NAME: " label at their start, if any, and a piece
    of its own for each later line that opens with a dialogue dash and a label ("- SAM:
    Never.", ``dashed``) or with a moderator's or a numbered participant's label
    ("Interviewer: And then?", "P2:")."""
    before, *voices = _VOICE.split("\n".join(body))
    lines = [html.unescape(_TAG.sub("", raw)).strip() for raw in before.split("\n")]
    pieces: list[tuple[str | None, str, bool, bool]] = []
    speaker, words, dashed = None, [], False
    for number, line in enumerate(line for line in lines if line):
        bare = _DIALOGUE_DASH.sub("", line)
        found, dash = match_label(bare), bare != line
        if found is not None and (number == 0 or dash or is_moderator(found.label)
                                  or _NUMBERED.match(found.label)):
            if words or speaker is not None:
                pieces.append((speaker, _words(" ".join(words)), False, dashed))
            speaker, words, dashed = found.label, [bare[found.speech_start:]], dash
        else:
            words.append(line)
    if words or speaker is not None:
        pieces.append((speaker, _words(" ".join(words)), False, dashed))
    for name, words in zip(voices[::2], voices[1::2]):
        pieces.append((clean_label(name), _words(html.unescape(_TAG.sub("", words))), True, False))
    return pieces


_DIALOGUE_DASH = re.compile(r"^[-–—][ \t]+")  # "- JO: ...": one speaker of two in a cue
_NUMBERED = re.compile(r"^[^\W\d_]{1,12}[ _\t]?\d{1,3}$")  # "P2", "Speaker 3", "SPEAKER_01"


def _words(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()
