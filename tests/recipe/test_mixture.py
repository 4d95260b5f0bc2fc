"""Mixtures of corpora with streaming's `streams`: predicted shares, and what training reads."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from composer.core import Callback, State
from composer.loggers import Logger

from csmpt.errors import ConfigError, DataError
from csmpt.mds.reader import iter_samples
from csmpt.recipe.mixture import mixture_shares
from csmpt.training import run_training

RECIPE = "yamls/tiny/mpt_mixture.yaml"
CSMPT = str(Path(sys.executable).parent / "csmpt")


class RowRecorder(Callback):
    """Test helper: the token rows of every training batch."""

    rows: list[tuple[int, ...]] = []

    def batch_start(self, state: State, logger: Logger) -> None:
        del logger
        RowRecorder.rows.extend(tuple(r.tolist()) for r in state.batch["input_ids"])


def _streams(shards: Path, **weights: str) -> dict[str, dict[str, object]]:
    return {
        "cs_web": {"local": str(shards / "cs_web"), **_kw(weights["cs_web"])},
        "en_web": {"local": str(shards / "en_web"), **_kw(weights["en_web"])},
    }


def _kw(weight: str) -> dict[str, object]:
    key, value = weight.split("=")
    return {key: float(value) if "." in value else int(value)}


def test_repeat_multipliers_give_streamings_epoch(shards_dir: Path) -> None:
    n_web = sum(1 for _ in iter_samples(shards_dir / "cs_web/train"))
    n_en = sum(1 for _ in iter_samples(shards_dir / "en_web/train"))
    shares = mixture_shares(
        {
            "split": "train",
            "max_seq_len": 128,
            "streams": _streams(shards_dir, cs_web="repeat=4", en_web="repeat=0.2"),
        }
    )
    web, en = shares
    assert (web.samples, en.samples) == (n_web, n_en)
    assert (web.choose, en.choose) == (4 * n_web, int(0.2 * n_en))
    assert web.weight == "repeat 4" and en.weight == "repeat 0.2"
    assert web.token_share == pytest.approx(4 * n_web / (4 * n_web + int(0.2 * n_en)))
    assert web.tokens == 128 * web.choose


def test_proportions_and_bad_mixtures(shards_dir: Path, tmp_path: Path) -> None:
    shares = mixture_shares(
        {
            "split": "train",
            "epoch_size": "1k",
            "streams": _streams(shards_dir, cs_web="proportion=3", en_web="proportion=1"),
        }
    )
    assert [s.choose for s in shares] == [750, 250]
    assert [s.token_share for s in shares] == [0.75, 0.25]
    mixed = _streams(shards_dir, cs_web="proportion=3", en_web="repeat=2")
    with pytest.raises(ConfigError, match=r"train_loader.dataset.streams"):
        mixture_shares({"split": "train", "streams": mixed}, "train_loader.dataset")
    missing = _streams(shards_dir, cs_web="repeat=1", en_web="repeat=1")
    missing["en_web"]["local"] = str(tmp_path / "nowhere")
    with pytest.raises(DataError, match=r"nowhere/train: no MDS index.json"):
        mixture_shares({"split": "train", "streams": missing})
    with pytest.raises(ConfigError, match=r"streams.cs_web: unknown key\(s\) \['weight'\]"):
        mixture_shares({"split": "train", "streams": {"cs_web": {"local": "x", "weight": 2}}})
    two = _streams(shards_dir, cs_web="repeat=2", en_web="repeat=1")
    two["cs_web"]["proportion"] = 0.5  # streaming's own ValueError was a traceback
    with pytest.raises(ConfigError, match=r"streams.cs_web: At most one of `proportion`"):
        mixture_shares({"split": "train", "streams": two}, "train_loader.dataset")
    negative = _streams(shards_dir, cs_web="repeat=-2", en_web="repeat=1")
    with pytest.raises(ConfigError, match=r"streams.cs_web: `repeat` must be non-negative"):
        mixture_shares({"split": "train", "streams": negative}, "train_loader.dataset")


def test_train_preflight_checks_the_mixtures_weights(shards_dir: Path, tokenizer_dir: Path) -> None:
    """A bad weight fails before llm-foundry loads, not in every rank's data loader."""
    import importlib

    preflight = importlib.import_module("csmpt.training.preflight").preflight
    data = [f"variables.data_root={shards_dir}", f"variables.tokenizer_name={tokenizer_dir}"]
    preflight(RECIPE, data, deep=False)  # as shipped: fine
    bad = "train_loader.dataset.streams.cs_web.proportion=0.5"
    with pytest.raises(ConfigError, match=r"mpt_mixture.yaml: train_loader.dataset.streams.cs_w"):
        preflight(RECIPE, [*data, bad], deep=False)


@pytest.mark.slow
def test_training_reads_the_mixture_in_its_proportions(
    tiny_overrides, shards_dir: Path, tmp_path: Path
) -> None:
    from llmfoundry.registry import callbacks

    callbacks.register("csmpt_test_rows", func=RowRecorder)
    RowRecorder.rows = []
    streams = (
        # OmegaConf merges an override into the recipe's streams: null out their `repeat`.
        f"{{cs_web: {{local: '{shards_dir / 'cs_web'}', proportion: 3, repeat: null}}, "
        f"en_web: {{local: '{shards_dir / 'en_web'}', proportion: 1, repeat: null}}}}"
    )
    dataset = {
        "split": "train",
        "epoch_size": 64,
        "streams": _streams(shards_dir, cs_web="proportion=3", en_web="proportion=1"),
    }
    predicted = {s.name: s.choose for s in mixture_shares(dataset)}
    assert predicted == {"cs_web": 48, "en_web": 16}
    run_training(
        RECIPE,
        tiny_overrides(
            tmp_path / "run",
            max_duration="8ba",  # one epoch of 64 samples, batch 8
            eval_interval="8ba",
            save_interval="8ba",
            **{
                "train_loader.dataset.streams": streams,
                "train_loader.dataset.epoch_size": 64,
                "callbacks.csmpt_test_rows": "{}",
            },
        ),
    )
    web = {tuple(s["tokens"].tolist()) for s in iter_samples(shards_dir / "cs_web/train")}
    en = {tuple(s["tokens"].tolist()) for s in iter_samples(shards_dir / "en_web/train")}
    rows = RowRecorder.rows
    assert len(rows) == 64
    observed = {"cs_web": sum(r in web for r in rows), "en_web": sum(r in en for r in rows)}
    # Exactly streaming's per-epoch draw: a whole epoch is read, so no sampling tolerance.
    assert observed == predicted
    assert len(set(rows)) == 64, "an epoch smaller than the corpora draws each sample once"


def test_mixture_command_prints_the_shares(shards_dir: Path, tokenizer_dir: Path) -> None:
    out = subprocess.run(
        [CSMPT, "mixture", RECIPE, f"variables.data_root={shards_dir}"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert out.returncode == 0, out.stderr
    assert "repeat 2" in out.stdout and "repeat 0.5" in out.stdout and "%" in out.stdout
    bad = subprocess.run(
        [CSMPT, "mixture", "yamls/tiny/mpt.yaml"], capture_output=True, text=True, check=False
    )
    assert bad.returncode == 2
    assert "has no `streams`" in bad.stderr and "Traceback" not in bad.stderr
    # A misspelt override changed nothing and printed the recipe's own mixture, exit 0.
    typo = subprocess.run(
        [CSMPT, "mixture", RECIPE, f"variables.data_root={shards_dir}", "train_loadr.x=1"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert typo.returncode == 2 and "'train_loadr=...' is not a top-level key" in typo.stderr


def test_the_mixture_recipe_is_mpt_with_streams(repo: Path) -> None:
    from csmpt.config import load_yaml_with_overrides

    base = load_yaml_with_overrides(repo / "yamls/tiny/mpt.yaml")
    mix = load_yaml_with_overrides(repo / RECIPE)
    expected = base.copy()
    expected["variables"]["run_name"] = "tiny-mpt-mixture"
    expected["variables"]["mix_en"] = mix["variables"]["mix_en"]
    del expected["train_loader"]["dataset"]["local"]
    expected["train_loader"]["dataset"]["streams"] = mix["train_loader"]["dataset"]["streams"]
    assert mix == expected, "mpt_mixture.yaml must stay mpt.yaml with a streams train_loader"
