"""``csmpt eval``, ``csmpt validate``, ``csmpt export``, ``csmpt report``: after training."""

from __future__ import annotations

from pathlib import Path

import typer

from csmpt.atomic import file_in_the_way
from csmpt.cli.common import (
    OVERRIDES_HELP,
    VERBOSE_HELP,
    console,
    is_verbose,
    user_errors,
)
from csmpt.errors import DataError

__all__ = ["eval_command", "export_command", "report_command", "validate_command"]


@user_errors
def eval_command(
    recipe: Path = typer.Argument(..., help="Eval recipe (eval/*.yaml)."),
    overrides: list[str] = typer.Argument(None, help=OVERRIDES_HELP),
    verbose: bool = typer.Option(False, "--verbose", "-v", help=VERBOSE_HELP),
) -> None:
    """Few-shot ICL eval (llm-foundry's) of a checkpoint series and HF models, as one table.

    Quiet unless --verbose: library output goes to OUTPUT_DIR/csmpt.log.
    """
    from csmpt.eval.series import load_eval_recipe, run_eval
    from csmpt.quiet import LOG_NAME, quiet_session

    cfg = load_eval_recipe(recipe, overrides or [])
    blocker = file_in_the_way(cfg.output_dir)
    if blocker is not None:
        raise DataError(f"{recipe}: output_dir: '{blocker}' is a file, not a folder")
    if cfg.checkpoints:  # a mistyped folder: one line, before OUTPUT_DIR/csmpt.log is made
        from csmpt.checkpoint.loading import find_checkpoints

        find_checkpoints(cfg.checkpoints)
    log_file = Path(cfg.output_dir) / LOG_NAME
    with quiet_session(console, log_file, is_verbose(verbose), f"csmpt eval {recipe}"):
        out = run_eval(cfg, progress=lambda msg: console.print(msg, highlight=False))
    console.print(out.markdown.read_text(encoding="utf-8"), highlight=False)
    console.print(f"[green]wrote[/] {out.markdown}, {out.csv}, {out.plot}")


@user_errors
def validate_command(
    checkpoints: str | None = typer.Argument(
        None, help="A Composer checkpoint or a run's save_folder (omit with --model only)."
    ),
    train_yaml: Path = typer.Option(..., "--train-yaml", help="The recipe the run trained with."),
    overrides: list[str] = typer.Argument(None, help=OVERRIDES_HELP),
    corpus: list[str] = typer.Option(
        None,
        "--corpus",
        help="NAME=MDS_FOLDER (repeatable); default: the recipe's eval and "
        "hot-swap corpora (their val splits).",
    ),
    model: list[str] = typer.Option(
        None,
        "--model",
        help="NAME=HF_FOLDER (repeatable): an HF model scored with its own tokenizer on the "
        "same text (base model, export, competitor).",
    ),
    csv_path: Path = typer.Option(None, "--csv", help="Default: <folder>/validation.csv."),
    max_samples: int = typer.Option(256, help="Samples per corpus."),
    verbose: bool = typer.Option(False, "--verbose", "-v", help=VERBOSE_HELP),
) -> None:
    """Loss (nats/token) and bits per byte of checkpoints and HF models per corpus, to a CSV.

    Quiet unless --verbose: library output goes to csmpt.log beside the CSV.
    """
    from rich.table import Table

    from csmpt.errors import ConfigError

    def pairs(values: list[str] | None, flag: str) -> dict[str, Path]:
        out: dict[str, Path] = {}
        for c in values or []:
            name, sep, path = c.partition("=")
            if not sep or not name or not path:
                raise ConfigError(f"{flag} '{c}': expected NAME=PATH")
            out[name] = Path(path)
        return out

    overrides = list(overrides or [])
    if checkpoints and "=" in checkpoints and not Path(checkpoints).exists():
        overrides.insert(0, checkpoints)  # no checkpoints given: that was an override
        checkpoints = None
    corpora, models = pairs(corpus, "--corpus"), pairs(model, "--model")
    if max_samples < 1:  # 0 scored an empty text as a row, a negative one nothing, exit 0
        raise ConfigError(f"--max-samples {max_samples}: give how many samples to read (>= 1)")
    from csmpt.tokenizer.folder import looks_local

    for name, folder in models.items():  # a mistyped local folder reached the hub's id check
        if looks_local(str(folder)) and not (folder / "config.json").is_file():
            raise ConfigError(f"--model {name}={folder}: not an HF model folder (no config.json)")
    if not checkpoints and not models:
        raise ConfigError("nothing to validate: give a checkpoint or run folder, or --model")
    src = Path(checkpoints) if checkpoints else None
    if src is not None and not src.exists():
        raise ConfigError(f"{src}: no such checkpoint or run folder")
    from csmpt.training.preflight import check_recipe_keys, check_recipe_tokenizer

    check_recipe_keys(train_yaml, overrides)
    console.print("validating ...", highlight=False)
    from csmpt.eval.validate import validate_checkpoints

    if csv_path is not None:
        out = csv_path
    elif src is not None:
        out = (src if src.is_dir() else src.parent) / "validation.csv"
    else:
        raise ConfigError("--csv is needed when no checkpoint or run folder is given")
    check_recipe_tokenizer(train_yaml, overrides)  # after the arguments' own consistency
    from csmpt.quiet import LOG_NAME, quiet_session

    with quiet_session(console, out.parent / LOG_NAME, is_verbose(verbose), "csmpt validate"):
        rows = validate_checkpoints(
            src,
            train_yaml,
            out,
            corpora or None,
            overrides,
            max_samples,
            progress=lambda msg: console.print(msg, highlight=False),
            models={k: str(v) for k, v in models.items()},
        )
    table = Table("model / step", "corpus", "nats/token", "bits/byte", "tokens", "bytes")
    for r in rows:
        who = r.checkpoint if r.step is None else f"step {r.step:,}"
        table.add_row(
            who, r.corpus, f"{r.loss:.4f}", f"{r.bpb:.4f}", f"{r.tokens:,}", f"{r.bytes:,}"
        )
    if rows:
        console.print(table)
    console.print(f"[green]appended[/] {len(rows)} rows to {out}")


@user_errors
def export_command(
    checkpoint: Path = typer.Argument(
        ..., help="Composer checkpoint: ep*-ba*-rank0.pt, or a sharded (FSDP1/FSDP2) ep*-ba*/."
    ),
    out_dir: Path = typer.Argument(..., help="The HF folder to write."),
    train_yaml: Path = typer.Option(..., "--train-yaml", help="The recipe the run trained with."),
    overrides: list[str] = typer.Argument(None, help=OVERRIDES_HELP),
    dtype: str = typer.Option("fp32", help="Weights dtype: fp32, bf16 or fp16."),
    overwrite: bool = typer.Option(False, help="Replace an existing folder."),
    verbose: bool = typer.Option(False, "--verbose", "-v", help=VERBOSE_HELP),
) -> None:
    """Export a Composer checkpoint to an HF folder (with tokenizer), checked by logits.

    Quiet unless --verbose: library output goes to OUT.log beside OUT.
    """
    import zipfile

    from csmpt.checkpoint.sharded import is_sharded_checkpoint
    from csmpt.training.preflight import check_recipe_keys, check_recipe_tokenizer

    sharded = is_sharded_checkpoint(checkpoint)
    if not checkpoint.is_file() and not sharded:
        from csmpt.export.hf import not_a_checkpoint

        raise DataError(not_a_checkpoint(checkpoint))
    if not sharded and not zipfile.is_zipfile(checkpoint):
        raise DataError(f"{checkpoint}: not a Composer checkpoint (a torch .pt zip file)")
    from csmpt.atomic import check_replaceable
    from csmpt.export.hf import EXPORT_MARKS, export_to_hf

    check_replaceable(out_dir, EXPORT_MARKS, "output", "HF export")  # before OUT.log is made
    if out_dir.exists() and not overwrite:
        raise DataError(f"{out_dir} exists; pass --overwrite to replace it")
    check_recipe_keys(train_yaml, overrides or [])
    check_recipe_tokenizer(train_yaml, overrides or [])
    console.print(f"exporting {checkpoint} ...", highlight=False)
    from csmpt.quiet import quiet_session

    log_file = out_dir.with_name(f"{out_dir.name}.log")
    with quiet_session(console, log_file, is_verbose(verbose), f"csmpt export {checkpoint}"):
        r = export_to_hf(checkpoint, train_yaml, out_dir, overrides or [], dtype, overwrite)
    console.print(
        f"[green]exported[/] {r.model_type} to {r.path}; logits parity on {r.n_tokens} tokens: "
        f"max abs diff {r.max_abs_diff:.3g} (tolerance {r.tolerance:g})",
        highlight=False,
    )


@user_errors
def report_command(
    run_dirs: list[Path] = typer.Argument(
        ..., help="Run save_folder(s) (metrics.jsonl, events.jsonl); two or more: overlaid."
    ),
    out_dir: Path = typer.Option(
        None, "--out", help="Default: RUN_DIR/report (several runs: RUN1/report/compare)."
    ),
    x: str = typer.Option("steps", "--x", help="Several runs: align them by steps or tokens."),
) -> None:
    """Convergence curves with swap, spike and stage markers (PNGs) and a Markdown/HTML page."""
    from csmpt.report.render import write_report

    if len(run_dirs) > 1:
        from csmpt.report.compare import write_comparison

        c = write_comparison(run_dirs, out_dir or run_dirs[0] / "report" / "compare", x)
        assert c.markdown is not None
        console.print(c.markdown.read_text(encoding="utf-8").split("\n## ")[0], highlight=False)
        console.print(f"[green]wrote[/] {', '.join(str(p) for p in c.figures.values())}")
        return
    r = write_report(run_dirs[0], out_dir)
    d = r.data
    console.print(f"swaps at steps {d.swap_steps or '-'}; spikes at steps {d.spike_steps or '-'}")
    console.print(f"[green]wrote[/] {', '.join(str(p) for p in r.figures.values())}, {r.html}")


EPILOGS = {
    "eval": "Example:\n\n  csmpt eval eval/cs_hellaswag_tiny.yaml "
    "checkpoints=artifacts/demo/runs/tiny-mpt-hot-swap\n\n"
    "Writes table.md, table.csv and accuracy.png to output_dir.",
    "validate": "Example:\n\n  csmpt validate artifacts/demo/runs/tiny-mpt-hot-swap "
    "--train-yaml yamls/tiny/mpt_hot_swap.yaml variables.data_root=artifacts/demo/mds "
    "variables.tokenizer_name=artifacts/demo/tokenizer --model export=artifacts/demo/hf\n\n"
    "Bits per byte compare models with different tokenizers: --model scores an HF folder with "
    "its own tokenizer on the same validation text.",
    "export": "Example:\n\n  csmpt export artifacts/demo/runs/tiny-mpt-hot-swap/ep0-ba40-rank0.pt "
    "artifacts/demo/hf --train-yaml yamls/tiny/mpt_hot_swap.yaml "
    "variables.tokenizer_name=artifacts/demo/tokenizer",
    "report": "Example:\n\n  csmpt report artifacts/demo/runs/tiny-mpt-hot-swap\n\n"
    "Runs side by side (bits per byte compare across tokenizers):\n\n"
    "  csmpt report runs/csmpt7b runs/csmpt7b-ablation-93k --x tokens",
}


def register(app: typer.Typer) -> None:
    """Add the four commands to the ``csmpt`` app."""
    extra = {"allow_extra_args": True, "ignore_unknown_options": True}
    app.command("eval", epilog=EPILOGS["eval"], context_settings=extra)(eval_command)
    app.command("validate", epilog=EPILOGS["validate"], context_settings=extra)(validate_command)
    app.command("export", epilog=EPILOGS["export"], context_settings=extra)(export_command)
    app.command("report", epilog=EPILOGS["report"])(report_command)
