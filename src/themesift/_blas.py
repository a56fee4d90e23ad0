"""One BLAS thread for themesift's own small numeric work (suggestions, Ward's codes and
their labels): its matrix products are many and small, and waking OpenBLAS's threads for each
cost more than they saved (they spin on, beside the embedding model's threads): on two cores,
learning from coded examples of 770 passages took 4.1 s instead of 0.31 s, and codes and
suggestions of 1,500 units 0.1 s more. Not for UMAP + HDBSCAN (5,000 units and more), whose
large products two threads speed up. The embedding models run their own threads (ONNX
Runtime, PyTorch) and are not limited.

OpenBLAS's thread count belongs to the whole process (in most builds): while any thread is
inside, numpy's products in other threads run on one BLAS thread too, and the count is
restored when the last one leaves."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from typing import Any

_lock = threading.Lock()
_inside = 0  # threads inside one_blas_thread
_limits: Any = None  # the threadpoolctl limiter that restores the count


@contextlib.contextmanager
def one_blas_thread(limit: bool = True) -> Iterator[None]:
    """BLAS limited to one thread (threadpoolctl) inside, where ``limit``; also a decorator,
    ``@one_blas_thread()``."""
    global _inside, _limits
    if not limit:
        yield
        return
    with _lock:
        if _inside == 0:
            from threadpoolctl import threadpool_limits

            _limits = threadpool_limits(1, user_api="blas")
        _inside += 1
    try:
        yield
    finally:
        with _lock:
            _inside -= 1
            if _inside == 0:
                _limits.restore_original_limits()
                _limits = None
