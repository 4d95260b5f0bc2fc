"""The CSMPT7b-style results table (model/step -> accuracy per task and shot count).

Written as Markdown and CSV, and drawn as accuracy against step (PNG; base models as dashed
horizontal lines). Every file is written to a temporary name and renamed into place.
"""

from __future__ import annotations

import csv
import io
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from csmpt.atomic import write_bytes
from csmpt.eval.icl import IclResult

__all__ = ["EvalRow", "bpb_columns", "columns", "plot_accuracy", "to_csv", "to_markdown"]

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
        """Column (``task/N-shot``) -> accuracy."""
        return {r.column: r.accuracy for r in self.results}

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


def bpb_columns(rows: Sequence[EvalRow]) -> list[str]:
    """The texts scored in bits per byte, in first-seen order."""
    out: list[str] = []
    for row in rows:
        out += [k for k in row.bpb if k not in out]
    return out


def to_csv(rows: Sequence[EvalRow]) -> str:
    """CSV: model, step, one column per task/shot count, ``LABEL/bpb`` columns, items_per_s."""
    cols = columns(rows)
    texts = bpb_columns(rows)
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["model", "step", *cols, *[f"{t}/bpb" for t in texts], "items_per_s"])
    for r in rows:
        acc = r.accuracy
        w.writerow(
            [
                r.model,
                "" if r.step is None else r.step,
                *[f"{acc[c]:.4f}" if c in acc else "" for c in cols],
                *[f"{r.bpb[t]:.4f}" if t in r.bpb else "" for t in texts],
                f"{r.items_per_s:.1f}",
            ]
        )
    return buf.getvalue()


def to_markdown(rows: Sequence[EvalRow]) -> str:
    """A Markdown table like CSMPT7b's model card (accuracy per task and shot count, bpb)."""
    cols = columns(rows)
    texts = bpb_columns(rows)
    heads = [*cols, *[f"{t}/bpb" for t in texts]]
    lines = [
        "| model | step | " + " | ".join(heads) + " | items/s |",
        "|---|---:|" + "---:|" * len(heads) + "---:|",
    ]
    for r in rows:
        acc = r.accuracy
        cells = [f"{acc[c]:.4f}" if c in acc else "" for c in cols]
        cells += [f"{r.bpb[t]:.4f}" if t in r.bpb else "" for t in texts]
        step = "" if r.step is None else f"{r.step:,}"
        lines.append(f"| {r.model} | {step} | " + " | ".join(cells) + f" | {r.items_per_s:.1f} |")
    return "\n".join(lines) + "\n"


def plot_accuracy(rows: Sequence[EvalRow], path: Path, title: str = "accuracy vs step") -> None:
    """Accuracy against step, one line per task/shot count; models without a step dashed."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4))
    series = [r for r in rows if r.step is not None]
    for col in columns(rows):
        pts = [(r.step or 0, r.accuracy[col]) for r in series if col in r.accuracy]
        if pts:
            ax.plot([p[0] for p in pts], [p[1] for p in pts], marker="o", label=col)
        for r in rows:
            if r.step is None and col in r.accuracy:
                ax.axhline(r.accuracy[col], linestyle="--", linewidth=1, label=f"{r.model} {col}")
    ax.set_xlabel("step")
    ax.set_ylabel("accuracy")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    buf = io.BytesIO()
    fig.tight_layout()
    fig.savefig(buf, format="png", dpi=110)
    plt.close(fig)
    write_bytes(path, buf.getvalue())
