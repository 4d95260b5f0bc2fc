"""``csmpt inspect-batch``: print the samples of any training step's batch, from the run folder."""

from __future__ import annotations

import json
from pathlib import Path

import typer
from rich.table import Table

from csmpt.cli.common import console, user_errors

__all__ = ["inspect_batch_command"]


@user_errors
def inspect_batch_command(
    run: Path = typer.Option(..., "--run", help="The run folder (its save_folder)."),
    step: int = typer.Option(..., "--step", help="The 1-based training step."),
    tokens: bool = typer.Option(False, "--tokens", help="Also print every sample's token ids."),
    as_json: bool = typer.Option(False, "--json", help="Print the batch as JSON."),
    world_size: int | None = typer.Option(None, help="Ranks (default: from runs.jsonl)."),
    ranks_per_node: int | None = typer.Option(
        None, help="Ranks per node (default: all on one node)."
    ),
    doc_ids: bool = typer.Option(True, help="Look up source document ids (data_prep manifest)."),
) -> None:
    """Reconstruct the batch a run trained on at a step: corpus, shard, sample, documents, text.

    Works for any step (spike or not), after hot swaps and resumes, for any number of ranks.
    """
    from csmpt.forensics.inspect import inspect_batch

    view = inspect_batch(run, step, world_size, ranks_per_node, doc_ids)
    if as_json:
        out = {
            "step": view.step,
            "corpus": view.corpus,
            "world_size": view.world_size,
            "event": {k: v for k, v in (view.event or {}).items() if k != "samples"} or None,
            "samples": view.samples,
        }
        typer.echo(json.dumps(out, ensure_ascii=False))
        return
    title = f"step {view.step}: corpus {view.corpus}, {view.world_size} rank(s)"
    if view.event:
        title += f", {view.event['event']} (loss {view.event['loss']:.4f})"
    table = Table(title=title, show_lines=False)
    folders = sorted({s["folder"] for s in view.samples})
    table.caption = "from " + ", ".join(folders)
    for col in ("rank", "#", "shard#sample", "documents", "loss", "first line"):
        table.add_column(col, overflow="fold")
    for s in view.samples:
        line = next((x.strip() for x in s["text"].splitlines() if x.strip()), "")
        loss = s.get("loss")
        mark = " [red]suspect[/]" if s.get("suspect") else ""
        table.add_row(
            str(s["rank"]),
            str(s["position"]),
            f"{s['shard']}#{s['index_in_shard']}",
            ", ".join(Path(d).name for d in s.get("documents", s.get("doc_ids", []))) or "-",
            (f"{loss:.3f}" if isinstance(loss, float) else str(loss or "-")) + mark,
            line[:80],
        )
    console.print(table)
    if view.event and any(s.get("matches_data") is False for s in view.samples):
        console.print(
            "[yellow]note:[/] rows marked by the event as not matching the data were changed in "
            "memory before training (e.g. csmpt_inject_spike); the text above is the data's."
        )
    if tokens:
        for s in view.samples:
            console.print(f"rank {s['rank']} #{s['position']}: {s['tokens']}", soft_wrap=True)
