"""fsdp_config.version: the recipe key that chooses Composer's FSDP1 or FSDP2 path."""

from __future__ import annotations

import pytest

from csmpt.errors import ConfigError
from csmpt.training.fsdp_version import ENV, fsdp_version


def test_the_key_sets_the_environment_and_leaves_composer_a_config_it_accepts(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from composer.utils.parallelism import FSDP2Config, FSDPConfig

    monkeypatch.delenv(ENV, raising=False)
    cfg = {"fsdp_config": {"version": 2, "state_dict_type": "sharded"}, "seed": 1}
    out = fsdp_version(cfg)
    assert out["fsdp_config"] == {"state_dict_type": "sharded"} and out["seed"] == 1
    assert __import__("os").environ[ENV] == "2"
    FSDPConfig(**out["fsdp_config"])  # no unknown key left for Composer's FSDP1 config ...
    assert FSDP2Config.from_compatible_attrs(out["fsdp_config"]).state_dict_type == "sharded"
    monkeypatch.setenv(ENV, "2")  # the recipe wins over the environment
    fsdp_version({"fsdp_config": {"version": "1"}})
    assert __import__("os").environ[ENV] == "1"


def test_no_key_leaves_the_environment_alone(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(ENV, "2")
    cfg = {"fsdp_config": {"sharding_strategy": "FULL_SHARD"}}
    assert fsdp_version(cfg) == {"fsdp_config": {"sharding_strategy": "FULL_SHARD"}}
    assert fsdp_version({"fsdp_config": None}) == {"fsdp_config": None}
    assert __import__("os").environ[ENV] == "2"


@pytest.mark.parametrize("bad", [3, "fsdp2", True, None])
def test_a_bad_version_is_one_line_naming_the_key(bad: object) -> None:
    with pytest.raises(ConfigError, match=r"key 'fsdp_config.version' is .*use 1 \(FSDP1"):
        fsdp_version({"fsdp_config": {"version": bad}})


def test_llm_foundry_applies_it_to_every_training_config() -> None:
    from llmfoundry.registry import config_transforms

    assert config_transforms.get("csmpt_fsdp_version") is fsdp_version
