"""``heap_frozen``: prep's older objects are out of the collector's full passes, then back."""

from __future__ import annotations

import gc
from pathlib import Path

from csmpt.prep.config import CorpusSpec, PrepConfig
from csmpt.prep.heap import heap_frozen
from csmpt.prep.run import prep_corpora


def test_the_heap_is_frozen_inside_and_given_back_after() -> None:
    held = [[i] for i in range(1000)]  # objects that were there before
    assert gc.get_freeze_count() == 0
    with heap_frozen():
        assert gc.get_freeze_count() >= len(held)
        with heap_frozen():  # nested: the outer one unfreezes
            pass
        assert gc.get_freeze_count() >= len(held)
        garbage: list[object] = []
        garbage.append(garbage)  # a cycle made inside is still collected
        del garbage
        assert gc.collect() >= 1
    assert gc.get_freeze_count() == 0


def test_prep_runs_with_the_heap_frozen(tmp_path: Path, tokenizer_dir: Path) -> None:
    src = tmp_path / "c.jsonl"
    src.write_text("".join(f'{{"text": "dokument číslo {i} a něco textu"}}\n' for i in range(50)))
    cfg = PrepConfig(
        tokenizer=str(tokenizer_dir),
        output_dir=str(tmp_path / "out"),
        max_seq_len=16,
        val_fraction=0.0,
        corpora=[CorpusSpec(name="c", inputs=[str(src)])],
    )
    seen: list[int] = []
    prep_corpora(cfg, on_progress=lambda records, tokens: seen.append(gc.get_freeze_count()))
    assert seen and min(seen) > 0
    assert gc.get_freeze_count() == 0
