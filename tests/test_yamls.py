"""Every training YAML in yamls/ parses into llm-foundry's config and builds its model on meta."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
YAMLS = sorted(p.relative_to(REPO) for p in (REPO / "yamls").rglob("*.yaml"))


def test_there_are_recipes() -> None:
    assert Path("yamls/tiny/mpt.yaml") in YAMLS and Path("yamls/tiny/llama.yaml") in YAMLS


@pytest.mark.parametrize("yaml_path", YAMLS, ids=str)
def test_recipe_parses_and_builds_on_meta(
    yaml_path: Path, tokenizer_dir: Path, shards_dir: Path
) -> None:
    import torch
    from llmfoundry.utils.builders import build_composer_model, build_tokenizer
    from llmfoundry.utils.config_utils import (
        TRAIN_CONFIG_KEYS,
        TrainConfig,
        make_dataclass_and_log_config,
    )

    from csmpt.training import preflight

    overrides = [f"tokenizer.name={tokenizer_dir}", f"variables.data_root={shards_dir}"]
    cfg = preflight(REPO / yaml_path, overrides)
    _, train_cfg = make_dataclass_and_log_config(
        cfg, TrainConfig, TRAIN_CONFIG_KEYS, transforms="all"
    )
    model_cfg = copy.deepcopy(train_cfg.model)
    name = model_cfg.pop("name")
    model_cfg["init_device"] = "meta"
    tokenizer = build_tokenizer(train_cfg.tokenizer["name"], train_cfg.tokenizer.get("kwargs", {}))
    model = build_composer_model(name=name, cfg=model_cfg, tokenizer=tokenizer)
    params = list(model.parameters())
    assert params and all(p.device == torch.device("meta") for p in params)
    n_params = sum(p.numel() for p in params)
    assert n_params > 0
    print(f"{yaml_path}: {n_params:,} parameters")
