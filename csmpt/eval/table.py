"""The CSMPT7b-style results table (model/step -> scores per task, shot count and metric).

Every multiple-choice task has three named accuracies (:mod:`csmpt.eval.mc_metrics`), the
default ``acc_norm`` first, each with its standard error: in ``table.csv`` as
``TASK/N-shot/METRIC`` and ``TASK/N-shot/METRIC_stderr`` columns, in ``table.md`` as
``value ± stderr`` cells under ``TASK/N-shot METRIC`` with a legend. The plot draws the default
metric against step (error bars: one standard error; base models as dashed horizontal lines).
Every file is written to a temporary name and renamed into place.
"""

from __future__ import annotations

import csv
import io
import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from csmpt.atomic import write_bytes
from csmpt.eval.icl import IclResult
from csmpt.eval.mc_metrics import DEFAULT_METRIC

__all__ = [
    "EvalRow",
    "bpb_columns",
    "columns",
    "metric_columns",
    "plot_accuracy",
    "to_csv",
    "to_markdown",
]

log = logging.getLogger(__name__)


@dataclass
class EvalRow:
    """One table row: a checkpoint (``step`` set) or a model (``step`` None)."""

    model: str
    step: int | None
    results: list[IclResult] = field(default_factory=list)
    bpb: dict[str, float] = field(default_factory=dict)  # text label -> bits per byte

    @property
    def accuracy(self) -> dict[str, float]:
        """``task/N-shot`` -> the headline score (``acc_norm`` for multiple choice)."""
        return {r.column: r.accuracy for r in self.results}

    @property
    def scores(self) -> dict[tuple[str, str], tuple[float, float]]:
        """(``task/N-shot``, metric) -> (score, standard error), every metric of every task."""
        return {
            (r.column, m): (v, r.stderr.get(m, math.nan))
            for r in self.results
            for m, v in r.scores.items()
        }

    @property
    def items_per_s(self) -> float:
        """Items scored per second over all of the row's tasks."""
        seconds = sum(r.seconds for r in self.results)
        return sum(r.items for r in self.results) / seconds if seconds > 0 else 0.0


def columns(rows: Sequence[EvalRow]) -> list[str]:
    """The task/shot columns, in first-seen order."""
    out: list[str] = []
    for row in rows:
        out += [c for c in row.accuracy if c not in out]
    return out


def metric_columns(rows: Sequence[EvalRow]) -> list[tuple[str, str]]:
    """The (``task/N-shot``, metric) pairs, in first-seen order (each task's default first)."""
    out: list[tuple[str, str]] = []
    for row in rows:
        out += [k for k in row.scores if k not in out]
    return out


def _fmt(value: float) -> str:
    return "" if math.isnan(value) else f"{value:.4f}"


def bpb_columns(rows: Sequence[EvalRow]) -> list[str]:
    """The texts scored in bits per byte, in first-seen order."""
    out: list[str] = []
    for row in rows:
        out += [k for k in row.bpb if k not in out]
    return out


def to_csv(rows: Sequence[EvalRow]) -> str:
    """CSV: model, step, ``TASK/N-shot/METRIC`` + ``_stderr``, ``LABEL/bpb``, items_per_s."""
    cols = metric_columns(rows)
    texts = bpb_columns(rows)
    heads = [h for c, m in cols for h in (f"{c}/{m}", f"{c}/{m}_stderr")]
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["model", "step", *heads, *[f"{t}/bpb" for t in texts], "items_per_s"])
    for r in rows:
        sc = r.scores
        w.writerow(
            [
                r.model,
                "" if r.step is None else r.step,
                *[_fmt(x) for k in cols for x in (sc.get(k) or (math.nan, math.nan))],
                *[f"{r.bpb[t]:.4f}" if t in r.bpb else "" for t in texts],
                f"{r.items_per_s:.1f}",
            ]
        )
    return buf.getvalue()


def _cell(score: tuple[float, float] | None) -> str:
    if score is None:
        return ""
    value, err = score
    return f"{value:.4f}" if math.isnan(err) else f"{value:.4f} ± {err:.4f}"


def to_markdown(rows: Sequence[EvalRow]) -> str:
    """A Markdown table like CSMPT7b's model card: ``score ± stderr`` per metric, bpb.

    One column per task, shot count and metric (``cs_hellaswag/0-shot acc_norm``: lm-eval's
    ``acc_norm`` and ``acc``, llm-foundry's ``acc_per_token``; see
    ``mc_metrics.METRIC_DESCRIPTIONS``). The file holds the table alone, so scripts can parse it
    line by line.
    """
    cols = metric_columns(rows)
    texts = bpb_columns(rows)
    heads = [*[f"{c} {m}" for c, m in cols], *[f"{t}/bpb" for t in texts]]
    lines = [
        "| model | step | " + " | ".join(heads) + " | items/s |",
        "|---|---:|" + "---:|" * len(heads) + "---:|",
    ]
    for r in rows:
        sc = r.scores
        cells = [_cell(sc.get(k)) for k in cols]
        cells += [f"{r.bpb[t]:.4f}" if t in r.bpb else "" for t in texts]
        step = "" if r.step is None else f"{r.step:,}"
        lines.append(f"| {r.model} | {step} | " + " | ".join(cells) + f" | {r.items_per_s:.1f} |")
    return "\n".join(lines) + "\n"


def plot_accuracy(rows: Sequence[EvalRow], path: Path, title: str = "accuracy vs step") -> None:
    """The headline score (``acc_norm``) against step, one line per task/shot count.

    Error bars are one standard error; models without a step are dashed horizontal lines.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4))
    series = [r for r in rows if r.step is not None]
    pairs = metric_columns(rows)
    for col in columns(rows):
        metric = (
            DEFAULT_METRIC
            if (col, DEFAULT_METRIC) in pairs
            else next(m for c, m in pairs if c == col)
        )
        pts = [(r.step or 0, *r.scores[(col, metric)]) for r in series if (col, metric) in r.scores]
        if pts:
            err = [0.0 if math.isnan(p[2]) else p[2] for p in pts]
            ax.errorbar([p[0] for p in pts], [p[1] for p in pts], yerr=err, marker="o",
                        capsize=3, label=f"{col} {metric}")  # fmt: skip
        for r in rows:
            if r.step is None and col in r.accuracy:
                ax.axhline(
                    r.accuracy[col], linestyle="--", linewidth=1, label=f"{r.model} {col} {metric}"
                )
    ax.set_xlabel("step")
    ax.set_ylabel(f"accuracy ({DEFAULT_METRIC} where multiple choice)")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    buf = io.BytesIO()
    fig.tight_layout()
    fig.savefig(buf, format="png", dpi=110)
    plt.close(fig)
    write_bytes(path, buf.getvalue())
