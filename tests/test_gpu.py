"""CUDA-only checks (skipped on CPU machines, CI included)."""

from __future__ import annotations

from pathlib import Path

import pytest

from csmpt.demo import loss_curve
from csmpt.training import run_training


@pytest.mark.gpu
def test_tiny_mpt_trains_in_bf16_on_gpu(tiny_overrides, tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    trainer = run_training(
        "yamls/tiny/mpt.yaml",
        tiny_overrides(
            run_dir,
            max_duration="20ba",
            eval_interval="20ba",
            save_interval="20ba",
            precision="amp_bf16",
            **{"model.init_device": "cuda"},
        ),
    )
    assert next(trainer.state.model.parameters()).is_cuda
    losses = [v for _, v in loss_curve(run_dir / "metrics.jsonl")]
    assert len(losses) == 20 and losses[-1] < losses[0] - 1.0
