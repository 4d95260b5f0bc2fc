"""``csmpt surgery``: vocabulary swap and layer downcycling from a YAML (``yamls/surgery/``)."""

from __future__ import annotations

import re
from pathlib import Path

import typer
from rich.table import Table

from csmpt.cli.common import OVERRIDES_HELP, VERBOSE_HELP, console, is_verbose, user_errors
from csmpt.config import build_structured, describe_key, load_yaml_with_overrides
from csmpt.errors import ConfigError

__all__ = ["EPILOG", "surgery_command"]

EPILOG = (
    "Example (English MPT -> Czech tokenizer, then continue pretraining in Czech):\n\n"
    "  csmpt surgery yamls/surgery/mpt_en_to_cs.yaml "
    "source.model=artifacts/demo/runs/tiny-mpt-en/latest-rank0.pt "
    "output.dir=artifacts/demo/surgery/en_to_cs --force\n\n"
    "  csmpt train yamls/tiny/mpt.yaml "
    "load_path=artifacts/demo/surgery/en_to_cs/model.pt load_weights_only=true "
    "variables.tokenizer_name=artifacts/demo/surgery/en_to_cs/tokenizer\n\n"
    "Writes OUT/model.pt (Composer, weights only), OUT/hf/ (HF folder), OUT/tokenizer/, "
    "OUT/report.json and OUT/csmpt_surgery.json: the csmpt_surgery_shapes config transform "
    "reads it, so the training run's vocab_size and n_layers follow the surgery. "
    "Downcycling only: vocab_swap.enabled=false downcycle.n_layers=24 "
    "(yamls/surgery/llama_downcycle.yaml)."
)


@user_errors
def surgery_command(
    config: Path = typer.Argument(..., help="Surgery YAML (yamls/surgery/*.yaml)."),
    overrides: list[str] = typer.Argument(None, help=OVERRIDES_HELP),
    force: bool = typer.Option(False, "--force", help="Replace an existing output folder."),
    verbose: bool = typer.Option(False, "--verbose", "-v", help=VERBOSE_HELP),
) -> None:
    """Swap a model's vocabulary to a new tokenizer and/or keep a subset of its layers.

    Quiet unless --verbose: library output goes to OUT.log beside the output folder OUT.
    """
    from csmpt.atomic import check_replaceable
    from csmpt.quiet import quiet_session
    from csmpt.surgery.recipe import OUTPUT_MARKS, SurgeryConfig, run_surgery
    from csmpt.surgery.report import report_rows

    cfg = build_structured(SurgeryConfig, load_yaml_with_overrides(config, overrides or []), config)
    out_dir = Path(cfg.output.dir)
    # before OUT.log is made beside it (run_surgery checks again, for its other callers)
    check_replaceable(out_dir, OUTPUT_MARKS, "key 'output.dir':", "surgery output")
    log_file = out_dir.with_name(out_dir.name + ".log")  # OUT itself is replaced atomically
    try:
        with (
            quiet_session(console, log_file, is_verbose(verbose), f"csmpt surgery {config}"),
            console.status("surgery ...") as status,
        ):
            out, report = run_surgery(cfg, force=force, on_stage=lambda s: status.update(s))
    except ConfigError as e:  # name the YAML file and line of the key
        m = re.match(r"keys? '([^']+)'", str(e))
        if m is None:
            raise
        raise ConfigError(f"{describe_key(config, m.group(1))}{str(e)[m.end() :]}") from None
    table = Table(show_header=False, box=None, title=f"surgery -> {out}")
    table.add_column(style="bold", no_wrap=True)
    table.add_column(overflow="fold")
    for label, value in report_rows(report):
        table.add_row(label, value)
    console.print(table)
    console.print(f"[green]done[/]: {out}/report.json")
