from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any

import pytest
import tomllib

PYPROJECT = tomllib.loads((Path(__file__).resolve().parents[2] / "pyproject.toml").read_text())
ENTRY_POINTS = [
    (group, key, target)
    for group, entries in PYPROJECT["project"]["entry-points"].items()
    if group.startswith("llmfoundry_")
    for key, target in entries.items()
]


def test_there_are_registered_components() -> None:
    assert {g for g, _, _ in ENTRY_POINTS} >= {
        "llmfoundry_loggers",
        "llmfoundry_callbacks_with_config",
    }


@pytest.mark.parametrize(("group", "key", "target"), ENTRY_POINTS)
def test_registered_key_resolves_from_llm_foundry(group: str, key: str, target: str) -> None:
    from llmfoundry import registry

    module, attr = target.split(":")
    expected = getattr(importlib.import_module(module), attr)
    reg = getattr(registry, group.removeprefix("llmfoundry_"))
    assert reg.get(key) is expected
    assert key.startswith("csmpt_"), "keys carry the csmpt_ prefix"
    assert expected.__doc__, "every registered component has a docstring"


def test_keys_do_not_shadow_llm_foundry_builtins() -> None:
    from llmfoundry import registry

    for group, key, target in ENTRY_POINTS:
        reg = getattr(registry, group.removeprefix("llmfoundry_"))
        others = {k: v for k, v in reg.get_all().items() if k != key}
        assert key not in others
        assert reg.get(key).__module__.startswith("csmpt."), target


# The arguments a user must give (no default), for the components that have any: each is built
# with exactly these. A new component with a required argument must be added here.
REQUIRED_KWARGS: dict[str, dict[str, object]] = {
    "csmpt_jsonl": {"path": "metrics.jsonl"},
    "csmpt_wsd": {"t_warmup": "2ba", "t_decay": "4ba"},
    "csmpt_inject_spike": {"at": 3},
    "csmpt_hot_swap": {"swaps": [{"name": "second", "at": "5ba", "dataset": {"local": "corpus"}}]},
    "csmpt_batch_ramp": {"start": 8, "increment": 8, "ramp": "64sp"},  # recipe batch: 16
    "csmpt_freeze": {"stages": [{"until": "4ba", "train": ["wte"]}]},
}


def _required_parameters(target: str) -> set[str]:
    import inspect

    module, attr = target.split(":")
    obj = getattr(importlib.import_module(module), attr)
    if not inspect.isclass(obj):
        return set()
    params = inspect.signature(obj.__init__).parameters.values()
    return {
        p.name
        for p in params
        if p.name not in ("self", "train_config", "params")
        and p.default is inspect.Parameter.empty
        and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)
    }


def test_required_arguments_table_is_exact() -> None:
    needed = {key: _required_parameters(t) for _, key, t in ENTRY_POINTS}
    assert {k: set(v) for k, v in REQUIRED_KWARGS.items()} == {k: v for k, v in needed.items() if v}


@pytest.mark.parametrize(("group", "key", "target"), ENTRY_POINTS)
def test_every_registered_component_builds_from_its_defaults(
    group: str, key: str, target: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Built by llm-foundry's own builders, as a recipe would, with only the required keys."""
    import torch
    from llmfoundry.utils.builders import (
        build_callback,
        build_logger,
        build_optimizer,
        build_scheduler,
    )
    from omegaconf import OmegaConf

    monkeypatch.chdir(tmp_path)
    (tmp_path / "corpus" / "train").mkdir(parents=True)  # the hot swap's corpus folder
    (tmp_path / "corpus" / "train" / "index.json").write_text('{"version": 2, "shards": []}')
    kwargs = dict(REQUIRED_KWARGS.get(key, {}))
    repo = Path(__file__).resolve().parents[2]
    train_config: Any = OmegaConf.to_container(OmegaConf.load(repo / "yamls/tiny/mpt.yaml"))
    train_config["global_train_batch_size"] = 16
    train_config["device_train_microbatch_size"] = 8
    train_config["device_train_batch_size"] = 16  # set by llm-foundry before callbacks build
    kind = group.removeprefix("llmfoundry_")
    if kind == "callbacks":
        built = build_callback(key, kwargs)
    elif kind == "callbacks_with_config":
        built = build_callback(key, kwargs, train_config=train_config)
    elif kind == "loggers":
        built = build_logger(key, kwargs)
    elif kind == "optimizers":
        built = build_optimizer(torch.nn.Linear(2, 2), key, {"lr": 1e-3, **kwargs})
    elif kind == "schedulers":
        built = build_scheduler(key, kwargs)
    else:  # attention functions, models, config transforms: resolved above, built elsewhere
        pytest.skip(f"{kind} are functions or models, built by the training tests")
    module, attr = target.split(":")
    assert isinstance(built, getattr(importlib.import_module(module), attr))
