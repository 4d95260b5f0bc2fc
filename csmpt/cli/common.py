"""What every csmpt command shares: logging to the console, and errors as one line."""

from __future__ import annotations

import functools
import logging
import warnings
from collections.abc import Callable
from typing import ParamSpec, TypeVar

import typer
from rich.console import Console
from rich.logging import RichHandler
from rich.markup import escape

from csmpt.atomic import file_in_the_way
from csmpt.errors import CsmptError, Interrupted

__all__ = [
    "OVERRIDES_HELP",
    "VERBOSE_HELP",
    "console",
    "err_console",
    "is_verbose",
    "quiet_known_warnings",
    "setup_logging",
    "user_errors",
]

console = Console()
err_console = Console(stderr=True)

P = ParamSpec("P")
R = TypeVar("R")

OVERRIDES_HELP = (
    "key=value overrides of the YAML (OmegaConf dotted keys), or @FILE: a file's key=value "
    "lines (those before any [NAME.yaml] section, and that section for this YAML)."
)
VERBOSE_HELP = "Print everything: llm-foundry's configs, library logs and warnings, Composer's."
_verbose = False


def is_verbose(flag: bool = False) -> bool:
    """``--verbose`` given to the command (``flag``) or before it (``csmpt -v ...``)."""
    return flag or _verbose


def setup_logging(verbose: bool = False) -> None:
    """Send log records to the console through rich (csmpt's at INFO with ``--verbose``)."""
    global _verbose
    _verbose = verbose
    handler = RichHandler(console=err_console, show_path=False, show_time=False)
    logging.basicConfig(level=logging.WARNING, handlers=[handler], format="%(message)s")
    logging.getLogger("csmpt").setLevel(logging.INFO if verbose else logging.WARNING)
    quiet_known_warnings()


def quiet_known_warnings() -> None:
    """Hide warnings about the pinned stack that a user can do nothing about."""
    warnings.filterwarnings("ignore", message="pkg_resources is deprecated", category=UserWarning)


def _error_line(message: str) -> None:
    message = escape(message)  # keep '[NAME.yaml]' and other brackets as written
    err_console.print(f"[bold red]error:[/] {message}", highlight=False, soft_wrap=True)


def user_errors(fn: Callable[P, R]) -> Callable[P, R]:
    """Print a CsmptError as one red line and exit with status 2 (no traceback).

    So is a folder that could not be made because a file is in its place (an output folder
    named after an existing file: ``--out notes.txt``): the line names the file. An
    :class:`Interrupted` (SIGTERM/SIGINT, once the command has cleaned up) is one yellow line
    and status 128 + the signal's number: 143 for SIGTERM, 130 for SIGINT.
    """

    @functools.wraps(fn)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return fn(*args, **kwargs)
        except CsmptError as e:
            _error_line(str(e))
            raise typer.Exit(code=2) from None
        except (FileExistsError, NotADirectoryError) as e:
            blocker = file_in_the_way(e.filename) if e.filename else None
            if blocker is None:
                raise
            _error_line(f"'{blocker}' is a file where a folder is needed (writing '{e.filename}')")
            raise typer.Exit(code=2) from None
        except Interrupted as e:
            message = escape(str(e))
            err_console.print(
                f"[bold yellow]interrupted:[/] {message}", highlight=False, soft_wrap=True
            )
            raise typer.Exit(code=e.exit_code) from None

    return wrapper
