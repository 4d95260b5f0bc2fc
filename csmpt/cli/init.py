"""``csmpt init``: scaffold a project for a base model and a language (csmpt/scaffold/)."""

from __future__ import annotations

from pathlib import Path

import typer

from csmpt.cli.common import console, user_errors

__all__ = ["INIT_EPILOG", "init_command"]

INIT_EPILOG = (
    "Example:\n\n  csmpt init my-sk --base llama-3.1-8b --language sk --scheduler slurm --gpus 32"
    "\n\nBases: mpt-7b, llama-3-8b, llama-3.1-8b, llama-2-7b, mistral-7b. Then read "
    "my-sk/README.md: the six commands, and the values to set (marked # SET:)."
)


@user_errors
def init_command(
    folder: Path = typer.Argument(..., help="The project folder to write."),
    base: str = typer.Option(..., help="Base model: mpt-7b, llama-3-8b, llama-3.1-8b, ..."),
    language: str = typer.Option(..., help="Target language code (cs, sk, pl, ...)."),
    scheduler: str = typer.Option("slurm", help="slurm | pbs | local."),
    gpus: int = typer.Option(8, help="GPUs in all (whole 8-GPU nodes above 8)."),
    vocab: int = typer.Option(64000, help="The new tokenizer's vocabulary size."),
    replay: float = typer.Option(
        0.05,
        help="Share of training samples from the base model's language (English replay; 0: none).",
    ),
    force: bool = typer.Option(False, "--force", help="Overwrite the files in FOLDER."),
) -> None:
    """Write a project folder: tokenizer, prep, surgery, train and eval configs and a README."""
    from csmpt.errors import ConfigError
    from csmpt.scaffold import write_project

    if folder.exists() and not folder.is_dir():
        raise ConfigError(f"{folder} is a file; csmpt init writes a project folder there")

    project = write_project(folder, base, language, scheduler, gpus, vocab, force, replay)
    console.print(f"[green]wrote[/] {folder}/: README.md, the five configs, miniature.overrides")
    console.print(f"next: cd {folder}, set the values marked '# SET:', then:", highlight=False)
    for i, command in enumerate(project.commands, 1):
        console.print(f"  {i}. {command}", highlight=False, soft_wrap=True)
