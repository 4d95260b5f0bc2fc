"""``csmpt mixture``: the effective token share of each source of a recipe's stream mixture."""

from __future__ import annotations

from pathlib import Path

import typer

from csmpt.cli.common import OVERRIDES_HELP, console, user_errors
from csmpt.recipe.mixture import mixture_tables

__all__ = ["mixture_command"]


@user_errors
def mixture_command(
    recipe: Path = typer.Argument(..., help="Training recipe (yamls/...) that mixes streams."),
    overrides: list[str] = typer.Argument(None, help=OVERRIDES_HELP),
) -> None:
    """Print what each stream of a recipe's mixture contributes per epoch (streaming's weights)."""
    from csmpt.training.preflight import check_recipe_keys

    check_recipe_keys(recipe, overrides or [])  # a misspelt override would change nothing
    for table, _ in mixture_tables(recipe, overrides or []):
        console.print(table)
