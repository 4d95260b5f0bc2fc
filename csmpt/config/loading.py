"""Read a YAML config and apply ``key=value`` overrides, as llm-foundry's train script does."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml
from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException

from csmpt.errors import ConfigError

__all__ = ["load_yaml_with_overrides", "parse_overrides"]


def parse_overrides(overrides: Sequence[str]) -> DictConfig:
    """Parse ``key=value`` overrides (dotted keys, YAML values) into a config.

    Raises:
        ConfigError: An override is not of the form ``key=value``.
    """
    for item in overrides:
        key, sep, _ = item.partition("=")
        if not sep or not key.strip():
            raise ConfigError(
                f"override '{item}' is not of the form key=value (e.g. max_duration=10ba)"
            )
    try:
        return OmegaConf.from_dotlist(list(overrides))
    except OmegaConfBaseException as e:
        raise ConfigError(f"cannot parse overrides {list(overrides)}: {e}") from None


def load_yaml_with_overrides(path: str | Path, overrides: Sequence[str] = ()) -> DictConfig:
    """Load ``path`` as an OmegaConf config and merge ``overrides`` into it (not resolved).

    Raises:
        ConfigError: The file is missing, is not valid YAML, or is not a mapping.
    """
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"{path}: config file does not exist")
    try:
        text = path.read_text(encoding="utf-8")
        raw: Any = yaml.safe_load(text)
    except UnicodeDecodeError as e:
        raise ConfigError(f"{path}: not valid UTF-8 ({e.reason} at byte {e.start})") from None
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f"{path}:{mark.line + 1}" if mark is not None else str(path)
        problem = getattr(e, "problem", None) or str(e).splitlines()[0]
        raise ConfigError(f"{where}: invalid YAML ({problem})") from None
    if not isinstance(raw, dict):
        raise ConfigError(
            f"{path}: expected a mapping of keys at the top level, got {type(raw).__name__}"
        )
    cfg = OmegaConf.create(raw)
    merged = OmegaConf.merge(cfg, parse_overrides(overrides))
    assert isinstance(merged, DictConfig)
    return merged
