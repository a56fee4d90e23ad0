"""Speaker-labelled plain text (.txt) and Markdown (.md) transcripts."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Collection, Mapping
from pathlib import Path

from ..errors import InputError
from ..model import Transcript
from ._common import (LabelledLine, accepted_labels, build_turns, check_turn_lengths, content_hash, decode_bytes,
                      match_label, warn_labels_read_as_words)

# How a line of words ends when its sentence does: a mark, maybe a closing quote or bracket.
_SENTENCE_END = re.compile(r"[.?!…:;,\-–—\"”’')\]]$")

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
    (title, date, notes) are kept in ``meta["header"]``.

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
    """
    labels = labels or {}
    candidates: list[tuple[int, int, str, int, float | None]] = []  # (line_start, speech, label, line_no, time)
    found_labels: list[LabelledLine] = []
    offset = 0
    open_words = False  # the line before is words whose sentence goes on ("Mine said")
    for line_no, line in enumerate(text.split("\n"), start=1):
        found = labels[line_no] if line_no in labels else match_label(line)
        if found is not None:
            if open_words:
                found = dataclasses.replace(found, mid_sentence=True)
            candidates.append((offset, offset + found.speech_start, found.label, line_no, found.time))
            found_labels.append(found)
        words = (line if found is None else line[found.speech_start:]).rstrip()
        heading = line_no in labels and found is None  # a .docx heading ends any sentence
        open_words = bool(words) and not heading and not _SENTENCE_END.search(words)
        offset += len(line) + 1

    speakers = accepted_labels(found_labels)
    starts = [c for c in candidates if c[2] in speakers]
    if not starts:
        raise InputError("No speaker turns found", path=path, fix=EXPECTED_FORMAT)

    bounds = [s[0] for s in starts[1:]] + [len(text)]
    turns = build_turns(
        text,
        [(speech, stop, label, line_no, time)
         for (_, speech, label, line_no, time), stop in zip(starts, bounds)],
        moderator,
    )
    if not turns:
        raise InputError("Speaker labels were found but no turn has any words",
                         path=path, line=starts[0][3], fix=EXPECTED_FORMAT)
    check_turn_lengths(turns, path)
    speaker, read_as_words = None, []
    for (_, _, label, line_no, _), found in zip(candidates, found_labels):
        if label in speakers:
            speaker = label
        elif speaker is not None:  # after the header: words of the turn before
            read_as_words.append((found, line_no, speaker))
    warn_labels_read_as_words(path, read_as_words)
    header = text[: starts[0][0]].strip()
    return Transcript(doc_id, text, turns, {**(meta or {}), "path": str(path), "header": header})
