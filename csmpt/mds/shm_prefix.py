"""Streaming's shared-memory prefix, registered under a machine-wide lock.

Every ``StreamingDataset`` claims a prefix for its shared memory (``/dev/shm/000000_locals``,
``000000_barrier``, ...): streaming's ``get_shm_prefix`` looks for the first free number, then
creates ``NNNNNN_locals``. Between the look and the create there is no lock, so two processes
that build their datasets at the same moment pick the same number and the second dies with
``FileExistsError: [Errno 17] File exists: '/000000_locals'`` (mosaicml/streaming issues #884,
#901, #717, open). csmpt meets it when two runs start together on one machine: ``csmpt ablate
--run I`` tasks of a job array that share a node, two ``csmpt train`` in one allocation. Seen
here: two ``csmpt ablate --run`` started in the same second, the second a traceback.

:func:`install` wraps ``get_shm_prefix`` (as ``streaming.base.dataset`` imported it) so that a
node's local leader holds an exclusive ``filelock`` on a file beside the shared memory
(``/dev/shm``, else the system's temporary folder) from the look to the create; other jobs'
leaders wait for it (milliseconds). In a multi-rank job the other ranks of a node look for the
prefix on their own, before their leader registers it: the wrapper makes every rank wait at a
barrier until its leader holds the lock, so no rank looks while another job on the node is
between its look and its create (without that barrier a job whose leader waited for the lock
dies with streaming's ``RuntimeError: ... shared memory registered does not match local
leader``). Two multi-node jobs sharing two nodes could each hold one node's lock and wait for
the other at that barrier: a leader waits at most :data:`WAIT_S` for the lock, then registers
unlocked, as streaming does, with a warning. Streaming versions without the function are left
alone (logged once).
"""

from __future__ import annotations

import functools
import logging
import tempfile
from pathlib import Path
from typing import Any

__all__ = ["install", "lock_path"]

log = logging.getLogger(__name__)

_MARK = "_csmpt_shm_prefix_lock"
LOCK_NAME = "csmpt_streaming_prefix.lock"
WAIT_S = 300.0
"""The longest a node's local leader waits for the lock before it registers unlocked."""


def lock_path() -> Path:
    """The lock file: beside POSIX shared memory on Linux, not under a run's own ``TMPDIR``."""
    shm = Path("/dev/shm")
    if shm.is_dir():
        return shm / LOCK_NAME
    # tempfile.gettempdir() honours TMPDIR, which csmpt's runs set per run: use the system's.
    return Path("/tmp" if Path("/tmp").is_dir() else tempfile.gettempdir()) / LOCK_NAME


def install() -> bool:
    """Register StreamingDatasets' shared-memory prefixes one process at a time (idempotent).

    Returns:
        Whether the wrapper is in place (False on a streaming without ``get_shm_prefix``).
    """
    try:
        from streaming.base import dataset
    except ImportError:
        return False
    original = getattr(dataset, "get_shm_prefix", None)
    if original is None:
        log.info("streaming has no get_shm_prefix; its prefix is not locked")
        return False
    if getattr(original, _MARK, False):
        return True

    @functools.wraps(original)
    def locked(streams_local: Any, streams_remote: Any, world: Any, *args: Any, **kw: Any) -> Any:
        lock = _acquire() if getattr(world, "is_local_leader", True) else None
        try:
            if _distributed():  # every rank looks only once its leader holds the node's lock
                import torch.distributed as dist

                dist.barrier()
            return original(streams_local, streams_remote, world, *args, **kw)
        finally:
            if lock is not None:
                lock.release()

    setattr(locked, _MARK, True)
    dataset.get_shm_prefix = locked
    return True


def _distributed() -> bool:
    """Whether torch.distributed has a process group (a multi-rank job)."""
    try:
        import torch.distributed as dist
    except ImportError:
        return False
    return bool(dist.is_available() and dist.is_initialized())


def _acquire() -> Any:
    """The node's prefix lock, held; ``None`` where it cannot be had (streaming's own way)."""
    from filelock import FileLock, Timeout

    path = lock_path()
    try:
        lock = FileLock(str(path), mode=0o666)
        lock.acquire(timeout=WAIT_S)
    except Timeout:
        log.warning(
            "streaming prefix lock %s held for over %.0f s by another job; registering this "
            "job's shared memory without it",
            path,
            WAIT_S,
        )
        return None
    except OSError as e:  # a lock file another user made unwritable
        log.info("streaming prefix lock %s unavailable (%s); not locked", path, e)
        return None
    return lock
