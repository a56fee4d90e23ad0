"""Loading a sentence-transformers model (once per process) and running it so that each text's
vector is the same bits whatever it is batched with: token counts, padding to fixed lengths,
batches of one padded length, forward passes, and each token's character offsets."""

from __future__ import annotations

import contextlib
import functools
import json
import logging
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import InputError, MissingDependencyError
from ._profiles import VENDOR_FIX

logger = logging.getLogger(__name__)

_PAD_QUANTUM = 16  # texts are padded to a multiple of this many tokens (see _padded_length)


@functools.lru_cache(maxsize=4)
def load_sentence_transformer(path: str, device: str):
    """Load the sentence-transformers model in ``path``; shared by every Embedder."""
    try:
        from sentence_transformers import SentenceTransformer
    except ImportError as exc:
        raise MissingDependencyError(
            "sentence-transformers", "pip install sentence-transformers"
        ) from exc
    check_device(device)
    started = time.perf_counter()
    with library_progress_bars_off():
        try:
            model = SentenceTransformer(path, device=device, local_files_only=True)
        except Exception as exc:  # whatever the library raises, the user sees one message
            raise InputError(
                f"Could not load a sentence-transformers model from this folder "
                f"({type(exc).__name__}: {exc})",
                path=path,
                fix=VENDOR_FIX,
            ) from exc
    model.eval()
    logger.info("Loaded %s on %s in %.1f s", path, device, time.perf_counter() - started)
    return model


def check_device(device: str) -> None:
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
def library_progress_bars_off() -> Iterator[None]:
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


def model_dimension(model: Any) -> int:
    get = getattr(model, "get_embedding_dimension", None) or model.get_sentence_embedding_dimension
    dimension = get()
    if dimension is None:  # some custom modules do not declare it
        dimension = encode_batch(model, ["dimension probe"], None).shape[1]
    return int(dimension)


def declared_max_seq_length(folder: Path) -> int | None:
    """The ``max_seq_length`` a sentence-transformers folder declares (what the loaded model
    then has), or None."""
    try:
        length = json.loads((folder / "sentence_bert_config.json").read_text(encoding="utf-8"))
        length = length["max_seq_length"]
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return length if isinstance(length, int) and not isinstance(length, bool) else None


def token_lengths(model: Any, texts: list[str]) -> list[int] | None:
    """Token count of each text as the model will see it (after truncation); None if the
    model cannot tell (then batches are padded as the library likes: still correct)."""
    fast = _rust_tokenizer(model) if hasattr(model, "tokenizer") else None
    if fast is not None and not lower_cases(model):
        return [len(e.ids) for e in fast.encode_batch([t.strip() for t in texts])]
    lengths: list[int] = []
    try:
        for start in range(0, len(texts), 1024):
            mask = tokenize(model, texts[start : start + 1024])["attention_mask"]
            lengths.extend(int(n) for n in np.asarray(mask).sum(axis=1))
    except Exception as exc:  # an unusual model (e.g. not text-only)
        logger.debug("Cannot count tokens (%s); batches are padded to their longest text", exc)
        return None
    return lengths


def tokenize(model: Any, texts: list[str]) -> dict[str, Any]:
    """The model's inputs for ``texts`` (``preprocess`` in newer sentence-transformers)."""
    return (getattr(model, "preprocess", None) or model.tokenize)(texts)


def _padded_length(length: int, limit: int | None) -> int:
    """The length a text of ``length`` tokens is always padded to: the next multiple of
    ``_PAD_QUANTUM``, but never beyond the model's ``max_seq_length``."""
    padded = -(-max(length, 1) // _PAD_QUANTUM) * _PAD_QUANTUM
    return padded if limit is None else min(padded, limit)


@functools.lru_cache(maxsize=256)
def pad_anchor(model: Any, length: int) -> str | None:
    """A filler text of exactly ``length`` tokens ("a a a ..."), or None if none is found."""
    words = max(length - 2, 1)  # most tokenizers add two special tokens
    for _ in range(4):
        text = " ".join(["a"] * words)
        counted = token_lengths(model, [text])
        if counted is None:
            return None
        if counted[0] == length:
            return text
        words += length - counted[0]
        if words < 1:
            break
    logger.debug("No filler text of %d tokens; batches of that length may vary", length)
    return None


def padded_batches(lengths: list[int], batch_size: int, limit: int | None) -> list[tuple[int, list[int]]]:
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


def encode_batch(model: Any, texts: list[str], anchor: str | None) -> np.ndarray:
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


def token_offsets(model: Any, text: str) -> tuple[dict[str, Any], np.ndarray]:
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


def lower_cases(model: Any) -> bool:
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
