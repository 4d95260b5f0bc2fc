"""bench/data_prep.py runs on a tiny corpus and prints its ratios (no timing asserted)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow


def test_data_prep_benchmark_prints_ratios(tokenizer_dir: Path) -> None:
    proc = subprocess.run(
        [
            sys.executable,
            "bench/data_prep.py",
            "--mb",
            "0.3",
            "--max-seq-len",
            "128",
            "--tokenizer",
            str(tokenizer_dir),
        ],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    rows = [ln for ln in proc.stdout.splitlines() if ln.startswith("| ") and "contender" not in ln]
    names = [r.split("|")[1].strip() for r in rows]
    assert names[:4] == [
        "raw encode_batch_fast",
        "raw encode_batch",
        "csmpt prep",
        "llm-foundry convert_dataset_json",
    ]
    assert names[4].startswith("llm-foundry convert_text_to_mds")
    assert names[5] == "raw encode_batch_fast, again"
    for row in rows:
        assert float(row.split("|")[3].replace(",", "")) > 0  # tokens/s
    assert re.search(r"csmpt prep vs best llm-foundry: \d+\.\d\dx", proc.stdout)
    assert re.search(r"csmpt prep vs the faster raw encode \(ceiling\): \d+\.\d%", proc.stdout)
    assert re.search(r"CPU seconds, raw encode_batch_fast / csmpt prep: \d+\.\d%", proc.stdout)
