"""The sentences of a text, and the vectors of stretches of a text pooled from the token states
of the text's own forward pass ("late chunking", see the package docstring)."""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")
_SENTENCE_MIN_WORDS = 3


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


@dataclass(frozen=True)
class States:
    """One text's token states from its forward pass, and each token's character offsets."""

    tokens: np.ndarray  # (n_tokens, dimension)
    offsets: np.ndarray  # (n_tokens, 2) into the text; (0, 0) for special tokens


def pool_sentences(text: str, states: States | None,
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
