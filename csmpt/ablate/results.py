"""An ablation's results: each run's metrics, mean ± CI per variant, and the verdict vs baseline.

Every value is read from the run's ``metrics.jsonl`` with :func:`csmpt.run_folder.metric_series`
(a step logged twice keeps its last value): the metric's value at its last logged step
("final"), and at step 0 when the run evaluated before training (``eval_first``). Over the
seeds of a variant, :func:`csmpt.ablate.stats.mean_ci` gives ``mean ± half-width`` and
:func:`csmpt.ablate.stats.compare_paired` says whether the variant differs from the baseline
(the first variant): the interval of the per-seed differences excludes 0 (runs paired by seed),
or, without two common seeds, the two intervals do not overlap.

A spec's ``targets`` add the tokens each run trained on before a metric first reached a value
(:func:`tokens_to_reach`: Composer's ``time/token``, interpolated linearly between the last
evaluation short of the value and the first one at it), compared over seeds the same way; a
variant whose runs did not all reach it gets "k of n reached" and no interval.
"""

from __future__ import annotations

import csv
import io
import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from csmpt.ablate.merging import (
    merge_markdown,
    print_merges,
    read_paths,
    summarize_merges,
    write_merge_csv,
)
from csmpt.ablate.runner import CheckedRun
from csmpt.ablate.spec import AblationSpec, TargetSpec
from csmpt.ablate.stats import Comparison, MeanCI, compare_paired, mean_ci
from csmpt.atomic import write_text
from csmpt.errors import ConfigError
from csmpt.run_folder import metric_series, read_metrics, tokens_by_step

if TYPE_CHECKING:
    from rich.console import Console

__all__ = [
    "TABLE_HEADER",
    "TARGET_HEADER",
    "MetricSummary",
    "RunResult",
    "TargetSummary",
    "conclude",
    "read_result",
    "summarize",
    "table_rows",
    "target_label",
    "target_rows",
    "target_summaries",
    "tokens_to_reach",
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
        reached: Tokens trained on when each target (:func:`target_label`) was first reached
            (None: never).
    """

    variant: str
    seed: int
    step: int
    final: dict[str, float | None]
    step0: dict[str, float | None]
    reached: dict[str, float | None] = field(default_factory=dict)


@dataclass(frozen=True)
class TargetSummary:
    """One variant's tokens to reach one target, over its seeds.

    Attributes:
        variant: The variant.
        target: The target's label (:func:`target_label`).
        reached: Runs that reached it.
        runs: Runs of the variant.
        tokens: Mean ± CI of the tokens (None unless every run reached it).
        vs_baseline: The tokens compared with the baseline's, paired by seed (None for the
            baseline, or when either side has a run that did not reach it).
    """

    variant: str
    target: str
    reached: int
    runs: int
    tokens: MeanCI | None
    vs_baseline: Comparison | None


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


def target_label(target: TargetSpec, higher_is_better: bool = False) -> str:
    """``METRIC <= VALUE`` (``>=`` when higher is better): a target's name in tables."""
    return f"{target.metric} {'>=' if higher_is_better else '<='} {target.value:g}"


def tokens_to_reach(
    rows: Sequence[dict[str, Any]], metric: str, value: float, higher_is_better: bool = False
) -> float | None:
    """Tokens trained on when ``metric`` first reached ``value`` in a run's metric rows.

    At or below ``value`` (at or above with ``higher_is_better``). Between the last evaluation
    short of it, (tokens t0, value v0), and the first that reaches it, (t1, v1), the metric is
    taken as linear in tokens: ``t0 + (t1 - t0) * (v0 - value) / (v0 - v1)``. 0 when the first
    evaluation (step 0, before training) already reaches it; None when no evaluation does.
    Tokens come from Composer's ``time/token`` (:func:`csmpt.run_folder.tokens_by_step`).
    """
    tokens = tokens_by_step(rows)
    known = sorted(tokens)
    rate = tokens[known[-1]] / known[-1] if known and known[-1] else 0.0

    def at(step: int) -> float:
        return 0.0 if step == 0 else float(tokens.get(step, step * rate))

    before: tuple[float, float] | None = None
    for step, v in metric_series(rows, metric, finite=True):
        if (v >= value) if higher_is_better else (v <= value):
            t1 = at(step)
            if before is None:
                return t1
            t0, v0 = before
            return t0 + (t1 - t0) * (v0 - value) / (v0 - v)
        before = (at(step), v)
    return None


def read_result(
    checked: CheckedRun,
    metrics: Sequence[str],
    targets: Sequence[TargetSpec] = (),
    higher_is_better: bool = False,
) -> RunResult:
    """One run's final (and step-0) metric values and its tokens to reach each target."""
    rows = read_metrics(checked.metrics_file)
    final: dict[str, float | None] = {}
    step0: dict[str, float | None] = {}
    for name in metrics:
        series = metric_series(rows, name)
        final[name] = series[-1][1] if series else None
        step0[name] = series[0][1] if series and series[0][0] == 0 else None
        if not series:
            log.debug("%s: no metric %s", checked.metrics_file, name)  # warned by the caller
    steps = [r["step"] for r in rows if isinstance(r.get("step"), int)]
    reached = {
        target_label(t, higher_is_better): tokens_to_reach(
            rows, t.metric, t.value, higher_is_better
        )
        for t in targets
    }
    return RunResult(
        checked.run.variant, checked.run.seed, max(steps, default=0), final, step0, reached
    )


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


def target_summaries(spec: AblationSpec, results: Sequence[RunResult]) -> list[TargetSummary]:
    """Tokens to reach each target per variant; each variant's vs the baseline's, by seed."""
    baseline = spec.variants[0].name
    out = []
    for t in spec.targets:
        label = target_label(t, spec.higher_is_better)
        base = {r.seed: r.reached.get(label) for r in results if r.variant == baseline}
        for v in spec.variants:
            mine = {r.seed: r.reached.get(label) for r in results if r.variant == v.name}
            got = {s: x for s, x in mine.items() if x is not None}
            every = bool(mine) and len(got) == len(mine)
            vs = None
            if v.name != baseline and every and base and None not in base.values():
                vs = compare_paired(
                    {s: x for s, x in base.items() if x is not None}, got, spec.level
                )
            tokens = mean_ci(list(got.values()), spec.level) if every else None
            out.append(TargetSummary(v.name, label, len(got), len(mine), tokens, vs))
    return out


def _tokens(x: float) -> str:
    return f"{x / 1e3:,.1f}k"


def target_rows(summaries: Sequence[TargetSummary], baseline: str) -> list[list[str]]:
    """variant, target, tokens, Δ vs baseline, verdict: one row per variant x target."""
    rows = []
    for s in summaries:
        delta = ""
        if s.tokens is None:
            cell, word = f"{s.reached} of {s.runs} reached", "n/a"
        else:
            half = s.tokens.half_width
            cell = f"{_tokens(s.tokens.mean)} " + (
                "(1 seed)" if math.isinf(half) else f"± {_tokens(half)}"
            )
            word = "baseline" if s.variant == baseline else "no baseline to compare"
        if s.vs_baseline is not None:
            p = s.vs_baseline.paired
            delta = f"{s.vs_baseline.difference / 1e3:+,.1f}k"
            if p is not None:
                delta = f"{p.mean / 1e3:+,.1f}k ± {_tokens(p.half_width)}"
            word = "different" if s.vs_baseline.separate else "within noise at this CI"
        rows.append([s.variant, s.target, cell, delta, word])
    return rows


TARGET_HEADER = ["variant", "target", "tokens to reach", "Δ vs baseline", "verdict"]


def _csv_columns(spec: AblationSpec, results: Sequence[RunResult]) -> list[str]:
    cols = ["variant", "seed", "step"]
    for m in spec.metrics:
        cols.append(m)
        if any(r.step0[m] is not None for r in results):
            cols.append(f"{m}@0")
    labels = [target_label(t, spec.higher_is_better) for t in spec.targets]
    return cols + [f"tokens to {label}" for label in labels]


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
        for label, tokens in r.reached.items():
            row[f"tokens to {label}"] = "" if tokens is None else repr(tokens)
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
    return "" if s.vs_baseline is None else s.vs_baseline.difference_text()


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
    spec: AblationSpec,
    summaries: Sequence[MetricSummary],
    spec_path: str | Path,
    targets: Sequence[TargetSummary] = (),
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
    if targets:
        lines += [
            "",
            "## Tokens to reach a target",
            "",
            "Tokens trained on when the metric first reached the value (linear between "
            "evaluations); paired by seed vs the baseline; fewer is better.",
            "",
            "| " + " | ".join(TARGET_HEADER) + " |",
            "|---|---|---:|---:|---|",
        ]
        rows = target_rows(targets, spec.variants[0].name)
        lines += ["| " + " | ".join(row) + " |" for row in rows]
    lines += ["", "## Verdict", ""]
    first = [s for s in summaries if s.metric == spec.metrics[0]]
    lines += [f"- {verdict_sentence(spec, s)}" for s in first[1:]]
    return "\n".join(lines) + "\n"


def check_metrics_logged(
    spec: AblationSpec,
    checked: Sequence[CheckedRun],
    results: Sequence[RunResult],
    spec_path: Path,
) -> None:
    """Refuse a metric that no run logged (a typo in ``metrics:``), before any file is written.

    Otherwise the table is all ``n/a`` and the command exits 0. The runs are kept: fix the
    spec and rerun with ``--table``. A metric that only some runs lack is a warning per run.

    Raises:
        ConfigError: Names the metric, and the closest one the runs logged.
    """
    import difflib

    from csmpt.config.yaml_lines import describe_key

    absent = [m for m in spec.metrics if results and all(r.final[m] is None for r in results)]
    if not absent:
        for c, r in zip(checked, results, strict=True):  # some runs have it: their cells say n/a
            for m in (m for m in spec.metrics if r.final[m] is None):
                log.warning("%s: no metric %s (other runs have it)", c.metrics_file, m)
        return
    logged = sorted(
        {
            str(k)
            for c in checked
            if c.metrics_file.is_file()
            for row in read_metrics(c.metrics_file)
            for k, v in row.items()
            if k != "step" and isinstance(v, int | float) and not isinstance(v, bool)
        }
    )
    close = difflib.get_close_matches(absent[0], logged, n=1)
    hint = f"did you mean '{close[0]}'?" if close else f"they logged {', '.join(logged) or 'none'}"
    raise ConfigError(
        f"{describe_key(spec_path, 'metrics')}: '{absent[0]}' is in no run's metrics.jsonl; "
        f"{hint} (the runs are kept: fix it and rerun csmpt ablate --table)"
    )


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

    results = [read_result(c, spec.metrics, spec.targets, spec.higher_is_better) for c in checked]
    check_metrics_logged(spec, checked, results, spec_path)
    summaries = summarize(spec, results)
    reach = target_summaries(spec, results)
    out = Path(spec.output_dir)
    write_csv(out / "ablation.csv", spec, results)
    paths = read_paths(spec, [c.run for c in checked])
    merges = summarize_merges(spec, paths)
    verdict = verdict_markdown(spec, summaries, spec_path, reach)
    if merges:
        write_merge_csv(out / "merge.csv", paths)
        verdict += "\n".join(merge_markdown(spec, merges)) + "\n"
    write_text(out / "verdict.md", verdict)
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
    for t in spec.targets:
        label = target_label(t, spec.higher_is_better)
        table = Table(box=box.SIMPLE_HEAD, title_justify="left", title_style="bold")
        table.title = f"tokens to reach {label}: mean ± {level} CI over {len(spec.seeds)} seeds"
        for name in ("variant", "tokens", "Δ vs baseline", "verdict"):
            table.add_column(name, justify="left" if name in ("variant", "verdict") else "right")
        for r in target_rows([s for s in reach if s.target == label], spec.variants[0].name):
            table.add_row(r[0], *r[2:])
        console.print(table)
    print_merges(console, spec, merges)
    from csmpt.ablate.plot import plot_ablation, plot_merges

    plots = [*plot_ablation(spec, checked), *plot_merges(spec, merges)]
    csvs = f"{out / 'ablation.csv'}, {out / 'merge.csv'}" if merges else f"{out / 'ablation.csv'}"
    console.print(
        f"wrote {csvs}, {out / 'verdict.md'} and {len(plots)} plots "
        f"({', '.join(p.name for p in plots)})",
        highlight=False,
    )
    return summaries
