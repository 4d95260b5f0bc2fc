"""Peak memory of a surgery or export process, measured from outside (tests, ``bench/``).

Two figures per process, read from ``/proc/PID/status`` every few milliseconds by the parent
(sampling from outside needs no GIL in the measured process, so a C call that allocates and
frees while holding it is still seen if it lasts a sample period):

* **peak anonymous memory** (max of ``RssAnon``): heap, tensors, copies: what a 24 GB node must
  hold. Memory-mapped weight files are not in it (they are ``RssFile``: the kernel can drop
  those clean pages and read them again);
* **peak RSS** (``VmHWM``, the kernel's own high-water mark of anonymous + file pages).

A process may print a line ``csmpt-memory-baseline`` on stdout when its warm-up is done (imports,
a tiny run of the same code path), and again before each further piece of work: each line
starts a phase, whose peak ``RssAnon`` is reported above the ``RssAnon`` at that line, so the
figure is what that piece of work itself costs.
"""

from __future__ import annotations

import subprocess
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

__all__ = ["BASELINE_MARK", "ProcessMemory", "run_measured", "status_kib"]

BASELINE_MARK = "csmpt-memory-baseline"


def status_kib(pid: int | str, field: str) -> int | None:
    """A ``kB`` field of ``/proc/PID/status`` (``RssAnon``, ``VmHWM``) or None once it exited."""
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except (OSError, ValueError):
        return None
    return None


@dataclass
class ProcessMemory:
    """What :func:`run_measured` saw (bytes, seconds).

    Attributes:
        returncode: The process's exit status.
        wall_s: Wall time from start to exit.
        peak_anon: Largest ``RssAnon`` seen.
        peak_rss: Largest ``VmHWM`` seen.
        phases: (baseline, peak) ``RssAnon`` of each phase: at a :data:`BASELINE_MARK` line,
            and the largest until the next one (or the exit).
        stdout: Its standard output.
        stderr: Its standard error.
    """

    returncode: int
    wall_s: float
    peak_anon: int
    peak_rss: int
    phases: list[tuple[int, int]]
    stdout: str
    stderr: str

    @property
    def work_anon(self) -> list[int]:
        """Peak anonymous memory of each phase above its baseline."""
        return [max(peak - base, 0) for base, peak in self.phases]


def run_measured(
    cmd: Sequence[str | Path],
    every_s: float = 0.002,
    timeout: float | None = None,
    env: dict[str, str] | None = None,
    cwd: Path | None = None,
) -> ProcessMemory:
    """Run ``cmd`` (in ``cwd``) and sample its memory every ``every_s`` seconds until it exits."""
    start = time.perf_counter()
    proc = subprocess.Popen(
        [str(c) for c in cmd],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        cwd=cwd,
    )
    out_lines: list[str] = []
    err: list[str] = []
    state = {"anon": 0, "rss": 0}
    phases: list[list[int]] = []

    def read_stdout() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            if line.strip() == BASELINE_MARK:
                base = (status_kib(proc.pid, "RssAnon") or 0) * 1024
                phases.append([base, base])
            out_lines.append(line)

    def read_stderr() -> None:
        assert proc.stderr is not None
        err.append(proc.stderr.read())

    readers = [threading.Thread(target=f, daemon=True) for f in (read_stdout, read_stderr)]
    for t in readers:
        t.start()
    deadline = None if timeout is None else start + timeout
    while proc.poll() is None:
        anon, hwm = status_kib(proc.pid, "RssAnon"), status_kib(proc.pid, "VmHWM")
        if anon is not None:
            state["anon"] = max(state["anon"], anon * 1024)
            if phases:
                phases[-1][1] = max(phases[-1][1], anon * 1024)
        if hwm is not None:
            state["rss"] = max(state["rss"], hwm * 1024)
        if deadline is not None and time.perf_counter() > deadline:
            proc.kill()
            break
        time.sleep(every_s)
    proc.wait()
    for t in readers:
        t.join()
    return ProcessMemory(
        returncode=proc.returncode,
        wall_s=time.perf_counter() - start,
        peak_anon=state["anon"],
        peak_rss=state["rss"],
        phases=[(b, p) for b, p in phases],
        stdout="".join(out_lines),
        stderr="".join(err),
    )
