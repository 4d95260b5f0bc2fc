"""Build an attention mask once per model forward and share it across the layers.

llm-foundry's ``MPTModel`` builds one ``attn_bias`` (and keeps one ``attention_mask``) per forward
and hands the very same tensor objects to every attention layer. A mask derived only from them
(plus shapes, dtype and device) is therefore the same in every layer of that forward:
:class:`PerForwardCache` keeps the last one built and returns it while the same tensor objects
(same identity, same in-place version) come back with the same key, and builds anew as soon as
the next forward hands over new tensors. Used by ``csmpt_sdpa_alibi`` (its additive mask) and
``csmpt_flex_alibi`` (its block mask).

The cache holds one entry per thread: the mask of the latest forward stays alive until the next
forward replaces it (autograd keeps it alive through backward anyway, once, not once per layer).
:func:`per_layer_masks` turns sharing off, for tests and measurements.
"""

from __future__ import annotations

import contextlib
import threading
import weakref
from collections.abc import Callable, Hashable, Iterator
from typing import Generic, TypeVar

import torch

__all__ = ["PerForwardCache", "per_layer_masks", "sharing_enabled"]

T = TypeVar("T")

_state = threading.local()


def sharing_enabled() -> bool:
    """Whether :class:`PerForwardCache` instances return shared values (default True)."""
    return getattr(_state, "enabled", True)


@contextlib.contextmanager
def per_layer_masks() -> Iterator[None]:
    """Within this block every layer builds its own mask from the bias and padding as passed.

    The behaviour before sharing: ``csmpt_sdpa_alibi`` then builds a ``(B, H, T, T)`` mask in
    every layer, even when no key is padded. For tests and measurements.
    """
    before = sharing_enabled()
    _state.enabled = False
    try:
        yield
    finally:
        _state.enabled = before


def _fingerprint(t: torch.Tensor | None) -> tuple[weakref.ref | None, int]:
    """A weak reference to ``t`` and its in-place version counter."""
    if t is None:
        return None, -1
    return weakref.ref(t), t._version


class PerForwardCache(Generic[T]):
    """The last value built from a set of tensors, reused while the same tensors come back.

    Attributes:
        builds: How many times a value was built (not reused): once per forward when shared.
    """

    def __init__(self) -> None:
        self._local = threading.local()
        self.builds = 0

    def get(
        self,
        tensors: tuple[torch.Tensor | None, ...],
        key: Hashable,
        build: Callable[[], T],
    ) -> T:
        """Return the value built for these exact tensor objects and ``key``, building it if new.

        Args:
            tensors: The tensors the value derives from (compared by identity and version).
            key: Everything else the value depends on (shapes, flags, dtype, device).
            build: Makes the value; called only on a miss.

        Returns:
            The cached or newly built value.
        """
        entry = getattr(self._local, "entry", None)
        if sharing_enabled() and entry is not None:
            refs, versions, old_key, value = entry
            if old_key == key and len(refs) == len(tensors):
                same = all(
                    (r is None and t is None)
                    or (r is not None and t is not None and r() is t and v == t._version)
                    for r, v, t in zip(refs, versions, tensors, strict=True)
                )
                if same:
                    return value
        value = build()
        self.builds += 1
        prints = [_fingerprint(t) for t in tensors]
        self._local.entry = (
            tuple(p[0] for p in prints),
            tuple(p[1] for p in prints),
            key,
            value,
        )
        return value

    def clear(self) -> None:
        """Drop this thread's entry (frees the mask it holds)."""
        self._local.entry = None
