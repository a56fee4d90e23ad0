"""Opt-in fine-tuning on coded examples: trained once, kept, reused, timed; bad input named."""

import pickle

import numpy as np
import pandas as pd
import pytest

import themesift as ts
from themesift.cli import main
from themesift.embed import _finetune
from themesift.finetune import PAIRS_PER_TEXT, _pairs

EXAMPLES = pd.DataFrame({
    "text": ["It took months before he trusted me enough to open the door.",
             "The council only funds twelve weeks, then he has to be discharged.",
             "Is the recorder on?"],
    "theme_id": ["relationships", "structural_tension", "none"],
})


@pytest.fixture
def models(tmp_path, monkeypatch):
    """Fine-tuned models go to a throwaway folder."""
    monkeypatch.setattr(_finetune, "models_dir", lambda: tmp_path / "models")
    return tmp_path / "models"


def test_fine_tune_trains_once_keeps_the_model_and_says_how_long(embedder, models):
    tuned = ts.fine_tune(EXAMPLES, "recovery", embedder=embedder, max_pairs=16)
    done = tuned.fine_tuning
    assert not done.reused and done.pairs == 16 and done.examples == 2 and done.seconds > 0
    assert done.path.parent == models / "fine-tuned" and (done.path / "modules.json").is_file()
    assert f"in {done.seconds:.1f} s" in done.describe()
    text = EXAMPLES["text"][0]
    before, after = embedder.encode([text])[0], tuned.encode([text])[0]
    assert float(before @ after) < 0.9999  # the model did change
    assert tuned.info()["model_id"] != embedder.info()["model_id"]  # a cache file of its own
    assert pickle.loads(pickle.dumps(tuned)).fine_tuning == done  # for worker processes
    assert embedder.fine_tuning is None
    again = ts.fine_tune(EXAMPLES, "recovery", embedder=embedder, max_pairs=16)
    assert again.fine_tuning.reused and again.fine_tuning.path == done.path
    assert "Reused" in again.fine_tuning.describe()
    np.testing.assert_array_equal(again.encode([text]), tuned.encode([text]))
    # Other examples are another model.
    other = ts.fine_tune(EXAMPLES.iloc[:1], "recovery", embedder=embedder, max_pairs=16)
    assert other.fine_tuning.path != done.path
    table = ts.suggest_units(pd.DataFrame({"unit_id": ["u1"], "text": [text]}), "recovery",
                             embedder=tuned, examples=EXAMPLES)
    assert table["theme_id"].tolist() == ["relationships"]  # an example is a known unit


@pytest.mark.parametrize("examples, message", [
    (EXAMPLES.iloc[2:], "at least one example coded with a theme"),
    (EXAMPLES.assign(rejected=True), "at least one example coded with a theme"),
    (EXAMPLES.assign(theme_id="trust"), "Unknown theme 'trust' in rows 2, 3, 4"),
    (EXAMPLES.iloc[:0], "The examples table has no rows"),
])
def test_fine_tune_refuses_examples_it_cannot_learn_from(examples, message, models):
    with pytest.raises(ts.InputError, match=message):
        ts.fine_tune(examples, "recovery", embedder=object())
    assert not models.exists()


def test_fine_tune_takes_a_numpy_whole_number_and_counts_one_example(embedder, models):
    one = EXAMPLES.iloc[:1]
    tuned = ts.fine_tune(one, "recovery", embedder=embedder, max_pairs=np.int64(4))
    assert tuned.fine_tuning.pairs == 4
    assert "on 1 coded example (4 pairs)" in tuned.fine_tuning.describe()


def test_a_models_folder_that_cannot_be_written_is_named(embedder, tmp_path, monkeypatch):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    monkeypatch.setattr(_finetune, "models_dir", lambda: blocker / "models")
    with pytest.raises(ts.InputError, match="Could not write the fine-tuned model") as error:
        ts.fine_tune(EXAMPLES, "recovery", embedder=embedder, max_pairs=4)
    assert str(blocker / "models" / "fine-tuned") in str(error.value)
    assert "THEMESIFT_MODELS_DIR" in str(error.value)


@pytest.mark.parametrize("bad", [0, -3, 2.5, True, "10"])
def test_fine_tune_wants_a_whole_number_of_pairs(bad, models):
    with pytest.raises(ts.InputError, match="max_pairs must be a whole number"):
        ts.fine_tune(EXAMPLES, "recovery", max_pairs=bad)


def test_pairs_take_each_text_in_turn_with_its_theme_and_another():
    examples = [("a1", "A"), ("ab", "A"), ("ab", "B")]
    framework = [("a2", "A"), ("b1", "B"), ("c", "C")]
    theme = {"a1": {"A"}, "a2": {"A"}, "b1": {"B"}, "ab": {"A", "B"}, "c": {"C"}}
    pairs = _pairs(examples, framework, [("a1", "B")], {"B": "b1"}, 1000,
                   np.random.default_rng(0))
    assert pairs[0] == ("a1", "b1", 0.0)  # the rejection first
    assert len(pairs) == 1 + PAIRS_PER_TEXT * 5
    for left, right, target in pairs[1:]:
        assert left != right
        assert (target == 1.0) == bool(theme[left] & theme[right])
    lone = [p for p in pairs if p[0] == "c"]  # no other text of C: every pair is a negative
    assert lone and all(target == 0.0 for _, _, target in lone)
    counts = {t: sum(p[0] == t for p in pairs[1:]) for t in theme}
    assert set(counts.values()) == {PAIRS_PER_TEXT}
    # Few pairs: the coded examples come first in each round, the rejection is kept.
    few = _pairs(examples, framework * 50, [("a1", "B")], {"B": "b1"}, 8,
                 np.random.default_rng(0))
    assert len(few) == 8 and few[0] == ("a1", "b1", 0.0)
    assert {left for left, _, _ in few[1:5]} == {"a1", "ab"}


def test_suggest_fine_tune_prints_how_long_it_took(tmp_path, capsys, models, monkeypatch):
    monkeypatch.setattr("themesift.finetune.MAX_PAIRS", 16)
    table, examples, out = tmp_path / "t.csv", tmp_path / "ex.csv", tmp_path / "p.csv"
    pd.DataFrame({"text": EXAMPLES["text"]}).to_csv(table, index=False)
    EXAMPLES.to_csv(examples, index=False)
    assert main(["suggest", str(table), "--examples", str(examples), "--fine-tune",
                 "--out", str(out)]) == 0
    err = capsys.readouterr().err
    assert err.index("themesift suggest: fine-tuning the embedding model on the examples") < \
        err.index("themesift suggest: Fine-tuned the embedding model on 2 coded examples (16 pairs)")
    assert " s; kept in " in err and len(pd.read_csv(out)) == 3
    assert main(["suggest", str(table), "--examples", str(examples), "--fine-tune",
                 "--out", str(out), "--quiet"]) == 0
    err = capsys.readouterr().err
    assert "themesift suggest: Reused the model fine-tuned" in err
    assert "fine-tuning the embedding model on the examples first" not in err  # --quiet


def test_suggest_fine_tune_needs_examples(tmp_path, capsys):
    table = tmp_path / "t.csv"
    pd.DataFrame({"text": ["Is the recorder on?"]}).to_csv(table, index=False)
    with pytest.raises(SystemExit) as exit_:
        main(["suggest", str(table), "--fine-tune", "--out", str(tmp_path / "p.csv")])
    assert exit_.value.code == 2
    assert "--fine-tune learns from coded examples: give them with --examples" in \
        capsys.readouterr().err


def test_suggest_fine_tune_names_the_examples_file_it_cannot_learn_from(tmp_path, capsys):
    table, examples = tmp_path / "t.csv", tmp_path / "ex.csv"
    pd.DataFrame({"text": ["Is the recorder on?"]}).to_csv(table, index=False)
    EXAMPLES.iloc[2:].to_csv(examples, index=False)  # coded none only
    assert main(["suggest", str(table), "--examples", str(examples), "--fine-tune",
                 "--out", str(tmp_path / "p.csv"), "--quiet"]) == 1
    err = capsys.readouterr().err
    assert f"themesift suggest: error: {examples}: Fine-tuning needs at least one example" in err
