from __future__ import annotations

import importlib
from pathlib import Path

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
