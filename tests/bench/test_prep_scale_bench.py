"""bench/prep_scale.py runs on tiny corpora and prints its table (no timing asserted)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from procs import run_bench

pytestmark = pytest.mark.slow


def test_prep_scale_benchmark_prints_its_rows(tokenizer_dir: Path) -> None:
    out = run_bench(
        "prep_scale.py",
        *("--mb", "0.3", "--dedup-mb", "0.2", "--index-docs", "500"),
        *("--max-seq-len", "128", "--tokenizer", str(tokenizer_dir)),
    )
    rows = [ln.split("|")[1].strip() for ln in out.splitlines() if ln.startswith("| ")]
    assert rows[1:] == [
        "raw tiktoken, 0.2 MB",
        "csmpt prep + near_dedup, 0.2 MB",
        "raw tiktoken, 0.3 MB",
        "csmpt prep, 0.3 MB",
        "csmpt prep --part 1/2 + 2/2 + --merge, 0.3 MB",
    ]
    assert re.search(r"near-dedup index: [\d,]+ bytes per kept document", out)
