"""Checkpoint on the scheduler's signal, then exit so the job can be requeued and resumed.

Registered as ``csmpt_signal_checkpoint`` and on in every recipe. SLURM and PBS end a job at its
time limit with SIGTERM (SLURM also sends a chosen signal ahead of time:
``--signal=B:USR1@120``); Composer installs no handler, so everything since the last
``save_interval`` is lost. This callback:

* at ``INIT`` traps the configured signals (default SIGTERM and SIGUSR1); the handler only sets
  a flag and notes the time (Python's multiprocessing resource tracker, started when the callback
  is built, ignores them: a scheduler signals the whole process group);
* at every ``BATCH_CHECKPOINT`` (after the batch, its eval and before Composer's own periodic
  save) all ranks all-reduce the flag (max), so they agree on the step to stop at and no rank
  saves a step the others did not finish;
* on that step it saves a full checkpoint through the run's own ``CheckpointSaver`` (same
  format, same ``latest`` link, same rotation; written atomically by
  :mod:`csmpt.training.atomic_save`), appends a ``signal_checkpoint`` line to ``runs.jsonl``
  (``csmpt_run_record``) and exits with status :data:`EXIT_REQUEUE` (75, ``EX_TEMPFAIL``:
  "try again"). The launch templates requeue the job on that status; the requeued job resumes
  with autoresume from exactly that step.

A signal that arrives during or after the last batch lets the run finish normally (status 0).

Schedulers that give no warning signal (PBS: SIGTERM at the walltime, SIGKILL after its
``kill_delay``) get the same stop from a deadline instead: when the environment variable
``CSMPT_STOP_AT`` holds a Unix time, the first batch to end after it triggers the checkpoint
and exit (the PBS template sets it to the walltime minus the warning time).

YAML keys (all optional)::

    callbacks:
      csmpt_signal_checkpoint:
        signals: [SIGTERM, SIGUSR1]
        exit_code: 75
"""

from __future__ import annotations

import logging
import math
import os
import signal
import time
from types import FrameType
from typing import Any, NoReturn

import torch
from composer.callbacks import CheckpointSaver
from composer.core import Callback, State
from composer.loggers import Logger
from composer.utils import dist

from csmpt.errors import ConfigError
from csmpt.training import atomic_save

__all__ = ["EXIT_REQUEUE", "STOP_AT_ENV", "SignalCheckpoint"]

log = logging.getLogger(__name__)

EXIT_REQUEUE = 75  # sysexits.h EX_TEMPFAIL: the job stopped on purpose and should run again
STOP_AT_ENV = "CSMPT_STOP_AT"
_DEADLINE = 1000  # the flag's value for "deadline reached" (above every signal number)


def _parse_signal(name: str | int) -> signal.Signals:
    try:
        if isinstance(name, int):
            return signal.Signals(name)
        upper = str(name).upper()
        return signal.Signals[upper if upper.startswith("SIG") else f"SIG{upper}"]
    except (KeyError, ValueError):
        raise ConfigError(
            f"callbacks.csmpt_signal_checkpoint.signals: '{name}' is not a signal name"
        ) from None


def start_resource_tracker_ignoring(signals: list[signal.Signals]) -> None:
    """Start Python's multiprocessing resource tracker (if not running) with ``signals`` ignored."""
    from multiprocessing import resource_tracker

    previous = {sig: signal.signal(sig, signal.SIG_IGN) for sig in signals}
    try:
        resource_tracker.ensure_running()
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _stop_at(raw: str) -> float | None:
    """The ``CSMPT_STOP_AT`` deadline (a Unix time), checked; None when unset.

    Raises:
        ConfigError: Not a finite number, or already past: every job of the chain would stop
            after one step and be submitted again, forever.
    """
    text = raw.strip()
    if not text:
        return None
    try:
        stop_at = float(text)
    except ValueError:
        raise ConfigError(f"{STOP_AT_ENV}={text!r}: not a Unix time in seconds") from None
    if not math.isfinite(stop_at):
        raise ConfigError(f"{STOP_AT_ENV}={text!r}: not a Unix time in seconds")
    late = time.time() - stop_at
    if late >= 0:
        raise ConfigError(
            f"{STOP_AT_ENV}={text}: the deadline passed {late:.0f} s ago; this job would stop "
            "after one step (check the job's walltime and --signal-seconds)"
        )
    return stop_at


class SignalCheckpoint(Callback):
    """Save a checkpoint of the current step on SIGTERM/SIGUSR1 and exit to be requeued.

    Args:
        signals: Signals to trap (names like ``SIGUSR1`` or ``USR1``, or numbers).
        exit_code: Process exit status after the checkpoint (default 75, what the launch
            templates requeue on).
    """

    def __init__(
        self, signals: list[str | int] | None = None, exit_code: int = EXIT_REQUEUE
    ) -> None:
        names = ["SIGTERM", "SIGUSR1"] if signals is None else signals
        self.signals = [_parse_signal(s) for s in names]
        if signal.SIGKILL in self.signals or signal.SIGSTOP in self.signals:
            raise ConfigError(
                "callbacks.csmpt_signal_checkpoint.signals: SIGKILL and SIGSTOP cannot be trapped"
            )
        if not 0 <= exit_code <= 255:
            raise ConfigError(f"callbacks.csmpt_signal_checkpoint.exit_code: {exit_code} not 0-255")
        self.exit_code = exit_code
        self.stop_at = _stop_at(os.environ.get(STOP_AT_ENV, ""))
        self.received: signal.Signals | None = None
        self.received_at = 0.0
        self._previous: dict[signal.Signals, Any] = {}
        atomic_save.install()  # a kill during the save must not leave a torn file
        # Built before the data loaders: the first shared memory they create starts Python's
        # resource tracker, which would die of the job's signal (scancel --signal reaches the
        # whole process group) and log a KeyError per segment at exit. Start it now with the
        # signals ignored: a started process keeps an ignored disposition.
        start_resource_tracker_ignoring(self.signals)

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        del frame
        if self.received is None:  # keep the first signal and its time
            self.received = signal.Signals(signum)
            self.received_at = time.monotonic()

    # --- Composer events ----------------------------------------------------------------

    def init(self, state: State, logger: Logger) -> None:
        """Install the signal handlers."""
        del state, logger
        for sig in self.signals:
            self._previous[sig] = signal.signal(sig, self._handle)

    def batch_checkpoint(self, state: State, logger: Logger) -> None:
        """If any rank got a signal: agree on this step, save it, and exit."""
        mine = 0 if self.received is None else int(self.received)
        if self.stop_at is not None and time.time() >= self.stop_at:
            mine = max(mine, _DEADLINE)
        flag = state.device.tensor_to_device(torch.tensor([mine]))
        dist.all_reduce(flag, reduce_operation="MAX")
        if int(flag.item()) == 0:
            return
        if state.max_duration is not None and state.timestamp >= state.max_duration:
            return  # the last batch: the run ends now anyway, with its final checkpoint
        why = (
            f"{STOP_AT_ENV} deadline"
            if int(flag.item()) == _DEADLINE
            else signal.Signals(int(flag.item())).name
        )
        step = int(state.timestamp.batch)
        savers = [cb for cb in state.callbacks if isinstance(cb, CheckpointSaver)]
        if not savers:
            log.error("%s at step %d: no save_folder, so no checkpoint; exiting", why, step)
            self.leave()
        saver = savers[0]
        save_start = time.monotonic()
        if saver.last_checkpoint_batch != state.timestamp.batch:
            saver._save_checkpoint(state, logger)  # noqa: SLF001 - Composer's own saver
        save_seconds = time.monotonic() - save_start
        path = saver.saved_checkpoints[-1] if saver.saved_checkpoints else None
        seconds = time.monotonic() - self.received_at if self.received is not None else None
        record = {
            "event": "signal_checkpoint",
            "time": time.time(),
            "signal": why,
            "step": step,
            "tokens": int(state.timestamp.token),
            "checkpoint": path,
            "seconds_to_checkpoint": None if seconds is None else round(seconds, 3),
            "seconds_saving": round(save_seconds, 3),
            "exit_code": self.exit_code,
        }
        from csmpt.callbacks.run_record import RunRecord

        for cb in state.callbacks:
            if isinstance(cb, RunRecord):
                cb.append(record)
        if dist.get_global_rank() == 0:
            log.warning(
                "%s: checkpoint of step %d saved to %s in %s s; exiting with status %d "
                "(requeue/rerun to resume)",
                why,
                step,
                path,
                record["seconds_to_checkpoint"],
                self.exit_code,
            )
        self.leave()

    def leave(self) -> NoReturn:
        """Exit with :attr:`exit_code`, whatever a launcher sends while this process shuts down.

        Composer's launcher SIGTERMs every other rank as soon as one rank exits non-zero, and
        reports the first rank's status: a rank still shutting down when its peer has left died
        of that SIGTERM (status -15, the launcher 241) and the job was not requeued. From here on
        SIGTERM and the trapped signals are ignored (and not restored by :meth:`close`): a
        caller that catches this SystemExit and goes on (a test) restores them itself.
        """
        for sig in {signal.SIGTERM, *self.signals}:
            signal.signal(sig, signal.SIG_IGN)
        self._previous = {}
        raise SystemExit(self.exit_code)

    def close(self, state: State, logger: Logger) -> None:
        """Restore the signal handlers that were there before."""
        del state, logger
        for sig, previous in self._previous.items():
            if previous is not None:
                signal.signal(sig, previous)
        self._previous = {}
