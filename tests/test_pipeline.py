"""The whole pipeline and the files a batch run writes."""

import contextlib
import hashlib
import json
import os
import re
import socket
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

import themesift as ts
from themesift.pipeline import OUTPUT_FILES, REVIEW_COLUMNS


@contextlib.contextmanager
def no_network():
    """Any attempt to open a network connection inside the block fails the test."""
    original = socket.socket.connect

    def refuse(self, address):
        if isinstance(address, tuple):  # AF_INET/AF_INET6; local unix sockets are fine
            raise AssertionError(f"themesift tried to open a network connection to {address}")
        return original(self, address)

    socket.socket.connect = refuse
    try:
        yield
    finally:
        socket.socket.connect = original


@pytest.fixture(scope="session")
def sample_run(embedder, sample_dir, tmp_path_factory):
    with no_network():
        result = ts.run_pipeline(sample_dir, "recovery", embedder=embedder, seed=0, quiet=True)
    out = tmp_path_factory.mktemp("run") / "out"
    ts.write_outputs(result, out)
    return result, out


def test_a_full_run_writes_every_promised_file(sample_run):
    _, out = sample_run
    assert sorted(p.name for p in out.iterdir()) == sorted(OUTPUT_FILES)


def test_units_and_suggestions_cover_every_unit_once(sample_run, sample_corpus):
    result, out = sample_run
    units = pd.read_csv(out / "units.csv")
    suggestions = pd.read_csv(out / "unit_suggestions.csv")
    assert list(units["unit_id"]) == list(suggestions["unit_id"])
    for u in units.itertuples():
        assert sample_corpus[u.doc_id].text[u.start:u.end] == u.text
    allowed = set(result.framework.theme_ids) | {"none"}
    assert set(suggestions["theme_id"]) <= allowed
    assert suggestions["score"].between(0, 1).all()
    # the file reads on its own: whose words, where, which words
    assert list(suggestions.columns[:5]) == ["unit_id", "doc_id", "speaker", "text", "theme_id"]
    assert suggestions[["doc_id", "speaker", "text"]].equals(units[["doc_id", "speaker", "text"]])
    # small talk is kept with its span, gets no code, and is suggested none with the reason
    small_talk = units["small_talk"].to_numpy()
    assert 0 < small_talk.sum() < len(units) / 5
    coded = ~small_talk & ~units["short_reply"].to_numpy()  # a short reply gets no code either
    assert suggestions["code_id"][coded].notna().all()
    assert suggestions["code_id"][~coded].isna().all()
    assert (suggestions["theme_id"][small_talk] == "none").all()
    assert suggestions["rationale"][small_talk].str.startswith("Small talk (").all()


def test_codes_and_code_suggestions(sample_run):
    result, out = sample_run
    codes = pd.read_csv(out / "codes.csv")
    suggestions = pd.read_csv(out / "suggestions.csv")
    assert list(codes["code_id"]) == list(suggestions["code_id"])
    assert codes["size"].sum() == (~(result.units["small_talk"] | result.units["short_reply"])).sum()
    offered = suggestions["offered"]
    assert offered.any() and (suggestions["agreement"][offered] >= 0.6).all()
    assert (suggestions["agreement"][~offered] < 0.6).all()
    assert suggestions["rationale"][offered].str.contains(r"member units are suggested").all()
    assert suggestions["rationale"][~offered].str.contains("review its units one by one").all()
    assert {"label", "keywords", "exemplars", "n_speakers", "n_transcripts", "n_outliers"} <= set(codes.columns)
    assert suggestions["rationale"].str.contains("For example").all()


def test_review_sheet_has_codes_first_and_empty_decision_columns(sample_run):
    result, out = sample_run
    for sheet in (pd.read_csv(out / "review.csv", keep_default_na=False),
                  pd.read_excel(out / "review.xlsx", dtype=str, keep_default_na=False)):
        assert list(sheet.columns) == REVIEW_COLUMNS
        levels = list(sheet["level"])
        assert levels == sorted(levels)  # "code" rows before "unit" rows
        assert len(sheet) == result.suggestions["offered"].sum() + len(result.units)
        aside = sheet["small_talk"] == "yes"
        assert aside.any() and aside[aside.idxmax():].all()  # small talk last
        assert (sheet[["decision", "analyst", "note"]] == "").all().all()
        assert sheet["suggestion_id"].is_unique


def test_manifest_records_versions_config_inputs_seed_and_timings(sample_run, sample_dir):
    _, out = sample_run
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["seed"] == 0
    assert manifest["packages"]["themesift"] == ts.__version__
    assert manifest["embedding_model"]["model_id"] == "sentence-transformers/all-MiniLM-L6-v2"
    assert manifest["config"]["framework"] == "recovery-oriented-practice"
    assert {"segment", "embed", "discover", "suggest"} <= set(manifest["timings_s"])
    for item in manifest["inputs"]:
        data = Path(item["path"]).read_bytes()
        assert item["sha256"] == hashlib.sha256(data).hexdigest()


def test_report_opens_offline_and_names_every_theme(sample_run):
    result, out = sample_run
    html = (out / "report.html").read_text()
    assert html.startswith("<!DOCTYPE html>") and html.rstrip().endswith("</html>")
    # nothing to fetch: no external src/href, and the page's own policy forbids requests
    assert not re.search(r"""(src|href)\s*=\s*["']?\s*(https?:|//)""", html, re.I)
    assert "default-src 'none'" in html and "@import" not in html
    assert html.count("<circle cx=") == len(result.units) + len(result.corpus)  # map + curve
    assert result.unit_map["unit_id"].tolist() == result.units["unit_id"].tolist()
    for theme in result.framework.themes:
        assert theme.name in html
    assert "Fits no theme" in html


def test_same_inputs_and_seed_give_byte_identical_csvs(sample_run, embedder, sample_dir, tmp_path):
    _, first = sample_run
    again = ts.run_pipeline(sample_dir, "recovery", embedder=embedder, seed=0, quiet=True)
    ts.write_outputs(again, tmp_path / "again")
    for name in OUTPUT_FILES:
        if name.endswith(".csv"):
            assert (first / name).read_bytes() == (tmp_path / "again" / name).read_bytes(), name


def test_output_path_that_is_a_file_is_an_input_error(sample_run, tmp_path):
    result, _ = sample_run
    target = tmp_path / "taken"
    target.write_text("x")
    with pytest.raises(ts.InputError, match="The output path is a file"):
        ts.write_outputs(result, target)


@pytest.mark.skipif(os.name != "posix", reason="process ids are checked on POSIX only")
def test_staging_folders_of_killed_writes_are_removed_and_live_ones_kept(sample_run, tmp_path):
    result, _ = sample_run
    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)
    abandoned = tmp_path / f".themesift-{gone.stdout.strip()}-x1y2"
    live = tmp_path / f".themesift-{os.getpid()}-a1b2"
    for folder in (abandoned, live):
        folder.mkdir()
        (folder / "units.csv").write_text("half of a file")
    ts.write_outputs(result, tmp_path / "out")
    assert not abandoned.exists() and live.is_dir()
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([live.name, "out"])
