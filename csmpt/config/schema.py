"""Check a loaded config against a dataclass schema and report mistakes by file, line and key."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, TypeVar

from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import (
    ConfigKeyError,
    InterpolationResolutionError,
    MissingMandatoryValue,
    OmegaConfBaseException,
)

from csmpt.config.yaml_lines import describe_key
from csmpt.errors import ConfigError

__all__ = ["build_structured"]

T = TypeVar("T")

_INDEX = re.compile(r"\[(\d+)\]")


def _dotted(full_key: object) -> str:
    """Turn OmegaConf's ``corpora[0].name`` into ``corpora.0.name``."""
    return _INDEX.sub(r".\1", str(full_key)).strip(".")


def build_structured(schema: type[T], cfg: DictConfig, path: str | Path | None) -> T:
    """Validate ``cfg`` against the dataclass ``schema`` and return an instance of it.

    Args:
        schema: A dataclass type; its fields are the allowed keys.
        cfg: The loaded config (interpolations are resolved here).
        path: The YAML file the config came from, for error messages.

    Raises:
        ConfigError: Unknown key, missing required key, wrong type, or a broken interpolation.
    """
    name = schema.__name__
    try:
        merged = OmegaConf.merge(OmegaConf.structured(schema), cfg)
        obj: Any = OmegaConf.to_object(merged)
    except ConfigKeyError as e:
        key = _dotted(e.full_key)
        raise ConfigError(
            f"{describe_key(path, key)} is not a {name} setting; allowed here: "
            f"{_allowed_near(schema, key)}"
        ) from None
    except MissingMandatoryValue as e:
        key = _dotted(e.full_key)
        where = f"{path}: " if path is not None else ""
        raise ConfigError(f"{where}required key '{key}' is missing") from None
    except InterpolationResolutionError as e:
        raise ConfigError(f"{describe_key(path, _dotted(e.full_key))}: {e.msg}") from None
    except OmegaConfBaseException as e:
        raise ConfigError(f"{describe_key(path, _dotted(e.full_key))}: {e.msg}") from None
    assert isinstance(obj, schema)
    return obj


def _allowed_near(schema: type[Any], dotted_key: str) -> str:
    """List the keys allowed at the level of ``dotted_key`` (following nested dataclasses)."""
    import dataclasses
    import typing

    cls: Any = schema
    for part in dotted_key.split(".")[:-1]:
        if part.isdigit():
            continue
        hints = typing.get_type_hints(cls)
        tp = hints.get(part)
        args = typing.get_args(tp)
        inner = args[0] if args else tp
        if not dataclasses.is_dataclass(inner):
            break
        cls = inner
    if not dataclasses.is_dataclass(cls):
        return "(see the docs)"
    return ", ".join(f.name for f in dataclasses.fields(cls))
