"""Check a loaded config against a dataclass schema and report mistakes by file, line and key."""

from __future__ import annotations

import dataclasses
import re
import typing
from pathlib import Path
from typing import Any, TypeVar

from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import (
    InterpolationResolutionError,
    MissingMandatoryValue,
    OmegaConfBaseException,
)

from csmpt.config.yaml_lines import describe_key
from csmpt.errors import ConfigError

__all__ = ["at_least", "build_structured", "in_range"]

T = TypeVar("T")

_INDEX = re.compile(r"\[(\d+)\]")


def _dotted(full_key: object) -> str:
    """Turn OmegaConf's ``corpora[0].name`` into ``corpora.0.name``."""
    return _INDEX.sub(r".\1", str(full_key)).strip(".")


def _nested_schema(tp: Any) -> tuple[type[Any] | None, bool]:
    """(dataclass, is_list) for a field typed ``SomeDataclass`` or ``list[SomeDataclass]``."""
    if dataclasses.is_dataclass(tp) and isinstance(tp, type):
        return tp, False
    args = typing.get_args(tp)
    if typing.get_origin(tp) is list and args and isinstance(args[0], type):
        if dataclasses.is_dataclass(args[0]):
            return args[0], True
    return None, False


def _unknown_key(schema: type[Any], value: Any, prefix: str) -> tuple[str, type[Any]] | None:
    """The dotted path of the first key ``schema`` does not define, and the schema it is in."""
    if not isinstance(value, dict):
        return None
    hints = typing.get_type_hints(schema)
    for key, sub in value.items():
        path = f"{prefix}{key}"
        if key not in hints:
            return path, schema
        inner, is_list = _nested_schema(hints[key])
        if inner is None:
            continue
        items = enumerate(sub) if is_list and isinstance(sub, list) else [(None, sub)]
        for i, item in items:
            found = _unknown_key(inner, item, f"{path}.{i}." if i is not None else f"{path}.")
            if found:
                return found
    return None


def at_least(minimum: float) -> dict[str, float]:
    """Field metadata: the value must be ``>= minimum`` (checked by :func:`build_structured`).

    Example: ``max_seq_len: int = field(default=2048, metadata=at_least(1))``.
    """
    return {"min": minimum}


def in_range(minimum: float, below: float) -> dict[str, float]:
    """Field metadata: ``minimum <= value < below`` (checked by :func:`build_structured`)."""
    return {"min": minimum, "below": below}


def _allowed(meta: Any) -> str:
    lo = meta["min"]
    lo_text = str(int(lo)) if float(lo).is_integer() else str(lo)
    if "below" in meta:
        return f"a number in [{lo_text}, {meta['below']})"
    return f"a number >= {lo_text}"


def _out_of_range(obj: Any, prefix: str) -> tuple[str, Any, str] | None:
    """(dotted key, value, allowed) of the first field outside its ``at_least``/``in_range``."""
    for f in dataclasses.fields(obj):
        value = getattr(obj, f.name)
        key = f"{prefix}{f.name}"
        if "min" in f.metadata and isinstance(value, int | float) and value is not None:
            below = f.metadata.get("below")
            if value < f.metadata["min"] or (below is not None and value >= below):
                return key, value, _allowed(f.metadata)
        items = enumerate(value) if isinstance(value, list) else [(None, value)]
        for i, item in items:
            if dataclasses.is_dataclass(item) and not isinstance(item, type):
                found = _out_of_range(item, f"{key}.{i}." if i is not None else f"{key}.")
                if found:
                    return found
    return None


def build_structured(schema: type[T], cfg: DictConfig, path: str | Path | None) -> T:
    """Validate ``cfg`` against the dataclass ``schema`` and return an instance of it.

    Args:
        schema: A dataclass type; its fields are the allowed keys.
        cfg: The loaded config (interpolations are resolved here).
        path: The YAML file the config came from, for error messages.

    Raises:
        ConfigError: Unknown key, missing required key, wrong type, a broken interpolation, or
            a number outside its field's :func:`at_least` / :func:`in_range`.
    """
    raw = OmegaConf.to_container(cfg, resolve=False)
    found = _unknown_key(schema, raw, "")
    if found is not None:
        key, where = found
        allowed = ", ".join(f.name for f in dataclasses.fields(where))
        raise ConfigError(
            f"{describe_key(path, key)} is not a {where.__name__} setting; allowed here: {allowed}"
        )
    try:
        merged = OmegaConf.merge(OmegaConf.structured(schema), cfg)
        obj: Any = OmegaConf.to_object(merged)
    except MissingMandatoryValue as e:
        prefix = f"{path}: " if path is not None else ""
        raise ConfigError(f"{prefix}required key '{_dotted(e.full_key)}' is missing") from None
    except InterpolationResolutionError as e:
        raise ConfigError(f"{describe_key(path, _dotted(e.full_key))}: {e.msg}") from None
    except OmegaConfBaseException as e:
        msg = str(e.msg).split("\n", 1)[0]  # a list item's message carries full_key lines
        raise ConfigError(f"{describe_key(path, _dotted(e.full_key))}: {msg}") from None
    assert isinstance(obj, schema)
    bad = _out_of_range(obj, "")
    if bad is not None:
        key, value, allowed = bad
        raise ConfigError(f"{describe_key(path, key)} is {value!r}; expected {allowed}")
    return obj
