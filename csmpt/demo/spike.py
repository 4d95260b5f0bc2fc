"""The demo's loss-spike stage: inject a spike into the main run and summarise what was caught."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from csmpt.run_events import read_run_events

__all__ = ["SPIKE_SAMPLES", "spike_events", "spike_overrides", "spike_rows", "spike_step"]

SPIKE_SAMPLES = (1, 5)  # rows of the batch the demo corrupts


def spike_step(steps: int) -> int:
    """The step the demo corrupts: 5/6 into the run (clear of the swaps at 1/3 and 2/3)."""
    return max(5 * steps // 6, 2)


def spike_overrides(steps: int) -> list[str]:
    """Overrides that corrupt samples :data:`SPIKE_SAMPLES` of :func:`spike_step`'s batch."""
    rows = ", ".join(str(i) for i in SPIKE_SAMPLES)
    return [
        f"callbacks.csmpt_inject_spike={{at: {spike_step(steps)}, samples: [{rows}], "
        "kind: adversarial}"
    ]


def spike_events(run_dir: Path) -> list[dict[str, Any]]:
    """The run's ``loss_spike`` and ``nonfinite_loss`` events."""
    return [
        e for e in read_run_events(run_dir) if e.get("event") in ("loss_spike", "nonfinite_loss")
    ]


def spike_rows(events: list[dict[str, Any]], run: str) -> list[tuple[str, str]]:
    """Summary rows: each spike, then the first line of each suspect sample as trained on."""
    rows: list[tuple[str, str]] = []
    for e in events:
        w = e.get("window", {})
        rows.append(
            (
                f"{e['event'].replace('_', ' ')} at step {e['step']}",
                f"loss {e['loss']:.3f}, expected {w.get('mean', float('nan')):.3f} "
                f"(z {w.get('zscore', float('nan')):.1f}), corpus {e['corpus']}; "
                f"csmpt inspect-batch --run {run} --step {e['step']}",
            )
        )
        for s in e["samples"]:
            if s.get("suspect"):
                where = f"{Path(s.get('folder', '?')).parent.name}/{s.get('shard', '?')}"
                rows.append(
                    (
                        f"  suspect #{s['position']}",
                        f"{where}#{s.get('index_in_shard', '?')} (loss {s['loss']:.2f}): "
                        f"{s.get('first_line', '')!r}",
                    )
                )
    return rows
