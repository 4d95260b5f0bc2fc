"""One training process of a launch: ``composer -n N -m csmpt.launch.worker YAML [key=value ...]``.

The same as ``csmpt.training`` (preflight, then llm-foundry's ``train_from_yaml``), plus:

* ``CSMPT_RDZV=file:///shared/job.rdzv``: join the process group through a file on shared
  storage (``torch.distributed``'s ``file://`` init method) instead of the TCP store on the
  master's port: what BUT-FIT patched llm-foundry for on Karolina ("DDP sync over file").
  Composer then finds the group initialised and uses it.
* ``CSMPT_LOG_DIR=DIR``: at the end each rank writes ``DIR/rank{R}.json``: its final step, the
  logged (all-reduced) loss, its own last loss, and a checksum of its weights. Ranks of a
  healthy data-parallel run agree on everything but their own loss.
"""

from __future__ import annotations

import datetime
import logging
import os
import socket
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from csmpt.atomic import write_json
from csmpt.errors import CsmptError
from csmpt.launch.rendezvous import check_rdzv_url

if TYPE_CHECKING:
    from composer import Trainer

__all__ = ["init_file_rendezvous", "main", "rank_report", "write_rank_report"]

log = logging.getLogger(__name__)


def init_file_rendezvous(url: str, timeout_s: float = 1800.0) -> None:
    """Initialise the default process group through a ``file://`` rendezvous.

    Rank and world size come from the ``RANK`` / ``WORLD_SIZE`` variables the ``composer``
    launcher sets. The backend is the one Composer would pick: NCCL on GPUs, else gloo.

    Raises:
        ConfigError: ``url`` is not ``file:///absolute/path``.
    """
    import torch
    import torch.distributed as tdist

    check_rdzv_url(url)
    rank, world = int(os.environ.get("RANK", "0")), int(os.environ.get("WORLD_SIZE", "1"))
    backend = "gloo"
    if torch.cuda.is_available():
        backend = "nccl"
        torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", "0")))
    log.info("rank %d/%d: %s rendezvous through %s", rank, world, backend, url)
    tdist.init_process_group(
        backend,
        init_method=url,
        rank=rank,
        world_size=world,
        timeout=datetime.timedelta(seconds=timeout_s),
    )


def _as_float(value: Any) -> float | None:
    if isinstance(value, dict):
        value = value.get("total", next(iter(value.values()), None))
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def rank_report(trainer: Trainer) -> dict[str, Any]:
    """The calling rank's summary after ``fit``: step, losses and a checksum of its weights."""
    import torch
    from composer.utils import dist

    state = trainer.state
    with torch.no_grad():
        params = [p.detach().double() for p in state.model.parameters()]
        weight_sum = float(sum(p.sum() for p in params))
        weight_sq_sum = float(sum((p * p).sum() for p in params))
    total = state.total_loss_dict or {}
    return {
        "rank": dist.get_global_rank(),
        "world_size": dist.get_world_size(),
        "host": socket.gethostname(),
        "rendezvous": os.environ.get("CSMPT_RDZV", "env"),
        "step": int(state.timestamp.batch),
        "loss": _as_float(total.get("loss/train/total")),
        "rank_loss": _as_float(state.loss),
        "weight_sum": weight_sum,
        "weight_sq_sum": weight_sq_sum,
    }


def write_rank_report(report: dict[str, Any], log_dir: str | Path) -> Path:
    """Write ``log_dir/rank{R}.json`` (through a temporary file)."""
    folder = Path(log_dir)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"rank{report['rank']}.json"
    write_json(path, report, indent=1)
    return path


def main(argv: Sequence[str] | None = None) -> None:
    """Entry of ``python -m csmpt.launch.worker YAML [key=value ...]`` (under ``composer``)."""
    args = list(sys.argv[1:] if argv is None else argv)
    if not args or args[0] in ("-h", "--help"):
        print("usage: composer -n N -m csmpt.launch.worker YAML [key=value ...]", file=sys.stderr)  # noqa: T201
        sys.exit(0 if args else 2)
    from csmpt.training.run import run_training

    try:
        url = os.environ.get("CSMPT_RDZV")
        if url:
            init_file_rendezvous(url)
        trainer = run_training(args[0], args[1:])
    except CsmptError as e:
        print(f"error: {e}", file=sys.stderr)  # noqa: T201
        sys.exit(2)
    log_dir = os.environ.get("CSMPT_LOG_DIR")
    if log_dir:
        write_rank_report(rank_report(trainer), log_dir)


if __name__ == "__main__":
    main()
