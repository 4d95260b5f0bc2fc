"""Read a YAML config and apply ``key=value`` overrides, as llm-foundry's train script does.

An override ``@FILE`` stands for the ``key=value`` lines of an overrides file, one per line
(``#`` comments and blank lines skipped). A line ``[NAME]`` starts a section that applies only to
the config file named ``NAME`` (e.g. ``[train.yaml]``); lines before the first section apply to
every config. So one file can shrink a whole pipeline, each command taking its own section::

    csmpt prep prep.yaml @miniature.overrides
    csmpt train train.yaml @miniature.overrides
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml
from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException

from csmpt.errors import ConfigError

__all__ = ["apply_overrides", "expand_overrides", "load_yaml_with_overrides", "parse_overrides"]


def _file_overrides(file: Path, config_name: str) -> list[str]:
    """The ``key=value`` lines of an overrides file that apply to the config ``config_name``."""
    try:
        lines = file.read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        raise ConfigError(f"@{file}: overrides file does not exist") from None
    except (OSError, UnicodeDecodeError) as e:
        raise ConfigError(f"@{file}: cannot read the overrides file ({e})") from None
    out: list[str] = []
    section: str | None = None
    for number, raw in enumerate(lines, 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("[") and line.endswith("]"):
            section = line[1:-1].strip()
            if not section:
                raise ConfigError(f"{file}:{number}: empty section name '[]'")
            continue
        key, sep, _ = line.partition("=")
        if not sep or not key.strip() or line.startswith("@"):
            raise ConfigError(
                f"{file}:{number}: '{line}' is not of the form key=value "
                "(or a [config.yaml] section header)"
            )
        if section is None or section == config_name:
            out.append(line)
    return out


def expand_overrides(config: str | Path, overrides: Sequence[str]) -> list[str]:
    """``overrides`` with each ``@FILE`` replaced by its lines for ``config`` (module docstring).

    Raises:
        ConfigError: An overrides file is missing or has a line that is not ``key=value``.
    """
    name = Path(config).name
    out: list[str] = []
    for item in overrides:
        if item.startswith("@"):
            out.extend(_file_overrides(Path(item[1:]), name))
        else:
            out.append(item)
    return out


def parse_overrides(overrides: Sequence[str]) -> list[dict[str, Any]]:
    """Parse ``key=value`` overrides (YAML values, interpolations kept) one by one.

    Returns:
        One ``{"_": value}`` per override, in order.

    Raises:
        ConfigError: An override is not of the form ``key=value`` or its value is not YAML.
    """
    out: list[dict[str, Any]] = []
    for item in overrides:
        key, sep, value = item.partition("=")
        if not sep or not key.strip() or any(not p for p in key.strip().split(".")):
            raise ConfigError(
                f"override '{item}' is not of the form key=value (e.g. max_duration=10ba)"
            )
        try:
            parsed = OmegaConf.to_container(OmegaConf.from_dotlist([f"_={value}"]), resolve=False)
        except OmegaConfBaseException as e:
            raise ConfigError(f"override '{item}': cannot parse the value ({e.msg})") from None
        assert isinstance(parsed, dict)
        out.append({"_": parsed.get("_")})
    return out


def load_yaml_with_overrides(path: str | Path, overrides: Sequence[str] = ()) -> DictConfig:
    """Load ``path`` as an OmegaConf config and merge ``overrides`` into it (not resolved).

    ``@FILE`` overrides are expanded first (:func:`expand_overrides`).

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
    apply_overrides(cfg, expand_overrides(path, overrides))
    return cfg


def apply_overrides(cfg: DictConfig, overrides: Sequence[str]) -> None:
    """Set each ``key=value`` override in ``cfg``, in order; list items by index (``a.0.b``).

    OmegaConf's dotlist merge cannot address a list item (``corpora.0.inputs=[...]`` fails with
    "Cannot merge incompatible container types"), so each override is set where it points.

    Raises:
        ConfigError: An override is malformed, indexes past a list's end, or goes through a
            value that is not a mapping or list.
    """
    for item, parsed in zip(overrides, parse_overrides(overrides), strict=True):
        key = item.partition("=")[0].strip()
        value = parsed["_"]
        try:
            OmegaConf.update(cfg, key, value, merge=True, force_add=True)
        except (OmegaConfBaseException, IndexError, ValueError, TypeError):
            raise ConfigError(f"override '{item}': {_where_it_fails(cfg, key)}") from None


def _where_it_fails(cfg: DictConfig, key: str) -> str:
    """Why the dotted ``key`` cannot be set in ``cfg``: the first part that does not fit."""
    node: Any = OmegaConf.to_container(cfg, resolve=False)
    seen: list[str] = []
    for part in key.split("."):
        where = ".".join(seen) or "the top level"
        if isinstance(node, list):
            if not part.isdigit() or int(part) >= len(node):
                return f"'{where}' is a list of {len(node)} items; use an index 0..{len(node) - 1}"
            node = node[int(part)]
        elif isinstance(node, dict):
            if part not in node:
                return f"cannot add key '{part}' under '{where}'"
            node = node[part]
        else:
            return f"'{where}' is a {type(node).__name__} value, not a mapping or list"
        seen.append(part)
    return f"cannot set key '{key}'"
