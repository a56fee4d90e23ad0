"""Speaker-labelled plain text (.txt) and Markdown (.md) transcripts."""

from __future__ import annotations

import dataclasses
import logging
from collections import Counter
from collections.abc import Collection, Mapping, Sequence
from pathlib import Path

from ..errors import InputError
from ..model import Transcript
from ._common import (LabelledLine, accepted_labels, build_turns, check_turn_lengths, content_hash, decode_bytes,
                      end_marker, ends_sentence, is_dash_name, is_dash_role, match_dash_label, match_label,
                      may_speak_once, time_mark, warn_labels_read_as_words)

logger = logging.getLogger(__name__)

EXPECTED_FORMAT = (
    'Start each turn on a new line with the speaker\'s label and a colon, e.g. "P3: I think..." '
    'or "Moderator: What helps?" ("[P3]" and "**P3:**" work too)'
)


def read_text(
    path: Path,
    *,
    moderator: Collection[str] | None = None,
    encoding: str | None = None,
) -> Transcript:
    """Read a speaker-labelled .txt or .md transcript.

    A turn starts at a line that begins with a speaker label and runs until the next one, so
    unlabelled paragraphs continue the previous speaker's turn. Lines before the first turn
    (title, date, notes) are kept in ``meta["header"]``; a line that ends the recording
    ("[END OF RECORDING]", "END OF TRANSCRIPT") and what follows it (the transcription
    company's closing lines) in ``meta["footer"]``.

    Raises
    ------
    InputError
        If the file is empty, binary, has no recognisable speaker turns, or has a turn longer
        than ``MAX_TURN_CHARS`` (100,000 characters).
    """
    data = path.read_bytes()
    text, used_encoding = decode_bytes(data, path, encoding)
    return parse_labelled_text(
        text,
        doc_id=path.stem,
        path=path,
        moderator=moderator,
        meta={"format": path.suffix.lstrip(".").lower(), "encoding": used_encoding,
              "sha256": content_hash(data)},
    )


def parse_labelled_text(
    text: str,
    *,
    doc_id: str,
    path: Path,
    moderator: Collection[str] | None = None,
    meta: dict | None = None,
    labels: Mapping[int, LabelledLine | None] | None = None,
) -> Transcript:
    """Turns from text whose lines start with speaker labels (shared by the .txt and .docx readers).

    ``labels`` gives, by line number, what the text alone does not show: a label the .docx
    reader saw in bold, or None for a line that is never a turn (a heading).

    A turn runs until the next speaker's label, a line that is only a time mark between
    paragraphs ("[00:02:10] [crosstalk]": no one's words; the speaker's words after it are a
    turn of their own, from that time) or the end of the recording ("[END OF RECORDING]":
    that line and the rest are ``meta["footer"]``, unless the file's speakers talk again after it).
    """
    labels = labels or {}
    lines = text.split("\n")
    found_at = [labels[n] if n in labels else match_label(line) for n, line in enumerate(lines, start=1)]
    _read_dash_labels(lines, found_at, labels, path)
    lines = lines[:_footer_start(lines, found_at, labels)]
    candidates: list[tuple[int, int, str, int, float | None]] = []  # (line_start, speech, label, line_no, time)
    found_labels: list[LabelledLine] = []
    marks: list[tuple[int, int, int, float]] = []  # lone time marks: (line_start, line_end, line_no, time)
    offset = 0
    open_words = False  # the line before is words whose sentence goes on ("Mine said")
    for line_no, line in enumerate(lines, start=1):
        found = found_at[line_no - 1]
        heading = line_no in labels and found is None  # a .docx heading ends any sentence
        if found is not None:
            if open_words:
                found = dataclasses.replace(found, mid_sentence=True)
            candidates.append((offset, offset + found.speech_start, found.label, line_no, found.time))
            found_labels.append(found)
        elif not heading and not open_words and (time := time_mark(line)) is not None:
            marks.append((offset, offset + len(line), line_no, time))
        words = (line if found is None else line[found.speech_start:]).rstrip()
        open_words = bool(words) and not heading and not ends_sentence(words)
        offset += len(line) + 1
    talk_end = min(offset, len(text))  # where the footer starts, or the end of the text

    speakers = accepted_labels(found_labels)
    starts = [c for c in candidates if c[2] in speakers]
    if not starts:
        raise InputError("No speaker turns found", path=path, fix=_expected_format(lines))
    starts = _with_time_marks(starts, marks)

    bounds = [s[0] for s in starts[1:]] + [talk_end]
    turns = build_turns(
        text,
        [(speech, stop, label, line_no, time)
         for (_, speech, label, line_no, time), stop in zip(starts, bounds)],
        moderator,
    )
    if not turns:
        raise InputError("Speaker labels were found but no turn has any words",
                         path=path, line=starts[0][3], fix=EXPECTED_FORMAT)
    # a turn after a time mark starts on the line of its first words
    turns = tuple(t if t.line is not None else dataclasses.replace(t, line=text.count("\n", 0, t.start) + 1)
                  for t in turns)
    check_turn_lengths(turns, path)
    speaker, read_as_words = None, []
    for (_, _, label, line_no, _), found in zip(candidates, found_labels):
        if label in speakers:
            speaker = label
        elif speaker is not None:  # after the header: words of the turn before
            read_as_words.append((found, line_no, speaker))
    warn_labels_read_as_words(path, read_as_words)
    header = text[: starts[0][0]].strip()
    footer = text[talk_end:].strip()
    return Transcript(doc_id, text, turns,
                      {**(meta or {}), "path": str(path), "header": header, "footer": footer})


def _footer_start(lines: Sequence[str], found_at: Sequence[LabelledLine | None],
                  labels: Mapping[int, LabelledLine | None]) -> int | None:
    """The index of the line that ends the recording ("[END OF RECORDING]"), where what follows
    is no one's talk (a duration, the company's address); None if there is none, or if the
    file's speakers talk again after it (a recording in two parts). A marker in plain words
    right after words whose sentence goes on ("...especially towards the" / "End of the
    session.") is those words wrapped onto a new line, not the end (:func:`end_marker`)."""
    for i, line in enumerate(lines):
        kind = None if found_at[i] is not None else end_marker(line)
        if kind is None:
            continue
        heading = i in labels and labels[i] is None  # the line before is a .docx heading
        if kind == "plain" and i and not heading:
            prev = found_at[i - 1]
            words = (lines[i - 1] if prev is None else lines[i - 1][prev.speech_start:]).rstrip()
            if words and not ends_sentence(words):
                continue
        before = accepted_labels([f for f in found_at[:i] if f is not None])
        if before and not any(f is not None and f.label in before for f in found_at[i + 1:]):
            return i
    return None


def _read_dash_labels(lines: Sequence[str], found_at: list[LabelledLine | None],
                      labels: Mapping[int, LabelledLine | None], path: Path) -> None:
    """Read "Participant 3 - words" lines as turns (in ``found_at``) where the file labels its
    speakers that way: a role before the dash ("Participant 3", "P1", "Interviewer") on at
    least two lines, and no other label a speaker's. Then a name before a dash on two lines or
    more ("Anna - ", "Maria Lopez - ") is a speaker too; a word ("Honestly - "), or a name
    used once, before a dash is speech (the name is warned about, with its line)."""
    if accepted_labels([f for f in found_at if f is not None]):
        return
    dashed = {i: found for i, line in enumerate(lines)
              if found_at[i] is None and i + 1 not in labels
              and (found := match_dash_label(line)) is not None}
    if sum(is_dash_role(found.label) for found in dashed.values()) < 2:
        return
    counts = Counter(found.label for found in dashed.values())
    once = []
    for i, found in dashed.items():
        if is_dash_role(found.label) or (counts[found.label] >= 2 and is_dash_name(found.label)):
            found_at[i] = found
        elif is_dash_name(found.label) and may_speak_once(found):
            once.append((i + 1, found.label))
    if once:
        logger.warning(
            "%s, %s. If %s is a speaker, write the label as a role on their line, such as an "
            "unused number: 'P5 - ' (a name before a dash is a speaker where it is on two lines "
            "or more).",
            path, "; ".join(f"line {line}: '{label} - ' is used once, so it is read as words of "
                            "the turn before" for line, label in once[:3])
            + (f" (and {len(once) - 3} more)" if len(once) > 3 else ""),
            " or ".join(label for _, label in once[:3]))


def _with_time_marks(starts: list[tuple[int, int, str, int, float | None]],
                     marks: Sequence[tuple[int, int, int, float]]) -> list[tuple]:
    """``starts`` with a boundary at each lone time mark inside a turn: the turn's words stop
    before it, and the same speaker's words after it (if any) are a turn from that time. The
    turn's line is left None, to be the line of its first words."""
    if not marks:
        return starts
    merged = sorted([*starts, *((begin, end, None, line_no, time) for begin, end, line_no, time in marks
                               if begin > starts[0][0])], key=lambda s: s[0])
    speaker = None
    for i, (begin, speech, label, line_no, time) in enumerate(merged):
        if label is not None:
            speaker = label
        else:
            merged[i] = (begin, speech, speaker, None, time)
    return merged


def _expected_format(lines: Sequence[str]) -> str:
    """What to change where no speaker turn is found: the general rule, or, where the lines
    look like "Anna - words", to write a colon after the label instead of the dash."""
    dashed = Counter(found.label for line in lines if (found := match_dash_label(line)) is not None)
    label, count = dashed.most_common(1)[0] if dashed else ("", 0)
    if count < 2:
        return EXPECTED_FORMAT
    return (f'Lines such as "{label} - ..." look like a speaker\'s label followed by " - ": '
            f'replace " - " after each label with ": " ("{label}: ..."), then read the file again')
