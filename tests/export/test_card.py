"""The export's model card says what the run folder records: base, recipe, swaps, eval table."""

from __future__ import annotations

import json
from pathlib import Path

from csmpt.export.card import model_card


def test_card_lists_swaps_eval_and_recipe_and_nothing_it_does_not_know(tmp_path: Path) -> None:
    run = tmp_path / "run"
    run.mkdir()
    ckpt = run / "ep0-ba40-rank0.pt"
    ckpt.write_bytes(b"not a checkpoint")  # unreadable timestamp: left out, not invented
    swaps = [
        {"event": "swap", "step": 13, "tokens": 13312, "from": "cs_web", "to": "cs_crawl"},
        {"event": "loss_spike", "step": 20},
        {"event": "swap", "step": 26, "tokens": 26624, "from": "cs_crawl", "to": "clean",
         "reset_optimizer": True},
    ]  # fmt: skip
    (run / "events.jsonl").write_text("".join(json.dumps(e) + "\n" for e in swaps))
    (run / "eval").mkdir()
    (run / "eval" / "table.md").write_text("| step | acc_norm |\n|---|---|\n| 40 | 0.31 |\n")
    recipe = {
        "run_name": "cs-run",
        "load_path": "surgery/model.pt",
        "tokenizer": {"name": "/abs/path/tokenizer"},
        "optimizer": {"name": "csmpt_lionw", "lr": 1e-4, "betas": [0.9, 0.95], "weight_decay": 0},
        "global_train_batch_size": 1024,
        "max_seq_len": 2048,
        "precision": "amp_bf16",
    }
    card = model_card(tmp_path / "hf", ckpt, recipe, "mpt", 64000, 3e-6)
    assert card.startswith("# cs-run\n") and "from `surgery/model.pt`" in card
    assert "| 13 | 13,312 | cs_web | cs_crawl | no |" in card
    assert "| 26 | 26,624 | cs_crawl | clean | yes |" in card
    assert "| 40 | 0.31 |" in card and "1024 x 2048 tokens" in card
    assert "`tokenizer`, 64,000 tokens" in card and "/abs/path" not in card
    assert "steps," not in card  # no timestamp in an unreadable checkpoint: no figure
    assert "schedule" not in card  # the recipe has none: no row of Nones
