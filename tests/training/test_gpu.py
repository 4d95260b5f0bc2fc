"""The GPU path: CUDA-only checks (skipped without a GPU) and bench/gpu_check.sh's CPU dry run."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from csmpt.run_folder import loss_curve
from csmpt.training import run_training


def test_gpu_check_dry_run_gets_to_the_cuda_check_and_says_what_it_would_run(
    repo: Path, tmp_path: Path
) -> None:
    out, wheels = tmp_path / "out", tmp_path / "no_wheels"
    proc = subprocess.run(
        ["bash", str(repo / "bench/gpu_check.sh"), str(out), "--dry-run", "--wheels", str(wheels)],
        env={**os.environ, "PYTHON": sys.executable},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    env = json.loads((out / "env.json").read_text())
    assert env["torch"] == torch.__version__ and env["llm-foundry"] == "0.22.0"
    assert env["composer_imports"] is True and env["composer"] == "0.32.1"
    assert f"no carried wheels in {wheels}/wheels" in proc.stdout
    steps = [json.loads(line) for line in (out / "steps.jsonl").read_text().split("\n") if line]
    if torch.cuda.is_available():
        assert "CUDA is here" in proc.stdout and steps[-1]["status"] == "ok"
    else:
        assert "CUDA check: no CUDA device" in proc.stdout
        assert steps == [{"name": "cuda_check", "status": "no CUDA device (dry run)",
                          "seconds": steps[0]["seconds"]}]  # fmt: skip
    for part in (
        "gpu_check_kernels.py",
        "pytest -m gpu",
        "tests/models/test_flex_attention.py",
        "throughput",
        "FSDP FULL_SHARD",
        "SIGKILL after 21",
        "gpu_check_report.py",
    ):
        assert part in proc.stdout, part  # fmt: skip
    assert not (out / "kernels.json").exists()  # nothing beyond the CUDA check ran


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


@pytest.mark.gpu
def test_flex_recipe_trains_in_bf16_on_gpu_like_sdpa(tiny_overrides, tmp_path: Path) -> None:
    from csmpt.models import flex_attention

    curves = {}
    for recipe in ("mpt_sdpa", "mpt_flex"):
        run_dir = tmp_path / recipe
        run_training(
            f"yamls/tiny/{recipe}.yaml",
            tiny_overrides(
                run_dir, max_duration="20ba", eval_interval="20ba", save_interval="20ba",
                precision="amp_bf16", **{"model.init_device": "cuda"},
            ),
        )  # fmt: skip
        curves[recipe] = [v for _, v in loss_curve(run_dir / "metrics.jsonl")]
    assert "cuda" in flex_attention._compiled  # the compiled kernel ran
    assert len(curves["mpt_flex"]) == 20 and curves["mpt_flex"][-1] < curves["mpt_flex"][0] - 1.0
    assert curves["mpt_flex"] == pytest.approx(curves["mpt_sdpa"], rel=3e-2)  # bf16 noise
