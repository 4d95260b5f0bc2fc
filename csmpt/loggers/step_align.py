"""One step number per metric in every logger: a batch's loss at the batch's own (1-based) step.

Composer logs the metrics of a batch (``loss/train/total``, ``time/*``, a callback's value at
``after_backward``) with ``state.timestamp.batch`` from *before* the batch, and everything after
it (the learning rate at ``batch_end``, the eval after the batch) with the count after it: in
TensorBoard and MLflow the loss of batch 10 sits at step 9 next to the eval of step 10.
``metrics.jsonl`` (:mod:`csmpt.loggers.jsonl_metrics`) and the console count the batch being
trained (1-based). :class:`StepAlign` gives every other logger destination the same number:
registered as ``csmpt_step_align`` and added by ``csmpt train`` to every recipe that does not
name it, it shifts a step Composer chose by itself (``step=None``) by one while a batch is being
trained, i.e. between ``BATCH_START`` and the moment the timestamp counts the batch. A step a
caller passes explicitly is left as it is.
"""

from __future__ import annotations

from typing import Any

from composer.core import Callback, State
from composer.loggers import Logger

__all__ = ["STEP_ALIGN", "StepAlign"]

STEP_ALIGN = "csmpt_step_align"  # its name in llm-foundry's callbacks registry


class StepAlign(Callback):
    """Log a batch's metrics at the batch's 1-based step in every logger destination.

    Wraps the trainer's :class:`~composer.loggers.Logger` at ``INIT`` (once), so TensorBoard,
    MLflow, W&B and ``metrics.jsonl`` agree on the step of every metric.
    """

    def __init__(self) -> None:
        self._open: int | None = None  # the batch count at BATCH_START, until it advances

    def init(self, state: State, logger: Logger) -> None:
        """Route the logger's ``log_metrics`` through the aligned step (idempotent)."""
        if getattr(logger, "_csmpt_step_align", None) is self:
            return
        original = logger.log_metrics

        def log_metrics(metrics: dict[str, Any], step: int | None = None) -> None:
            original(metrics, self.step(state) if step is None else step)

        logger.log_metrics = log_metrics  # type: ignore[method-assign]
        logger._csmpt_step_align = self  # type: ignore[attr-defined]

    def step(self, state: State) -> int:
        """The step of a metric logged now: the batch being trained, else the batches done."""
        done = int(state.timestamp.batch)
        return done + 1 if self._open == done else done

    def batch_start(self, state: State, logger: Logger) -> None:
        """A batch opens: until the timestamp counts it, metrics belong to ``done + 1``."""
        del logger
        self._open = int(state.timestamp.batch)

    def batch_end(self, state: State, logger: Logger) -> None:
        """The batch is counted (Composer advanced the timestamp before this event)."""
        del state, logger
        self._open = None
