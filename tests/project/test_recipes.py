"""The reproduction recipes (yamls/csmpt7b/, yamls/llama/): the CSMPT7b card's hyperparameter
table, parameter counts on the meta device, and each recipe trained in miniature on CPU with its
folder's documented overrides (the real files, not copies)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from omegaconf import OmegaConf

from csmpt.config import load_yaml_with_overrides
from csmpt.run_folder import read_metrics

REPO = Path(__file__).resolve().parents[2]
CSMPT7B = "yamls/csmpt7b/csmpt7b.yaml"
LLAMA = [
    "yamls/llama/llama3_8b_cpt.yaml",
    "yamls/llama/llama3_6b_downcycled.yaml",
    "yamls/llama/lucie_ctx32k.yaml",
]


def _resolved(path: str, overrides: list[str] | None = None) -> dict[str, Any]:
    cfg = OmegaConf.to_container(
        load_yaml_with_overrides(REPO / path, overrides or []), resolve=True
    )
    assert isinstance(cfg, dict)
    return cfg  # type: ignore[return-value]


def _get(cfg: dict[str, Any], dotted: str) -> Any:
    for part in dotted.split("."):
        cfg = cfg[int(part)] if isinstance(cfg, list) else cfg[part]
    return cfg


# The model card's "Hyperparameters" table, row by row: (row, key in the YAML, value).
CARD_TABLE = [
    ("training sw: llm-foundry", "model.name", "mpt_causal_lm"),
    ("dataset_type: Concat (EOS-joined MDS from csmpt prep)", "train_loader.name", "text"),
    ("tokenizer_size: 64k", "model.vocab_size", 64000),
    ("max_seq_len: 2048", "max_seq_len", 2048),
    ("max_seq_len: 2048 (model)", "model.max_seq_len", 2048),
    ("max_seq_len: 2048 (data)", "train_loader.dataset.max_seq_len", 2048),
    ("batch_size: 1024", "global_train_batch_size", 1024),
    ("learning_rate: 1.0e-4", "optimizer.lr", 1.0e-4),
    ("optimizer: LionW", "optimizer.name", "csmpt_lionw"),
    ("optimizer_betas: 0.9/0.95", "optimizer.betas", [0.9, 0.95]),
    ("optimizer_weight_decay: 0", "optimizer.weight_decay", 0.0),
    ("optimizer_eps: 1.0e-08 (LionW has none)", "variables.optimizer_eps", 1.0e-8),
    ("gradient_clipping_max_norm: 1.0", "algorithms.gradient_clipping.clipping_type", "norm"),
    ("gradient_clipping_max_norm: 1.0", "algorithms.gradient_clipping.clipping_threshold", 1.0),
    ("attn_impl: flash2", "model.attn_config.attn_impl", "flash"),
    ("positional_encoding: alibi", "model.attn_config.alibi", True),
    ("fsdp: FULL_SHARD", "fsdp_config.sharding_strategy", "FULL_SHARD"),
    ("precision: bf16", "precision", "amp_bf16"),
    ("scheduler: cosine", "scheduler.name", "cosine_with_warmup"),
    ("scheduler_warmup: 100 steps", "scheduler.t_warmup", "100ba"),
    ("scheduler_steps: 170,000", "scheduler.t_max", "170000ba"),
    ("scheduler_alpha: 0.1", "scheduler.alpha_f", 0.1),
    # Beyond the table: the card's text.
    ("MPT-7B shape", "model.d_model", 4096),
    ("MPT-7B shape", "model.n_layers", 32),
    ("MPT-7B shape", "model.n_heads", 32),
    ("MPT-7B shape", "model.expansion_ratio", 4),
    ("170,000 steps in all", "max_duration", "170000ba"),
    ("hot-swap #1 -> #2", "callbacks.csmpt_hot_swap.swaps.0.at", "26500ba"),
    ("hot-swap #2 -> #3 (card: near 120,000)", "callbacks.csmpt_hot_swap.swaps.1.at", "119500ba"),
    ("CS-HellaSwag", "icl_tasks.0.dataset_uri", "hf://CZLC/cs_hellaswag"),
    ("CS-HellaSwag", "icl_tasks.0.hf_loading_vars.split", "test"),
    ("CS-HellaSwag", "icl_tasks.0.icl_task_type", "multiple_choice"),
    ("CS-HellaSwag 0- and 3-shot", "icl_tasks.0.num_fewshot", [0, 3]),
    ("loss spikes logged", "callbacks.csmpt_loss_spike.action", "log"),
    ("resumable", "autoresume", True),
]


@pytest.mark.parametrize(
    ("row", "key", "value"), CARD_TABLE, ids=[f"{r} [{k}]" for r, k, _ in CARD_TABLE]
)
def test_csmpt7b_recipe_has_the_card_value(row: str, key: str, value: object) -> None:
    assert _get(_resolved(CSMPT7B), key) == value, row


def test_csmpt7b_hot_swap_corpora_and_lionw_takes_no_eps() -> None:
    import inspect

    from csmpt.optim.lionw import LionW

    cfg = _resolved(CSMPT7B)
    swap = cfg["callbacks"]["csmpt_hot_swap"]
    root = cfg["variables"]["data_root"]
    assert cfg["train_loader"]["dataset"]["local"] == f"{root}/cs_web"
    assert [s["dataset"]["local"] for s in swap["swaps"]] == [
        f"{root}/cs_crawl",
        f"{root}/cs_crawl_clean",
    ]
    assert "eps" not in inspect.signature(LionW).parameters and "eps" not in cfg["optimizer"]


def test_lucie_like_context_extension_values() -> None:
    cfg = _resolved("yamls/llama/lucie_ctx32k.yaml")
    assert cfg["model"]["config_overrides"]["rope_theta"] == 20_000_000
    assert json.loads((REPO / "yamls/llama/llama-3-8b/config.json").read_text())["rope_theta"] == (
        500_000
    )
    assert cfg["max_seq_len"] == cfg["model"]["config_overrides"]["max_position_embeddings"]
    assert cfg["max_seq_len"] == 32000
    assert (cfg["global_train_batch_size"], cfg["optimizer"]["lr"]) == (128, 2.0e-5)
    assert cfg["train_loader"]["dataset"]["max_seq_len"] == 32000


@pytest.mark.parametrize("recipe", [CSMPT7B, *LLAMA], ids=str)
def test_fsdp_config_is_composers(recipe: str) -> None:
    # FSDP needs GPUs; its config is checked here as Composer will read it on a cluster.
    from composer.utils.parallelism import FSDPConfig

    fsdp = FSDPConfig(**_resolved(recipe)["fsdp_config"])
    assert (fsdp.sharding_strategy, fsdp.mixed_precision) == ("FULL_SHARD", "PURE")


def _mpt_params(vocab: int, d: int, layers: int) -> int:
    # embedding (tied with the output) + per block: Wqkv, out_proj, 2 FFN (4x), 2 norm weights.
    return vocab * d + layers * (4 * d * d + 2 * 4 * d * d + 2 * d) + d


def _llama_params(vocab: int, d: int, layers: int, kv: int, ffn: int) -> int:
    # untied in/out embeddings + per layer: q, o (d x d), k, v (d x kv), 3 MLP, 2 RMSNorms.
    return 2 * vocab * d + layers * (2 * d * d + 2 * d * kv + 3 * d * ffn + 2 * d) + d


EXPECTED_PARAMS = {
    CSMPT7B: _mpt_params(64000, 4096, 32),  # MPT-7B (6,649,286,656 at 50,432 tokens) + 64k vocab
    "yamls/llama/llama3_8b_cpt.yaml": _llama_params(128256, 4096, 32, 1024, 14336),
    "yamls/llama/llama3_6b_downcycled.yaml": _llama_params(128256, 4096, 24, 1024, 14336),
    "yamls/llama/lucie_ctx32k.yaml": _llama_params(128256, 4096, 32, 1024, 14336),
}


def test_expected_counts_are_the_published_ones() -> None:
    assert _mpt_params(50432, 4096, 32) == 6_649_286_656  # MPT-7B
    assert EXPECTED_PARAMS["yamls/llama/llama3_8b_cpt.yaml"] == 8_030_261_248  # Llama-3-8B


# Each recipe is built on the meta device, its count checked against EXPECTED_PARAMS,
# by tests/project/test_yamls.py (with the overrides it gives every recipe: local tokenizer, the
# shipped Llama-3-8B config instead of hub weights, torch attention where flash-attn is missing).


def miniature_overrides(recipe: str) -> list[str]:
    """The documented miniature overrides of a recipe's folder (``miniature.overrides``)."""
    lines = (REPO / recipe).parent.joinpath("miniature.overrides").read_text().splitlines()
    return [x.strip() for x in lines if x.strip() and not x.lstrip().startswith("#")]


@pytest.mark.slow
def test_every_recipe_trains_in_miniature(
    tokenizer_dir: Path, shards_dir: Path, tmp_path: Path
) -> None:
    from csmpt.training import run_training

    for recipe in [CSMPT7B, *LLAMA]:
        run_dir = tmp_path / Path(recipe).stem
        mini = miniature_overrides(recipe)
        assert not any(" " in x for x in mini), "the README runs them through $(grep ...)"
        trainer = run_training(
            recipe,
            [
                *mini,
                f"variables.data_root={shards_dir}",
                f"variables.tokenizer_name={tokenizer_dir}",
                f"variables.save_folder={run_dir}",
            ],
        )
        steps = int(trainer.state.timestamp.batch)
        assert steps == int(_resolved(recipe, mini)["max_duration"].removesuffix("ba"))
        records = read_metrics(run_dir / "metrics.jsonl")
        losses = [r["loss/train/total"] for r in records if "loss/train/total" in r]
        assert len(losses) == steps and all(0 < x < 20 for x in losses), recipe
        icl = {k for r in records for k in r if k.startswith("metrics/cs_hellaswag/")}
        assert {k.split("/")[2] for k in icl} == {"0-shot", "3-shot"}, recipe
        # The local MLflow file store (no account) got every step's loss too.
        (mlflow_loss,) = (run_dir / "mlruns").rglob("metrics/loss/train/total")
        assert len(mlflow_loss.read_text().splitlines()) == steps, recipe
        model = trainer.state.model
        if recipe == CSMPT7B:
            events = [json.loads(x) for x in (run_dir / "events.jsonl").read_text().splitlines()]
            swaps = [(e["step"], e["to"]) for e in events if e["event"] == "swap"]
            assert swaps == [(2, "cs_crawl"), (4, "cs_crawl_clean")]
            assert model.model.config.attn_config["alibi"] is True
        else:
            config = model.model.config
            assert (config.num_hidden_layers, config.hidden_size) == (2, 64)
            theta = 20_000_000 if "ctx32k" in recipe else 500_000
            assert config.rope_theta == theta, recipe
