"""Benchmark one LionW step: csmpt_lionw vs llm-foundry's decoupled_lionw vs the memory floor.

Parameters have GPT-2-small shapes (124M, fp32). In one run it times, best of ``--reps``:

* ``decoupled_lionw`` (llm-foundry, the anchor), lion-pytorch's ``Lion`` (decoupled decay);
* ``csmpt_lionw`` with each of its implementations;
* the memory floor: 20 bytes/parameter (read p, g, m; write p, m) at the bandwidth of a large
  ``copy_`` measured in the same run.

and prints seconds per step, the speed-up over decoupled_lionw and the ratio to the floor.

    .venv/bin/python bench/lionw_step.py [--reps 5] [--scale 1.0]
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

import torch


def gpt2_small_shapes(scale: float = 1.0) -> list[tuple[int, ...]]:
    """Parameter shapes of GPT-2 small (124M); ``scale`` shrinks the width for quick runs."""
    d = max(64, int(768 * scale) // 64 * 64)
    shapes: list[tuple[int, ...]] = [(50304, d), (1024, d)]
    for _ in range(12):
        shapes += [(d,), (d,), (d, 3 * d), (3 * d,), (d, d), (d,)]
        shapes += [(d,), (d,), (d, 4 * d), (4 * d,), (4 * d, d), (d,)]
    return shapes + [(d,), (d,)]


def best_of(fn: Callable[[], object], reps: int) -> float:
    """Best wall time of ``reps`` calls after one warm-up call."""
    fn()
    times = []
    for _ in range(reps):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times)


def copy_bandwidth(n: int, reps: int) -> float:
    """Bytes/s of ``dst.copy_(src)`` on ``n`` fp32 elements (8 bytes moved per element)."""
    src, dst = torch.randn(n), torch.empty(n)
    return 8 * n / best_of(lambda: dst.copy_(src), reps)


def make_params(shapes: list[tuple[int, ...]]) -> list[torch.nn.Parameter]:
    """Random parameters with random gradients."""
    g = torch.Generator().manual_seed(0)
    params = [torch.nn.Parameter(torch.randn(s, generator=g)) for s in shapes]
    for p in params:
        p.grad = torch.randn(p.shape, generator=g)
    return params


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=5)
    parser.add_argument("--scale", type=float, default=1.0, help="width scale (1.0 = 124M)")
    args = parser.parse_args()

    from lion_pytorch import Lion
    from llmfoundry.optim import DecoupledLionW

    from csmpt.optim import LionW

    shapes = gpt2_small_shapes(args.scale)
    n = sum(torch.Size(s).numel() for s in shapes)
    kw = {"lr": 1e-4, "betas": (0.9, 0.95), "weight_decay": 0.0}
    bandwidth = copy_bandwidth(n, args.reps)
    floor = 20 * n / bandwidth

    variants: dict[str, Callable[[list[torch.nn.Parameter]], torch.optim.Optimizer]] = {
        "decoupled_lionw (llm-foundry)": lambda ps: DecoupledLionW(ps, **kw),
        "lion-pytorch Lion": lambda ps: Lion(ps, decoupled_weight_decay=True, **kw),
        "csmpt_lionw foreach": lambda ps: LionW(ps, impl="foreach", **kw),
        "csmpt_lionw chunked, 2 threads": lambda ps: LionW(ps, num_threads=2, **kw),
        "csmpt_lionw chunked (default)": lambda ps: LionW(ps, **kw),
    }
    results = {}
    for name, make in variants.items():
        params = make_params(shapes)
        opt = make(params)
        results[name] = best_of(opt.step, args.reps)
        del opt, params

    anchor = results["decoupled_lionw (llm-foundry)"]
    print(f"{n / 1e6:.1f}M fp32 parameters, {torch.get_num_threads()} threads, best of {args.reps}")
    print(f"copy bandwidth {bandwidth / 1e9:.1f} GB/s -> memory floor {floor:.3f} s/step")
    print(f"{'variant':32s} {'s/step':>8s} {'vs decoupled':>13s} {'vs floor':>9s}")
    for name, s in results.items():
        print(f"{name:32s} {s:8.3f} {anchor / s:12.2f}x {s / floor:8.2f}x")


if __name__ == "__main__":
    main()
