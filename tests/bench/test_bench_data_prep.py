"""bench/data_prep.py runs on a tiny corpus and prints its ratios (no timing asserted)."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
from procs import run_bench

pytestmark = pytest.mark.slow


def test_data_prep_benchmark_prints_ratios(tokenizer_dir: Path) -> None:
    out = run_bench(
        "data_prep.py",
        "--mb",
        "0.3",
        "--max-seq-len",
        "128",
        "--tokenizer",
        str(tokenizer_dir),
        "--fresh",
        "1",
    )
    rows = [ln for ln in out.splitlines() if ln.startswith("| ") and "contender" not in ln]
    names = [r.split("|")[1].strip() for r in rows]
    assert names[:7] == [
        "raw encode_batch_fast",
        "raw encode_batch",
        "raw tiktoken (exact, one batch per core)",
        "csmpt prep, defaults (tokenizer_backend auto: tiktoken; workers unset: chosen)",
        f"csmpt prep, workers={os.cpu_count()}",
        "csmpt prep, workers=0 (threads)",
        "csmpt prep, tokenizer_backend=hf",
    ]
    assert names[7] == "llm-foundry convert_dataset_json"
    assert names[8].startswith("llm-foundry convert_text_to_mds")
    for row in rows:
        assert float(row.split("|")[3].replace(",", "")) > 0  # tokens/s
    assert re.search(r"csmpt prep vs best llm-foundry: \d+\.\d\dx", out)
    assert re.search(r"csmpt prep vs the faster raw encode_batch \(ceiling\): \d+\.\d%", out)
    assert re.search(r"csmpt prep vs raw tiktoken \(its own backend's ceiling\): \d+", out)
    # --fresh: one build of each in its own interpreter, and their ratio
    assert re.search(r"one build in a fresh interpreter \(1 rounds, medians\): .* \d+\.\d% of", out)
    # The four csmpt runs (two backends, threads and processes) wrote the same shards.
    assert "shards byte-identical across backends and worker counts: True" in out
