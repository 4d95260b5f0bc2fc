"""``csmpt tokenizer train`` and ``extend``: the tokenizer stage of the pipeline."""

from __future__ import annotations

from pathlib import Path

import typer

from csmpt.cli.common import OVERRIDES_HELP, console, user_errors
from csmpt.config import build_structured, load_yaml_with_overrides
from csmpt.tokenizer.folder import tokenizer_size
from csmpt.tokenizer.train import TokenizerConfig, train_tokenizer

__all__ = ["tokenizer_app"]

tokenizer_app = typer.Typer(
    help="Train a byte-level BPE tokenizer on the target language's text, or extend the base's.",
    no_args_is_help=True,
)


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
    overrides: list[str] = typer.Argument(None, help=OVERRIDES_HELP),
    force: bool = typer.Option(False, "--force", help="Retrain even if up to date."),
) -> None:
    """Train a byte-level BPE tokenizer (HF tokenizers) and save an HF tokenizer folder."""
    cfg = build_structured(
        TokenizerConfig, load_yaml_with_overrides(config, overrides or []), config
    )
    with console.status(f"training a {cfg.vocab_size}-token byte-level BPE ..."):
        out, skipped = train_tokenizer(cfg, force=force)
    size = tokenizer_size(out)
    if skipped:
        console.print(f"[yellow]{out} is up to date[/] (same settings and inputs); nothing to do")
    else:
        console.print(f"[green]tokenizer[/] with {size} tokens -> {out}")
    if size < cfg.vocab_size:  # the BPE ran out of pairs: a model sized for vocab_size wastes rows
        console.print(
            f"[yellow]warning[/]: {size:,} tokens, not the {cfg.vocab_size:,} asked for: the "
            f"inputs hold no more pairs seen {cfg.min_frequency}+ times (more text, or a lower "
            "min_frequency)"
        )


@tokenizer_app.command(
    "extend",
    epilog=(
        "Example (YAML keys: source, inputs, output_dir, new_tokens, min_frequency, protect):\n\n"
        "  csmpt tokenizer extend data_prep/tokenizer/extend_sample.yaml new_tokens=1024"
    ),
)
@user_errors
def tokenizer_extend_command(
    config: Path = typer.Argument(..., help="Extension YAML (data_prep/tokenizer/extend_*.yaml)."),
    overrides: list[str] = typer.Argument(None, help=OVERRIDES_HELP),
    force: bool = typer.Option(False, "--force", help="Extend again even if up to date."),
) -> None:
    """Add target-language tokens to a base model's tokenizer, keeping every old token's id.

    The new tokens continue the base tokenizer's byte-pair merges on the target text; a
    surgery with vocab_swap.mode: extend then keeps every old embedding row.
    """
    from csmpt.tokenizer.extend import ExtendConfig, extend_tokenizer

    cfg = build_structured(ExtendConfig, load_yaml_with_overrides(config, overrides or []), config)
    with console.status(f"learning {cfg.new_tokens} new merges ..."):
        out, stats, skipped = extend_tokenizer(cfg, force=force)
    if skipped:
        console.print(f"[yellow]{out} is up to date[/] (same settings and inputs); nothing to do")
        return
    console.print(
        f"[green]tokenizer[/] {stats.source_tokens:,} + {stats.added:,} tokens -> {out}; "
        f"tokens per word on the inputs {stats.fertility_before:.2f} -> "
        f"{stats.fertility_after:.2f}; {stats.steps_only} added tokens are only steps of longer "
        "ones"
    )
