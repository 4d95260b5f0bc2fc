"""Score documents with a trained filter classifier (``csmpt filter score``), to inspect it."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

from csmpt.atomic import write_jsonl
from csmpt.corpus.readers import read_documents
from csmpt.filter.classifier import LinearTextClassifier

__all__ = ["ScoredDocument", "score_documents", "write_scores"]

ScoredDocument = tuple[str, float, str]
"""(document id, classifier score, the text's first 300 characters)."""


def score_documents(
    model: LinearTextClassifier,
    files: Sequence[Path],
    text_field: str = "text",
    batch_size: int = 256,
    on_batch: Callable[[int], None] | None = None,
) -> list[ScoredDocument]:
    """Score every document of ``files`` in corpus order, ``batch_size`` texts at a time.

    Args:
        model: The classifier (:class:`~csmpt.filter.classifier.LinearTextClassifier`).
        files: Corpus files (:func:`csmpt.corpus.readers.expand_inputs`).
        text_field: JSON field of the text.
        batch_size: Texts per call of the classifier.
        on_batch: Called with the number of documents of each scored batch (a progress bar).
    """
    rows: list[ScoredDocument] = []
    batch: list[tuple[str, str]] = []

    def flush() -> None:
        for (doc_id, text), s in zip(batch, model.score([t for _, t in batch]), strict=True):
            rows.append((doc_id, float(s), text[:300]))
        if on_batch is not None:
            on_batch(len(batch))
        batch.clear()

    for doc in read_documents(files, text_field):
        batch.append((doc.doc_id, doc.text))
        if len(batch) == batch_size:
            flush()
    flush()
    return rows


def write_scores(path: Path, rows: Sequence[ScoredDocument], cut: float) -> None:
    """Write ``{id, score, remove}`` lines to ``path`` (atomically: :mod:`csmpt.atomic`)."""
    write_jsonl(path, ({"id": doc_id, "score": s, "remove": s > cut} for doc_id, s, _ in rows))
