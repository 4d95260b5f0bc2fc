"""Fingerprints that tell whether a data job's output is up to date with its inputs."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

__all__ = ["fingerprint", "input_stats", "sha256_file"]


def sha256_file(path: Path) -> str:
    """SHA-256 of a file's bytes, read in 1 MiB blocks."""
    h = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def input_stats(files: Sequence[Path]) -> list[tuple[str, int, int]]:
    """(absolute path, size, mtime in ns) of each input: cheap to take, changes with the file."""
    out = []
    for p in files:
        st = p.stat()
        out.append((str(p.resolve()), st.st_size, st.st_mtime_ns))
    return out


def fingerprint(obj: Any) -> str:
    """SHA-256 of the canonical JSON of ``obj`` (settings + input stats of a job)."""
    return hashlib.sha256(json.dumps(obj, sort_keys=True, default=str).encode()).hexdigest()
