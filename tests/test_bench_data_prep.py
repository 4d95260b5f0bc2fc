"""bench/data_prep.py runs on a tiny corpus and prints its ratios (no timing asserted)."""

from __future__ import annotations

import os
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
    assert names[:6] == [
        "raw encode_batch_fast",
        "raw encode_batch",
        "raw tiktoken (exact, one batch per core)",
        "csmpt prep (tokenizer_backend=auto: tiktoken)",
        f"csmpt prep, workers={os.cpu_count()}",
        "csmpt prep, tokenizer_backend=hf",
    ]
    assert names[6] == "llm-foundry convert_dataset_json"
    assert names[7].startswith("llm-foundry convert_text_to_mds")
    for row in rows:
        assert float(row.split("|")[3].replace(",", "")) > 0  # tokens/s
    assert re.search(r"csmpt prep vs best llm-foundry: \d+\.\d\dx", proc.stdout)
    assert re.search(
        r"csmpt prep vs the faster raw encode_batch \(ceiling\): \d+\.\d%", proc.stdout
    )
    assert re.search(r"csmpt prep vs raw tiktoken \(its own backend's ceiling\): \d+", proc.stdout)
    # The three csmpt runs (two backends, threads and processes) wrote the same shards.
    assert "shards byte-identical across backends and worker counts: True" in proc.stdout
