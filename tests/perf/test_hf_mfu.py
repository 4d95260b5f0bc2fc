"""csmpt_hf_flops: a Llama (hf_causal_lm) gets a flops_per_batch, so speed_monitor reports MFU."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from csmpt.callbacks.hf_flops import HFFlops
from csmpt.perf.flops import matmul_params
from csmpt.run_folder import read_metrics

# yamls/tiny/llama-tiny: hidden 64, 4 heads (head_dim 16), 2 KV heads, 2 layers, MLP 176,
# vocab 4096, untied embeddings. Counted by hand:
#   per layer: q 64*64 + k 64*32 + v 64*32 + o 64*64 = 12,288; MLP 3*64*176 = 33,792;
#              two RMSNorms 2*64 = 128                                  -> 46,208
#   2 layers 92,416 + final norm 64 + lm_head 4096*64 = 262,144          -> 354,624
#   (the input embedding, 4096*64, is a lookup: no FLOPs)
MATMUL_PARAMS = 354_624


def hand_flops(batch: int, seq: int) -> int:
    """3 x (2 * params * seq + n_layers * 2 * 2 * d_attn * seq^2) per sequence."""
    return 3 * (2 * MATMUL_PARAMS * seq + 2 * 2 * 2 * 64 * seq**2) * batch


@pytest.fixture(scope="module")
def llama(tokenizer_dir: Path):  # noqa: ANN201
    from llmfoundry.utils.builders import build_composer_model, build_tokenizer

    tok = build_tokenizer(str(tokenizer_dir), {})
    cfg = {
        "pretrained": False,
        "pretrained_model_name_or_path": "yamls/tiny/llama-tiny",
        "init_device": "meta",
        "use_flash_attention_2": False,
    }
    return build_composer_model(name="hf_causal_lm", cfg=cfg, tokenizer=tok)


def test_flops_per_batch_equals_the_hand_count(llama) -> None:  # noqa: ANN001
    from types import SimpleNamespace

    assert not hasattr(llama, "flops_per_batch")
    assert matmul_params(llama.model) == MATMUL_PARAMS
    HFFlops().init(SimpleNamespace(model=llama), None)  # type: ignore[arg-type]
    batch = {"input_ids": torch.zeros(8, 128, dtype=torch.long)}
    assert llama.flops_per_batch(batch) == hand_flops(8, 128) == 2_380_136_448


@pytest.mark.slow
def test_speed_monitor_reports_llama_mfu(tiny_overrides, tmp_path: Path) -> None:
    from csmpt.training import run_training

    run_dir = tmp_path / "run"
    peak = 1e12
    run_training(
        "yamls/tiny/llama.yaml",
        tiny_overrides(
            run_dir,
            max_duration="4ba",
            eval_interval="4ba",
            save_interval="4ba",
            **{"callbacks.speed_monitor": f"{{window_size: 2, gpu_flops_available: {peak}}}"},
        ),
    )
    by_step: dict[int, dict[str, float]] = {}
    for r in read_metrics(run_dir / "metrics.jsonl"):  # speed_monitor logs in several calls
        by_step.setdefault(r["step"], {}).update(r)
    rows = [r for r in by_step.values() if "throughput/device/mfu" in r]
    assert len(rows) >= 2, "MFU logged once the window is full"
    for r in rows:
        # speed_monitor: flops/s = flops_per_batch * batches/s over its window; MFU = / peak.
        expected = hand_flops(8, 128) * r["throughput/batches_per_sec"] / peak
        assert r["throughput/device/mfu"] == pytest.approx(expected, rel=1e-6)
        assert r["throughput/device/tokens_per_sec"] == pytest.approx(
            r["throughput/batches_per_sec"] * 8 * 128, rel=1e-6
        )
