"""The Jupyter review widget, driven from Python: buttons are clicked and the store is checked."""

import builtins
import hashlib

import pandas as pd
import pytest

pytest.importorskip("ipywidgets")

import themesift as ts  # noqa: E402
from themesift import pipeline as pipeline_module  # noqa: E402
from themesift.model import Corpus, Transcript  # noqa: E402
from themesift.review import widget as widget_module  # noqa: E402
from themesift.review.widget import ReviewWidget, review  # noqa: E402
from themesift.study import Study  # noqa: E402

import fakes  # noqa: E402

THEMES = ["relationships", "hope", "structural_tension", "symptoms_barrier"]
# Unit i: score and runner-up score, so margins are 0.5, 0.1, 0.3, 0.05, 0.2 (u3 most uncertain).
UNIT_SCORES = [(0.7, 0.2), (0.5, 0.4), (0.6, 0.3), (0.45, 0.4), (0.6, 0.4)]
CODES = {"C01": [0, 1], "C02": [2, 3, 4]}  # C02 is the larger code: reviewed first


def fake_result(corpus, framework, **kwargs):
    return fakes.fake_result(corpus, framework, scores=UNIT_SCORES, codes=CODES,
                             speaker=lambda i: f"P{i}", n_exemplars=99)


@pytest.fixture
def study(tmp_path, monkeypatch):
    monkeypatch.setattr(pipeline_module, "run_pipeline",
                        lambda corpus, framework, **kw: fake_result(corpus, framework))
    text = "P1: hello there"
    corpus = Corpus([Transcript("t1", text, (), {"sha256": hashlib.sha256(text.encode())
                                                 .hexdigest(), "path": "t1.txt",
                                                 "format": "txt"})])
    with Study.open(tmp_path / "s") as s:
        s.run(corpus)
        yield s


def test_review_order_codes_largest_first_then_units_by_margin(study):
    w = review(study)
    run_id = w.run_id
    assert w.queue == [f"code:{run_id}:C02", f"code:{run_id}:C01",
                       "unit:u3", "unit:u1", "unit:u4", "unit:u2", "unit:u0"]
    assert w.current["suggestion_id"] == f"code:{run_id}:C02"
    assert w.progress.value == f"0 of {len(w.queue)} decided"
    assert not w.done


def test_shows_quotes_speaker_transcript_theme_score_runner_up_rationale(study):
    w = review(study)
    assert "label C02" in w.quote.value and "3 units" in w.quote.value
    for i in CODES["C02"]:  # the code's exemplar quotes, with speaker and transcript
        assert f"unit {i} text" in w.quote.value and f"P{i}" in w.quote.value
    assert "transcript t1" in w.quote.value
    assert "hope" in w.suggestion.value.lower() and "0.80" in w.suggestion.value
    assert "runner-up" in w.suggestion.value and "why C02" in w.suggestion.value
    # none of C02's members (u2-u4) is suggested hope on its own: accepting codes none of them
    assert "Accepting codes 0 of its 3 units" in w.suggestion.value
    w.accept()
    assert "Coded 0 of the code&#x27;s 3 units" in w.message.value
    assert "3 other members stay to be decided one by one" in w.message.value
    w.accept()
    assert w.current["suggestion_id"] == "unit:u3"
    assert "unit 3 text" in w.quote.value and "P3" in w.quote.value
    assert "0.45" in w.suggestion.value and "why u3" in w.suggestion.value


def test_buttons_write_decisions_with_analyst_and_note(study):
    w = review(study, analyst="KJ")
    run_id = w.run_id
    w.note.value = "big code, clearly hope"
    w.accept_button.click()
    assert w.note.value == ""  # cleared for the next one
    assert w.progress.value == "1 of 7 decided"
    w.analyst.value = "AB"
    w.reject_button.click()
    w.reassign_dropdown.value = "structural_tension"
    w.note.value = "about the system"
    w.reassign_button.click()
    assert w.progress.value == "3 of 7 decided"
    d = study.decisions
    assert d[["suggestion_id", "action", "theme_id", "analyst", "note"]].values.tolist() == [
        [f"code:{run_id}:C02", "accept", "hope", "KJ", "big code, clearly hope"],
        [f"code:{run_id}:C01", "reject", "relationships", "AB", ""],
        ["unit:u3", "reassign", "structural_tension", "AB", "about the system"],
    ]
    assert w.current["suggestion_id"] == "unit:u1"


def test_skip_decides_nothing_and_comes_back_last(study):
    w = review(study)
    first = w.current["suggestion_id"]
    w.skip_button.click()
    assert study.decisions.empty
    assert w.progress.value == "0 of 7 decided"
    accepted = 0
    while w.current["suggestion_id"] != first:
        w.accept()
        accepted += 1
    assert accepted == 5  # one member of an accepted code was coded by it: not asked again
    assert w.current["suggestion_id"] == first  # the skipped one comes back at the end
    w.reject()
    assert w.done


def test_reassign_dropdown_lists_framework_themes_and_none(study):
    w = review(study)
    ids = [value for _, value in w.reassign_dropdown.options]
    assert ids == [*ts.load_framework("recovery").theme_ids, "none"]
    labels = [label for label, _ in w.reassign_dropdown.options]
    assert any("Relationships" in label for label in labels)  # names, not just ids


def test_already_decided_suggestions_are_skipped_by_a_new_widget(study):
    w = review(study, analyst="KJ")
    w.accept(), w.reject(), w.reassign("none")
    again = review(study)
    assert again.current["suggestion_id"] == "unit:u1"
    assert again.progress.value == "3 of 7 decided"
    # A decision made elsewhere (another notebook) meanwhile is not asked again either.
    study.decide("unit:u4", "accept", analyst="other")
    again.accept()  # u1
    assert again.current["suggestion_id"] == "unit:u2"
    assert again.progress.value == "5 of 7 decided"


def test_units_a_code_decision_coded_elsewhere_are_not_asked(study):
    w = review(study, analyst="KJ")
    study.decide(f"code:{w.run_id}:C01", "accept", analyst="other")  # another notebook
    asked = []
    while not w.done:
        asked.append(w.current["item_id"])
        w.accept()
    # C01 coded u0, whose own suggestion is its theme; u1 (hope) stays to be decided
    assert study.coding().set_index("unit_id")["source"]["u0"] == "code"
    assert "u0" not in asked and "C01" not in asked and "u1" in asked


def test_a_click_reads_only_the_decisions_made_since_the_last(study, monkeypatch):
    # At 10,000 decisions, reading them all took 20-50 ms a click.
    w = review(study)
    study.decide("unit:u4", "accept", analyst="other")
    monkeypatch.setattr(Study, "decisions", property(lambda self: pytest.fail("read them all")))
    seen = []
    since = Study.decided_since
    monkeypatch.setattr(Study, "decided_since",
                        lambda self, after: seen.append(after) or since(self, after))
    first = w.accept()
    w.accept()
    # each look (before recording, and after) starts after the last decision it took in
    assert seen == [0, first - 1, first, first]
    assert w.n_decided == 4  # two codes, u4 decided elsewhere, and a member the code coded


def test_done_state_and_message(study):
    w = review(study)
    while not w.done:
        w.accept_button.click()
    assert w.current is None
    assert w.progress.value == "7 of 7 decided"
    assert "All 7 suggestions decided" in w.message.value
    assert len(study.decisions) == 6  # a member an accepted code coded needs no decision
    with pytest.raises(ts.InputError, match="decided already"):
        w.accept()
    assert "All 7 suggestions decided" in review(study).message.value


def test_a_refused_decision_shows_a_message_and_stays(study, monkeypatch):
    w = review(study)
    before = w.current["suggestion_id"]

    def refuse(*args, **kwargs):
        raise ts.InputError("Unknown theme 'x'")

    monkeypatch.setattr(study, "decide", refuse)
    w.accept_button.click()  # no exception escapes into the notebook
    assert "Unknown theme" in w.message.value
    assert w.current["suggestion_id"] == before


def test_queue_and_run_id(study):
    w = review(study, queue=["unit:u0", "unit:u2"])
    assert w.queue == ["unit:u0", "unit:u2"] and w.current["suggestion_id"] == "unit:u0"
    assert review(study, queue=pd.DataFrame({"suggestion_id": ["unit:u2"]})).total == 1
    with pytest.raises(ts.InputError, match="unit:nope"):
        review(study, queue=["unit:nope"])
    with pytest.raises(ts.InputError, match="No complete run"):
        review(study, run_id="run-missing")


def test_study_without_a_run_is_explained(tmp_path):
    with Study.open(tmp_path / "empty") as s:
        with pytest.raises(ts.InputError, match="no complete run"):
            review(s)


def test_displays_as_its_vbox(study):
    import ipywidgets

    w = review(study)
    assert isinstance(w, ReviewWidget) and isinstance(w.widget, ipywidgets.VBox)
    bundle = w._repr_mimebundle_()
    assert "application/vnd.jupyter.widget-view+json" in bundle
    assert "Enter" in w.accept_button.tooltip  # keyboard hints on every button
    assert all(b.tooltip for b in (w.reject_button, w.skip_button, w.reassign_button))


def test_missing_ipywidgets_says_how_to_install(study, monkeypatch):
    real_import = builtins.__import__

    def no_ipywidgets(name, *args, **kwargs):
        if name == "ipywidgets" or name.startswith("ipywidgets."):
            raise ImportError("No module named 'ipywidgets'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_ipywidgets)
    with pytest.raises(ts.MissingDependencyError, match=r'pip install "themesift\[notebook\]"'):
        widget_module.review(study)


def test_review_order_puts_small_talk_last():
    from themesift.review.sheet import review_order

    rows = [{"suggestion_id": "unit:chat", "level": "unit", "score": 0.3, "runner_up_score": 0.3,
             "theme_id": "none", "small_talk": True},
            {"suggestion_id": "unit:a", "level": "unit", "score": 0.9, "runner_up_score": 0.1,
             "theme_id": "hope", "small_talk": False},
            {"suggestion_id": "code:C01", "level": "code", "score": 0.8, "runner_up_score": 0.1,
             "theme_id": "hope", "size": 3}]
    assert review_order(rows) == ["code:C01", "unit:a", "unit:chat"]


def test_reassigning_to_the_suggested_theme_is_an_accept(study):
    w = review(study, analyst="KJ")
    w.reassign_dropdown.value = w.current["theme_id"]  # C02's own theme, hope
    w.reassign_button.click()
    assert study.decisions[["action", "theme_id"]].values.tolist() == [["accept", "hope"]]
    assert "Coded 0 of the code&#x27;s 3 units" in w.message.value


def test_a_code_counts_its_members_decided_one_by_one_apart(study, monkeypatch):
    monkeypatch.setattr(pipeline_module, "run_pipeline", lambda corpus, framework, **kw:
                        fakes.fake_result(corpus, framework, scores=UNIT_SCORES, codes=CODES,
                                          unit_theme=fakes.agreeing(CODES)))
    run = study.run(fakes.make_corpus())  # C02 (u2-u4) hope, as each member on its own
    study.decide("unit:u2", "reject", analyst="KJ")
    w = review(study, run_id=run.id, analyst="KJ")
    assert ("Accepting codes 2 of its 3 units, those suggested this theme on their own; "
            "1 decided one by one keeps its own decision.") in w.suggestion.value
    w.accept()
    # nothing is left to decide one by one, so the message does not say "0 stay"
    assert ("Coded 2 of the code&#x27;s 3 units (those suggested its theme on their own); "
            "1 decided one by one keeps its own decision.") == w.message.value[3:-4]
    assert len(study.coding().query("source == 'code'")) == 2


def test_one_member_left_to_decide_is_said_in_the_singular(study):
    w = review(study)
    w.skip()  # C02; next C01 (relationships): u0 agrees, u1 (hope) is left to decide
    assert "the other 1 stay" not in w.suggestion.value
    assert "; 1 other member stays to be decided one by one." in w.suggestion.value
    w.accept()
    assert ("Coded 1 of the code&#x27;s 2 units (those suggested its theme on their own); "
            "1 other member stays to be decided one by one.") == w.message.value[3:-4]


def test_reassigning_a_code_says_how_many_units_it_coded(study):
    study.decide("unit:u2", "reject", analyst="KJ")
    w = review(study, analyst="KJ")  # C02 (hope): u2, u3, u4
    w.reassign_dropdown.value = "relationships"
    w.reassign_button.click()
    assert ("Coded 2 of the code&#x27;s 3 units as Relationships (relationships); "
            "1 decided one by one keeps its own decision.") == w.message.value[3:-4]
    coded = study.coding().query("source == 'code'")
    assert sorted(coded["unit_id"]) == ["u3", "u4"] and set(coded["theme_id"]) == {
        "relationships"}


def test_the_analyst_is_the_os_user_unless_named(study, monkeypatch):
    import getpass

    monkeypatch.setattr(getpass, "getuser", lambda: "kjones")
    w = review(study)
    assert w.analyst.value == "kjones"
    w.accept()
    assert review(study, analyst="KJ").analyst.value == "KJ"
    monkeypatch.setattr(getpass, "getuser", lambda: (_ for _ in ()).throw(OSError("no user")))
    w = review(study)
    assert w.analyst.value == ""
    w.accept_button.click()
    assert "no analyst" in w.message.value
    assert study.decisions["analyst"].tolist() == ["kjones"]


def test_a_new_widget_leaves_out_units_coded_through_a_code(study):
    # As the review sheet does: a unit an accepted code coded needs no decision of its own.
    w = review(study, analyst="KJ")
    while w.current["suggestion_id"].startswith("code:"):  # codes come first
        w.accept()
    coded = set(study.coding()["unit_id"])
    assert coded
    again = review(study)
    assert again.n_decided == 2 + len(coded)  # the two codes and what they coded
    seen = []
    while not again.done:
        seen.append(again.current["suggestion_id"])
        again.skip()
        if seen.count(seen[-1]) > 1:
            break
    assert not {f"unit:{u}" for u in coded} & set(seen)


def test_reviewing_an_earlier_run_decides_on_that_runs_suggestions(study, monkeypatch):
    first = study.latest_run_id()

    def later(corpus, framework, **kw):  # the next run suggests every unit otherwise
        result = fake_result(corpus, framework)
        result.unit_suggestions["theme_id"] = "symptoms_barrier"
        return result

    monkeypatch.setattr(pipeline_module, "run_pipeline", later)
    study.run(Corpus([Transcript("t1", "P1: hello there", (), {
        "sha256": hashlib.sha256(b"P1: hello there").hexdigest(), "path": "t1.txt",
        "format": "txt"})]), learn=False)
    w = review(study, run_id=first, queue=["unit:u0"])
    assert w.current["theme_id"] == "relationships"  # what the reviewed run suggested
    w.accept()
    assert study.decisions[["run_id", "action", "theme_id"]].values.tolist() == [
        [first, "accept", "relationships"]]


def test_a_code_decision_says_how_many_units_an_earlier_code_decision_had_coded(
        study, monkeypatch):
    w = review(study, analyst="KJ")  # run 1's C02 (hope): u2, u3, u4
    w.reassign_dropdown.value = "relationships"
    w.reassign_button.click()
    assert "code decision made before" not in w.message.value
    codes = {"X0": [1], "X1": [0, 2, 3]}  # run 2: X1 (hope) holds u2 and u3, and u0
    monkeypatch.setattr(pipeline_module, "run_pipeline", lambda corpus, framework, **kw:
                        fakes.fake_result(corpus, framework, scores=UNIT_SCORES, codes=codes))
    text = "P1: hello there"
    study.run(Corpus([Transcript("t1", text, (), {
        "sha256": hashlib.sha256(text.encode()).hexdigest(), "path": "t1.txt",
        "format": "txt"})]))
    w = review(study, analyst="KJ")
    for _ in range(10):
        if w._current.endswith(":X1"):
            break
        w.skip_button.click()
    w.reassign_dropdown.value = "symptoms_barrier"
    w.reassign_button.click()
    assert ("2 units that a code decision made before had coded with another theme now have "
            "the new decision&#x27;s theme") in w.message.value
    coding = study.coding().set_index("unit_id")["theme_id"]
    assert coding[["u0", "u2", "u3", "u4"]].tolist() == [
        "symptoms_barrier", "symptoms_barrier", "symptoms_barrier", "relationships"]


def test_a_click_on_what_another_notebook_decided_meanwhile_records_nothing(study):
    a, b = review(study, analyst="A"), review(study, analyst="B")
    shown = b.current["suggestion_id"]
    a.accept()
    with pytest.raises(ts.InputError, match="decided elsewhere"):
        b.reject()
    assert list(study.decisions["analyst"]) == ["A"]
    assert b.current["suggestion_id"] != shown


def test_a_unit_whose_rejected_theme_is_now_another_comes_back_after_a_rerun(
        study, monkeypatch):
    w = review(study, queue=["unit:u3"])
    w.reject()
    assert review(study, queue="unit:u3").done  # one id for a queue, and it is settled

    def rerun(corpus, framework, **kwargs):
        result = fake_result(corpus, framework)
        result.unit_suggestions.loc[3, "theme_id"] = "hope"  # was symptoms_barrier
        return result

    monkeypatch.setattr(pipeline_module, "run_pipeline", rerun)
    text = "P1: hello there"  # the same transcript
    study.run(Corpus([Transcript("t1", text, (), {"sha256": hashlib.sha256(text.encode())
                                                  .hexdigest(), "path": "t1.txt",
                                                  "format": "txt"})]))
    assert study.load_run().suggestions.set_index("item_id")["theme_id"]["u3"] == "hope"
    again = review(study, queue=["unit:u3"])
    assert again.current is not None and again.current["suggestion_id"] == "unit:u3"


def test_a_unit_decision_says_what_was_recorded(study):
    w = review(study, queue=["unit:u3", "unit:u1"])
    w.reject()
    assert "Recorded: unit:u3" in w.message.value and "rejected for it" in w.message.value
    w.reassign("hope")
    assert "Recorded: unit:u1 coded as Hope" in w.message.value


def test_a_codes_quotes_start_with_the_members_accepting_it_would_code():
    import pandas as pd

    from themesift.model import Run
    from themesift.review.widget import _load_suggestions

    units = pd.DataFrame({"unit_id": ["u0", "u1"], "doc_id": "t1", "speaker": ["P1", "P2"],
                          "text": ["About symptoms.", "About hope."]})
    codes = pd.DataFrame({"code_id": ["C01"], "label": ["x"], "size": [2],
                          "exemplar_ids": ["u0 | u1"],
                          "exemplars": ["About symptoms. | About hope."]})
    suggestions = pd.DataFrame({
        "suggestion_id": ["code:r:C01", "unit:u0", "unit:u1"], "level": ["code", "unit", "unit"],
        "item_id": ["C01", "u0", "u1"], "text": ["x", "About symptoms.", "About hope."],
        "theme_id": ["hope", "symptoms_barrier", "hope"], "score": 0.8, "runner_up": "none",
        "runner_up_score": 0.1, "rationale": ""})
    item = _load_suggestions(Run("r", units, codes, suggestions))["code:r:C01"]
    assert [q["text"] for q in item["quotes"]] == ["About hope.", "About symptoms."]


def _rerun(study, monkeypatch, codes):
    monkeypatch.setattr(pipeline_module, "run_pipeline", lambda corpus, framework, **kw:
                        fakes.fake_result(corpus, framework, scores=UNIT_SCORES, codes=codes,
                                          unit_theme=fakes.agreeing(codes)))
    text = "P1: hello there"
    return study.run(Corpus([Transcript("t1", text, (), {
        "sha256": hashlib.sha256(text.encode()).hexdigest(), "path": "t1.txt",
        "format": "txt"})])).id


def _day2_at_x1(study, monkeypatch):
    """A review on day 2 showing X1 (hope: u1, u2, u3), where day 1 accepted C02 (hope: u2,
    u3) of an earlier run."""
    day1 = _rerun(study, monkeypatch, {"C01": [0, 1], "C02": [2, 3]})
    study.decide(f"code:{day1}:C02", "accept", analyst="KJ")
    _rerun(study, monkeypatch, {"X0": [0], "X1": [1, 2, 3]})
    w = review(study, analyst="KJ")
    for _ in range(10):
        if w._current.endswith(":X1"):
            break
        w.skip_button.click()
    return w


def test_a_code_says_how_many_of_its_members_earlier_decisions_coded_so_already(
        study, monkeypatch):
    # Day 2: a code accepted on day 1 came back under a new id (one more member now agrees),
    # saying "Accepting codes all 11 of its units" where 10 were coded so already.
    w = _day2_at_x1(study, monkeypatch)
    assert ("Accepting codes all 3 of its units. 2 of them are coded Hope (hope) already, by "
            "earlier decisions.") in w.suggestion.value
    w.accept_button.click()
    assert "Coded 3 of the code&#x27;s 3 units" in w.message.value
    assert "2 of them were coded so already, by earlier decisions." in w.message.value


def test_an_empty_analyst_field_records_the_computers_user_and_says_so(study, monkeypatch):
    import getpass

    monkeypatch.setattr(getpass, "getuser", lambda: "kjones")
    w = review(study, analyst="KJ")
    w.analyst.value = "  "  # cleared by mistake: the export then named a coder "root"
    w.accept_button.click()
    assert study.decisions["analyst"].tolist() == ["kjones"]
    assert "The Analyst field was empty: recorded as kjones." in w.message.value
    assert w.analyst.value == "kjones"


def test_rejecting_a_code_says_how_many_units_earlier_decisions_coded_it_takes_back(
        study, monkeypatch):
    w = _day2_at_x1(study, monkeypatch)
    w.reject_button.click()
    assert ("rejected for it; 2 units that earlier decisions on codes had coded so are no "
            "longer coded.") in w.message.value
    assert study.coding().empty
