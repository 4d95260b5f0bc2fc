"""`csmpt demo` runs the whole pipeline in miniature and reports the corpus swaps."""

from __future__ import annotations

from pathlib import Path

import pytest
from rich.console import Console

from csmpt.demo import run_demo

pytestmark = pytest.mark.slow


def test_demo_trains_on_three_hot_swapped_corpora(tmp_path: Path) -> None:
    console = Console(record=True, width=120)
    summary = run_demo(workdir=tmp_path / "demo", steps=12, console=console)
    assert summary.steps == 12
    assert [(e["step"], e["from"], e["to"]) for e in summary.swaps] == [
        (4, "cs_web", "cs_crawl"),
        (8, "cs_crawl", "cs_crawl_clean"),
    ]
    assert summary.last_loss < summary.first_loss
    assert {"cs_web/train", "cs_crawl/train", "cs_crawl_clean/train", "en_web/val"} <= set(
        summary.shards
    )
    text = console.export_text()
    assert "swap at step 4" in text and "cs_web -> cs_crawl" in text
    assert "swap at step 8" in text and "cs_crawl -> cs_crawl_clean" in text
