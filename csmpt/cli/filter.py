"""``csmpt filter train`` and ``csmpt filter score``: the corpus filter's classifier."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from csmpt.cli.common import OVERRIDES_HELP, console, user_errors
from csmpt.errors import ConfigError

__all__ = ["filter_app"]

filter_app = typer.Typer(
    help="Train and inspect the linear classifier that filters corpora (csmpt prep's filter:).",
    no_args_is_help=True,
)


@filter_app.command(
    "train",
    epilog=(
        "Example:\n\n  csmpt filter train data_prep/filter/sample.yaml "
        "output_dir=artifacts/filter c=1.0\n\n"
        "Writes OUTPUT_DIR/model.npz and OUTPUT_DIR/card.json (features, suggested threshold, "
        "training data hash, held-out precision/recall)."
    ),
)
@user_errors
def filter_train_command(
    config: Path = typer.Argument(..., help="Filter YAML (data_prep/filter/*.yaml)."),
    overrides: list[str] = typer.Argument(None, help=OVERRIDES_HELP),
    force: bool = typer.Option(False, "--force", help="Retrain even if up to date."),
) -> None:
    """Train the hashed n-gram logistic-regression classifier on a labelled jsonl (1 = remove)."""
    from csmpt.filter.classifier import train_from_yaml

    with console.status("training the filter classifier ..."):
        result = train_from_yaml(config, overrides or [], force=force)
    card = result.card
    if result.skipped:
        console.print(f"[yellow]{result.path} is up to date[/] (same settings and inputs)")
    else:
        console.print(f"[green]classifier[/] -> {result.path}")
    data = card["training_data"]
    table = Table(show_header=False, box=None)
    table.add_row("examples", f"{data['examples']} ({data['remove_examples']} labelled remove)")
    table.add_row("train / held out", f"{data['train']} / {data['held_out']}")
    for key, label in (("at_0.5", "0.5"), ("at_threshold", f"{card['threshold']} (suggested)")):
        m = card["held_out"][key]
        table.add_row(
            f"held out, threshold {label}",
            f"precision {m['precision']:.3f}, recall {m['recall']:.3f}, F1 {m['f1']:.3f}",
        )
    console.print(table)


@filter_app.command(
    "score",
    epilog=(
        "Example:\n\n  csmpt filter score artifacts/demo/filter/classifier "
        "data/samples/cs_crawl.jsonl --top 25 --output scores.jsonl\n\n"
        "Prints how many documents the filter would remove and the highest-scoring ones; "
        "--output writes {id, score, remove} for every document."
    ),
)
@user_errors
def filter_score_command(
    classifier: Path = typer.Argument(..., help="Classifier folder (csmpt filter train)."),
    inputs: list[str] = typer.Argument(..., help="Corpus files, folders or glob patterns."),
    threshold: float = typer.Option(
        None,
        "--threshold",
        help="Remove documents scoring above this.",
        show_default="the card's suggested threshold",
    ),
    text_field: str = typer.Option("text", "--text-field", help="JSON field of the text."),
    top: int = typer.Option(20, "--top", help="Show this many highest-scoring documents."),
    output: Path = typer.Option(None, "--output", help="Write every score to this jsonl."),
) -> None:
    """Score documents with a filter classifier, to inspect what it would remove."""
    from csmpt.corpus.readers import expand_inputs
    from csmpt.filter.classifier import LinearTextClassifier
    from csmpt.filter.score import check_scores_path, score_documents, write_scores

    if threshold is not None and not 0.0 <= threshold <= 1.0:
        raise ConfigError(
            f"--threshold {threshold}: scores are probabilities in [0, 1]; a threshold outside "
            "removes nothing or everything"
        )
    if top < 0:
        raise ConfigError(f"--top {top}: give how many documents to show (0: none)")
    model = LinearTextClassifier(classifier)
    cut = model.suggested_threshold if threshold is None else threshold
    files = expand_inputs(inputs)
    if output is not None:
        check_scores_path(output, files)
    progress = Progress(
        SpinnerColumn(),
        TextColumn("scoring"),
        BarColumn(),
        TextColumn("{task.completed} documents"),
        TimeElapsedColumn(),
        console=console,
        transient=True,
    )
    with progress:
        task = progress.add_task("scoring", total=None)
        rows = score_documents(
            model, files, text_field, on_batch=lambda n: progress.advance(task, n)
        )
    if output is not None:
        write_scores(output, rows, cut)
    removed = sum(s > cut for _, s, _ in rows)
    console.print(
        f"{len(rows)} documents, [bold]{removed}[/] score above {cut} (would be removed)"
        + (f"; scores -> {output}" if output is not None else "")
    )
    if top == 0:
        return
    table = Table(title=f"highest scores ({classifier})")
    for col in ("id", "score", "remove", "text"):
        table.add_column(col, overflow="fold" if col == "text" else "ellipsis")
    for doc_id, s, text in sorted(rows, key=lambda r: -r[1])[:top]:
        snippet = " ".join(text.split())[:80]
        table.add_row(doc_id, f"{s:.3f}", "yes" if s > cut else "no", snippet)
    console.print(table)
