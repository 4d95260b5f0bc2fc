"""csmpt export: Composer checkpoint -> HF folder that transformers loads, logits checked."""

from __future__ import annotations

from pathlib import Path

import pytest

from csmpt.errors import CsmptError

pytestmark = pytest.mark.slow


def _reload_and_compare(out: Path, reference: object, tokenizer_dir: Path) -> float:
    """Load the export with transformers (offline) and compare logits with ``reference``."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tok = AutoTokenizer.from_pretrained(out)
    assert tok.get_vocab() == AutoTokenizer.from_pretrained(tokenizer_dir).get_vocab()
    hf = AutoModelForCausalLM.from_pretrained(out, trust_remote_code=True).eval()
    ids = tok("Dobrý den, vítáme vás na stránkách obce.", return_tensors="pt")["input_ids"]
    with torch.no_grad():
        want = reference(input_ids=ids).logits  # type: ignore[operator]
        got = hf(input_ids=ids).logits
    return float((want - got).abs().max())


def test_mpt_export_loads_in_transformers_with_the_same_logits(
    tiny_mpt_run: Path, tiny_overrides, tokenizer_dir: Path, tmp_path: Path
) -> None:
    from csmpt.checkpoint.loading import (
        build_recipe_model,
        find_checkpoints,
        load_checkpoint_weights,
    )
    from csmpt.export.hf import export_to_hf

    ckpt = find_checkpoints(tiny_mpt_run)[-1].path
    overrides = tiny_overrides(tmp_path / "unused")
    res = export_to_hf(ckpt, "yamls/tiny/mpt.yaml", tmp_path / "hf", overrides)
    assert res.model_type == "mpt" and res.max_abs_diff <= res.tolerance
    assert (tmp_path / "hf" / "modeling_mpt.py").is_file()
    assert not list(tmp_path.glob("partial_export_*"))
    rm = build_recipe_model("yamls/tiny/mpt.yaml", overrides)
    load_checkpoint_weights(rm.model, ckpt, rm.recipe)
    assert _reload_and_compare(tmp_path / "hf", rm.model.model.eval(), tokenizer_dir) < 1e-4
    with pytest.raises(CsmptError, match="exists; pass --overwrite"):
        export_to_hf(ckpt, "yamls/tiny/mpt.yaml", tmp_path / "hf", overrides)
    # A folder a user can publish: a card, a generation config, ids the tokenizer agrees with.
    import json

    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(tmp_path / "hf")
    config = json.loads((tmp_path / "hf" / "config.json").read_text())
    assert config["eos_token_id"] == tok.eos_token_id is not None
    assert "tokenizer_name" not in config  # no path of the machine that trained it
    gen = json.loads((tmp_path / "hf" / "generation_config.json").read_text())
    assert gen["eos_token_id"] == tok.eos_token_id
    card = (tmp_path / "hf" / "README.md").read_text()
    step = int(ckpt.name.split("-ba")[1].split("-")[0])
    assert f"| checkpoint | `{ckpt.name}` |" in card and f"{step:,} steps" in card
    assert "csmpt_lionw lr" in card and "trust_remote_code=True" in card
    assert "tokens per word" in card and "on `cs_web/val`" in card  # the run's own eval text
    assert str(tmp_path) not in card


def test_llama_export_loads_in_transformers_with_the_same_logits(
    tiny_overrides, tokenizer_dir: Path, tmp_path: Path
) -> None:
    import torch

    from csmpt.checkpoint.loading import build_recipe_model
    from csmpt.export.hf import export_to_hf

    overrides = tiny_overrides(tmp_path / "unused")
    rm = build_recipe_model("yamls/tiny/llama.yaml", overrides)
    torch.manual_seed(0)
    with torch.no_grad():  # weights no fresh init has (a trained model's stand-in)
        for p in rm.model.parameters():
            p.add_(torch.randn_like(p) * 0.02)
    ckpt = tmp_path / "ep0-ba1-rank0.pt"
    torch.save({"state": {"model": rm.model.state_dict()}}, ckpt)  # Composer's layout
    res = export_to_hf(ckpt, "yamls/tiny/llama.yaml", tmp_path / "hf", overrides)
    assert res.model_type == "llama" and res.max_abs_diff <= res.tolerance
    assert _reload_and_compare(tmp_path / "hf", rm.model.model.eval(), tokenizer_dir) < 1e-4


def test_checkpoint_of_another_model_is_a_one_line_error(
    tiny_mpt_run: Path, tiny_overrides, tmp_path: Path
) -> None:
    from csmpt.checkpoint.loading import find_checkpoints
    from csmpt.export.hf import export_to_hf

    ckpt = find_checkpoints(tiny_mpt_run)[0].path
    with pytest.raises(CsmptError, match="does not match the model of yamls/tiny/llama.yaml") as e:
        export_to_hf(ckpt, "yamls/tiny/llama.yaml", tmp_path / "hf", tiny_overrides(tmp_path))
    assert "\n" not in str(e.value) and not (tmp_path / "hf").exists()
