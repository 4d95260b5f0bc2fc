"""csmpt_hot_swap: corpus swaps at scheduled steps, exact across real interruption and resume."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from composer.core import Callback, State
from composer.loggers import Logger
from procs import wait_for_step

from csmpt.errors import ConfigError, DataError
from csmpt.mds.reader import iter_samples
from csmpt.recipe.swap_schedule import parse_swaps
from csmpt.run_folder import loss_curve, read_events
from csmpt.training import preflight, run_training

RECIPE = "yamls/tiny/mpt_hot_swap.yaml"
CSMPT = str(Path(sys.executable).parent / "csmpt")


@pytest.fixture(scope="session")
def swap_overrides(tiny_overrides, shards_dir: Path):  # noqa: ANN201
    def make(run_dir: Path, **extra: object) -> list[str]:
        corpora = [
            f"variables.corpus_2={shards_dir / 'en_web'}",  # English: easy to tell apart
            f"variables.corpus_3={shards_dir / 'cs_crawl_clean'}",
        ]
        return [*corpora, *tiny_overrides(run_dir, **extra)]

    return make


def swap_events(path: Path) -> list[dict[str, Any]]:
    """The swap events of a run (events.jsonl also holds csmpt_loss_spike's events)."""
    return [e for e in read_events(path) if e["event"] == "swap"]


class Recorder(Callback):
    """Test helper: the token rows of every batch, and the momentum before each step."""

    rows: list[list[tuple[int, ...]]] = []
    momentum: list[float] = []
    datasets: list[Any] = []

    def batch_start(self, state: State, logger: Logger) -> None:
        del logger
        dataset = state.train_dataloader.dataset  # type: ignore[union-attr]
        if not any(d is dataset for d in Recorder.datasets):
            Recorder.datasets.append(dataset)
        Recorder.rows.append([tuple(r.tolist()) for r in state.batch["input_ids"]])
        total = 0.0
        for opt in state.optimizers:
            for st in opt.state.values():
                if "exp_avg" in st:
                    total += float(st["exp_avg"].abs().sum())
        Recorder.momentum.append(total)


@pytest.fixture
def recorder() -> type[Recorder]:
    from llmfoundry.registry import callbacks

    callbacks.register("csmpt_test_recorder", func=Recorder)
    Recorder.rows, Recorder.momentum, Recorder.datasets = [], [], []
    return Recorder


def _swaps(*at: int, reset_2: bool = False) -> str:
    """A whole ``swaps`` list as one override (OmegaConf cannot override a list item)."""
    entries = [
        f"{{name: cs_crawl, at: {at[0]}ba, reset_optimizer: {str(reset_2).lower()}, "
        "dataset: {local: '${variables.corpus_2}', split: train}}",
        f"{{name: cs_crawl_clean, at: {at[-1]}ba, "
        "dataset: {local: '${variables.corpus_3}', split: train}}",
    ]
    return "[" + ", ".join(entries[: len(at)]) + "]"


def _corpus_rows(folder: Path) -> set[tuple[int, ...]]:
    return {tuple(s["tokens"].tolist()) for s in iter_samples(folder)}


def test_samples_come_from_the_scheduled_corpus(
    swap_overrides, recorder, shards_dir: Path, tmp_path: Path
) -> None:
    run_training(
        RECIPE,
        swap_overrides(
            tmp_path / "run",
            max_duration="16ba",
            save_interval="16ba",
            eval_interval="16ba",
            **{
                "callbacks.csmpt_hot_swap.swaps": _swaps(6, 11, reset_2=True),
                "callbacks.csmpt_test_recorder": "{}",
            },
        ),
    )
    web = _corpus_rows(shards_dir / "cs_web/train")
    en = _corpus_rows(shards_dir / "en_web/train")
    clean = _corpus_rows(shards_dir / "cs_crawl_clean/train")
    assert len(recorder.rows) == 16
    for step, rows in enumerate(recorder.rows, start=1):
        source = web if step <= 6 else en if step <= 11 else clean
        assert all(r in source for r in rows), f"step {step} drew from the wrong corpus"
    # reset_optimizer on the first swap: the Lion momentum is exactly zero when step 7 starts,
    # and not reset at the second swap (no reset_optimizer there).
    assert recorder.momentum[6] == 0.0 and recorder.momentum[5] > 0
    assert recorder.momentum[11] > 0
    events = swap_events(tmp_path / "run/events.jsonl")
    assert [(e["step"], e["from"], e["to"], e["reset_optimizer"]) for e in events] == [
        (6, "cs_web", "cs_crawl", True),
        (11, "cs_crawl", "cs_crawl_clean", False),
    ]
    assert events[0]["tokens"] == 6 * 8 * 128
    # The corpora swapped out have their streaming threads stopped (not left polling).
    from streaming.base.dataset import _IterState

    assert len(recorder.datasets) == 3
    assert [d._iterator._state for d in recorder.datasets[:2]] == [_IterState.EXITED] * 2


def test_swap_point_in_tokens(swap_overrides, recorder, shards_dir: Path, tmp_path: Path) -> None:
    at = 5 * 8 * 128  # the tokens of 5 batches of 8 samples of 128 tokens
    run_training(
        RECIPE,
        swap_overrides(
            tmp_path / "run",
            max_duration="8ba",
            save_interval="8ba",
            eval_interval="8ba",
            **{
                "callbacks.csmpt_hot_swap.swaps": (
                    f"[{{name: en_web, at: {at}tok, "
                    "dataset: {local: '${variables.corpus_2}', split: train}}]"
                ),
                "callbacks.csmpt_test_recorder": "{}",
            },
        ),
    )
    web = _corpus_rows(shards_dir / "cs_web/train")
    en = _corpus_rows(shards_dir / "en_web/train")
    assert len(recorder.rows) == 8
    for step, rows in enumerate(recorder.rows, start=1):
        assert all(r in (web if step <= 5 else en) for r in rows), f"step {step}: wrong corpus"
    events = swap_events(tmp_path / "run/events.jsonl")
    assert [(e["step"], e["tokens"], e["at"]) for e in events] == [(5, at, f"en_web at {at}tok")]


def _drop_checkpoints_after(run_dir: Path, step: int) -> None:
    for ckpt in run_dir.glob("ep*-ba*-rank0.pt"):
        if int(ckpt.name.split("-ba")[1].split("-")[0]) > step:
            ckpt.unlink()
    latest = run_dir / "latest-rank0.pt"
    latest.unlink(missing_ok=True)
    latest.symlink_to(f"ep0-ba{step}-rank0.pt")


@pytest.fixture(scope="module")
def reference_run(swap_overrides, tmp_path_factory: pytest.TempPathFactory) -> Path:
    run_dir = tmp_path_factory.mktemp("ref") / "run"
    run_training(
        RECIPE,
        swap_overrides(
            run_dir, max_duration="20ba", save_interval="2ba", eval_interval="20ba", **_SWAPS
        ),
    )
    return run_dir


_SWAPS = {
    "callbacks.csmpt_hot_swap.swaps": _swaps(8, 13),
}


@pytest.mark.slow
@pytest.mark.parametrize("stop_at", [6, 8, 10], ids=["before-swap", "at-swap", "after-swap"])
def test_killed_and_resumed_run_is_bit_identical(
    stop_at: int, swap_overrides, reference_run: Path, tmp_path: Path
) -> None:
    run_dir = tmp_path / "run"
    args = swap_overrides(
        run_dir, max_duration="20ba", save_interval="2ba", eval_interval="20ba", **_SWAPS
    )
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen(
        [CSMPT, "train", RECIPE, *args],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        # Kill for real once the run is past the checkpoint at `stop_at`...
        wait_for_step(run_dir / "metrics.jsonl", stop_at + 1, proc, timeout=300)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    # ...and make that checkpoint the one autoresume picks up.
    _drop_checkpoints_after(run_dir, stop_at)
    trainer = run_training(RECIPE, args)
    assert int(trainer.state.timestamp.batch) == 20

    ref = loss_curve(reference_run / "metrics.jsonl")
    got = loss_curve(run_dir / "metrics.jsonl")
    assert [s for s, _ in got] == list(range(1, 21))
    assert got == ref, "losses differ from the uninterrupted run"
    strip = lambda events: [{k: v for k, v in e.items() if k != "time"} for e in events]  # noqa: E731
    assert strip(read_events(run_dir / "events.jsonl")) == strip(
        read_events(reference_run / "events.jsonl")
    )


def test_future_swaps_may_change_past_ones_may_not(swap_overrides, tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    common = {"save_interval": "10ba", "eval_interval": "10ba"}

    def run(max_duration: int, swaps: str) -> None:
        overrides = {**common, "callbacks.csmpt_hot_swap.swaps": swaps}
        run_training(RECIPE, swap_overrides(run_dir, max_duration=f"{max_duration}ba", **overrides))

    run(10, _swaps(8))  # stops at step 10, after one swap; corpus #3 not collected yet
    with pytest.raises(ConfigError, match=r"swaps.0: swap cs_crawl at 8ba already happened"):
        run(20, _swaps(7, 13))  # moving a past swap is refused
    run(20, _swaps(8, 13))  # appending a future swap is fine
    assert [(e["step"], e["to"]) for e in swap_events(run_dir / "events.jsonl")] == [
        (8, "cs_crawl"),
        (13, "cs_crawl_clean"),
    ]


def test_manual_swap_at_resume(swap_overrides, recorder, tmp_path: Path, shards_dir: Path) -> None:
    run_dir = tmp_path / "run"
    common = {
        "save_interval": "10ba",
        "eval_interval": "10ba",
        "callbacks.csmpt_hot_swap.swaps": "[]",
    }
    run_training(RECIPE, swap_overrides(run_dir, max_duration="10ba", **common))
    manual = f"[{{name: english, at: resume, dataset: {{local: {shards_dir / 'en_web'}}}}}]"
    resumed = {
        **common,
        "callbacks.csmpt_hot_swap.swaps": manual,
        "callbacks.csmpt_test_recorder": "{}",
    }
    run_training(RECIPE, swap_overrides(run_dir, max_duration="12ba", **resumed))
    (event,) = swap_events(run_dir / "events.jsonl")
    assert (event["step"], event["to"], event["manual"]) == (10, "english", True)
    # The resumed steps 11 and 12 really train on the new corpus, not only log the swap.
    en = _corpus_rows(shards_dir / "en_web/train")
    assert len(recorder.rows) == 2
    assert all(r in en for rows in recorder.rows for r in rows), "still on the old corpus"


@pytest.mark.parametrize(
    ("override", "error", "pattern"),
    [
        (
            {"callbacks.csmpt_hot_swap.swaps": _swaps(14, 50)},
            ConfigError,
            r"swap cs_crawl_clean at 50ba is not before max_duration 40ba",
        ),
        (
            {"callbacks.csmpt_hot_swap.swaps": _swaps(14, 40)},
            ConfigError,
            r"swap cs_crawl_clean at 40ba is not before max_duration 40ba",
        ),
        (
            {"callbacks.csmpt_hot_swap.swaps": _swaps(14, 10)},
            ConfigError,
            r"swap points must be sorted: cs_crawl_clean at 10ba comes after cs_crawl at 14ba",
        ),
        ({"callbacks.csmpt_hot_swap.swaps": _swaps(14, 14)}, ConfigError, r"duplicate swap point"),
        (
            {"variables.corpus_3": "/nowhere/corpus3"},
            DataError,
            r"swaps.1.dataset.local: data folder '/nowhere/corpus3/train' of swap cs_crawl_clean",
        ),
        (
            {"callbacks.csmpt_hot_swap.swaps": "[{name: a, at: 14 steps}]"},
            ConfigError,
            r"is not a swap point",
        ),
    ],
    ids=[
        "after-max-duration",
        "at-max-duration",
        "unsorted",
        "duplicate",
        "missing-folder",
        "bad-unit",
    ],
)
def test_bad_schedule_fails_before_training(
    override: dict[str, Any], error: type[Exception], pattern: str, swap_overrides, tmp_path: Path
) -> None:
    with pytest.raises(error, match=pattern) as e:
        preflight(RECIPE, swap_overrides(tmp_path / "run", **override))
    assert str(e.value).startswith(RECIPE)


def test_parse_swaps_rejects_unknown_keys() -> None:
    with pytest.raises(ConfigError, match=r"swaps.0.when: unknown key"):
        parse_swaps([{"name": "a", "when": "5ba"}])


def test_the_hot_swap_recipe_is_mpt_plus_the_schedule(repo: Path) -> None:
    from csmpt.config import load_yaml_with_overrides

    base = load_yaml_with_overrides(repo / "yamls/tiny/mpt.yaml")
    swap = load_yaml_with_overrides(repo / RECIPE)
    expected = base.copy()
    expected["variables"]["run_name"] = "tiny-mpt-hot-swap"
    expected["variables"]["corpus_2"] = swap["variables"]["corpus_2"]
    expected["variables"]["corpus_3"] = swap["variables"]["corpus_3"]
    expected["callbacks"]["csmpt_hot_swap"] = swap["callbacks"]["csmpt_hot_swap"]
    assert swap == expected, "mpt_hot_swap.yaml must stay mpt.yaml plus the hot-swap schedule"
    assert [s["at"] for s in swap["callbacks"]["csmpt_hot_swap"]["swaps"]] == ["14ba", "27ba"]


def test_schedule_in_tokens_and_lookup() -> None:
    from csmpt.recipe.swap_schedule import swaps_due

    swaps = parse_swaps(
        [
            {"name": "b", "at": "5000tok"},
            {"name": "c", "at": "1.2e4tok"},
            {"name": "d", "at": "resume"},
        ]
    )
    assert [(s.unit, s.value, s.manual) for s in swaps] == [
        ("token", 5000, False),
        ("token", 12000, False),
        (None, 0, True),
    ]
    assert [swaps_due(swaps, 0, t) for t in (0, 4999, 5000, 11999, 12000, 10**9)] == [
        0,
        0,
        1,
        1,
        2,
        2,
    ]
    with pytest.raises(ConfigError, match="use one unit"):
        parse_swaps([{"name": "b", "at": "5ba"}, {"name": "c", "at": "9000tok"}])
    with pytest.raises(ConfigError, match="'at: resume' swaps must come after"):
        parse_swaps([{"name": "b", "at": "resume"}, {"name": "c", "at": "9ba"}])


def test_the_swap_finds_the_tokenizer_through_a_ddp_wrapper() -> None:
    """Under DDP ``state.model`` is ``DistributedDataParallel(model)``: no ``tokenizer`` of its
    own. The swap built the next loader with ``None`` and a 2-process run died at its first
    swap; the tokenizer is the wrapped model's, else the training dataset's."""
    from types import SimpleNamespace

    from csmpt.callbacks.hot_swap import run_tokenizer

    tok = object()
    ddp = SimpleNamespace(module=SimpleNamespace(tokenizer=tok))  # what DDP exposes
    assert run_tokenizer(SimpleNamespace(model=ddp, train_dataloader=None)) is tok  # type: ignore[arg-type]
    loader = SimpleNamespace(dataset=SimpleNamespace(tokenizer=tok))
    bare = SimpleNamespace(model=SimpleNamespace(), train_dataloader=loader)
    assert run_tokenizer(bare) is tok  # type: ignore[arg-type]
    with pytest.raises(RuntimeError, match="neither the model nor the training dataset"):
        run_tokenizer(SimpleNamespace(model=SimpleNamespace(), train_dataloader=None))  # type: ignore[arg-type]
