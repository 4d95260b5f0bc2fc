"""A temp folder per run for mosaicml-streaming's lock files.

Every ``StreamingDataset`` leaves two lock files (``NNNNNN_barrier_filelock``,
``NNNNNN_cache_filelock``) in the temp folder, and every new one scans all of them to find a free
prefix. On a machine that has run many trainings (a laptop, a shared login node) thousands pile
up in ``/tmp`` and each loader build — at start, at every eval and at every corpus hot-swap —
slows down (measured: 0.42 s vs 0.13 s per dataset with 2,100 stale files). They cannot be
deleted safely (nothing tells a live run's lock from a dead one's), so each run gets its own
folder under the temp folder, named after its run name and save folder: every local rank of the
run computes the same one, and a resumed run reuses it. Correctness does not depend on the lock
files alone: streaming also skips any prefix whose shared memory still exists.
"""

from __future__ import annotations

import hashlib
import logging
import re
import tempfile
from pathlib import Path

__all__ = ["use_run_streaming_tmpdir"]

log = logging.getLogger(__name__)

_ENV_OPT_OUT = "CSMPT_SHARED_STREAMING_TMPDIR"


def use_run_streaming_tmpdir(run_name: str, save_folder: str | None) -> Path:
    """Point Python's temp folder (which streaming reads) at this run's own subfolder.

    Set the environment variable ``CSMPT_SHARED_STREAMING_TMPDIR=1`` to keep the system one.

    Returns:
        The temp folder in use.
    """
    import os

    if os.environ.get(_ENV_OPT_OUT) == "1":
        return Path(tempfile.gettempdir())
    base = Path(tempfile.gettempdir())
    if base.parent.name == "csmpt-streaming":  # already a run folder (a second run in-process)
        base = base.parent.parent
    key = hashlib.blake2b(f"{run_name}\0{save_folder}".encode(), digest_size=6).hexdigest()
    name = re.sub(r"[^A-Za-z0-9._-]+", "_", run_name)[:48] or "run"
    folder = base / "csmpt-streaming" / f"{name}-{key}"
    folder.mkdir(parents=True, exist_ok=True)
    tempfile.tempdir = str(folder)
    log.info("streaming lock files for this run go to %s", folder)
    return folder
