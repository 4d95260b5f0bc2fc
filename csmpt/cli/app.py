"""The ``csmpt`` command: one subcommand per pipeline stage."""

from __future__ import annotations

from pathlib import Path

import typer

from csmpt import __version__
from csmpt.cli.ablate import EPILOG as ABLATE_EPILOG
from csmpt.cli.ablate import ablate_command
from csmpt.cli.base import base_app
from csmpt.cli.clean import EPILOG as CLEAN_EPILOG
from csmpt.cli.clean import clean_command
from csmpt.cli.common import (
    OVERRIDES_HELP,
    VERBOSE_HELP,
    console,
    is_verbose,
    setup_logging,
    user_errors,
)
from csmpt.cli.eval import register as register_eval_commands
from csmpt.cli.filter import filter_app
from csmpt.cli.help_style import PipelineGroup
from csmpt.cli.init import INIT_EPILOG, init_command
from csmpt.cli.inspect import inspect_batch_command
from csmpt.cli.launch import LAUNCH_EPILOG, launch_command
from csmpt.cli.merge import EPILOG as MERGE_EPILOG
from csmpt.cli.merge import merge_command
from csmpt.cli.mixture import mixture_command
from csmpt.cli.prep import prep_command
from csmpt.cli.surgery import EPILOG as SURGERY_EPILOG
from csmpt.cli.surgery import surgery_command
from csmpt.cli.tokenizer import tokenizer_app

__all__ = ["app", "main"]

app = typer.Typer(
    name="csmpt",
    help="Continual pretraining of LLMs into a new language, on llm-foundry/Composer.",
    cls=PipelineGroup,
    no_args_is_help=True,
    rich_markup_mode="rich",
    pretty_exceptions_show_locals=False,
)
app.add_typer(tokenizer_app, name="tokenizer")
app.add_typer(filter_app, name="filter")
app.add_typer(base_app, name="base")
register_eval_commands(app)  # eval, validate, export, report
app.command(
    "prep",
    epilog=(
        "Example:\n\n  csmpt prep data_prep/sample.yaml max_seq_len=256 --only cs_web\n\n"
        "Writes OUTPUT_DIR/CORPUS/train and OUTPUT_DIR/CORPUS/val (MDS, tokens: ndarray:int32)."
        "\n\nInspect a build:  csmpt prep --stats artifacts/demo/mds"
    ),
)(prep_command)
app.command(
    "mixture",
    epilog=(
        "Example:\n\n  csmpt mixture yamls/tiny/mpt_mixture.yaml\n\n"
        "Streams are weighted with streaming's proportion / repeat / choose keys."
    ),
)(mixture_command)
app.command("init", epilog=INIT_EPILOG)(init_command)
app.command("surgery", epilog=SURGERY_EPILOG)(surgery_command)
app.command("launch", epilog=LAUNCH_EPILOG)(launch_command)
app.command("ablate", epilog=ABLATE_EPILOG)(ablate_command)
app.command("merge", epilog=MERGE_EPILOG)(merge_command)
app.command("clean", epilog=CLEAN_EPILOG)(clean_command)
app.command(
    "inspect-batch",
    epilog="Example:\n\n  csmpt inspect-batch --run artifacts/demo/runs/tiny-mpt-hot-swap --step 9",
)(inspect_batch_command)


def _print_version(value: bool) -> None:
    """``--version``: eager, so it answers before typer asks for a command."""
    if value:
        console.print(f"csmpt {__version__}", highlight=False)
        raise typer.Exit()


@app.callback()
def _root(
    verbose: bool = typer.Option(False, "--verbose", "-v", help=VERBOSE_HELP),
    version: bool = typer.Option(
        False,
        "--version",
        help="Print the version and exit.",
        callback=_print_version,
        is_eager=True,
        expose_value=True,
    ),
) -> None:
    setup_logging(verbose)


@app.command(
    "train",
    context_settings={"allow_extra_args": True, "ignore_unknown_options": True},
    epilog=(
        "Example:\n\n  csmpt train yamls/tiny/mpt.yaml max_duration=20ba "
        "variables.run_name=try1\n\n"
        "Same YAML and overrides on 8 GPUs:  composer -n 8 -m csmpt.training "
        "yamls/tiny/mpt.yaml max_duration=20ba"
    ),
)
@user_errors
def train_command(
    yaml_path: Path = typer.Argument(..., help="Training recipe (yamls/...)."),
    overrides: list[str] = typer.Argument(None, help=OVERRIDES_HELP),
    fresh: bool = typer.Option(
        False,
        "--fresh",
        help="Start over: move the save folder's previous run (checkpoints, events, metrics, "
        "runs.jsonl) to SAVE_FOLDER/archive/<time>/ first.",
    ),
    verbose: bool = typer.Option(False, "--verbose", "-v", help=VERBOSE_HELP),
) -> None:
    """Train with llm-foundry on a recipe YAML, csmpt's components registered.

    With autoresume, a checkpoint that is empty, torn or newer than `latest` is moved to
    SAVE_FOLDER/quarantine/ before resuming. Exits with status 75 after a checkpoint taken on
    SIGTERM/SIGUSR1 (csmpt_signal_checkpoint): rerun the same command to resume.
    Quiet unless --verbose: a progress bar; the rest goes to SAVE_FOLDER/csmpt.log.
    """
    from csmpt.training.preflight import preflight

    extra = overrides or []
    preflight(yaml_path, extra, deep=False)  # a mistake costs one line, before any import
    console.print(f"csmpt train {yaml_path}: recipe checked; loading llm-foundry ...")
    preflight(yaml_path, extra)  # optimizer/scheduler kwargs, before the run folder is made
    from csmpt.quiet import quiet_session, recipe_log_file
    from csmpt.training.run import run_training

    log_file = recipe_log_file(yaml_path, extra)
    with quiet_session(console, log_file, is_verbose(verbose), f"csmpt train {yaml_path}") as q:
        trainer = run_training(yaml_path, [*extra, *q.train_overrides()], fresh=fresh)
    console.print(f"[green]done[/] at step {int(trainer.state.timestamp.batch)}")


@app.command(
    "demo",
    epilog="Example:\n\n  csmpt demo --workdir artifacts/demo --steps 40",
)
@user_errors
def demo_command(
    workdir: Path = typer.Option(Path("artifacts/demo"), help="Where all outputs go."),
    steps: int = typer.Option(40, help="Training steps of the tiny MPT."),
    verbose: bool = typer.Option(False, "--verbose", "-v", help=VERBOSE_HELP),
) -> None:
    """Run the pipeline in miniature: tokenizer, MDS shards, a tiny MPT trained with eval.

    Quiet unless --verbose: the rest goes to WORKDIR/csmpt.log.
    """
    from csmpt.demo import run_demo

    run_demo(workdir=workdir, steps=steps, console=console, verbose=is_verbose(verbose))


def main() -> None:
    """Entry point of the ``csmpt`` script."""
    app()
