"""One BLAS thread for themesift's own small numeric work (suggestions, Ward codes and their
labels): its matrix products are many and small, and waking OpenBLAS's threads for each cost
more than they saved: on two cores, learning from coded examples of 770 passages took 4.1 s
instead of 0.31 s, and codes and suggestions of 1,500 units 0.1 s more. Not UMAP + HDBSCAN
(from 5,000 units), whose large products two threads speed up (1 s at 20,000 units). The
embedding models run their own threads (ONNX Runtime, PyTorch) and are not limited."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import TypeVar

F = TypeVar("F", bound=Callable)


def one_blas_thread(fn: F) -> F:
    """``fn`` run with BLAS limited to one thread (threadpoolctl)."""

    @functools.wraps(fn)
    def limited(*args, **kwargs):
        from threadpoolctl import threadpool_limits

        with threadpool_limits(1, user_api="blas"):
            return fn(*args, **kwargs)

    return limited  # type: ignore[return-value]
