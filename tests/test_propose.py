"""Suggestions: a theme (or none) per unit and per code, with scores and reasons."""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import themesift as ts
from themesift import CandidateCodes, Framework, InputError, Theme
from themesift.propose import SUGGESTION_COLUMNS, suggest_units_and_codes

SAMPLE_CODING = (Path(__file__).resolve().parents[1] / "data" / "sample" / "coding"
                 / "fg1_act_team_coding.csv")

FW = Framework(
    name="test", version="1", description="",
    themes=(
        Theme("housing", "Housing", "Finding and keeping a flat or a home.",
              indicators=("waiting list for a flat", "rent arrears and eviction")),
        Theme("medication", "Medication", "Tablets, injections and their side effects.",
              indicators=("depot injection", "side effects of the tablets"),
              subthemes=(Theme("adherence", "Adherence", "Taking tablets as prescribed.",
                               indicators=("forgets his tablets",), parent="medication"),)),
        Theme("family", "Family", "Parents, children and partners of the person.",
              examples=("Her mum rings us every day.",)),
    ),
)


def units_of(*texts, **columns):
    return pd.DataFrame({"unit_id": [f"u{i}" for i in range(len(texts))], "text": list(texts), **columns})


def test_one_suggestion_per_unit_with_score_runner_up_and_reason(fake_embedder):
    units = units_of("He is on the waiting list for a flat.", "The side effects of the tablets are bad.",
                     "Her mum rings every day.")
    out = ts.suggest_units(units, FW, embedder=fake_embedder)
    assert list(out.columns) == SUGGESTION_COLUMNS
    assert list(out["unit_id"]) == ["u0", "u1", "u2"]
    assert list(out["theme_id"]) == ["housing", "medication", "family"]
    assert out["score"].between(0, 1).all() and out["runner_up_score"].between(0, 1).all()
    assert (out["score"] >= out["runner_up_score"]).all()
    assert (out["theme_id"] != out["runner_up"]).all()
    assert 'Closest indicator of housing: "waiting list for a flat"' in out["rationale"][0]
    shared = out["rationale"][0].split("words shared with the theme's texts: ")[1].split(";")[0].split(", ")
    assert set(shared) == {"waiting", "list", "flat"}


def test_shared_words_are_content_words_not_contractions_of_stop_words(fake_embedder):
    # "it's" and "that's" are stop words with an 's: no evidence of a theme (the demo's
    # commonest "shared words"). A possessive keeps its noun.
    codebook = Framework(name="c", version="1", description="", themes=(
        Theme("housing", "Housing", "It's about the flat: that's where the tenant's rent goes.",
              indicators=("I've been waiting for a flat and it's taking ages",
                          "it's the gas bill")),
        Theme("family", "Family", "Parents and children.")))
    out = ts.suggest_units(units_of("It's the flat, that's what it's about, I've said.",
                                    "It's that, isn't it. I've been waiting.",
                                    "Paying the tenant’s rent."), codebook, embedder=fake_embedder)
    assert out["theme_id"].tolist() == ["housing"] * 3
    assert "words shared with the theme's texts: flat;" in out["rationale"][0]
    assert "words shared with the theme's texts: waiting;" in out["rationale"][1]
    assert "words shared with the theme's texts: tenant, rent;" in out["rationale"][2]
    # Close to the theme, but by no content word of its texts ("gas" is too short to count):
    # the rationale says so, instead of offering "it's" as the evidence.
    lone = ts.suggest_units(units_of("It's the gas, that's it.", "Waiting, waiting."), codebook,
                            embedder=fake_embedder)
    assert lone["theme_id"][0] == "housing"
    assert "; no content word in common with the theme's texts" in lone["rationale"][0]
    assert "it's" not in lone["rationale"][0].split(")", 1)[1]


def test_subtheme_text_counts_for_its_parent_theme(fake_embedder):
    out = ts.suggest_units(units_of("He forgets his tablets."), FW, embedder=fake_embedder)
    assert out["theme_id"][0] == "medication"


def test_unrelated_talk_fits_no_theme(fake_embedder):
    out = ts.suggest_units(units_of("Is the recorder on? Lovely weather today."), FW, embedder=fake_embedder)
    assert out["theme_id"][0] == "none"
    assert "Fits no theme well" in out["rationale"][0]


def test_scores_are_probabilities_over_themes_and_none(fake_embedder):
    probs = ts.score_themes(units_of("waiting list for a flat", "tablets"), FW, embedder=fake_embedder)
    assert list(probs.columns) == ["housing", "medication", "family", "none"]
    assert np.allclose(probs.sum(axis=1), 1.0)


def test_examples_teach_a_theme_the_framework_does_not_describe(fake_embedder):
    unit = units_of("The football on Saturday with the lads.")
    before = ts.suggest_units(unit, FW, embedder=fake_embedder)
    examples = pd.DataFrame({
        "text": ["Football on Saturday with his lads is what keeps him going.",
                 "He plays football with the lads.",
                 "The waiting list for a flat is two years.",
                 "Depot injection every fortnight."],
        "theme_id": ["family", "family", "housing", "medication"],
    })
    after = ts.suggest_units(unit, FW, embedder=fake_embedder, examples=examples)
    assert before["theme_id"][0] == "none"
    assert after["theme_id"][0] == "family"


def test_neighbours_in_a_turn_inform_a_vague_unit(fake_embedder):
    units = units_of("The waiting list for a flat, rent arrears.", "And eviction, it goes on.",
                     "Lovely weather.", doc_id=["d"] * 3, turn=[1, 1, 2])
    with_context = ts.suggest_units(units, FW, embedder=fake_embedder)
    alone = ts.suggest_units(units, FW, embedder=fake_embedder, context_weight=0.0)
    assert with_context["score"][1] != alone["score"][1]
    assert with_context["theme_id"][2] == alone["theme_id"][2] == "none"  # another turn


def test_suggestions_are_deterministic(fake_embedder):
    units = units_of("waiting list", "tablets and side effects", "her mum")
    a = ts.suggest_units(units, FW, embedder=fake_embedder)
    b = ts.suggest_units(units, FW, embedder=fake_embedder)
    pd.testing.assert_frame_equal(a, b)


def test_propose_maps_codes_to_themes_with_member_quotes(fake_embedder):
    units = units_of("waiting list for a flat", "rent arrears and eviction again",
                     "side effects of the tablets", "depot injection", "Lovely weather.")
    codes = CandidateCodes(
        table=pd.DataFrame({
            "code_id": ["C01", "C02"], "label": ["flat waiting list", "tablets"],
            "keywords": ["flat | waiting | rent", "tablets | injection"], "size": [2, 2],
            "n_speakers": [1, 1], "n_transcripts": [1, 1], "exemplar_ids": ["u0 | u1", "u2 | u3"],
            "exemplars": ["waiting list for a flat | rent arrears and eviction again",
                          "side effects of the tablets | depot injection"],
        }),
        assignments=pd.DataFrame({"unit_id": ["u0", "u1", "u2", "u3", "u4"],
                                  "code_id": ["C01", "C01", "C02", "C02", "C02"],
                                  "distance": [0.1] * 5, "outlier": [False] * 4 + [True]}),
    )
    for kwargs in ({}, {"units": units}):
        out = ts.propose(codes, FW, embedder=fake_embedder, **kwargs)
        assert list(out["code_id"]) == ["C01", "C02"]
        assert list(out["theme_id"]) == ["housing", "medication"]
        assert out["score"].between(0, 1).all()
        assert '"waiting list for a flat"' in out["rationale"][0]
    # Without the units, the exemplars stand for the members, and the rationale says so.
    alone = ts.propose(codes, FW, embedder=fake_embedder)["rationale"][1]
    assert alone.startswith("2 of its 2 exemplar quotes are suggested medication (100%), "
                            "standing for its 2 members: pass units= to count them all.")
    with_units = ts.propose(codes, FW, embedder=fake_embedder, units=units)["rationale"][1]
    assert "member units" in with_units and "exemplar" not in with_units
    examples = pd.DataFrame({"text": ["my tablets make me sleepy"], "theme_id": ["medication"]})
    both = suggest_units_and_codes(units, codes, FW, embedder=fake_embedder, examples=examples)
    pd.testing.assert_frame_equal(both[0], ts.suggest_units(
        units, FW, embedder=fake_embedder, codes=codes, examples=examples))
    pd.testing.assert_frame_equal(both[1], ts.propose(
        codes, FW, embedder=fake_embedder, units=units, examples=examples))


@pytest.mark.parametrize("units, message", [
    (pd.DataFrame({"id": ["a"], "text": ["x"]}), r"no 'unit_id' column \(columns: id, text\)"),
    (units_of("fine", "  "), r"Empty text in the units table's row\(s\) of index 1\b"),
    (units_of("x", "fine", "  ").iloc[1:].set_index(pd.Index(["a", "b"])),
     r"Empty text in the units table's row\(s\) of index 'b'"),
    (pd.DataFrame({"unit_id": ["a", "a"], "text": ["x", "y"]}), "Repeated unit ids: a"),
    (units_of(), "The units table is empty"),
])
def test_bad_units_say_what_is_wrong(fake_embedder, units, message):
    with pytest.raises(InputError, match=message):
        ts.suggest_units(units, FW, embedder=fake_embedder)


def test_examples_with_an_unknown_theme_name_the_row_and_the_choices(fake_embedder):
    examples = pd.DataFrame({"text": ["a", "b"], "theme_id": ["housing", "hosuing"]})
    with pytest.raises(InputError, match=r"Unknown theme 'hosuing' in row 3 of the examples "
                                         r"\(did you mean 'housing'\?\)\. Available: housing, "
                                         r"medication, family, none"):
        ts.suggest_units(units_of("x"), FW, embedder=fake_embedder, examples=examples)
    several = pd.DataFrame({"text": ["a", "b", "c"], "theme_id": ["Famly", "housing", "trust"]})
    with pytest.raises(InputError, match=r"Unknown themes 'Famly' in row 2 of the examples "
                                         r"\(did you mean 'family'\?\); 'trust' in row 4 of the "
                                         r"examples\. Available"):
        ts.suggest_units(units_of("x"), FW, embedder=fake_embedder, examples=several)
    empty = pd.DataFrame({"text": ["a", "b", "c"], "theme_id": [np.nan, "housing", np.nan]})
    with pytest.raises(InputError, match=r"Unknown theme '' \(an empty cell\) in rows 2, 4 of the "
                                         r"examples\. Available"):
        ts.suggest_units(units_of("x"), FW, embedder=fake_embedder, examples=empty)


def test_examples_read_none_in_any_case_and_themes_with_stray_spaces(fake_embedder):
    """As the CLI reads an examples file (a spreadsheet's "None", "housing ")."""
    texts = ["a", "b", "c"]
    spelled = pd.DataFrame({"text": texts, "theme_id": ["None", " housing ", "NONE"]})
    plain = pd.DataFrame({"text": texts, "theme_id": ["none", "housing", "none"]})
    got, want = (ts.suggest_units(units_of(*texts), FW, embedder=fake_embedder, examples=e)
                 for e in (spelled, plain))
    pd.testing.assert_frame_equal(got, want)
    assert list(got["theme_id"]) == ["none", "housing", "none"]


def test_bad_parameter(fake_embedder):
    with pytest.raises(InputError, match=r"'temperature' parameter must be a number in \(0, 1\]"):
        ts.suggest_units(units_of("x"), FW, embedder=fake_embedder, temperature=0)


def test_built_in_framework_with_the_real_model(embedder):
    units = units_of(
        "It took months of just turning up with a coffee before he trusted me enough to talk.",
        "The commissioners only fund twelve weeks and then the system wants him discharged, "
        "whatever he wants.",
        "When she's psychotic and using heavily there's no working with her, we end up doing urine "
        "tests and rules instead of trust.",
        "He told me he dreams of getting his own flat and seeing his daughter again.",
    )
    out = ts.suggest_units(units, "recovery", embedder=embedder)
    assert list(out["theme_id"]) == ["relationships", "structural_tension", "symptoms_barrier", "hope"]


def test_a_rejected_theme_is_never_suggested_for_that_text_again(fake_embedder):
    units = units_of("Rent arrears and eviction again.", "Rent arrears and eviction.")
    plain = ts.suggest_units(units, FW, embedder=fake_embedder)
    assert list(plain["theme_id"]) == ["housing", "housing"]
    examples = pd.DataFrame({
        "text": ["Rent arrears and eviction again.", "The waiting list for a flat."],
        "theme_id": ["housing", "housing"],
        "rejected": [True, False],
    })
    taught = ts.suggest_units(units, FW, embedder=fake_embedder, examples=examples)
    assert taught["theme_id"][0] != "housing" and taught["runner_up"][0] != "housing"
    assert taught["theme_id"][1] == "housing"  # a rejection is about its own text only
    # The rationale says so, and never names the rejected theme as the closest.
    why = taught["rationale"][0]
    assert ("the analyst rejected housing for it" in why
            or "housing rejected for it in the examples" in why), why
    assert "closest: housing" not in why


def test_a_rejected_column_read_as_text_means_what_it_says(fake_embedder):
    # read_excel or dtype=str give "False" and "yes": a non-empty string is not a rejection.
    units = units_of("Rent arrears and eviction again.", "Rent arrears and eviction.")
    as_bools = pd.DataFrame({"text": ["Rent arrears and eviction again.",
                                      "The waiting list for a flat."],
                             "theme_id": ["housing", "housing"], "rejected": [True, False]})
    expected = ts.suggest_units(units, FW, embedder=fake_embedder, examples=as_bools)
    for words in (["True", "False"], ["yes", " no "], ["1", ""], [1, 0]):
        as_text = as_bools.assign(rejected=words)
        pd.testing.assert_frame_equal(
            ts.suggest_units(units, FW, embedder=fake_embedder, examples=as_text), expected)
    with pytest.raises(InputError, match=r"Cannot read 'maybe' in the rejected column, row 3"):
        ts.suggest_units(units, FW, embedder=fake_embedder,
                         examples=as_bools.assign(rejected=[True, "maybe"]))


def test_an_example_coded_with_a_subtheme_counts_for_its_theme(fake_embedder):
    units = units_of("He forgets his tablets again.", "Her mum rings every day.")
    as_sub = pd.DataFrame({"text": ["He forgets his tablets again."], "theme_id": ["adherence"]})
    out = ts.suggest_units(units, FW, embedder=fake_embedder, examples=as_sub)
    expected = ts.suggest_units(units, FW, embedder=fake_embedder,
                                examples=as_sub.assign(theme_id="medication"))
    pd.testing.assert_frame_equal(out, expected)
    assert out["rationale"][0] == "Coded medication in the examples (the analyst's own coding)."


def test_units_or_examples_that_are_not_tables_say_what_to_give(fake_embedder):
    with pytest.raises(InputError, match="The units must be a table, not a list"):
        ts.suggest_units(["Her mum rings."], FW, embedder=fake_embedder)
    with pytest.raises(InputError, match="examples= takes a table, not a list"):
        ts.suggest_units(units_of("Her mum rings."), FW, embedder=fake_embedder,
                         examples=[("Her mum rings.", "family")])


def test_a_text_without_letters_fits_no_theme(fake_embedder):
    units = units_of("100", "\U0001F621\U0001F621", "Rent arrears and eviction.", "Das Warten.")
    out = ts.suggest_units(units, FW, embedder=fake_embedder)
    assert out["theme_id"].tolist()[:3] == ["none", "none", "housing"]
    assert out["score"][0] == 1.0 and out["rationale"][0].startswith(
        "Fits no theme: it has no words to compare with the framework")
    assert out["theme_id"][3] != "none" or "no words" not in out["rationale"][3]  # letters


def test_an_example_without_text_is_an_error_naming_its_row(fake_embedder):
    examples = pd.DataFrame({"text": ["Rent arrears.", np.nan], "theme_id": ["housing"] * 2})
    with pytest.raises(InputError, match=r"Empty text in row 3 of the examples"):
        ts.suggest_units(units_of("A flat."), FW, embedder=fake_embedder, examples=examples)


def test_ids_come_back_as_given_and_numbers_in_text_cells_are_text(fake_embedder):
    units = pd.DataFrame({"unit_id": [10, 11], "text": ["Rent arrears and eviction.", 1984]})
    out = ts.suggest_units(units, FW, embedder=fake_embedder)
    assert out["unit_id"].tolist() == [10, 11] and out["unit_id"].dtype == units["unit_id"].dtype
    assert len(units.merge(out, on="unit_id")) == 2
    scores = ts.score_themes(units, FW, embedder=fake_embedder)
    assert scores.index.tolist() == [10, 11]
    assert len(out.merge(scores, left_on="unit_id", right_index=True)) == 2


# --- "none" judged against the study, and how well the best theme fits ----------------------

TABLE = Framework(  # themes that share a domain, as every real codebook's do
    name="table", version="1", description="",
    themes=(
        Theme("sorting", "Sorting", "The data table of the tool: sorting the columns of the data table."),
        Theme("exporting", "Exporting", "The data table of the tool: exporting the data table to a file."),
        Theme("searching", "Searching", "The data table of the tool: searching the data table for a value."),
    ),
)
STUDY = [
    "Sorting the columns was quick.", "I kept sorting columns by date.", "Columns sorting works.",
    "Sorting is fine.", "Exporting to a file was easy.", "The file from exporting opened.",
    "Exporting worked.", "Exporting the file.", "Searching for a value took ages.",
    "Searching found the value.", "I was searching again.", "Searching the value.",
]


def test_themes_that_share_a_domain_do_not_make_every_unit_none(fake_embedder):
    # The units are further from their theme than the themes' own texts are from each other:
    # a rule that asks units to beat that (the framework's spread) called all of them none.
    out = ts.suggest_units(units_of(*STUDY, "Lovely weather, and the biscuits are nice."), TABLE,
                           embedder=fake_embedder)
    assert list(out["theme_id"][:12]) == ["sorting"] * 4 + ["exporting"] * 4 + ["searching"] * 4
    assert out["theme_id"].iloc[12] == "none"
    assert "Fits no theme well" in out["rationale"].iloc[12]


def test_fit_says_how_well_the_best_theme_fits_against_the_study(fake_embedder):
    units = units_of(*STUDY, "Sorting.", "The biscuits are nice.")
    out = ts.suggest_units(units, TABLE, embedder=fake_embedder)
    assert out["fit"].between(0, 1).all()
    assert out["fit"].iloc[-1] == out["fit"].min() < 0.05
    # A unit whose best theme fits as well as the study's units usually do is never "none",
    # however close its runner-up is.
    typical = out[out["fit"] > 0.1]
    assert len(typical) >= 10 and (typical["theme_id"] != "none").all()
    # Too few units to say what is typical: no fit, and only a unit sharing nothing is none.
    few = ts.suggest_units(units_of("Sorting.", "The biscuits are nice."), TABLE, embedder=fake_embedder)
    assert few["fit"].isna().all()
    assert list(few["theme_id"]) == ["sorting", "none"]


def test_a_weak_fit_is_said_in_the_rationale(fake_embedder):
    units = units_of(*STUDY, "Sorting the biscuits, lovely weather, nice tea and a chat about football.")
    out = ts.suggest_units(units, TABLE, embedder=fake_embedder)
    last = out.iloc[-1]
    assert last["fit"] < 0.1
    if last["theme_id"] != "none":
        assert "a weak fit (worse than" in last["rationale"]
    # A unit suggested a theme with a high score and a weak fit: the rationale says what the
    # score means, so "0.91" beside "a weak fit" is no contradiction.
    out = ts.suggest_units(units_of(*STUDY, "Sorting the biscuits, lovely weather."), TABLE,
                           embedder=fake_embedder)
    last = out.iloc[-1]
    assert last["theme_id"] == "sorting" and last["score"] > 0.8 and last["fit"] < 0.1
    assert ("a weak fit (worse than 96% of the study's units fit theirs): the score says it is "
            "nearer this theme than the others, not that it fits well") in last["rationale"]


def test_none_similarity_is_the_analysts_own_level(fake_embedder):
    out = ts.suggest_units(units_of(*STUDY), TABLE, embedder=fake_embedder, none_similarity=0.99)
    assert (out["theme_id"] == "none").all()
    assert "none level set for this run" in out["rationale"][0]


# --- learning from coded examples: the cases an analyst meets --------------------------------

EXAMPLES = pd.DataFrame({
    "text": ["Her mum rings us every day.", "His dad visits on Sundays.",
             "The waiting list for a flat.", "Rent arrears again.",
             "The depot injection.", "Side effects of the tablets."],
    "theme_id": ["family", "family", "housing", "housing", "medication", "medication"],
})


def test_a_theme_without_examples_is_still_suggested_from_its_description(fake_embedder):
    examples = EXAMPLES[EXAMPLES["theme_id"] != "family"]
    out = ts.suggest_units(units_of("Parents and partners of the person came.", "Rent arrears."),
                           FW, embedder=fake_embedder, examples=examples)
    assert list(out["theme_id"]) == ["family", "housing"]


def test_a_single_example_is_learned_from_without_failing(fake_embedder):
    one = EXAMPLES.iloc[:1]
    out = ts.suggest_units(units_of("Her mum rings again.", "Side effects of the tablets."), FW,
                           embedder=fake_embedder, examples=one)
    assert list(out["theme_id"]) == ["family", "medication"]
    assert "weighed against 1 coded example;" in out["rationale"][0]
    # a text coded with two themes is one coded example (as fine-tuning counts them)
    twice = pd.concat([one, one.assign(theme_id="housing")])
    out = ts.suggest_units(units_of("Her mum rings again."), FW, embedder=fake_embedder,
                           examples=twice)
    assert "weighed against 1 coded example;" in out["rationale"][0]


def test_a_unit_that_is_an_example_gets_its_coded_themes(fake_embedder):
    examples = pd.concat([EXAMPLES, pd.DataFrame({"text": ["Her mum rings us every day."],
                                                  "theme_id": ["housing"]})])
    out = ts.suggest_units(units_of("Her mum rings us every day.", "The depot injection."), FW,
                           embedder=fake_embedder, examples=examples)
    assert (out["theme_id"][0], out["runner_up"][0]) == ("family", "housing")
    assert out["rationale"][0] == "Coded family and housing in the examples (the analyst's own coding)."
    assert out["theme_id"][1] == "medication" and out["score"][0] > out["runner_up_score"][0]


def test_examples_coded_none_are_known_units_not_a_class_learned(fake_embedder):
    # "none" is no theme: units coded none share nothing but that, so they are not learned
    # as a class (on the suite's sample that took suggestions from themes); each is known.
    nones = pd.DataFrame({"text": ["Lovely weather today.", "Is the recorder on?"],
                          "theme_id": ["none"] * 2})
    units = units_of("Lovely weather today.", "Lovely sunny weather.", "Her mum rings every day.")
    out = ts.suggest_units(units, FW, embedder=fake_embedder,
                           examples=pd.concat([EXAMPLES, nones]))
    alone = ts.suggest_units(units, FW, embedder=fake_embedder, examples=EXAMPLES)
    assert out["theme_id"][0] == "none"
    assert out["rationale"][0] == "Coded none in the examples (the analyst's own coding)."
    pd.testing.assert_frame_equal(out.iloc[1:], alone.iloc[1:])
    assert "weighed against 6 coded examples" in out["rationale"][2]  # the theme examples


def test_examples_are_judged_against_the_study_as_its_units_are(fake_embedder, monkeypatch):
    # The learner weighs the framework by how well it predicts held-out examples; an example
    # that fits poorly against the study must look to it as "none" as a unit would, or the
    # framework's "none" seems useless and gets too little weight.
    import importlib

    propose = importlib.import_module("themesift.propose")
    seen = {}
    real = propose._cross_validate

    def spy(gold, zero, *rest):
        seen["zero"] = zero
        return real(gold, zero, *rest)

    monkeypatch.setattr(propose, "_cross_validate", spy)
    examples = pd.DataFrame({"text": [*STUDY[:4], "The biscuits are nice."],
                             "theme_id": ["sorting"] * 5})
    ts.suggest_units(units_of(*STUDY), TABLE, embedder=fake_embedder, examples=examples)
    none_logit = seen["zero"][:, -1]  # the examples first (then the other themes' stand-ins)
    assert none_logit[4] > 0 > none_logit[:4].max()


def test_one_example_a_theme_is_not_cross_validated(monkeypatch):
    # Held out, a theme's only example would be judged against the description alone: the
    # learner then takes its defaults instead of cross-validating on it.
    import importlib

    propose = importlib.import_module("themesift.propose")

    def never(*_):
        raise AssertionError("cross-validated on one example a theme")

    one_each = np.eye(6, 7, dtype=bool)
    zero = np.zeros((6, 7))
    assert propose._cross_validate(one_each, zero, never, never, zero) == (
        propose.DEFAULT_C, propose.DEFAULT_WEIGHT)
    # One theme coded often, the others once each (early in a review): still the defaults.
    one_often = np.vstack([np.repeat(np.eye(1, 7, dtype=bool), 6, axis=0), np.eye(7, dtype=bool)[1:6]])
    zero = np.zeros((11, 7))
    assert propose._cross_validate(one_often, zero, never, never, zero) == (
        propose.DEFAULT_C, propose.DEFAULT_WEIGHT)
    two_each = np.repeat(np.eye(3, 7, dtype=bool), 2, axis=0)
    zero = np.zeros((6, 7))
    fits = []

    def fit(rows, c, model=None):
        fits.append(c)
        return None

    propose._cross_validate(two_each, zero, fit, lambda m, x: np.zeros((len(x), 7)), zero)
    assert fits


def test_the_examples_of_one_decision_are_held_out_together():
    # Accepting a code codes its members in one click. Held out one by one, each would be
    # predicted from its near twins, and the examples would seem to carry over to other units
    # far better than they do; so a decision's examples are trained on or held out together.
    import importlib

    propose = importlib.import_module("themesift.propose")
    gold = np.eye(3, 4, dtype=bool)[[0] * 6 + [1, 1, 1, 2, 2, 2]]
    trained: list[set[int]] = []

    def fit(rows, c, model=None):
        trained.append(set(rows.tolist()))
        return None

    def cross_validate(groups):
        trained.clear()
        propose._cross_validate(gold, np.zeros((12, 4)), fit, lambda m, x: np.zeros((len(x), 4)),
                                np.zeros((12, 2)), groups=groups)
        return list(trained)

    code = set(range(6))
    one_code = ["decision 7"] * 6 + [f"decision {k}" for k in range(6)]
    assert all(code <= rows or not code & rows for rows in cross_validate(one_code))
    # Without shared decisions, the examples are held out one by one as before.
    alone = cross_validate([f"decision {k}" for k in range(12)])
    assert any(0 < len(code & rows) < 6 for rows in alone)
    assert alone == cross_validate(None)


def test_a_names_and_descriptions_codebook_with_the_real_model(embedder):
    # The kind of codebook most analysts write: one domain, a name and a sentence per theme.
    # Its themes are closer to each other than any passage is to them; that must not make
    # the passages "none".
    codebook = Framework(
        name="clinic", version="1", description="",
        themes=(
            Theme("waiting", "Waiting times", "How long patients wait for an appointment at the clinic."),
            Theme("staff_manner", "Staff manner", "How the clinic's staff treat patients: kindness, respect, rudeness."),
            Theme("information", "Information given", "Whether the clinic explains the treatment and what happens next."),
        ),
    )
    passages = [
        "I sat there for three hours before anyone called my name.",
        "The next free slot was in March, that's four months away.",
        "We were kept hanging on for ages, nobody knew when we'd be seen.",
        "The nurse held my hand and was so gentle with me.",
        "The receptionist was really short with my mum, quite rude actually.",
        "Everyone treated me like a person, not a number.",
        "Nobody told me what the scan was for or when I'd get results.",
        "The doctor drew me a diagram and explained every step of the operation.",
        "I left with a leaflet and a clear plan for the next six weeks.",
    ]
    out = ts.suggest_units(units_of(*passages), codebook, embedder=embedder)
    assert (out["theme_id"] != "none").all()
    expected = ["waiting"] * 3 + ["staff_manner"] * 3 + ["information"] * 3
    assert sum(a == b for a, b in zip(out["theme_id"], expected)) >= 7
    assert out["fit"].between(0, 1).all()


@pytest.fixture
def taught(monkeypatch):
    """What the learner is trained on, a list of (text, theme_id, rejected) per training."""
    import importlib

    propose = importlib.import_module("themesift.propose")
    calls = []
    learn = propose._learn
    monkeypatch.setattr(propose, "_learn",
                        lambda coded, *a, **k: calls.append(list(coded)) or learn(coded, *a, **k))
    return calls


def test_a_descriptions_only_codebook_learns_from_the_studys_clearest_units(fake_embedder,
                                                                            taught):
    # Each theme's five units with the highest scores for it (small talk aside) train the
    # learner; the other units, and those five too, are then suggested by it.
    study = [*STUDY, "Sorting columns again.", "Sorting by name.", "Sorting the date column."]
    units = units_of(*study, small_talk=[False] * (len(study) - 1) + [True])
    out = ts.suggest_units(units, TABLE, embedder=fake_embedder)
    assert len(taught) == 1
    by_theme = {}
    for text, theme, rejected in taught[0]:
        assert not rejected
        by_theme.setdefault(theme, []).append(text)
    assert {t: len(v) for t, v in by_theme.items()} == {"sorting": 5, "exporting": 4,
                                                         "searching": 4}
    assert "Sorting the date column." not in by_theme["sorting"]  # small talk: not an example
    scores = out.set_index(units["text"])["score"]
    assert min(scores[t] for t in by_theme["sorting"]) >= max(
        scores[t] for t in study[:-1] if t.startswith("Sorting") and t not in by_theme["sorting"])
    assert out["rationale"][:-1].str.contains("weighed against the 13 units of the study that "
                                              "the descriptions suggest most clearly").all()
    assert not out["rationale"].str.contains("Coded ").any()  # their suggestions are not fixed

    # A framework with indicators or examples speaks as participants do: nothing of this.
    taught.clear()
    ts.suggest_units(units_of(*study), FW, embedder=fake_embedder)
    assert taught == []
    # With coded examples they teach; where they name fewer than 3 themes, each theme they
    # do not name gets as many of its clearest units as a named theme has examples (here 1).
    ts.suggest_units(units_of(*study), TABLE, embedder=fake_embedder,
                     examples=pd.DataFrame({"text": [study[0]], "theme_id": ["sorting"]}))
    assert len(taught) == 1 and taught[0][0] == (study[0], "sorting", False)
    assert sorted(theme for _, theme, _ in taught[0][1:]) == ["exporting", "searching"]
    # Nothing of this with too few units to judge which fit best.
    few = ts.suggest_units(units_of(*study[:5]), TABLE, embedder=fake_embedder)
    assert len(taught) == 1 and not few["rationale"].str.contains("weighed").any()


def test_what_the_clearest_units_teach_leaves_a_unit_sharing_nothing_with_the_codebook_none(
        fake_embedder):
    # "bus" is not "buses": these units share no word with any description. Learned from the
    # clearest units, more of them about fruit than transport, they would go to fruit.
    codebook = Framework(name="two", version="1", description="", themes=(
        Theme("fruit", "Fruit", "Apples and pears."),
        Theme("transport", "Transport", "Buses and trains.")))
    texts = ["I like apples.", "Pears are nice.", "Apples and more apples.", "Trains again.",
             "Buses, buses.", "The bus was late.", "A pear a day.", "On the train."]
    out = ts.suggest_units(units_of(*texts), codebook, embedder=fake_embedder)
    assert list(out["theme_id"]) == ["fruit"] * 3 + ["transport"] * 2 + ["none"] * 3
    assert out["rationale"][5:].str.contains("no theme text is closer to it").all()


def test_the_clearest_units_keep_to_the_analysts_rejections_none_level_and_repeats(
        fake_embedder, taught):
    study = [*STUDY, "Sorting is fine."]  # a repeat: one text, one example
    rejected = pd.DataFrame({"text": ["Columns sorting works."], "theme_id": ["sorting"],
                             "rejected": [True]})
    out = ts.suggest_units(units_of(*study), TABLE, embedder=fake_embedder, examples=rejected)
    sorting = [text for text, theme, _ in taught[0] if theme == "sorting"]
    assert len(sorting) == len(set(sorting)) == 3  # 4 distinct, less the rejected one
    assert "Columns sorting works." not in sorting
    assert out["theme_id"][2] != "sorting"  # and the rejection holds for its own text
    assert "weighed against the 11 units of the study" in out["rationale"][0]
    # Below the analyst's own none level a unit is none, whatever the clearest units teach.
    level = ts.suggest_units(units_of(*study), TABLE, embedder=fake_embedder, none_similarity=0.5)
    assert (level["theme_id"] == "none").sum() >= 1
    for text, theme in zip(study, level["theme_id"]):
        sim = fake_embedder.encode([text]) @ fake_embedder.encode(
            [f"{t.name}: {t.description}" for t in TABLE.themes]).T
        if sim.max() < 0.5:
            assert theme == "none", text


def _codes_of(members: dict[str, list[str]], texts: dict[str, str]) -> CandidateCodes:
    return CandidateCodes(
        table=pd.DataFrame({
            "code_id": list(members), "label": list(members), "keywords": ["a | b"] * len(members),
            "size": [len(m) for m in members.values()],
            "exemplars": [" | ".join(texts[u] for u in m[:2]) for m in members.values()],
        }),
        assignments=pd.DataFrame({"unit_id": [u for m in members.values() for u in m],
                                  "code_id": [c for c, m in members.items() for _ in m]}))


def test_a_code_takes_the_theme_most_of_its_members_are_suggested(fake_embedder):
    texts = {"u0": "waiting list for a flat", "u1": "rent arrears and eviction",
             "u2": "waiting list for a flat again", "u3": "depot injection",
             "u4": "side effects of the tablets", "u5": "Her mum rings us every day.",
             "u6": "rent arrears and eviction again"}
    units = pd.DataFrame({"unit_id": list(texts), "text": list(texts.values())})
    codes = _codes_of({"C01": ["u0", "u1", "u2", "u6"], "C02": ["u3", "u4", "u5"]}, texts)
    own = ts.suggest_units(units, FW, embedder=fake_embedder, codes=codes)
    assert own["theme_id"].tolist() == ["housing"] * 3 + ["medication", "medication",
                                                           "family", "housing"]
    out = ts.propose(codes, FW, embedder=fake_embedder, units=units).set_index("code_id")
    assert out.loc["C01", ["theme_id", "agreement", "offered"]].tolist() == ["housing", 1.0, True]
    assert out.loc["C01", "rationale"].startswith("All 4 member units are suggested housing")
    assert out.loc["C02", ["theme_id", "agreement", "offered"]].tolist() == [
        "medication", 0.6667, True]
    assert out.loc["C02", "rationale"].startswith(
        "2 of 3 member units are suggested medication (67%; family 1). Accepting codes those 2; "
        "the other one stays to be decided one by one.")
    mixed = _codes_of({"C01": ["u0", "u3", "u5"], "C02": ["u1", "u2", "u4", "u6"]}, texts)
    out = ts.propose(mixed, FW, embedder=fake_embedder, units=units).set_index("code_id")
    assert not out.loc["C01", "offered"] and out.loc["C01", "agreement"] == 0.3333
    assert "Its members disagree: 1 of 3 are suggested" in out.loc["C01", "rationale"]
    assert "review its units one by one" in out.loc["C01", "rationale"]
    assert out.loc["C02", "offered"] and out.loc["C02", "agreement"] == 0.75


def test_a_codes_quotes_are_of_members_suggested_its_theme():
    from themesift.propose import _code_table

    probs = pd.DataFrame([[0.9, 0.1], [0.2, 0.8], [0.9, 0.1], [0.8, 0.2]],
                         index=pd.Index(["u0", "u1", "u2", "u3"], name="unit_id"),
                         columns=["a", "none"])
    own = pd.DataFrame({"unit_id": ["u0", "u1", "u2", "u3"], "theme_id": ["a", "b", "a", "a"]})
    table = pd.DataFrame({"code_id": ["C01"], "label": ["x"], "size": [4], "keywords": ["k"],
                          "exemplar_ids": ["u1 | u0 | u2"], "exemplars": ["Bee. | Aye. | Aye 2."]})
    members = pd.DataFrame({"unit_id": ["u0", "u1", "u2", "u3"], "code_id": "C01"})
    out = _code_table(table, members, probs.assign(b=0.0)[["a", "b", "none"]], own)
    assert out["rationale"][0].endswith('For example: "Aye." / "Aye 2."')  # not "Bee." (b)


def test_a_codes_score_is_the_share_of_members_that_chose_its_theme():
    # Two weak votes for "a" and one near-certain unit of "b": the members' mean probability
    # ranks b first (0.56 against 0.27), but the code's theme is its members' majority, and
    # its score must not say otherwise (the tester's C15: 0.35 against a runner-up's 0.47).
    from themesift.propose import _code_table

    probs = pd.DataFrame([[0.40, 0.35, 0.25, 0.0], [0.40, 0.35, 0.25, 0.0],
                          [0.02, 0.97, 0.01, 0.0], [0.1, 0.1, 0.1, 0.7]],
                         index=pd.Index(["u0", "u1", "u2", "u3"], name="unit_id"),
                         columns=["a", "b", "c", "none"])
    own = pd.DataFrame({"unit_id": ["u0", "u1", "u2", "u3"], "theme_id": ["a", "a", "b", "none"]})
    table = pd.DataFrame({"code_id": ["C01", "C02"], "label": ["x", "y"], "size": [3, 1],
                          "keywords": ["k", "k"], "exemplars": ["q", "r"]})
    members = pd.DataFrame({"unit_id": ["u0", "u1", "u2", "u3"],
                            "code_id": ["C01", "C01", "C01", "C02"]})
    out = _code_table(table, members, probs, own).set_index("code_id")
    assert out.loc["C01", ["theme_id", "score", "runner_up", "runner_up_score", "agreement"]
                   ].tolist() == ["a", 0.6667, "b", 0.3333, 0.6667]
    assert out.loc["C01", "rationale"].startswith("2 of 3 member units are suggested a (67%; b 1)")
    # No member votes for a runner-up: it is the next by mean probability, with no share.
    assert out.loc["C02", ["theme_id", "score", "runner_up", "runner_up_score"]].tolist() == [
        "none", 1.0, "a", 0.0]
    assert (out["score"] >= out["runner_up_score"]).all()


def test_small_talk_is_suggested_none_with_the_reason(fake_embedder):
    units = units_of("waiting list for a flat", "The good biscuits, the chocolate ones.",
                     small_talk=[False, True])
    out = ts.suggest_units(units, FW, embedder=fake_embedder)
    assert out["theme_id"].tolist() == ["housing", "none"]
    assert out["rationale"][1].startswith("Small talk (food and drink: biscuits, chocolate): "
                                          "set aside")
    # Set aside by a rule, which leaves the themes no probability; the rationale says what the
    # framework alone would suggest.
    assert (out["score"][1], out["runner_up_score"][1]) == (1.0, 0.0)
    plain_scores = ts.suggest_units(units.drop(columns="small_talk"), FW, embedder=fake_embedder)
    top = plain_scores.iloc[1]
    theme, alone = ((top["runner_up"], top["runner_up_score"]) if top["theme_id"] == "none"
                    else (top["theme_id"], top["score"]))
    assert out["runner_up"][1] == theme
    assert f"would suggest {theme} ({alone:.2f})" in out["rationale"][1]
    plain = ts.suggest_units(units.drop(columns="small_talk"), FW, embedder=fake_embedder)
    assert not plain["rationale"][1].startswith("Small talk")  # only when flagged


def test_learning_from_few_units_of_many_themes_says_nothing_on_stderr(fake_embedder):
    import warnings

    many = Framework(name="many", version="1", description="", themes=tuple(
        Theme(f"t{i}", f"Theme {i}", f"Talk about topic number {i} and nothing else.")
        for i in range(20)))
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # scikit-learn's "unique classes" warning included
        # names and descriptions only: the clearest units are learned from
        ts.suggest_units(units_of(*(f"Topic number {i % 20} today, really." for i in range(41))),
                         many, embedder=fake_embedder)


def test_examples_name_themes_by_id_or_name_in_any_case_and_match_texts_trimmed(
        fake_embedder):
    units = units_of("waiting list for a flat", "Rent arrears and eviction.")
    examples = pd.DataFrame({"text": ["  Rent arrears and eviction. "],
                             "theme_id": ["FAMILY"]})
    out = ts.suggest_units(units, FW, embedder=fake_embedder, examples=examples)
    assert out["theme_id"][1] == "family" and "Coded family in the examples" in out["rationale"][1]
    by_name = examples.assign(theme_id=[" medication "])
    assert ts.suggest_units(units, FW, embedder=fake_embedder,
                            examples=by_name)["theme_id"][1] == "medication"
    assert ts.suggest_units(units, FW, embedder=fake_embedder, examples=examples.assign(
        theme_id=["Adherence"]))["theme_id"][1] == "medication"  # a subtheme's name


def test_a_text_coded_both_none_and_a_theme_gets_the_theme(fake_embedder):
    # a unit that two of the analyst's codings overlap, one of them none
    examples = pd.DataFrame({"text": ["Rent arrears.", "A flat.", "Rent arrears. "],
                             "theme_id": ["housing", "housing", "none"]})
    out = ts.suggest_units(units_of("Rent arrears."), FW, embedder=fake_embedder,
                           examples=examples)
    assert out["theme_id"][0] == "housing"
    assert out["rationale"][0] == "Coded housing in the examples (the analyst's own coding)."


def test_examples_of_a_single_theme_in_a_small_study_are_still_learned(fake_embedder):
    """With no stand-ins (fewer than 8 units), examples of one theme are set against every
    description: with the coded themes' descriptions alone the regression had one class, and
    the examples were silently ignored."""
    units = units_of(*STUDY[:6])
    given = [ts.score_themes(units, TABLE, embedder=fake_embedder, examples=pd.DataFrame(
        {"text": texts, "theme_id": "sorting"})).to_numpy()
        for texts in (STUDY[8:10], STUDY[10:12])]
    assert not np.allclose(np.log(given[0]), np.log(given[1]))  # saturated: compare logs


def test_an_example_copied_through_word_or_excel_still_matches_its_unit(fake_embedder):
    """Curly apostrophes and doubled spaces, as a copy through Word or Excel gives them: the
    unit was suggested a theme where the analyst had coded it none."""
    examples = pd.DataFrame({"text": ["And it\u2019s  chucking it down, so the visits cancel.",
                                      "A flat."], "theme_id": ["none", "housing"]})
    out = ts.suggest_units(units_of("And it's chucking it down, so the visits cancel."), FW,
                           embedder=fake_embedder, examples=examples)
    assert out["rationale"][0] == "Coded none in the examples (the analyst's own coding)."


def test_texts_that_do_not_read_as_english_get_a_warning(fake_embedder, caplog):
    german = units_of("Die Pflegerin war unhöflich und hat mich lange warten lassen.",
                      "Ich habe vier Stunden auf den Arzt gewartet, das war zu lang.",
                      "我等了四个小时才看到医生，太久了。", "Ja.")
    ts.suggest_units(german, FW, embedder=fake_embedder)
    assert "3 of the 3 texts long enough to tell do not read as English" in caplog.text
    caplog.clear()
    ts.suggest_units(units_of("He has been on the waiting list for a flat for two years now.",
                              "The side effects of the tablets are bad."), FW,
                     embedder=fake_embedder)
    assert "English" not in caplog.text


def test_a_codebook_of_one_or_two_themes_is_told_how_none_is_decided(fake_embedder, caplog):
    two = Framework(name="two", version="1", description="", themes=FW.themes[:2])
    ts.suggest_units(units_of("waiting list for a flat"), two, embedder=fake_embedder)
    assert "two: Fewer than three themes" in caplog.text and "add the study's other" in caplog.text
    caplog.clear()
    ts.suggest_units(units_of("waiting list for a flat"), FW, embedder=fake_embedder)
    ts.suggest_units(units_of("waiting list for a flat"), two, embedder=fake_embedder,
                     none_similarity=0.5)  # a level of the analyst's own: nothing to say
    assert "Fewer than three themes" not in caplog.text


def test_small_talk_the_analyst_coded_keeps_its_coding(fake_embedder):
    units = units_of("waiting list for a flat", "The good biscuits, the chocolate ones.",
                     small_talk=[False, True])
    examples = pd.DataFrame({"text": ["The good biscuits, the chocolate ones."],
                             "theme_id": ["family"]})
    out = ts.suggest_units(units, FW, embedder=fake_embedder, examples=examples)
    assert out["theme_id"].tolist() == ["housing", "family"]
    assert "Coded family in the examples" in out["rationale"][1]
    assert not out["rationale"][1].startswith("Small talk")


def test_a_small_talk_column_read_as_text_flags_only_its_true_cells(fake_embedder):
    units = units_of("waiting list for a flat", "The good biscuits, the chocolate ones.",
                     "Rent arrears and eviction.", small_talk=["False", "True", ""])
    out = ts.suggest_units(units, FW, embedder=fake_embedder)
    assert out["rationale"].str.startswith("Small talk").tolist() == [False, True, False]


def test_suggestions_keep_the_index_of_the_units_given(fake_embedder):
    units = units_of("waiting list for a flat", "Rent arrears and eviction.",
                     "Her mum rings every day.").set_index(pd.Index([7, 3, 5]))
    out = ts.suggest_units(units.iloc[1:], FW, embedder=fake_embedder)
    assert out.index.tolist() == [3, 5]
    units["theme"] = out["theme_id"]  # a column goes back onto the caller's rows
    assert units["theme"].tolist()[1:] == ["housing", "family"]


def test_examples_of_one_theme_do_not_take_every_unit(sample_units, embedder):
    # An analyst who reassigns eight units to hope, theme by theme as analysts work: the
    # learner used to learn "participants' words" against the other themes' descriptions and
    # suggested hope for 230 of 249 units.
    before = ts.suggest_units(sample_units, "recovery", embedder=embedder)
    moved = before[before["theme_id"] == "relationships"].head(8)
    text = sample_units.set_index("unit_id")["text"]
    examples = pd.DataFrame({"text": text[moved["unit_id"]].to_numpy(), "theme_id": "hope"})
    after = ts.suggest_units(sample_units, "recovery", embedder=embedder, examples=examples)
    shares = after["theme_id"].value_counts(normalize=True)
    assert shares["hope"] < 0.5 and shares.get("relationships", 0) > 0.15
    assert (after.set_index("unit_id").loc[moved["unit_id"], "theme_id"] == "hope").all()
    assert "units of the study that the framework suggests most clearly for the 3 themes" in \
        after.loc[~after["rationale"].str.startswith(("Small talk", "Coded", "Fits")),
                  "rationale"].iloc[0]


def test_a_theme_without_examples_is_still_suggested_where_the_framework_fits_it(
        sample_units, embedder):
    """The hand coding of fg1 without its symptoms units (an analyst who has not reached that
    theme yet): the learner took symptoms from 44 units zero-shot to 3, its description one
    example among many; now the framework alone speaks for a theme no example names."""
    coded = pd.read_csv(SAMPLE_CODING, dtype=str, keep_default_na=False)
    examples = coded.loc[coded["theme_id"] != "symptoms_barrier", ["text", "theme_id"]]
    zero = ts.suggest_units(sample_units, "recovery", embedder=embedder)
    taught = ts.suggest_units(sample_units, "recovery", embedder=embedder, examples=examples)
    assert (zero["theme_id"] == "symptoms_barrier").sum() > 30
    assert (taught["theme_id"] == "symptoms_barrier").sum() >= 15  # was 3
    paranoia = sample_units["text"].str.contains("paranoi", case=False)
    assert (taught.loc[paranoia.to_numpy(), "theme_id"] == "symptoms_barrier").any()


def test_decision_ids_as_a_file_gives_them_and_examples_of_one_decision(fake_embedder):
    import importlib

    propose = importlib.import_module("themesift.propose")
    read = pd.DataFrame({  # as read from a CSV file: text cells, empty ones ""
        "text": ["a", "b", "c", "a", "d", "e", "f"], "theme_id": ["sorting"] * 7,
        "decision_id": ["7", "7.0", "8", "9", "", " ", "10"],
        "rejected": ["", "", "", "", "", "", "true"]})
    # Empty cells and rejected rows name no decision; 7 and 7.0 are one; a text coded by two
    # decisions (a in 7 and 9) ties them.
    assert propose.example_decisions(read, propose.check_examples(read, TABLE)) == {
        "a": "decision 7", "b": "decision 7", "c": "decision 8"}
    # Every example coded by one decision (a code reassigned in one click): nothing to hold
    # out, so the learner's defaults, no crash.
    examples = pd.DataFrame({"text": STUDY, "theme_id": ["sorting"] * 4 + ["exporting"] * 4
                             + ["searching"] * 4, "decision_id": 12})
    out = ts.suggest_units(units_of(*STUDY), TABLE, embedder=fake_embedder, examples=examples)
    assert list(out["theme_id"]) == list(examples["theme_id"])


def _one_click_review(sample_units, embedder):
    """The sample's candidate codes and suggestions, for tests that accept codes in one click:
    ``offered`` (codes offered with a theme, largest first), ``own`` and ``text`` (each
    unit's own suggestion and its text), ``accepted(codes)`` (the example rows accepting
    those codes gives: the members whose own suggestion agrees, one decision a code) and
    ``shares(examples)`` (each theme's share of the other units, before and after learning
    from the examples)."""
    from types import SimpleNamespace

    from themesift.propose import suggest_units_and_codes

    codes = ts.discover_codes(sample_units, embedder=embedder, quiet=True)
    before, code_table = suggest_units_and_codes(sample_units, codes, "recovery",
                                                 embedder=embedder)
    own = dict(zip(before["unit_id"], before["theme_id"]))
    text = dict(zip(sample_units["unit_id"], sample_units["text"]))
    members = codes.assignments.groupby("code_id")["unit_id"].agg(list)
    offered = code_table[code_table["offered"] & (code_table["theme_id"] != "none")]

    def accepted(chosen):
        return [(u, text[u], code.theme_id, code.code_id) for code in chosen.itertuples()
                for u in members[code.code_id] if own[u] == code.theme_id]

    def shares(examples):
        after, _ = suggest_units_and_codes(sample_units, codes, "recovery", embedder=embedder,
                                           examples=examples.drop(columns="unit_id"))
        others = ~before["unit_id"].isin(examples["unit_id"])
        return [table.loc[others, "theme_id"].value_counts(normalize=True)
                for table in (before, after)]

    return SimpleNamespace(offered=offered.sort_values("size", ascending=False, kind="stable"),
                           own=own, text=text, accepted=accepted, shares=shares)


EXAMPLE_COLUMNS = ["unit_id", "text", "theme_id", "decision_id"]


def test_codes_accepted_in_one_click_do_not_pull_the_study_towards_their_themes(
        sample_units, embedder):
    # An analyst starts the review with the sample's first 8 codes offered with a theme (four
    # of them relationships), each accepted in one click: 72 members coded. Learned as 72
    # decisions, a code's near-twin members vouched for each other in the cross-validation,
    # and the study's other units went from 34% to 48% relationships and from 16% to 9% hope;
    # as 8 decisions, to 41% and 12%.
    review = _one_click_review(sample_units, embedder)
    examples = pd.DataFrame(review.accepted(review.offered[:8]), columns=EXAMPLE_COLUMNS)
    assert examples["theme_id"].nunique() >= 3  # not the few-themes case (stand-ins)
    before, after = review.shares(examples)
    assert after["relationships"] - before["relationships"] <= 0.1
    assert after["hope"] >= 0.1


def test_a_first_code_of_each_of_three_themes_does_not_pull_the_study_towards_one(
        sample_units, embedder):
    # A first hour: the largest code of one theme accepted in one click, a code of a second
    # theme, and one unit of a third. Every theme has one decision, so the cross-validation
    # cannot weigh the examples against the framework; at the weight that suits one example
    # a theme, a code's near twins pulled the study towards its theme (in a study of the
    # sample, relationships from 106 to 220 of 280 units).
    review = _one_click_review(sample_units, embedder)
    first = review.offered.drop_duplicates("theme_id")[:2]  # the largest code of two themes
    third = next(u for u, theme in review.own.items()
                 if theme not in set(first["theme_id"]) | {"none"})
    examples = pd.DataFrame(review.accepted(first) + [
        (third, review.text[third], review.own[third], "unit decision")], columns=EXAMPLE_COLUMNS)
    assert examples["theme_id"].nunique() == 3 and examples["decision_id"].nunique() == 3
    before, after = review.shares(examples)
    for theme in first["theme_id"]:
        assert after[theme] - before[theme] <= 0.1, theme


def test_examples_of_fewer_than_half_the_themes_bring_stand_ins_for_the_others():
    import importlib

    propose = importlib.import_module("themesift.propose")
    few = propose._few_themes_named
    named = lambda *themes: [(f"text {t}", t, False) for t in themes]  # noqa: E731
    assert few(named("a"), 4) and few(named("a", "b"), 4)  # under 3 themes
    assert not few(named("a", "b", "c"), 4) and not few(named("a", "b", "c"), 6)
    assert few(named("a", "b", "c", "d"), 22) and not few(named(*"abcdefghijk"), 22)
    assert few(named("a") + [("x", "b", True), ("y", "c", True)], 4)  # rejections name none
    # a codebook of one or two themes, every theme named: not a theme-by-theme start
    assert not few(named("a", "b"), 2) and not few(named("a"), 1) and few(named("a"), 2)


def test_a_text_coded_none_never_stands_in_as_a_themes_clearest_unit(fake_embedder, taught):
    study = [*STUDY, "Sorting is fine."]
    plain = ts.suggest_units(units_of(*study), TABLE, embedder=fake_embedder)
    clearest = [text for text, _, _ in taught[0]]
    coded_none = clearest[0]
    for examples in (  # none alone (the units' clearest), and with one theme (stand-ins)
            pd.DataFrame({"text": [f" {coded_none}"], "theme_id": ["none"]}),
            pd.DataFrame({"text": [coded_none, study[-1]], "theme_id": ["none", "sorting"]})):
        taught.clear()
        out = ts.suggest_units(units_of(*study), TABLE, embedder=fake_embedder,
                               examples=examples)
        assert coded_none not in [text for text, _, _ in taught[0]]
        assert out.set_index(units_of(*study)["text"])["theme_id"][coded_none] == "none"
    assert plain["theme_id"].ne("none").all()


def test_numbers_and_empty_cells_read_alike_in_units_and_examples(fake_embedder):
    units = pd.DataFrame({"unit_id": [1, 2], "text": [1984, "Rent arrears and eviction."]})
    examples = pd.DataFrame({"text": [1984, "Rent arrears and eviction."],
                             "theme_id": ["housing", "housing"],
                             "rejected": pd.array([True, pd.NA], dtype="boolean")})
    out = ts.suggest_units(units, FW, embedder=fake_embedder, examples=examples)
    assert out["theme_id"][0] != "housing" and out["theme_id"][1] == "housing"
    for words in (["1.0", "nan"], ["TRUE", "0.0"], ["x", "NaN"]):
        pd.testing.assert_frame_equal(ts.suggest_units(
            units, FW, embedder=fake_embedder, examples=examples.assign(rejected=words)), out)


def test_code_smoothing_finds_members_whose_ids_are_numbers(fake_embedder):
    import importlib

    propose = importlib.import_module("themesift.propose")
    codes = _codes_of({"C01": [1, 2], "C02": [3]}, {1: "a", 2: "b", 3: "c"})
    assert propose._code_groups(codes, ["1", "2", "3"]) == [[0, 1], [2]]


def test_propose_without_units_reads_empty_exemplar_cells_as_no_quotes(fake_embedder):
    codes = _codes_of({"C01": ["u1"], "C02": ["u2"]},
                      {"u1": "Rent arrears and eviction.", "u2": "Her mum rings every day."})
    codes.table["exemplars"] = ["Rent arrears and eviction.", np.nan]  # as read from a CSV
    table = ts.propose(codes, FW, embedder=fake_embedder)
    assert "nan" not in " ".join(table["rationale"])
    assert table["rationale"][1].endswith("Keywords: a, b.")  # no "For example:" of nothing


def test_small_talk_reasons_leave_out_the_words_the_framework_uses(fake_embedder):
    import dataclasses

    parking = dataclasses.replace(FW, themes=(*FW.themes, Theme(
        "access", "Access", "Getting to the clinic: buses and parking.")))
    units = pd.DataFrame({"unit_id": ["u1", "u2"], "doc_id": "fg", "turn": [0, 1],
                          "text": ["Can you all hear me?", "Oh, the parking."],
                          "small_talk": [True, True]})  # the second, next to the first
    out = ts.suggest_units(units, parking, embedder=fake_embedder)
    assert out["rationale"][1].startswith("Small talk (in a small-talk exchange: audio and video)")
    assert "parking" not in out["rationale"][1].split(":")[1]


def test_an_example_in_other_case_still_matches_its_unit(fake_embedder):
    # A survey answer copied into the examples in capitals was not known as coded.
    examples = pd.DataFrame({"text": ["RENT ARREARS AND EVICTION.", "A flat."],
                             "theme_id": ["family", "housing"]})
    out = ts.suggest_units(units_of("Rent arrears and eviction."), FW, embedder=fake_embedder,
                           examples=examples)
    assert out["theme_id"][0] == "family"
    assert out["rationale"][0] == "Coded family in the examples (the analyst's own coding)."


@pytest.mark.parametrize("text", ["N/A", "n/a.", "N.A.", "Nothing.", "nothing to add",
                                  "No comment", "Don't know", "None", "xxx"])
def test_a_non_answer_fits_no_theme(fake_embedder, text):
    out = ts.suggest_units(units_of(text, "Rent arrears and eviction."), FW,
                           embedder=fake_embedder)
    assert out["theme_id"].tolist() == ["none", "housing"]
    assert out["rationale"][0] == (f"Fits no theme: {text!r} says nothing a theme could "
                                   "describe (an answer of no content).")


def test_a_column_of_non_answers_is_rows_of_none_not_refused(fake_embedder):
    # a pilot's "Any other comments?" column: every answer "N/A" or "None", which has words
    out = ts.suggest_units(units_of(*["N/A", "None", "No comment", "Nothing."] * 2), FW,
                           embedder=fake_embedder)
    assert set(out["theme_id"]) == {"none"}


@pytest.mark.parametrize("text, foreign", [
    ("我等了四个小时才看到医生，太久了。", True),
    ("Esperé cuatro horas para ver al médico y nadie me explicó nada de lo que pasaba en la "
     "sala de espera.", True),
    # terse English notes with an en dash, a curly apostrophe, an accent: English
    ("Waiting times – terrible, staff rude, parking impossible, food cold.", False),
    ("Pain management — excellent. Physio — brilliant, café good.", False),
    ("The nurse didn’t listen to me at all and I waited for hours in the corridor without "
     "anyone telling me what was happening.", False),
])
def test_a_text_not_in_english_says_so_in_its_rationale(embedder, text, foreign):
    out = ts.suggest_units(units_of(text, "Rent arrears and eviction."), FW, embedder=embedder)
    assert out["theme_id"][0] != "none"
    assert ("does not read as English" in out["rationale"][0]) is foreign


@pytest.mark.parametrize("text", ["Nothing helped with the rent arrears.", "No flat yet.",
                                  "None of the tablets work."])
def test_answers_that_start_like_a_non_answer_are_answers(text):
    from themesift.text import is_non_answer

    assert not is_non_answer(text)


def test_a_column_without_words_is_refused_not_all_none(fake_embedder):
    # The wrong column (ages) gave 297 rows of none and exit 0.
    ages = units_of(*map(str, range(20, 30)))
    with pytest.raises(InputError, match=r"None of the 10 texts has words to compare with the "
                                         r"framework \(the first: '20', '21', '22'\)\. Check "
                                         "that the text column"):
        ts.suggest_units(ages, FW, embedder=fake_embedder)
    # a few such cells among texts are rows of none, as before
    out = ts.suggest_units(units_of("42", *["Rent arrears and eviction."] * 7), FW,
                           embedder=fake_embedder)
    assert out["theme_id"][0] == "none"


def test_a_suggestion_the_examples_took_from_the_framework_says_so(sample_units, embedder):
    # A survey answer the framework alone suggested one theme for, and the examples another:
    # its rationale quoted only the examples' theme, as if the framework agreed.
    zero = ts.suggest_units(sample_units, "recovery", embedder=embedder)
    text = sample_units.set_index("unit_id")["text"]
    swapped = {"hope": "relationships", "relationships": "hope",
               "structural_tension": "symptoms_barrier", "symptoms_barrier": "structural_tension"}
    coded = zero[zero["theme_id"].isin(swapped)].groupby("theme_id").head(6)
    examples = pd.DataFrame({"text": text[coded["unit_id"]].to_numpy(),
                             "theme_id": coded["theme_id"].map(swapped).to_numpy()})
    out = ts.suggest_units(sample_units, "recovery", embedder=embedder, examples=examples)
    judged = ~out["rationale"].str.startswith(("Coded", "Small talk", "Fits"))
    changed = judged & (out["theme_id"] != zero["theme_id"]) & (zero["theme_id"] != "none")
    assert changed.sum() >= 5
    for i in np.flatnonzero(changed):
        assert (f"the framework alone would suggest {zero['theme_id'].iloc[i]} (similarity "
                in out["rationale"].iloc[i]), out["rationale"].iloc[i]
    kept = judged & (out["theme_id"] == zero["theme_id"])
    assert kept.sum() >= 5 and not out["rationale"][kept].str.contains("outweigh").any()


def test_examples_that_move_most_units_to_one_theme_are_warned_about(caplog):
    from themesift.propose import _Evidence, _say_if_examples_pull

    evidence = _Evidence(["a", "b", "c"], [], [], np.array([]), np.zeros((0, 2)))
    framework_best = np.array([0, 1, 2, 1, 2, 0, 1, 2, 0, 1])
    themed = [("x", "b", False)] * 7 + [("y", "a", False)] + [("t9", "b", False)]
    texts = [f"t{i}" for i in range(10)]
    _say_if_examples_pull(framework_best, np.array([1] * 10), themed, evidence, texts)
    # t9 is an example itself: 6 of the 10 moved, not 7
    assert ("The coded examples move 6 of the 10 units to b from the theme the framework "
            "alone suggests (8 of the 9 coded examples are b)") in caplog.text
    caplog.clear()
    pulled_less = np.array([1, 1, 1, 1, 2, 0, 1, 2, 0, 1])
    _say_if_examples_pull(framework_best, pulled_less, themed, evidence, texts)
    assert caplog.text == ""
