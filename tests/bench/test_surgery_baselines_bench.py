"""bench/surgery_baselines.py runs in miniature and prints one row per init with its CIs."""

from __future__ import annotations

from pathlib import Path

import pytest
from procs import run_bench


@pytest.mark.slow
def test_surgery_baselines_benchmark_prints_a_row_per_init(tmp_path: Path) -> None:
    args = ["--out", str(tmp_path), "--en-steps", "2", "--seeds", "17,18"]
    out = run_bench("surgery_baselines.py", *args, "--inits", "mean,random", timeout=600)
    rows = [ln.split("|")[1:-1] for ln in out.splitlines() if ln.startswith(("| mean", "| ran"))]
    assert [r[0].strip() for r in rows] == ["mean", "random"]
    assert all("±" in cell for cell in rows[1][1:])  # 2 seeds: every cell has an interval
    assert rows[0][6].strip() == ""  # the first init is the paired reference
    assert rows[0][3] == rows[1][3] and rows[0][4] == rows[1][4]  # one uniform, one unigram
