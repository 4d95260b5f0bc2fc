"""Test helpers for subprocesses: run a bench script; wait for a training run to reach a step;
a free port for a process group."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
from pathlib import Path


def free_port() -> int:
    """A TCP port free on 127.0.0.1 now (a gloo process group's ``MASTER_PORT``)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for_step(metrics: Path, step: int, proc: subprocess.Popen, timeout: float) -> None:
    """Return once ``metrics.jsonl`` logs ``step``; fail if the process ends or time runs out."""
    end = time.time() + timeout
    while time.time() < end:
        if proc.poll() is not None:
            raise AssertionError(f"training ended early with {proc.returncode}")
        if metrics.exists():
            for line in metrics.read_text().splitlines():
                try:
                    if json.loads(line).get("step", 0) >= step:
                        return
                except json.JSONDecodeError:
                    continue
        time.sleep(0.2)
    raise AssertionError(f"step {step} not reached in {timeout}s")


def run_bench(script: str, *args: str, timeout: int = 600) -> str:
    """Run ``bench/<script>`` with this interpreter; fail with its stderr unless it exits 0."""
    proc = subprocess.run(
        [sys.executable, f"bench/{script}", *args], capture_output=True, text=True, timeout=timeout
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc.stdout


def run_with_fake_schedulers(script: Path, args: list[str], folder: Path) -> list[str]:
    """Run a job-submitting bash ``script`` with fake ``sbatch`` and ``qsub`` on the PATH.

    Each fake appends its arguments, then what it read on stdin (PBS job scripts), as lines
    of ``folder/calls.txt`` and prints a job id (``4242``; ``4242[].pbs`` for qsub). Returns
    the non-empty lines logged by this run; fails unless the script exits 0.
    """
    log = folder / "calls.txt"
    for tool, out in (("sbatch", "4242"), ("qsub", "4242[].pbs")):
        fake = folder / tool
        fake.write_text(f'#!/bin/bash\necho "$@" >> {log}\ncat >> {log} || true\necho {out}\n')
        fake.chmod(0o755)
    before = log.read_text().splitlines() if log.exists() else []
    env = {"PATH": f"{folder}:/usr/bin:/bin", "LOGS": str(folder / "logs")}
    proc = subprocess.run(["bash", str(script), *args], capture_output=True, text=True, env=env)
    assert proc.returncode == 0, proc.stderr
    return [c for c in log.read_text().splitlines()[len(before) :] if c.strip()]
