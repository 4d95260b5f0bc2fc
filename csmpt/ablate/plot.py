"""An ablation's curves: each variant's mean over seeds per step, with its confidence band.

One PNG per metric (the spec's metrics and the training loss) in ``OUTPUT_DIR``: for every
variant, the mean of its seeds' values at each logged step, and the band mean ± the half-width
of the Student's t interval (:func:`csmpt.ablate.stats.mean_ci`) where at least two seeds logged
that step. Evaluation metrics are logged at the eval steps only (step 0 with ``eval_first``);
the training loss at every step, on each variant's own data (a replay or a tokenizer change
makes it a different quantity: compare the held-out metrics). With merge paths, one
``merge_TEXT.png`` per text: each variant's bits per byte against α, with its band.
"""

from __future__ import annotations

import logging
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from csmpt.ablate.merging import MergeSummary
from csmpt.ablate.runner import CheckedRun
from csmpt.ablate.spec import AblationSpec
from csmpt.ablate.stats import mean_ci
from csmpt.run_folder import metric_series, read_metrics

__all__ = ["TRAIN_LOSS", "Band", "band", "plot_ablation", "plot_merges"]

log = logging.getLogger(__name__)

TRAIN_LOSS = "loss/train/total"


@dataclass(frozen=True)
class Band:
    """A variant's curve: steps, mean over seeds, and the interval's half-width (0: one seed)."""

    steps: list[int]
    mean: list[float]
    half: list[float]


def band(series: Sequence[Sequence[tuple[int, float]]], level: float = 0.95) -> Band:
    """Mean ± CI half-width per step over the seeds' ``(step, value)`` series.

    A step is kept when any seed logged a finite value there; the half-width is 0 where fewer
    than two did.
    """
    by_step: dict[int, list[float]] = {}
    for one in series:
        for step, value in one:
            if math.isfinite(value):
                by_step.setdefault(int(step), []).append(float(value))
    steps = sorted(by_step)
    means, halves = [], []
    for s in steps:
        ci = mean_ci(by_step[s], level)
        means.append(ci.mean)
        halves.append(
            ci.half_width if len(by_step[s]) > 1 and math.isfinite(ci.half_width) else 0.0
        )
    return Band(steps, means, halves)


def _file_name(prefix: str, name: str) -> str:
    return f"{prefix}_" + re.sub(r"[^A-Za-z0-9]+", "_", name).strip("_") + ".png"


def _draw_band(
    ax: Any, xs: Sequence[float], curve: Band, color: Any, label: str, marker: str | None
) -> None:
    """The mean as a line, mean ± half-width as a shaded band."""
    ax.plot(xs, curve.mean, color=color, marker=marker, ms=3, label=label)
    lo = [m - h for m, h in zip(curve.mean, curve.half, strict=True)]
    hi = [m + h for m, h in zip(curve.mean, curve.half, strict=True)]
    ax.fill_between(xs, lo, hi, color=color, alpha=0.2, lw=0)


def plot_ablation(spec: AblationSpec, checked: Sequence[CheckedRun]) -> list[Path]:
    """Write one PNG per metric to ``spec.output_dir``; return their paths (none without data)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from csmpt.report.render import save_figure

    rows = {c.run.folder: read_metrics(c.metrics_file) for c in checked if c.metrics_file.is_file()}
    written = []
    for metric in dict.fromkeys([*spec.metrics, TRAIN_LOSS]):
        fig, ax = plt.subplots(figsize=(8, 5))
        drawn = 0
        for i, v in enumerate(spec.variants):
            runs = [c for c in checked if c.run.variant == v.name and c.run.folder in rows]
            curve = band([metric_series(rows[c.run.folder], metric) for c in runs], spec.level)
            if not curve.steps:
                continue
            color = plt.get_cmap("tab20")(i % 20)
            marker = "o" if len(curve.steps) <= 12 else None
            _draw_band(ax, curve.steps, curve, color, v.name, marker)
            drawn += 1
        if not drawn:
            plt.close(fig)
            continue
        for t in spec.targets:  # the value the "tokens to reach" table measures
            if t.metric == metric:
                ax.axhline(t.value, color="grey", ls="--", lw=0.8, label=f"target {t.value:g}")
        path = Path(spec.output_dir) / _file_name("curves", metric)
        title = f"{metric}: mean ± {spec.level:.0%} CI over {len(spec.seeds)} seeds"
        save_figure(fig, ax, path, "step", metric, title)
        written.append(path)
    return written


def plot_merges(spec: AblationSpec, summaries: Sequence[MergeSummary]) -> list[Path]:
    """One PNG per text in ``spec.output_dir`` (``merge_<text>.png``); return their paths.

    Bits per byte against α for each variant: the mean over seeds and its CI band.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from csmpt.report.render import save_figure

    written = []
    for text in dict.fromkeys(s.text for s in summaries):
        fig, ax = plt.subplots(figsize=(8, 5))
        for i, variant in enumerate(dict.fromkeys(s.variant for s in summaries)):
            rows = [s for s in summaries if s.variant == variant and s.text == text]
            half = [0.0 if s.bpb.n < 2 else s.bpb.half_width for s in rows]
            curve = Band([], [s.bpb.mean for s in rows], half)
            color = plt.get_cmap("tab10")(i % 10)
            _draw_band(ax, [s.alpha for s in rows], curve, color, variant, "o")
        path = Path(spec.output_dir) / _file_name("merge", text)
        title = f"{text}: surgery (α 0) to trained (α 1), mean ± {spec.level:.0%} CI over seeds"
        save_figure(fig, ax, path, "α (weight of the trained model)", "bits per byte", title)
        written.append(path)
    return written
