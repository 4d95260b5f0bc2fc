"""Put a finished output folder in place without ever leaving a half-written one."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

__all__ = ["replace_dir"]


def replace_dir(new: Path, target: Path) -> None:
    """Move ``new`` to ``target``; an older ``target`` is removed only once ``new`` is in place.

    ``new`` must be on the same file system as ``target`` (a temp folder beside it), so each
    move is an atomic rename: a reader sees the old folder or the new one, never a mix.
    """
    if target.exists():
        old = target.with_name(f".{target.name}.old-{os.getpid()}")
        os.replace(target, old)
        os.replace(new, target)
        shutil.rmtree(old, ignore_errors=True)
    else:
        os.replace(new, target)
