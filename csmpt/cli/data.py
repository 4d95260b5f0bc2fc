"""``csmpt tokenizer train`` and ``csmpt prep``: the data stages of the pipeline."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from csmpt.cli.common import console, user_errors
from csmpt.config import build_structured, load_yaml_with_overrides
from csmpt.data.prep import PrepConfig, prep_corpora
from csmpt.data.tokenizer_train import TokenizerConfig, tokenizer_size, train_tokenizer

__all__ = ["prep_command", "tokenizer_app"]

tokenizer_app = typer.Typer(help="Train and inspect tokenizers.", no_args_is_help=True)


@tokenizer_app.command(
    "train",
    epilog=(
        "Example:\n\n"
        "  csmpt tokenizer train data_prep/tokenizer/sample.yaml vocab_size=8192 "
        "output_dir=artifacts/tok8k"
    ),
)
@user_errors
def tokenizer_train_command(
    config: Path = typer.Argument(..., help="Tokenizer YAML (data_prep/tokenizer/*.yaml)."),
    overrides: list[str] = typer.Argument(None, help="key=value overrides of the YAML."),
    force: bool = typer.Option(False, "--force", help="Retrain even if up to date."),
) -> None:
    """Train a byte-level BPE tokenizer (HF tokenizers) and save an HF tokenizer folder."""
    cfg = build_structured(
        TokenizerConfig, load_yaml_with_overrides(config, overrides or []), config
    )
    with console.status(f"training a {cfg.vocab_size}-token byte-level BPE ..."):
        out, skipped = train_tokenizer(cfg, force=force)
    if skipped:
        console.print(f"[yellow]{out} is up to date[/] (same settings and inputs); nothing to do")
    else:
        console.print(f"[green]tokenizer[/] with {tokenizer_size(out)} tokens -> {out}")


@user_errors
def prep_command(
    config: Path = typer.Argument(..., help="data_prep YAML (data_prep/*.yaml)."),
    overrides: list[str] = typer.Argument(None, help="key=value overrides of the YAML."),
    only: list[str] = typer.Option([], "--only", help="Build only this corpus (repeatable)."),
    force: bool = typer.Option(False, "--force", help="Rebuild even if up to date."),
) -> None:
    """Tokenize corpora into EOS-separated max_seq_len samples in MDS shards (train/val)."""
    cfg = build_structured(PrepConfig, load_yaml_with_overrides(config, overrides or []), config)
    progress = Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.completed} documents"),
        TimeElapsedColumn(),
        console=console,
        transient=True,
    )
    with progress:
        task = progress.add_task("tokenizing", total=None)
        results = prep_corpora(
            cfg, only=only, force=force, on_docs=lambda n: progress.advance(task, n)
        )
    table = Table(title=f"MDS shards in {cfg.output_dir}")
    for col in ("corpus", "split", "documents", "tokens", "samples", "dropped tail", "status"):
        table.add_column(col, justify="right" if col not in ("corpus", "split") else "left")
    for r in results:
        for split, m in r.manifests.items():
            table.add_row(
                r.name,
                split,
                f"{m['documents']:,}",
                f"{m['tokens']:,}",
                f"{m['samples']:,}",
                f"{m['dropped_tail_tokens']:,}",
                "up to date" if r.skipped else "built",
            )
    console.print(table)
