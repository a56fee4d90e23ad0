"""The data objects of model.py, and their conversion to and from the pipeline's tables."""

import numpy as np
import pandas as pd
import pytest

import themesift as ts
from themesift.model import (UNIT_COLUMNS, CandidateCode, CandidateCodes, Decision, MeaningUnit,
                             Run, Suggestion)


def test_meaning_units_round_trip_through_their_table():
    units = pd.DataFrame([["fg1-a", "fg1", "P1", "participant", 0, 4, 30, "We trust each other."]],
                         columns=UNIT_COLUMNS)
    (unit,) = MeaningUnit.from_frame(units)
    assert unit.text == "We trust each other." and unit.end == 30
    pd.testing.assert_frame_equal(MeaningUnit.to_frame([unit]), units)


def test_candidate_codes_read_their_joined_cells_as_tuples_and_back():
    table = pd.DataFrame([{"code_id": "C01", "label": "the waiting list", "size": 2,
                           "keywords": "waiting | list", "exemplar_ids": "u1 | u2",
                           "exemplars": "Two years. | Still waiting.", "cohesion": 0.4}])
    codes = CandidateCodes(table, pd.DataFrame({"unit_id": ["u1", "u2"], "code_id": "C01"}))
    (code,) = codes.codes
    assert code == CandidateCode("C01", "the waiting list", ("waiting", "list"), 2,
                                 ("u1", "u2"), ("Two years.", "Still waiting."))
    back = CandidateCode.to_frame([code])
    assert back.to_dict("records") == table.drop(columns="cohesion")[back.columns].to_dict(
        "records")


def test_suggestions_read_from_every_suggestion_table():
    units = pd.DataFrame({"unit_id": ["u1"], "theme_id": ["hope"], "score": [0.8],
                          "runner_up": ["none"], "rationale": ["Close to 'hope'."]})
    codes = units.rename(columns={"unit_id": "code_id"}).assign(code_id="C01")
    run = pd.DataFrame({"suggestion_id": ["code:run-1:C01"], "level": ["code"],
                        "item_id": ["C01"], "text": ["..."], "theme_id": ["hope"],
                        "score": [0.8], "runner_up": [None], "rationale": [""]})
    (unit,), (code,), (stored,) = map(Suggestion.from_frame, (units, codes, run))
    assert (unit.level, unit.item_id, unit.suggestion_id) == ("unit", "u1", "")
    assert (code.level, code.item_id, code.theme_id) == ("code", "C01", "hope")
    assert stored.suggestion_id == "code:run-1:C01" and stored.runner_up is None
    assert list(Suggestion.to_frame([unit])["item_id"]) == ["u1"]


def test_decisions_read_from_a_study(tmp_path, monkeypatch):
    from test_export_qdpx import make_corpus, make_result

    from themesift import pipeline

    monkeypatch.setattr(pipeline, "run_pipeline",
                        lambda corpus, framework, **kwargs: make_result(corpus, framework))
    with ts.Study.open(tmp_path / "study") as study:
        run = study.run(make_corpus())
        assert isinstance(run, Run) and ts.Run is Run
        study.decide("unit:u1", "reassign", theme_id="hope", analyst="KJ", note="Hope, clearly")
        (decision,) = Decision.from_frame(study.decisions)
    assert (decision.action, decision.theme_id, decision.analyst, decision.note) == (
        "reassign", "hope", "KJ", "Hope, clearly")
    assert decision.run_id == run.id and decision.suggestion_id == "unit:u1"
    assert list(Decision.to_frame([decision]).columns) == list(study.decisions.columns)


def test_empty_cells_read_from_a_csv_are_the_fields_defaults(tmp_path):
    pd.DataFrame({"code_id": ["C01"], "label": ["waiting"], "keywords": [""], "size": [3],
                  "exemplar_ids": ["u1"], "exemplars": ["Two years."]}).to_csv(
        tmp_path / "codes.csv", index=False)
    (code,) = CandidateCode.from_frame(pd.read_csv(tmp_path / "codes.csv"))
    assert code.keywords == () and code.exemplars == ("Two years.",)
    units = pd.DataFrame({"unit_id": ["u1"], "theme_id": ["none"], "score": [0.9],
                          "runner_up": [np.nan], "rationale": [np.nan]})
    (unit,) = Suggestion.from_frame(units)
    assert unit.runner_up is None and unit.rationale == ""


def test_a_table_without_a_needed_column_is_told_which():
    with pytest.raises(ts.InputError, match=r"A table of Decision rows needs the column\(s\) "
                                            r"time, analyst"):
        Decision.from_frame(pd.DataFrame({"id": [1], "suggestion_id": ["unit:u1"],
                                          "run_id": ["r"], "action": ["accept"]}))


def test_a_codes_members_its_theme_is_suggested_for_come_first():
    from themesift.model import agreeing_first

    own = {"u1": "hope", "u2": "relationships", "u3": "relationships"}
    assert agreeing_first(["u1", "u2", "u3", "u4"], own, "relationships") == [1, 2, 0, 3]
    assert agreeing_first(["u1", "u2"], own, "none") == [0, 1]
    assert agreeing_first([], own, "hope") == []


@pytest.mark.parametrize("given, meant", [
    ("Structual tension", "structural_tension"), ("relationship", "relationships"),
    ("hopeful", "hope"),  # near the id
    ("symptoms", "symptoms_barrier"), ("structural", "structural_tension"),  # a word of one
    ("barrier", "symptoms_barrier"),
    ("the", None), ("care", None), ("xyz", None),
])
def test_a_decision_near_a_theme_or_a_word_of_one_gets_a_did_you_mean(given, meant):
    # "emotional" for "Emotional burden" got no "did you mean", though the README promises
    # one for a near miss.
    import themesift as ts

    assert ts.load_framework("recovery").closest_theme(given) == meant
