"""Reading REFI-QDA projects (``.qdpx``, QDA-XML 1.0) written by NVivo, ATLAS.ti, MAXQDA, qc...

A ``.qdpx`` file is a zip holding ``project.qde`` (the XML project) and a ``sources/`` folder
with the documents. :func:`read_qdpx` returns a :class:`QdaProject` with five DataFrames:

``sources``
    guid, name, text, path, format - one row per ``TextSource``. ``text`` is the plain text the
    coding offsets refer to: the file named by ``plainTextPath`` (``internal://x.txt``, a bare
    ``x.txt`` or ``sources/x.txt``; looked up in ``sources/`` case-insensitively), else the
    inline ``PlainTextContent``. Decoding: a byte-order mark decides (UTF-8, UTF-16, UTF-32);
    without one UTF-8, and when that fails Windows-1252 (what Windows tools write for
    "ANSI" text). Line endings become "\n", as the transcript readers give them, and the
    offsets move with them: a selection counted in a file with Windows line endings ("\r\n",
    two characters, as NVivo counts them) stays on the same words of the transcript themesift
    reads. A project whose ``origin`` names ATLAS.ti counts such a line break as one character
    already: its offsets stay as they are.
``codebook``
    guid, name, parent_guid, parent_name, path ("Parent/Child"), color, description,
    is_codable - one row per ``Code`` of the nested ``CodeBook/Codes`` hierarchy, in document
    order (parents before children).
``users``
    guid, name (the ``name`` attribute, else ``id``, else the guid).
``codings``
    source, source_guid, start, end, text, code, code_guid, code_path, coder, selection_guid,
    created, note - one row per ``Coding`` inside a ``PlainTextSelection``. ``created`` is the
    coding's ``creationDateTime`` as written (else its selection's, else ""); ``note`` the text
    of the project notes the coding refers to (``NoteRef``), blank-line separated.
``cases``
    case, case_guid, description, source, source_guid, start, end, text - one row per text
    span a ``Case`` holds: each ``SelectionRef`` to a text selection, and each ``SourceRef`` to
    a text source (the whole text). Cases are usually participants: themesift writes one per
    speaker of each transcript.

Offsets: ``startPosition``/``endPosition`` are read as **0-based character (Unicode code
point) offsets with the end exclusive**, i.e. ``text = source_text[start:end]``, which is how
the QDA-XML standard defines them and how the real files beside the tests behave (in
``qc_demo.qdpx`` the selection "line:6" is 320..400, exactly the 80 characters of that line
including its ``\\n``). They are not UTF-16 code units and not bytes; a selection whose end lies
past the text is reported as an error rather than silently truncated.

Whole-source codings (a ``Coding`` directly under a ``TextSource``) and non-text sources
(PDF, picture, audio, video) are not coding spans and are left out of ``codings``.
"""

from __future__ import annotations

import bisect
import codecs
import os
import posixpath
import logging
import re
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any
from xml.parsers import expat

from ..errors import InputError

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

__all__ = ["QdaProject", "read_qdpx"]

logger = logging.getLogger(__name__)

SOURCE_COLUMNS = ["guid", "name", "text", "path", "format"]
CODEBOOK_COLUMNS = [
    "guid", "name", "parent_guid", "parent_name", "path", "color", "description", "is_codable",
]
USER_COLUMNS = ["guid", "name"]
CODING_COLUMNS = [
    "source", "source_guid", "start", "end", "text", "code", "code_guid", "code_path", "coder",
    "selection_guid", "created", "note",
]
CODING_TABLE_COLUMNS = ["id", "theme_id", "coder", "source", "start", "end", "text"]
CASE_COLUMNS = ["case", "case_guid", "description", "source", "source_guid", "start", "end",
                "text"]

_NOT_ZIP_FIX = (
    "Export the project from your QDA program as a REFI-QDA project (.qdpx), or pass the .qdpx "
    "file itself rather than the unpacked project.qde"
)


@dataclass(frozen=True, eq=False)
class QdaProject:
    """A REFI-QDA project as DataFrames; see the module docstring for the columns."""

    path: str
    name: str
    origin: str
    sources: pd.DataFrame
    codebook: pd.DataFrame
    users: pd.DataFrame
    codings: pd.DataFrame
    cases: pd.DataFrame

    def __repr__(self) -> str:
        return (
            f"QdaProject({self.name!r} from {self.origin or 'unknown tool'}: "
            f"{len(self.sources)} sources, {len(self.codebook)} codes, {len(self.users)} users, "
            f"{len(self.codings)} codings, {self.cases['case_guid'].nunique()} cases)"
        )

    def to_coding_table(
        self,
        mapping: Mapping[str, str] | None = None,
        *,
        drop_unmapped: bool = False,
        coder: str | None = None,
    ) -> pd.DataFrame:
        """The codings as a DESIGN coding table: id, theme_id, coder, source, start, end, text
        (with ``coder``, that coder's codings only; the warnings then count only them).

        ``id`` is ``"<source>:<start>-<end>"``, so several codes on the same span become several
        rows of one id (multi-label). ``mapping`` maps code names or code paths
        ("Parent/Child"; a path wins over a bare name) to framework theme ids. A code the
        mapping does not name takes the theme of its nearest mapped ancestor, so mapping a
        theme's code also maps its sub-codes. Codes with no mapped ancestor keep their code
        name as theme_id, or are left out with ``drop_unmapped=True``; either way a warning
        names them. Rows that become identical after mapping are kept once.
        """
        import pandas as pd

        mapping = dict(mapping or {})
        book = {row.guid: row for row in self.codebook.itertuples(index=False)}
        said: list[str] = []  # the warnings, logged and kept in the table's attrs
        if mapping:
            known = set(self.codebook["name"]) | set(self.codebook["path"])
            unknown = sorted(k for k in mapping if k not in known)
            if unknown:
                said.append(f"{self.path}: mapping keys that match no code name or path: "
                            + ", ".join(map(repr, unknown)))

        def theme_of(rec: Any) -> str | None:
            keys = [rec.code_path, rec.code]
            code = book.get(rec.code_guid)
            while code is not None:  # the code, then the codes above it, nearest first
                keys += [code.path, code.name]
                code = book.get(code.parent_guid)
            return next((mapping[key] for key in keys if key in mapping), None)

        rows, unmapped = [], {}
        for rec in self.codings.itertuples(index=False):
            if coder is not None and rec.coder != coder:
                continue
            theme = theme_of(rec) if mapping else rec.code
            if theme is None:
                unmapped[rec.code_path] = unmapped.get(rec.code_path, 0) + 1
                if drop_unmapped:
                    continue
                theme = rec.code
            rows.append(
                (f"{rec.source}:{rec.start}-{rec.end}", str(theme), rec.coder, rec.source,
                 rec.start, rec.end, rec.text)
            )
        if unmapped:
            named = [f"{path!r} ({n})" for path, n in sorted(unmapped.items())]
            more = f" and {len(named) - 10} more codes" if len(named) > 10 else ""
            said.append(
                f"{self.path}: {sum(unmapped.values())} coding(s) have a code that the mapping "
                "does not name, nor any code above it, so they "
                f"{'are left out' if drop_unmapped else 'keep the code name as their theme'}: "
                f"{', '.join(named[:10])}{more}. Map those codes or a code above them (the "
                "theme id 'none' for codes that fit no theme).")
        for warning in said:
            logger.warning("%s", warning)
        table = pd.DataFrame(rows, columns=CODING_TABLE_COLUMNS)
        table = table.drop_duplicates(subset=["id", "theme_id", "coder"]).reset_index(drop=True)
        table = table.astype({"start": "int64", "end": "int64"})
        table.attrs["warnings"] = said  # compare() puts them in its report's warnings
        return table


# --------------------------------------------------------------------------------- XML tree


class _Node:
    """An XML element with its namespace stripped and the line it starts on."""

    __slots__ = ("tag", "attrib", "children", "line", "text")

    def __init__(self, tag: str, attrib: dict[str, str], line: int) -> None:
        self.tag = tag
        self.attrib = attrib
        self.children: list[_Node] = []
        self.line = line
        self.text = ""

    def get(self, key: str, default: str | None = None) -> str | None:
        return self.attrib.get(key, default)

    def find(self, tag: str) -> _Node | None:
        return next((c for c in self.children if c.tag == tag), None)

    def findall(self, tag: str) -> list[_Node]:
        return [c for c in self.children if c.tag == tag]

    def iter(self, tag: str):
        stack = [self]
        while stack:
            node = stack.pop()
            if node.tag == tag:
                yield node
            stack.extend(reversed(node.children))


def _local(name: str) -> str:
    """'urn:QDA-XML:project:1.0}Code' or 'qda:Code' -> 'Code'."""
    return name.rsplit("}", 1)[-1].rsplit(":", 1)[-1]


def _parse_xml(data: bytes, where: str) -> _Node:
    """Parse with expat so that every element knows its line (ElementTree forgets it)."""
    parser = expat.ParserCreate(namespace_separator="}")
    stack: list[_Node] = []
    root: list[_Node] = []
    texts: list[list[str]] = []

    def start(name: str, attrs: dict[str, str]) -> None:
        node = _Node(_local(name), {_local(k): v for k, v in attrs.items()},
                     parser.CurrentLineNumber)
        if stack:
            stack[-1].children.append(node)
        else:
            root.append(node)
        stack.append(node)
        texts.append([])

    def end(name: str) -> None:
        node = stack.pop()
        node.text = "".join(texts.pop())

    def chars(data: str) -> None:
        if texts:
            texts[-1].append(data)

    parser.StartElementHandler = start
    parser.EndElementHandler = end
    parser.CharacterDataHandler = chars
    parser.buffer_text = True
    try:
        parser.Parse(data, True)
    except expat.ExpatError as exc:
        raise InputError(
            f"project.qde is not well-formed XML ({expat.ErrorString(exc.code)}, "
            f"column {exc.offset + 1})",
            path=where,
            line=exc.lineno,
            fix="Export the project again from your QDA program; the file may be truncated "
            "or edited by hand",
        ) from None
    if not root:
        raise InputError("project.qde holds no XML element", path=where)
    return root[0]


# --------------------------------------------------------------------------------- reading


def read_qdpx(path: str | os.PathLike[str]) -> QdaProject:
    """Read a REFI-QDA project (``.qdpx``): sources with text, codebook, users and codings.

    Raises :class:`~themesift.errors.InputError` naming the file (and element and line inside
    ``project.qde``) when the file is missing, not a zip, lacks ``project.qde``, holds
    malformed XML, or refers to source files or codes it does not contain (a coding by a
    user the file does not list keeps the user's id as its coder).
    """
    import pandas as pd

    file = Path(path)
    if not file.exists():
        raise InputError("file not found", path=file, fix="Check the path and the file name")
    if file.is_dir():
        raise InputError(
            "is a folder, not a REFI-QDA project file", path=file,
            fix="Pass the .qdpx file exported by your QDA program",
        )
    if not zipfile.is_zipfile(file):
        raise InputError(
            "is not a REFI-QDA project (.qdpx is a zip file holding project.qde and sources/)",
            path=file, fix=_NOT_ZIP_FIX,
        )
    try:
        with zipfile.ZipFile(file) as zf:
            return _read_zip(zf, file, pd)
    except zipfile.BadZipFile as exc:
        raise InputError(
            f"is a damaged zip file ({exc})", path=file,
            fix="Export the project again from your QDA program",
        ) from None


def _read_zip(zf: zipfile.ZipFile, file: Path, pd: Any) -> QdaProject:
    names = [n for n in zf.namelist() if not n.endswith("/")]
    qde = [n for n in names if posixpath.basename(n).lower() == "project.qde"]
    if not qde:
        qde = [n for n in names if n.lower().endswith(".qde")]
    if not qde:
        raise InputError(
            "is a zip file but holds no project.qde, so it is not a REFI-QDA project",
            path=file, fix=_NOT_ZIP_FIX,
        )
    qde_name = min(qde, key=lambda n: (n.count("/"), n))
    base = posixpath.dirname(qde_name)
    where = f"{file} (project.qde)" if qde_name == "project.qde" else f"{file} ({qde_name})"
    root = _parse_xml(zf.read(qde_name), where)
    if root.tag != "Project":
        raise InputError(
            f"project.qde starts with <{root.tag}>, not <Project>", path=where, line=root.line,
            fix="Pass a REFI-QDA project (.qdpx); a codebook alone is a .qdc file",
        )

    def err(problem: str, node: _Node, fix: str | None = None) -> InputError:
        return InputError(problem, path=where, line=node.line, fix=fix)

    # NVivo and QualCoder count a source's "\r\n" as two characters, ATLAS.ti as one (as
    # QualCoder's importer reads them).
    counts_lf = "atlas" in (root.get("origin") or "").casefold()

    # Users
    users: dict[str, str] = {}
    for users_el in root.findall("Users"):
        for u in users_el.findall("User"):
            guid = u.get("guid")
            if not guid:
                raise err("<User> without a guid attribute", u)
            users[guid] = u.get("name") or u.get("id") or guid

    # Codebook
    code_rows: list[dict[str, Any]] = []
    codes: dict[str, dict[str, Any]] = {}

    def walk(node: _Node, parent: dict[str, Any] | None) -> None:
        for c in node.findall("Code"):
            guid = c.get("guid")
            name = c.get("name")
            if not guid:
                raise err(f"<Code name={name!r}> without a guid attribute", c)
            if name is None:
                raise err(f"<Code guid={guid!r}> without a name attribute", c)
            if guid in codes:
                raise err(f"<Code> guid {guid!r} is used by two codes", c,
                          "Each code needs its own guid")
            desc = c.find("Description")
            row = {
                "guid": guid,
                "name": name,
                "parent_guid": parent["guid"] if parent else "",
                "parent_name": parent["name"] if parent else "",
                "path": f"{parent['path']}/{name}" if parent else name,
                "color": c.get("color") or "",
                "description": desc.text.strip() if desc is not None else "",
                "is_codable": (c.get("isCodable") or "true").strip().lower() in ("true", "1"),
            }
            codes[guid] = row
            code_rows.append(row)
            walk(c, row)

    for book in root.findall("CodeBook"):
        for codes_el in book.findall("Codes"):
            walk(codes_el, None)

    # Notes (memos) that codings refer to: inline text, or a file in sources/
    index = _ZipIndex(names, base)
    notes: dict[str, str] = {}
    for notes_el in root.findall("Notes"):
        for note in notes_el.findall("Note"):
            inline = note.find("PlainTextContent")
            ptp = note.get("plainTextPath")
            member = index.find(ptp) if inline is None and ptp else None
            text = inline.text if inline is not None else (
                _decode(zf.read(member)) if member else "")
            notes[note.get("guid") or ""] = text

    # Sources and codings
    source_rows: list[dict[str, Any]] = []
    coding_rows: list[dict[str, Any]] = []
    spans: dict[str, tuple[str, str, int, int, str]] = {}  # selection or source guid -> span
    seen_sources: set[str] = set()
    for sources_el in root.findall("Sources"):
        for src in sources_el.findall("TextSource"):
            guid = src.get("guid")
            if not guid:
                raise err("<TextSource> without a guid attribute", src)
            if guid in seen_sources:
                raise err(f"<TextSource> guid {guid!r} is used by two sources", src)
            seen_sources.add(guid)
            ptp = src.get("plainTextPath") or ""
            name = src.get("name") or _stem(ptp) or guid
            inline = src.find("PlainTextContent")
            if ptp:
                member = index.find(ptp)
                if member is None:
                    if inline is not None:
                        text, fmt = inline.text, "inline"
                    else:
                        raise err(
                            f"source {name!r} (<TextSource guid={guid!r}>) has plainTextPath "
                            f"{ptp!r}, but the zip holds no such file (looked in "
                            f"{index.sources_dir or 'sources/'})",
                            src,
                            "Export the project again with its sources included",
                        )
                else:
                    text, fmt = _decode(zf.read(member)), posixpath.splitext(member)[1][1:]
            elif inline is not None:
                text, fmt, member = inline.text, "inline", ""
            else:
                raise err(
                    f"source {name!r} (<TextSource guid={guid!r}>) has neither plainTextPath "
                    "nor PlainTextContent, so its text is unknown", src,
                    "Export the project again with plain-text copies of the sources",
                )
            stored, (text, moved) = text, _lf_text(text)
            if counts_lf:  # offsets already count a line break as one character
                stored, moved = text, _same
            source_rows.append(
                {"guid": guid, "name": name, "text": text, "path": member or "", "format": fmt}
            )
            spans[guid] = (name, guid, 0, len(text), text)
            for sel in src.findall("PlainTextSelection"):
                start, end = map(moved, _selection_span(sel, name, stored, err))
                spans[sel.get("guid") or ""] = (name, guid, start, end, text[start:end])
                coding_rows.extend(_selection_codings(sel, start, end, guid, name, text, codes,
                                                      users, notes, err))
    case_rows = []
    for cases_el in root.findall("Cases"):
        for case in cases_el.findall("Case"):
            about = case.find("Description")
            head = (case.get("name") or case.get("guid") or "", case.get("guid") or "",
                    about.text.strip() if about is not None and about.text else "")
            for ref in [*case.findall("SourceRef"), *case.findall("SelectionRef")]:
                if ref.get("targetGUID") in spans:  # else a non-text source: left out
                    case_rows.append((*head, *spans[ref.get("targetGUID")]))

    sources = pd.DataFrame(source_rows, columns=SOURCE_COLUMNS)
    codebook = pd.DataFrame(code_rows, columns=CODEBOOK_COLUMNS).astype({"is_codable": bool})
    users_df = pd.DataFrame(list(users.items()), columns=USER_COLUMNS)
    codings = pd.DataFrame(coding_rows, columns=CODING_COLUMNS).astype(
        {"start": "int64", "end": "int64"}
    )
    return QdaProject(
        path=str(file),
        name=root.get("name") or file.stem,
        origin=root.get("origin") or "",
        sources=sources,
        codebook=codebook,
        users=users_df,
        codings=codings,
        cases=pd.DataFrame(case_rows, columns=CASE_COLUMNS).astype({"start": "int64",
                                                                     "end": "int64"}),
    )


def _same(offset: int) -> int:
    return offset


def _lf_text(text: str):
    """The text with its line endings as "\n", as the transcript readers give them, and a
    function that moves an offset counted in ``text`` to the same place in it."""
    if "\r" not in text:
        return text, _same
    pairs = [found.start() for found in re.finditer("\r\n", text)]
    return (text.replace("\r\n", "\n").replace("\r", "\n"),
            lambda offset: offset - bisect.bisect_left(pairs, offset))


def _selection_span(sel, source_name, text, err) -> tuple[int, int]:
    label = f"<PlainTextSelection guid={sel.get('guid') or ''!r}> in source {source_name!r}"
    try:
        start = int(sel.get("startPosition", ""))
        end = int(sel.get("endPosition", ""))
    except ValueError:
        raise err(
            f"{label} needs whole-number startPosition and endPosition, found "
            f"{sel.get('startPosition')!r} and {sel.get('endPosition')!r}", sel,
        ) from None
    if not 0 <= start <= end <= len(text):
        raise err(
            f"{label} spans characters {start}..{end}, outside the source text "
            f"(0..{len(text)} characters)", sel,
            "The plain text in sources/ must be the text the positions were counted in; "
            "export the project again",
        )
    return start, end


def _selection_codings(sel, start, end, source_guid, source_name, text, codes, users, notes,
                       err):
    sguid = sel.get("guid") or ""
    label = f"<PlainTextSelection guid={sguid!r}> in source {source_name!r}"
    rows = []
    for coding in sel.findall("Coding"):
        ref = coding.find("CodeRef")
        target = ref.get("targetGUID") if ref is not None else None
        if not target:
            raise err(f"<Coding> in {label} has no <CodeRef targetGUID=...>", coding)
        code = codes.get(target)
        if code is None:
            raise err(
                f"<Coding guid={coding.get('guid')!r}> in {label} refers to code "
                f"{target!r}, which is not in the codebook", ref,
                "Export the project again with its whole codebook",
            )
        user = coding.get("creatingUser") or sel.get("creatingUser") or ""
        rows.append(
            {
                "source": source_name,
                "source_guid": source_guid,
                "start": start,
                "end": end,
                "text": text[start:end],
                "code": code["name"],
                "code_guid": target,
                "code_path": code["path"],
                "coder": users.get(user, user),
                "selection_guid": sguid,
                "created": coding.get("creationDateTime") or sel.get("creationDateTime") or "",
                "note": "\n\n".join(notes[n.get("targetGUID")] for n in coding.findall("NoteRef")
                                    if n.get("targetGUID") in notes),
            }
        )
    return rows


# --------------------------------------------------------------------------------- helpers


def _stem(path: str) -> str:
    return posixpath.splitext(posixpath.basename(path.replace("\\", "/")))[0]


class _ZipIndex:
    """Finds the member a plainTextPath names, however the writing tool spelled it."""

    def __init__(self, names: list[str], base: str) -> None:
        self.base = f"{base}/" if base else ""
        self.lower = {n.lower(): n for n in names}
        dirs = {posixpath.dirname(n) for n in names}
        self.sources_dir = next(
            (d + "/" for d in sorted(dirs) if d.lower() == (self.base + "sources").lower()), ""
        )

    def find(self, ptp: str) -> str | None:
        p = ptp.strip().replace("\\", "/")
        for scheme in ("internal://", "relative://", "absolute://", "file://"):
            if p.lower().startswith(scheme):
                p = p[len(scheme):]
                break
        p = p.lstrip("/")
        candidates = [p, f"sources/{p}", f"{self.base}{p}", f"{self.base}sources/{p}"]
        if p.lower().startswith("sources/"):
            candidates.append(self.base + p)
        for cand in candidates:
            hit = self.lower.get(cand.lower())
            if hit is not None:
                return hit
        # Last resort: the same file name directly inside sources/.
        hit = self.lower.get((self.base + "sources/" + posixpath.basename(p)).lower())
        return hit


_BOMS = [
    (codecs.BOM_UTF32_LE, "utf-32"), (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"), (codecs.BOM_UTF16_BE, "utf-16"),
]


def _decode(data: bytes) -> str:
    """Source text: BOM first, then UTF-8, then Windows-1252 (never fails)."""
    for bom, enc in _BOMS:
        if data.startswith(bom):
            return data.decode(enc)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode("cp1252", errors="replace")
