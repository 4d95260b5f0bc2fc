"""The ``csmpt`` command line (typer + rich)."""

from csmpt.cli.app import app, main

__all__ = ["app", "main"]
