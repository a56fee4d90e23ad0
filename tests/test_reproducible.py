"""Reproducibility: same inputs, config and seed give byte-identical CSVs in separate processes.

The first run (tests/test_offline.py's ``first_run``) starts with an empty embedding cache;
the second is a new process with the cache it left, into a new study. The slow test clears
the cache and runs a third time. Each study gives its runs their own id, which the review
sheet carries (so `themesift apply` knows the study and run); that id and the study's path are
the only difference allowed, and are replaced by placeholders before the bytes are compared.
"""

import functools
import hashlib
import json
import os
import shutil
import sys

import pytest

import themesift as ts
from test_offline import (CSVS, SCRATCH, TRANSCRIPT, assert_no_network_use, first_run,
                          run_cli_offline)

slow = pytest.mark.skipif(not os.environ.get("THEMESIFT_SLOW_TESTS"),
                          reason="more full CLI runs (20-60 s); set THEMESIFT_SLOW_TESTS=1")


def _run_into_new_study(name: str, *, clear_cache: bool) -> dict:
    first = first_run()
    if clear_cache:
        shutil.rmtree(first["cache"])
    folder = SCRATCH / name
    folder.mkdir()
    paths = {"study": folder / "study", "out": folder / "out", "network_log": folder / "network.log"}
    result = run_cli_offline("run", str(TRANSCRIPT), "--study", str(paths["study"]), "--out",
                             str(paths["out"]), "--quiet", cache=first["cache"],
                             network_log=paths["network_log"])
    assert result["returncode"] == 0, result["stderr"]
    assert_no_network_use(paths["network_log"])
    return {**paths, **result}


@functools.lru_cache(maxsize=None)
def second_run() -> dict:
    """A second process on the same input and seed, reading the cache the first one filled."""
    return _run_into_new_study("second", clear_cache=False)


def _csv_bytes(run: dict, name: str) -> bytes:
    """The file's bytes with this run's id and study path replaced by placeholders."""
    data = (run["out"] / name).read_bytes()
    with ts.Study.open(run["study"]) as study:
        run_id, study_path = study.latest_run_id(), str(study.path)
    return data.replace(run_id.encode(), b"<run_id>").replace(study_path.encode(), b"<study>")


def assert_same_csvs(a: dict, b: dict) -> None:
    for name in CSVS:
        left, right = _csv_bytes(a, name), _csv_bytes(b, name)
        assert left == right, f"{name} differs between the two runs"
        assert b"<run_id>" in left or name != "review.csv"  # the placeholder did its job


def test_a_second_process_with_a_warm_cache_writes_byte_identical_csvs():
    first, second = first_run(), second_run()
    assert first["out"] != second["out"]
    assert_same_csvs(first, second)


@slow
def test_a_run_after_clearing_the_embedding_cache_writes_byte_identical_csvs():
    second_run()  # so that the cache being cleared was full
    third = _run_into_new_study("after-cache-clear", clear_cache=True)
    assert_same_csvs(first_run(), third)


def test_the_manifest_records_what_reproducing_the_run_needs():
    out = first_run()["out"]
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["seed"] == 0
    assert manifest["themesift_version"] == ts.__version__
    # one version number has had several builds: which code ran (a researcher could not tell)
    from themesift.pipeline import source_digest

    assert manifest["themesift_source_sha256"] == source_digest() and len(source_digest()) == 64
    assert manifest["python"] == ".".join(map(str, sys.version_info[:3]))
    assert {"numpy", "pandas", "scikit-learn", "spacy", "torch", "sentence-transformers"} <= set(
        manifest["packages"])
    assert manifest["config"]["framework"] == "recovery-oriented-practice"
    assert manifest["config"]["framework_source"] == "builtin:recovery"
    assert manifest["config"]["codes"]["seed"] == 0
    [source] = manifest["inputs"]
    assert source["sha256"] == hashlib.sha256(TRANSCRIPT.read_bytes()).hexdigest()
    model = manifest["embedding_model"]
    assert model["model_id"] == "sentence-transformers/all-MiniLM-L6-v2"
    assert {"source", "path", "dimension", "max_seq_length", "device", "backend",
            "sentence_transformers", "transformers", "torch"} <= set(model)


def test_the_manifest_pins_the_model_weights_and_the_segmenter():
    manifest = json.loads((first_run()["out"] / "manifest.json").read_text())
    weights = manifest["embedding_model"]["weights_sha256"]
    assert len(weights) == 64 and int(weights, 16) >= 0
    segmenter = manifest["config"]["segment"]
    assert segmenter["spacy_model"] and segmenter["spacy_version"]
    assert {"min_words", "max_words", "shift_threshold"} <= set(segmenter)
    assert len(manifest["config"]["framework_sha256"]) == 64
