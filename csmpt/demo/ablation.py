"""The demo's ablation stage: ``csmpt ablate yamls/ablate/tiny.yaml`` in miniature.

Two learning rates of the tiny MPT, two seeds each, a few steps on the demo's shards: every run
checked before the first trains, then one table per metric (mean ± 95% CI over the seeds, each
variant against the baseline, "within noise" when the paired interval of the difference
includes 0) and ``verdict.md``.
A rerun of the demo skips the runs that finished, as ``csmpt ablate`` does.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

from rich.console import Console

from csmpt.ablate.results import MetricSummary, conclude, verdict_word
from csmpt.ablate.runner import check_runs, run_ablation
from csmpt.ablate.spec import load_spec, plan_runs

__all__ = ["ABLATE_YAML", "AblationStage", "ablation_rows", "run_ablation_stage"]

ABLATE_YAML = "yamls/ablate/tiny.yaml"


@dataclass
class AblationStage:
    """What the demo's ablation produced."""

    verdict: Path
    summaries: list[MetricSummary]
    runs: int
    seconds: float


def run_ablation_stage(
    root: Path,
    workdir: Path,
    tok_dir: Path,
    steps: int,
    console: Console,
    quiet_overrides: list[str],
) -> AblationStage:
    """Run the tiny ablation spec on the demo's shards, ``steps`` steps a run."""
    t0 = time.perf_counter()
    spec_path = root / ABLATE_YAML
    spec = load_spec(spec_path, [f"output_dir={workdir / 'ablate'}"])
    here = [
        f"variables.data_root={workdir / 'mds'}",
        f"variables.tokenizer_name={tok_dir}",
        f"max_duration={steps}ba",
        f"eval_interval={steps}ba",
        f"save_interval={steps}ba",
        # the demo's quiet console without a progress bar per run: one line per run is enough
        *(o for o in quiet_overrides if not o.startswith("loggers.csmpt_console")),
    ]
    recipe = spec.recipe if Path(spec.recipe).is_absolute() else str(root / spec.recipe)
    spec = replace(spec, recipe=recipe, overrides=[*spec.overrides, *here])
    checked = check_runs(spec, plan_runs(spec), spec_path, deep=True)

    def train(recipe: str, overrides: list[str], console: Console, verbose: bool) -> None:
        from csmpt.training.run import run_training

        del console, verbose  # inside the demo's quiet session already
        run_training(recipe, overrides)

    run_ablation(spec, checked, console, train=train)
    summaries = conclude(spec, checked, spec_path, console, tables=1)  # the deciding metric
    return AblationStage(
        Path(spec.output_dir) / "verdict.md", summaries, len(checked), time.perf_counter() - t0
    )


def ablation_rows(stage: AblationStage, short: Callable[[Path], str]) -> list[tuple[str, str]]:
    """One summary row: the verdict file and each variant's verdict against the baseline."""
    first = stage.summaries[0].metric if stage.summaries else ""
    verdicts = "; ".join(
        f"{s.variant} {verdict_word(s)}"
        for s in stage.summaries
        if s.metric == first and s.vs_baseline is not None
    )
    return [("ablation", f"{short(stage.verdict)} ({stage.runs} runs): {verdicts} ({first})")]
