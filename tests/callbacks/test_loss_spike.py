"""csmpt_loss_spike: detection, batch forensics of an injected spike, NaN stop, kill + resume."""

from __future__ import annotations

import math
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from procs import free_port, wait_for_step

from csmpt.callbacks.loss_spike import NonFiniteLossError
from csmpt.callbacks.spike_detect import RollingWindow, SpikeRule, check_spike
from csmpt.forensics.sample_loss import outlier_samples, per_sample_loss
from csmpt.run_folder import read_events, read_metrics
from csmpt.training import run_training

CSMPT = str(Path(sys.executable).parent / "csmpt")
SPIKE = "{window: 10, warmup: 4, zscore: 4}"


# --- pure functions ---------------------------------------------------------------------


def test_flat_curve_flags_a_jump_not_noise() -> None:
    rule = SpikeRule(ratio=None, zscore=6.0, warmup=5, min_std=0.01)
    w = RollingWindow(20, rule)
    noise = [0.02, -0.01, 0.015, -0.02, 0.0, 0.01, -0.015, 0.02, -0.005, 0.01]
    assert not any(w.push(2.0 + n).spike for n in noise)
    check = w.push(2.6)
    assert check.spike and check.reasons == ("zscore",)
    assert len(w.values) == 10, "a spike is not added to the window"
    assert not w.push(2.01).spike


def test_trend_catches_a_jump_on_a_falling_curve() -> None:
    falling = [8.0 - 0.2 * i for i in range(10)]  # 8.0 ... 6.2, next expected 6.0
    plain = SpikeRule(ratio=None, zscore=4.0, warmup=5, trend=False)
    trend = SpikeRule(ratio=None, zscore=4.0, warmup=5, trend=True)
    assert not check_spike(falling, 6.9, plain).spike  # below the window's mean (7.1)
    check = check_spike(falling, 6.9, trend)
    assert check.spike and check.mean == pytest.approx(6.0)


def test_ratio_rule_and_warmup() -> None:
    rule = SpikeRule(ratio=2.0, zscore=None, warmup=4)
    assert not check_spike([1.0, 1.0, 1.0], 5.0, rule).spike  # window still warming up
    assert check_spike([1.0] * 4, 2.0, rule).reasons == ("ratio",)
    assert not check_spike([1.0] * 4, 1.9, rule).spike
    with pytest.raises(ValueError, match="at least one of ratio and zscore"):
        SpikeRule(ratio=None, zscore=None)


def test_window_state_round_trip() -> None:
    rule = SpikeRule(warmup=3)
    a, b = RollingWindow(5, rule), RollingWindow(5, rule)
    for x in (3.0, 2.9, 2.95, 3.1, 3.0, 2.8, math.nan):
        a.push(x)
    b.load_state_dict(a.state_dict())
    assert list(b.values) == [2.9, 2.95, 3.1, 3.0, 2.8]
    assert a.push(9.0) == b.push(9.0)


def test_suspects_are_the_samples_that_stand_out() -> None:
    assert outlier_samples([5.0, 5.1, 4.9, 9.0, 5.0, 13.0, 5.2, 4.8]) == [3, 5]
    assert outlier_samples([5.0, 5.1, 4.9, 5.05]) == []
    assert outlier_samples([5.0, math.nan, 5.1, 4.9]) == [1]


def test_per_sample_loss_matches_cross_entropy() -> None:
    g = torch.Generator().manual_seed(0)
    logits = torch.randn(3, 6, 11, generator=g)
    labels = torch.randint(0, 11, (3, 6), generator=g)
    labels[1, 4:] = -100
    got = per_sample_loss(logits, labels)
    for i in range(3):
        n = 6 if i != 1 else 4
        want = F.cross_entropy(logits[i, : n - 1], labels[i, 1:n])
        assert got[i].item() == pytest.approx(want.item(), rel=1e-5)


# --- training runs ----------------------------------------------------------------------


@pytest.fixture(scope="module")
def spiked_run(tiny_overrides, shards_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """10 steps on cs_web, hot-swapped to en_web after step 5; samples 1, 4, 6 of step 8 bad."""
    run_dir = tmp_path_factory.mktemp("spike") / "run"
    swaps = f"[{{name: english, at: 5ba, dataset: {{local: '{shards_dir / 'en_web'}'}}}}]"
    run_training(
        "yamls/tiny/mpt_hot_swap.yaml",
        tiny_overrides(
            run_dir,
            max_duration="10ba",
            eval_interval="10ba",
            save_interval="10ba",
            **{
                "callbacks.csmpt_hot_swap.swaps": swaps,
                "callbacks.csmpt_loss_spike": SPIKE,
                "callbacks.csmpt_inject_spike": "{at: 8, samples: [1, 4, 6], kind: adversarial}",
                "loggers.mlflow": f"{{tracking_uri: 'file:{run_dir}/mlruns', synchronous: true, "
                "log_system_metrics: false}",
            },
        ),
    )
    return run_dir


@pytest.mark.slow
def test_injected_spike_names_the_step_and_exactly_the_injected_samples(
    spiked_run: Path, shards_dir: Path
) -> None:
    events = [e for e in read_events(spiked_run / "events.jsonl") if e["event"] != "swap"]
    assert [(e["event"], e["step"]) for e in events] == [("loss_spike", 8)]
    (spike,) = events
    assert spike["corpus"] == "english"
    assert spike["suspects"] == [[0, 1], [0, 4], [0, 6]]
    samples = spike["samples"]
    assert [s["position"] for s in samples] == list(range(8))
    # The trace is right: the tokens trained on match the data, except in the injected rows.
    assert [s["position"] for s in samples if not s["matches_data"]] == [1, 4, 6]
    assert all(Path(s["folder"]) == shards_dir / "en_web/train" for s in samples)
    assert all(s["doc_ids"] and "en_web/doc_" in s["doc_ids"][0] for s in samples)
    assert spike["loss"] > spike["window"]["mean"] and spike["window"]["zscore"] >= 4
    assert spike["lr"] > 0 and spike["tokens"] == 8 * 8 * 128
    logged = [r for r in read_metrics(spiked_run / "metrics.jsonl") if "loss_spike/loss" in r]
    assert [(r["step"], r["loss_spike/loss"]) for r in logged] == [(8, spike["loss"])]
    # The same metrics reached the local MLflow file store.
    mlflow_files = list((spiked_run / "mlruns").rglob("loss_spike/loss"))
    assert mlflow_files and mlflow_files[0].read_text().split()[1] == str(spike["loss"])


@pytest.mark.slow
def test_mlflow_logs_every_metric_at_the_step_metrics_jsonl_gives_it(spiked_run: Path) -> None:
    # Composer logs a batch's loss at the step before the batch; csmpt_step_align (added by
    # csmpt train) makes every logger use metrics.jsonl's 1-based step.
    jsonl = read_metrics(spiked_run / "metrics.jsonl")
    root = next((spiked_run / "mlruns").rglob("metrics"))
    names = {str(f.relative_to(root)) for f in root.rglob("*") if f.is_file()}
    assert {"loss/train/total", "loss_spike/loss", "time/batch"} <= names
    assert any(n.startswith("lr-") for n in names)
    for name in sorted(names):
        lines = (root / name).read_text().splitlines()
        mlflow = [(int(step), float(value)) for _, value, step in map(str.split, lines)]
        want = [(r["step"], r[name]) for r in jsonl if name in r]
        # Composer's MLflow logger skips a value equal to the metric's previous one.
        want = [p for i, p in enumerate(want) if not i or p[1] != want[i - 1][1]]
        assert mlflow == want, name
    assert [r["step"] for r in jsonl if "loss/train/total" in r] == list(range(1, 11))


@pytest.mark.slow
def test_nan_stops_the_run_naming_the_step(tiny_overrides, tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    with pytest.raises(NonFiniteLossError, match=r"loss is nan at step 3 \(corpus train_loader\)"):
        run_training(
            "yamls/tiny/mpt.yaml",
            tiny_overrides(
                run_dir,
                max_duration="6ba",
                eval_interval="6ba",
                save_interval="1ba",
                **{
                    "callbacks.csmpt_loss_spike": SPIKE,
                    "callbacks.csmpt_inject_spike": "{at: 3, kind: nan}",
                },
            ),
        )
    (event,) = read_events(run_dir / "events.jsonl")
    assert (event["event"], event["step"], math.isnan(event["loss"])) == ("nonfinite_loss", 3, True)
    assert len(event["samples"]) == 8
    assert sorted(p.name for p in run_dir.glob("ep0-ba*-rank0.pt")) == [
        "ep0-ba1-rank0.pt",
        "ep0-ba2-rank0.pt",
    ], "no checkpoint of the NaN weights"


@pytest.mark.slow
def test_events_survive_a_kill_and_autoresume_without_duplicates(
    tiny_overrides, tmp_path: Path
) -> None:
    run_dir = tmp_path / "run"
    args = tiny_overrides(
        run_dir,
        max_duration="12ba",
        eval_interval="12ba",
        save_interval="4ba",
        **{
            "callbacks.csmpt_loss_spike": SPIKE,
            "callbacks.csmpt_inject_spike": "{at: 7, samples: [2], kind: adversarial}",
        },
    )
    proc = subprocess.Popen(
        [CSMPT, "train", "yamls/tiny/mpt.yaml", *args],
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_for_step(run_dir / "metrics.jsonl", 9, proc, timeout=300)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    before = read_events(run_dir / "events.jsonl")
    assert [(e["event"], e["step"]) for e in before] == [("loss_spike", 7)], "event lost in crash"
    # Resume from the checkpoint at step 4: steps 5..12 are replayed, step 7 spikes again.
    for ckpt in run_dir.glob("ep0-ba*-rank0.pt"):
        if ckpt.name != "ep0-ba4-rank0.pt":
            ckpt.unlink()
    (run_dir / "latest-rank0.pt").unlink(missing_ok=True)
    (run_dir / "latest-rank0.pt").symlink_to("ep0-ba4-rank0.pt")
    trainer = run_training("yamls/tiny/mpt.yaml", args)
    assert int(trainer.state.timestamp.batch) == 12
    after = read_events(run_dir / "events.jsonl")
    assert after == before, "the event is kept as written, and not written twice"
    replayed = [r for r in read_metrics(run_dir / "metrics.jsonl") if "loss_spike/loss" in r]
    assert [r["step"] for r in replayed] == [7], "the replayed step re-detected the same spike"
    assert replayed[0]["loss_spike/loss"] == before[0]["loss"]


def test_first_line_stays_readable_for_corrupted_samples() -> None:
    from csmpt.forensics.live_batch import first_line

    class Decoder:
        def __init__(self, text: str) -> None:
            self.text = text

        def decode(self, ids: list[int]) -> str:
            return self.text

    assert first_line(Decoder("histor" + "\x11" * 120 + "\nrest"), [1]) == "histor\ufffd×120"
    assert first_line(Decoder("  \nDobrý den, jak se máte?\n"), [1]) == "Dobrý den, jak se máte?"
    assert first_line(Decoder("a" * 3 + "b" * 200), [1]) == "aaab×200"
    assert first_line(Decoder("slovo " * 40), [1]).endswith("…")


# --- skip_step ----------------------------------------------------------------------------


def _lion_state(opt: torch.optim.Optimizer, params: list[torch.nn.Parameter]) -> list[torch.Tensor]:
    out = [p.detach().clone() for p in params]
    out += [opt.state[p]["exp_avg"].clone() for p in params if "exp_avg" in opt.state[p]]
    return out


def test_skipped_lionw_step_leaves_weights_and_state_bit_identical() -> None:
    from csmpt.optim.lionw import LionW

    g = torch.Generator().manual_seed(0)
    params = [torch.nn.Parameter(torch.randn(300, generator=g)) for _ in range(3)]
    opt = LionW(params, lr=1e-2, betas=(0.9, 0.95), weight_decay=0.1)
    skip = [False, True, True, False]
    opt.skip_fn = lambda: skip.pop(0)
    for p in params:
        p.grad = torch.randn(300, generator=g)
    opt.step()  # a normal step: state created, weights move
    before = _lion_state(opt, params)
    for p in params:
        p.grad = torch.randn(300, generator=g) * 1e3  # the spike's huge gradient
    loss = opt.step(closure=lambda: 7.5)  # skipped, after the closure ran
    assert loss == 7.5
    opt.step()  # skipped again
    after = _lion_state(opt, params)
    assert all(torch.equal(a, b) for a, b in zip(before, after, strict=True))
    assert opt.skipped_steps == 2
    # Zeroing the gradient is no skip for Lion: the momentum's sign still moves every weight.
    for p in params:
        p.grad = torch.zeros(300)
    opt.step()
    assert not torch.equal(params[0].detach(), before[0])
    # A fresh optimizer whose first step is skipped creates no state at all.
    fresh = LionW([torch.nn.Parameter(torch.ones(4))], lr=1e-2)
    fresh.skip_fn = lambda: True
    fresh.param_groups[0]["params"][0].grad = torch.ones(4)
    fresh.step()
    assert len(fresh.state) == 0


class StateProbe:
    """Test helper: a hash-free copy of weights + LionW momentum at each batch's start and end."""

    at: dict[tuple[int, str], list[torch.Tensor]] = {}


def _probe_callback():  # noqa: ANN202
    from composer.core import Callback, State
    from composer.loggers import Logger

    class Probe(Callback):
        def _take(self, state: State, when: str, step: int) -> None:
            params = [p for p in state.model.parameters()]
            (opt,) = state.optimizers
            StateProbe.at[(step, when)] = _lion_state(opt, params)

        def batch_start(self, state: State, logger: Logger) -> None:
            del logger
            self._take(state, "start", int(state.timestamp.batch) + 1)

        def batch_end(self, state: State, logger: Logger) -> None:
            del logger
            self._take(state, "end", int(state.timestamp.batch))

    return Probe


@pytest.mark.slow
def test_skip_step_on_an_injected_spike_leaves_the_state_untouched(
    tiny_overrides, tmp_path: Path
) -> None:
    from llmfoundry.registry import callbacks

    callbacks.register("csmpt_test_state_probe", func=_probe_callback())
    StateProbe.at = {}
    run_dir = tmp_path / "run"
    run_training(
        "yamls/tiny/mpt.yaml",
        tiny_overrides(
            run_dir,
            max_duration="9ba",
            eval_interval="9ba",
            save_interval="9ba",
            **{
                "callbacks.csmpt_loss_spike": SPIKE[:-1] + ", action: skip_step}",
                "callbacks.csmpt_inject_spike": "{at: 8, samples: [1, 4, 6], kind: adversarial}",
                "callbacks.csmpt_test_state_probe": "{}",
            },
        ),
    )
    (spike,) = [e for e in read_events(run_dir / "events.jsonl") if e["event"] == "loss_spike"]
    assert (spike["step"], spike["action"], spike["skipped"]) == (8, "skip_step", True)
    assert spike["suspects"] == [[0, 1], [0, 4], [0, 6]] and len(spike["samples"]) == 8
    same = lambda a, b: all(torch.equal(x, y) for x, y in zip(a, b, strict=True))  # noqa: E731
    assert same(StateProbe.at[(8, "start")], StateProbe.at[(8, "end")]), "step 8 moved the state"
    assert not same(StateProbe.at[(7, "start")], StateProbe.at[(7, "end")])
    assert not same(StateProbe.at[(9, "start")], StateProbe.at[(9, "end")])


# --- rollback -----------------------------------------------------------------------------


class SkipSteps:
    """Test helper: a run configured from the start to skip the updates of chosen steps."""

    steps: set[int] = set()


def _skip_steps_callback():  # noqa: ANN202
    from composer.core import Callback, State
    from composer.loggers import Logger

    from csmpt.optim.lionw import LionW

    class Skip(Callback):
        def fit_start(self, state: State, logger: Logger) -> None:
            del logger
            for opt in state.optimizers:
                assert isinstance(opt, LionW)
                opt.skip_fn = lambda state=state: int(state.timestamp.batch) + 1 in SkipSteps.steps

    return Skip


def _final_weights(run_dir: Path, step: int) -> dict[str, torch.Tensor]:
    saved = torch.load(run_dir / f"ep0-ba{step}-rank0.pt", weights_only=False)
    return saved["state"]["model"]


ROLLBACK_RUN = {"max_duration": "12ba", "eval_interval": "12ba", "save_interval": "2ba"}
ROLLBACK_RUN["save_num_checkpoints_to_keep"] = "-1"
ROLLBACK = {
    "callbacks.csmpt_loss_spike": SPIKE[:-1]
    + ", action: rollback, rollback_steps: 2, skip_batches: 1}",
    "callbacks.csmpt_inject_spike": "{at: 8, samples: [1, 4, 6], kind: adversarial}",
}


@pytest.fixture(scope="module")
def rolled_run(tiny_overrides, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """12 steps; an injected spike at step 8 rolls back to the checkpoint of step 6."""
    run_dir = tmp_path_factory.mktemp("rollback") / "run"
    run_training("yamls/tiny/mpt.yaml", tiny_overrides(run_dir, **ROLLBACK_RUN, **ROLLBACK))
    return run_dir


@pytest.mark.slow
def test_rollback_equals_a_run_that_skipped_the_same_batches(
    rolled_run: Path, tiny_overrides, tmp_path: Path
) -> None:
    from llmfoundry.registry import callbacks

    from csmpt.run_folder import loss_curve

    (event,) = [e for e in read_events(rolled_run / "events.jsonl") if e["event"] == "rollback"]
    assert (event["step"], event["to"], event["skipped_steps"]) == (8, 6, [7, 8, 9])

    callbacks.register("csmpt_test_skip_steps", func=_skip_steps_callback())
    SkipSteps.steps = {7, 8, 9}
    reference = tmp_path / "reference"  # no spike injected: steps 7-9 never update anything
    run_training(
        "yamls/tiny/mpt.yaml",
        tiny_overrides(reference, **ROLLBACK_RUN, **{"callbacks.csmpt_test_skip_steps": "{}"}),
    )
    got, want = loss_curve(rolled_run / "metrics.jsonl"), loss_curve(reference / "metrics.jsonl")
    assert got[8:] == want[8:], "losses after the rollback differ from the skipping run"
    assert got[7] != want[7]  # step 8: the injected batch, trained on before the rollback
    a, b = _final_weights(rolled_run, 12), _final_weights(reference, 12)
    assert all(torch.equal(a[k], b[k]) for k in a), "the injected batch's update survived"


@pytest.mark.slow
def test_run_killed_after_a_rollback_resumes_exactly(
    rolled_run: Path, tiny_overrides, tmp_path: Path
) -> None:
    import shutil

    from csmpt.run_folder import loss_curve

    run_dir = tmp_path / "run"
    shutil.copytree(rolled_run, run_dir, symlinks=True)
    for ckpt in run_dir.glob("ep0-ba*-rank0.pt"):  # killed right after the step-8 checkpoint
        if int(ckpt.name.split("-ba")[1].split("-")[0]) > 8:
            ckpt.unlink()
    (run_dir / "latest-rank0.pt").unlink()
    run_training("yamls/tiny/mpt.yaml", tiny_overrides(run_dir, **ROLLBACK_RUN, **ROLLBACK))
    assert loss_curve(run_dir / "metrics.jsonl") == loss_curve(rolled_run / "metrics.jsonl")
    a, b = _final_weights(run_dir, 12), _final_weights(rolled_run, 12)
    assert all(torch.equal(a[k], b[k]) for k in a), "step 9 must stay skipped after the resume"
    events = [e["event"] for e in read_events(run_dir / "events.jsonl")]
    assert events.count("rollback") == 1 and events.count("loss_spike") == 1


@pytest.mark.slow
def test_too_many_rollbacks_stop_the_run_in_one_line(tiny_overrides, tmp_path: Path) -> None:
    from csmpt.callbacks.loss_spike import LossSpikeError

    limited = {**ROLLBACK_RUN, **ROLLBACK, "max_duration": "8ba", "eval_interval": "8ba"}
    limited["callbacks.csmpt_loss_spike"] = SPIKE[:-1] + ", action: rollback, max_rollbacks: 0}"
    with pytest.raises(LossSpikeError) as e:
        run_training("yamls/tiny/mpt.yaml", tiny_overrides(tmp_path / "run", **limited))
    assert "\n" not in str(e.value)
    assert str(e.value).startswith(
        "loss spike at step 8: 0 rollbacks within 1000 steps already, max_rollbacks is 0"
    )


@pytest.mark.slow
def test_rollback_over_a_reset_optimizer_swap_keeps_the_reset(
    tiny_overrides, shards_dir: Path, tmp_path: Path
) -> None:
    """A rollback to a checkpoint taken before a ``reset_optimizer`` swap: the swap still holds.

    Swap at step 6 (momentum zeroed when step 7 starts), spike at 8, rollback to the checkpoint of
    step 6, which holds the momentum from *before* the reset. The run must go on as a run that
    skipped steps 7-9 after the same swap, i.e. from zero momentum, not from the old one.
    """
    from llmfoundry.registry import callbacks

    from csmpt.run_folder import loss_curve

    swap = (
        "[{name: cs_crawl, at: 6ba, reset_optimizer: true, "
        "dataset: {local: '${variables.corpus_2}', split: train}}]"
    )
    corpora = {
        "variables.corpus_2": shards_dir / "cs_crawl",
        "variables.corpus_3": shards_dir / "cs_crawl_clean",
        "callbacks.csmpt_hot_swap.swaps": swap,
    }
    recipe = "yamls/tiny/mpt_hot_swap.yaml"
    rolled = tmp_path / "rolled"
    run_training(recipe, tiny_overrides(rolled, **ROLLBACK_RUN, **ROLLBACK, **corpora))
    (event,) = [e for e in read_events(rolled / "events.jsonl") if e["event"] == "rollback"]
    assert (event["step"], event["to"], event["skipped_steps"]) == (8, 6, [7, 8, 9])
    assert event["optimizer_reset_again"] == [6]  # the swap's reset, undone by the load, redone

    callbacks.register("csmpt_test_skip_steps", func=_skip_steps_callback())
    SkipSteps.steps = {7, 8, 9}
    reference = tmp_path / "reference"
    run_training(
        recipe,
        tiny_overrides(
            reference,
            **ROLLBACK_RUN,
            **corpora,
            **{"callbacks.csmpt_test_skip_steps": "{}", "callbacks.csmpt_loss_spike": SPIKE},
        ),
    )
    got, want = loss_curve(rolled / "metrics.jsonl"), loss_curve(reference / "metrics.jsonl")
    assert got[8:] == want[8:], "after the rollback the run did not train from the reset momentum"
    a, b = _final_weights(rolled, 12), _final_weights(reference, 12)
    assert all(torch.equal(a[k], b[k]) for k in a)


def _random_corpus(folder: Path, vocab: int, samples: int = 400, seq: int = 128) -> Path:
    """An MDS split of uniformly random tokens: a corpus whose loss stays far above Czech text."""
    import numpy as np

    from csmpt.mds.writer import ShardedSplitWriter, ShardFormat

    writer = ShardedSplitWriter(folder / "train", ShardFormat(None, 1 << 26, seq), [])
    rng = np.random.default_rng(0)
    for _ in range(samples):
        writer.add(rng.integers(0, vocab, size=seq, dtype=np.int32))
    writer.finish(1)
    return folder


@pytest.mark.slow
@pytest.mark.parametrize(
    ("settings", "skipped_steps"),
    [
        ("restart_at_swap: false, max_consecutive: null", list(range(9, 21))),  # the hazard
        ("restart_at_swap: true, max_consecutive: null", []),
        ("restart_at_swap: false, max_consecutive: 3", [9, 10, 11]),
    ],
)
def test_a_swap_to_a_harder_corpus_is_not_skipped_forever(
    settings: str,
    skipped_steps: list[int],
    tiny_overrides,
    shards_dir: Path,
    tokenizer_dir: Path,
    tmp_path: Path,
) -> None:
    """skip_step after a swap whose loss level stays higher. Spikes never enter the window, so
    with neither guard every later step is a spike and skipped (never trained on);
    ``restart_at_swap`` starts the window over at the swap (no step skipped);
    ``max_consecutive`` takes 3 spikes in a row as a new level and starts over after them."""
    from transformers import AutoTokenizer

    vocab = len(AutoTokenizer.from_pretrained(tokenizer_dir))
    noise = _random_corpus(tmp_path / "noise", vocab)
    swap = "[{name: noise, at: 8ba, dataset: {local: '${variables.corpus_2}', split: train}}]"
    run_dir = tmp_path / "run"
    run_training(
        "yamls/tiny/mpt_hot_swap.yaml",
        tiny_overrides(
            run_dir,
            max_duration="20ba",
            eval_interval="20ba",
            save_interval="20ba",
            **{
                "variables.corpus_2": noise,
                "variables.corpus_3": noise,
                "callbacks.csmpt_hot_swap.swaps": swap,
                "callbacks.csmpt_loss_spike": "{window: 10, warmup: 4, zscore: 4, "
                f"action: skip_step, {settings}}}",
            },
        ),
    )
    events = [e for e in read_events(run_dir / "events.jsonl") if e.get("skipped")]
    assert [e["step"] for e in events] == skipped_steps
    if "max_consecutive: 3" in settings:
        assert "window_restarted" in events[-1] and "window_restarted" not in events[0]


@pytest.mark.slow
def test_rollback_under_fsdp2_loads_the_sharded_checkpoint(
    rolled_run: Path, tiny_overrides, tmp_path: Path
) -> None:
    """An FSDP2 run (2 gloo processes, ``state_dict_type: sharded``) saves DCP folders
    ``ep0-baN/``; the rollback finds the step-6 folder, every rank loads its shards, and the run
    goes on as the single-process run that rolled back to its step-6 ``.pt`` file."""
    import json

    run_dir = tmp_path / "run"
    spike = {**ROLLBACK, "callbacks.csmpt_inject_spike": "{at: 8, samples: [1], kind: adversarial}"}
    fsdp = "{version: 2, sharding_strategy: FULL_SHARD, state_dict_type: sharded}"
    cmd = [str(Path(sys.executable).parent / "csmpt"), "launch", "--scheduler", "local"]
    cmd += ["--nproc", "2", "--master-port", str(free_port()), "--log-dir", str(tmp_path / "logs")]
    cmd += ["yamls/tiny/mpt.yaml"]
    cmd += tiny_overrides(run_dir, **ROLLBACK_RUN, **spike, fsdp_config=fsdp)
    env = {k: v for k, v in os.environ.items() if k != "FSDP_VERSION"}
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=600, env=env)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]

    assert (run_dir / "ep0-ba6" / ".metadata").is_file()  # sharded: a DCP folder, not a .pt
    (event,) = [e for e in read_events(run_dir / "events.jsonl") if e["event"] == "rollback"]
    assert (event["step"], event["to"], event["skipped_steps"]) == (8, 6, [7, 8, 9])
    assert event["checkpoint"] == str(run_dir / "ep0-ba6")
    from csmpt.run_folder import loss_curve

    got = dict(loss_curve(run_dir / "metrics.jsonl"))
    want = dict(loss_curve(rolled_run / "metrics.jsonl"))
    assert sorted(got) == sorted(want) == list(range(1, 13))
    # Before the spike and after the rollback, both runs trained the same weights on the same
    # global batches (step 8's batch differs: each injected its own rows); 2 ranks' sums may
    # differ from 1's in the last bits.
    for step in [*range(1, 8), *range(9, 13)]:
        assert got[step] == pytest.approx(want[step], abs=1e-4), (step, json.dumps([got, want]))
