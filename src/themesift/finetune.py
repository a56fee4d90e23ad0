"""Opt-in fine-tuning of the embedding model on an analyst's coded examples (SetFit-style).

``fine_tune(examples, framework, embedder=emb)`` returns an :class:`Embedder` whose model has
been trained so that texts coded with the same theme sit closer together and texts of
different themes further apart; pass it to :func:`suggest_units` with the same examples, which
the learner then uses as usual::

    tuned = ts.fine_tune(examples, fw, embedder=emb)
    print(tuned.fine_tuning.describe())      # how long it took, where the model is kept
    usugg = ts.suggest_units(units, fw, embedder=tuned, examples=examples)

How: contrastive pairs as in SetFit (Tunstall et al., 2022). The texts are the coded examples
and every text of the framework (each "name: description", indicator, example and subtheme,
as scoring uses them, so they move with the examples). A text rejected for a theme is paired
with that theme's description (target cosine 0; at most a quarter of the pairs); then each
text in turn, round after round with the coded examples first in each round, is paired with
one of its theme (1) and one of another theme (0), ``PAIRS_PER_TEXT`` pairs a text and at
most ``max_pairs`` in all. One pass of the cosine-similarity loss (``themesift.embed``'s
``fine_tuned``: texts cut to 64 tokens while training, the model kept in the models folder
under a hash of the base model, the pairs' inputs and the settings, so the same examples
never train twice; its vectors get a cache file of their own). About 20 pairs a second on
two quiet CPU cores, so the default 1,024 pairs take about a minute.

Measured on the benchmark suite it does not beat the learner on the base model (README,
"Quality"), so it is opt-in.
"""

from __future__ import annotations

import numpy as np

from .errors import InputError
from .model import NONE_THEME, Framework

PAIRS_PER_TEXT = 8
MAX_PAIRS = 1024


def fine_tune(examples, framework: Framework | str = "recovery", *, embedder=None,
              seed: int = 0, max_pairs: int | None = None):
    """An :class:`Embedder` on a copy of ``embedder``'s model fine-tuned on ``examples``.

    Parameters
    ----------
    examples:
        DataFrame with ``text`` and ``theme_id`` (and optionally ``rejected``), as for
        :func:`suggest_units`; rows coded ``none`` teach nothing here (none is no theme).
    framework:
        The framework the examples are coded with (a :class:`Framework`, built-in name or
        YAML path); its texts train with the examples, so one coded example is enough.
    embedder:
        The :class:`Embedder` whose model is tuned (default: the ``fast`` profile). Its cache
        folder and device are kept; the tuned model runs with PyTorch.
    seed:
        Seed for the pairs and the training.
    max_pairs:
        At most this many pairs (default ``MAX_PAIRS``; training time grows with them).

    Returns
    -------
    Embedder
        With ``.fine_tuning``, a :class:`FineTuning`: ``seconds``, ``pairs``, ``examples``,
        ``path``, ``reused`` and ``describe()``.

    Examples
    --------
    >>> tuned = ts.fine_tune(coded, "recovery", embedder=emb)       # doctest: +SKIP
    >>> print(tuned.fine_tuning.describe())                           # doctest: +SKIP
    Fine-tuned the embedding model on 40 coded examples (1024 pairs) in 52.3 s; kept in ...
    """
    from .embed import Embedder, fine_tuned
    from .frameworks import load_framework
    from .propose import check_examples, framework_texts

    max_pairs = MAX_PAIRS if max_pairs is None else max_pairs
    if isinstance(max_pairs, bool) or not isinstance(max_pairs, (int, np.integer)) \
            or max_pairs < 1:
        raise InputError(f"max_pairs must be a whole number of 1 or more; got {max_pairs!r}")
    max_pairs = int(max_pairs)
    framework = framework if isinstance(framework, Framework) else load_framework(framework)
    coded = check_examples(examples, framework)
    if not coded:
        raise InputError("The examples table has no rows", fix="Give units an analyst has coded "
                         "(columns text and theme_id), one row per unit and theme")
    themed = sorted({(text, theme) for text, theme, no in coded if not no and theme != NONE_THEME})
    if not themed:
        raise InputError("Fine-tuning needs at least one example coded with a theme; these "
                         "examples have none (only 'none' or rejected rows)",
                         fix="Code some units with a theme first, or suggest without fine-tuning")
    rejected = sorted({(text, theme) for text, theme, no in coded if no})
    texts, kinds, owner = framework_texts(framework)
    own = [(text, framework.theme_ids[j]) for text, j in zip(texts, owner)]
    descriptions = {theme: text for (text, theme), kind in zip(own, kinds) if kind == "description"}
    pairs = _pairs(themed, own, rejected, descriptions, max_pairs, np.random.default_rng(seed))
    return fine_tuned(embedder if embedder is not None else Embedder(), pairs,
                      examples=len({text for text, _ in themed}), seed=seed,
                      key=[themed, own, rejected, PAIRS_PER_TEXT, max_pairs])


def _pairs(examples: list[tuple[str, str]], framework: list[tuple[str, str]],
           rejected: list[tuple[str, str]], descriptions: dict[str, str], max_pairs: int, rng
           ) -> list[tuple[str, str, float]]:
    """SetFit's pairs: each rejection against its theme's description (0.0), at most a
    quarter of ``max_pairs``; then each text in turn, round after round (the coded examples
    first in each round, so they always have pairs), with one text of its theme (1.0) and one
    of another theme (0.0), ``PAIRS_PER_TEXT`` a text, within ``max_pairs`` in all."""
    out = [(text, descriptions[theme], 0.0) for text, theme in rejected
           if theme in descriptions][:max_pairs // 4]
    themes: dict[str, set[str]] = {}
    for text, theme in examples + framework:
        themes.setdefault(text, set()).add(theme)
    names = list(themes)
    coded = list(dict.fromkeys(text for text, _ in examples))
    known = set(coded)
    others = [t for t in names if t not in known]
    anchors = ([coded[i] for i in rng.permutation(len(coded))]
               + [others[i] for i in rng.permutation(len(others))])
    same = {a: [t for t in names if t != a and themes[t] & themes[a]] for a in names}
    other = {a: [t for t in names if not themes[t] & themes[a]] for a in names}
    budget = min(max_pairs - len(out), PAIRS_PER_TEXT * len(anchors))
    for i in range(budget):
        # Each round gives every anchor a pair of its theme, then one of another.
        anchor = anchors[(i // 2) % len(anchors)]
        positive = (i % 2 == 0 and bool(same[anchor])) or not other[anchor]
        pool = same[anchor] if positive else other[anchor]
        if pool:
            out.append((anchor, pool[rng.integers(len(pool))], 1.0 if positive else 0.0))
    return out
