"""GPU check, torch-only part: bf16 matmul rate, ALiBi attention kernels, LionW on ~1B params.

Runs where Composer does not import (what it needs from llm-foundry it imports if it can and says
why not otherwise). Appends one row (``"part": "kernels"``) to the JSONL file ``--out`` as each
thing is measured, so a time cap that stops it keeps the rows before:

* ``matmul_bf16_tflops``: the device's bf16 matmul rate, measured (the MFU denominator);
* ``attention``: forward + backward at the ~350M MPT's attention shape (B 4, H 16, T 2048, hs 64,
  bf16, causal ALiBi as ``MPTModel`` passes it): ms and peak memory above the inputs for
  ``csmpt_flex_alibi`` (compiled), ``csmpt_sdpa_alibi`` and llm-foundry's ``torch`` path;
* ``lionw``: one step on ~1B fp32 parameters for ``decoupled_lionw``, ``csmpt_lionw`` foreach and
  triton, against the memory floor (20 B/param at the bandwidth of a device-to-device copy).

    python bench/gpu_check_kernels.py --out artifacts/gpu_check/rows.jsonl [--quick]
"""

from __future__ import annotations

import argparse
import json
import logging
import statistics
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

log = logging.getLogger("gpu_check")
Emit = Callable[[dict[str, Any]], None]


def _no_emit(row: dict[str, Any]) -> None:
    """Default ``emit``: keep nothing."""


def appender(out: Path) -> Emit:
    """An ``emit`` that appends each row to the JSONL file ``out`` at once."""

    def emit(row: dict[str, Any]) -> None:
        with open(out, "a", encoding="utf-8") as f:
            f.write(json.dumps({"part": "kernels", **row}) + "\n")

    return emit


def cuda_time(fn: Callable[[], object], reps: int, warmup: int = 2) -> float:
    """Median seconds of ``fn`` on the current CUDA device, after ``warmup`` calls."""
    for _ in range(warmup):
        fn()
    torch.cuda.synchronize()
    times = []
    for _ in range(reps):
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record()
        fn()
        end.record()
        torch.cuda.synchronize()
        times.append(start.elapsed_time(end) / 1e3)
    return statistics.median(times)


def matmul_bf16_tflops(n: int = 8192, reps: int = 10) -> float:
    """Measured bf16 matmul rate (TFLOP/s) of an ``n x n x n`` product."""
    a = torch.randn(n, n, device="cuda", dtype=torch.bfloat16)
    b = torch.randn(n, n, device="cuda", dtype=torch.bfloat16)
    return 2 * n**3 / cuda_time(lambda: a @ b, reps) / 1e12


def _guard(name: str, fn: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    """Run one measurement; a failure is recorded with its reason instead of ending the check."""
    try:
        return fn()
    except Exception as e:  # noqa: BLE001 - the check reports every failure and goes on
        log.warning("%s failed: %s", name, e)
        return {"error": f"{type(e).__name__}: {e}", "traceback": traceback.format_exc()[-2000:]}


def attention(b: int, h: int, t: int, hs: int, reps: int, emit: Emit = _no_emit) -> dict[str, Any]:
    """Forward + backward of each attention implementation at one shape, bf16; a row each."""
    from csmpt.models.alibi_attention import sdpa_alibi_attention
    from csmpt.models.flex_attention import flex_alibi_attention

    impls: dict[str, Callable[..., Any]] = {
        "csmpt_flex_alibi": flex_alibi_attention,
        "csmpt_sdpa_alibi": sdpa_alibi_attention,
    }
    try:
        from llmfoundry.models.layers.attention import (
            build_alibi_bias,
            scaled_multihead_dot_product_attention,
        )

        impls["torch"] = scaled_multihead_dot_product_attention
        bias = build_alibi_bias(h, t, full=False, device=torch.device("cuda"))  # (1, H, 1, T)
        reference_error = None
    except Exception as e:  # noqa: BLE001
        reference_error = f"llm-foundry's torch path does not import: {type(e).__name__}: {e}"
        slopes = 2.0 ** (-8.0 * torch.arange(1, h + 1, device="cuda") / h)  # MPT's ALiBi slopes
        bias = (torch.arange(1 - t, 1, device="cuda") * slopes[:, None]).view(1, h, 1, t)
    padding = torch.ones(b, t, dtype=torch.bool, device="cuda")
    # As MPTModel passes it for a packed batch: padding folded in, bias (B, H, 1, T).
    bias = bias.float().masked_fill(~padding.view(b, 1, 1, t), torch.finfo(torch.float32).min)
    g = torch.Generator(device="cuda").manual_seed(0)
    q, k, v = (
        torch.randn(b, t, h * hs, device="cuda", dtype=torch.bfloat16, generator=g).requires_grad_()
        for _ in range(3)
    )
    upstream = torch.randn(b, t, h * hs, device="cuda", dtype=torch.bfloat16, generator=g)
    out: dict[str, Any] = {"shape": {"B": b, "H": h, "T": t, "hs": hs, "dtype": "bf16"}}
    if reference_error:
        out["torch"] = {"error": reference_error}
        emit({"what": "attention", "impl": "torch", **out["shape"], **out["torch"]})
    outputs = {}
    for name, fn in impls.items():

        def step(fn: Callable[..., Any] = fn) -> torch.Tensor:
            q.grad = k.grad = v.grad = None
            o = fn(q, k, v, n_heads=h, kv_n_heads=h, attn_bias=bias, key_padding_mask=padding,
                   is_causal=True)[0]  # fmt: skip
            (o * upstream).sum().backward()
            return o

        def measure(name: str = name, step: Callable[[], torch.Tensor] = step) -> dict[str, Any]:
            t0 = time.perf_counter()
            outputs[name] = step().detach()  # first call: compiles flex
            first_s = time.perf_counter() - t0
            torch.cuda.synchronize()
            torch.cuda.reset_peak_memory_stats()
            base = torch.cuda.memory_allocated()
            step()
            torch.cuda.synchronize()
            peak = torch.cuda.max_memory_allocated() - base
            return {
                "ms": cuda_time(step, reps) * 1e3,
                "peak_mib": peak / 2**20,
                "first_call_s": first_s,
            }

        out[name] = _guard(f"attention {name}", measure)
        emit({"what": "attention", "impl": name, **out["shape"], **out[name]})
    if "csmpt_flex_alibi" in outputs and "csmpt_sdpa_alibi" in outputs:
        diff = (outputs["csmpt_flex_alibi"].float() - outputs["csmpt_sdpa_alibi"].float()).abs()
        out["flex_vs_sdpa_max_abs_diff"] = diff.max().item()
        emit({"what": "flex_vs_sdpa_max_abs_diff", "value": out["flex_vs_sdpa_max_abs_diff"]})
    return out


def _lion_params(n_params: int, n_tensors: int) -> list[torch.nn.Parameter]:
    g = torch.Generator(device="cuda").manual_seed(0)
    per = n_params // n_tensors
    params = []
    for _ in range(n_tensors):
        p = torch.nn.Parameter(torch.randn(per, device="cuda", generator=g))
        p.grad = torch.randn(per, device="cuda", generator=g)
        params.append(p)
    return params


def lionw(n_params: int, reps: int, emit: Emit = _no_emit) -> dict[str, Any]:
    """One LionW step on ``n_params`` fp32 parameters per implementation, and the memory floor."""
    n_tensors = 48
    buffers = [torch.empty(n_params, device="cuda") for _ in range(2)]
    copy_s = cuda_time(lambda: buffers[1].copy_(buffers[0]), reps)
    buffers.clear()
    bandwidth = 8 * n_params / copy_s  # bytes/s: read + write 4 B each
    floor_s = 20 * n_params / bandwidth
    out: dict[str, Any] = {
        "n_params": n_params,
        "copy_bandwidth_gbs": bandwidth / 1e9,
        "floor_ms": floor_s * 1e3,
    }
    emit({"what": "lionw_floor", **out})
    kw = {"lr": 1e-4, "betas": (0.9, 0.95), "weight_decay": 0.0}
    makers: dict[str, Callable[[list[torch.nn.Parameter]], Any]] = {}
    try:
        from llmfoundry.optim import DecoupledLionW

        from csmpt.optim.lionw import LionW

        makers["decoupled_lionw"] = lambda ps: DecoupledLionW(ps, **kw)
        makers["csmpt_lionw foreach"] = lambda ps: LionW(ps, impl="foreach", **kw)
        makers["csmpt_lionw triton"] = lambda ps: LionW(ps, impl="triton", **kw)
    except Exception as e:  # noqa: BLE001
        reason = f"llm-foundry does not import: {type(e).__name__}: {e}"
        out["decoupled_lionw"] = out["csmpt_lionw foreach"] = {"error": reason}
        out["csmpt_lionw triton"] = {"error": reason}
        for name in ("decoupled_lionw", "csmpt_lionw foreach", "csmpt_lionw triton"):
            emit({"what": "lionw", "impl": name, "error": reason})

        def lion_triton(ps: list[torch.nn.Parameter]) -> Any:
            from lion_pytorch.triton import update_fn

            states = [torch.zeros_like(p) for p in ps]

            class _Step:
                def step(self) -> None:
                    for p, m in zip(ps, states, strict=True):
                        assert p.grad is not None
                        update_fn(p, p.grad, m, 1e-4, 0.0, 0.9, 0.95)

            return _Step()

        makers["lion-pytorch triton kernel (csmpt_lionw triton's)"] = lion_triton
    for name, make in makers.items():

        def measure(make: Callable[[list[torch.nn.Parameter]], Any] = make) -> dict[str, Any]:
            params = _lion_params(n_params, n_tensors)
            opt = make(params)
            try:
                s = cuda_time(opt.step, reps)
            finally:
                del opt, params
                torch.cuda.empty_cache()
            return {"ms": s * 1e3, "vs_floor": s / floor_s}

        out[name] = _guard(f"lionw {name}", measure)
        emit({"what": "lionw", "impl": name, **out[name]})
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", required=True)
    parser.add_argument("--quick", action="store_true", help="small shapes (a first try)")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(name)s: %(message)s")
    if not torch.cuda.is_available():
        raise SystemExit("gpu_check_kernels: no CUDA device")
    reps = 3 if args.quick else 10
    emit = appender(Path(args.out))
    emit({"what": "device", "device": torch.cuda.get_device_name(), "torch": torch.__version__})
    matmul = _guard("matmul", lambda: {"value": matmul_bf16_tflops()})
    emit({"what": "matmul_bf16_tflops", **matmul})
    t = 512 if args.quick else 2048
    attn = _guard("attention", lambda: attention(4, 16, t, 64, reps, emit))
    if "error" in attn:
        emit({"what": "attention", "impl": "all", **attn})
    n = 100_000_000 if args.quick else 1_000_000_000
    lion = _guard("lionw", lambda: lionw(n, reps, emit))
    if "error" in lion:
        emit({"what": "lionw", "impl": "all", **lion})
    log.info("appended the rows to %s", args.out)


if __name__ == "__main__":
    main()
