"""A local JSON Lines metrics logger: every metric Composer logs, one line per call, no account.

Registered as ``csmpt_jsonl`` (``loggers: {csmpt_jsonl: {path: RUN_DIR/metrics.jsonl}}``). Each
line is ``{"step": <batch>, "time": <unix s>, "<metric name>": <value>, ...}``, flushed at once,
so the file survives a crash. ``step`` is the 1-based number of the batch being trained (or just
finished: the eval after batch 10 is logged at step 10), as the console shows it; Composer itself
logs a batch's loss with the step count from before the batch, and ``csmpt_step_align``
(:mod:`csmpt.loggers.step_align`) gives every other logger this file's step.

Each metric is written once per step (readers resolve any repeat with the one rule of
:mod:`csmpt.run_folder`: the last write of a step wins). A run resumed from the
checkpoint of step ``k`` drops the lines of steps after ``k`` (they are trained again and
logged anew) as soon as the checkpoint is loaded, and does not write again a metric the file
already holds for step ``k`` (a swap replayed at the checkpoint's step, the epoch counter Composer
logs at every start). Everything logged before the first batch of a run is logged at the step
the run starts from, not at 0.
"""

from __future__ import annotations

import logging
import math
import time
from pathlib import Path
from typing import Any

from composer.core import State
from composer.loggers import Logger, LoggerDestination
from composer.utils import dist

from csmpt.run_folder import JsonlAppender, read_metrics, rewrite_jsonl

__all__ = ["JSONLMetricsLogger"]

log = logging.getLogger(__name__)


def _to_float(value: Any) -> float | None:
    """A scalar metric as a float (tensors included); None for anything that is not a scalar."""
    try:
        if hasattr(value, "numel"):
            if value.numel() != 1:
                return None
            value = value.item()
        return float(value)
    except (TypeError, ValueError):
        return None


class JSONLMetricsLogger(LoggerDestination):
    """Log metrics to a local JSON Lines file, kept exact across autoresume.

    Args:
        path: The JSONL file (its folder is created). Only global rank 0 writes.
    """

    def __init__(self, path: str) -> None:
        self.path = Path(path)
        self._out = JsonlAppender(self.path, durable=False)  # fsynced at close
        self._step = 0
        self._resume_step = 0
        self._at_resume_step: set[str] = set()  # metrics the file holds for the resume step

    def after_load(self, state: State, logger: Logger) -> None:
        """Note the step the run starts from; drop the lines of later steps (they are replayed)."""
        del logger
        step = self._step = self._resume_step = int(state.timestamp.batch)
        if dist.get_global_rank() != 0 or not self.path.exists():
            return
        records = read_metrics(self.path)
        kept = [r for r in records if int(r.get("step", 0)) <= step]
        self._at_resume_step = {
            name for r in kept if int(r.get("step", 0)) == step for name in r
        } - {"step", "time"}
        if len(kept) == len(records):
            return
        self._out.close()
        rewrite_jsonl(self.path, kept)
        log.info(
            "%s: resuming at step %d, dropped %d logged lines of later steps",
            self.path,
            step,
            len(records) - len(kept),
        )

    def batch_start(self, state: State, logger: Logger) -> None:
        """Count the batch being trained (1-based)."""
        del logger
        self._step = int(state.timestamp.batch) + 1
        self._at_resume_step = set()

    def log_metrics(self, metrics: dict[str, Any], step: int | None = None) -> None:
        """Append one line with the scalar metrics of this call, at the current batch."""
        del step  # Composer's step lags one batch behind for training metrics; see above.
        if dist.get_global_rank() != 0:
            return
        record: dict[str, Any] = {"step": self._step, "time": round(time.time(), 3)}
        for name, value in metrics.items():
            if name in self._at_resume_step and self._step == self._resume_step:
                continue  # already in the file for this step (logged before the checkpoint)
            v = _to_float(value)
            if v is not None:
                record[name] = v if math.isfinite(v) else str(v)
        if len(record) == 2:
            return
        self._out.append(record)

    def close(self, state: State, logger: Logger) -> None:
        """Flush and close the file."""
        del state, logger
        self._out.close()
