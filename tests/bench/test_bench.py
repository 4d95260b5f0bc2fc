"""The benchmark scripts run (correctness only: no timing is asserted)."""

from __future__ import annotations

from pathlib import Path

import pytest
from procs import run_bench

pytestmark = pytest.mark.slow


def test_train_throughput_on_the_tiny_recipe(tokenizer_dir: Path, shards_dir: Path) -> None:
    out = run_bench(
        "train_throughput.py",
        "yamls/tiny/mpt.yaml",
        f"variables.tokenizer_name={tokenizer_dir}",
        f"variables.data_local={shards_dir / 'cs_web'}",
        "--variant",
        "decoupled_lionw:optimizer.name=decoupled_lionw",
        "--variant",
        "csmpt_lionw:optimizer.name=csmpt_lionw",
        "--steps",
        "2",
        "--warmup",
        "1",
        "--device",
        "cpu",
        "--peak-tflops",
        "1",
    )
    rows = [ln for ln in out.splitlines() if ln.startswith("| ") and "variant" not in ln]
    assert [r.split("|")[1].strip() for r in rows] == ["decoupled_lionw", "csmpt_lionw"]
    for row in rows:
        cells = [c.strip() for c in row.strip("|").split("|")]
        assert float(cells[1].replace(",", "")) > 0  # tokens/s
        assert float(cells[7]) > 0  # model TFLOP/s
        assert cells[8].endswith("%")  # MFU with a given peak
    assert "1024 tokens/step" in out  # 8 x 128


def test_lionw_step_benchmark_runs() -> None:
    out = run_bench("lionw_step.py", "--scale", "0.05", "--reps", "1")
    for name in ("decoupled_lionw", "lion-pytorch Lion", "csmpt_lionw chunked"):
        assert name in out
    assert "memory floor" in out


def test_checkpoint_check_cost_prints_the_check_against_a_load() -> None:
    out = run_bench("checkpoint_check_cost.py", "--mb", "8", "--tensor-mb", "1", "--repeats", "1")
    rows = [ln for ln in out.splitlines() if ln.startswith("| ") and "operation" not in ln]
    assert [r.split("|")[1].strip() for r in rows] == ["load", "check", "structure"]
    for row in rows:
        cells = [c.strip() for c in row.strip("|").split("|")]
        assert float(cells[1]) > 0 and cells[3].endswith("x")
    assert "at a 7B checkpoint (54 GB) the check takes" in out


def test_atomic_write_cost_prints_both_writers_and_their_ratio() -> None:
    out = run_bench("atomic_write_cost.py", "--small", "--repeats", "1")
    rows = [ln for ln in out.splitlines() if ln.startswith("| ") and "files" not in ln]
    assert len(rows) == 2
    for row in rows:
        cells = [c.strip() for c in row.strip("|").split("|")]
        assert float(cells[1]) > 0 and float(cells[2]) > 0 and cells[3].endswith("x")
