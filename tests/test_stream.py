"""Streaming suggest: a big table, a few rows at a time, to one CSV."""

import pandas as pd
import pytest

import themesift as ts
from themesift import InputError
from themesift.propose import suggest_table, suggest_units

TEXTS = [
    "I finally felt like I belonged in the group.",
    "Nobody listened when I asked for help with my medication.",
    "The weather was terrible on the bus to the centre.",
    "Having hope again made me want to get up in the morning.",
    "My friends from the peer group came to see me.",
    "I knew who I was again after the course, I had my identity back.",
    "Staff let me decide what I wanted from my care plan.",
]


@pytest.fixture
def table(tmp_path):
    path = tmp_path / "comments.csv"
    pd.DataFrame({"ref": [f"c{i}" for i in range(len(TEXTS))], "text": TEXTS}).to_csv(path, index=False)
    return path


def test_chunks_give_the_same_rows_as_one_pass(tmp_path, table, fake_embedder, monkeypatch):
    monkeypatch.setattr(propose_module(), "REFERENCE_ROWS", 2)  # so that later rows are chunked
    out = tmp_path / "preds.csv"
    counts = suggest_table(table, out, "recovery", id_column="ref", embedder=fake_embedder,
                           chunk_rows=2, quiet=True)
    streamed = pd.read_csv(out, dtype=str, keep_default_na=False)
    units = ts.read_table(table, id_column="ref")[["unit_id", "text"]]
    whole = suggest_units(units, "recovery", embedder=fake_embedder).rename(columns={"unit_id": "id"})
    # Fewer than 8 rows: no typical fit, an empty cell.
    whole = whole[["id", "theme_id", "score", "runner_up", "rationale", "fit"]].astype(object)
    whole = whole.fillna("").astype(str)
    assert fake_embedder.calls > 4  # really chunked: at least one encode per chunk of 2 rows
    assert list(streamed.columns) == ["id", "theme_id", "score", "runner_up", "rationale", "fit"]
    pd.testing.assert_frame_equal(streamed.drop(columns="score"), whole.drop(columns="score"))
    assert streamed["score"].astype(float).round(4).tolist() == whole["score"].astype(float).tolist()
    assert counts.sum() == len(TEXTS)
    assert counts.to_dict() == streamed["theme_id"].value_counts().to_dict()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["comments.csv", "preds.csv"]


def propose_module():
    import importlib

    return importlib.import_module("themesift.propose")


@pytest.mark.parametrize("reference_rows", [5000, 10])
def test_the_chunk_size_changes_no_suggestion(tmp_path, fake_embedder, monkeypatch,
                                              reference_rows):
    # The first REFERENCE_ROWS rows are judged together whatever the chunk size (here also
    # across a chunk boundary: 10 rows in chunks of 3 and 7).
    monkeypatch.setattr(propose_module(), "REFERENCE_ROWS", reference_rows)
    texts = TEXTS * 3 + ["Peer support and hope for the future."]
    path = tmp_path / "comments.csv"
    pd.DataFrame({"ref": [f"c{i}" for i in range(len(texts))], "text": texts}).to_csv(path, index=False)
    outputs = []
    for rows in (3, 7, 5000):
        out = tmp_path / f"preds{rows}.csv"
        suggest_table(path, out, "recovery", id_column="ref", embedder=fake_embedder,
                      chunk_rows=rows, quiet=True)
        outputs.append(out.read_text())
    assert outputs[0] == outputs[1] == outputs[2]
    assert pd.read_csv(tmp_path / "preds3.csv")["fit"].notna().all()


def test_the_first_chunk_decides_what_a_typical_fit_is(tmp_path, fake_embedder, monkeypatch):
    # The first 8 rows: varied comments; then one of them, eight times. Judged on its own,
    # the second chunk would call every row typical (fit 0.5); judged as part of the table,
    # its rows fit as that comment did in the first.
    monkeypatch.setattr(propose_module(), "REFERENCE_ROWS", 8)
    texts = TEXTS + ["Peer support and hope for the future."] + [TEXTS[1]] * 8
    path = tmp_path / "comments.csv"
    pd.DataFrame({"ref": [f"c{i}" for i in range(len(texts))], "text": texts}).to_csv(path, index=False)
    out = tmp_path / "preds.csv"
    suggest_table(path, out, "recovery", id_column="ref", embedder=fake_embedder, chunk_rows=8,
                  quiet=True)
    fit = pd.read_csv(out)["fit"]
    assert fit.notna().all() and fit.between(0, 1).all()
    assert (fit[8:] == fit[1]).all() and fit[1] != 0.5


def test_row_number_ids_continue_across_chunks(tmp_path, table, fake_embedder):
    out = tmp_path / "preds.csv"
    suggest_table(table, out, "recovery", embedder=fake_embedder, chunk_rows=3, quiet=True)
    ids = pd.read_csv(out)["id"].tolist()
    assert ids == [f"row{i + 2}" for i in range(len(TEXTS))]


def test_a_bad_row_in_a_later_chunk_names_it_and_leaves_no_file(tmp_path, fake_embedder):
    path = tmp_path / "comments.csv"
    rows = [{"ref": f"c{i}", "text": t} for i, t in enumerate(TEXTS)] + [{"ref": "c1", "text": "again"}]
    pd.DataFrame(rows).to_csv(path, index=False)
    out = tmp_path / "preds.csv"
    with pytest.raises(InputError, match=r"'c1' in row 9 repeats row 3"):
        suggest_table(path, out, "recovery", id_column="ref", embedder=fake_embedder,
                      chunk_rows=2, quiet=True)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["comments.csv"]


def test_missing_column_and_bad_chunk_size(tmp_path, table, fake_embedder):
    with pytest.raises(InputError, match="No column 'comment'"):
        suggest_table(table, tmp_path / "p.csv", "recovery", text_column="comment",
                      embedder=fake_embedder)
    with pytest.raises(InputError, match="chunk_rows"):
        suggest_table(table, tmp_path / "p.csv", "recovery", embedder=fake_embedder, chunk_rows=0)


def test_an_xlsx_table_gives_the_same_rows_as_its_csv(tmp_path, table, fake_embedder):
    workbook = tmp_path / "comments.xlsx"
    pd.read_csv(table).to_excel(workbook, index=False)
    suggest_table(table, tmp_path / "from_csv.csv", "recovery", embedder=fake_embedder,
                  chunk_rows=3, quiet=True)
    suggest_table(workbook, tmp_path / "from_xlsx.csv", "recovery", embedder=fake_embedder,
                  chunk_rows=3, quiet=True)
    assert (tmp_path / "from_csv.csv").read_bytes() == (tmp_path / "from_xlsx.csv").read_bytes()


def test_the_first_chunk_decides_which_rows_a_descriptions_only_codebook_learns_from(
        tmp_path, fake_embedder, monkeypatch):
    propose = propose_module()
    monkeypatch.setattr(propose, "REFERENCE_ROWS", 9)
    chosen = []
    clearest = propose._clearest_units
    monkeypatch.setattr(propose, "_clearest_units",
                        lambda *args, **kw: chosen.append(clearest(*args, **kw)) or chosen[-1])
    learned, learn = [], propose._learn
    monkeypatch.setattr(propose, "_learn",
                        lambda *args, **kw: learned.append(learn(*args, **kw)) or learned[-1])
    codebook = ts.Framework(name="c", version="1", description="", themes=(
        ts.Theme("belonging", "Belonging", "Feeling part of a group and having friends."),
        ts.Theme("care", "Care", "Help from staff with medication and a care plan."),
    ))
    texts = TEXTS * 3
    path = tmp_path / "comments.csv"
    pd.DataFrame({"ref": [f"c{i}" for i in range(len(texts))], "text": texts}).to_csv(path, index=False)
    out = tmp_path / "preds.csv"
    suggest_table(path, out, codebook, id_column="ref", embedder=fake_embedder, chunk_rows=9,
                  quiet=True)
    assert len(chosen) == 1 and chosen[0]  # judged on the first chunk only, then kept
    assert len(learned) == 1  # and learned from once
    rationale = pd.read_csv(out)["rationale"]
    themed = rationale[~rationale.str.startswith("Fits no theme")]
    assert len(themed) > 9 and themed.str.contains(
        f"weighed against the {len(chosen[0])} units of the study").all()


def test_cells_such_as_na_or_none_are_text_in_a_workbook_as_in_a_csv(tmp_path):
    workbook = tmp_path / "t.xlsx"
    pd.DataFrame({"id": ["NA", "b"], "text": ["None", "NA"]}).to_excel(workbook, index=False)
    units = ts.read_table(workbook, id_column="id")
    assert units["unit_id"].tolist() == ["NA", "b"] and units["text"].tolist() == ["None", "NA"]


def test_the_library_refuses_to_write_csv_text_under_another_name(tmp_path, table, fake_embedder):
    with pytest.raises(InputError, match="should end with .csv"):
        suggest_table(table, tmp_path / "preds.xlsx", "recovery", embedder=fake_embedder)
    assert not (tmp_path / "preds.xlsx").exists()


def test_a_units_tables_small_talk_is_set_aside_as_suggest_units_does(tmp_path, fake_embedder):
    """themesift segment writes small_talk; suggesting its units.csv set nothing aside, so
    "We've got it till half past" got a theme from the command line and none in Python."""
    units = pd.DataFrame({
        "unit_id": [f"u{i}" for i in range(12)],
        "text": [f"Sentence {i} about the team and the support we give people." for i in range(11)]
        + ["We've got it till half past, tell him half past."],
        "small_talk": ["False"] * 11 + ["True"]})
    path = tmp_path / "units.csv"
    units.to_csv(path, index=False)
    out = tmp_path / "preds.csv"
    suggest_table(path, out, "recovery", id_column="unit_id", embedder=fake_embedder, quiet=True)
    rows = pd.read_csv(out, dtype=str, keep_default_na=False)
    whole = suggest_units(units, "recovery", embedder=fake_embedder)
    assert rows["theme_id"].tolist() == whole["theme_id"].tolist()
    assert rows["theme_id"].iloc[-1] == "none" and rows["rationale"].iloc[-1].startswith("Small talk")


def test_suggest_table_is_public_as_the_readme_names_it():
    # ts.suggest_table gave AttributeError: it was in propose alone.
    assert ts.suggest_table is suggest_table and "suggest_table" in ts.__all__


def test_scores_and_fits_are_written_to_four_places_with_or_without_empty_cells(tmp_path,
                                                                               fake_embedder):
    # Concatenating a chunk's suggestions with no rows of empty cells made `fit` a column of
    # objects, written with all its digits.
    texts = TEXTS * 2
    for name, cells in (("full.csv", texts), ("gaps.csv", ["", *texts[1:]])):
        path = tmp_path / name
        pd.DataFrame({"site": "A", "text": cells}).to_csv(path, index=False)
        out = tmp_path / f"preds-{name}"
        suggest_table(path, out, "recovery", embedder=fake_embedder, quiet=True)
        written = pd.read_csv(out, dtype=str, keep_default_na=False)
        assert written["fit"].str.fullmatch(r"(?:[01]\.\d{4})?").all(), written["fit"].tolist()
        assert written["score"].str.fullmatch(r"[01]\.\d{4}").all()
