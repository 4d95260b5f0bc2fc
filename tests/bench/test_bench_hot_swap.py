"""bench/hot_swap_overhead.py runs and prints both ratios (no timing is asserted)."""

from __future__ import annotations

from pathlib import Path

import pytest
from procs import run_bench

pytestmark = pytest.mark.slow


def test_hot_swap_overhead_benchmark_runs(
    tokenizer_dir: Path, shards_dir: Path, tmp_path: Path
) -> None:
    out = run_bench(
        "hot_swap_overhead.py",
        "--rounds",
        "1",
        "--steps",
        "24",
        "--data-root",
        str(shards_dir),
        "--tokenizer",
        str(tokenizer_dir),
        "--workdir",
        str(tmp_path),
    )
    # 24 steps: swaps after batches 8 and 16, evals clear of them (every 11 batches).
    assert "swaps (B) after batches 8 and 16; eval every 11 batches" in out
    rows = [ln for ln in out.splitlines() if ln.startswith("| 1 |")]
    assert [r.split("|")[2].strip() for r in rows] == ["A `mpt.yaml`", "B `mpt_hot_swap.yaml`"]
    assert "step overhead ratio: " in out
    assert "swap/eval ratio: " in out
    for prefix in ("step overhead ratio: ", "swap/eval ratio: "):
        line = next(ln for ln in out.splitlines() if ln.startswith(prefix))
        float(line[len(prefix) :].split()[0])
        assert line.endswith(("PASS", "FAIL"))
    # Each run kept its own folder; B's swaps were recorded in its events file.
    events = sorted(tmp_path.glob("*B/events.jsonl"))
    assert len(events) == 1
    assert events[0].read_text(encoding="utf-8").count('"event": "swap"') == 2
