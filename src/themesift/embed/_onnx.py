"""The ``onnx-int8`` backend: the model's transformer exported to ONNX and its weights quantised
to int8 locally, once, into the models folder, then run with ONNX Runtime behind the parts of
the SentenceTransformer interface that the Embedder uses."""

from __future__ import annotations

import functools
import importlib.util
import json
import logging
import os
import tempfile
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import InputError, MissingDependencyError
from ._cache import cache_file_name
from ._files import MARKER, dist_version, models_dir, remove_stale_temporaries
from ._model import load_sentence_transformer, lower_cases, model_dimension, token_offsets, tokenize
from ._spans import States

logger = logging.getLogger(__name__)

_ONNX_INSTALL = "pip install onnxruntime onnx"
_ONNX_FILE = "model_qint8.onnx"


@functools.lru_cache(maxsize=4)
def load_onnx_model(path: str, model_id: str) -> OnnxModel:
    """The int8 ONNX twin of the model in ``path``, built on first use; shared like the
    torch model (whose tokenizer it uses)."""
    try:
        import onnxruntime
    except ImportError as exc:
        raise MissingDependencyError("onnxruntime (backend 'onnx-int8')", _ONNX_INSTALL) from exc
    model = load_sentence_transformer(path, "cpu")
    modules = [type(m).__name__ for m in model]
    pooling = model[1].get_config_dict().get("pooling_mode") if len(modules) > 1 else None
    if modules[:2] != ["Transformer", "Pooling"] or pooling != "mean":
        raise InputError(
            f"The backend 'onnx-int8' handles Transformer + mean Pooling models; this one is "
            f"{' + '.join(modules)} (pooling {pooling!r})",
            path=path,
            fix="Use backend='torch' for this model",
        )
    onnx_path = models_dir() / "onnx-int8" / cache_file_name(model_id).replace(".sqlite3", "")
    if not (onnx_path / _ONNX_FILE).is_file():
        _export_onnx_int8(model, onnx_path)
    options = onnxruntime.SessionOptions()
    options.log_severity_level = 3
    options.intra_op_num_threads = 1  # one core per text; OnnxModel runs texts side by side
    session = onnxruntime.InferenceSession(
        str(onnx_path / _ONNX_FILE), options, providers=["CPUExecutionProvider"]
    )
    return OnnxModel(model, session)


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
    remove_stale_temporaries(target)
    logger.info("Building the int8 ONNX model in %s (once)", target)
    started = time.perf_counter()
    features = tokenize(model, ["Building an ONNX model.", "Once."])
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
        versions = {p: dist_version(p) for p in ("torch", "onnx", "onnxruntime")}
        (built / MARKER).write_text(json.dumps(versions) + "\n", encoding="utf-8")
        try:
            os.rename(built, target)
        except OSError:
            if not (target / _ONNX_FILE).is_file():  # else another process finished first
                raise
    logger.info("Built %s in %.1f s", target, time.perf_counter() - started)


class OnnxModel:
    """Quacks like the SentenceTransformer for what the Embedder uses: tokenize, encode,
    max_seq_length and the dimension. Mean pooling and L2 normalisation as the model's
    Pooling and Normalize modules do (normalising is harmless for a model without one: the
    cosine is what themesift uses)."""

    def __init__(self, model: Any, session: Any) -> None:
        self._model = model
        self._session = session
        self._inputs = [i.name for i in session.get_inputs()]
        self.max_seq_length = model.max_seq_length
        self._lower_case = lower_cases(model)
        self._workers = _cpu_count()
        self._pool: Any = None

    @property
    def tokenizer(self) -> Any:
        return self._model.tokenizer

    def tokenize(self, texts: list[str]) -> dict[str, Any]:
        return tokenize(self._model, texts)

    def get_embedding_dimension(self) -> int:
        return model_dimension(self._model)

    def encode(self, texts: list[str], **_: Any) -> np.ndarray:
        # One text per run: dynamic quantisation scales activations by the whole input
        # tensor, so batch-mates would change a text's vector. Alone, it is always the same
        # bits (and as fast on CPU: ONNX Runtime's per-run overhead is small).
        return self.encode_with_states(texts)[0]

    def encode_with_states(self, texts: list[str]) -> tuple[np.ndarray, list[States]]:
        """The texts' vectors and each text's token states.

        Each text runs alone on one core (one thread per run gives the same bits as more),
        and as many texts run at once as there are cores: on 2 cores about 1.3 times the
        throughput of one run at a time on both cores, twice for short texts, where a run's
        fixed cost dominates. The tokenizer is not thread-safe, so texts are tokenised first.
        """
        if self._lower_case:  # what sentence-transformers does for such models
            texts = [text.lower() for text in texts]
        tokenised = [token_offsets(self._model, text) for text in texts]

        def run(features: dict[str, Any]) -> np.ndarray:
            return self._session.run(None, {k: features[k] for k in self._inputs})[0][0]

        if self._workers > 1 and len(texts) > 1:
            if self._pool is None:
                from concurrent.futures import ThreadPoolExecutor

                self._pool = ThreadPoolExecutor(self._workers, thread_name_prefix="themesift-onnx")
            hidden = list(self._pool.map(run, (features for features, _ in tokenised)))
        else:
            hidden = [run(features) for features, _ in tokenised]
        states = [States(h, offsets) for h, (_, offsets) in zip(hidden, tokenised)]
        pooled = np.vstack([s.tokens.mean(axis=0) for s in states])  # no padding: all tokens
        return pooled / np.maximum(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12), states


def _cpu_count() -> int:
    """The cores this process may use."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1
