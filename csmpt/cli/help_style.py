"""``--help`` in the conventional style: ``YAML_PATH [OVERRIDES]...``, ``INTEGER``.

typer 0.29 labels parameters ``{yaml_path}``, ``<int>``, ``<bool>`` and ``<list[str]>``.
:class:`PipelineGroup`, the root group's class, relabels every parameter of every command the
way click and most command lines do, and lists the commands in pipeline order.
"""

from __future__ import annotations

import typing
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from typer.core import TyperArgument, TyperGroup, TyperOption

__all__ = ["PIPELINE_ORDER", "PipelineGroup", "type_label"]

# The order a user runs the commands in; anything not named here comes after, as registered.
PIPELINE_ORDER = (
    "init",
    "tokenizer",
    "filter",
    "prep",
    "mixture",
    "surgery",
    "train",
    "launch",
    "base",
    "ablate",
    "eval",
    "validate",
    "export",
    "report",
    "inspect-batch",
    "demo",
)

_LABELS = {int: "INTEGER", float: "FLOAT", str: "TEXT", bool: "BOOLEAN", Path: "PATH"}


def type_label(annotation: Any) -> str:
    """The upper-case label of a parameter's type (``list[str]`` is labelled by its items)."""
    args = typing.get_args(annotation)
    if typing.get_origin(annotation) is list and args:
        return type_label(args[0])
    if args:  # Optional[X] / X | None
        inner = [a for a in args if a is not type(None)]
        if len(inner) == 1:
            return type_label(inner[0])
    return _LABELS.get(annotation, "TEXT")


def _usage_name(param: TyperArgument) -> str:
    name = str(param.name).upper()
    shown = name if param.required else f"[{name}]"
    return shown + ("..." if param.nargs != 1 else "")


def _restyle(param: Any) -> None:
    """Relabel one parameter (the instance's methods are replaced, the class is untouched)."""
    label = type_label(param.type_descriptor.annotation)
    if isinstance(param, TyperArgument):
        usage = _usage_name(param)
        param.metavar = str(param.name).upper() + ("..." if param.nargs != 1 else "")
        setattr(param, "_usage_display_name", lambda: usage)  # noqa: B010 (an instance's)
        setattr(param, "display_type_rich", lambda ctx: label)  # noqa: B010
    elif isinstance(param, TyperOption):
        param.metavar = "" if param.is_flag else label


def _commands(group: TyperGroup) -> Iterator[Any]:
    for cmd in group.commands.values():
        yield cmd
        if isinstance(cmd, TyperGroup):
            yield from _commands(cmd)


def _restyle_params_of(cmd: Any) -> None:
    """Relabel the parameters ``cmd`` shows, ``--help`` and completion options included."""
    get_params = cmd.get_params

    def styled(ctx: Any) -> list[Any]:
        params = get_params(ctx)
        for param in params:
            _restyle(param)
        return list(params)

    setattr(cmd, "get_params", styled)  # noqa: B010 (this instance's method only)


class PipelineGroup(TyperGroup):
    """The ``csmpt`` group: commands in pipeline order, every ``--help`` conventional."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for cmd in [self, *_commands(self)]:
            _restyle_params_of(cmd)

    def list_commands(self, ctx: Any) -> list[str]:
        """The commands in :data:`PIPELINE_ORDER`, then any others as registered."""
        names = list(self.commands)
        rank = {name: i for i, name in enumerate(PIPELINE_ORDER)}
        return sorted(names, key=lambda n: (rank.get(n, len(rank)), names.index(n)))
