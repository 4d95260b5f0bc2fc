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
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from csmpt.atomic import PARTIAL_PREFIX, replace_symlink
from csmpt.errors import CsmptError
from csmpt.run_folder import read_jsonl
from csmpt.training.leftovers import ARCHIVE, QUARANTINE

__all__ = [
    "DEFAULT_FILENAME",
    "DEFAULT_LATEST",
    "SHARDED_LATEST",
    "CheckpointNames",
    "checkpoint_names",
    "latest_filename",
    "DEFAULT_SHARDED_DIR",
    "CheckpointFile",
    "GuardResult",
    "RunFolderError",
    "archive_run",
    "check_history",
    "checkpoint_problem",
    "content_problem",
    "guard_save_folder",
    "list_checkpoints",
    "recorded_steps",
]

log = logging.getLogger(__name__)

DEFAULT_FILENAME = "ep{epoch}-ba{batch}-rank{rank}.pt"  # Composer's default save_filename
DEFAULT_LATEST = "latest-rank{rank}.pt"  # Composer's default save_latest_filename
# llm-foundry's default when fsdp_config.state_dict_type is sharded (train.py: whatever the
# world size: it reverts a 1-process run to DDP only after choosing the name)
SHARDED_LATEST = "latest-sharded-rank{rank}"
# Composer's default fsdp_config.sharded_ckpt_prefix_dir: a sharded checkpoint is the folder
# SAVE_FOLDER/<dirname of save_filename>/ep0-ba20/ holding __<rank>_0.distcp files and .metadata.
DEFAULT_SHARDED_DIR = "ep{epoch}-ba{batch}"


def latest_filename(cfg: Mapping[str, Any]) -> str:
    """The ``latest`` link's name llm-foundry gives a recipe (autoresume follows that link).

    ``save_latest_filename`` if set; else ``latest-sharded-rank{rank}`` when
    ``fsdp_config.state_dict_type`` is ``sharded``, else Composer's ``latest-rank{rank}.pt``.
    """
    explicit = cfg.get("save_latest_filename")
    if explicit:
        return str(explicit)
    fsdp = cfg.get("fsdp_config")
    sharded = isinstance(fsdp, Mapping) and fsdp.get("state_dict_type", "full") == "sharded"
    return SHARDED_LATEST if sharded else DEFAULT_LATEST


@dataclass(frozen=True)
class CheckpointNames:
    """Where a recipe's checkpoints are and how Composer/llm-foundry name them.

    Attributes:
        folder: The local save folder (``{run_name}`` filled in).
        filename: ``save_filename``.
        latest: The ``latest`` link's name (:func:`latest_filename`).
        sharded_dir: ``fsdp_config.sharded_ckpt_prefix_dir`` (Composer's default if unset).
    """

    folder: Path
    filename: str
    latest: str
    sharded_dir: str


def checkpoint_names(cfg: Mapping[str, Any]) -> CheckpointNames | None:
    """The resolved recipe's checkpoint names; None when ``save_folder`` is not local."""
    save_folder = cfg.get("save_folder")
    if not isinstance(save_folder, str) or "://" in save_folder:
        return None
    fsdp = cfg.get("fsdp_config")
    sharded = fsdp.get("sharded_ckpt_prefix_dir") if isinstance(fsdp, Mapping) else None
    return CheckpointNames(
        folder=Path(save_folder.replace("{run_name}", str(cfg.get("run_name") or ""))),
        filename=str(cfg.get("save_filename") or DEFAULT_FILENAME),
        latest=latest_filename(cfg),
        sharded_dir=str(sharded or DEFAULT_SHARDED_DIR),
    )


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


def list_checkpoints(
    folder: Path, filename: str = DEFAULT_FILENAME, sharded_dir: str | None = None
) -> list[CheckpointFile]:
    """The rank-0 checkpoints of ``folder``, oldest step first.

    Args:
        folder: The save folder.
        filename: The run's ``save_filename``: monolithic checkpoint files named by it.
        sharded_dir: The run's ``fsdp_config.sharded_ckpt_prefix_dir`` (or None): also list
            the sharded checkpoint folders Composer names ``<dirname of filename>/<sharded_dir>``.
    """
    found = []
    pattern = _pattern(filename)
    with os.scandir(folder) as entries:
        for entry in entries:
            match = pattern.match(entry.name)
            if match is not None and "batch" in match.groupdict():
                found.append(CheckpointFile(Path(entry.path), int(match["batch"])))
    parent = folder / Path(filename).parent
    if sharded_dir is not None and parent.is_dir():
        pattern = _pattern(sharded_dir)
        with os.scandir(parent) as entries:
            for entry in entries:
                match = pattern.match(entry.name)
                if match is not None and "batch" in match.groupdict() and entry.is_dir():
                    found.append(CheckpointFile(Path(entry.path), int(match["batch"])))
    return sorted(found, key=lambda c: (c.batch, c.path.name))


def checkpoint_problem(path: Path) -> str | None:
    """Why a checkpoint cannot be loaded (``None`` if it looks whole), without loading tensors.

    A ``.pt`` file must be a zip archive (torch's format) whose central directory reads and
    lists a ``data.pkl``; a truncated file has lost its central directory. A sharded checkpoint
    folder must hold the ``.metadata`` torch's distributed checkpoint writes last, and every
    shard file that ``.metadata`` names must be there and reach the end of the last tensor
    stored in it (a missing rank's file or a truncated shard is found). Compressed and tar
    checkpoints are only checked for being non-empty.
    """
    try:
        if path.is_dir():
            return _sharded_problem(path)
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


def _sharded_problem(path: Path) -> str | None:
    """What is missing or torn in a sharded (torch distributed checkpoint) folder, or None."""
    meta = path / ".metadata"
    if not meta.is_file() or meta.stat().st_size == 0:
        return "no .metadata (the sharded save did not finish)"
    from torch.distributed.checkpoint import FileSystemReader

    try:
        metadata = FileSystemReader(str(path)).read_metadata()
        storage = dict(metadata.storage_data or {})
    except Exception as e:  # noqa: BLE001 - an unpickling error can be of any type
        return f"torn (.metadata unreadable: {type(e).__name__}: {e})"
    ends: dict[str, int] = {}
    for info in storage.values():
        name = str(info.relative_path)
        ends[name] = max(ends.get(name, 0), int(info.offset) + int(info.length))
    if not ends:
        return ".metadata names no shard file"
    for name, end in sorted(ends.items()):
        try:
            size = (path / name).stat().st_size
        except FileNotFoundError:
            return f"shard {name} missing (named in .metadata)"
        if size < end:
            return f"shard {name} torn ({size} bytes, .metadata needs {end})"
    return None


def content_problem(path: Path) -> str | None:
    """Why a checkpoint's bytes are not the ones written (None if they check), reading it whole.

    A monolithic ``.pt`` file is a zip archive in which torch records a CRC32 of every member:
    each is recomputed (:meth:`zipfile.ZipFile.testzip`), so a flipped bit in a tensor's data
    is found before ``torch.load`` would load it silently. Sharded folders and other formats
    carry no checksums: only :func:`checkpoint_problem`'s structural checks apply to them.
    """
    if path.is_dir() or not path.name.endswith(".pt"):
        return checkpoint_problem(path)
    try:
        with zipfile.ZipFile(path) as zf:
            bad = zf.testzip()
    except (zipfile.BadZipFile, OSError, ValueError) as e:
        return f"torn (zip archive unreadable: {e})"
    return None if bad is None else f"corrupt (CRC32 mismatch in {bad})"


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
    sharded_dir: str | None = DEFAULT_SHARDED_DIR,
    verify: bool = False,
) -> GuardResult:
    """Quarantine unusable checkpoints and point ``latest`` at the newest valid one.

    Sharded checkpoint folders are handled as files: listed by step, checked
    (:func:`checkpoint_problem`), moved to ``quarantine/`` whole, pointed at by ``latest``.

    Args:
        folder: The local save folder (nothing happens if it does not exist).
        filename: The run's ``save_filename`` (Composer's format string).
        latest_filename: The run's ``save_latest_filename``.
        sharded_dir: The run's ``fsdp_config.sharded_ckpt_prefix_dir`` (None: no folders).
        verify: Also read the checkpoint to resume from whole and check its CRCs
            (:func:`content_problem`); a corrupt one is quarantined and the previous one
            checked in turn. One rank (global rank 0) is enough: the others follow its link.

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
        checkpoints = list_checkpoints(folder, filename, sharded_dir)
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
        while verify and good and (problem := content_problem(good[-1].path)) is not None:
            bad.append((good.pop().path, problem))
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


def recorded_steps(paths: list[Path]) -> list[str]:
    """For each run file recording a step after 0: "NAME records step N (EVENT)", its last."""
    found: list[str] = []
    for path in paths:
        steps = [
            (int(r.get("step", 0) or 0), str(r.get("event", "?")))
            for r in read_jsonl(path)
            if isinstance(r.get("step", 0), int | float)
        ]
        later = [s for s in steps if s[0] > 0]
        if later:
            step, event = max(later)
            found.append(f"{path.name} records step {step} ({event})")
    return found


def check_history(
    resume_step: int, events_files: list[Path], runs_file: Path | None, why: str = ""
) -> None:
    """Refuse to start from scratch over a run whose events or history record later steps.

    Args:
        resume_step: The step the run would start at.
        events_files: The run's events files.
        runs_file: Its ``runs.jsonl`` (or None).
        why: Appended to the message (e.g. what differs from the recorded run's config).

    Raises:
        RunFolderError: ``resume_step`` is 0 and an events file or ``runs.jsonl`` records a
            step after 0 (a swap, a spike, a checkpointed end or resume).
    """
    if resume_step != 0:
        return
    found = recorded_steps([*events_files, *([runs_file] if runs_file else [])])
    if found:
        first = events_files[0] if events_files else runs_file
        where = first.parent if first is not None else "the save folder"
        raise RunFolderError(
            f"{where}: no checkpoint to resume from, but {'; '.join(found)}{why}; starting over "
            "would discard that history: rerun with --fresh (archives the old run to "
            f"{where}/{ARCHIVE}/) or choose another save_folder"
        )


def archive_run(
    folder: Path,
    filename: str,
    latest_filename: str,
    run_files: list[Path],
    sharded_dir: str | None = DEFAULT_SHARDED_DIR,
    reason: str = "--fresh",
) -> Path:
    """Move a previous run (checkpoints, ``latest``, run files, quarantine) into ``archive/``.

    ``config.yaml`` moves last: a rank that still finds it finds the run files too.

    Args:
        folder: The save folder.
        filename: The run's ``save_filename``.
        latest_filename: The run's ``save_latest_filename``.
        run_files: The events, runs and metrics files to move.
        sharded_dir: The run's ``fsdp_config.sharded_ckpt_prefix_dir``.
        reason: Starts the one warning line that names what moved.

    Returns:
        The archive folder ``SAVE_FOLDER/archive/<UTC time>``.
    """
    dest = folder / ARCHIVE / time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    moved = []
    if folder.is_dir():
        paths = [c.path for c in list_checkpoints(folder, filename, sharded_dir)]
        link = folder / latest_filename.replace("{rank}", "0")
        extra = [link, folder / QUARANTINE, folder / "spikes"]
        for path in [*paths, *extra, *run_files, folder / "config.yaml"]:
            if (path.exists() or path.is_symlink()) and _move_aside(path, dest) is not None:
                moved.append(path.name)
    if moved:
        log.warning("%s: moved %s to %s", reason, ", ".join(moved), dest)
    return dest
