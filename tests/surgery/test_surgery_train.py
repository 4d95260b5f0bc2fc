"""A surgery output starts a tiny continual-pretraining run (csmpt train) whose loss goes down."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from csmpt.config import build_structured, load_yaml_with_overrides
from csmpt.errors import DataError
from csmpt.run_folder import read_metrics
from csmpt.surgery.io import ModelWeights, load_source, write_hf_dir
from csmpt.surgery.recipe import SurgeryConfig, run_surgery

pytestmark = pytest.mark.slow

YAML = Path("yamls/surgery/mpt_en_to_cs.yaml")


def test_surgery_output_continues_pretraining_and_the_loss_goes_down(
    en_tokenizer_dir: Path,
    tokenizer_dir: Path,
    tiny_overrides,
    tmp_path: Path,  # noqa: ANN001
) -> None:
    from llmfoundry.models.mpt import MPTConfig, MPTForCausalLM
    from transformers import AutoTokenizer

    from csmpt.checkpoint.saved_tokenizer import saved_tokenizer, saved_vocab
    from csmpt.training import preflight
    from csmpt.training.run import run_training

    # An "English" MPT of mpt.yaml's width but 3 layers: the run (n_layers: 2 in the YAML, and
    # vocab_size 64 below) must take its shapes from the surgery output, or preflight (vocab
    # smaller than the tokenizer) or the strict weight loading fails.
    torch.manual_seed(0)
    cfg = MPTConfig(
        d_model=64,
        n_heads=4,
        n_layers=3,
        expansion_ratio=4,
        max_seq_len=128,
        vocab_size=2048,
        no_bias=True,
        init_device="cpu",
        attn_config={"attn_impl": "torch", "alibi": True},
    )
    src = MPTForCausalLM(cfg)
    write_hf_dir(
        ModelWeights(cfg.to_dict(), dict(src.state_dict()), tmp_path), tmp_path / "en", None
    )
    overrides = [
        f"source.model={tmp_path / 'en'}",
        f"source.tokenizer={en_tokenizer_dir}",
        f"target.tokenizer={tokenizer_dir}",
        f"output.dir={tmp_path / 'swap'}",
        "report.eval_sequences=2",
        "output.hf=false",
    ]
    out, report = run_surgery(
        build_structured(SurgeryConfig, load_yaml_with_overrides(YAML, overrides), YAML)
    )
    assert report.loss_swapped is not None and report.loss_random is not None
    swapped = load_source(out / "model.pt")
    # The output carries its (target) tokenizer as Composer stores one: llm-foundry reads it
    # back, and a run that starts from it with the source's tokenizer is refused up front.
    want = AutoTokenizer.from_pretrained(str(tokenizer_dir)).get_vocab()
    assert saved_tokenizer(swapped.integrations).get_vocab() == want
    assert saved_vocab(swapped.integrations) == {i: t for t, i in want.items()}
    start = [f"load_path={out / 'model.pt'}", "load_weights_only=true"]
    preflight("yamls/tiny/mpt.yaml", [*tiny_overrides(tmp_path / "p"), *start])
    english = f"variables.tokenizer_name={en_tokenizer_dir}"
    wrong = [*tiny_overrides(tmp_path / "p"), *start, english]
    with pytest.raises(DataError, match=r"model\.pt: saved with another tokenizer than tokenizer"):
        preflight("yamls/tiny/mpt.yaml", wrong)
    run_dir = tmp_path / "run"
    trainer = run_training(
        "yamls/tiny/mpt.yaml",
        tiny_overrides(
            run_dir,
            load_path=out / "model.pt",
            load_weights_only="true",
            max_duration="10ba",
            eval_interval="10ba",
            save_interval="10ba",
            **{"model.vocab_size": 64},  # stale shapes in the recipe: the output's win
        ),
    )
    model = trainer.state.model.model
    assert len(model.transformer.blocks) == 3 and model.config.vocab_size == 4096
    # The run started from the swapped weights: a layer norm the first steps barely move.
    w = swapped.state["transformer.blocks.2.norm_2.weight"]
    assert torch.allclose(model.transformer.blocks[2].norm_2.weight.detach(), w, atol=0.05)
    losses = [
        r["loss/train/total"]
        for r in read_metrics(run_dir / "metrics.jsonl")
        if "loss/train/total" in r
    ]
    assert len(losses) == 10 and losses[-1] < losses[0] - 0.5
