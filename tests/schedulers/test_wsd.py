"""csmpt_wsd: the warmup-stable-decay LR curve, and an annealing run branched off a stable one."""

from __future__ import annotations

import math
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from composer.core import Time, Timestamp

from csmpt.errors import ConfigError
from csmpt.run_folder import read_events, read_metrics
from csmpt.schedulers import WarmupStableDecayScheduler, wsd_multiplier
from csmpt.training import run_training

PEAK = 2.0e-3  # yamls/tiny/mpt_wsd.yaml's optimizer.lr


def _state(batch: int, samples: int, max_duration: str) -> Any:
    """What the scheduler reads of Composer's State: the timestamp and max_duration."""
    stamp = Timestamp(batch=batch, sample=samples)
    return SimpleNamespace(
        timestamp=stamp, max_duration=Time.from_timestring(max_duration), dataloader_len=None
    )


@pytest.mark.parametrize(
    ("t", "shape", "expected"),
    [
        (0, "linear", 0.0),
        (2, "linear", 0.5),  # half of the 4-step warmup
        (4, "linear", 1.0),
        (11, "cosine", 1.0),  # stable
        (12, "linear", 1.0),  # the decay starts at 20 - 8 = 12
        (14, "linear", 1 - 0.9 * 0.25),
        (14, "cosine", 1 - 0.9 * 0.5 * (1 - math.cos(math.pi / 4))),
        (14, "1-sqrt", 1 - 0.9 * math.sqrt(0.25)),
        (16, "cosine", 1 - 0.9 * 0.5),
        (20, "1-sqrt", 0.1),
        (25, "linear", 0.1),  # past t_max: the floor
    ],
)
def test_multiplier_by_hand(t: int, shape: str, expected: float) -> None:
    sched = WarmupStableDecayScheduler("4ba", "8ba", alpha_f=0.1, decay_shape=shape)
    assert sched(_state(t, 8 * t, "20ba")) == pytest.approx(expected, abs=1e-12)
    assert wsd_multiplier(t, 4, 12, 20, 0.1, shape) == pytest.approx(expected, abs=1e-12)


def test_sample_units_ignore_the_batch_size() -> None:
    """Counted in samples (Lucie-7B's 2M-sample warmup), the LR follows samples, not steps."""
    sched = WarmupStableDecayScheduler("64sp", "0.25dur", decay_shape="linear")
    # 3 steps of 16 samples and 6 steps of 8 samples are the same point of the schedule
    assert sched(_state(3, 48, "256sp")) == sched(_state(6, 48, "256sp")) == 48 / 64
    assert sched(_state(30, 224, "256sp")) == pytest.approx(1 - 32 / 64)


def test_bad_schedules_are_one_line_errors() -> None:
    with pytest.raises(ConfigError, match="decay_shape"):
        WarmupStableDecayScheduler("4ba", "8ba", decay_shape="exp")
    with pytest.raises(ConfigError, match="before the warmup"):
        WarmupStableDecayScheduler("4ba", "18ba")(_state(1, 8, "20ba"))
    with pytest.raises(ConfigError, match="t_decay.*unit"):
        WarmupStableDecayScheduler("4ba", "100tok")(_state(1, 8, "20ba"))


@pytest.fixture()
def swap_overrides(tiny_overrides, shards_dir: Path):  # noqa: ANN001, ANN201
    def make(run_dir: Path, **extra: object) -> list[str]:
        corpora = [
            f"variables.corpus_2={shards_dir / 'cs_crawl'}",
            f"variables.corpus_3={shards_dir / 'cs_crawl_clean'}",
        ]
        return [*corpora, *tiny_overrides(run_dir, **extra)]

    return make


def _lr_by_step(run_dir: Path) -> dict[int, float]:
    """The LR each step trained with (lr_monitor's series in metrics.jsonl)."""
    out: dict[int, float] = {}
    for row in read_metrics(run_dir / "metrics.jsonl"):
        for key, value in row.items():
            if key.startswith("lr-"):
                out[int(row["step"])] = float(value)
    return out


@pytest.mark.slow
def test_anneal_branches_off_a_stable_checkpoint(
    swap_overrides,  # noqa: ANN001
    tmp_path: Path,
) -> None:
    # The stable run: warmup 4, peak until 28, decay to 10% at 30; checkpoint at step 20.
    stable = tmp_path / "stable"
    common = {"eval_subset_num_batches": 1, "icl_subset_num_batches": 1, "eval_interval": "30ba"}
    run_training(
        "yamls/tiny/mpt_wsd.yaml",
        swap_overrides(
            stable,
            max_duration="30ba",
            save_interval="10ba",
            **{"scheduler.t_decay": "2ba"},
            **common,
        ),
    )
    lr = _lr_by_step(stable)
    for step in (2, 3, 8, 20, 22, 29, 30):
        # the LR of step s is the schedule at s - 1 batches done
        assert lr[step] == pytest.approx(PEAK * wsd_multiplier(step - 1, 4, 28, 30, 0.1, "linear"))

    # The annealing branch: from the step-20 checkpoint, decay to 0 over 4 steps on the mixture.
    anneal = tmp_path / "anneal"
    run_training(
        "yamls/tiny/mpt_anneal.yaml",
        swap_overrides(
            anneal,
            max_duration="24ba",
            save_interval="4ba",
            **{
                "variables.stable_run": stable,
                "variables.from_step": 20,
                "scheduler.t_decay": "4ba",
            },
            **common,
        ),
    )
    lr_anneal = _lr_by_step(anneal)
    assert sorted(lr_anneal) == [21, 22, 23, 24]  # resumed at 20, nothing retrained
    for step in (21, 22, 23, 24):
        assert lr_anneal[step] == pytest.approx(
            PEAK * wsd_multiplier(step - 1, 4, 20, 24, 0.0, "linear")
        )
    assert lr_anneal[21] == pytest.approx(PEAK) and lr_anneal[24] == pytest.approx(PEAK / 4)
    assert lr_anneal[22] != lr[22]  # the stable run was still at its peak there

    def swaps(run: Path) -> list[tuple[str, int, bool]]:
        events = read_events(run / "events.jsonl")
        return [(e["to"], e["step"], e["manual"]) for e in events if e["event"] == "swap"]

    assert swaps(stable) == [("cs_crawl", 14, False), ("cs_crawl_clean", 27, False)]
    # the branch's own folder records its swap; the stable folder is left as it was
    assert swaps(anneal) == [("anneal_mix", 20, True)]
