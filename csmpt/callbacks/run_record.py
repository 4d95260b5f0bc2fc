"""Record what a run was: its resolved config and every start, resume and end.

Registered as ``csmpt_run_record`` in ``callbacks_with_config`` (it receives the whole train
config). In its folder (default: the run's ``save_folder``) global rank 0 writes:

* ``config.yaml``: the resolved train config of the latest start (rerun it with ``csmpt train``);
* ``runs.jsonl``: one line per start (step it started or resumed at, world size, config hash,
  package versions, host, command line), per clean end and per checkpoint taken on a
  scheduler's signal (``csmpt_signal_checkpoint``), appended and fsynced at once.

The start/resume line is written when the first batch starts (or at the end of a run with no
batch left), not at ``FIT_START``: a rerun that fails while Composer sets up (a checkpoint that
does not load, a folder conflict) leaves no phantom ``resume`` line.
"""

from __future__ import annotations

import hashlib
import platform
import sys
import time
from importlib import metadata
from pathlib import Path
from typing import Any

from composer.core import Callback, State
from composer.loggers import Logger
from composer.utils import dist
from omegaconf import OmegaConf

from csmpt.atomic import write_text
from csmpt.errors import ConfigError
from csmpt.run_folder import RUNS_FILE, append_run
from csmpt.training.leftovers import ARCHIVE, QUARANTINE, prune

__all__ = ["RunRecord", "package_versions"]

_PACKAGES = ("csmpt", "llm-foundry", "mosaicml", "mosaicml-streaming", "torch", "transformers")


def package_versions() -> dict[str, str]:
    """Installed versions of the packages a run depends on."""
    out = {}
    for name in _PACKAGES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = "not installed"
    return out


class RunRecord(Callback):
    """Write the run's resolved config and a start/end history to the run folder.

    At the start of each run it also applies the folder's retention rule to ``quarantine/`` and
    ``archive/`` (:func:`csmpt.training.leftovers.prune`): they hold whole checkpoints, tens of
    GB each at 7B, and nothing else ever removes them.

    Args:
        train_config: The whole train config (passed by llm-foundry).
        folder: Where to write; default the train config's local ``save_folder``.
        keep_quarantine: Entries of ``quarantine/`` kept (the newest).
        keep_archive: Entries of ``archive/`` kept (the newest).
        max_kept_gb: Size each of the two folders is kept within (the newest entry always
            stays); null: no size limit.
    """

    def __init__(
        self,
        train_config: dict[str, Any],
        folder: str | None = None,
        keep_quarantine: int = 3,
        keep_archive: int = 3,
        max_kept_gb: float | None = None,
    ) -> None:
        for key, value in (("keep_quarantine", keep_quarantine), ("keep_archive", keep_archive)):
            if not isinstance(value, int) or value < 0:
                raise ConfigError(f"callbacks.csmpt_run_record.{key}: {value!r} is not 0 or more")
        if max_kept_gb is not None and not max_kept_gb > 0:
            raise ConfigError(f"callbacks.csmpt_run_record.max_kept_gb: {max_kept_gb!r} is not > 0")
        self.keep = {QUARANTINE: keep_quarantine, ARCHIVE: keep_archive}
        self.max_bytes = None if max_kept_gb is None else int(max_kept_gb * 1e9)
        folder = folder or train_config.get("save_folder")
        if not folder or "://" in str(folder):
            raise ConfigError(
                "callbacks.csmpt_run_record: set `folder:` to a local folder (the train config's "
                f"save_folder is {train_config.get('save_folder')!r})"
            )
        self.folder = Path(folder)
        self.train_config = train_config
        text = OmegaConf.to_yaml(OmegaConf.create(train_config), resolve=True)
        self.config_yaml = text
        self.config_sha256 = hashlib.sha256(text.encode()).hexdigest()
        self._pending: dict[str, Any] | None = None

    def append(self, record: dict[str, Any]) -> None:
        """Append one line to ``runs.jsonl`` on global rank 0 (after a pending start line)."""
        if dist.get_global_rank() != 0:
            return
        if self._pending is not None:
            pending, self._pending = self._pending, None
            self._append(pending)
        self._append(record)

    def _append(self, record: dict[str, Any]) -> None:
        append_run(self.folder / RUNS_FILE, record)

    def fit_start(self, state: State, logger: Logger) -> None:
        """Write config.yaml; prepare the start line (step 0 for a new run, else resumed step)."""
        del logger
        if dist.get_global_rank() != 0:
            return
        write_text(self.folder / "config.yaml", self.config_yaml)
        for name, keep in self.keep.items():
            prune(self.folder / name, keep, self.max_bytes)
        step = int(state.timestamp.batch)
        self._pending = {
            "event": "start" if step == 0 else "resume",
            "time": time.time(),
            "step": step,
            "tokens": int(state.timestamp.token),
            "run_name": state.run_name,
            "world_size": dist.get_world_size(),
            "config_sha256": self.config_sha256,
            "versions": package_versions(),
            "python": sys.version.split()[0],
            "host": platform.node(),
            "argv": sys.argv,
        }

    def batch_start(self, state: State, logger: Logger) -> None:
        """Write the start/resume line once training really runs."""
        del state, logger
        if self._pending is not None and dist.get_global_rank() == 0:
            pending, self._pending = self._pending, None
            self._append(pending)

    def fit_end(self, state: State, logger: Logger) -> None:
        """Append an end line with the final step and tokens."""
        del logger
        self.append(
            {
                "event": "end",
                "time": time.time(),
                "step": int(state.timestamp.batch),
                "tokens": int(state.timestamp.token),
            }
        )
