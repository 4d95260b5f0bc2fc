"""csmpt_batch_ramp: batch sizes on schedule, the stream's order, LR in samples, exact resume."""

from __future__ import annotations

import math
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import torch
from composer.core import Callback, State
from composer.loggers import Logger
from procs import wait_for_step

from csmpt.callbacks.batch_ramp import BatchRamp, RampLoader, ramp_batch_size
from csmpt.errors import ConfigError
from csmpt.run_folder import loss_curve, read_metrics
from csmpt.training import run_training

RECIPE = "yamls/tiny/mpt.yaml"
CSMPT = str(Path(sys.executable).parent / "csmpt")
PEAK = 2.0e-3  # the recipe's optimizer.lr
# 8 -> 16 -> 24 samples per step over the first 64 samples (an increment every 32), 160 in all
RAMP = {
    "global_train_batch_size": 24,
    "device_train_microbatch_size": 8,
    "max_duration": "160sp",
    "scheduler.t_warmup": "16sp",
    "callbacks.csmpt_batch_ramp.start": 8,
    "callbacks.csmpt_batch_ramp.increment": 8,
    "callbacks.csmpt_batch_ramp.ramp": "64sp",
    "eval_interval": "10ba",
    "eval_subset_num_batches": 1,
    "icl_subset_num_batches": 1,
}
SIZES = [8, 8, 8, 8, 16, 16, 24, 24, 24, 24]


class Rows(Callback):
    """Test helper: the token rows of every batch the model trains on."""

    rows: list[list[tuple[int, ...]]] = []

    def batch_start(self, state: State, logger: Logger) -> None:
        del logger
        Rows.rows.append([tuple(r.tolist()) for r in state.batch["input_ids"]])


@pytest.fixture
def rows() -> type[Rows]:
    from llmfoundry.registry import callbacks

    callbacks.register("csmpt_test_rows", func=Rows)
    Rows.rows = []
    return Rows


def _cfg(**extra: Any) -> dict[str, Any]:
    base = {"global_train_batch_size": 1024, "device_train_microbatch_size": 4, "max_seq_len": 8}
    return {**base, **extra}


def test_lucie_schedule_by_hand() -> None:
    # Lucie-7B: 256 -> 1,024 by 64 over 10M samples = 12 increments, one every 833,333 samples
    ramp = BatchRamp(start=256, increment=64, ramp="10000000sp", train_config=_cfg())
    assert ramp.interval == 833_333
    assert ramp.global_size(0) == 256 and ramp.global_size(833_332) == 256
    assert ramp.global_size(833_333) == 320 and ramp.global_size(5_000_000) == 256 + 6 * 64
    assert ramp.global_size(9_999_996) == 1024 and ramp.global_size(10**9) == 1024
    assert ramp_batch_size(64, 8, 8, 24, 32) == 24 and ramp_batch_size(63, 8, 8, 24, 32) == 16
    # the same ramp in tokens (8 tokens a sample here)
    assert BatchRamp(256, 64, "80000000tok", _cfg()).interval == 833_333


@pytest.mark.parametrize(
    ("kwargs", "cfg", "match"),
    [
        ({"start": 256, "increment": 100, "ramp": "1000sp"}, {}, "whole steps"),
        ({"start": 2048, "increment": 64, "ramp": "1000sp"}, {}, "start"),
        ({"start": 256, "increment": 64, "ramp": "10ba"}, {}, "samples"),
        (
            {"start": 256, "increment": 64, "ramp": "1000sp"},
            {"device_train_microbatch_size": 48},
            "multiple",
        ),
        (
            {"start": 256, "increment": 64, "ramp": "1000sp"},
            {"device_train_microbatch_size": "auto"},
            "fixed",
        ),
        ({"start": 256, "increment": 64, "ramp": "5sp"}, {}, "shorter"),
    ],
)
def test_bad_ramps_are_one_line_errors(
    kwargs: dict[str, Any], cfg: dict[str, Any], match: str
) -> None:
    with pytest.raises(ConfigError, match=match):
        BatchRamp(**kwargs, train_config=_cfg(**cfg))


def test_ramp_loader_joins_microbatches() -> None:
    data = [{"input_ids": torch.tensor([i, i])} for i in range(10)]
    sizes = iter([2, 4, 4, 4])
    loader = RampLoader(data, lambda: next(sizes), batch_size=2)
    got = [b["input_ids"][:, 0].tolist() for b in loader]
    assert got == [[0, 1], [2, 3, 4, 5], [6, 7, 8, 9]]  # the last, partial batch is dropped


def _lr(samples: int) -> float:
    """cosine_with_warmup in samples: warmup 16, t_max 160, alpha_f 0.1 (by hand)."""
    if samples < 16:
        return PEAK * samples / 16
    x = (samples - 16) / (160 - 16)
    return PEAK * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * x)))


@pytest.mark.slow
def test_ramp_trains_the_stream_in_order_and_resumes_exactly(
    tiny_overrides,  # noqa: ANN001
    rows: type[Rows],
    tmp_path: Path,
) -> None:
    # A run without a ramp (8 a step) sees the stream's order: the reference for the samples.
    run_training(
        RECIPE,
        tiny_overrides(
            tmp_path / "plain",
            max_duration="20ba",
            eval_interval="20ba",
            eval_subset_num_batches=1,
            icl_subset_num_batches=1,
            **{"callbacks.csmpt_test_rows": "{}"},
        ),
    )
    stream = [r for batch in rows.rows for r in batch]
    assert len(stream) == 160
    rows.rows = []

    ref = tmp_path / "ref"
    run_training(RECIPE, tiny_overrides(ref, **RAMP, **{"callbacks.csmpt_test_rows": "{}"}))
    assert [len(b) for b in rows.rows] == SIZES
    assert [r for batch in rows.rows for r in batch] == stream  # no repeat, no skip
    metrics = read_metrics(ref / "metrics.jsonl")
    logged = {
        int(m["step"]): m["batch_ramp/global_batch_size"]
        for m in metrics
        if "batch_ramp/global_batch_size" in m
    }
    assert [logged[s] for s in range(1, 11)] == SIZES
    lrs = {int(m["step"]): v for m in metrics for k, v in m.items() if k.startswith("lr-")}
    seen = [0, *torch.tensor(SIZES).cumsum(0).tolist()]
    for step in range(1, 11):  # the LR of each step is the schedule at the samples seen before it
        assert lrs[step] == pytest.approx(_lr(seen[step - 1]), rel=1e-9), step

    # Killed for real after step 7, resumed from the checkpoint of step 5 (between increments).
    run_dir = tmp_path / "run"
    args = tiny_overrides(run_dir, **RAMP, save_interval="1ba", save_num_checkpoints_to_keep=-1)
    proc = subprocess.Popen(
        [CSMPT, "train", RECIPE, *args],
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_for_step(run_dir / "metrics.jsonl", 7, proc, timeout=300)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    for ckpt in run_dir.glob("ep*-ba*-rank0.pt"):
        if int(ckpt.name.split("-ba")[1].split("-")[0]) > 5:
            ckpt.unlink()
    latest = run_dir / "latest-rank0.pt"
    latest.unlink(missing_ok=True)
    latest.symlink_to("ep0-ba5-rank0.pt")
    trainer = run_training(RECIPE, args)
    assert int(trainer.state.timestamp.sample) == 160 and int(trainer.state.timestamp.batch) == 10
    assert loss_curve(run_dir / "metrics.jsonl") == loss_curve(ref / "metrics.jsonl")


LUCIE = "yamls/llama/lucie_schedule.overrides"


def _overrides(path: str) -> list[str]:
    lines = Path(path).read_text().splitlines()
    return [x.strip() for x in lines if x.strip() and not x.lstrip().startswith("#")]


def test_lucie_schedule_resolves_to_the_seed_figures() -> None:
    from omegaconf import OmegaConf

    from csmpt.config import load_yaml_with_overrides

    cfg = OmegaConf.to_container(
        load_yaml_with_overrides("yamls/llama/llama3_8b_cpt.yaml", _overrides(LUCIE)), resolve=True
    )
    assert isinstance(cfg, dict)
    ramp_cfg = cfg["callbacks"]["csmpt_batch_ramp"]
    ramp = BatchRamp(**ramp_cfg, train_config=cfg)
    assert (ramp.start, ramp.increment, ramp.final, ramp.interval) == (256, 64, 1024, 833_333)
    assert (cfg["scheduler"]["t_warmup"], cfg["scheduler"]["t_max"]) == ("2000000sp", "12800000sp")
    # the recipe's token budget is kept: 12.8M samples x 8,192 = 50,000 steps x 256 x 8,192
    assert int(cfg["max_duration"].removesuffix("sp")) * cfg["max_seq_len"] == 50_000 * 256 * 8192


@pytest.mark.slow
def test_lucie_schedule_trains_in_miniature(
    tokenizer_dir: Path,
    shards_dir: Path,
    tmp_path: Path,
) -> None:
    """The Llama recipe + Lucie's schedule + the miniature overrides, ramped 4 -> 8 samples."""
    run_dir = tmp_path / "run"
    mini = _overrides("yamls/llama/miniature.overrides")
    trainer = run_training(
        "yamls/llama/llama3_8b_cpt.yaml",
        [
            *mini,
            *_overrides(LUCIE),
            "global_train_batch_size=8",
            "callbacks.csmpt_batch_ramp.start=4",
            "callbacks.csmpt_batch_ramp.increment=4",
            "callbacks.csmpt_batch_ramp.ramp=8sp",
            "scheduler.t_warmup=4sp",
            "scheduler.t_max=24sp",
            "max_duration=24sp",
            "eval_interval=1000sp",
            f"variables.data_root={shards_dir}",
            f"variables.tokenizer_name={tokenizer_dir}",
            f"variables.save_folder={run_dir}",
        ],
    )
    assert int(trainer.state.timestamp.sample) == 24
    logged = [
        m["batch_ramp/global_batch_size"]
        for m in read_metrics(run_dir / "metrics.jsonl")
        if "batch_ramp/global_batch_size" in m
    ]
    assert logged == [4, 4, 8, 8]  # one increment, after 8 samples: 4 + 4 + 8 + 8 = 24


@pytest.mark.slow
def test_ramp_goes_on_through_a_hot_swap(
    tiny_overrides,  # noqa: ANN001
    shards_dir: Path,
    rows: type[Rows],
    tmp_path: Path,
) -> None:
    """The corpus loader a swap installs at step 5 is re-batched by the ramp as well."""
    from csmpt.mds.reader import iter_samples

    en = {tuple(s["tokens"].tolist()) for s in iter_samples(shards_dir / "en_web" / "train")}
    swaps = "[{name: en_web, at: 5ba, dataset: {local: '" + str(shards_dir / "en_web") + "'}}]"
    run_training(
        "yamls/tiny/mpt_hot_swap.yaml",
        tiny_overrides(
            tmp_path / "run",
            **RAMP,
            **{"callbacks.csmpt_test_rows": "{}", "callbacks.csmpt_hot_swap.swaps": swaps},
        ),
    )
    assert [len(b) for b in rows.rows] == SIZES
    assert [all(r in en for r in b) for b in rows.rows] == [False] * 5 + [True] * 5
