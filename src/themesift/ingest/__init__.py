"""Reading transcripts: one reader per file format, chosen by extension."""

from __future__ import annotations

import dataclasses
import logging
import os
from collections.abc import Callable, Collection, Iterable
from pathlib import Path

from ..errors import InputError
from ..model import Corpus, Transcript
from ._common import accepted_labels, check_turn_lengths, match_label  # not in __all__
from .captions import read_captions
from .docx import read_docx
from .qdpx import QdaProject, read_qdpx
from .table import read_table
from .text import read_text

__all__ = ["read_corpus", "read_transcript", "read_table", "read_qdpx", "QdaProject", "READERS"]

Reader = Callable[..., Transcript]

#: File extension -> reader. Each reader takes ``(path, *, moderator, encoding)``.
READERS: dict[str, Reader] = {
    ".txt": read_text,
    ".md": read_text,
    ".docx": read_docx,
    ".vtt": read_captions,
    ".srt": read_captions,
}

_SUPPORTED = ", ".join(READERS)

#: What to do with a file of another type found in a folder of transcripts.
_SKIPPED_FIX = {
    ".pdf": "Save the transcript as .docx or .txt from the program that made the PDF",
    ".doc": "Open it in Word and save it as .docx",
    ".rtf": "Save it as .docx or .txt",
    ".odt": "Save it as .docx",
    ".csv": "A table of text already cut into units goes to 'themesift suggest'",
    ".xlsx": "A table of text already cut into units goes to 'themesift suggest'",
    ".qdpx": "A REFI-QDA project is read with ts.read_qdpx or 'themesift compare'",
}

logger = logging.getLogger(__name__)


def read_transcript(
    path: str | os.PathLike[str],
    *,
    moderator: Collection[str] | str | None = None,
    encoding: str | None = None,
) -> Transcript:
    """Read one transcript file with the reader for its extension.

    See :func:`read_corpus` for the parameters.
    """
    path = Path(path)
    if not path.is_file():
        raise InputError("No such file", path=path, fix="Check the path and the spelling")
    reader = READERS.get(path.suffix.lower())
    if reader is None:
        raise InputError(
            f"Unsupported file type {path.suffix or '(no extension)'!r}",
            path=path,
            fix=f"Save the transcript as one of {_SUPPORTED}",
        )
    names = _names(moderator)
    transcript = reader(path, moderator=names, encoding=encoding)
    if names and not any(turn.role == "moderator" for turn in transcript.turns):
        # Given names replace the role words ("Moderator", "Interviewer"): a name that is
        # nobody's turns every question into participants' talk.
        speakers = list(dict.fromkeys(turn.speaker for turn in transcript.turns))
        logger.warning(
            "%s: no speaker is named %s, so every turn counts as a participant's (names given "
            "with moderator= / --moderator replace the role words such as 'Moderator'); its "
            "speakers: %s", path, " or ".join(map(repr, names)),
            ", ".join(speakers[:12]) + (" ..." if len(speakers) > 12 else ""))
    elif not names and not any(turn.role == "moderator" for turn in transcript.turns):
        asker = _likely_moderator(transcript)
        if asker:
            logger.warning(
                "%s: no speaker is called Moderator, Interviewer or the like, so every turn "
                "counts as a participant's and the questions become meaning units; %s asks "
                "%d of the %d turns' questions. If %s moderated, give moderator=%r (--moderator "
                "%s).", path, asker[0], asker[1], asker[2], asker[0], asker[0],
                _shell_word(asker[0]))
    return transcript


#: A speaker who asks more than this share of the turns' questions (and two or more), in a
#: transcript whose labels name no moderator, is named in a warning as the likely moderator.
LIKELY_MODERATOR_SHARE = 0.5


def _likely_moderator(transcript: Transcript) -> tuple[str, int, int] | None:
    """The speaker who asks most of a transcript's questions (turns with a question mark),
    with how many they ask and how many turns ask one; None where no one stands out or there
    is only one speaker."""
    from collections import Counter

    askers = Counter(turn.speaker for turn in transcript.turns if "?" in turn.text)
    if len({turn.speaker for turn in transcript.turns}) < 2 or not askers:
        return None
    speaker, asked = askers.most_common(1)[0]
    total = sum(askers.values())
    return (speaker, asked, total) if asked >= 2 and asked > LIKELY_MODERATOR_SHARE * total \
        else None


def _shell_word(text: str) -> str:
    """``text`` as one word on a command line."""
    import shlex

    return shlex.quote(text)


def _paths(paths) -> list:
    """``paths`` as a list, or an InputError where it is not paths (a table is a slip)."""
    import reprlib

    fix = ("Give a file or folder path, or a list of them; a table of segmented text is read "
           "with themesift.read_table(path), and a table of units goes to discover_codes, "
           "suggest_units or propose as it is")
    if hasattr(paths, "columns"):  # a DataFrame: iterating it gives its column names
        raise InputError("read_corpus() reads transcript files; it was given a table", fix=fix)
    try:
        items = [paths] if isinstance(paths, (str, os.PathLike)) else list(paths)
    except TypeError:
        items = [paths]
    wrong = [p for p in items if not isinstance(p, (str, os.PathLike))]
    if wrong:
        raise InputError(f"read_corpus() reads files, and {reprlib.repr(wrong[0])} "
                         f"({type(wrong[0]).__name__}) is not a path", fix=fix)
    return items


def read_corpus(
    paths: str | os.PathLike[str] | Iterable[str | os.PathLike[str]],
    *,
    moderator: Collection[str] | str | None = None,
    encoding: str | None = None,
) -> Corpus:
    """Read transcripts from a folder, a file, or a list of them.

    A folder is read non-recursively: every file with a supported extension (.txt, .md,
    .docx, .vtt, .srt), in name order; README files and hidden files are passed over, and
    files of other types are skipped with a warning that names each one and what to do
    (their paths are in ``corpus.skipped``). A file named explicitly must have a supported
    extension. Each transcript's id is its file name without extension (with the extension
    added when two files share a name).

    Parameters
    ----------
    paths:
        A folder, a file, or several of them.
    moderator:
        Speaker label(s) of the moderator, e.g. ``"Anna"`` or ``["Facilitator", "Co-facilitator"]``,
        as the file writes them (case, markup such as ``**Anna:**`` and underscores, as in
        ``"SPEAKER_00"``, do not matter).
        By default, speakers called Moderator, Interviewer, Facilitator, Researcher and similar
        are moderators; everyone else is a participant.
    encoding:
        Text encoding of .txt/.md/.vtt/.srt files. By default UTF-8 (with or without BOM),
        UTF-16 (with or without BOM) and Windows cp1252 are detected.

    Returns
    -------
    Corpus
        Iterable of :class:`Transcript`, indexable by position or id.

    Raises
    ------
    InputError
        For a missing path, an unsupported or unreadable file, a folder without transcripts,
        or a file without recognisable speaker turns.

    Examples
    --------
    >>> corpus = read_corpus("data/sample")            # doctest: +SKIP
    >>> corpus["fg1_act_team"].turns[0].speaker        # doctest: +SKIP
    'Moderator'
    """
    paths = _paths(paths)
    files: list[Path] = []
    skipped: list[Path] = []
    for given in map(Path, paths):
        if given.is_dir():
            found = [p for p in sorted(given.iterdir()) if _is_transcript_file(p)]
            others = [p for p in sorted(given.iterdir()) if _is_other_file(p)]
            if not found:
                listed = f" (skipped: {', '.join(p.name for p in others)})" if others else ""
                raise InputError(
                    f"The folder has no transcript files{listed}",
                    path=given,
                    fix=f"Put transcripts saved as {_SUPPORTED} in it",
                )
            files.extend(found)
            skipped.extend(others)
        elif given.exists():
            files.append(given)
        else:
            raise InputError("No such file or folder", path=given, fix="Check the path and the spelling")
    if not files:
        raise InputError("No transcript files were given", fix="Name a folder or at least one file")

    for path in skipped:
        kind = f"'{path.suffix}' files" if path.suffix else "files without an extension"
        fix = _SKIPPED_FIX.get(path.suffix.lower(), f"To include it, save it as {_SUPPORTED}")
        logger.warning("%s: skipped: themesift does not read %s. %s, or move it out of the "
                       "folder.", path, kind, fix)
    transcripts, errors = [], []
    for path in files:  # every file read, so that one message names every bad one
        try:
            transcripts.append(read_transcript(path, moderator=moderator, encoding=encoding))
        except InputError as exc:
            errors.append(exc)
    if len(errors) == 1:
        raise errors[0]
    if errors:
        raise InputError(
            f"{len(errors)} of the {len(files)} transcripts cannot be read:\n"
            + "".join(f"- {exc}\n" for exc in errors)
            + "Fix each as it says, or move it out of the folder to leave it out")
    return Corpus(_unique_ids(transcripts), skipped=map(str, skipped))


def _is_transcript_file(path: Path) -> bool:
    return path.is_file() and path.suffix.lower() in READERS and not _is_housekeeping(path)


def _is_other_file(path: Path) -> bool:
    """A file in a folder of transcripts that is of a type no reader takes."""
    return path.is_file() and path.suffix.lower() not in READERS and not _is_housekeeping(path)


def _is_housekeeping(path: Path) -> bool:
    """README and licence files, hidden files, Word lock files and themesift's own study store
    (kept beside the transcripts, say): never transcripts."""
    return (path.name.startswith((".", "~$"))
            or path.stem.upper().startswith(("README", "LICENSE", "LICENCE"))
            or path.name.lower().endswith((".sqlite", ".sqlite-wal", ".sqlite-shm",
                                           ".sqlite-journal")))


def _names(moderator: Collection[str] | str | None) -> list[str] | None:
    if moderator is None:
        return None
    return [moderator] if isinstance(moderator, str) else list(moderator)


def _unique_ids(transcripts: list[Transcript]) -> list[Transcript]:
    """Give transcripts that share a file name an id with the extension (and folder) added."""
    counts: dict[str, int] = {}
    for t in transcripts:
        counts[t.id] = counts.get(t.id, 0) + 1
    renamed = []
    suffixed: dict[str, list[tuple[str, str]]] = {}
    for t in transcripts:
        if counts[t.id] > 1:
            path = Path(t.meta["path"])
            new_id = f"{t.id}_{path.suffix.lstrip('.').lower()}"
            suffixed.setdefault(t.id, []).append((t.meta["path"], new_id))
            t = dataclasses.replace(t, id=new_id)
        renamed.append(t)
    for name, files in suffixed.items():
        logger.warning(
            "%s share the name %r, so their ids get the extension: %s (a transcript stored "
            "in a study as %r is then a new transcript, its units new ids). Keep one format "
            "of each transcript, or rename the files.", " and ".join(p for p, _ in files),
            name, ", ".join(new_id for _, new_id in files), name)
    ids = [t.id for t in renamed]
    clashes = sorted({i for i in ids if ids.count(i) > 1})
    if clashes:
        paths = [t.meta["path"] for t in renamed if t.id in clashes]
        raise InputError(
            f"Several transcripts would get the id {clashes[0]!r}: {', '.join(paths)}",
            fix="Rename the files so that each has its own name",
        )
    return renamed
