"""``csmpt report RUN1 RUN2 ...``: several runs overlaid on one set of plots.

Lit-Claire compares continual pretraining from Falcon-7B and Mistral-7B this way; CSMPT7b
compared its main run with its step-93,000 ablation. Each run gets one colour: its curves and
its markers (swaps dashed, spikes dotted, freeze stages dash-dotted) are drawn in it. The x axis
is steps or tokens (``time/token`` from ``metrics.jsonl``, so runs with different batch sizes
line up). Losses that compare across tokenizers are in bits per byte (``csmpt validate``'s
``validation.csv``, and the in-loop ``BitsPerByte`` metric when the run logged it); the train
loss in nats/token is drawn too, labelled so, for runs that share a tokenizer.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from csmpt.atomic import write_text
from csmpt.errors import ConfigError
from csmpt.report.data import Curve, Marker, ReportData, build_report_data
from csmpt.report.render import save_figure
from csmpt.run_folder import (
    METRICS_FILE,
    metric_names,
    metric_series,
    read_metrics,
    tokens_by_step,
)

__all__ = ["Comparison", "RunSeries", "load_runs", "write_comparison"]

log = logging.getLogger(__name__)

X_UNITS = ("steps", "tokens")
_LINESTYLES = ("-", "--", ":", "-.")
_MARKER_STYLES = {"swap": "--", "spike": ":", "stage": "-."}
_EVAL_BPB = re.compile(r"^metrics/eval(?:/(?P<label>.+))?/BitsPerByte$")


@dataclass
class RunSeries:
    """One run's curves, markers and the step -> tokens map."""

    name: str
    data: ReportData
    tokens: dict[int, int]
    bpb: list[Curve] = field(default_factory=list)

    def x(self, steps: Sequence[int], unit: str) -> list[float]:
        """``steps`` in the x unit (tokens: interpolated from the nearest logged step)."""
        if unit == "steps":
            return [float(s) for s in steps]
        known = sorted(self.tokens)
        per_step = (self.tokens[known[-1]] / known[-1]) if known and known[-1] else 0.0
        return [float(self.tokens.get(s, s * per_step)) for s in steps]


def load_runs(run_dirs: Sequence[str | Path]) -> list[RunSeries]:
    """Read each run folder (as ``csmpt report RUN`` does) plus its tokens per step.

    Raises:
        ConfigError: Fewer than two runs, or a run named twice.
        DataError: A folder without ``metrics.jsonl`` or train loss.
    """
    paths = [Path(p) for p in run_dirs]
    if len(paths) < 2:
        raise ConfigError("compare needs two or more run folders")
    names = [p.resolve().name for p in paths]
    if len(set(paths)) != len(paths):
        raise ConfigError(f"a run is named twice: {[str(p) for p in paths]}")
    if len(set(names)) != len(names):  # same folder name in different places: add the parent
        names = [f"{p.resolve().parent.name}/{p.resolve().name}" for p in paths]
    out = []
    for name, path in zip(names, paths, strict=True):
        data = build_report_data(path)
        rows = read_metrics(path / METRICS_FILE)
        bpb = list(data.bpb)
        for k in metric_names(rows):
            m = _EVAL_BPB.match(k)
            if m:
                pts = metric_series(rows, k, finite=True)
                bpb.append(Curve(f"{m.group('label') or 'eval'} (in loop)", pts))
        out.append(RunSeries(name, data, tokens_by_step(rows), bpb))
    return out


@dataclass
class Comparison:
    """The comparison's files and the runs they show."""

    runs: list[RunSeries]
    folder: Path
    figures: dict[str, Path] = field(default_factory=dict)
    markdown: Path | None = None


def _plot(
    runs: list[RunSeries], which: str, path: Path, title: str, ylabel: str, unit: str
) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    colours = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    fig, ax = plt.subplots(figsize=(9, 4.5))
    for i, run in enumerate(runs):
        colour = colours[i % len(colours)]
        curves = {
            "train": [run.data.train_loss],
            "bpb": run.bpb,
            "accuracy": run.data.accuracy,
        }[which]
        for j, c in enumerate(curves):
            style = _LINESTYLES[j % len(_LINESTYLES)]
            xs = run.x(c.steps, unit)
            ax.plot(xs, [v for _, v in c.points], style, color=colour, linewidth=1.2,
                    marker="o" if len(c.points) <= 20 else None, markersize=3,
                    label=f"{run.name}: {c.label}")  # fmt: skip
        seen: set[str] = set()
        for m in run.data.markers:
            (x,) = run.x([m.step], unit)
            label = f"{run.name}: {m.kind}" if m.kind not in seen else None
            seen.add(m.kind)
            ax.axvline(x, color=colour, linestyle=_MARKER_STYLES.get(m.kind, "--"),
                       linewidth=0.9, alpha=0.7, label=label)  # fmt: skip
    save_figure(fig, ax, path, unit, ylabel, title)


def _marker_text(m: Marker) -> str:
    return f"{m.step}: {m.text}"


def _markdown(c: Comparison, unit: str) -> str:
    lines = [f"# Runs compared ({unit} on the x axis)", ""]
    corpora = sorted({curve.label for r in c.runs for curve in r.bpb})
    head = ["run", "steps", "tokens", "train loss (nats/token)", *[f"bpb {x}" for x in corpora]]
    lines += ["| " + " | ".join(head) + " |", "|---|" + "---:|" * (len(head) - 1)]
    for r in c.runs:
        last = r.data.train_loss.points[-1]
        bpb = {curve.label: curve.points[-1][1] for curve in r.bpb if curve.points}
        cells = [
            r.name,
            f"{r.data.steps:,}",
            f"{r.tokens.get(r.data.steps, 0):,}",
            f"{last[1]:.3f}",
            *[f"{bpb[x]:.4f}" if x in bpb else "" for x in corpora],
        ]
        lines.append("| " + " | ".join(cells) + " |")
    lines.append("")
    for r in c.runs:
        events = ", ".join(_marker_text(m) for m in r.data.markers) or "none"
        lines.append(f"- {r.name} events: {events}")
    lines.append("")
    for name, p in c.figures.items():
        lines += [f"## {name.replace('_', ' ')}", "", f"![{name}]({p.name})", ""]
    return "\n".join(lines)


def write_comparison(
    run_dirs: Sequence[str | Path], out_dir: str | Path, x: str = "steps"
) -> Comparison:
    """Overlay the runs: train loss, bits per byte and accuracy PNGs, and ``compare.md``.

    Raises:
        ConfigError: Unknown ``x`` unit, or fewer than two runs.
    """
    if x not in X_UNITS:
        raise ConfigError(f"--x '{x}': use one of {', '.join(X_UNITS)}")
    runs = load_runs(run_dirs)
    c = Comparison(runs, Path(out_dir))
    figs = [("train_loss", "train", "train loss (nats/token: same tokenizer only)", "loss")]
    if any(r.bpb for r in runs):
        figs.append(("bits_per_byte", "bpb", "bits per byte (any tokenizer)", "bits per byte"))
    if any(r.data.accuracy for r in runs):
        figs.append(("accuracy", "accuracy", "few-shot accuracy", "accuracy"))
    for name, which, title, ylabel in figs:
        path = c.folder / f"{name}.png"
        _plot(runs, which, path, title, ylabel, x)
        c.figures[name] = path
    c.markdown = c.folder / "compare.md"
    write_text(c.markdown, _markdown(c, x))
    return c
