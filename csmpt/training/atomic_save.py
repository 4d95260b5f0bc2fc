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

import errno
import functools
import logging
import shutil
from pathlib import Path
from typing import Any

from csmpt.atomic import write_atomically
from csmpt.errors import CsmptError

__all__ = ["DiskFullError", "check_room", "install"]

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
        check_room(Path(filename))
        try:
            write_atomically(lambda path: original(state_dict, path), filename)
        except OSError as e:
            if e.errno != errno.ENOSPC:
                raise
            raise DiskFullError(
                f"no space left on the device of {Path(filename).parent} while saving "
                f"{Path(filename).name}: free space there and rerun (the run resumes from its "
                "last checkpoint)"
            ) from None

    setattr(atomic_write_checkpoint_file, _MARK, True)
    checkpoint._write_checkpoint_file = atomic_write_checkpoint_file  # noqa: SLF001
    log.debug("Composer checkpoint writes are atomic (partial name + fsync + rename)")


class DiskFullError(CsmptError):
    """A checkpoint does not fit on the save folder's device (the job must not be requeued)."""


def check_room(filename: Path, margin: float = 1.1) -> None:
    """Refuse a save that cannot fit: free space below ``margin`` x the last checkpoint's size.

    The last checkpoint is the newest ``*.pt`` file beside ``filename`` (none: nothing to check).

    Raises:
        DiskFullError: One line naming the folder, the bytes needed and the bytes free.
    """
    folder = filename.parent
    try:
        previous = max(
            (p for p in folder.glob("*.pt") if p.is_file() and not p.is_symlink()),
            key=lambda p: p.stat().st_mtime,
        )
    except ValueError:
        return
    needed = int(previous.stat().st_size * margin)
    free = shutil.disk_usage(folder).free
    if free < needed:
        raise DiskFullError(
            f"not saving {filename.name}: {folder} has {free:,} bytes free, a checkpoint needs "
            f"about {needed:,} (the last one, {previous.name}, is {previous.stat().st_size:,}); "
            "free space and rerun (the run resumes from its last checkpoint)"
        )
