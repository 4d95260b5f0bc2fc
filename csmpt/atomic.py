"""Atomic writes: a file or folder appears under its final name only once it is whole."""

from __future__ import annotations

import contextlib
import os
import shutil
from collections.abc import Callable
from pathlib import Path

__all__ = ["PARTIAL_PREFIX", "replace_dir", "write_atomically"]

PARTIAL_PREFIX = ".partial-"  # csmpt's atomic saves write here first (write_atomically)


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


def _fsync_dir(folder: Path) -> None:
    with contextlib.suppress(OSError):  # some file systems cannot open a folder for fsync
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def write_atomically(write: Callable[[str], None], filename: str) -> None:
    """Call ``write(path)`` on a partial name next to ``filename``, then move it into place.

    Args:
        write: Writes the whole file to the path it is given.
        filename: The final name; it exists only once the file is complete and on disk.
    """
    final = Path(filename)
    partial = final.with_name(f"{PARTIAL_PREFIX}{os.getpid()}-{final.name}")
    try:
        write(str(partial))
        with partial.open("rb") as f:
            os.fsync(f.fileno())
        os.replace(partial, final)
    except BaseException:
        with contextlib.suppress(OSError):
            partial.unlink()
        raise
    _fsync_dir(final.parent)
