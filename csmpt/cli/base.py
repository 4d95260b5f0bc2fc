"""``csmpt base build``: a small base model (or a target-language twin) from offline text."""

from __future__ import annotations

from pathlib import Path

import typer

from csmpt.cli.common import OVERRIDES_HELP, VERBOSE_HELP, console, is_verbose, user_errors

__all__ = ["base_app"]

base_app = typer.Typer(
    help="Build a small base model from offline text, to test adaptation choices on.",
    no_args_is_help=True,
)


@base_app.command(
    "build",
    epilog=(
        "Examples:\n\n"
        "  csmpt base build yamls/base/builds/en.yaml\n\n"
        "  csmpt base build yamls/base/builds/cs.yaml\n\n"
        "Writes OUTPUT_DIR/corpus (train.jsonl, held_out.jsonl, sources.jsonl), tokenizer/, "
        "mds/ and, with a recipe, run/ and the model's held-out bits per byte beside the "
        "uniform and unigram baselines in OUTPUT_DIR/base.json. A build with the same corpus, "
        "config and recipe does nothing; an interrupted one resumes."
    ),
)
@user_errors
def base_build_command(
    config: Path = typer.Argument(..., help="Base YAML (yamls/base/*.yaml)."),
    overrides: list[str] = typer.Argument(None, help=OVERRIDES_HELP),
    force: bool = typer.Option(False, "--force", help="Rebuild even when base.json is current."),
    verbose: bool = typer.Option(False, "--verbose", "-v", help=VERBOSE_HELP),
) -> None:
    """Offline corpus -> tokenizer -> shards -> small MPT, held-out bpb vs unigram checked."""
    from csmpt.base.build import build_base, gain_words
    from csmpt.base.config import load_base_config
    from csmpt.quiet import quiet_session

    cfg = load_base_config(config, overrides or [])
    log_file = Path(cfg.output_dir) / "csmpt.log"
    with quiet_session(console, log_file, is_verbose(verbose), f"csmpt base build {config}") as q:
        result = build_base(
            cfg, q.train_overrides(), force=force, on_stage=lambda s: console.print(f"- {s}")
        )
    c = result.corpus
    console.print(
        f"corpus: {c['documents']['train']} + {c['documents']['held_out']} held-out documents, "
        f"{c['bytes']['train']:,} + {c['bytes']['held_out']:,} bytes; tokenizer "
        f"{result.vocab_size} tokens"
    )
    console.print(
        f"held-out bits per byte: uniform {result.uniform_bpb:.3f}, unigram "
        f"{result.unigram_bpb:.3f}"
        + (
            f", model {result.held_out_bpb:.3f} ({gain_words(result.gain_over_unigram)}; "
            f"{result.parameters:,} parameters, {result.tokens_seen:,} tokens)"
            if result.held_out_bpb is not None and result.gain_over_unigram is not None
            else ""
        )
    )
    state = "[yellow]up to date[/]" if result.skipped else "[green]done[/]"
    console.print(f"{state}: {Path(cfg.output_dir) / 'base.json'}")
