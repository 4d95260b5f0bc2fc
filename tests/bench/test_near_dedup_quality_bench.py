"""bench/near_dedup_quality.py runs on a few documents and prints its table (no timing asserted)."""

from __future__ import annotations

import pytest
from procs import run_bench

pytestmark = pytest.mark.slow


def test_near_dedup_quality_prints_catch_rates() -> None:
    out = run_bench("near_dedup_quality.py", "--docs", "30", "--trials", "1", "--mb", "0.1")
    rows = [ln.split("|")[1:-1] for ln in out.splitlines() if ln.startswith("| 0.")]
    assert [(r[0].strip(), r[1].strip()) for r in rows[:2]] == [
        ("0.8, 5", "csmpt"),
        ("0.8, 5", "datasketch"),
    ]
    assert len(rows) == 9
    for row in rows:  # an exact copy is always caught
        assert row[2].strip() == "100.0%", row
    assert "csmpt signing:" in out and "datasketch signing:" in out
