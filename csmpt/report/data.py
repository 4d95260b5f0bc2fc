"""The data behind a run's report: convergence curves and the steps to mark on them.

Everything comes from the run folder: ``metrics.jsonl`` (the ``csmpt_jsonl`` logger: train
loss, eval loss per eval loader, in-loop ICL accuracy), the events files (``events.jsonl`` and
any other file the recipe's callbacks name, :mod:`csmpt.run_events`: corpus swaps, freeze stages,
loss spikes, non-finite losses), ``validation.csv`` (``csmpt validate``: loss per corpus per
checkpoint) and ``eval/table.csv`` (``csmpt eval`` over the run's checkpoints) when present.
Tests check these series; the plots only draw them.
"""

from __future__ import annotations

import csv
import math
import re
from dataclasses import dataclass, field
from pathlib import Path

from csmpt.errors import DataError
from csmpt.run_events import read_run_events
from csmpt.run_folder import METRICS_FILE, metric_names, metric_series, read_metrics

__all__ = ["Curve", "ReportData", "Marker", "SPIKE_EVENTS", "build_report_data"]

SPIKE_EVENTS = ("loss_spike", "nonfinite_loss")
TRAIN_LOSS = "loss/train/total"
_EVAL_LOSS = re.compile(r"^metrics/eval(?:/(?P<label>.+))?/LanguageCrossEntropy$")
_ICL_ACC = re.compile(
    r"^metrics/(?P<task>.+)/(?P<shots>\d+)-shot/(?P<metric>InContextLearning\w*Accuracy)$"
)
# llm-foundry's multiple-choice accuracy is the per-token one (see csmpt.eval.mc_metrics)
_FOUNDRY_NAMES = {"InContextLearningMultipleChoiceAccuracy": "acc_per_token"}
_TABLE_METRIC = re.compile(r"^(?P<column>.+/\d+-shot)(?:/(?P<metric>[A-Za-z_]+))?$")

Points = list[tuple[int, float]]


@dataclass
class Curve:
    """One plotted line: its label and (step, value) points in step order."""

    label: str
    points: Points

    @property
    def steps(self) -> list[int]:
        """The x values."""
        return [s for s, _ in self.points]


@dataclass
class Marker:
    """A vertical marker: a corpus swap or a loss spike at a step."""

    kind: str  # "swap", "spike" or "stage" (csmpt_freeze)
    step: int
    text: str


@dataclass
class ReportData:
    """What the report plots: curves per figure and the markers on every figure."""

    run_dir: Path
    train_loss: Curve
    eval_loss: list[Curve] = field(default_factory=list)
    accuracy: list[Curve] = field(default_factory=list)
    markers: list[Marker] = field(default_factory=list)
    steps: int = 0
    bpb: list[Curve] = field(default_factory=list)
    bpb_references: list[tuple[str, float]] = field(default_factory=list)

    @property
    def swap_steps(self) -> list[int]:
        """Steps of the corpus swaps."""
        return [m.step for m in self.markers if m.kind == "swap"]

    @property
    def stage_steps(self) -> list[int]:
        """Steps where a csmpt_freeze stage began (or everything was unfrozen)."""
        return [m.step for m in self.markers if m.kind == "stage"]

    @property
    def spike_steps(self) -> list[int]:
        """Steps of the loss spikes and non-finite losses."""
        return [m.step for m in self.markers if m.kind == "spike"]


def _markers(run_dir: Path) -> list[Marker]:
    out = []
    for e in read_run_events(run_dir):
        name, step = e.get("event"), e.get("step")
        if not isinstance(step, int):
            continue
        if name == "swap":
            out.append(Marker("swap", step, f"swap {e.get('from', '?')} -> {e.get('to', '?')}"))
        elif name in SPIKE_EVENTS:
            out.append(Marker("spike", step, str(name).replace("_", " ")))
        elif name == "freeze_stage":
            out.append(Marker("stage", step, f"stage {e.get('stage', '?')}: {e.get('schedule')}"))
        elif name == "unfreeze":
            out.append(Marker("stage", step, "unfreeze: all parameters train"))
    return sorted(out, key=lambda m: m.step)


def _validation_curves(path: Path) -> tuple[list[Curve], list[Curve], list[tuple[str, float]]]:
    """Loss and bits per byte per corpus from ``csmpt validate``'s CSV, and reference models.

    Checkpoint rows give the curves; rows without a step (HF models scored with their own
    tokenizer) give (``model (corpus)``, bpb) references.
    """
    from csmpt.eval.validate import read_validation

    loss: dict[str, dict[int, float]] = {}
    bpb: dict[str, dict[int, float]] = {}
    refs: dict[str, float] = {}
    for r in read_validation(path):
        if r.step is None:
            if not math.isnan(r.bpb):
                refs[f"{r.checkpoint} ({r.corpus})"] = r.bpb
            continue
        loss.setdefault(r.corpus, {})[r.step] = r.loss
        if not math.isnan(r.bpb):
            bpb.setdefault(r.corpus, {})[r.step] = r.bpb
    return (
        [Curve(f"{c} (validate)", sorted(p.items())) for c, p in sorted(loss.items())],
        [Curve(c, sorted(p.items())) for c, p in sorted(bpb.items())],
        sorted(refs.items()),
    )


def _table_curves(path: Path) -> list[Curve]:
    """Accuracy per task/shot/metric from ``csmpt eval``'s table.csv (checkpoint rows only).

    A column ``TASK/N-shot/METRIC`` is one curve (``..._stderr`` columns are not); a table of an
    older csmpt has ``TASK/N-shot`` columns, which held llm-foundry's ``acc_per_token``.
    """
    if not path.is_file():
        return []
    with path.open(encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    curves = []
    for c in rows[0].keys() if rows else []:
        m = _TABLE_METRIC.match(c)
        if m is None or c.endswith("_stderr"):
            continue
        label = f"{m.group('column')} {m.group('metric') or 'acc_per_token'} (csmpt eval)"
        pts = sorted((int(r["step"]), float(r[c])) for r in rows if r["step"] and r[c])
        if pts:
            curves.append(Curve(label, pts))
    return curves


def _run_hint(path: Path) -> str:
    """Where the run folder is, when ``path`` is its metrics file or a folder above it."""
    if path.name == METRICS_FILE and path.is_file():
        return f"give its folder, '{path.parent}'"
    below = sorted(p.parent for p in path.glob(f"*/{METRICS_FILE}")) if path.is_dir() else []
    if below:
        shown = ", ".join(f"'{p}'" for p in below[:3]) + (", ..." if len(below) > 3 else "")
        return f"the run folders in it: {shown}"
    return "point csmpt report at a run's save_folder"


def build_report_data(run_dir: str | Path) -> ReportData:
    """Collect a run folder's curves and markers.

    Raises:
        DataError: The folder has no ``metrics.jsonl`` with a train loss.
    """
    run = Path(run_dir)
    metrics_path = run / METRICS_FILE
    if not metrics_path.is_file():
        raise DataError(f"'{run}' has no metrics.jsonl; {_run_hint(run)}")
    rows = read_metrics(metrics_path)
    train = metric_series(rows, TRAIN_LOSS, finite=True)
    if not train:
        raise DataError(f"{metrics_path}: no '{TRAIN_LOSS}' values; has the run trained a step?")
    keys = metric_names(rows)
    eval_loss = []
    for k in keys:
        m = _EVAL_LOSS.match(k)
        if m:
            eval_loss.append(Curve(m.group("label") or "eval", metric_series(rows, k, True)))
    val_loss, bpb, refs = _validation_curves(run / "validation.csv")
    eval_loss += val_loss
    accuracy = []
    for k in keys:
        m = _ICL_ACC.match(k)
        if m:
            name = _FOUNDRY_NAMES.get(m.group("metric"), m.group("metric"))
            label = f"{m.group('task')}/{m.group('shots')}-shot {name} (in-loop)"
            accuracy.append(Curve(label, metric_series(rows, k, finite=True)))
    accuracy += _table_curves(run / "eval" / "table.csv")
    return ReportData(
        run_dir=run,
        train_loss=Curve("train loss", train),
        eval_loss=eval_loss,
        accuracy=accuracy,
        markers=_markers(run),
        steps=train[-1][0],
        bpb=bpb,
        bpb_references=refs,
    )
