"""bench/surgery_swap.py runs on a small shape and prints its figures (no timing is asserted)."""

from __future__ import annotations

import subprocess
import sys


def test_surgery_swap_benchmark_runs_on_a_small_shape() -> None:
    args = ["--source-rows", "3000", "--target-rows", "4000", "--dim", "64", "--aligned", "300"]
    proc = subprocess.run(
        [sys.executable, "bench/surgery_swap.py", *args],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = proc.stdout
    assert "source 3,000 x 64, target 4,000 (padded 4,032) x 64, float32" in out
    rows = [ln for ln in out.splitlines() if ln.startswith(("| mean", "| pieces"))]
    assert [r.split("|")[1].strip() for r in rows] == ["mean", "mean_noise", "pieces"]
    assert "time: worst" in out and "memory: worst peak" in out
