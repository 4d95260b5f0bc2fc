"""CSMPT7b's step-93,000 ablation (yamls/csmpt7b/ablation_93k.overrides) in miniature: the run
resumes from the main run's checkpoint with its weights, step and swap history, swaps to corpus
#3 at once, and zeroes LionW's momentum there (``reset_optimizer``): the state of a fresh LionW."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import torch
from omegaconf import OmegaConf

from csmpt.config import load_yaml_with_overrides
from csmpt.run_folder import read_metrics

REPO = Path(__file__).resolve().parents[2]
CSMPT7B = "yamls/csmpt7b/csmpt7b.yaml"


def _overrides(name: str) -> list[str]:
    lines = (REPO / "yamls/csmpt7b" / name).read_text(encoding="utf-8").split("\n")
    return [x.strip() for x in lines if x.strip() and not x.lstrip().startswith("#")]


def _resolved(overrides: list[str]) -> dict[str, Any]:
    cfg = OmegaConf.to_container(load_yaml_with_overrides(REPO / CSMPT7B, overrides), resolve=True)
    assert isinstance(cfg, dict)
    return cfg  # type: ignore[return-value]


def test_schedule_second_swap_and_ablation_recipe() -> None:
    main = _resolved([])
    swaps = main["callbacks"]["csmpt_hot_swap"]["swaps"]
    assert [(s["name"], s["at"]) for s in swaps] == [
        ("cs_crawl", "26500ba"),
        ("cs_crawl_clean", "119500ba"),  # the card: "near 120,000"
    ]
    assert not any(s.get("reset_optimizer") for s in swaps)
    assert main["load_weights_only"] is True

    ablation = _resolved(_overrides("ablation_93k.overrides"))
    swaps = ablation["callbacks"]["csmpt_hot_swap"]["swaps"]
    assert [(s["name"], s["at"]) for s in swaps] == [
        ("cs_crawl", "26500ba"),  # the main run's past swap, unchanged (the callback checks it)
        ("cs_crawl_clean", "93000ba"),
    ]
    assert [s.get("reset_optimizer", False) for s in swaps] == [False, True]
    assert ablation["load_path"].endswith("-ba93000-rank0.pt")
    assert ablation["load_weights_only"] is False  # step, LR schedule, swap history resume
    assert ablation.get("load_ignore_keys") is None  # it would run step 93,001 at LR 0
    assert ablation["save_folder"] != main["save_folder"]  # its own run, not the main one's
    for key in ("optimizer", "scheduler", "max_duration", "global_train_batch_size", "model"):
        assert ablation[key] == main[key], key


def _lion_consistent(
    before: dict[str, torch.Tensor], after: dict[str, Any], momentum: Any
) -> float:
    """Fraction of moved weights whose step agrees in sign with the momentum after that step.

    After one LionW step from a zero momentum, ``m = (1 - b2) g`` and the step is
    ``-lr sign(g)``: every moved weight agrees. With a carried momentum they part wherever the
    old momentum outweighs the gradient in one of the two interpolations.
    """
    agree = total = 0
    for name, p in after.items():
        m = momentum[name]
        moved = (before[name] != p) & (m != 0)
        step_sign = torch.sign(before[name] - p)[moved]
        agree += int((step_sign == torch.sign(m)[moved]).sum())
        total += int(moved.sum())
    assert total > 1000
    return agree / total


def _checkpoint(run_dir: Path, step: int) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    (path,) = run_dir.glob(f"ep*-ba{step}-rank0.pt")
    state = torch.load(path, map_location="cpu", weights_only=False)["state"]
    (optim,) = state["optimizers"].values()
    momentum = {k: v["exp_avg"] for k, v in optim["state"].items()}
    return state["model"], momentum


@pytest.mark.slow
def test_ablation_93k_trains_in_miniature(
    tokenizer_dir: Path, shards_dir: Path, tmp_path: Path
) -> None:
    from csmpt.training import run_training

    mini = _overrides("miniature.overrides")
    data = [f"variables.data_root={shards_dir}", f"variables.tokenizer_name={tokenizer_dir}"]
    main_dir, ablation_dir = tmp_path / "main", tmp_path / "ablation"
    # The main run in miniature (swaps at steps 2 and 4), a checkpoint every step.
    run_training(CSMPT7B, [*mini, *data, f"variables.save_folder={main_dir}", "save_interval=1ba"])
    (main_ckpt,) = main_dir.glob("ep*-ba3-rank0.pt")
    # The ablation from step 3 (miniature for 93,000), one step on corpus #3.
    trainer = run_training(
        CSMPT7B,
        [*mini, *_overrides("ablation_93k.overrides"), *data]
        + [f"variables.save_folder={ablation_dir}", "variables.corpus_3_at=3ba"]
        + [f"variables.ablation_from={main_ckpt}", "max_duration=4ba", "eval_interval=4ba"],
    )
    assert int(trainer.state.timestamp.batch) == 4
    events = [json.loads(x) for x in (ablation_dir / "events.jsonl").read_text().split("\n") if x]
    swaps = [
        (e["step"], e["index"], e["from"], e["to"], e["reset_optimizer"])
        for e in events
        if e["event"] == "swap"
    ]
    assert swaps == [(3, 2, "cs_crawl", "cs_crawl_clean", True)]
    steps = [
        r["step"] for r in read_metrics(ablation_dir / "metrics.jsonl") if "loss/train/total" in r
    ]
    assert steps == [4]  # continued from step 3, not restarted at 0

    p3, m3 = _checkpoint(main_dir, 3)
    params = {n: p.detach() for n, p in trainer.state.model.named_parameters()}
    (optimizer,) = trainer.state.optimizers
    by_name = {n: optimizer.state[p]["exp_avg"] for n, p in trainer.state.model.named_parameters()}
    assert set(params) == set(p3)
    # Fresh optimizer: every moved weight followed its momentum's sign (no old momentum).
    assert _lion_consistent(p3, params, by_name) == 1.0
    # Control, the main run's step 3 with its carried momentum: thousands do not (96.4% agree).
    p2, _ = _checkpoint(main_dir, 2)
    assert _lion_consistent(p2, p3, m3) < 0.99
