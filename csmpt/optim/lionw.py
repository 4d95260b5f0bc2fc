"""LionW with llm-foundry's ``decoupled_lionw`` semantics, without its per-parameter Python loop.

The update is exactly ``DecoupledLionW.lionw`` (the same torch ops in the same order, so fp32
results are bit-identical):

    p  *= 1 - (lr / initial_lr) * weight_decay          # only when weight_decay != 0
    p  -= lr * sign(lerp(m, g, 1 - beta1))
    m   = lerp(m, g, 1 - beta2)

The state (``exp_avg`` per parameter, ``initial_lr`` per group) and the state_dict are those of
``DecoupledLionW`` (this class subclasses it), so a checkpoint moves between the two either way,
and llm-foundry's optimizer metrics keep working.

Three ways to run it (``impl``):

* ``chunked`` (CPU default): parameters are cut into cache-sized chunks (128K elements) and each
  chunk's four ops run while it is in cache, so main memory sees about one read of p, g, m and
  one write of p, m: close to the 20 B/param floor. Torch's intra-op threads parallelise each
  op; ``num_threads > 1`` instead shares the chunks between Python threads (torch ops release
  the GIL) with intra-op threads set to 1 (on 2 cores the default was measured faster).
* ``foreach`` (CUDA default): torch's multi-tensor ``_foreach_*`` kernels, a handful of kernel
  launches for all parameters instead of four per parameter.
* ``triton``: lion-pytorch's fused Triton kernel (CUDA only; one read and one write per tensor).

Skipping a step (``csmpt_loss_spike``'s ``action: skip_step``): when ``skip_fn`` is set, it is
called once per step, after the closure (if any) ran and the batch's loss is known; when it
returns True (it all-reduces its decision across ranks) the step changes nothing: no parameter,
no momentum, no new state. Zeroing the gradients would not do it for Lion: its update is the
sign of the interpolated momentum, so a zero gradient still moves every weight.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import torch
from llmfoundry.optim import DecoupledLionW

__all__ = ["LionW", "lionw_chunked", "lionw_foreach"]

log = logging.getLogger(__name__)

IMPLS = ("auto", "chunked", "foreach", "triton")

# Below this many elements the chunked path runs in the calling thread.
_MIN_THREADED_NUMEL = 1 << 20

_pool_lock = threading.Lock()
_pools: dict[int, ThreadPoolExecutor] = {}


def _pool(workers: int) -> ThreadPoolExecutor:
    with _pool_lock:
        if workers not in _pools:
            _pools[workers] = ThreadPoolExecutor(workers, thread_name_prefix="csmpt-lionw")
        return _pools[workers]


def _decay(lr: float, initial_lr: float, weight_decay: float) -> float | None:
    """The factor ``decoupled_lionw`` multiplies parameters by, or None when it skips decay."""
    if weight_decay == 0:
        return None
    factor = (lr / initial_lr) if initial_lr else 1.0
    return 1 - factor * weight_decay


def lionw_foreach(
    params: list[torch.Tensor],
    grads: list[torch.Tensor],
    exp_avgs: list[torch.Tensor],
    lr: float,
    decay: float | None,
    beta1: float,
    beta2: float,
) -> None:
    """One LionW step on lists of tensors with torch's multi-tensor (``_foreach``) kernels."""
    if decay is not None:
        torch._foreach_mul_(params, decay)
    updates = torch._foreach_lerp(exp_avgs, grads, 1 - beta1)
    torch._foreach_sign_(updates)
    torch._foreach_add_(params, updates, alpha=-lr)
    torch._foreach_lerp_(exp_avgs, grads, 1 - beta2)


def _chunk_views(
    params: Sequence[torch.Tensor],
    grads: Sequence[torch.Tensor],
    exp_avgs: Sequence[torch.Tensor],
    chunk_size: int,
) -> list[tuple[torch.Tensor, torch.Tensor, torch.Tensor]]:
    chunks = []
    for p, g, m in zip(params, grads, exp_avgs, strict=True):
        if not (p.is_contiguous() and g.is_contiguous() and m.is_contiguous()):
            chunks.append((p, g, m))  # rare: treat the whole tensor as one chunk
            continue
        pf, gf, mf = p.view(-1), g.view(-1), m.view(-1)
        for start in range(0, pf.numel(), chunk_size):
            end = start + chunk_size
            chunks.append((pf[start:end], gf[start:end], mf[start:end]))
    return chunks


def _local(t: torch.Tensor) -> torch.Tensor:
    """A DTensor's local shard (a view: in-place updates land in the DTensor), else ``t``.

    LionW is elementwise, so FSDP2's sharded parameters, gradients and moments (DTensors with
    the same placements) are updated shard by shard, exactly as the whole tensors would be.
    """
    from torch.distributed.tensor import DTensor

    return t.to_local() if isinstance(t, DTensor) else t


def lionw_chunked(
    params: list[torch.Tensor],
    grads: list[torch.Tensor],
    exp_avgs: list[torch.Tensor],
    lr: float,
    decay: float | None,
    beta1: float,
    beta2: float,
    chunk_size: int = 1 << 17,
    num_threads: int = 1,
) -> None:
    """One LionW step, chunk by chunk, on ``num_threads`` threads (the CPU path)."""
    chunks = _chunk_views(params, grads, exp_avgs, chunk_size)

    def run(part: Sequence[tuple[torch.Tensor, torch.Tensor, torch.Tensor]]) -> None:
        buf: torch.Tensor | None = None
        for p, g, m in part:
            if buf is None or buf.numel() < p.numel() or buf.dtype != p.dtype:
                buf = torch.empty(max(p.numel(), chunk_size), dtype=p.dtype, device=p.device)
            update = buf[: p.numel()].view_as(p)
            if decay is not None:
                p.mul_(decay)
            torch.lerp(m, g, 1 - beta1, out=update).sign_()
            p.add_(update, alpha=-lr)
            m.lerp_(g, 1 - beta2)

    total = sum(p.numel() for p in params)
    if num_threads <= 1 or total < _MIN_THREADED_NUMEL:
        run(chunks)  # small models: thread hand-off costs more than it saves
        return
    parts = [chunks[i::num_threads] for i in range(num_threads)]
    intra = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        for future in [_pool(num_threads).submit(run, part) for part in parts]:
            future.result()
    finally:
        torch.set_num_threads(intra)


def _lionw_triton(
    params: list[torch.Tensor],
    grads: list[torch.Tensor],
    exp_avgs: list[torch.Tensor],
    lr: float,
    initial_lr: float,
    weight_decay: float,
    beta1: float,
    beta2: float,
) -> None:
    from lion_pytorch.triton import update_fn

    # lion-pytorch decays by (1 - lr * wd); decoupled_lionw by (1 - lr / initial_lr * wd).
    wd = weight_decay / initial_lr if (weight_decay and initial_lr) else weight_decay
    for p, g, m in zip(params, grads, exp_avgs, strict=True):
        update_fn(p, g.contiguous(), m, lr, wd, beta1, beta2)


class LionW(DecoupledLionW):
    """LionW (registered as ``csmpt_lionw``): ``decoupled_lionw``'s update, fast.

    Same arguments, update, state and state_dict as llm-foundry's ``decoupled_lionw``; a run can
    switch between the two at a checkpoint in either direction.

    Args:
        params: Parameters or parameter groups.
        lr: Learning rate.
        betas: (beta1, beta2): interpolation for the update sign and for the momentum.
        weight_decay: Decoupled weight decay, scaled by lr / initial_lr.
        impl: ``auto`` (``chunked`` on CPU, ``foreach`` on CUDA), ``chunked``, ``foreach`` or
            ``triton`` (CUDA, lion-pytorch's kernel).
        chunk_size: Elements per chunk of the ``chunked`` path.
        num_threads: Python threads sharing the chunks of the ``chunked`` path (default 1: the
            calling thread, with torch's intra-op threads).
    """

    def __init__(
        self,
        params: Iterable[torch.Tensor] | Iterable[dict[str, Any]],
        lr: float = 1e-4,
        betas: tuple[float, float] = (0.9, 0.99),
        weight_decay: float = 0.0,
        impl: str = "auto",
        chunk_size: int = 1 << 17,
        num_threads: int = 1,
    ) -> None:
        if impl not in IMPLS:
            raise ValueError(f"csmpt_lionw: impl must be one of {IMPLS}, got {impl!r}")
        super().__init__(params, lr=lr, betas=betas, weight_decay=weight_decay)
        self.impl = impl
        self.chunk_size = int(chunk_size)
        self.num_threads = num_threads
        self.skip_fn: Callable[[], bool] | None = None
        self.skipped_steps = 0

    def _impl_for(self, device: torch.device) -> str:
        if self.impl == "auto":
            return "foreach" if device.type == "cuda" else "chunked"
        if self.impl == "triton" and device.type != "cuda":
            raise ValueError("csmpt_lionw: impl 'triton' needs CUDA tensors")
        return self.impl

    @torch.no_grad()
    def step(self, closure: Callable[[], float] | None = None) -> float | None:
        """Apply one LionW update to every parameter that has a gradient (unless skipped)."""
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        if self.skip_fn is not None and self.skip_fn():
            self.skipped_steps += 1
            return loss  # a skipped step: weights and optimizer state stay bit-identical
        for group in self.param_groups:
            by_device: dict[tuple[torch.device, torch.dtype], list[list[torch.Tensor]]] = {}
            for p in group["params"]:
                if p.grad is None or not p.requires_grad:
                    continue
                state = self.state[p]
                if len(state) == 0:
                    state["exp_avg"] = torch.zeros_like(p)
                lists = by_device.setdefault((p.device, p.dtype), [[], [], []])
                lists[0].append(_local(p.data))
                lists[1].append(_local(p.grad))
                lists[2].append(_local(state["exp_avg"]))
            lr, initial_lr, wd = group["lr"], group["initial_lr"], group["weight_decay"]
            beta1, beta2 = group["betas"]
            decay = _decay(lr, initial_lr, wd)
            for (device, _), (ps, gs, ms) in by_device.items():
                impl = self._impl_for(device)
                if impl == "foreach":
                    lionw_foreach(ps, gs, ms, lr, decay, beta1, beta2)
                elif impl == "triton":
                    _lionw_triton(ps, gs, ms, lr, initial_lr, wd, beta1, beta2)
                else:
                    lionw_chunked(
                        ps, gs, ms, lr, decay, beta1, beta2, self.chunk_size, self.num_threads
                    )
        return loss
