"""The files csmpt keeps in a run's save folder: events.jsonl, metrics.jsonl, runs.jsonl.

Their readers and appenders, in one place.
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path
from typing import Any

__all__ = ["append_event", "read_events", "read_metrics", "repair_torn_tail", "rewrite_events"]

log = logging.getLogger(__name__)


def read_events(path: str | Path) -> list[dict[str, Any]]:
    """Read a JSONL events file (a torn last line is skipped)."""
    out: list[dict[str, Any]] = []
    p = Path(path)
    if not p.is_file():
        return out
    for line in p.read_text(encoding="utf-8").splitlines():
        try:
            out.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    return out


def append_event(path: Path, event: dict[str, Any]) -> None:
    """Append one event line and flush it to disk."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a", encoding="utf-8") as f:
        f.write(json.dumps(event) + "\n")
        f.flush()
        os.fsync(f.fileno())


def rewrite_events(path: Path, events: list[dict[str, Any]]) -> None:
    """Replace an events file with ``events`` (a temp file renamed over it)."""
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text("".join(json.dumps(e) + "\n" for e in events), encoding="utf-8")
    os.replace(tmp, path)


def read_metrics(path: str | Path) -> list[dict[str, Any]]:
    """Read a ``metrics.jsonl`` of :class:`JSONLMetricsLogger` (a torn last line is skipped)."""
    records = []
    with Path(path).open(encoding="utf-8") as f:
        for line in f:
            try:
                records.append(json.loads(line))
            except json.JSONDecodeError:
                continue
    return records


def repair_torn_tail(path: Path) -> int:
    """Cut a JSONL run file back to its last complete line (a kill can tear the last one).

    Appending after a torn line would glue the next record onto it and lose both.

    Returns:
        The number of bytes removed (0 when the file ends with a newline or is absent).
    """
    try:
        with path.open("rb+") as f:
            size = f.seek(0, os.SEEK_END)
            if size == 0:
                return 0
            f.seek(size - 1)
            if f.read(1) == b"\n":
                return 0
            pos = size
            while pos > 0:
                step = min(65536, pos)
                f.seek(pos - step)
                chunk = f.read(step)
                nl = chunk.rfind(b"\n")
                if nl >= 0:
                    pos = pos - step + nl + 1
                    break
                pos -= step
            f.truncate(pos)
            f.flush()
            os.fsync(f.fileno())
    except FileNotFoundError:
        return 0
    log.warning(
        "%s: removed a torn last line (%d bytes) left by an interrupted write", path, size - pos
    )
    return size - pos
