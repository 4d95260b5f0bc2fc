"""Keep the garbage collector's full passes off a long-lived heap while prep runs."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["heap_frozen"]


@contextmanager
def heap_frozen() -> Iterator[None]:
    """Keep the collector's full passes off the objects that were there before (a decorator too).

    A 20 MB build creates objects enough for one full (generation 2) collection, and a full pass
    walks every object of the process: 0.34-0.40 s of a 1.2 s build when torch is imported
    (measured, bench/data_prep.py's process). Frozen (:func:`gc.freeze`), the older objects are
    not walked; what the build makes is still collected. Nested uses leave the outer to unfreeze.
    """
    frozen = gc.get_freeze_count()
    gc.freeze()
    try:
        yield
    finally:
        if not frozen:
            gc.unfreeze()
