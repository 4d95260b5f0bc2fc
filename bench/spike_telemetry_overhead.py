"""Overhead of ``csmpt_loss_spike`` and of the local MLflow logger on the training step.

    .venv/bin/python bench/spike_telemetry_overhead.py [--rounds 3] [--steps 40] \
        [--data-root artifacts/demo/mds] [--tokenizer artifacts/demo/tokenizer] [--workdir DIR]

One process trains ``yamls/tiny/mpt.yaml`` in three variants, written to temporary YAMLs:

* A (anchor): the recipe without ``csmpt_loss_spike``;
* B: the recipe (A + ``csmpt_loss_spike``);
* C: B + Composer's ``mlflow`` logger on a local file store, ``synchronous: true``;
* D: B + the same logger, asynchronous (Composer's default).

Rounds rotate the order (A B C D, B C D A, ...), so a drift over the process favours none. A
timing callback records ``perf_counter`` at every ``BATCH_START``; step ``i`` is the interval to
the next one.
Medians skip the warm-up steps; there is no eval or checkpoint inside the timed steps. Step
times of separate runs on a shared CPU are noisy, so the script also times, in-process, the
callback's own event handlers and the MLflow logger's ``log_metrics``: their time per step is
the direct cost, free of run-to-run noise. Prints a Markdown table, ``uptime`` before and after,
and the ratios (target: B and C within 2% of A).
"""

from __future__ import annotations

import argparse
import gc
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

import yaml
from composer.core import Callback, Event, State
from composer.loggers import Logger

REPO = Path(__file__).resolve().parents[1]
RECIPE = REPO / "yamls/tiny/mpt.yaml"
TIMER = "csmpt_bench_spike_timer"
TARGET = 0.02
VARIANTS = (("A", False, None), ("B", True, None), ("C", True, "sync"), ("D", True, "async"))
WHAT = {
    "B": "+ csmpt_loss_spike",
    "C": "+ csmpt_loss_spike + mlflow sync",
    "D": "+ csmpt_loss_spike + mlflow async",
}

_COST: defaultdict[str, float] = defaultdict(float)  # seconds spent, by component, in one run


class StepTimer(Callback):
    """Wall time at every ``BATCH_START`` (bench only)."""

    def __init__(self) -> None:
        self.starts: list[float] = []

    def batch_start(self, state: State, logger: Logger) -> None:
        del state, logger
        self.starts.append(time.perf_counter())

    def step_times(self) -> list[float]:
        return [b - a for a, b in zip(self.starts, self.starts[1:], strict=False)]


def patch_timers() -> None:
    """Add the time of LossSpike's handlers and MLflow's log_metrics to ``_COST``."""
    from composer.loggers import MLFlowLogger

    from csmpt.callbacks.loss_spike import LossSpike

    run_event = LossSpike.run_event

    def timed_run_event(self: LossSpike, event: Event, state: State, logger: Logger) -> None:
        t0 = time.perf_counter()
        try:
            run_event(self, event, state, logger)
        finally:
            _COST["loss_spike"] += time.perf_counter() - t0

    log_metrics = MLFlowLogger.log_metrics

    def timed_log_metrics(self: MLFlowLogger, *args: Any, **kwargs: Any) -> None:
        t0 = time.perf_counter()
        try:
            log_metrics(self, *args, **kwargs)
        finally:
            _COST["mlflow"] += time.perf_counter() - t0

    LossSpike.run_event = timed_run_event  # type: ignore[method-assign]
    MLFlowLogger.log_metrics = timed_log_metrics  # type: ignore[method-assign]


def variant_yamls(workdir: Path) -> dict[str, Path]:
    """Write A, B, C and D from the recipe; fail if the recipe lacks ``csmpt_loss_spike``."""
    raw = yaml.safe_load(RECIPE.read_text(encoding="utf-8"))
    if "csmpt_loss_spike" not in raw["callbacks"]:
        raise SystemExit(f"{RECIPE} has no csmpt_loss_spike callback")
    out = {}
    for label, spike, mlflow in VARIANTS:
        cfg = yaml.safe_load(RECIPE.read_text(encoding="utf-8"))
        if not spike:
            del cfg["callbacks"]["csmpt_loss_spike"]
        if mlflow is not None:
            cfg["loggers"]["mlflow"] = {
                "tracking_uri": "file:${variables.save_folder}/mlruns",
                "experiment_name": "bench",
                "log_system_metrics": False,
                "synchronous": mlflow == "sync",
            }
        path = workdir / f"variant_{label}.yaml"
        path.write_text(yaml.safe_dump(cfg, sort_keys=False), encoding="utf-8")
        out[label] = path
    return out


def train_once(recipe: Path, args: list[str], steps: int) -> tuple[list[float], dict[str, float]]:
    """Train one variant; return its step times and the direct costs per component."""
    from csmpt.mds.streaming_threads import stop_all_streaming_threads
    from csmpt.training import run_training

    _COST.clear()
    trainer = run_training(recipe, args)
    timer = next(cb for cb in trainer.state.callbacks if isinstance(cb, StepTimer))
    times, cost = timer.step_times(), dict(_COST)
    if int(trainer.state.timestamp.batch) != steps:
        raise SystemExit(f"{recipe.name}: trained {trainer.state.timestamp.batch} batches")
    trainer.close()
    del trainer, timer
    stop_all_streaming_threads()
    gc.collect()
    return times, cost


def uptime() -> str:
    """The machine's load (``uptime``)."""
    try:
        return subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()
    except OSError:
        return "n/a"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--steps", type=int, default=40)
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--data-root", type=Path, default=REPO / "artifacts/demo/mds")
    parser.add_argument("--tokenizer", type=Path, default=REPO / "artifacts/demo/tokenizer")
    parser.add_argument("--workdir", type=Path, default=None)
    args = parser.parse_args()
    if args.steps <= args.warmup + 2:
        raise SystemExit("--steps must exceed --warmup by at least 3")
    from llmfoundry.registry import callbacks

    callbacks.register(TIMER, func=StepTimer)
    patch_timers()
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="spike-bench-"))
    workdir.mkdir(parents=True, exist_ok=True)
    yamls = variant_yamls(workdir)
    load_before = uptime()
    print(f"load before: {load_before}", flush=True)
    labels = [v[0] for v in VARIANTS]
    medians: dict[str, list[float]] = defaultdict(list)
    direct: dict[str, list[float]] = defaultdict(list)
    rows = []
    for r in range(args.rounds):
        k = r % len(labels)
        order = labels[k:] + labels[:k]
        for label in order:
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
            times, cost = train_once(yamls[label], overrides, args.steps)
            kept = times[args.warmup :]
            med = statistics.median(kept)
            medians[label].append(med)
            per_step = {k: v / len(times) for k, v in cost.items()}
            for k, v in per_step.items():
                direct[f"{label}:{k}"].append(v)
            rows.append((r + 1, label, med, per_step))
            print(f"round {r + 1} {label}: median step {med * 1e3:.1f} ms", flush=True)
    print(f"\nload after: {uptime()}\n")
    print(f"{args.steps} steps per run, medians over steps {args.warmup + 1}..{args.steps - 1}\n")
    print("| round | variant | median step ms | loss_spike us/step | mlflow us/step |")
    print("|---:|---|---:|---:|---:|")
    for r, label, med, per_step in rows:
        spike = per_step.get("loss_spike")
        mlf = per_step.get("mlflow")
        print(
            f"| {r} | {label} | {med * 1e3:.1f} | "
            f"{'' if spike is None else f'{spike * 1e6:.0f}'} | "
            f"{'' if mlf is None else f'{mlf * 1e6:.0f}'} |"
        )
    a = statistics.median(medians["A"])
    print()
    for label, what in WHAT.items():
        ratio = statistics.median(medians[label]) / a
        parts = [direct.get(f"{label}:loss_spike", []), direct.get(f"{label}:mlflow", [])]
        own = sum(statistics.median(p) for p in parts if p)
        print(
            f"{label} ({what}) / A: step-time ratio {ratio:.4f} ({ratio - 1:+.2%}); direct cost "
            f"{own * 1e6:.0f} us/step = {own / a:.2%} of A's step; "
            f"target <= {TARGET:.0%}: {'PASS' if own / a <= TARGET else 'FAIL'} (direct)"
        )


if __name__ == "__main__":
    sys.exit(main())
