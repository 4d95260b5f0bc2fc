"""FSDP2 on gloo (CPU) averages gradients over the ranks, as it does on NCCL.

FSDP2 (torch 2.7.0's ``fully_shard``) reduce-scatters fp32 and bf16 gradients with
``ReduceOp.AVG`` (``torch/distributed/fsdp/_fully_shard/_fsdp_collectives.py``,
``foreach_reduce``: ``_get_gradient_divide_factors`` returns ``(None, None)``, so no division is
done around the collective). NCCL averages; **gloo's ``reduce_scatter_tensor`` sums** and does not
refuse the op (its ``all_reduce`` does: "Cannot use ReduceOp.AVG with Gloo"). Seen on this VM: two
ranks holding 1s and 2s reduce-scatter with ``AVG`` to 3s, not 1.5s. So an FSDP2 run on CPU
processes trained on ``world_size`` times the gradient DDP and an FSDP2 run on GPUs train on:
invisible to Lion (a sign) and nearly to Adam, but not to SGD, to clipping's threshold, or to any
logged gradient norm (``bench/fsdp2_cpu.py``: 0.25 nats apart from DDP by step 20 with a
near-linear optimizer; docs/engine.md).

:func:`install` wraps ``_get_gradient_divide_factors`` so that for a gloo process group it
returns ``(1.0, N)``: ``foreach_reduce`` then sums (``ReduceOp.SUM``, which gloo has) and divides
the result by ``N``, the data-parallel size (FSDP's own fp16 path, with a pre-divide of 1). Other
backends, and torch versions without the function or with another signature, are left alone
(logged once).
"""

from __future__ import annotations

import functools
import inspect
import logging
from typing import Any

__all__ = ["install"]

log = logging.getLogger(__name__)

_MARK = "_csmpt_gloo_average"
_PARAMS = ["reduce_scatter_group", "all_reduce_group", "reduce_dtype", "device_type"]


def install() -> bool:
    """Make FSDP2's gradient reduce-scatter average on gloo (idempotent).

    Returns:
        Whether the wrapper is in place (False on a torch without the expected function).
    """
    try:
        from torch.distributed.fsdp._fully_shard import _fsdp_collectives as collectives
    except ImportError:  # a torch without FSDP2
        return False
    original = getattr(collectives, "_get_gradient_divide_factors", None)
    if original is None:
        log.info("FSDP2 gloo averaging: torch has no _get_gradient_divide_factors; not patched")
        return False
    if getattr(original, _MARK, False):
        return True
    if list(inspect.signature(original).parameters)[:4] != _PARAMS:
        log.info("FSDP2 gloo averaging: _get_gradient_divide_factors changed; not patched")
        return False

    @functools.wraps(original)
    def divide_factors(
        reduce_scatter_group: Any,
        all_reduce_group: Any,
        reduce_dtype: Any,
        device_type: str = "",
        *args: Any,
        **kwargs: Any,
    ) -> Any:
        factors = original(
            reduce_scatter_group, all_reduce_group, reduce_dtype, device_type, *args, **kwargs
        )
        if factors != (None, None) or not _is_gloo(reduce_scatter_group):
            return factors
        size = _size(reduce_scatter_group)
        if all_reduce_group is not None:
            size *= _size(all_reduce_group)
        return 1.0, float(size)

    setattr(divide_factors, _MARK, True)
    collectives._get_gradient_divide_factors = divide_factors  # noqa: SLF001
    return True


def _size(group: Any) -> int:
    """The number of ranks in a process group (``None``: the default group)."""
    import torch.distributed as dist

    return int(dist.get_world_size(group))


def _is_gloo(group: Any) -> bool:
    """Whether a process group runs on the gloo backend."""
    import torch.distributed as dist

    try:
        return str(dist.get_backend(group)) == "gloo"
    except (RuntimeError, ValueError, TypeError):  # not a process group, or none is up
        return False
