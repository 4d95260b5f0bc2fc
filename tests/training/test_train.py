"""Real training runs of the tiny recipes through llm-foundry, on the sample shards (CPU)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from csmpt.run_folder import loss_curve, read_metrics
from csmpt.training import run_training

pytestmark = pytest.mark.slow

EVAL = "metrics/eval/LanguageCrossEntropy"


def _events(run_dir: Path) -> list[tuple[str, int]]:
    lines = (run_dir / "runs.jsonl").read_text().splitlines()
    return [(r["event"], r["step"]) for r in map(json.loads, lines)]


@pytest.mark.parametrize("recipe", ["mpt", "llama"])
def test_tiny_recipe_trains_and_loss_goes_down(recipe: str, tiny_overrides, tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    steps = 30
    trainer = run_training(
        f"yamls/tiny/{recipe}.yaml",
        tiny_overrides(
            run_dir,
            max_duration=f"{steps}ba",
            eval_interval=f"{steps}ba",
            save_interval=f"{steps}ba",
        ),
    )
    assert int(trainer.state.timestamp.batch) == steps
    curve = loss_curve(run_dir / "metrics.jsonl")
    assert [s for s, _ in curve] == list(range(1, steps + 1))
    losses = [v for _, v in curve]
    start, end = sum(losses[:3]) / 3, sum(losses[-3:]) / 3
    print(f"{recipe}: train loss {start:.3f} -> {end:.3f}")
    assert end < start - 1.0, f"loss did not go down: {start:.3f} -> {end:.3f}"
    evals = loss_curve(run_dir / "metrics.jsonl", EVAL)
    assert [s for s, _ in evals] == [steps] and evals[0][1] < start
    assert (run_dir / f"ep0-ba{steps}-rank0.pt").is_file()
    assert _events(run_dir) == [("start", 0), ("end", steps)]
    assert "max_seq_len: 128" in (run_dir / "config.yaml").read_text()


def test_resume_continues_at_the_right_step_with_the_same_losses(
    tiny_overrides, tmp_path: Path
) -> None:
    # The cosine schedule spans 12 steps in both runs, whatever max_duration says.
    common = {"scheduler.t_max": "12ba", "save_interval": "6ba", "eval_interval": "6ba"}
    full_dir, cut_dir = tmp_path / "full", tmp_path / "cut"
    run_training("yamls/tiny/mpt.yaml", tiny_overrides(full_dir, max_duration="12ba", **common))

    # The interrupted run stops at its step-6 checkpoint...
    run_training("yamls/tiny/mpt.yaml", tiny_overrides(cut_dir, max_duration="6ba", **common))
    assert (cut_dir / "ep0-ba6-rank0.pt").is_file()
    # ...as if it had crashed after logging steps 7-9: those lines must not survive the resume.
    with (cut_dir / "metrics.jsonl").open("a") as f:
        for step in (7, 8, 9):
            f.write(json.dumps({"step": step, "loss/train/total": 99.0}) + "\n")
    trainer = run_training(
        "yamls/tiny/mpt.yaml", tiny_overrides(cut_dir, max_duration="12ba", **common)
    )
    assert int(trainer.state.timestamp.batch) == 12
    assert _events(cut_dir) == [("start", 0), ("end", 6), ("resume", 6), ("end", 12)]

    full = loss_curve(full_dir / "metrics.jsonl")
    resumed = loss_curve(cut_dir / "metrics.jsonl")
    assert [s for s, _ in resumed] == list(range(1, 13)), "each step logged exactly once"
    for (step, a), (_, b) in zip(full, resumed, strict=True):
        assert b == pytest.approx(a, rel=1e-5, abs=1e-6), f"step {step}: {a} vs {b} after resume"
    evals_full = loss_curve(full_dir / "metrics.jsonl", EVAL)
    evals_cut = loss_curve(cut_dir / "metrics.jsonl", EVAL)
    assert [s for s, _ in evals_cut] == [6, 12]
    assert [v for _, v in evals_cut] == pytest.approx([v for _, v in evals_full], rel=1e-5)
    assert all("step" in r for r in read_metrics(cut_dir / "metrics.jsonl"))
