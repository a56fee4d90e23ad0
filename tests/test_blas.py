"""Codes and suggestions run their many small matrix products on one BLAS thread."""

import numpy as np
from threadpoolctl import threadpool_info

from themesift._blas import one_blas_thread


def blas_threads() -> set[int]:
    np.ones((2, 2)) @ np.ones((2, 2))  # BLAS loaded
    return {pool["num_threads"] for pool in threadpool_info() if pool["user_api"] == "blas"}


def test_one_blas_thread_holds_inside_the_function_only():
    outside = blas_threads()
    assert one_blas_thread(blas_threads)() == {1}
    assert blas_threads() == outside


def test_codes_and_suggestions_are_limited():
    import importlib

    assert importlib.import_module("themesift.discover._partition").fit_partition.__wrapped__
    assert importlib.import_module("themesift.discover._labels").phrase_labels.__wrapped__
    assert importlib.import_module("themesift.propose")._score.__wrapped__
