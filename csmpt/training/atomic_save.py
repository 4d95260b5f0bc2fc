"""Atomic, durable monolithic checkpoint files: write a partial name, fsync, rename.

Where Composer 0.32.1 saves atomically and where it does not:

* monolithic checkpoints (``ep0-ba14-rank0.pt``, also ``.tar*`` and compressed ``.pt.*``):
  ``composer.utils.checkpoint._write_checkpoint_file`` opens the final name and writes into it,
  without fsync: a kill leaves a 0-byte or torn file under the final name, which blocks every
  autoresume. :func:`install` wraps that function so the file is written as
  ``.partial-<pid>-<name>`` (same suffix, so Composer picks the same format), fsynced, renamed
  onto the final name and the folder fsynced: the final name only ever holds a whole file;
* the ``latest`` symlink: ``CheckpointSaver`` removes the old link, then creates the new one (a
  kill in between leaves no ``latest``); not patched, repaired before the next start by
  :func:`csmpt.training.resume_guard.guard_save_folder`;
* sharded (FSDP) checkpoints: torch's ``FileSystemWriter`` writes the ``.distcp`` shards in place
  and the ``.metadata`` file last (through a temporary name); a folder without ``.metadata`` is
  incomplete, which the guard also detects;
* rotation (``save_num_checkpoints_to_keep``) deletes the oldest file after the link moved;
* remote uploads (object stores) are outside this patch.
"""

from __future__ import annotations

import functools
import logging
from typing import Any

from csmpt.atomic import write_atomically

__all__ = ["install"]

log = logging.getLogger(__name__)

_MARK = "_csmpt_atomic"


def install() -> None:
    """Make Composer's monolithic checkpoint writes atomic and durable (idempotent)."""
    from composer.utils import checkpoint

    original = checkpoint._write_checkpoint_file  # noqa: SLF001 - the one place files are written
    if getattr(original, _MARK, False):
        return

    @functools.wraps(original)
    def atomic_write_checkpoint_file(state_dict: dict[str, Any], filename: str) -> None:
        write_atomically(lambda path: original(state_dict, path), filename)

    setattr(atomic_write_checkpoint_file, _MARK, True)
    checkpoint._write_checkpoint_file = atomic_write_checkpoint_file  # noqa: SLF001
    log.debug("Composer checkpoint writes are atomic (partial name + fsync + rename)")
