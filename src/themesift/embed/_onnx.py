"""The ``onnx-int8`` backend: the model's transformer exported to ONNX and its weights quantised
to int8 locally, once, into the models folder, then run with ONNX Runtime behind the parts of
the SentenceTransformer interface that the Embedder uses."""

from __future__ import annotations

import contextlib
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
#: The same model with each text of a batch quantised by its own range (see _rows_model).
_ROWS_FILE = "model_qint8_rows.onnx"
#: Texts of one token length up to _BATCHED_LENGTH run together, at most _MAX_ROWS (and
#: _MAX_BATCH_TOKENS tokens) a run. Measured on one core, ms a text alone / in such a run:
#: 4 tokens 0.38 / 0.23, 8 0.55 / 0.42, 16 0.85 / 0.80, 24 1.26 / 1.23, 32 1.61 / 1.63.
_BATCHED_LENGTH, _MAX_ROWS, _MAX_BATCH_TOKENS = 16, 32, 256


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
    options.intra_op_num_threads = 1  # one core per run; OnnxModel runs side by side

    def session(name: str) -> Any:
        return onnxruntime.InferenceSession(str(onnx_path / name), options,
                                            providers=["CPUExecutionProvider"])

    if not (onnx_path / _ROWS_FILE).is_file():
        _write_rows_model(onnx_path / _ONNX_FILE, onnx_path / _ROWS_FILE)
    alone = session(_ONNX_FILE)
    rows = session(_ROWS_FILE) if (onnx_path / _ROWS_FILE).is_file() else None
    if rows is not None and not _same_bits(model, alone, rows):
        logger.warning("%s gives other vectors than %s here; texts run one at a time",
                       _ROWS_FILE, _ONNX_FILE)
        rows = None
    return OnnxModel(model, alone, rows)


def _same_bits(model: Any, alone: Any, rows: Any) -> bool:
    """Whether a batch through ``rows`` gives each text the bits it gets alone (checked on a
    few texts of each token length, as a run uses them)."""
    names = [i.name for i in alone.get_inputs()]
    by_length: dict[int, list[dict[str, Any]]] = {}
    for text in ("hope", "care", "staff", "Nobody listened to me.", "The ward felt safe.",
                 "I felt hopeful again.", "We cooked together.", "Staff were kind."):
        features = token_offsets(model, text)[0]
        by_length.setdefault(features["input_ids"].shape[1], []).append(features)
    for features in (batch for batch in by_length.values() if len(batch) > 1):
        try:
            together = rows.run(None, {k: np.concatenate([f[k] for f in features])
                                       for k in names})[0]
        except Exception:  # noqa: BLE001 - any failure means: do not batch
            return False
        for feature, mine in zip(features, together):
            if not np.array_equal(alone.run(None, {k: feature[k] for k in names})[0][0], mine):
                return False
    return True


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


def _write_rows_model(source: Path, target: Path) -> None:
    """Write :func:`_rows_model` of the int8 model in ``source`` to ``target`` (through a
    temporary file, so a crash never leaves half a model); nothing when its graph is not the
    one quantize_dynamic makes, or without the onnx package: texts then run one at a time."""
    if importlib.util.find_spec("onnx") is None:
        return
    import onnx

    rows = _rows_model(onnx.load(str(source)))
    if rows is None:
        logger.info("%s: not batching texts (unexpected graph)", source)
        return
    with tempfile.NamedTemporaryFile(dir=target.parent, prefix=f".{target.name}-",
                                     delete=False) as handle:
        try:
            handle.write(rows.SerializeToString())
            handle.close()
            os.replace(handle.name, target)
        finally:
            with contextlib.suppress(OSError):
                os.unlink(handle.name)  # gone already where it was renamed into place


def _rows_model(model: Any) -> Any:
    """The int8 model with each text of a batch quantised by its own range, or None.

    Dynamic quantisation scales a layer's input by the range of the whole tensor, so in a
    batch texts would change each other's vectors. Here each DynamicQuantizeLinear computes
    its scale and zero point per text (axes 1 and 2 of a [texts, tokens, features] input),
    with the same float operations, and each MatMulInteger takes the zero point off
    afterwards (an exact integer correction: the zero point times the weights' column sums).
    A batch of texts of one token length (no padding) then gives each text the bits it gets
    alone; the unit tests check that.
    """
    from onnx import TensorProto, helper, numpy_helper

    graph = model.graph
    weights = {w.name: w for w in graph.initializer}
    quantised = {n.output[2]: n.name for n in graph.node if n.op_type == "DynamicQuantizeLinear"}
    added = [numpy_helper.from_array(np.array(v, dtype=np.float32), f"themesift/{k}")
             for k, v in (("0", 0.0), ("1", 1.0), ("255", 255.0))]
    added.append(numpy_helper.from_array(np.array([-1], dtype=np.int64), "themesift/flat"))
    nodes = []
    for node in graph.node:
        if node.op_type == "DynamicQuantizeLinear":
            (x,), (x_q, scale, zero), t = node.input, node.output, node.name
            nodes += [
                helper.make_node("ReduceMin", [x], [t + "/min"], axes=[1, 2], keepdims=1),
                helper.make_node("ReduceMax", [x], [t + "/max"], axes=[1, 2], keepdims=1),
                helper.make_node("Min", [t + "/min", "themesift/0"], [t + "/low"]),
                helper.make_node("Max", [t + "/max", "themesift/0"], [t + "/high"]),
                helper.make_node("Sub", [t + "/high", t + "/low"], [t + "/range"]),
                helper.make_node("Div", [t + "/range", "themesift/255"], [t + "/step"]),
                helper.make_node("Equal", [t + "/high", t + "/low"], [t + "/flat?"]),
                helper.make_node("Where", [t + "/flat?", "themesift/1", t + "/step"], [scale]),
                helper.make_node("Div", [t + "/low", scale], [t + "/low/scale"]),
                helper.make_node("Sub", ["themesift/0", t + "/low/scale"], [t + "/zero"]),
                helper.make_node("Clip", [t + "/zero", "themesift/0", "themesift/255"],
                                 [t + "/clipped"]),
                helper.make_node("Round", [t + "/clipped"], [t + "/rounded"]),
                helper.make_node("Cast", [t + "/rounded"], [zero], to=TensorProto.UINT8),
                helper.make_node("Cast", [zero], [t + "/zero32"], to=TensorProto.INT32),
                helper.make_node("Reshape", [scale, "themesift/flat"], [t + "/scales"]),
                helper.make_node("Reshape", [zero, "themesift/flat"], [t + "/zeros"]),
                helper.make_node("QuantizeLinear", [x, t + "/scales", t + "/zeros"], [x_q],
                                 axis=0),
            ]
        elif node.op_type == "MatMulInteger":
            x_q, w, x_zero, w_zero = (list(node.input) + [""] * 4)[:4]
            if x_zero not in quantised or w not in weights or w_zero not in weights:
                return None
            w_int = numpy_helper.to_array(weights[w]).astype(np.int64)
            if numpy_helper.to_array(weights[w_zero]).any() or w_int.ndim != 2:
                return None  # symmetric int8 weights only, as quantize_dynamic makes them
            t = node.name
            added.append(numpy_helper.from_array(w_int.sum(axis=0).astype(np.int32), t + "/sums"))
            nodes += [
                helper.make_node("MatMulInteger", [x_q, w, "", w_zero], [t + "/raw"]),
                helper.make_node("Mul", [quantised[x_zero] + "/zero32", t + "/sums"],
                                 [t + "/offset"]),
                helper.make_node("Sub", [t + "/raw", t + "/offset"], list(node.output)),
            ]
        else:
            nodes.append(node)
    del graph.node[:]
    graph.node.extend(nodes)
    graph.initializer.extend(added)
    return model


class OnnxModel:
    """Quacks like the SentenceTransformer for what the Embedder uses: tokenize, encode,
    max_seq_length and the dimension. Mean pooling and L2 normalisation as the model's
    Pooling and Normalize modules do (normalising is harmless for a model without one: the
    cosine is what themesift uses)."""

    def __init__(self, model: Any, session: Any, rows: Any = None) -> None:
        self._model = model
        self._session = session
        self._rows = rows  # the session of _rows_model, or None: every text alone
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
        return self.encode_with_states(texts)[0]

    def encode_with_states(self, texts: list[str]) -> tuple[np.ndarray, list[States]]:
        """The texts' vectors and each text's token states.

        A text's vector never depends on what it is embedded with: short texts of one token
        length run together through the model that quantises each text by its own range (no
        padding, so the same bits as alone; single words in 60% of the time), others alone. Each run uses one core, and as many run at once as
        there are cores (on 2 cores about 1.7 times the throughput of one). The tokenizer is
        not thread-safe, so texts are tokenised first.
        """
        if self._lower_case:  # what sentence-transformers does for such models
            texts = [text.lower() for text in texts]
        tokenised = [token_offsets(self._model, text) for text in texts]
        by_length: dict[int, list[int]] = {}
        for i, (features, _) in enumerate(tokenised):
            by_length.setdefault(features["input_ids"].shape[1], []).append(i)
        runs = []
        for length, members in by_length.items():
            size = 1
            if self._rows is not None and length <= _BATCHED_LENGTH:
                size = min(_MAX_ROWS, _MAX_BATCH_TOKENS // length)
            runs += [members[start:start + size] for start in range(0, len(members), size)]
        runs.sort(key=lambda run: -len(run) * tokenised[run[0]][0]["input_ids"].shape[1])

        def run(members: list[int]) -> np.ndarray:
            session = self._session if len(members) == 1 else self._rows
            feed = {k: np.concatenate([tokenised[i][0][k] for i in members]) for k in self._inputs}
            return session.run(None, feed)[0]

        if self._workers > 1 and len(runs) > 1:
            if self._pool is None:
                from concurrent.futures import ThreadPoolExecutor

                self._pool = ThreadPoolExecutor(self._workers, thread_name_prefix="themesift-onnx")
            outputs = list(self._pool.map(run, runs))
        else:
            outputs = [run(members) for members in runs]
        hidden: list[Any] = [None] * len(texts)
        for members, output in zip(runs, outputs):
            for i, states in zip(members, output):
                hidden[i] = states
        states = [States(h, offsets) for h, (_, offsets) in zip(hidden, tokenised)]
        pooled = np.vstack([s.tokens.mean(axis=0) for s in states])  # no padding: all tokens
        return pooled / np.maximum(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12), states


def _cpu_count() -> int:
    """The cores this process may use."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1
