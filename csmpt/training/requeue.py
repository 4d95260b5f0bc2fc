"""What a requeued job finds in its run folder, and how it goes on without a person.

A scheduler's requeue reruns the same command. Two cases that used to stop the chain:

* **No checkpoint yet** (the attempt died before its first save): the folder holds the dead
  attempt's ``config.yaml``, ``runs.jsonl``, ``events.jsonl`` and ``metrics.jsonl``. If
  ``config.yaml`` records the same run (:func:`config_difference`), :func:`restart_same_run`
  moves those files into ``SAVE_FOLDER/archive/<UTC time>/`` and the run starts from step 0,
  with one warning line. A folder that holds a *different* run is still refused in one line
  (``--fresh`` archives it deliberately).
* **The run is finished** (``max_duration`` reached by the checkpoint it resumes from): Composer
  would raise ``ValueError: The max_duration ... is less than or equal to the elapsed training
  duration``. :func:`install` makes ``Trainer.fit`` log ``already done at step N`` and return
  instead, so the job ends with status 0 and writes nothing.
"""

from __future__ import annotations

import functools
import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from csmpt.training.resume_guard import (
    DEFAULT_SHARDED_DIR,
    archive_run,
    check_history,
    recorded_steps,
)

if TYPE_CHECKING:
    from composer import Trainer

__all__ = ["IGNORED_KEYS", "config_difference", "install", "restart_same_run"]

log = logging.getLogger(__name__)

# Keys that change what a run prints, not what it computes: a rerun may differ in them
# (``csmpt train`` quiets the console through them) and still be the same run.
IGNORED_KEYS = frozenset(
    {"loggers", "log_to_console", "console_log_interval", "progress_bar", "python_log_level"}
)
_MARK = "_csmpt_finished_run"


def _difference(recorded: Any, now: Any, key: str) -> str | None:
    """The first key whose value ``now`` differs from ``recorded`` (keys only recorded: kept)."""
    if isinstance(now, dict) and isinstance(recorded, dict):
        for k, v in now.items():
            sub = f"{key}.{k}" if key else str(k)
            if key == "" and k in IGNORED_KEYS:
                continue
            if k not in recorded:
                return f"{sub} is new"
            if (found := _difference(recorded[k], v, sub)) is not None:
                return found
        return None
    return None if recorded == now else f"{key} was {recorded!r}, is {now!r}"


def config_difference(config_file: Path, config: dict[str, Any]) -> str | None:
    """How ``config`` differs from the run recorded in ``config_file`` (None: the same run).

    ``config_file`` is the ``config.yaml`` ``csmpt_run_record`` writes at the start of a run
    (llm-foundry's logged config: the resolved recipe plus keys llm-foundry adds, which are
    not compared). Every key of ``config`` except :data:`IGNORED_KEYS` must hold the same value.

    Args:
        config_file: The recorded ``config.yaml``.
        config: The resolved train config of this start.
    """
    try:
        recorded = yaml.safe_load(config_file.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return f"no {config_file.name} to compare with"
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as e:
        return f"{config_file.name} unreadable ({e})"
    if not isinstance(recorded, dict):
        return f"{config_file.name} holds no mapping"
    return _difference(recorded, config, "")


def restart_same_run(
    folder: Path,
    config: dict[str, Any],
    run_files: tuple[list[Path], Path, list[Path]],
    archive: bool,
    checkpoint_names: tuple[str, str, str | None] = ("", "", DEFAULT_SHARDED_DIR),
) -> Path | None:
    """Start from step 0 over a run folder with no checkpoint: archive a dead attempt, or refuse.

    Call it when the run would start from step 0. ``config.yaml`` is read before the run
    files (and :func:`~csmpt.training.resume_guard.archive_run` moves it last), so ranks that
    run this at once agree even while global rank 0 archives.

    Args:
        folder: The save folder.
        config: The resolved train config of this start.
        run_files: The events files, ``runs.jsonl`` and the metrics files of the run.
        archive: Move the dead attempt's files (global rank 0 only; the others just check).
        checkpoint_names: ``save_filename``, ``save_latest_filename`` and the sharded folder
            name, for the archive.

    Returns:
        The archive folder, if this call archived a dead attempt.

    Raises:
        RunFolderError: The run files record steps after 0 of a run with another config.
    """
    events, runs, metrics = run_files
    difference = config_difference(folder / "config.yaml", config)
    if not recorded_steps([*events, runs, *metrics]):
        return None
    if difference is not None:
        check_history(0, events, runs, why=f", and it is another run ({difference})")
        return None  # only metrics recorded: nothing a restart would contradict (as before)
    if not archive:
        return None
    filename, latest, sharded_dir = checkpoint_names
    return archive_run(
        folder,
        filename,
        latest,
        [*events, runs, *metrics],
        sharded_dir,
        reason="no checkpoint yet: restarting this run from step 0 (same config)",
    )


def install() -> None:
    """Make ``Trainer.fit`` end at once, logging "already done", on a finished run (idempotent).

    A ``fit()`` called with a ``duration`` or ``reset_time`` is left to Composer.
    """
    from composer import Trainer

    original = Trainer.fit
    if getattr(original, _MARK, False):
        return

    @functools.wraps(original)
    def fit(self: Trainer, *args: Any, **kwargs: Any) -> None:
        state = self.state
        unit = state.max_duration.unit if state.max_duration is not None else None
        explicit = args or kwargs.get("duration") is not None or kwargs.get("reset_time")
        if unit is not None and not explicit:
            elapsed = state.timestamp.get(unit)
            if state.max_duration is not None and state.max_duration <= elapsed:
                log.warning(
                    "already done at step %d (max_duration %s reached): nothing to train",
                    int(state.timestamp.batch),
                    state.max_duration,
                )
                return None
        return original(self, *args, **kwargs)

    setattr(fit, _MARK, True)
    Trainer.fit = fit  # type: ignore[method-assign]
