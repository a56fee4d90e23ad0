"""Hand-made pipeline results for tests of the store, the review sheet and the widget.

They stand in for a real run (no spaCy, no model), so those tests stay fast and exact.
"""

import dataclasses
import hashlib

import pandas as pd

from themesift.model import CandidateCodes, Corpus, Transcript
from themesift.pipeline import PipelineResult

THEMES = ["relationships", "hope", "structural_tension", "symptoms_barrier"]


def make_corpus(text="P1: hello there"):
    """One transcript "t1" with a content hash, as the store needs."""
    return Corpus([Transcript("t1", text, (), {"sha256": hashlib.sha256(text.encode()).hexdigest(),
                                                 "path": "t1.txt", "format": "txt"})])


def fake_result(corpus, framework, *, scores, codes, speaker=lambda i: "P1", n_exemplars=1,
                unit_theme=lambda i: THEMES[i % 4]):
    """Units u0..u{n-1} of the corpus' first transcript, unit i suggested ``unit_theme(i)``
    (THEMES[i % 4]) with ``scores[i] = (score, runner_up_score)``; ``codes`` maps code ids to
    unit positions, code k suggested THEMES[k % 4]."""
    doc = corpus[0]
    units = pd.DataFrame([{"unit_id": f"u{i}", "doc_id": doc.id, "speaker": speaker(i),
                           "role": "participant", "turn": i, "start": i, "end": i + 1,
                           "text": f"unit {i} text"} for i in range(len(scores))])
    table = pd.DataFrame([{"code_id": c, "label": f"label {c}", "keywords": "a | b",
                           "size": len(m), "n_speakers": 1, "n_transcripts": 1,
                           "exemplar_ids": " | ".join(f"u{i}" for i in m[:n_exemplars]),
                           "exemplars": " | ".join(f"unit {i} text" for i in m[:n_exemplars]),
                           "cohesion": 0.5} for c, m in codes.items()])
    assignments = pd.DataFrame([{"unit_id": f"u{i}", "code_id": c, "distance": 0.1,
                                 "outlier": False} for c, m in codes.items() for i in m])
    suggestions = pd.DataFrame([{"code_id": c, "label": f"label {c}", "size": len(m),
                                 "theme_id": THEMES[k % 4], "score": 0.8, "runner_up": "hope",
                                 "runner_up_score": 0.1, "rationale": f"why {c}"}
                                for k, (c, m) in enumerate(codes.items())])
    unit_suggestions = pd.DataFrame([{"unit_id": f"u{i}", "theme_id": unit_theme(i),
                                      "score": s, "runner_up": "none", "runner_up_score": r,
                                      "rationale": f"why u{i}"} for i, (s, r) in enumerate(scores)])
    return PipelineResult(corpus, framework, units, CandidateCodes(table, assignments),
                          suggestions, unit_suggestions, {"fake": True})


def agreeing(codes):
    """``unit_theme`` for :func:`fake_result` where every member is suggested its code's theme
    (code k: THEMES[k % 4]), so that accepting a code codes all its members."""
    theme_of = {i: THEMES[k % 4] for k, members in enumerate(codes.values()) for i in members}
    return lambda i: theme_of.get(i, THEMES[i % 4])


def make_corpus_of(answers):
    """Several transcripts from ``{doc_id: [(speaker, words), ...]}``, in that (interview) order."""
    transcripts = []
    for doc_id, turns in answers.items():
        text = "Moderator: What helps?\n\n" + "\n\n".join(f"{s}: {w}" for s, w in turns)
        transcripts.append(Transcript(doc_id, text, (), {
            "sha256": hashlib.sha256(text.encode()).hexdigest(), "path": f"{doc_id}.txt",
            "format": "txt"}))
    return Corpus(transcripts)


def result_of(corpus, framework, answers, *, codes, themes, code_themes):
    """A pipeline result whose units are the answers of ``make_corpus_of(answers)``.

    Units are u0, u1, ... in transcript order, each found at its place in its transcript;
    unit i is suggested ``themes[i]``; ``codes`` maps code ids to unit positions and
    ``code_themes`` code ids to their suggested theme.
    """
    rows = []
    for doc_id, turns in answers.items():
        text, position = corpus[doc_id].text, 0
        for speaker, words in turns:
            start = text.index(words, position)
            position = start + len(words)
            rows.append({"unit_id": f"u{len(rows)}", "doc_id": doc_id, "speaker": speaker,
                         "role": "participant", "turn": len(rows), "start": start,
                         "end": position, "text": words})
    result = fake_result(corpus, framework, scores=[(0.7, 0.2)] * len(rows), codes=codes)
    unit_suggestions = result.unit_suggestions.assign(theme_id=list(themes))
    suggestions = result.suggestions.assign(theme_id=[code_themes[c] for c in codes])
    return dataclasses.replace(result, units=pd.DataFrame(rows), suggestions=suggestions,
                               unit_suggestions=unit_suggestions)
