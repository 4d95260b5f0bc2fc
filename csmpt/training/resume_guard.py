"""Make a run folder safe to resume from, before training starts (on every rank of every node).

A kill or a node crash can leave a checkpoint that no autoresume survives: a 0-byte or torn
``ep0-ba14-rank0.pt`` makes Composer refuse to start (``FileExistsError ... may conflict with a
future checkpoint``) or fail in ``torch.load`` without naming the file. :func:`guard_save_folder`
runs before llm-foundry builds the trainer and:

* moves aside into ``SAVE_FOLDER/quarantine/`` (never deletes) every checkpoint file that is
  newer than the one ``latest`` points at, empty, or fails a cheap integrity check (its zip
  central directory is read, no tensor is loaded), and any partial file of an interrupted
  atomic save; one warning line names each file and why;
* points ``latest`` at the newest valid checkpoint (or removes a link with nothing to point at).

:func:`check_history` then refuses a run that would restart from step 0 in a folder whose run
files (``events.jsonl``, ``runs.jsonl``) record later steps: llm-foundry's callbacks would cut
them back to step 0. ``csmpt train --fresh`` moves the old run into ``SAVE_FOLDER/archive/<UTC
time>/`` instead (:func:`archive_run`).

Every operation tolerates another rank doing the same at the same time (the folder may be shared
by all nodes): a file another rank already moved is skipped, links are replaced atomically, and
an advisory lock on ``SAVE_FOLDER/.csmpt-resume.lock`` serializes the ranks where the file
system supports ``flock``.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import re
import time
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from csmpt.atomic import PARTIAL_PREFIX, replace_symlink
from csmpt.errors import CsmptError
from csmpt.run_folder import read_jsonl
from csmpt.training.leftovers import ARCHIVE, QUARANTINE

__all__ = [
    "DEFAULT_FILENAME",
    "DEFAULT_LATEST",
    "CheckpointFile",
    "GuardResult",
    "RunFolderError",
    "archive_run",
    "check_history",
    "checkpoint_problem",
    "guard_save_folder",
    "list_checkpoints",
]

log = logging.getLogger(__name__)

DEFAULT_FILENAME = "ep{epoch}-ba{batch}-rank{rank}.pt"  # Composer's default save_filename
DEFAULT_LATEST = "latest-rank{rank}.pt"  # Composer's default save_latest_filename


class RunFolderError(CsmptError):
    """The run folder cannot be resumed from as it is (says what to do in one line)."""


@dataclass(frozen=True)
class CheckpointFile:
    """A checkpoint in the save folder and the step it was taken at."""

    path: Path
    batch: int


@dataclass
class GuardResult:
    """What :func:`guard_save_folder` found and did."""

    resume_step: int
    latest: Path | None
    quarantined: list[tuple[Path, str]] = field(default_factory=list)


def _pattern(filename: str) -> re.Pattern[str]:
    """A regex for the files Composer names with ``filename`` on global rank 0."""
    out = re.escape(filename)
    for unit in ("epoch", "batch", "sample", "token", "batch_in_epoch", "sample_in_epoch"):
        out = out.replace(re.escape(f"{{{unit}}}"), f"(?P<{unit}>\\d+)")
    out = out.replace(re.escape("{rank}"), "0").replace(re.escape("{local_rank}"), "0")
    out = out.replace(re.escape("{node_rank}"), "0")
    return re.compile(f"^{out}$")


def list_checkpoints(folder: Path, filename: str = DEFAULT_FILENAME) -> list[CheckpointFile]:
    """The rank-0 checkpoint files of ``folder`` named by ``filename``, oldest step first."""
    pattern = _pattern(filename)
    found = []
    with os.scandir(folder) as entries:
        for entry in entries:
            match = pattern.match(entry.name)
            if match is not None and "batch" in match.groupdict():
                found.append(CheckpointFile(Path(entry.path), int(match["batch"])))
    return sorted(found, key=lambda c: (c.batch, c.path.name))


def checkpoint_problem(path: Path) -> str | None:
    """Why a checkpoint cannot be loaded (``None`` if it looks whole), without loading tensors.

    A ``.pt`` file must be a zip archive (torch's format) whose central directory reads and
    lists a ``data.pkl``; a truncated file has lost its central directory. A sharded checkpoint
    folder must hold the ``.metadata`` torch's distributed checkpoint writes last. Compressed
    and tar checkpoints are only checked for being non-empty.
    """
    try:
        if path.is_dir():
            meta = path / ".metadata"
            return None if meta.is_file() and meta.stat().st_size > 0 else "no .metadata"
        if path.stat().st_size == 0:
            return "empty (0 bytes)"
    except OSError as e:
        return f"unreadable ({e.strerror})"
    if not path.name.endswith(".pt"):
        return None
    try:
        with zipfile.ZipFile(path) as zf:
            if not any(n.endswith("/data.pkl") or n == "data.pkl" for n in zf.namelist()):
                return "no data.pkl in the archive (not a torch checkpoint)"
    except (zipfile.BadZipFile, OSError, ValueError) as e:
        return f"torn (zip archive unreadable: {e})"
    return None


@contextlib.contextmanager
def _folder_lock(folder: Path) -> Iterator[None]:
    """Hold an advisory lock on the folder (skipped where the file system has no flock)."""
    fd = None
    try:
        fd = os.open(folder / ".csmpt-resume.lock", os.O_RDWR | os.O_CREAT, 0o644)
        fcntl.flock(fd, fcntl.LOCK_EX)
    except OSError:
        pass
    try:
        yield
    finally:
        if fd is not None:
            os.close(fd)


def _move_aside(path: Path, into: Path) -> Path | None:
    """Rename ``path`` into folder ``into`` under a free name; None if it is already gone."""
    into.mkdir(parents=True, exist_ok=True)
    dest = into / path.name
    n = 0
    while dest.exists() or dest.is_symlink():
        n += 1
        dest = into / f"{path.name}.{n}"
    try:
        os.rename(path, dest)
    except FileNotFoundError:
        return None  # another rank moved it first
    return dest


def guard_save_folder(
    folder: str | Path,
    filename: str = DEFAULT_FILENAME,
    latest_filename: str = DEFAULT_LATEST,
) -> GuardResult:
    """Quarantine unusable checkpoints and point ``latest`` at the newest valid one.

    Args:
        folder: The local save folder (nothing happens if it does not exist).
        filename: The run's ``save_filename`` (Composer's format string).
        latest_filename: The run's ``save_latest_filename``.

    Returns:
        The step the run will resume from (0: from scratch), the checkpoint ``latest`` points
        at, and the files moved to ``quarantine/`` with the reason for each.
    """
    folder = Path(folder)
    if not folder.is_dir():
        return GuardResult(0, None)
    link = folder / latest_filename.replace("{rank}", "0")
    quarantine = folder / QUARANTINE
    result = GuardResult(0, None)
    with _folder_lock(folder):
        checkpoints = list_checkpoints(folder, filename)
        latest_step: int | None = None
        if link.is_symlink():
            target = (link.parent / os.readlink(link)).resolve()
            for c in checkpoints:
                if c.path.resolve() == target:
                    latest_step = c.batch
        bad: list[tuple[Path, str]] = [
            (p, "partial file of an interrupted save")
            for p in folder.iterdir()
            if p.name.startswith(PARTIAL_PREFIX)
        ]
        good: list[CheckpointFile] = []
        for c in checkpoints:
            if latest_step is not None and c.batch > latest_step:
                bad.append((c.path, f"newer than {link.name} (step {latest_step})"))
            elif (problem := checkpoint_problem(c.path)) is not None:
                bad.append((c.path, problem))
            else:
                good.append(c)
        for path, reason in bad:
            dest = _move_aside(path, quarantine)
            if dest is not None:
                log.warning("checkpoint %s: %s; moved to %s", path, reason, dest)
                result.quarantined.append((path, reason))
        if good:
            newest = good[-1]
            if latest_step != newest.batch or not link.exists():
                replace_symlink(link, newest.path)
                log.warning("%s now points at %s (step %d)", link, newest.path.name, newest.batch)
            result.resume_step, result.latest = newest.batch, newest.path
        elif link.is_symlink():
            with contextlib.suppress(FileNotFoundError):
                link.unlink()
            log.warning("%s removed: no valid checkpoint left to point at", link)
    return result


def check_history(resume_step: int, events_files: list[Path], runs_file: Path | None) -> None:
    """Refuse to start from scratch over a run whose events or history record later steps.

    Raises:
        RunFolderError: ``resume_step`` is 0 and an events file or ``runs.jsonl`` records a
            step after 0 (a swap, a spike, a checkpointed end or resume).
    """
    if resume_step != 0:
        return
    found: list[str] = []
    for path in [*events_files, *([runs_file] if runs_file else [])]:
        steps = [
            (int(r.get("step", 0) or 0), str(r.get("event", "?")))
            for r in read_jsonl(path)
            if isinstance(r.get("step", 0), int | float)
        ]
        later = [s for s in steps if s[0] > 0]
        if later:
            step, event = max(later)
            found.append(f"{path.name} records step {step} ({event})")
    if found:
        first = events_files[0] if events_files else runs_file
        where = first.parent if first is not None else "the save folder"
        raise RunFolderError(
            f"{where}: no checkpoint to resume from, but {'; '.join(found)}; starting over would "
            "discard that history: rerun with --fresh (archives the old run to "
            f"{where}/{ARCHIVE}/) or choose another save_folder"
        )


def archive_run(folder: Path, filename: str, latest_filename: str, run_files: list[Path]) -> Path:
    """Move a previous run (checkpoints, ``latest``, run files, quarantine) into ``archive/``.

    Returns:
        The archive folder ``SAVE_FOLDER/archive/<UTC time>``.
    """
    dest = folder / ARCHIVE / time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    moved = []
    if folder.is_dir():
        paths = [c.path for c in list_checkpoints(folder, filename)]
        link = folder / latest_filename.replace("{rank}", "0")
        extra = [link, folder / QUARANTINE, folder / "spikes", folder / "config.yaml"]
        for path in [*paths, *extra, *run_files]:
            if (path.exists() or path.is_symlink()) and _move_aside(path, dest) is not None:
                moved.append(path.name)
    if moved:
        log.warning("--fresh: moved %s to %s", ", ".join(moved), dest)
    return dest
