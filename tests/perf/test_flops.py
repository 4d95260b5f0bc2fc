from __future__ import annotations

from pathlib import Path

import pytest

from csmpt.perf.flops import model_flops_per_batch, transformer_flops_per_batch


def test_formula_matches_llm_foundry_mpt(tokenizer_dir: Path) -> None:
    import torch
    from llmfoundry.utils.builders import build_composer_model, build_tokenizer

    tok = build_tokenizer(str(tokenizer_dir), {})
    cfg = {
        "d_model": 64,
        "n_heads": 4,
        "n_layers": 2,
        "max_seq_len": 128,
        "vocab_size": 4096,
        "init_device": "meta",
        "loss_fn": "torch_crossentropy",
        "attn_config": {"attn_impl": "torch", "alibi": True},
    }
    model = build_composer_model(name="mpt_causal_lm", cfg=cfg, tokenizer=tok)
    batch = {"input_ids": torch.zeros(8, 128, dtype=torch.long)}
    n_params = sum(p.numel() for p in model.parameters())
    ours = transformer_flops_per_batch(n_params, 2, 64, 8, 128)
    assert model.flops_per_batch(batch) == pytest.approx(ours)  # MPT's own, same formula
    assert model_flops_per_batch(model, batch) == pytest.approx(ours)


def test_llama_gets_flops_from_its_hf_config(tokenizer_dir: Path) -> None:
    import torch
    from llmfoundry.utils.builders import build_composer_model, build_tokenizer

    tok = build_tokenizer(str(tokenizer_dir), {})
    cfg = {
        "pretrained": False,
        "pretrained_model_name_or_path": "yamls/tiny/llama-tiny",
        "init_device": "meta",
        "use_flash_attention_2": False,
    }
    model = build_composer_model(name="hf_causal_lm", cfg=cfg, tokenizer=tok)
    batch = {"input_ids": torch.zeros(4, 128, dtype=torch.long)}
    # Matrix-multiply parameters: all but the untied input embedding (a lookup).
    n_params = sum(p.numel() for p in model.parameters())
    n_params -= model.model.get_input_embeddings().weight.numel()
    expected = 3 * (2 * n_params * 128 + 2 * 2 * 2 * 64 * 128**2) * 4
    assert model_flops_per_batch(model, batch) == pytest.approx(expected)
