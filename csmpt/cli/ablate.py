"""``csmpt ablate``: train a recipe's variants over seeds; compare them with 95% intervals."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.table import Table

from csmpt.cli.common import VERBOSE_HELP, console, is_verbose, setup_logging, user_errors
from csmpt.errors import ConfigError, DataError

__all__ = ["EPILOG", "ablate_command"]

EPILOG = (
    "Example (after make demo):\n\n"
    "  csmpt ablate yamls/ablate/tiny.yaml --dry-run\n\n"
    "  csmpt ablate yamls/ablate/tiny.yaml output_dir=artifacts/demo/ablate/try2\n\n"
    "A spec: recipe, output_dir, seeds, metrics (the first decides), overrides (every run), "
    "variants (name, overrides; the first is the baseline). To compare surgeries: "
    "surgery: {recipe: SURGERY.yaml, overrides: [...]} and per variant surgery: "
    "[vocab_swap.init=focus] or scratch: true (yamls/ablate/base_cs.yaml). To score each "
    "surgery run's merge path, its surgery (α 0) to its trained model (α 1): merge: {texts: "
    "{cs: HELD_OUT.jsonl}, alphas: [0, 0.25, 0.5, 0.75, 1]} (yamls/ablate/base_cs_merge.yaml).\n\n"
    "Each variant x seed trains in OUTPUT_DIR/VARIANT/seed-S/ (seed=S and its save folder "
    "added to the variant's overrides), from its own surgery in OUTPUT_DIR/VARIANT/surgery-S/ "
    "when the spec has one. Rerun the same command after a kill: finished runs are "
    "skipped, an unfinished one resumes from its checkpoint. Writes OUTPUT_DIR/ablation.csv "
    "(one row per run) and OUTPUT_DIR/verdict.md (mean ± 95% CI per variant, each variant vs "
    "the first; with merge:, OUTPUT_DIR/VARIANT/merge-S/merge.json, merge.csv and each α vs "
    "the trained model).\n\n"
    "On a cluster, one job per run: --run I trains the I-th run of --dry-run's list alone, "
    "--table writes the table from the runs done so far; "
    "csmpt/launch/templates/ablate_array.{slurm,pbs}.sh submit the array and the table job."
)

SPEC_OVERRIDES_HELP = (
    "key=value overrides of the spec (e.g. output_dir=runs/abl2 seeds=[1,2,3]), or @FILE."
)


@user_errors
def ablate_command(
    spec_path: Path = typer.Argument(..., help="Ablation spec (yamls/ablate/*.yaml)."),
    overrides: list[str] = typer.Argument(None, help=SPEC_OVERRIDES_HELP),
    dry_run: bool = typer.Option(
        False, "--dry-run", help="Check every run's recipe, list the runs and which are done."
    ),
    run_index: int | None = typer.Option(
        None,
        "--run",
        help="Train only the I-th run of the --dry-run list (1-based; a job array's task), "
        "no table.",
        show_default=False,
    ),
    table_only: bool = typer.Option(
        False, "--table", help="Train nothing: the table, csv and plots of the runs done so far."
    ),
    verbose: bool = typer.Option(False, "--verbose", "-v", help=VERBOSE_HELP),
) -> None:
    """Train every variant of a recipe with every seed, then compare them (mean ± 95% CI).

    Every run's recipe + overrides passes csmpt train's checks before the first run starts.
    Quiet unless --verbose: each run's library output goes to its folder's csmpt.log.
    """
    from csmpt.ablate.results import conclude
    from csmpt.ablate.runner import check_runs, run_ablation, run_state
    from csmpt.ablate.spec import load_spec, plan_runs

    setup_logging(is_verbose(verbose))
    if sum((dry_run, run_index is not None, table_only)) > 1:
        raise ConfigError("give one of --dry-run, --run and --table")
    spec = load_spec(spec_path, overrides or [])
    runs = plan_runs(spec)
    if run_index is not None and not 1 <= run_index <= len(runs):
        raise ConfigError(
            f"--run {run_index}: {spec_path} has {len(runs)} runs (1 to {len(runs)}; --dry-run "
            "lists them)"
        )
    if run_index is not None:
        runs = [runs[run_index - 1]]
    # a dry run checks what a real run checks (optimizer and scheduler keys: llm-foundry)
    checked = check_runs(spec, runs, spec_path, deep=dry_run)
    if dry_run:
        console.print(f"dry run: {len(checked)} runs in {spec.output_dir}/", highlight=False)
        table = Table()
        table.add_column("run", no_wrap=True)
        table.add_column("state", no_wrap=True)
        table.add_column("variant's overrides")
        variants = {v.name: v for v in spec.variants}
        for c in checked:
            v = variants[c.run.variant]
            surgery = ["scratch"] if v.scratch else [f"surgery: {o}" for o in v.surgery]
            extra = " ".join([*surgery, *v.overrides]) or "(the recipe as is)"
            run = f"{c.run.variant}/seed-{c.run.seed}"
            table.add_row(run, run_state(c).describe(), extra)
        console.print(table)
        return
    if table_only:
        done = [c for c in checked if run_state(c).done]
        console.print(
            f"{len(done)} of {len(checked)} runs done; the table holds those", highlight=False
        )
        if not done:
            raise DataError(f"{spec.output_dir}: no run of {spec_path} is done yet")
        conclude(spec, done, spec_path, console)
        return
    console.print(
        f"csmpt ablate {spec_path}: {len(checked)} runs checked; loading llm-foundry ...",
        highlight=False,
    )
    checked = check_runs(spec, runs, spec_path, deep=True)
    numbers = None if run_index is None else [run_index]
    run_ablation(spec, checked, console, is_verbose(verbose), numbers=numbers)
    if run_index is None:
        conclude(spec, checked, spec_path, console)
