"""Find the line of a (dotted) key in a YAML file, so errors can say ``file:line``."""

from __future__ import annotations

from pathlib import Path

import yaml

__all__ = ["describe_key", "key_line"]


def key_line(path: str | Path, dotted_key: str) -> int | None:
    """Return the 1-based line where ``dotted_key`` is defined in the YAML file, or None.

    Args:
        path: The YAML file.
        dotted_key: Keys joined by dots; list items are addressed by their index
            (``corpora.1.inputs``).
    """
    try:
        node = yaml.compose(Path(path).read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError, UnicodeDecodeError):
        return None
    line: int | None = None
    for part in dotted_key.split("."):
        if isinstance(node, yaml.MappingNode):
            for key_node, value_node in node.value:
                if key_node.value == part:
                    line = key_node.start_mark.line + 1
                    node = value_node
                    break
            else:
                return line
        elif isinstance(node, yaml.SequenceNode) and part.isdigit() and int(part) < len(node.value):
            node = node.value[int(part)]
            line = node.start_mark.line + 1
        else:
            return line
    return line


def describe_key(path: str | Path | None, dotted_key: str) -> str:
    """Return ``file:line: key 'a.b'`` (or ``file: key 'a.b'`` when the line is unknown)."""
    if path is None:
        return f"key '{dotted_key}'"
    line = key_line(path, dotted_key)
    where = f"{path}:{line}" if line is not None else f"{path}"
    return f"{where}: key '{dotted_key}'"
