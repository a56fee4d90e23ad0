"""Suggestions and Ward's codes run their many small matrix products on one BLAS thread."""

import numpy as np
from threadpoolctl import threadpool_info

from themesift._blas import one_blas_thread


def blas_threads() -> set[int]:
    np.ones((2, 2)) @ np.ones((2, 2))  # BLAS loaded
    return {pool["num_threads"] for pool in threadpool_info() if pool["user_api"] == "blas"}


def test_one_blas_thread_holds_inside_only_and_only_where_asked():
    outside = blas_threads()
    with one_blas_thread():
        assert blas_threads() == {1}
    assert blas_threads() == outside
    with one_blas_thread(False):
        assert blas_threads() == outside
    assert one_blas_thread()(blas_threads)() == {1}  # as a decorator, each call


def test_suggestions_and_codes_are_limited(monkeypatch, fake_embedder):
    import importlib

    import pandas as pd

    import themesift as ts

    seen = []
    partition = importlib.import_module("themesift.discover._discover")
    fit = partition.fit_partition
    monkeypatch.setattr(partition, "fit_partition",
                        lambda *a, **k: seen.append(blas_threads()) or fit(*a, **k))
    units = pd.DataFrame({"unit_id": [f"u{i}" for i in range(12)],
                          "text": [f"{w} is on my mind every day" for w in
                                   ["money", "cash", "rent", "family", "sister", "mother",
                                    "sleep", "dreams", "tiredness", "work", "job", "boss"]]})
    ts.discover_codes(units, embedder=fake_embedder, quiet=True)
    assert seen == [{1}]
    assert importlib.import_module("themesift.propose")._score.__wrapped__


def test_threads_leaving_in_any_order_restore_the_count():
    # A enters, B enters, A leaves, B leaves: B must not restore the one thread that A set.
    import threading

    outside = blas_threads()
    entered, first_left = threading.Event(), threading.Event()

    def first():
        with one_blas_thread():
            entered.set()
            second_in.wait(5)
        first_left.set()

    second_in = threading.Event()

    def second():
        entered.wait(5)
        with one_blas_thread():
            second_in.set()
            first_left.wait(5)

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert blas_threads() == outside
