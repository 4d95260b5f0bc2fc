"""Fingerprints that tell whether a data job's output is up to date with its inputs."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

__all__ = ["fingerprint", "input_stats", "input_size", "sha256_file"]


def _files_of(path: Path) -> list[Path]:
    """The files an input consists of: itself, or every file under a folder (sorted)."""
    if path.is_dir():
        return sorted(p for p in path.rglob("*") if p.is_file())
    return [path]


def sha256_file(path: Path) -> str:
    """SHA-256 of a file's bytes (of a folder: of its files' relative names and bytes)."""
    h = hashlib.sha256()
    for f in _files_of(path):
        if path.is_dir():
            h.update(str(f.relative_to(path)).encode() + b"\0")
        with f.open("rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                h.update(block)
    return h.hexdigest()


def input_size(path: Path) -> int:
    """Bytes of an input: a file, or every file under a folder."""
    return sum(f.stat().st_size for f in _files_of(path))


def input_stats(files: Sequence[Path]) -> list[tuple[str, int, int]]:
    """(absolute path, size, mtime in ns) of each input: cheap to take, changes with the file.

    For a folder (a ``save_to_disk`` dataset) the size and latest mtime of its files.
    """
    out = []
    for p in files:
        parts = [f.stat() for f in _files_of(p)]
        size = sum(st.st_size for st in parts)
        mtime = max((st.st_mtime_ns for st in parts), default=0)
        out.append((str(p.resolve()), size, mtime))
    return out


def fingerprint(obj: Any) -> str:
    """SHA-256 of the canonical JSON of ``obj`` (settings + input stats of a job)."""
    return hashlib.sha256(json.dumps(obj, sort_keys=True, default=str).encode()).hexdigest()
