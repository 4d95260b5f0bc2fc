"""Overhead of the ``csmpt_hot_swap`` callback: step time outside swaps, swap step vs eval pass.

    .venv/bin/python bench/hot_swap_overhead.py [--rounds 3] [--steps 60] [--control] \
        [--data-root artifacts/demo/mds] [--tokenizer artifacts/demo/tokenizer] [--workdir DIR]

One process trains ``yamls/tiny/mpt.yaml`` (A, no hot swap) and ``yamls/tiny/mpt_hot_swap.yaml``
(B, swaps at steps/3 and 2*steps/3) alternately, A B, B A, A B, ... (so that a drift over the
process does not favour either), with the same overrides, each run in its own save folder. A
timing callback registered by this script records ``perf_counter`` at every ``BATCH_START`` and
around every eval pass (``EVAL_START`` -> ``EVAL_END``). Step ``i``'s time is the interval
between the ``BATCH_START`` of batches ``i`` and ``i + 1``: it holds the batch itself, the next
batch's fetch, and what runs between batches (eval, checkpoint, and the swap at
``ITERATION_START``). After each run the streaming threads it left polling are stopped. Each run
also reports the share of the machine's CPU time that other processes used and the hypervisor
stole (``/proc/stat``): step times from runs where either is large are not comparable.

Prints a Markdown table and two ratios against issue 5's targets (PASS/FAIL; it always exits 0):

* step overhead: median step of B / median step of A - 1, over the steps outside the warm-up,
  the swap steps and the steps right after them, and the eval steps and the steps right after
  them (the same steps in A and B); target <= 2%;
* swap cost / eval pass: the swap step's excess over its run's median step, over the median eval
  pass of the B runs; target < 1.

Step times of separate runs on a shared CPU are noisy, so the script also times the callback's
own event handlers in B (``HotSwap.run_event``, patched in this process only): their time per
step outside the swaps is the callback's direct cost, free of run-to-run noise. ``--control``
adds a third run per round, A again (A'), rotating the order: A'/A - 1 is what the A/B
comparison reads when there is no difference at all.
"""

from __future__ import annotations

import argparse
import gc
import os
import resource
import statistics
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from composer.core import Callback, Event, State
from composer.loggers import Logger

from csmpt.callbacks.hot_swap import HotSwap
from csmpt.mds.streaming_threads import stop_all_streaming_threads

REPO = Path(__file__).resolve().parents[1]
RECIPE_A = REPO / "yamls/tiny/mpt.yaml"
RECIPE_B = REPO / "yamls/tiny/mpt_hot_swap.yaml"
TIMER = "csmpt_bench_step_timer"
STEP_TARGET = 0.02  # the callback adds at most 2% to a step outside the swap steps
SWAP_TARGET = 1.0  # a swap step costs less than one eval pass

# Seconds spent in HotSwap's event handlers, by the step (0-based batch) they ran in; -1: before
# the first batch. Reset before each run; StepTimer moves the step on.
_CALLBACK_S: defaultdict[int, float] = defaultdict(float)
_STEP = [-1]


def time_hot_swap_handlers() -> None:
    """Patch ``HotSwap.run_event`` (in this process) to add its time to ``_CALLBACK_S``."""
    original: Callable[..., Any] = HotSwap.run_event

    def run_event(self: HotSwap, event: Event, state: State, logger: Logger) -> None:
        t0 = time.perf_counter()
        try:
            original(self, event, state, logger)
        finally:
            _CALLBACK_S[_STEP[0]] += time.perf_counter() - t0

    HotSwap.run_event = run_event  # type: ignore[method-assign]


class StepTimer(Callback):
    """Wall time at every ``BATCH_START`` and of every eval pass (bench only)."""

    def __init__(self) -> None:
        self.batch_starts: dict[int, float] = {}
        self.evals: list[tuple[int, float]] = []
        self._eval_t0: float | None = None

    def batch_start(self, state: State, logger: Logger) -> None:
        """Record when batch ``state.timestamp.batch`` (0-based) starts."""
        del logger
        _STEP[0] = int(state.timestamp.batch)
        self.batch_starts[_STEP[0]] = time.perf_counter()

    def eval_start(self, state: State, logger: Logger) -> None:
        """Start timing an eval pass."""
        del state, logger
        self._eval_t0 = time.perf_counter()

    def eval_end(self, state: State, logger: Logger) -> None:
        """Record an eval pass: the batches trained before it and its duration."""
        del logger
        if self._eval_t0 is not None:
            self.evals.append((int(state.timestamp.batch), time.perf_counter() - self._eval_t0))
            self._eval_t0 = None

    def step_times(self) -> list[float]:
        """Step ``i``'s seconds: ``BATCH_START`` of batch ``i + 1`` minus that of batch ``i``."""
        starts = [self.batch_starts[i] for i in sorted(self.batch_starts)]
        return [b - a for a, b in zip(starts, starts[1:], strict=False)]


@dataclass
class Plan:
    """Where the swaps and evals fall, and which steps the step-time medians keep."""

    steps: int
    swaps: tuple[int, int]
    eval_interval: int
    warmup: int
    after: int
    kept: list[int] = field(default_factory=list)

    @classmethod
    def make(cls, steps: int, warmup: int, after: int) -> Plan:
        """Swaps at steps/3 and 2*steps/3; no eval at a swap or in the ``after`` steps after it."""
        if steps < 12:
            raise SystemExit("--steps must be at least 12")
        swaps = (steps // 3, 2 * steps // 3)
        interval = max(2, round(steps * 5 / 12))  # 25 for 60 steps

        def evals_at(every: int) -> list[int]:
            return [k * every for k in range(1, steps // every + 1)]

        while any(s <= n <= s + after for s in swaps for n in evals_at(interval)):
            interval += 1
        plan = cls(steps, swaps, interval, warmup, after)
        excluded: set[int] = set(range(warmup))
        evals = evals_at(interval)
        # Step index i is batch i + 1 (1-based): a swap or eval after batch n is in step n - 1.
        for n in (*swaps, *evals):
            excluded.update(range(n - 1, n + after))
        plan.kept = [i for i in range(steps - 1) if i not in excluded]
        if not all(plan.segments()):
            raise SystemExit("no steps left to compare: raise --steps or lower --warmup")
        return plan

    def segments(self) -> tuple[list[int], list[int], list[int]]:
        """The kept steps before the first swap, between the swaps, and after the second."""
        s1, s2 = (n - 1 for n in self.swaps)
        return (
            [i for i in self.kept if i < s1],
            [i for i in self.kept if s1 < i < s2],
            [i for i in self.kept if i > s2],
        )


@dataclass
class RunResult:
    """One training run's step and eval times."""

    round: int
    label: str
    steps_s: list[float]
    evals_s: list[float]
    callback_s: dict[int, float]
    contention: tuple[float, float] | None = None  # share of CPU: other processes, steal

    def kept_median(self, plan: Plan) -> float:
        """Median seconds of the steps the plan keeps."""
        return statistics.median(self.steps_s[i] for i in plan.kept)

    def swap_excess(self, plan: Plan) -> list[float]:
        """Each swap step's seconds over the run's median kept step."""
        med = self.kept_median(plan)
        return [self.steps_s[n - 1] - med for n in plan.swaps]

    def after_swap_excess(self, plan: Plan) -> list[float]:
        """Each swap's following ``plan.after`` steps' seconds over the median kept step."""
        med = self.kept_median(plan)
        return [sum(self.steps_s[i] - med for i in range(n, n + plan.after)) for n in plan.swaps]

    def handler_median(self, plan: Plan) -> float:
        """Median seconds per kept step spent in the hot-swap callback's handlers."""
        return statistics.median(self.callback_s.get(i, 0.0) for i in plan.kept)


def overrides(
    plan: Plan, data_root: Path, tokenizer: Path, save_folder: Path, run_name: str, swap: bool
) -> list[str]:
    """The overrides for one run (A: ``swap=False``, B: ``swap=True``)."""
    out = [
        f"variables.data_root={data_root}",
        f"variables.tokenizer_name={tokenizer}",
        f"variables.save_folder={save_folder}",
        f"variables.run_name={run_name}",
        f"max_duration={plan.steps}ba",
        f"eval_interval={plan.eval_interval}ba",
        f"save_interval={plan.steps}ba",
        "console_log_interval=1000ba",
        f"callbacks.{TIMER}={{}}",
    ]
    if swap:
        s1, s2 = plan.swaps
        out.append(
            "callbacks.csmpt_hot_swap.swaps=["
            f"{{name: cs_crawl, at: {s1}ba, "
            "dataset: {local: '${variables.corpus_2}', split: train}}, "
            f"{{name: cs_crawl_clean, at: {s2}ba, "
            "dataset: {local: '${variables.corpus_3}', split: train}}]"
        )
    return out


def cpu_ticks() -> tuple[int, int, int] | None:
    """Machine-wide busy, steal and total CPU ticks (``/proc/stat``); None off Linux."""
    try:
        with open("/proc/stat", encoding="ascii") as f:
            fields = [int(x) for x in f.readline().split()[1:9]]
    except (OSError, ValueError):
        return None
    user, nice, system, idle, iowait, irq, softirq, steal = fields
    return user + nice + system + irq + softirq, steal, sum(fields)


def own_cpu_s() -> float:
    """CPU seconds this process and its finished children have used (user + system)."""
    return sum(
        u.ru_utime + u.ru_stime
        for u in (
            resource.getrusage(resource.RUSAGE_SELF),
            resource.getrusage(resource.RUSAGE_CHILDREN),
        )
    )


def streaming_prefixes() -> int:
    """How many shared-memory prefixes streaming's lock files in the temp folder claim.

    Streaming leaves ``<prefix>_barrier_filelock`` / ``<prefix>_cache_filelock`` in the temp
    folder for every dataset ever built there, and building a dataset walks them all from 0
    (``get_shm_prefix``): the swap's loader build slows down as they pile up.
    """
    names = os.listdir(tempfile.gettempdir())
    return len({n[:6] for n in names if n.endswith("_filelock") and n[:6].isdigit()})


def train_once(
    round_: int, label: str, recipe: Path, args: list[str], expected_steps: int
) -> RunResult:
    """Train one recipe in this process and return its timer's records."""
    from csmpt.training import run_training

    _CALLBACK_S.clear()
    _STEP[0] = -1
    ticks0, own0 = cpu_ticks(), own_cpu_s()
    trainer = run_training(recipe, args)
    ticks1, own1 = cpu_ticks(), own_cpu_s()
    timer = next(cb for cb in trainer.state.callbacks if isinstance(cb, StepTimer))
    result = RunResult(
        round_, label, timer.step_times(), [s for _, s in timer.evals], dict(_CALLBACK_S)
    )
    if ticks0 is not None and ticks1 is not None:
        busy, steal, total = (b - a for a, b in zip(ticks0, ticks1, strict=True))
        own = (own1 - own0) * os.sysconf("SC_CLK_TCK")
        result.contention = (max(0.0, busy - own) / total, steal / total)
    trained = int(trainer.state.timestamp.batch)
    trainer.close()
    del trainer, timer
    stop_all_streaming_threads()
    gc.collect()
    if trained != expected_steps or len(result.steps_s) != expected_steps - 1:
        raise SystemExit(f"{label}: trained {trained} batches, expected {expected_steps}")
    return result


def ms(seconds: float) -> str:
    """Seconds as milliseconds with one decimal."""
    return f"{seconds * 1e3:.1f}"


def us(seconds: float) -> str:
    """Seconds as whole microseconds."""
    return f"{seconds * 1e6:.0f}"


def contention(r: RunResult) -> str:
    """The share of the machine's CPU time other processes and the hypervisor took in a run."""
    if r.contention is None:
        return "n/a"
    other, steal = r.contention
    return f"{other:.0%} / {steal:.0%}"


def verdict(ok: bool) -> str:
    """PASS or FAIL."""
    return "PASS" if ok else "FAIL"


def report(plan: Plan, results: list[RunResult], prefixes: tuple[int, int]) -> None:
    """Print the per-run table, the summary table and the two ratios."""
    a_runs = [r for r in results if r.label == "A"]
    b_runs = [r for r in results if r.label == "B"]
    s1, s2 = plan.swaps
    print(
        f"\n{plan.steps} steps per run; swaps (B) after batches {s1} and {s2}; eval every "
        f"{plan.eval_interval} batches and at the end; medians over {len(plan.kept)} steps per "
        f"run (skipping {plan.warmup} warm-up steps, each swap and eval step and the "
        f"{plan.after} after it); CPU: share of the machine's CPU time other processes used / "
        "the hypervisor stole during the run; streaming lock-file prefixes in "
        f"{tempfile.gettempdir()}: {prefixes[0]} at the start, {prefixes[1]} at the end\n"
    )
    print(
        f"| round | run | median step ms | step {s1} ms | step {s2} ms | swap excess ms "
        f"| next {plan.after} steps excess ms | eval pass ms | hot-swap handlers us/step "
        "| swap handlers ms | CPU: other / steal |"
    )
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for r in results:
        med = r.kept_median(plan)
        if r.label == "B":
            excess = " / ".join(ms(x) for x in r.swap_excess(plan))
            after = " / ".join(ms(x) for x in r.after_swap_excess(plan))
            handlers = us(r.handler_median(plan))
            swap_handlers = " / ".join(ms(r.callback_s.get(n - 1, 0.0)) for n in plan.swaps)
            name = "B `mpt_hot_swap.yaml`"
        else:
            excess = after = handlers = swap_handlers = "-"
            name = "A `mpt.yaml`" if r.label == "A" else "A' `mpt.yaml` (control)"
        print(
            f"| {r.round} | {name} | {ms(med)} | {ms(r.steps_s[s1 - 1])} | "
            f"{ms(r.steps_s[s2 - 1])} | {excess} | {after} | {ms(statistics.median(r.evals_s))} "
            f"| {handlers} | {swap_handlers} | {contention(r)} |"
        )

    med_a = statistics.median(r.steps_s[i] for r in a_runs for i in plan.kept)
    med_b = statistics.median(r.steps_s[i] for r in b_runs for i in plan.kept)
    overhead = med_b / med_a - 1
    pairs = [
        b.kept_median(plan) / a.kept_median(plan) - 1 for a, b in zip(a_runs, b_runs, strict=True)
    ]
    paired = statistics.median(pairs)
    handler_s = statistics.median(r.callback_s.get(i, 0.0) for r in b_runs for i in plan.kept)
    excesses = [x for r in b_runs for x in r.swap_excess(plan)]
    eval_b = statistics.median(s for r in b_runs for s in r.evals_s)
    eval_all = statistics.median(s for r in results for s in r.evals_s)
    swap_ratio = statistics.median(excesses) / eval_b
    worst_ratio = max(excesses) / eval_b

    print("\n| measure | A | B | value | target | result |")
    print("|---|---:|---:|---:|---:|---|")
    print(
        f"| median step outside swaps, ms (all rounds) | {ms(med_a)} | {ms(med_b)} | "
        f"{overhead:+.2%} | <= +{STEP_TARGET:.0%} | {verdict(overhead <= STEP_TARGET)} |"
    )
    print(
        f"| median of per-round B/A - 1 (range {min(pairs):+.1%} to {max(pairs):+.1%}) | | | "
        f"{paired:+.2%} | | |"
    )
    titles = ("before swap 1", "between swaps", "after swap 2")
    for title, seg in zip(titles, plan.segments(), strict=True):
        seg_a = statistics.median(r.steps_s[i] for r in a_runs for i in seg)
        seg_b = statistics.median(r.steps_s[i] for r in b_runs for i in seg)
        print(
            f"| median step {title}, ms ({len(seg)} steps per run) | {ms(seg_a)} | "
            f"{ms(seg_b)} | {seg_b / seg_a - 1:+.2%} | | |"
        )
    print(
        f"| hot-swap handlers per step outside swaps (median) | | {us(handler_s)} us | "
        f"{handler_s / med_b:.3%} of B's step | | |"
    )
    print(
        f"| swap excess ms (median of {len(excesses)}) / eval pass ms (median, B) | | | "
        f"{ms(statistics.median(excesses))} / {ms(eval_b)} = {swap_ratio:.2f} | "
        f"< {SWAP_TARGET:g} | {verdict(swap_ratio < SWAP_TARGET)} |"
    )
    print(
        f"| worst swap excess ms / eval pass ms | | | {ms(max(excesses))} / {ms(eval_b)} = "
        f"{worst_ratio:.2f} | | |"
    )
    print(f"| eval pass ms (median, all runs) | | | {ms(eval_all)} | | |")
    control = [r for r in results if r.label == "A'"]
    if control:
        med_c = statistics.median(r.steps_s[i] for r in control for i in plan.kept)
        noise = [
            c.kept_median(plan) / a.kept_median(plan) - 1
            for a, c in zip(a_runs, control, strict=True)
        ]
        print(
            f"| A/A control: median step A' vs A, ms (all rounds) | {ms(med_a)} | {ms(med_c)} "
            f"(A') | {med_c / med_a - 1:+.2%} | | |"
        )
        print(
            f"| A/A control: median of per-round A'/A - 1 (range {min(noise):+.1%} to "
            f"{max(noise):+.1%}) | | | {statistics.median(noise):+.2%} | | |"
        )
    print()
    print(
        f"step overhead ratio: {med_b / med_a:.4f} ({overhead:+.2%}; target <= "
        f"+{STEP_TARGET:.0%}) {verdict(overhead <= STEP_TARGET)}"
    )
    print(
        f"swap/eval ratio: {swap_ratio:.3f} (worst {worst_ratio:.3f}; target < {SWAP_TARGET:g}) "
        f"{verdict(swap_ratio < SWAP_TARGET)}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3, help="A/B pairs, alternated")
    parser.add_argument("--steps", type=int, default=60, help="batches per run")
    parser.add_argument("--warmup", type=int, default=5, help="first steps left out")
    parser.add_argument("--after", type=int, default=2, help="steps after a swap/eval left out")
    parser.add_argument(
        "--control",
        action="store_true",
        help="also run A again each round (A'): A'/A shows the noise of an A/B comparison",
    )
    parser.add_argument("--data-root", type=Path, default=REPO / "artifacts/demo/mds")
    parser.add_argument("--tokenizer", type=Path, default=REPO / "artifacts/demo/tokenizer")
    parser.add_argument("--workdir", type=Path, default=None, help="run folders (default: temp)")
    args = parser.parse_args()
    for env in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "HF_DATASETS_OFFLINE"):
        os.environ.setdefault(env, "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    os.chdir(REPO)  # recipes name their files relative to the repository root

    data_root, tokenizer = args.data_root.resolve(), args.tokenizer.resolve()
    for corpus in ("cs_web", "cs_crawl", "cs_crawl_clean"):
        if not (data_root / corpus).is_dir():
            raise SystemExit(f"{data_root / corpus} is missing: run `csmpt demo` first")
    plan = Plan.make(args.steps, args.warmup, args.after)

    from llmfoundry.registry import callbacks

    callbacks.register(TIMER, func=StepTimer)
    time_hot_swap_handlers()

    prefixes_at_start = streaming_prefixes()
    with tempfile.TemporaryDirectory(prefix="hot_swap_bench_") as tmp:
        workdir = args.workdir.resolve() if args.workdir else Path(tmp)
        stamp = time.strftime("%Y%m%d-%H%M%S")
        results: list[RunResult] = []
        for round_ in range(1, args.rounds + 1):
            order = [("A", RECIPE_A), ("B", RECIPE_B)]
            if args.control:
                order.append(("A'", RECIPE_A))
            shift = (round_ - 1) % len(order)
            for label, recipe in order[shift:] + order[:shift]:
                name = f"bench-hot-swap-{stamp}-{round_}{label.replace(chr(39), 'c')}"
                run_args = overrides(
                    plan, data_root, tokenizer, workdir / name, name, swap=label == "B"
                )
                t0 = time.perf_counter()
                results.append(train_once(round_, label, recipe, run_args, plan.steps))
                print(
                    f"round {round_} {label}: {time.perf_counter() - t0:.1f} s",
                    file=sys.stderr,
                    flush=True,
                )
    report(plan, results, (prefixes_at_start, streaming_prefixes()))


if __name__ == "__main__":
    main()
