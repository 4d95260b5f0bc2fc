"""``csmpt launch``: train a recipe on this machine, or on a SLURM / PBS cluster."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import typer

from csmpt.cli.common import OVERRIDES_HELP, console, user_errors
from csmpt.errors import ConfigError

__all__ = ["LAUNCH_EPILOG", "launch_command"]

LAUNCH_EPILOG = (
    "Example:\n\n"
    "  csmpt launch --scheduler local --nproc 2 yamls/tiny/mpt.yaml max_duration=10ba\n\n"
    "  csmpt launch --scheduler slurm --nodes 2 --gpus-per-node 8 --dry-run "
    "yamls/csmpt7b/csmpt7b.yaml\n\n"
    "  csmpt launch --scheduler pbs --nodes 4 --directive '-A OPEN-00-00' --directive "
    "'-q qgpu' --rdzv file:///scratch/project/rdzv yamls/csmpt7b/csmpt7b.yaml"
)


@user_errors
def launch_command(
    yaml_path: Path = typer.Argument(..., help="Training recipe (yamls/...)."),
    overrides: list[str] = typer.Argument(None, help=OVERRIDES_HELP),
    scheduler: str = typer.Option("local", help="local | slurm | pbs."),
    nodes: int = typer.Option(1, help="Nodes (slurm / pbs)."),
    gpus_per_node: int = typer.Option(8, help="GPUs per node."),
    nproc: int | None = typer.Option(
        None,
        help="Training processes per node (on CPU any number).",
        show_default="--gpus-per-node",
    ),
    dry_run: bool = typer.Option(
        False, "--dry-run", help="Check the recipe and print the script; run nothing."
    ),
    rdzv: str = typer.Option(
        "", help="file:///shared/folder: rendezvous through a file there instead of TCP."
    ),
    master_port: int = typer.Option(29500, help="TCP port of the rendezvous store."),
    run_name: str = typer.Option(
        "", help="Run name.", show_default="the recipe's run_name, else its file name"
    ),
    log_dir: str = typer.Option(
        "", help="Job logs and rank reports.", show_default="logs/RUN_NAME"
    ),
    time_limit: str = typer.Option("24:00:00", "--time", help="Wall-clock limit (slurm / pbs)."),
    signal_seconds: int = typer.Option(
        120,
        help="Warning time (slurm / pbs): this many seconds before --time every process "
        "checkpoints its step, exits 75 and the job requeues itself.",
    ),
    max_requeues: int = typer.Option(
        100,
        help="Requeue a job that checkpointed at most this many times (slurm / pbs), so a "
        "chain that keeps stopping cannot run forever.",
    ),
    directive: list[str] = typer.Option(
        None, help="Extra #SBATCH / #PBS line, e.g. '--account=abc' or '-A OPEN-00-00'."
    ),
    workdir: Path = typer.Option(
        Path.cwd(), help="Folder the job runs in (shared storage).", show_default="."
    ),
    python: str = typer.Option(
        sys.executable, help="Python of the venv on the nodes.", show_default="this Python"
    ),
    check: bool = typer.Option(
        True, help="Check the recipe (csmpt train's preflight) before running or submitting."
    ),
) -> None:
    """Train on this machine with N processes, or render and submit a SLURM / PBS job.

    Adds autoresume=true and a stable run name; the recipe must name a save_folder.
    """
    from csmpt.launch.launcher import launch, recipe_overrides
    from csmpt.launch.render import LaunchSpec
    from csmpt.launch.rendezvous import composer_path

    if not yaml_path.is_file():
        raise ConfigError(f"{yaml_path}: recipe does not exist")
    recipe_path = yaml_path.resolve()
    if recipe_path.is_relative_to(workdir.resolve()):
        recipe_path = recipe_path.relative_to(workdir.resolve())
    extra, name = recipe_overrides(yaml_path, overrides or [], run_name or None)
    spec = LaunchSpec(
        scheduler=scheduler,
        recipe=[str(recipe_path), *extra],
        job_name=name,
        nodes=nodes,
        gpus_per_node=gpus_per_node,
        nproc=nproc,
        workdir=str(workdir.resolve()),
        python=python,
        composer=composer_path(),
        log_dir=log_dir or f"logs/{name}",
        master_port=master_port,
        rdzv=rdzv or None,
        time=time_limit,
        directives=list(directive or []),
        rdzv_tag=time.strftime("%Y%m%d-%H%M%S"),
        signal_seconds=signal_seconds,
        max_requeues=max_requeues,
    )
    spec.check()  # an impossible launch first, then the recipe, as a real launch finds them
    if check and (dry_run or scheduler != "local"):  # local runs: every process checks it
        from csmpt.training.preflight import preflight

        here = Path.cwd()
        recipe = yaml_path if yaml_path.is_absolute() else here / yaml_path
        os.chdir(workdir)  # the job's own folder: the recipe's relative paths start there
        try:
            # missing data fails now, not after hours in the queue
            preflight(recipe, extra, starting=False)
        finally:
            os.chdir(here)
    script, status = launch(spec, dry_run=dry_run)
    if dry_run:
        console.print(script, end="", markup=False, highlight=False, soft_wrap=True)
        return
    if status != 0:
        raise typer.Exit(code=status)
