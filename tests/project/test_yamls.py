"""Every training YAML in yamls/ parses into llm-foundry's config and builds its model on meta."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
YAMLS = sorted(
    p.relative_to(REPO)
    for p in (REPO / "yamls").rglob("*.yaml")
    # surgery YAMLs: tests/test_surgery_yamls.py; ablation specs: tests/ablate/test_ablate.py;
    # base-model builds: tests/base/test_base_build.py
    if not {"surgery", "ablate", "builds"} & set(p.relative_to(REPO).parts)
)


def _has_flash_attn() -> bool:
    import importlib.util

    return importlib.util.find_spec("flash_attn") is not None


def test_there_are_recipes() -> None:
    assert Path("yamls/tiny/mpt.yaml") in YAMLS and Path("yamls/tiny/llama.yaml") in YAMLS


@pytest.mark.parametrize("yaml_path", YAMLS, ids=str)
def test_recipe_parses_and_builds_on_meta(
    yaml_path: Path, tokenizer_dir: Path, shards_dir: Path, tmp_path: Path
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
    # Not the recipe's own save_folder: after `make demo` it holds a run of the demo's tokenizer,
    # which preflight rightly refuses to resume with the session's.
    overrides.append(f"save_folder={tmp_path / 'run'}")
    if yaml_path.parts[:2] == ("yamls", "base"):  # csmpt base build's folders: one corpus each
        for name in ("train", "held_out", "en_held_out", "en_train"):
            (tmp_path / name).symlink_to(shards_dir / "cs_web")
        overrides[1] = f"variables.data_root={tmp_path}"
    if yaml_path.name == "mpt_en.yaml":  # English vocabulary; built here with the Czech tokenizer
        overrides.append("model.vocab_size=4096")
    if "shape_config:" in (REPO / yaml_path).read_text():  # hub weights: build the shipped shape
        overrides += ["variables.base_model=${variables.shape_config}", "model.pretrained=false"]
    if "attn_impl: flash" in (REPO / yaml_path).read_text() and not _has_flash_attn():
        overrides.append("model.attn_config.attn_impl=torch")  # same parameters, no CUDA kernels
    if "use_flash_attention_2: true" in (REPO / yaml_path).read_text() and not _has_flash_attn():
        overrides.append("model.use_flash_attention_2=false")
    if "cs_hellaswag: hf://" in (REPO / yaml_path).read_text():  # offline: the shipped sample
        overrides.append("variables.cs_hellaswag=data/samples/cs_hellaswag.jsonl")
    if "\nload_path:" in (REPO / yaml_path).read_text():  # a cluster's or the demo's checkpoint
        overrides.append("load_path=null")  # (preflight refuses a missing one; none is loaded)
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
    from test_recipes import EXPECTED_PARAMS  # reproduction recipes: the published counts

    assert n_params == EXPECTED_PARAMS.get(str(yaml_path), n_params)
