"""csmpt inspect-batch: the reconstructed batch is exactly what the trainer saw, at every step."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from composer.core import Callback, State
from composer.loggers import Logger
from typer.testing import CliRunner

from csmpt.errors import CsmptError
from csmpt.forensics.inspect import inspect_batch
from csmpt.training import run_training

RECIPE = "yamls/tiny/mpt_hot_swap.yaml"


class Recorder(Callback):
    """Test helper: the token rows of every step's batch, as the model gets them."""

    rows: dict[int, list[list[int]]] = {}

    def batch_start(self, state: State, logger: Logger) -> None:
        del logger
        Recorder.rows[int(state.timestamp.batch) + 1] = [
            r.tolist() for r in state.batch["input_ids"]
        ]


@pytest.fixture(scope="module")
def swapped_resumed_run(
    tiny_overrides, shards_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> Path:
    """11 steps: cs_web, en_web after step 4, cs_crawl_clean after 9; stopped at 6 and resumed."""
    from llmfoundry.registry import callbacks

    callbacks.register("csmpt_test_batch_recorder", func=Recorder)
    Recorder.rows = {}
    run_dir = tmp_path_factory.mktemp("inspect") / "run"
    english = f"{{name: english, at: 4ba, dataset: {{local: '{shards_dir / 'en_web'}'}}}}"
    clean = f"{{name: clean, at: 9ba, dataset: {{local: '{shards_dir / 'cs_crawl_clean'}'}}}}"
    common = {
        "eval_interval": "20ba",
        "save_interval": "6ba",
        "callbacks.csmpt_test_batch_recorder": "{}",
    }
    first = {**common, "callbacks.csmpt_hot_swap.swaps": f"[{english}]"}
    run_training(RECIPE, tiny_overrides(run_dir, max_duration="6ba", **first))
    # Resumed at step 6, with corpus #3 added as a future swap.
    second = {**common, "callbacks.csmpt_hot_swap.swaps": f"[{english}, {clean}]"}
    run_training(RECIPE, tiny_overrides(run_dir, max_duration="11ba", **second))
    return run_dir


@pytest.mark.slow
def test_inspect_reproduces_the_tokens_of_every_step(swapped_resumed_run: Path) -> None:
    assert sorted(Recorder.rows) == list(range(1, 12))
    corpora = []
    for step in range(1, 12):
        view = inspect_batch(swapped_resumed_run, step)
        assert [s["tokens"] for s in view.samples] == Recorder.rows[step], f"step {step}"
        corpora.append(view.corpus)
    assert corpora == ["cs_web"] * 4 + ["english"] * 5 + ["clean"] * 2
    with pytest.raises(CsmptError, match=r"--step 12: the run ended at step 11"):
        inspect_batch(swapped_resumed_run, 12)


@pytest.mark.slow
def test_cli_prints_the_batch(
    swapped_resumed_run: Path, shards_dir: Path, tokenizer_dir: Path
) -> None:
    from csmpt.cli.app import app

    result = CliRunner().invoke(
        app, ["inspect-batch", "--run", str(swapped_resumed_run), "--step", "7", "--json"]
    )
    assert result.exit_code == 0, result.output
    out = json.loads(result.output)
    assert out["corpus"] == "english" and out["step"] == 7
    assert [s["tokens"] for s in out["samples"]] == Recorder.rows[7]
    assert all(Path(s["folder"]) == shards_dir / "en_web/train" for s in out["samples"])
    assert all(s["doc_ids"] and s["shard"].startswith("shard.") for s in out["samples"])
    # The document ids are right: the text after a sample's first EOS starts its second document.
    eos = json.loads((tokenizer_dir / "special_tokens_map.json").read_text())["eos_token"]
    eos = eos["content"] if isinstance(eos, dict) else eos
    checked = 0
    for s in out["samples"]:
        if len(s["doc_ids"]) >= 2:
            piece = s["text"].split(eos)[1]
            doc = Path(s["doc_ids"][1]).read_text(encoding="utf-8")
            assert len(piece) > 0 and doc.strip().startswith(piece.strip())
            checked += 1
    assert checked

    table = CliRunner().invoke(
        app, ["inspect-batch", "--run", str(swapped_resumed_run), "--step", "10"]
    )
    assert table.exit_code == 0 and "corpus clean" in table.output


@pytest.mark.slow
def test_two_ranks_split_the_same_global_batch(swapped_resumed_run: Path) -> None:
    one = inspect_batch(swapped_resumed_run, 3, world_size=1)
    two = inspect_batch(swapped_resumed_run, 3, world_size=2)
    assert [s["rank"] for s in two.samples] == [0] * 4 + [1] * 4
    assert sorted(s["sample"] for s in two.samples) == sorted(s["sample"] for s in one.samples)


def test_bad_run_folder_and_step(tmp_path: Path) -> None:
    with pytest.raises(CsmptError, match=r"config.yaml: not found"):
        inspect_batch(tmp_path, 3)
    (tmp_path / "config.yaml").write_text("train_loader: {dataset: {}}\n")
    with pytest.raises(CsmptError, match=r"--step 0: steps count from 1"):
        inspect_batch(tmp_path, 0)
