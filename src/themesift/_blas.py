"""One BLAS thread for themesift's own small numeric work (suggestions, Ward's codes and
their labels): its matrix products are many and small, and waking OpenBLAS's threads for each
cost more than they saved (they spin on, beside the embedding model's threads): on two cores,
learning from coded examples of 770 passages took 4.1 s instead of 0.31 s, and codes and
suggestions of 1,500 units 0.1 s more. Not for UMAP + HDBSCAN (5,000 units and more), whose
large products two threads speed up. The embedding models run their own threads (ONNX
Runtime, PyTorch) and are not limited."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator


@contextlib.contextmanager
def one_blas_thread(limit: bool = True) -> Iterator[None]:
    """BLAS limited to one thread (threadpoolctl) inside, where ``limit``; also a decorator,
    ``@one_blas_thread()``."""
    if not limit:
        yield
        return
    from threadpoolctl import threadpool_limits

    with threadpool_limits(1, user_api="blas"):
        yield
