"""Shared fixtures. Offline first: set before anything imports huggingface_hub."""

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
# Embeddings computed by the tests (and the CLI subprocesses they start) go to a throwaway
# cache, never into the user's ~/.cache.
import atexit  # noqa: E402
import shutil  # noqa: E402
import tempfile  # noqa: E402

os.environ["THEMESIFT_CACHE_DIR"] = tempfile.mkdtemp(prefix="themesift-test-cache-")
atexit.register(shutil.rmtree, os.environ["THEMESIFT_CACHE_DIR"], ignore_errors=True)

from pathlib import Path  # noqa: E402

import pytest  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = Path(__file__).parent / "fixtures"
SAMPLE = ROOT / "data" / "sample"


@pytest.fixture(scope="session")
def fixtures() -> Path:
    return FIXTURES


@pytest.fixture(scope="session")
def sample_dir() -> Path:
    return SAMPLE


@pytest.fixture(scope="session")
def sample_corpus():
    import themesift as ts

    return ts.read_corpus(SAMPLE)


@pytest.fixture(scope="session")
def sample_units(sample_corpus):
    import themesift as ts

    return ts.segment(sample_corpus)


class FakeEmbedder:
    """A deterministic stand-in for the sentence-transformers model: hashed word counts.

    Texts that share words are close; that is all the tests of later stages need.
    """

    model_id = "fake/hashed-words"
    dimension = 512

    def __init__(self):
        self.calls = 0

    def encode(self, texts):
        from sklearn.feature_extraction.text import HashingVectorizer

        self.calls += 1
        vectorizer = HashingVectorizer(n_features=self.dimension, alternate_sign=False,
                                       stop_words="english", norm="l2")
        matrix = vectorizer.transform(list(texts)).toarray().astype("float32")
        empty = ~matrix.any(axis=1)
        matrix[empty, 0] = 1.0  # a text of stop words only still gets a unit vector
        return matrix


@pytest.fixture
def fake_embedder():
    return FakeEmbedder()


@pytest.fixture(scope="session")
def embedder(tmp_path_factory):
    """The real default model, loaded once per test session, with a throwaway cache."""
    from themesift.embed import Embedder

    return Embedder(cache_dir=tmp_path_factory.mktemp("embedding-cache"))
