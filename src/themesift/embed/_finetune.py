"""Fine-tuning the embedding model on pairs of texts (see :mod:`themesift.finetune`): trained
once per set of pairs and settings, kept in the models folder, run with PyTorch."""

from __future__ import annotations

import hashlib
import json
import logging
import os
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ._files import dist_version, models_dir, remove_stale_temporaries
from ..errors import InputError
from ..text import counted
from ._model import check_device, library_progress_bars_off

logger = logging.getLogger(__name__)

TRAIN_TOKENS = 64
BATCH = 16
LEARNING_RATE = 2e-5
#: The version of how the training pairs are made and trained on (themesift.finetune's
#: pairs, this module's training): part of a fine-tuned model's key, so that a change
#: trains anew instead of reusing a model made the old way.
RECIPE = 2
_MARKER = "themesift-fine-tune.json"


@dataclass(frozen=True)
class FineTuning:
    """What a fine-tuning did: ``seconds`` it took to train (when the model was made, if it
    was reused), the ``pairs`` and coded ``examples`` it learned from, where the model is, and
    whether it was ``reused`` from an earlier call with the same inputs."""

    seconds: float
    pairs: int
    examples: int
    path: Path
    reused: bool

    def describe(self) -> str:
        """One line for a person."""
        if self.reused:
            return (f"Reused the model fine-tuned on these {counted(self.examples, 'coded example')} "
                    f"({self.pairs} pairs; training took {self.seconds:.1f} s) from {self.path}")
        return (f"Fine-tuned the embedding model on {counted(self.examples, 'coded example')} "
                f"({self.pairs} pairs) in {self.seconds:.1f} s; kept in {self.path} for these "
                "examples")


def fine_tuned(base: Any, pairs: list[tuple[str, str, float]], *, examples: int, seed: int,
               key: Any) -> Any:
    """An Embedder on ``base``'s model trained on ``pairs`` (text, text, target cosine): one
    pass of the cosine-similarity loss, texts cut to ``TRAIN_TOKENS`` tokens while training.
    Kept in ``models_dir()/fine-tuned/<sha256 of the base model, key and settings>`` and
    reused from there; the Embedder's ``fine_tuning`` says how long it took."""
    from ._embedder import Embedder

    info = base.info()
    settings = {"tokens": TRAIN_TOKENS, "batch": BATCH, "lr": LEARNING_RATE, "seed": seed,
                # RECIPE: raise it when how the pairs are made or trained on changes
                "recipe": RECIPE, "device": str(base.device or "cpu").split(":")[0],
                "torch": dist_version("torch"),
                "sentence_transformers": dist_version("sentence-transformers")}
    digest = hashlib.sha256(json.dumps(
        [info["model_id"], info.get("weights_sha256"), key, settings],
        ensure_ascii=False).encode("utf-8")).hexdigest()[:20]
    target = models_dir() / "fine-tuned" / digest
    if (target / _MARKER).is_file():
        made = json.loads((target / _MARKER).read_text(encoding="utf-8"))
        done = FineTuning(made["seconds"], made["pairs"], examples, target, reused=True)
    else:
        logger.info("Fine-tuning the embedding model on %s (%d pairs)",
                    counted(examples, "coded example"), len(pairs))
        check_device(base.device or "cpu")
        try:
            seconds = _build(base, pairs, seed, target, {
                "pairs": len(pairs), "examples": examples, "base": info["model_id"], **settings})
        except OSError as exc:
            raise InputError(f"Could not write the fine-tuned model ({exc.strerror or exc})",
                             path=target.parent, fix="Set THEMESIFT_MODELS_DIR to a folder you "
                             "can write to") from exc
        done = FineTuning(seconds, len(pairs), examples, target, reused=False)
    logger.info("%s", done.describe())
    tuned = Embedder(target, cache_dir=base.cache_dir, batch_size=base.batch_size,
                     device=base.device, quiet=base.quiet, backend="torch")
    tuned.fine_tuning = done
    return tuned


def _build(base: Any, pairs: list[tuple[str, str, float]], seed: int, target: Path,
           marker: dict[str, Any]) -> float:
    """Train and save into ``target`` (built in a temporary folder and renamed, so a crash
    never leaves half a model); the seconds training took."""
    target.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_temporaries(target)
    with tempfile.TemporaryDirectory(prefix=f".{target.name}-", dir=target.parent) as tmp:
        started = time.perf_counter()
        model = _train(str(base._resolve().path), base.device or "cpu", pairs, seed)
        seconds = round(time.perf_counter() - started, 1)
        built = Path(tmp) / "model"
        with library_progress_bars_off():
            model.save(str(built))
        (built / _MARKER).write_text(json.dumps({"seconds": seconds, **marker}, indent=1) + "\n",
                                     encoding="utf-8")
        try:
            os.rename(built, target)
        except OSError:
            if not (target / _MARKER).is_file():  # else another process finished first
                raise
    return seconds


def _train(path: str, device: str, pairs: list[tuple[str, str, float]], seed: int) -> Any:
    import torch
    from sentence_transformers import SentenceTransformer

    torch.manual_seed(seed)
    with library_progress_bars_off():  # a fresh copy: the shared, loaded one stays as it is
        model = SentenceTransformer(path, device=device, local_files_only=True)
    full_length = model.max_seq_length
    model.max_seq_length = min(TRAIN_TOKENS, full_length)
    optimiser = torch.optim.AdamW(model.parameters(), lr=LEARNING_RATE)
    order = np.random.default_rng(seed).permutation(len(pairs))
    model.train()
    for start in range(0, len(order), BATCH):
        batch = [pairs[i] for i in order[start:start + BATCH]]
        a = model(_features(model, [p[0] for p in batch]))["sentence_embedding"]
        b = model(_features(model, [p[1] for p in batch]))["sentence_embedding"]
        target = torch.tensor([p[2] for p in batch], dtype=a.dtype, device=a.device)
        loss = torch.nn.functional.mse_loss(torch.cosine_similarity(a, b), target)
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
    model.eval()
    model.max_seq_length = full_length
    return model


def _features(model: Any, texts: list[str]) -> dict[str, Any]:
    features = getattr(model, "preprocess", model.tokenize)(texts)
    return {k: v.to(model.device) for k, v in features.items() if hasattr(v, "to")}
