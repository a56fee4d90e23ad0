"""Word (.docx) transcripts: one paragraph (or table row) per turn."""

from __future__ import annotations

from collections.abc import Collection
from pathlib import Path

from ..errors import InputError
from ..model import Transcript
from ._common import clean_label, content_hash, match_label
from .text import parse_labelled_text

_MAX_LABEL = 40
_TABLE_HEADERS = {"text", "utterance", "transcript", "speech", "content", "what was said"}


def read_docx(
    path: Path,
    *,
    moderator: Collection[str] | None = None,
    encoding: str | None = None,  # noqa: ARG001 - a .docx carries its own encoding
) -> Transcript:
    """Read a .docx transcript.

    Speaker labels are recognised as a "Name:" prefix or as a bold run at the start of a
    paragraph (with or without a colon). A two-column table of speaker and words (as some
    transcription services deliver) works too. The transcript text is the document's
    paragraphs joined by newlines, with ": " after bold labels that had no colon.

    Raises
    ------
    InputError
        If the file is empty, not a valid .docx, or has no recognisable speaker turns.
    """
    from docx import Document  # python-docx; imported here to keep `import themesift` fast

    data = path.read_bytes()
    if not data:
        raise InputError("The file is empty", path=path,
                         fix="Check that the transcript was saved, or remove it")
    try:
        text = "\n".join(_document_lines(Document(str(path))))
    except Exception as exc:  # noqa: BLE001 - a damaged .docx makes zipfile, lxml or python-docx fail in many ways
        raise InputError(
            f"This is not a readable Word .docx file ({exc.__class__.__name__})",
            path=path,
            fix='Open it in Word and use "Save as" .docx, or export the transcript as .txt',
        ) from None
    return parse_labelled_text(
        text,
        doc_id=path.stem,
        path=path,
        moderator=moderator,
        meta={"format": "docx", "encoding": None, "sha256": content_hash(data)},
    )


def _document_lines(document) -> list[str]:
    lines: list[str] = []
    for block in document.iter_inner_content():
        if hasattr(block, "rows"):  # a table
            lines.extend(_table_lines(block))
        else:
            lines.append(_paragraph_line(block))
    return lines


def _paragraph_line(paragraph) -> str:
    """The paragraph's text, with a colon after a bold speaker label that lacks one."""
    text = paragraph.text
    bold = ""
    for run in paragraph.runs:
        if not run.bold:
            break
        bold += run.text
    label = clean_label(bold)
    rest = text[len(bold):]
    if (
        label
        and len(label) <= _MAX_LABEL
        and rest.strip()
        and not bold.rstrip().endswith(":")
        and not rest.lstrip().startswith(":")
        and match_label(label + ":") is not None
    ):
        return f"{label}: {rest.lstrip()}"
    return text


def _table_lines(table) -> list[str]:
    lines = []
    for row in table.rows:
        cells = list(dict.fromkeys(c.text.strip() for c in row.cells))  # merged cells repeat
        if len(cells) < 2 or not cells[-1]:
            lines.extend(c for c in cells if c)
            continue
        label, words = clean_label(cells[0]), cells[-1]
        if words.casefold() in _TABLE_HEADERS:
            continue
        if label and len(label) <= _MAX_LABEL and "\n" not in label:
            lines.append(f"{label}: {words}")
        else:
            lines.append(" ".join(cells))
    return lines
