"""``csmpt mixture``: the effective token share of each source of a recipe's stream mixture."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import typer
from omegaconf import OmegaConf
from rich.table import Table

from csmpt.cli.common import console, user_errors
from csmpt.config import load_yaml_with_overrides
from csmpt.errors import ConfigError

__all__ = ["mixture_command", "mixture_tables", "recipe_mixtures"]


def recipe_mixtures(recipe: Mapping[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """(label, dataset config) of every mixture a resolved recipe trains on.

    The recipe's ``train_loader.dataset`` when it has ``streams``, and each hot-swap corpus
    whose merged dataset has ``streams``.
    """
    from csmpt.callbacks.swap_schedule import merged_dataset, parse_swaps

    base = dict((recipe.get("train_loader") or {}).get("dataset") or {})
    out: list[tuple[str, dict[str, Any]]] = []
    if base.get("streams"):
        out.append(("train_loader.dataset", base))
    hot_swap = (recipe.get("callbacks") or {}).get("csmpt_hot_swap") or {}
    for i, swap in enumerate(parse_swaps(hot_swap.get("swaps") or [])):
        merged = merged_dataset(base, swap)
        if merged.get("streams"):
            out.append((f"callbacks.csmpt_hot_swap.swaps.{i} ({swap.describe()})", merged))
    return out


def mixture_tables(recipe: Path, overrides: list[str]) -> list[tuple[Table, list[Any]]]:
    """One rich table (and its :class:`~csmpt.prep.mixture.StreamShare` rows) per mixture.

    Raises:
        ConfigError: The recipe mixes nothing, or streaming refuses its weights.
    """
    from csmpt.prep.mixture import mixture_shares

    cfg = load_yaml_with_overrides(recipe, overrides)
    resolved: dict[str, Any] = OmegaConf.to_container(cfg, resolve=True)  # type: ignore[assignment]
    mixtures = recipe_mixtures(resolved)
    if not mixtures:
        raise ConfigError(
            f"{recipe}: train_loader.dataset has no `streams` (and no hot-swap corpus has any); "
            "nothing to mix"
        )
    out: list[tuple[Table, list[Any]]] = []
    for where, dataset in mixtures:
        shares = mixture_shares(dataset, where)
        table = Table(title=f"{recipe}: {where}")
        table.add_column("stream")
        table.add_column("folder", overflow="fold")
        for col in ("samples", "weight", "per epoch", "repeat", "token share"):
            table.add_column(col, justify="right", no_wrap=True)
        for s in shares:
            table.add_row(
                s.name,
                str(s.folder),
                f"{s.samples:,}",
                s.weight,
                f"{s.choose:,}",
                f"{s.repeat:.3g}x",
                f"{100 * s.token_share:.1f}%",
            )
        out.append((table, shares))
    return out


@user_errors
def mixture_command(
    recipe: Path = typer.Argument(..., help="Training recipe (yamls/...) that mixes streams."),
    overrides: list[str] = typer.Argument(None, help="key=value overrides (OmegaConf)."),
) -> None:
    """Print what each stream of a recipe's mixture contributes per epoch (streaming's weights)."""
    for table, _ in mixture_tables(recipe, overrides or []):
        console.print(table)
