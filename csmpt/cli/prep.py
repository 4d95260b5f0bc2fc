"""``csmpt prep``: corpora -> tokens -> MDS shards (``--part``/``--merge`` on many nodes)."""

from __future__ import annotations

import time
from pathlib import Path

import typer
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from csmpt.cli.common import OVERRIDES_HELP, console, user_errors
from csmpt.config import build_structured, load_yaml_with_overrides
from csmpt.errors import ConfigError
from csmpt.mds.manifest import find_manifests, manifest_table
from csmpt.prep.config import PrepConfig, parse_part
from csmpt.prep.merge import merge_parts
from csmpt.prep.run import prep_corpora

__all__ = ["prep_command"]


def _progress() -> Progress:
    """A progress bar with documents/s and tokens/s; silent when the console is not a terminal."""
    return Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        TextColumn("{task.completed:,.0f} documents"),
        TextColumn("[cyan]{task.fields[docs_rate]:,.0f} docs/s"),
        TextColumn("{task.fields[tokens]:,} tokens"),
        TextColumn("[green]{task.fields[tok_rate]:,.0f} tokens/s"),
        TimeElapsedColumn(),
        console=console,
        transient=True,
        disable=not console.is_terminal,
    )


@user_errors
def prep_command(
    config: Path = typer.Argument(None, help="data_prep YAML (data_prep/*.yaml)."),
    overrides: list[str] = typer.Argument(None, help=OVERRIDES_HELP),
    only: list[str] = typer.Option([], "--only", help="Build only this corpus (repeatable)."),
    force: bool = typer.Option(False, "--force", help="Rebuild even if up to date."),
    stats: Path = typer.Option(
        None, "--stats", help="Print the manifests under this folder as a table and exit."
    ),
    part: str = typer.Option(
        None,
        "--part",
        help="Build only part I of N of each corpus (I/N, 1-based) into CORPUS.part-I-of-N; "
        "one job array task per part, then --merge.",
    ),
    merge: bool = typer.Option(
        False, "--merge", help="Join the --part folders of each corpus into one corpus."
    ),
    signatures: bool = typer.Option(
        False,
        "--signatures",
        help="With --part: only write the part's duplicate signatures (corpora with dedup).",
    ),
    dedup: bool = typer.Option(
        False, "--dedup", help="Decide duplicates across all parts' signatures, in one pass."
    ),
) -> None:
    """Tokenize corpora into EOS-separated max_seq_len samples in MDS shards (train/val).

    A killed run, rerun, resumes from its finished shards; a finished one does nothing.
    On several nodes: csmpt prep CONFIG --part I/N on each (I = 1..N), then
    csmpt prep CONFIG --merge (csmpt/launch/templates/prep_array.*.sh submit both). Corpora
    with a dedup filter first need --part I/N --signatures on each node and one --dedup.
    """
    if stats is not None:
        console.print(manifest_table(find_manifests(stats), f"MDS folders under {stats}"))
        return
    if config is None:
        raise ConfigError("give a data_prep YAML (csmpt prep data_prep/sample.yaml) or --stats DIR")
    cfg = build_structured(PrepConfig, load_yaml_with_overrides(config, overrides or []), config)
    if signatures or dedup:
        from csmpt.prep.part_dedup import dedup_corpora, sign_corpora

        if signatures and (part is None or dedup):
            raise ConfigError("--signatures goes with --part I/N (and without --dedup)")
        if dedup and part is not None:
            raise ConfigError("--dedup reads every part's signatures: give it without --part")
        written = sign_corpora(cfg, only, parse_part(part)) if signatures else []
        written += dedup_corpora(cfg, only) if dedup else []
        for path in written:
            console.print(f"[green]wrote[/] {path}")
        if not written:
            console.print("no corpus has filter dedup or near_dedup; nothing to do")
        return
    if merge:
        if part is not None:
            raise ConfigError("--merge joins all parts: give it without --part")
        merged = merge_parts(cfg, only=only, force=force)
        found = [(r.path / s, m) for r in merged for s, m in r.manifests.items()]
        console.print(manifest_table(found, f"merged MDS shards in {cfg.output_dir}"))
        for r in merged:
            if r.skipped:
                console.print(f"[yellow]{r.path} is up to date[/]; nothing to merge")
        return
    which = parse_part(part) if part is not None else (0, 1)
    progress = _progress()
    start = time.perf_counter()
    with progress:
        task = progress.add_task("tokenizing", total=None, tokens=0, docs_rate=0.0, tok_rate=0.0)

        def advance(docs: int, tokens: int) -> None:
            t = progress.tasks[task]
            elapsed = max(time.perf_counter() - start, 1e-9)
            total_tokens = t.fields["tokens"] + tokens
            progress.update(
                task,
                advance=docs,
                tokens=total_tokens,
                docs_rate=(t.completed + docs) / elapsed,
                tok_rate=total_tokens / elapsed,
            )

        results = prep_corpora(cfg, only=only, force=force, on_progress=advance, part=which)
    found = [(r.path / s, m) for r in results for s, m in r.manifests.items()]
    console.print(manifest_table(found, f"MDS shards in {cfg.output_dir}"))
    for r in results:
        if r.skipped:
            msg = f"[yellow]{r.path} is up to date[/] (same inputs and settings); nothing to do"
            console.print(msg, soft_wrap=True)
        elif r.resumed_shards:
            msg = f"{r.path}: resumed, kept {r.resumed_shards} finished shard(s)"
            console.print(msg, soft_wrap=True)
