"""An ablation's results: each run's metrics, mean ± CI per variant, and the verdict vs baseline.

Every value is read from the run's ``metrics.jsonl`` with :func:`csmpt.run_folder.metric_series`
(a step logged twice keeps its last value): the metric's value at its last logged step
("final"), and at step 0 when the run evaluated before training (``eval_first``). Over the
seeds of a variant, :func:`csmpt.ablate.stats.mean_ci` gives ``mean ± half-width`` and
:func:`csmpt.ablate.stats.compare_paired` says whether the variant differs from the baseline
(the first variant): the interval of the per-seed differences excludes 0 (runs paired by seed),
or, without two common seeds, the two intervals do not overlap.
"""

from __future__ import annotations

import csv
import io
import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from csmpt.ablate.runner import CheckedRun
from csmpt.ablate.spec import AblationSpec
from csmpt.ablate.stats import Comparison, MeanCI, compare_paired, mean_ci
from csmpt.atomic import write_text
from csmpt.run_folder import metric_series, read_metrics

if TYPE_CHECKING:
    from rich.console import Console

__all__ = [
    "TABLE_HEADER",
    "MetricSummary",
    "RunResult",
    "conclude",
    "read_result",
    "summarize",
    "table_rows",
    "verdict_markdown",
    "verdict_sentence",
    "verdict_word",
    "write_csv",
]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RunResult:
    """One run's values of the spec's metrics.

    Attributes:
        variant: The variant's name.
        seed: The run's seed.
        step: The last step its ``metrics.jsonl`` logs.
        final: Each metric's value at its last logged step (None: never logged).
        step0: Each metric's value at step 0 (None: not logged at step 0).
    """

    variant: str
    seed: int
    step: int
    final: dict[str, float | None]
    step0: dict[str, float | None]


@dataclass(frozen=True)
class MetricSummary:
    """One variant's values of one metric over its seeds.

    Attributes:
        variant: The variant.
        metric: The metric.
        final: Mean ± CI of the final values (None: no run logged it).
        step0: Mean ± CI of the step-0 values (None: not evaluated at step 0).
        vs_baseline: The final values compared with the baseline's (None for the baseline, or
            when either side has no value).
    """

    variant: str
    metric: str
    final: MeanCI | None
    step0: MeanCI | None
    vs_baseline: Comparison | None


def read_result(checked: CheckedRun, metrics: Sequence[str]) -> RunResult:
    """The final (and step-0) value of each metric in one run's ``metrics.jsonl``."""
    rows = read_metrics(checked.metrics_file)
    final: dict[str, float | None] = {}
    step0: dict[str, float | None] = {}
    for name in metrics:
        series = metric_series(rows, name)
        final[name] = series[-1][1] if series else None
        step0[name] = series[0][1] if series and series[0][0] == 0 else None
        if not series:
            log.warning("%s: no metric %s", checked.metrics_file, name)
    steps = [r["step"] for r in rows if isinstance(r.get("step"), int)]
    return RunResult(checked.run.variant, checked.run.seed, max(steps, default=0), final, step0)


def _values(results: Sequence[RunResult], metric: str, at_step0: bool = False) -> list[float]:
    out = []
    for r in results:
        v = (r.step0 if at_step0 else r.final)[metric]
        if v is not None and math.isfinite(v):
            out.append(v)
    return out


def _by_seed(results: Sequence[RunResult], metric: str) -> dict[int, float]:
    return {r.seed: v for r in results if (v := r.final[metric]) is not None and math.isfinite(v)}


def summarize(spec: AblationSpec, results: Sequence[RunResult]) -> list[MetricSummary]:
    """Mean ± CI per variant and metric; each variant's final values vs the first variant's.

    The comparison pairs runs by seed (:func:`csmpt.ablate.stats.compare_paired`).
    """
    baseline = spec.variants[0].name
    out = []
    for metric in spec.metrics:
        base = _by_seed([r for r in results if r.variant == baseline], metric)
        for v in spec.variants:
            mine = [r for r in results if r.variant == v.name]
            final, zero = _values(mine, metric), _values(mine, metric, at_step0=True)
            vs = None
            if v.name != baseline and final and base:
                vs = compare_paired(base, _by_seed(mine, metric), spec.level)
            out.append(
                MetricSummary(
                    v.name,
                    metric,
                    mean_ci(final, spec.level) if final else None,
                    mean_ci(zero, spec.level) if zero else None,
                    vs,
                )
            )
    return out


def _csv_columns(spec: AblationSpec, results: Sequence[RunResult]) -> list[str]:
    cols = ["variant", "seed", "step"]
    for m in spec.metrics:
        cols.append(m)
        if any(r.step0[m] is not None for r in results):
            cols.append(f"{m}@0")
    return cols


def write_csv(path: Path, spec: AblationSpec, results: Sequence[RunResult]) -> None:
    """One row per variant x seed: its final step and raw metric values (``METRIC@0``: step 0)."""
    cols = _csv_columns(spec, results)
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=cols, lineterminator="\n")
    writer.writeheader()
    for r in results:
        row: dict[str, object] = {"variant": r.variant, "seed": r.seed, "step": r.step}
        for m in spec.metrics:
            row[m] = "" if r.final[m] is None else repr(r.final[m])
            if f"{m}@0" in cols:
                row[f"{m}@0"] = "" if r.step0[m] is None else repr(r.step0[m])
        writer.writerow(row)
    write_text(path, buf.getvalue())


def _cell(ci: MeanCI | None) -> str:
    return "n/a" if ci is None else str(ci)


def verdict_word(s: MetricSummary) -> str:
    """``different``, ``within noise at this CI``, ``baseline`` or ``n/a`` (no values)."""
    if s.vs_baseline is None:
        return "baseline" if s.final is not None else "n/a"
    return "different" if s.vs_baseline.separate else "within noise at this CI"


def _delta(s: MetricSummary) -> str:
    """The difference from the baseline, with its paired interval when there is one."""
    if s.vs_baseline is None:
        return ""
    paired = s.vs_baseline.paired
    if paired is None:
        return f"{s.vs_baseline.difference:+.4f}"
    return f"{paired.mean:+.4f} ± {paired.half_width:.4f}"


def table_rows(summaries: Sequence[MetricSummary]) -> list[list[str]]:
    """variant, metric, step 0, final, Δ vs baseline, verdict: one row per variant x metric."""
    return [
        [s.variant, s.metric, _cell(s.step0), _cell(s.final), _delta(s), verdict_word(s)]
        for s in summaries
    ]


TABLE_HEADER = ["variant", "metric", "step 0", "final", "Δ vs baseline", "verdict"]


def verdict_sentence(spec: AblationSpec, s: MetricSummary) -> str:
    """One sentence: the variant better / worse / within noise of the baseline, by how much."""
    base = spec.variants[0].name
    pct = f"{spec.level:.0%}"
    if s.vs_baseline is None or s.final is None:
        return f"**{s.variant}**: no {s.metric} values to compare with {base}."
    c = s.vs_baseline
    rel = f" ({c.difference / abs(c.a.mean):+.1%})" if c.a.mean else ""
    by = f"{abs(c.difference):.4f}{rel}"
    if c.a.n < 2 or c.b.n < 2:
        return (
            f"**{s.variant}**: {s.metric} {c.b.mean:.4f} vs {base} {c.a.mean:.4f} "
            f"(difference {c.difference:+.4f}); one seed gives no interval and no claim."
        )
    how = (
        f"the paired {pct} interval of the difference ({c.paired.mean:+.4f} ± "
        f"{c.paired.half_width:.4f}, {c.paired.n} seeds) "
        if c.paired is not None
        else f"the {pct} intervals "
    )
    if not c.separate:
        what = "includes 0" if c.paired is not None else "overlap"
        return (
            f"**{s.variant}**: within noise of {base} at {pct} on {s.metric} "
            f"(difference {c.difference:+.4f}{rel}; {how}{what})."
        )
    better = (c.difference > 0) == spec.higher_is_better
    word = "better" if better else "worse"
    what = "excludes 0" if c.paired is not None else "do not overlap"
    return f"**{s.variant}**: {word} than {base} on {s.metric} by {by}; {how}{what}."


def verdict_markdown(
    spec: AblationSpec, summaries: Sequence[MetricSummary], spec_path: str | Path
) -> str:
    """``verdict.md``: the table as Markdown, then one sentence per variant on the first metric."""
    n = len(spec.seeds)
    lines = [
        f"# Ablation: {spec_path}",
        "",
        f"Recipe `{spec.recipe}`, {len(spec.variants)} variants x {n} seeds "
        f"({', '.join(map(str, spec.seeds))}); mean ± half-width of the {spec.level:.0%} "
        f"Student's t interval over seeds; baseline `{spec.variants[0].name}`; "
        f"{'higher' if spec.higher_is_better else 'lower'} is better for {spec.metrics[0]}.",
        "",
        "| " + " | ".join(TABLE_HEADER) + " |",
        "|---|---|---:|---:|---:|---|",
    ]
    lines += ["| " + " | ".join(row) + " |" for row in table_rows(summaries)]
    lines += ["", "## Verdict", ""]
    first = [s for s in summaries if s.metric == spec.metrics[0]]
    lines += [f"- {verdict_sentence(spec, s)}" for s in first[1:]]
    return "\n".join(lines) + "\n"


def conclude(
    spec: AblationSpec,
    checked: Sequence[CheckedRun],
    spec_path: Path,
    console: Console,
    tables: int | None = None,
) -> list[MetricSummary]:
    """Read every run, write ``ablation.csv`` and ``verdict.md``, print one table per metric.

    ``tables`` limits the printed tables to the first metrics (the files hold every metric).
    """
    from rich import box
    from rich.table import Table

    results = [read_result(c, spec.metrics) for c in checked]
    summaries = summarize(spec, results)
    out = Path(spec.output_dir)
    write_csv(out / "ablation.csv", spec, results)
    write_text(out / "verdict.md", verdict_markdown(spec, summaries, spec_path))
    level = f"{spec.level:.0%}"
    for metric in spec.metrics[:tables]:
        rows = [r for r in table_rows(summaries) if r[1] == metric]
        with_step0 = any(r[2] != "n/a" for r in rows)
        table = Table(box=box.SIMPLE_HEAD, title_justify="left", title_style="bold")
        table.title = f"{metric}: mean ± {level} CI over {len(spec.seeds)} seeds"
        table.add_column("variant", no_wrap=True)
        if with_step0:
            table.add_column("step 0", justify="right", no_wrap=True)
        table.add_column("final", justify="right", no_wrap=True)
        table.add_column("Δ vs baseline", justify="right", no_wrap=True)
        table.add_column("verdict")
        for r in rows:
            table.add_row(r[0], *(r[2:] if with_step0 else r[3:]))
        console.print(table)
    from csmpt.ablate.plot import plot_ablation

    plots = plot_ablation(spec, checked)
    console.print(
        f"wrote {out / 'ablation.csv'}, {out / 'verdict.md'} and {len(plots)} plots "
        f"({', '.join(p.name for p in plots)})",
        highlight=False,
    )
    return summaries
