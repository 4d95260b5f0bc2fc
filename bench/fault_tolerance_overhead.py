"""Cost of surviving the cluster: the signal checkpoint callback, the folder guard, atomic saves.

    .venv/bin/python bench/fault_tolerance_overhead.py [--rounds 2] [--steps 30] \
        [--data-root artifacts/demo/mds] [--tokenizer artifacts/demo/tokenizer] [--checkpoints 300]

In one process:

1. ``yamls/tiny/mpt.yaml`` trains without (A, the anchor) and with (B) ``csmpt_signal_checkpoint``,
   rounds alternating A B / B A. A timing callback records every ``BATCH_START``; the callback's
   own handlers are also timed in-process (its per-step cost, free of run-to-run noise), and so
   is the integrity check of the run's checkpoint. Target: both at most 1% of a median step.
2. The pre-resume guard on a folder of ``--checkpoints`` real torch checkpoints, each with 400
   tensors (the zip entries of a 7B model's weights and LionW momentum), ``latest`` pointing at
   the newest: target under 2 s.
3. Composer's checkpoint write of the tiny run's state, plain vs atomic (partial name + fsync +
   rename): what durability costs per save.

Prints a Markdown table, ``uptime`` before and after, and the ratios.
"""

from __future__ import annotations

import argparse
import gc
import statistics
import subprocess
import tempfile
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

import torch
import yaml
from composer.core import Callback, Event, State
from composer.loggers import Logger

REPO = Path(__file__).resolve().parents[1]
RECIPE = REPO / "yamls/tiny/mpt.yaml"
TIMER = "csmpt_bench_fault_timer"
TARGET = 0.01
_COST: defaultdict[str, float] = defaultdict(float)


class StepTimer(Callback):
    """Wall time at every ``BATCH_START`` (bench only)."""

    def __init__(self) -> None:
        self.starts: list[float] = []

    def batch_start(self, state: State, logger: Logger) -> None:
        del state, logger
        self.starts.append(time.perf_counter())


def patch_timer() -> None:
    """Add the time of SignalCheckpoint's event handlers to ``_COST``."""
    from csmpt.callbacks.signal_checkpoint import SignalCheckpoint

    run_event = SignalCheckpoint.run_event

    def timed(self: SignalCheckpoint, event: Event, state: State, logger: Logger) -> None:
        t0 = time.perf_counter()
        try:
            run_event(self, event, state, logger)
        finally:
            _COST["signal"] += time.perf_counter() - t0

    SignalCheckpoint.run_event = timed  # type: ignore[method-assign]


def variants(workdir: Path) -> dict[str, Path]:
    raw = yaml.safe_load(RECIPE.read_text(encoding="utf-8"))
    if "csmpt_signal_checkpoint" not in raw["callbacks"]:
        raise SystemExit(f"{RECIPE} has no csmpt_signal_checkpoint callback")
    out = {}
    for label in ("A", "B"):
        cfg = yaml.safe_load(RECIPE.read_text(encoding="utf-8"))
        if label == "A":
            del cfg["callbacks"]["csmpt_signal_checkpoint"]
        path = workdir / f"variant_{label}.yaml"
        path.write_text(yaml.safe_dump(cfg, sort_keys=False), encoding="utf-8")
        out[label] = path
    return out


def train_once(recipe: Path, args: list[str], warmup: int) -> tuple[float, float, Path]:
    """Median step (s), the callback's seconds per step, and the final checkpoint."""
    from csmpt.mds.streaming_threads import stop_all_streaming_threads
    from csmpt.training import run_training

    _COST.clear()
    trainer = run_training(recipe, args)
    timer = next(cb for cb in trainer.state.callbacks if isinstance(cb, StepTimer))
    steps = [b - a for a, b in zip(timer.starts, timer.starts[1:], strict=False)]
    median = statistics.median(steps[warmup:])
    per_step = _COST["signal"] / max(1, len(timer.starts))
    ckpt = Path(trainer.saved_checkpoints[-1])
    trainer.close()
    del trainer, timer
    stop_all_streaming_threads()
    gc.collect()
    return median, per_step, ckpt


def guard_folder(folder: Path, n: int) -> float:
    """Write ``n`` checkpoints of 400 tensors; return the guard's seconds on the folder."""
    from csmpt.training.resume_guard import guard_save_folder

    folder.mkdir(parents=True, exist_ok=True)
    state = {f"p{i}": torch.full((16,), float(i)) for i in range(400)}
    for step in range(1, n + 1):
        torch.save({"state": state}, folder / f"ep0-ba{step * 100}-rank0.pt")
    (folder / "latest-rank0.pt").symlink_to(f"ep0-ba{n * 100}-rank0.pt")
    t0 = time.perf_counter()
    result = guard_save_folder(folder)
    seconds = time.perf_counter() - t0
    if result.quarantined or result.resume_step != n * 100:
        raise SystemExit(f"guard misjudged the folder: {result}")
    return seconds


def save_costs(ckpt: Path, workdir: Path, repeats: int = 5) -> tuple[float, float]:
    """Median seconds of Composer's checkpoint write of ``ckpt``'s state: plain, atomic."""
    from composer.utils import checkpoint

    from csmpt.training import atomic_save

    state_dict: dict[str, Any] = torch.load(ckpt, weights_only=False)
    plain = getattr(checkpoint._write_checkpoint_file, "__wrapped__", None)
    plain = plain or checkpoint._write_checkpoint_file
    atomic_save.install()
    atomic = checkpoint._write_checkpoint_file
    out = []
    for write in (plain, atomic):
        times = []
        for i in range(repeats):
            path = workdir / f"save-{i}.pt"
            t0 = time.perf_counter()
            write(state_dict, str(path))
            times.append(time.perf_counter() - t0)
            path.unlink()
        out.append(statistics.median(times))
    return out[0], out[1]


def uptime() -> str:
    try:
        return subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()
    except OSError:
        return "n/a"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--checkpoints", type=int, default=300)
    parser.add_argument("--data-root", type=Path, default=REPO / "artifacts/demo/mds")
    parser.add_argument("--tokenizer", type=Path, default=REPO / "artifacts/demo/tokenizer")
    parser.add_argument("--workdir", type=Path, default=None)
    args = parser.parse_args()
    from llmfoundry.registry import callbacks

    from csmpt.training.resume_guard import checkpoint_problem

    callbacks.register(TIMER, func=StepTimer)
    patch_timer()
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="fault-bench-"))
    workdir.mkdir(parents=True, exist_ok=True)
    yamls = variants(workdir)
    print(f"load before: {uptime()}", flush=True)
    medians: dict[str, list[float]] = defaultdict(list)
    direct: list[float] = []
    ckpt = None
    for r in range(args.rounds):
        for label in ("A", "B") if r % 2 == 0 else ("B", "A"):
            run_dir = workdir / f"r{r}-{label}"
            overrides = [
                f"variables.data_local={args.data_root / 'cs_web'}",
                f"variables.tokenizer_name={args.tokenizer}",
                f"variables.save_folder={run_dir}",
                f"variables.run_name=bench-{r}-{label}",
                f"max_duration={args.steps}ba",
                f"eval_interval={args.steps}ba",
                f"save_interval={args.steps}ba",
                "console_log_interval=1000ba",
                f"callbacks.{TIMER}={{}}",
            ]
            median, per_step, last = train_once(yamls[label], overrides, args.warmup)
            medians[label].append(median)
            if label == "B":
                direct.append(per_step)
                ckpt = last
            print(f"round {r + 1} {label}: median step {median * 1e3:.1f} ms", flush=True)
    assert ckpt is not None
    t0 = time.perf_counter()
    for _ in range(100):
        assert checkpoint_problem(ckpt) is None
    check = (time.perf_counter() - t0) / 100
    guard = guard_folder(workdir / "many", args.checkpoints)
    plain, atomic = save_costs(ckpt, workdir)
    a, b = statistics.median(medians["A"]), statistics.median(medians["B"])
    cb = statistics.median(direct)
    print(f"\nload after: {uptime()}\n")
    print("| measure | value | ratio | target |")
    print("|---|---:|---:|---|")
    print(f"| median step, without callback (A) | {a * 1e3:.1f} ms | 1.000 | anchor |")
    print(f"| median step, with callback (B) | {b * 1e3:.1f} ms | {b / a:.3f} | noise |")
    print(f"| callback handlers per step (B) | {cb * 1e6:.0f} us | {cb / a:.5f} | <= {TARGET} |")
    print(
        f"| integrity check of one checkpoint ({ckpt.stat().st_size / 1e6:.1f} MB) "
        f"| {check * 1e6:.0f} us | {check / a:.5f} | <= {TARGET} |"
    )
    print(f"| guard, {args.checkpoints} checkpoints x 400 tensors | {guard:.3f} s | | < 2 s |")
    print(f"| checkpoint write, plain | {plain * 1e3:.1f} ms | 1.000 | anchor |")
    print(f"| checkpoint write, atomic + fsync | {atomic * 1e3:.1f} ms | {atomic / plain:.2f} | |")
    ok = cb / a <= TARGET and check / a <= TARGET and guard < 2.0
    print(f"\n{'PASS' if ok else 'FAIL'}: callback {cb / a:.2%}, check {check / a:.2%} of a step")
    if not ok:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
