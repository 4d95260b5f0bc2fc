"""``csmpt clean``: list, and with ``--yes`` remove, what a run or an output left behind."""

from __future__ import annotations

from pathlib import Path

import typer

from csmpt.cli.common import console, user_errors
from csmpt.errors import DataError

EPILOG = (
    "Example:\n\n  csmpt clean artifacts/runs/my-run          # list\n"
    "  csmpt clean artifacts/runs/my-run --yes    # remove\n\n"
    "Lists quarantine/ and archive/ entries, temporary files of killed writers and hidden "
    "copies beside an output folder (surgery, export), with their sizes."
)


@user_errors
def clean_command(
    path: Path = typer.Argument(..., help="A run's save folder, or an output folder."),
    yes: bool = typer.Option(False, "--yes", help="Remove what is listed."),
) -> None:
    """List (and with --yes remove) the leftovers of a run folder or an output folder."""
    from csmpt.training.leftovers import find_leftovers, remove_leftovers

    where = "give a run's save folder or an output folder"
    if not path.exists() and not path.parent.is_dir():
        raise DataError(f"'{path}' does not exist ({where})")
    found = find_leftovers(path)
    if not found:
        # A missing output folder may still have leftovers beside it (a killed surgery or
        # export); with none, a missing path or a file is a mistyped argument, not a clean run.
        if not path.exists():
            raise DataError(f"'{path}' does not exist and nothing was left beside it ({where})")
        if not path.is_dir():
            raise DataError(f"'{path}' is a file, not a folder ({where})")
        console.print(f"{path}: nothing to clean")
        return
    for item in found:
        console.print(f"{item.kind:12} {item.bytes:>16,} B  {item.path}", highlight=False)
    total = sum(x.bytes for x in found)
    if yes:
        freed = remove_leftovers(found)
        console.print(f"removed {len(found)} item(s), {freed:,} bytes freed")
    else:
        console.print(f"{len(found)} item(s), {total:,} bytes; rerun with --yes to remove them")
