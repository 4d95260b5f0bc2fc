"""Test helper: wait for a training subprocess to reach a step (to interrupt it for real)."""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path


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
