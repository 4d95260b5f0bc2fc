"""Run llm-foundry's training on a YAML + ``key=value`` overrides, after csmpt's preflight.

This is what ``csmpt train YAML [key=value ...]`` calls, and the entry point of a multi-process
launch: ``composer -n 8 -m csmpt.training YAML [key=value ...]`` (or ``launch/train.py``).
csmpt's components reach llm-foundry through the entry points declared in ``pyproject.toml``; the
train loop is llm-foundry's own ``train_from_yaml``.
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from omegaconf import DictConfig, OmegaConf

from csmpt.config import apply_overrides, expand_overrides
from csmpt.errors import CsmptError
from csmpt.mds import shm_prefix
from csmpt.mds.streaming_threads import stop_streaming_threads
from csmpt.run_events import events_files
from csmpt.run_folder import RUNS_FILE, repair_torn_tail
from csmpt.training import atomic_save, gloo_average, requeue
from csmpt.training.lease import acquire_lease
from csmpt.training.preflight import preflight
from csmpt.training.resume_guard import (
    archive_run,
    check_history,
    checkpoint_names,
    guard_save_folder,
)

if TYPE_CHECKING:
    from composer import Trainer

__all__ = ["main", "prepare_run_folder", "run_training"]

log = logging.getLogger(__name__)

LEASE_WAIT_ENV = "CSMPT_LEASE_WAIT"  # seconds a second writer waits for the lease (default 120)


def run_training(
    yaml_path: str | Path, overrides: Sequence[str] = (), fresh: bool = False
) -> Trainer:
    """Check the YAML and the run folder, then train with llm-foundry's ``train_from_yaml``.

    Before training, the save folder is made safe to resume from
    (:func:`prepare_run_folder`) and Composer's checkpoint writes are made atomic
    (:mod:`csmpt.training.atomic_save`).

    Args:
        yaml_path: The training recipe.
        overrides: ``key=value`` overrides (OmegaConf dotted keys), as on llm-foundry's CLI,
            or ``@FILE`` (:func:`csmpt.config.expand_overrides`).
        fresh: Start over: move a previous run in the save folder to ``archive/`` first.

    Returns:
        The Composer trainer after ``fit`` (its state holds the final timestamp).

    Raises:
        CsmptError: The recipe or its data is invalid (found before training starts).
    """
    overrides = expand_overrides(yaml_path, overrides)  # @FILE -> its key=value lines
    cfg = preflight(yaml_path, overrides)
    folder = local_save_folder(cfg)
    # One writer per run folder: global rank 0 holds the lease for the run's whole life.
    lease = None
    if folder is not None and int(os.environ.get("RANK", "0")) == 0:
        lease = acquire_lease(folder, wait=float(os.environ.get(LEASE_WAIT_ENV, "120")))
    try:
        prepare_run_folder(cfg, fresh)
        atomic_save.install()
        requeue.install()
        gloo_average.install()  # FSDP2 on CPU processes: gradients averaged, as on NCCL
        shm_prefix.install()  # two runs starting together on one machine: no shm clash
        from llmfoundry.command_utils import train

        # llm-foundry's train_from_yaml, with overrides that can address list items (icl_tasks.0.x)
        OmegaConf.clear_resolver("oc.env")
        yaml_cfg = OmegaConf.load(yaml_path)
        assert isinstance(yaml_cfg, DictConfig)
        apply_overrides(yaml_cfg, overrides)
        _align_logged_steps(yaml_cfg)
        trainer = train(yaml_cfg)
        _release_loaders(trainer)
        _end_mlflow_run()
    finally:
        if lease is not None:
            lease.release()
    return trainer


def _align_logged_steps(cfg: DictConfig) -> None:
    """Add ``csmpt_step_align`` to the callbacks unless the recipe names it (one step per metric).

    Every logger then logs a batch's loss at the batch's own step, as ``metrics.jsonl`` does
    (:mod:`csmpt.loggers.step_align`).
    """
    from csmpt.loggers.step_align import STEP_ALIGN  # Composer: imported once training starts

    if cfg.get("callbacks") is None:
        cfg.callbacks = {}
    if STEP_ALIGN not in cfg.callbacks:
        cfg.callbacks[STEP_ALIGN] = {}


def local_save_folder(cfg: DictConfig) -> Path | None:
    """The run's save folder when it is local (``{run_name}`` filled in); None otherwise."""
    save_folder = OmegaConf.select(cfg, "save_folder")
    if not isinstance(save_folder, str) or "://" in save_folder:
        return None
    run_name = OmegaConf.select(cfg, "run_name") or ""
    return Path(save_folder.replace("{run_name}", str(run_name)))


def _release_loaders(trainer: Trainer) -> None:
    """Stop the streaming threads of a finished run's loaders.

    A run that ends mid-epoch leaves its StreamingDatasets' two threads polling for the life of
    the process (and holding the datasets); a process that trains several recipes (the demo,
    tests, sweeps) would keep them all. The loaders stay on the state for inspection.
    """
    state = trainer.state
    stop_streaming_threads(state.train_dataloader)
    for evaluator in state.evaluators:
        stop_streaming_threads(getattr(evaluator.dataloader, "dataloader", None))


def _run_files(cfg: dict[str, Any], folder: Path) -> tuple[list[Path], Path, list[Path]]:
    """The events files, runs.jsonl and metrics files csmpt's components write for a run."""
    callbacks = cfg.get("callbacks") or {}
    events = events_files(callbacks, folder)
    record = callbacks.get("csmpt_run_record")
    runs = Path((record or {}).get("folder") or folder) / RUNS_FILE
    jsonl = (cfg.get("loggers") or {}).get("csmpt_jsonl")
    metrics = [Path(jsonl["path"])] if isinstance(jsonl, dict) and jsonl.get("path") else []
    return events, runs, metrics


def prepare_run_folder(cfg: DictConfig, fresh: bool = False) -> None:
    """Make a local save folder safe to (re)start in, on every rank before training starts.

    With autoresume, unusable checkpoints (files or sharded folders) go to ``quarantine/`` and
    ``latest`` points at the newest valid one; global rank 0 also checks the CRCs of the one to
    resume from (:func:`~csmpt.training.resume_guard.guard_save_folder`). An autoresume run that
    would start from step 0 over the files of a dead attempt of the same run archives them and
    goes on; over a folder whose events or run history record later steps of another run (or
    without autoresume) it is refused (:func:`~csmpt.training.requeue.restart_same_run`),
    unless ``fresh``: then global rank 0 archives the old run first.

    Raises:
        RunFolderError: Starting over would discard the recorded history of another run (and
            not ``fresh``).
    """
    container = OmegaConf.to_container(cfg, resolve=True)
    assert isinstance(container, dict)
    resolved: dict[str, Any] = {str(k): v for k, v in container.items()}
    names = checkpoint_names(resolved)
    if names is None:
        return
    folder, filename, latest, sharded_dir = (
        names.folder,
        names.filename,
        names.latest,
        names.sharded_dir,
    )
    events, runs, metrics = _run_files(resolved, folder)
    rank0 = int(os.environ.get("RANK", "0")) == 0  # only global rank 0 writes the run files
    if rank0:
        for path in [*events, runs, *metrics]:
            repair_torn_tail(path)
    if fresh:
        if rank0:
            archive_run(folder, filename, latest, [*events, runs, *metrics], sharded_dir)
        return
    if not resolved.get("autoresume"):
        if not resolved.get("load_path"):
            check_history(0, events, runs)  # not a requeue-able run: never archives by itself
        return
    step = guard_save_folder(folder, filename, latest, sharded_dir, verify=rank0).resume_step
    if step != 0 or resolved.get("load_path"):
        return  # resumes, or starts from a checkpoint outside the folder (a branch)
    requeue.restart_same_run(
        folder, resolved, (events, runs, metrics), rank0, (filename, latest, sharded_dir)
    )


def _end_mlflow_run() -> None:
    """End the run Composer's ``mlflow`` logger started, so a next run in this process can start.

    Composer ends it only when the trainer is closed at interpreter exit; a process that trains
    several recipes (tests, a sweep) would fail with "Run ... is already active".
    """
    mlflow = sys.modules.get("mlflow")
    if mlflow is not None and mlflow.active_run() is not None:
        mlflow.end_run()


def main(argv: Sequence[str] | None = None) -> None:
    """Entry for ``python -m csmpt.training YAML [key=value ...]`` and ``composer -m``."""
    args = list(sys.argv[1:] if argv is None else argv)
    fresh = "--fresh" in args[:1]
    args = args[1:] if fresh else args
    if not args or args[0] in ("-h", "--help"):
        usage = "usage: python -m csmpt.training [--fresh] YAML [key=value ...]"
        print(usage, file=sys.stderr)  # noqa: T201
        sys.exit(0 if args else 2)
    try:
        run_training(args[0], args[1:], fresh=fresh)
    except CsmptError as e:
        print(f"error: {e}", file=sys.stderr)  # noqa: T201
        sys.exit(2)
