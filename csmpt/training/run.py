"""Run llm-foundry's training on a YAML + ``key=value`` overrides, after csmpt's preflight.

This is what ``csmpt train YAML [key=value ...]`` calls, and the entry point of a multi-process
launch: ``composer -n 8 -m csmpt.training YAML [key=value ...]`` (or ``launch/train.py``).
csmpt's components reach llm-foundry through the entry points declared in ``pyproject.toml``; the
train loop is llm-foundry's own ``train_from_yaml``.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from csmpt.errors import CsmptError
from csmpt.training.preflight import preflight

if TYPE_CHECKING:
    from composer import Trainer

__all__ = ["main", "run_training"]

log = logging.getLogger(__name__)


def run_training(yaml_path: str | Path, overrides: Sequence[str] = ()) -> Trainer:
    """Check the YAML, then train with llm-foundry exactly as ``train_from_yaml`` would.

    Args:
        yaml_path: The training recipe.
        overrides: ``key=value`` overrides (OmegaConf dotted keys), as on llm-foundry's CLI.

    Returns:
        The Composer trainer after ``fit`` (its state holds the final timestamp).

    Raises:
        CsmptError: The recipe or its data is invalid (found before training starts).
    """
    preflight(yaml_path, overrides)
    from llmfoundry.command_utils import train_from_yaml

    trainer = train_from_yaml(str(yaml_path), list(overrides))
    _end_mlflow_run()
    return trainer


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
    if not args or args[0] in ("-h", "--help"):
        print("usage: python -m csmpt.training YAML [key=value ...]", file=sys.stderr)  # noqa: T201
        sys.exit(0 if args else 2)
    try:
        run_training(args[0], args[1:])
    except CsmptError as e:
        print(f"error: {e}", file=sys.stderr)  # noqa: T201
        sys.exit(2)
