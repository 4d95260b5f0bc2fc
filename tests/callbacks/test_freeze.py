"""csmpt_freeze: an embeddings-first stage that leaves the body bit-identical, resumed exactly."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from csmpt.callbacks.freeze import FreezeStage, frozen_names, parse_stages, stage_at
from csmpt.errors import ConfigError
from csmpt.run_folder import read_events, read_metrics

RECIPE = "yamls/tiny/mpt.yaml"
STAGES = "[{until: 4ba, train: [wte]}]"
MPT_NAMES = [
    "model.transformer.wte.weight",
    "model.transformer.blocks.0.attn.Wqkv.weight",
    "model.transformer.blocks.0.ffn.up_proj.weight",
    "model.transformer.norm_f.weight",
]


def test_schedule_parsing_and_lookup() -> None:
    stages = parse_stages(
        [{"until": "4ba", "train": ["wte", "lm_head"]}, {"until": 6, "freeze": "wte"}]
    )
    assert stages == [
        FreezeStage(4, ("wte", "lm_head"), True),
        FreezeStage(6, ("wte",), False),
    ]
    assert [stage_at(stages, b) for b in range(8)] == [0, 0, 0, 0, 1, 1, None, None]
    assert frozen_names(stages[0], MPT_NAMES) == MPT_NAMES[1:]
    assert frozen_names(stages[1], MPT_NAMES) == MPT_NAMES[:1]


@pytest.mark.parametrize(
    ("stages", "message"),
    [
        ([], r"stages: empty"),
        ([{"until": "4ba"}], r"stages.0: give exactly one of 'train' or 'freeze'"),
        ([{"until": "4ba", "train": ["wte"], "freeze": ["x"]}], r"exactly one"),
        ([{"train": ["wte"]}], r"stages.0.until: missing"),
        (
            [{"until": "4tok", "train": ["wte"]}],
            r"stages.0.until: .4tok. is not an amount of batches",
        ),
        ([{"until": 0, "train": ["wte"]}], r"stages.0.until: '0' must be a positive"),
        ([{"until": 4, "train": ["("]}], r"stages.0.train: bad regex"),
        ([{"until": 4, "train": ["a"]}, {"until": 4, "freeze": ["b"]}], r"stages.1.until"),
        ([{"until": 4, "trian": ["a"]}], r"unknown key"),
    ],
)
def test_bad_schedules_are_one_line_errors(stages: list[dict[str, object]], message: str) -> None:
    with pytest.raises(ConfigError, match=message) as e:
        parse_stages(stages)
    assert "\n" not in str(e.value)


def _weights(path: Path) -> dict[str, torch.Tensor]:
    return torch.load(path, map_location="cpu", weights_only=False)["state"]["model"]


def _optimizer_state(path: Path) -> dict[str, object]:
    state = torch.load(path, map_location="cpu", weights_only=False)["state"]["optimizers"]
    (opt,) = state.values()
    return opt["state"]


def _losses(run: Path) -> list[tuple[int, float]]:
    return [(m["step"], m["loss/train/total"]) for m in read_metrics(run / "metrics.jsonl")
            if "loss/train/total" in m]  # fmt: skip


@pytest.fixture(scope="module")
def frozen_run(tiny_overrides, tmp_path_factory: pytest.TempPathFactory) -> Path:  # noqa: ANN001
    from csmpt.training import run_training

    run = tmp_path_factory.mktemp("freeze") / "run"
    run_training(RECIPE, _args(tiny_overrides, run, "6ba"))
    return run


def _args(tiny_overrides, run: Path, duration: str) -> list[str]:  # noqa: ANN001
    return tiny_overrides(
        run,
        max_duration=duration,
        save_interval="2ba",
        save_num_checkpoints_to_keep=-1,
        eval_interval="100ba",
        icl_tasks="[]",
        **{"callbacks.csmpt_freeze": f"{{stages: {STAGES}}}"},
    )


@pytest.mark.slow
def test_frozen_parameters_stay_bit_identical_and_the_rest_trains(frozen_run: Path) -> None:
    w2, w4, w6 = (_weights(frozen_run / f"ep0-ba{s}-rank0.pt") for s in (2, 4, 6))
    wte = "model.transformer.wte.weight"
    body = [k for k in w2 if k != wte]
    assert len(body) > 5
    # steps 3 and 4 are inside the stage: only the embedding moves
    assert all(torch.equal(w2[k], w4[k]) for k in body)
    assert not torch.equal(w2[wte], w4[wte])
    # after the stage every parameter trains
    assert all(not torch.equal(w4[k], w6[k]) for k in body)
    # LionW never stepped the frozen parameters: their momentum is its initial zeros
    m4, m6 = (_optimizer_state(frozen_run / f"ep0-ba{s}-rank0.pt") for s in (4, 6))
    assert set(m4) == set(w4)
    assert all(not m4[k]["exp_avg"].any() for k in body)
    assert m4[wte]["exp_avg"].any()
    assert all(m6[k]["exp_avg"].any() for k in body)
    events = [e for e in read_events(frozen_run / "events.jsonl") if "stage" in e]
    assert [(e["event"], e["step"], e["stage"]) for e in events] == [
        ("freeze_stage", 0, 0),
        ("unfreeze", 4, 1),
    ]
    n_wte = w6[wte].numel()
    assert events[0]["trainable_params"] == n_wte
    assert events[0]["frozen_params"] == sum(v.numel() for v in w6.values()) - n_wte


@pytest.mark.slow
def test_resume_in_the_middle_of_the_stage_is_exact(
    frozen_run: Path,
    tiny_overrides,  # noqa: ANN001
    tmp_path: Path,
) -> None:
    from csmpt.training import run_training

    run = tmp_path / "run"
    run_training(RECIPE, _args(tiny_overrides, run, "2ba"))  # stops inside the stage
    run_training(RECIPE, _args(tiny_overrides, run, "6ba"))  # autoresumes at step 2
    assert _losses(run) == _losses(frozen_run)
    want, got = _weights(frozen_run / "ep0-ba6-rank0.pt"), _weights(run / "ep0-ba6-rank0.pt")
    assert all(torch.equal(want[k], got[k]) for k in want)
    strip = lambda events: [{k: v for k, v in e.items() if k != "time"} for e in events]  # noqa: E731
    assert strip(read_events(run / "events.jsonl")) == strip(
        read_events(frozen_run / "events.jsonl")
    )
    with pytest.raises(ConfigError, match=r"the past of the schedule cannot change"):
        args = _args(tiny_overrides, run, "8ba")
        args[-1] = "callbacks.csmpt_freeze={stages: [{until: 3ba, train: [wte]}]}"
        run_training(RECIPE, args)


@pytest.mark.slow
def test_a_pattern_that_names_no_parameter_fails_before_training(
    tiny_overrides,  # noqa: ANN001
    tmp_path: Path,
) -> None:
    from csmpt.training import run_training

    args = _args(tiny_overrides, tmp_path / "run", "2ba")
    args[-1] = "callbacks.csmpt_freeze={stages: [{until: 3ba, train: [embed_tokens]}]}"
    with pytest.raises(ConfigError, match=r"stages.0.train: 'embed_tokens' matches no parameter"):
        run_training(RECIPE, args)
