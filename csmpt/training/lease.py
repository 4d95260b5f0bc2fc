"""One writer per run folder: a lease file with a heartbeat, safe on shared file systems.

Two ``csmpt train`` on one save folder (a double ``sbatch``, a requeue while the old job is still
dying, a recipe submitted as an array) would both train to the end, log every step twice and
overwrite each other's checkpoints. The first to start holds ``SAVE_FOLDER/.csmpt-lease.json``
(host, pid, job id, a token, a heartbeat time refreshed by a thread) for the run's whole life; a
second writer waits a short while for it to go (a requeue overlapping a dying job) and is then
refused in one line naming the holder. A lease whose holder is gone (a dead pid on this host, or
no heartbeat for ``stale_after`` seconds: its node died) is taken over with a warning.

It uses no ``flock`` (node-local on Lustre, GPFS and NFS): the file is created with
``O_CREAT | O_EXCL`` (atomic on those file systems) and replaced by rename; a writer that
takes a lease over reads it back after a pause and goes on only if its own token is there.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import secrets
import socket
import threading
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from csmpt.atomic import write_json
from csmpt.errors import CsmptError

__all__ = ["LEASE_FILE", "Lease", "LeaseHeldError", "acquire_lease"]

log = logging.getLogger(__name__)

LEASE_FILE = ".csmpt-lease.json"
JOB_ID_VARS = ("SLURM_JOB_ID", "PBS_JOBID", "LSB_JOBID")


class LeaseHeldError(CsmptError):
    """Another live writer holds the run folder's lease."""


@dataclass
class LeaseInfo:
    """What the lease file says.

    Attributes:
        host: The holder's host name.
        pid: The holder's process id.
        job: The scheduler's job id (empty outside a job).
        token: A random token identifying this holding.
        started: When it was taken (Unix time).
        heartbeat: When the holder last said it is alive (Unix time).
    """

    host: str
    pid: int
    job: str
    token: str
    started: float
    heartbeat: float

    def describe(self, now: float) -> str:
        """``host vm1 pid 4242 (job 17), heartbeat 3 s ago``."""
        job = f" (job {self.job})" if self.job else ""
        return f"host {self.host} pid {self.pid}{job}, heartbeat {now - self.heartbeat:.0f} s ago"


# An unreadable lease file younger than this is one a racing writer has just created with
# O_EXCL and not yet written (fsync on a loaded shared file system takes seconds): wait for it.
UNREADABLE_GRACE = 30.0


def _read(path: Path) -> LeaseInfo | None:
    try:
        data: Any = json.loads(path.read_text(encoding="utf-8"))
        return LeaseInfo(**data)
    except (FileNotFoundError, ValueError, TypeError):
        return None


def _alive_here(info: LeaseInfo) -> bool | None:
    """Whether the holder runs, if it is on this host; None for another host."""
    if info.host != socket.gethostname():
        return None
    try:
        os.kill(info.pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class Lease:
    """A held lease: refresh its heartbeat in the background, release it at the end."""

    def __init__(self, path: Path, info: LeaseInfo, interval: float) -> None:
        self.path = path
        self.info = info
        self.interval = interval
        self.lost = False
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._beat, name="csmpt-lease", daemon=True)
        self._thread.start()

    def _beat(self) -> None:
        while not self._stop.wait(self.interval):
            current = _read(self.path)
            if current is None or current.token != self.info.token:
                self.lost = True
                who = current.describe(time.time()) if current else "nobody"
                log.error("lease on %s lost: now held by %s", self.path.parent, who)
                return
            self.info.heartbeat = time.time()
            with contextlib.suppress(OSError):
                write_json(self.path, asdict(self.info))

    def release(self) -> None:
        """Stop the heartbeat and remove the lease file if it is still this holding's."""
        self._stop.set()
        self._thread.join(timeout=5)
        current = _read(self.path)
        if current is not None and current.token == self.info.token:
            with contextlib.suppress(FileNotFoundError):
                self.path.unlink()

    def __enter__(self) -> Lease:
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


def _create(path: Path, info: LeaseInfo) -> bool:
    """Create the lease file if there is none (atomically); False if one exists."""
    try:
        fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
    except FileExistsError:
        return False
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        json.dump(asdict(info), f)
        f.flush()
        os.fsync(f.fileno())
    return True


def acquire_lease(
    folder: str | Path,
    wait: float = 120.0,
    stale_after: float = 600.0,
    interval: float = 30.0,
    settle: float = 2.0,
) -> Lease:
    """Hold ``folder``'s lease for this process (see the module doc).

    Args:
        folder: The run's save folder (created if missing).
        wait: Seconds to wait for a live holder to go before refusing.
        stale_after: A heartbeat older than this means the holder is gone.
        interval: Seconds between heartbeats.
        settle: Pause before reading a taken-over lease back (lets a racing taker's rename land).

    Raises:
        LeaseHeldError: A live writer holds it, in one line naming the holder.
    """
    path = Path(folder) / LEASE_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    job = next((os.environ[v] for v in JOB_ID_VARS if os.environ.get(v)), "")
    deadline = time.monotonic() + wait
    while True:
        now = time.time()
        info = LeaseInfo(socket.gethostname(), os.getpid(), job, secrets.token_hex(8), now, now)
        if _create(path, info):
            return Lease(path, info, interval)
        holder = _read(path)
        if holder is None:  # unreadable: being created by a racing writer, or torn long ago
            try:
                age = now - path.stat().st_mtime
            except FileNotFoundError:
                continue  # released meanwhile: try to create it again
            if age < UNREADABLE_GRACE:
                time.sleep(0.05)  # its creator writes and fsyncs it right after O_EXCL
                continue
        alive = _alive_here(holder) if holder else False
        mine = holder is not None and alive and holder.pid == os.getpid()  # an earlier run here
        gone = holder is None or mine or alive is False or now - holder.heartbeat > stale_after
        if gone:
            why = "no holder" if holder is None else holder.describe(now)
            log.warning("taking over the lease of %s from a writer that is gone (%s)", folder, why)
            write_json(path, asdict(info))
            # A remote taker may rename at the same moment: give it time to land, then look.
            time.sleep(settle if alive is None else min(settle, 0.2))
            back = _read(path)
            if back is not None and back.token == info.token:
                return Lease(path, info, interval)
            continue  # another writer took it over at the same moment: look again
        if time.monotonic() >= deadline:
            assert holder is not None
            raise LeaseHeldError(
                f"{folder} is being written by another run ({holder.describe(now)}); "
                "not starting a second writer (wait for it to end, or use another save_folder)"
            )
        time.sleep(min(1.0, max(deadline - time.monotonic(), 0.0)))
