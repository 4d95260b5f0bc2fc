"""The files csmpt keeps in a run's save folder: events.jsonl, metrics.jsonl, runs.jsonl.

Every reader and appender of these files is here, with one rule for torn lines and one for
repeated steps; the callbacks, the ``csmpt_jsonl`` logger, the report, forensics and the resume
guard all go through it.

* ``events.jsonl``: corpus swaps, freeze stages, loss spikes, rollbacks (one object per line with
  ``event`` and ``step``); ``runs.jsonl``: every start, resume, end and signal checkpoint of the
  run; both appended and ``fsync``-ed a line at a time. ``metrics.jsonl``: one line per Composer
  log call, ``{"step": s, "time": t, "<metric>": value, ...}`` (non-finite values as strings
  ``"nan"``, ``"inf"``), flushed a line at a time.

**Torn lines.** Each record is one line, written whole and flushed; a kill can still cut the
last line short. A reader skips a last line that does not parse (silently: that is what a kill
leaves) and keeps one that parses but lost only its newline. Any other line that is not a JSON
object is skipped with a warning naming ``file:line``. An appender first cuts a torn last line
off (:func:`repair_torn_tail`; a whole last record only gets its newline), so a new record never
glues onto it.

**Repeated steps.** A step can be logged more than once: a resumed run replays the steps after its
checkpoint (the ``csmpt_jsonl`` logger drops the replayed lines on resume, a file from elsewhere
may keep them), and Composer logs its ``time/*`` counters again when training ends, at the last
step. The rule: **the value of a metric at a step is the last one written for that step**.
:func:`metric_series` applies it, and every reader of a metric series uses it.
"""

from __future__ import annotations

import json
import logging
import math
import os
from collections.abc import Iterable, Sequence
from pathlib import Path
from types import TracebackType
from typing import IO, Any

from csmpt.atomic import write_jsonl

__all__ = [
    "tokens_by_step",
    "EVENTS_FILE",
    "METRICS_FILE",
    "RUNS_FILE",
    "JsonlAppender",
    "append_event",
    "append_jsonl",
    "append_run",
    "loss_curve",
    "metric_names",
    "metric_series",
    "read_events",
    "read_jsonl",
    "read_metrics",
    "read_runs",
    "repair_torn_tail",
    "rewrite_events",
    "rewrite_jsonl",
]

log = logging.getLogger(__name__)

EVENTS_FILE = "events.jsonl"
METRICS_FILE = "metrics.jsonl"
RUNS_FILE = "runs.jsonl"

Points = list[tuple[int, float]]


def _parse(raw: bytes) -> dict[str, Any] | None:
    """The JSON object on one line, or None."""
    try:
        record = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError):
        return None
    return record if isinstance(record, dict) else None


def read_jsonl(path: str | Path) -> list[dict[str, Any]]:
    """The records of a run file in order (the torn-line rule above); [] if it does not exist."""
    p = Path(path)
    out: list[dict[str, Any]] = []
    try:
        f = p.open("rb")
    except (FileNotFoundError, IsADirectoryError):
        return out
    with f:
        for number, raw in enumerate(f, 1):
            record = _parse(raw)
            if record is not None:
                out.append(record)
            elif raw.endswith(b"\n") and raw.strip():
                log.warning("%s:%d: not a JSON object; line skipped", p, number)
            elif raw.strip():
                log.debug("%s:%d: torn last line skipped", p, number)
    return out


def repair_torn_tail(path: Path) -> int:
    """Cut a run file back to its last complete line (a kill can tear the last one).

    Appending after a torn line would glue the next record onto it and lose both. A last line
    that is a whole record without its newline gets the newline instead.

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
            f.seek(pos)
            if _parse(f.read()) is not None:
                f.write(b"\n")
                pos = size
            else:
                f.truncate(pos)
            f.flush()
            os.fsync(f.fileno())
    except FileNotFoundError:
        return 0
    if pos < size:
        log.warning(
            "%s: removed a torn last line (%d bytes) left by an interrupted write", path, size - pos
        )
    return size - pos


class JsonlAppender:
    """A run file kept open for appending: one whole line per record, flushed at once.

    Args:
        path: The JSONL file (its folder is created; a torn last line is cut off first).
        durable: ``fsync`` after every record (events, runs); otherwise only on
            :meth:`sync`/:meth:`close` (metrics: many lines per step).
    """

    def __init__(self, path: str | Path, durable: bool = True) -> None:
        self.path = Path(path)
        self.durable = durable
        self._file: IO[str] | None = None

    def append(self, record: dict[str, Any]) -> None:
        """Write ``record`` as one line."""
        if self._file is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            repair_torn_tail(self.path)
            self._file = self.path.open("a", encoding="utf-8")
        self._file.write(json.dumps(record) + "\n")
        self._file.flush()
        if self.durable:
            os.fsync(self._file.fileno())

    def sync(self) -> None:
        """Put everything appended so far on disk."""
        if self._file is not None:
            self._file.flush()
            os.fsync(self._file.fileno())

    def close(self) -> None:
        """Sync and close (appending again reopens the file)."""
        if self._file is not None:
            self.sync()
            self._file.close()
            self._file = None

    def __enter__(self) -> JsonlAppender:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def append_jsonl(path: str | Path, record: dict[str, Any]) -> None:
    """Append one record to a run file and ``fsync`` it."""
    with JsonlAppender(path, durable=True) as f:
        f.append(record)


def rewrite_jsonl(path: str | Path, records: Iterable[dict[str, Any]]) -> None:
    """Replace a run file with ``records`` (atomically: :func:`csmpt.atomic.write_jsonl`)."""
    write_jsonl(path, records)


def read_events(path: str | Path) -> list[dict[str, Any]]:
    """The records of an events file (``events.jsonl``)."""
    return read_jsonl(path)


def append_event(path: Path, event: dict[str, Any]) -> None:
    """Append one event line and flush it to disk."""
    append_jsonl(path, event)


def rewrite_events(path: Path, events: list[dict[str, Any]]) -> None:
    """Replace an events file with ``events`` (atomically)."""
    rewrite_jsonl(path, events)


def read_runs(path: str | Path) -> list[dict[str, Any]]:
    """The start/resume/end/signal records of a ``runs.jsonl``."""
    return read_jsonl(path)


def append_run(path: Path, record: dict[str, Any]) -> None:
    """Append one record to a ``runs.jsonl`` and flush it to disk."""
    append_jsonl(path, record)


def read_metrics(path: str | Path) -> list[dict[str, Any]]:
    """The lines of a ``metrics.jsonl`` as written, in order (series: :func:`metric_series`)."""
    return read_jsonl(path)


def _value(v: Any) -> float | None:
    if isinstance(v, bool):
        return None
    if isinstance(v, (int, float)):
        return float(v)
    if isinstance(v, str) and v in ("nan", "inf", "-inf"):
        return float(v)
    return None


def metric_series(rows: Sequence[dict[str, Any]], name: str, finite: bool = False) -> Points:
    """(step, value) of metric ``name`` in step order; a step logged twice keeps its last value.

    Args:
        rows: The lines of a ``metrics.jsonl`` (:func:`read_metrics`).
        name: The metric.
        finite: Leave out steps whose value is NaN or infinite.
    """
    by_step: dict[int, float] = {}
    for r in rows:
        v = _value(r.get(name))
        step = r.get("step")
        if v is not None and isinstance(step, int) and not isinstance(step, bool):
            by_step[step] = v
    return sorted((s, v) for s, v in by_step.items() if not finite or math.isfinite(v))


def tokens_by_step(rows: Sequence[dict[str, Any]]) -> dict[int, int]:
    """Tokens trained on by the end of each logged step, from Composer's ``time/token``.

    Composer logs ``time/batch`` and ``time/token`` (the counts so far) as each step starts, and
    once more when training ends, at the last step. By the run folder's rule a step's value is
    the last one logged, so each step gives one point: after ``time/batch`` batches,
    ``time/token`` tokens. A step whose point was overwritten that way (the one before the
    last) is interpolated between its neighbours; a last step without a final log is
    extrapolated from the step before.
    """
    batches = dict(metric_series(rows, "time/batch", finite=True))
    known: dict[int, int] = {}  # batches done -> tokens
    for step, tokens in metric_series(rows, "time/token", finite=True):
        known[int(batches.get(step, step - 1))] = int(tokens)
    points = sorted(known.items())
    out: dict[int, int] = {}
    for step in sorted({s for s, _ in metric_series(rows, "time/token")}):
        if step in known:
            out[step] = known[step]
            continue
        below = [p for p in points if p[0] < step]
        above = [p for p in points if p[0] > step]
        if below and above:
            (b0, t0), (b1, t1) = below[-1], above[0]
            out[step] = t0 + round((t1 - t0) * (step - b0) / (b1 - b0))
        elif len(below) >= 2:
            (b0, t0), (b1, t1) = below[-2], below[-1]
            out[step] = t1 + round((t1 - t0) * (step - b1) / (b1 - b0))
    return out


def metric_names(rows: Sequence[dict[str, Any]]) -> list[str]:
    """The metric names in a ``metrics.jsonl``'s lines, sorted."""
    return sorted({k for r in rows for k in r} - {"step", "time"})


def loss_curve(metrics_path: str | Path, name: str = "loss/train/total") -> list[tuple[int, float]]:
    """(step, value) of one metric in a run's ``metrics.jsonl`` (a step logged twice: its last)."""
    return metric_series(read_metrics(metrics_path), name)
