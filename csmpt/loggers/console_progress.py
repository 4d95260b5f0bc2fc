"""The quiet console of a training run: one progress bar with the step and the loss, then one line.

Registered as the ``csmpt_console`` logger. ``csmpt train`` and ``csmpt demo`` add it to the run
without ``--verbose`` (:meth:`csmpt.quiet.QuietSession.train_overrides`), in place of Composer's
console logging: the bar shows ``step / max_duration`` and the last training loss; when the run
ends one line says the run, its steps, and the loss at its first and last step. Hot swaps and
loss spikes are printed by their callbacks' own log lines (the quiet session shows them). Only
global rank 0 draws; in a recipe run without a session it draws on stderr.
"""

from __future__ import annotations

import logging
import math
from typing import Any

from composer.core import State, TimeUnit
from composer.loggers import Logger, LoggerDestination
from composer.utils import dist
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

__all__ = ["ConsoleProgress", "set_console"]

log = logging.getLogger(__name__)

LOSS = "loss/train/total"
_console: Console | None = None


def set_console(console: Console | None) -> None:
    """The console :class:`ConsoleProgress` draws on (None: a new console on stderr)."""
    global _console
    _console = console


class ConsoleProgress(LoggerDestination):
    """A progress bar of the training steps with the last loss, and a one-line summary.

    Args:
        label: Text before the bar (default: the run name).
    """

    def __init__(self, label: str | None = None) -> None:
        self.label = label
        self.console = _console or Console(stderr=True)
        self._progress: Progress | None = None
        self._task: Any = None
        self._losses: list[float] = []
        self._start = 0

    def log_metrics(self, metrics: dict[str, Any], step: int | None = None) -> None:
        """Keep the training loss for the bar."""
        del step
        value = metrics.get(LOSS)
        if value is None:
            return
        loss = float(value.item() if hasattr(value, "item") else value)
        if math.isfinite(loss) or not self._losses:
            self._losses.append(loss)

    def fit_start(self, state: State, logger: Logger) -> None:
        """Start the bar at the step the run starts (or resumes) from."""
        del logger
        if dist.get_global_rank() != 0:
            return
        total = None
        if state.max_duration is not None and state.max_duration.unit == TimeUnit.BATCH:
            total = int(state.max_duration.value)
        self._start = int(state.timestamp.batch)
        self._progress = Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("steps  loss {task.fields[loss]}"),
            TimeElapsedColumn(),
            console=self.console,
        )
        self._task = self._progress.add_task(
            self.label or state.run_name, total=total, completed=self._start, loss="-"
        )
        self._progress.start()

    def batch_end(self, state: State, logger: Logger) -> None:
        """Advance the bar."""
        del logger
        if self._progress is None:
            return
        loss = f"{self._losses[-1]:.3f}" if self._losses else "-"
        self._progress.update(self._task, completed=int(state.timestamp.batch), loss=loss)

    def fit_end(self, state: State, logger: Logger) -> None:
        """Stop the bar and print the run in one line."""
        del logger
        if self._progress is None:
            return
        self._progress.stop()
        self._progress = None
        steps = int(state.timestamp.batch)
        line = f"trained {state.run_name}: steps {self._start} -> {steps}"
        if self._losses:
            line += f", train loss {self._losses[0]:.3f} -> {self._losses[-1]:.3f}"
        self.console.print(line, highlight=False)

    def close(self, state: State, logger: Logger) -> None:
        """Stop a bar left running by a run that failed."""
        del state, logger
        if self._progress is not None:
            self._progress.stop()
            self._progress = None
