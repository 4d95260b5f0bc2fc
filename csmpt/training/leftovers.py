"""What a run folder or an output folder keeps that nobody reads any more, and its retention.

A run never deletes a checkpoint by itself: a torn or bad one goes to ``quarantine/``, a run
started over with ``--fresh`` to ``archive/<time>/`` (:mod:`csmpt.training.resume_guard`). At 7B
each such entry is tens of GB, so both folders have a retention rule (:func:`prune`: the newest
``keep`` entries, at most ``max_bytes`` in all) and ``csmpt clean PATH`` lists and removes the
leftovers of a run folder or of an output folder (surgery, export, tokenizer):

* ``quarantine``: entries of ``RUN/quarantine/``;
* ``archive``: entries of ``RUN/archive/``;
* ``partial``: temporary files and folders of writers that are no longer running on this host
  (checkpoint writes, ``.OUT.partial-*`` beside a surgery's or an export's ``OUT``);
* ``hidden copy``: ``.OUT.old-*``, an output's previous copy hidden by a replace that was killed
  (with ``OUT`` missing the next run of that command restores it: :func:`csmpt.atomic.recover_dir`).
"""

from __future__ import annotations

import logging
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

from csmpt.atomic import PARTIAL_PREFIX, dead_writer

__all__ = ["ARCHIVE", "QUARANTINE", "Leftover", "find_leftovers", "prune", "remove_leftovers"]

log = logging.getLogger(__name__)

QUARANTINE = "quarantine"
ARCHIVE = "archive"
_TEMP_MARK = ".partial-"
_OLD_MARK = ".old-"


@dataclass(frozen=True)
class Leftover:
    """One thing ``csmpt clean`` would remove.

    Attributes:
        path: The file or folder.
        kind: ``quarantine``, ``archive``, ``partial`` or ``hidden copy``.
        bytes: Its size on disk (a folder: every file under it).
    """

    path: Path
    kind: str
    bytes: int


def _size(path: Path) -> int:
    if path.is_symlink() or path.is_file():
        return path.lstat().st_size
    total = 0
    for root, _dirs, files in os.walk(path):
        for name in files:
            p = os.path.join(root, name)
            if not os.path.islink(p):
                total += os.path.getsize(p)
    return total


def _entries(folder: Path) -> list[Path]:
    """A retention folder's entries, oldest first (by modification time, then name)."""
    if not folder.is_dir():
        return []
    items = list(folder.iterdir())
    return sorted(items, key=lambda p: (p.lstat().st_mtime, p.name))


def _hidden_siblings(target: Path) -> list[Leftover]:
    """``.TARGET.partial-*`` of dead writers and ``.TARGET.old-*`` beside ``target``."""
    out: list[Leftover] = []
    if not target.parent.is_dir():
        return out
    for entry in sorted(target.parent.iterdir()):
        for mark, kind in ((_TEMP_MARK, "partial"), (_OLD_MARK, "hidden copy")):
            prefix = f".{target.name}{mark}"
            if entry.name.startswith(prefix) and dead_writer(entry.name[len(prefix) :]):
                out.append(Leftover(entry, kind, _size(entry)))
    return out


def find_leftovers(path: Path) -> list[Leftover]:
    """The leftovers of a run folder or an output folder ``path`` (see the module doc)."""
    path = Path(path)
    found: list[Leftover] = []
    for name, kind in ((QUARANTINE, "quarantine"), (ARCHIVE, "archive")):
        found += [Leftover(p, kind, _size(p)) for p in _entries(path / name)]
    if path.is_dir():
        for entry in sorted(path.iterdir()):
            name = entry.name
            if name.startswith(PARTIAL_PREFIX):  # .partial-<pid>-<name> (checkpoint writes)
                pid = name[len(PARTIAL_PREFIX) :].split("-", 1)[0]
                if pid.isdigit() and dead_writer(pid):
                    found.append(Leftover(entry, "partial", _size(entry)))
            elif name.startswith(".") and _TEMP_MARK in name[1:]:
                tag = name.rsplit(_TEMP_MARK, 1)[1]
                if dead_writer(tag):
                    found.append(Leftover(entry, "partial", _size(entry)))
    return found + _hidden_siblings(path)


def remove_leftovers(leftovers: list[Leftover]) -> int:
    """Remove them; returns the bytes freed."""
    freed = 0
    for item in leftovers:
        if item.path.is_dir() and not item.path.is_symlink():
            shutil.rmtree(item.path, ignore_errors=True)
        else:
            item.path.unlink(missing_ok=True)
        freed += item.bytes
    return freed


def prune(folder: Path, keep: int, max_bytes: int | None = None) -> list[Path]:
    """Apply a retention rule to ``quarantine/`` or ``archive/``: oldest entries go first.

    Args:
        folder: The retention folder.
        keep: Entries to keep at most (the newest).
        max_bytes: Total size to keep at most (None: no limit); the newest entry is kept even
            when it alone is larger.

    Returns:
        The entries removed.
    """
    entries = _entries(Path(folder))
    sizes = {p: _size(p) for p in entries}
    removed: list[Path] = []
    while entries and (
        len(entries) > max(keep, 0)
        or (
            max_bytes is not None
            and len(entries) > 1
            and sum(sizes[p] for p in entries) > max_bytes
        )
    ):
        victim = entries.pop(0)
        remove_leftovers([Leftover(victim, folder.name, sizes[victim])])
        removed.append(victim)
        log.warning("retention: removed %s (%d bytes)", victim, sizes[victim])
    return removed
