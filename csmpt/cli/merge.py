"""``csmpt merge``: interpolate two checkpoints' weights, or average several."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.table import Table

from csmpt.cli.common import VERBOSE_HELP, console, is_verbose, setup_logging, user_errors
from csmpt.errors import ConfigError

__all__ = ["EPILOG", "merge_command"]

EPILOG = (
    "Examples:\n\n"
    "  csmpt merge artifacts/base.pt artifacts/runs/cs/latest-rank0.pt artifacts/merged "
    "--alpha 0.25 --alpha 0.5 --alpha 0.75 --text cs=heldout_cs.jsonl --text en=en.jsonl "
    "--tokenizer artifacts/tokenizer\n\n"
    "  csmpt merge artifacts/runs/cs --last 3 artifacts/cs-avg3\n\n"
    "(1 - alpha) * A + alpha * B per tensor (alpha 0: A, 1: B); without --alpha the inputs "
    "(or a run folder's last N checkpoints) are averaged. Composer inputs give OUT/model.pt "
    "(csmpt export OUT/model.pt HF --train-yaml RECIPE), HF folders an HF folder; several "
    "alphas give OUT/alpha_<alpha>/. OUT/merge.json lists each merge and its bits per byte on "
    "the --text files."
)


def _texts(specs: list[str]) -> dict[str, list[str]]:
    from csmpt.surgery.merge import read_texts

    files: dict[str, str] = {}
    for spec in specs:
        name, sep, path = spec.partition("=")
        if not sep or not name or not path:
            raise ConfigError(f"--text '{spec}': expected NAME=FILE (e.g. cs=heldout.jsonl)")
        files[name] = path
    return read_texts(files)


@user_errors
def merge_command(
    paths: list[Path] = typer.Argument(
        ...,
        help="The models (Composer .pt or HF folders; or one run folder with --last), then OUT.",
    ),
    alpha: list[float] = typer.Option(
        None, "--alpha", help="Weight of the second model, in [0, 1]; repeat for a path."
    ),
    last: int = typer.Option(
        None, "--last", help="Average the last N checkpoints of a run folder."
    ),
    text: list[str] = typer.Option(
        None, "--text", help="NAME=FILE: score each merge in bits per byte on FILE's documents."
    ),
    tokenizer: Path = typer.Option(
        None,
        help="The models' tokenizer (for --text; default: the one the checkpoints were saved "
        "with, or an HF input's).",
    ),
    window: int = typer.Option(512, help="Tokens per scored window."),
    force: bool = typer.Option(False, "--force", help="Replace an existing OUT."),
    verbose: bool = typer.Option(False, "--verbose", "-v", help=VERBOSE_HELP),
) -> None:
    """Linear interpolation of two checkpoints' weights, or the average of several."""
    from csmpt.surgery.merge import run_merge

    setup_logging(is_verbose(verbose))
    if len(paths) < 2:
        raise ConfigError("give the models to merge, then the output folder OUT")
    *inputs, out = paths
    tok = None
    if tokenizer is not None:
        from transformers import AutoTokenizer

        from csmpt.tokenizer.folder import check_tokenizer_dir

        check_tokenizer_dir(str(tokenizer), what="--tokenizer")
        tok = AutoTokenizer.from_pretrained(str(tokenizer))
    with console.status("merging ..."):
        points = run_merge(
            inputs, out, alpha or [], last, _texts(text or []) or None, tok, window, force
        )
    table = Table(title=f"merge -> {out}")
    table.add_column("alpha")
    table.add_column("weights")
    names = sorted({n for p in points for n in p.bpb})
    for n in names:
        table.add_column(f"{n} bpb", justify="right")
    table.add_column("written")
    for p in points:
        weights = ", ".join(f"{c:.3g}" for c in p.coefficients)
        bpb = [f"{p.bpb[n]:.4f}" if n in p.bpb else "" for n in names]
        table.add_row("avg" if p.alpha is None else f"{p.alpha:g}", weights, *bpb, p.path)
    console.print(table)
    console.print(f"[green]done[/]: {out}/merge.json")
