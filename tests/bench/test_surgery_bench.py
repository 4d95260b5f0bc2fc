"""bench/surgery_swap.py runs on a small shape and prints its figures (no timing is asserted)."""

from __future__ import annotations

from procs import run_bench


def test_surgery_swap_benchmark_runs_on_a_small_shape() -> None:
    args = ["--source-rows", "3000", "--target-rows", "4000", "--dim", "64", "--aligned", "300"]
    out = run_bench("surgery_swap.py", *args, timeout=300)
    assert "source 3,000 x 64, target 4,000 (padded 4,032) x 64, float32" in out
    rows = [ln for ln in out.splitlines() if ln.startswith(("| mean", "| pieces"))]
    assert [r.split("|")[1].strip() for r in rows] == ["mean", "mean_noise", "pieces"]
    assert "time: worst" in out and "memory: worst peak" in out
