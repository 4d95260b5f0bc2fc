"""What checking a checkpoint before resuming costs, against loading it (``torch.load``).

Before a run resumes, global rank 0 recomputes the CRC32 of every member of the monolithic
checkpoint it resumes from (``zipfile.ZipFile.testzip`` via
``csmpt.training.resume_guard.content_problem``): a flipped byte is found instead of loaded.
This writes a checkpoint shaped like Composer's (model weights plus one optimizer moment per
weight, fp32, in tensors of ``--tensor-mb``), then times, alternately and ``--repeats`` times:

* ``load``: ``torch.load(path, map_location="cpu", weights_only=False)``, what Composer does;
* ``check``: the CRC check;
* ``structure``: the cheap check every rank runs (the zip's central directory only).

The file is read once first, so all three read it from the page cache (a first read from disk
adds the same disk time to the load and to the check). Medians, read rates and the ratio check /
load are printed, and the check's time at a 7B checkpoint (6.7e9 parameters, fp32 weights and a
LionW moment: 54 GB) at the measured rate.

    .venv/bin/python bench/checkpoint_check_cost.py [--mb 1024] [--repeats 3] [--dir DIR]
"""

from __future__ import annotations

import argparse
import gc
import os
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import torch

from csmpt.training.resume_guard import checkpoint_problem, content_problem

SEVEN_B_BYTES = 6.7e9 * 8  # fp32 weights + one fp32 LionW moment per parameter


def write_checkpoint(path: Path, megabytes: int, tensor_mb: int) -> int:
    """Write a Composer-shaped checkpoint of about ``megabytes``; its size in bytes."""
    n = max(1, megabytes // (2 * tensor_mb))
    numel = tensor_mb * (1 << 20) // 4
    gen = torch.Generator().manual_seed(0)
    model = {f"model.blocks.{i}.weight": torch.randn(numel, generator=gen) for i in range(n)}
    moments = {k: {"exp_avg": torch.randn(numel, generator=gen)} for k in model}
    state = {"state": {"model": model, "optimizers": {"LionW": {"state": moments}}}, "rng": []}
    torch.save(state, path)
    return path.stat().st_size


def timed(fn: Callable[[], object]) -> float:
    """Seconds one call of ``fn`` takes (its result dropped before the clock stops)."""
    t0 = time.perf_counter()
    result = fn()
    del result
    seconds = time.perf_counter() - t0
    gc.collect()
    return seconds


def main() -> None:
    """Print one row per operation: median seconds, read rate, ratio to the plain load."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--mb", type=int, default=1024, help="Checkpoint size in MB.")
    ap.add_argument("--tensor-mb", type=int, default=16, help="Size of each tensor in MB.")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--dir", default=None, help="Folder on the file system to measure.")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(dir=args.dir) as tmp:
        path = Path(tmp) / "ep0-ba100-rank0.pt"
        size = write_checkpoint(path, args.mb, min(args.tensor_mb, max(1, args.mb // 2)))
        assert content_problem(path) is None, "a freshly written checkpoint must check"
        path.read_bytes()  # into the page cache
        ops: dict[str, Callable[[], object]] = {
            "load": lambda: torch.load(path, map_location="cpu", weights_only=False),
            "check": lambda: content_problem(path),
            "structure": lambda: checkpoint_problem(path),
        }
        times: dict[str, list[float]] = {name: [] for name in ops}
        for _ in range(args.repeats):
            for name, fn in ops.items():
                times[name].append(timed(fn))
    med = {name: statistics.median(t) for name, t in times.items()}
    load = os.getloadavg()[0]
    print(
        f"checkpoint {size / 1e6:.0f} MB, load average {load:.2f}, "
        f"{args.repeats} alternating repeats, medians, page cache warm"
    )
    print("| operation | seconds | MB/s | / load |")
    print("|---|---:|---:|---:|")
    for name, seconds in med.items():
        rate = size / 1e6 / seconds
        print(f"| {name} | {seconds:.4g} | {rate:,.0f} | {seconds / med['load']:.3f}x |")
    rate = size / med["check"]
    print(
        f"check / load = {med['check'] / med['load']:.2f}x; at a 7B checkpoint "
        f"({SEVEN_B_BYTES / 1e9:.0f} GB) the check takes ~{SEVEN_B_BYTES / rate:.0f} s "
        f"at {rate / 1e6:,.0f} MB/s"
    )


if __name__ == "__main__":
    main()
