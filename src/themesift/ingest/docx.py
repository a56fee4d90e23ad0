"""Word (.docx) transcripts: one paragraph (or table row) per turn."""

from __future__ import annotations

from collections.abc import Collection
from pathlib import Path

from ..errors import InputError
from ..model import Transcript
from ._common import TIME_ONLY, LabelledLine, bold_may_be_label, clean_label, content_hash, match_label
from .text import parse_labelled_text

_MAX_LABEL = 40
_HEADING = "heading"  # a heading or title paragraph: never a turn
_OLE_SIGNATURE = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
_TABLE_HEADERS = {"text", "utterance", "transcript", "speech", "content", "what was said"}


def read_docx(
    path: Path,
    *,
    moderator: Collection[str] | None = None,
    encoding: str | None = None,  # noqa: ARG001 - a .docx carries its own encoding
) -> Transcript:
    """Read a .docx transcript.

    Speaker labels are recognised as a "Name:" prefix or as a bold run at the start of a
    paragraph (with or without a colon; without one, the bold run is a label where the
    document labels speakers that way, not a word in bold for emphasis). Headings are never
    turns. A two-column table of speaker and words (as some transcription services deliver)
    works too. The transcript text is the document's paragraphs joined by newlines, a table
    row as "speaker: words".

    Raises
    ------
    InputError
        If the file is empty, not a valid .docx (damaged, or password-protected: the
        message says which it looks like), or has no recognisable speaker turns.
    """
    from docx import Document  # python-docx; imported here to keep `import themesift` fast

    data = path.read_bytes()
    if not data:
        raise InputError("The file is empty", path=path,
                         fix="Check that the transcript was saved, or remove it")
    try:
        lines = _document_lines(Document(str(path)))
    except Exception:  # noqa: BLE001 - a damaged .docx makes zipfile, lxml or python-docx fail in many ways
        # Word saves a password-protected .docx as an encrypted OLE compound file, the
        # container of the old .doc format, not the zip a .docx is
        protected = data.startswith(_OLE_SIGNATURE)
        raise InputError(
            "This is not a readable Word .docx file: "
            + ("it is password-protected (or an old Word .doc renamed .docx)" if protected
               else "it may be damaged or password-protected"),
            path=path,
            fix='Open it in Word, remove the password if it has one (File > Info > Protect '
            'Document), and use "Save as" to save an unprotected copy as .docx; or export the '
            "transcript as .txt",
        ) from None
    labels: dict[int, LabelledLine | None] = {}  # by line number: what the text does not show
    line_no = 1
    for text, label in lines:
        count = text.count("\n") + 1
        if label == _HEADING:
            labels.update(dict.fromkeys(range(line_no, line_no + count)))
        elif label is not None:
            labels[line_no] = label
        line_no += count
    return parse_labelled_text(
        "\n".join(text for text, _ in lines),
        doc_id=path.stem,
        path=path,
        moderator=moderator,
        meta={"format": "docx", "encoding": None, "sha256": content_hash(data)},
        labels=labels,
    )


def _document_lines(document) -> list[tuple[str, LabelledLine | str | None]]:
    """The document's paragraphs and table rows as text, each with a bold label the text does
    not show, _HEADING, or None (the label, if any, is in the text)."""
    lines: list[tuple[str, LabelledLine | str | None]] = []
    for block in document.iter_inner_content():
        if hasattr(block, "rows"):  # a table
            lines.extend((line, None) for line in _table_lines(block))
        elif block.style is not None and block.style.name.startswith(("Heading", "Title")):
            lines.append((paragraph_text(block), _HEADING))
        else:
            lines.append((paragraph_text(block), _bold_label(block)))
    return lines


def paragraph_text(paragraph) -> str:
    """A paragraph's text as it reads with its tracked changes accepted: inserted words in,
    deleted ones out (python-docx's ``paragraph.text`` leaves out both); text boxes and
    other floating content are not part of it."""
    return "".join(run.text for run in _runs(paragraph))


def _runs(paragraph) -> list:
    """The paragraph's runs as its text reads (see :func:`paragraph_text`): with those in
    tracked insertions, hyperlinks and content controls, which ``paragraph.runs`` leaves out."""
    from docx.oxml.ns import qn
    from docx.text.run import Run

    skip = {qn("w:del"), qn("w:moveFrom"), qn("w:txbxContent")}
    return [Run(r, paragraph) for r in paragraph._p.iter(qn("w:r"))
            if not any(a.tag in skip for a in r.iterancestors())]


def _cell_text(cell) -> str:
    return "\n".join(paragraph_text(p) for p in cell.paragraphs)


def _bold_label(paragraph) -> LabelledLine | None:
    """A bold run without a colon at the start of the paragraph, as a label of the "bold" form,
    where it may be one (a role or a name: ``bold_may_be_label``; the document's other labels
    decide whether it is one: see ``accepted_labels``)."""
    bold = ""
    for run in _runs(paragraph):
        if not run.bold:
            break
        bold += run.text
    label = clean_label(bold)
    text = paragraph_text(paragraph)
    rest = text[len(bold):]
    if (
        label
        and len(label) <= _MAX_LABEL
        and rest.strip()
        and not bold.rstrip().endswith(":")
        and not rest.lstrip().startswith(":")
        and text.startswith(bold)
        and (found := match_label(label + ":")) is not None
        and bold_may_be_label(found.label)  # a role or a name, not "**Really** I mean it"
    ):
        return LabelledLine(found.label, len(bold), None, form="bold")
    return None


def _table_lines(table) -> list[str]:
    lines = []
    for row in table.rows:
        cells = list(dict.fromkeys(_cell_text(c).strip() for c in row.cells))  # merged repeat
        if len(cells) < 2 or not cells[-1]:
            lines.extend(c for c in cells if c)
            continue
        # Time | Speaker | Transcript, as transcription services deliver it: the speaker is
        # the first cell that is not a time
        times = [c for c in cells[:-1] if TIME_ONLY.match(c)]
        named = [c for c in cells[:-1] if not TIME_ONLY.match(c)]
        label, words = clean_label(named[0] if named else cells[0]), cells[-1]
        if words.casefold() in _TABLE_HEADERS:
            continue
        if label and len(label) <= _MAX_LABEL and "\n" not in label:
            lines.append(f"[{times[0]}] {label}: {words}" if times and named else
                         f"{label}: {words}")
        else:
            lines.append(" ".join(cells))
    return lines
