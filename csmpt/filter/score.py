"""Score documents with a trained filter classifier (``csmpt filter score``), to inspect it."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from pathlib import Path

from csmpt.atomic import write_jsonl
from csmpt.corpus.readers import read_documents
from csmpt.errors import ConfigError
from csmpt.filter.classifier import LinearTextClassifier

__all__ = ["ScoredDocument", "check_scores_path", "score_documents", "write_scores"]

_SCORE_KEYS = {"id", "score", "remove"}

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


def _is_scores_file(path: Path) -> bool:
    """Whether ``path``'s first line is a ``{id, score, remove}`` record (an earlier output)."""
    with path.open("rb") as f:
        first = f.readline(1 << 16)
    try:
        record = json.loads(first)
    except ValueError:
        return False
    return isinstance(record, dict) and set(record) == _SCORE_KEYS


def check_scores_path(path: Path, inputs: Sequence[Path]) -> None:
    """Refuse an ``--output`` whose writing would destroy something, before scoring.

    Raises:
        ConfigError: ``path`` is a folder, one of the corpus files being scored (it was replaced
            by their scores), or an existing file that is not an earlier scores file.
    """
    if path.is_dir():
        raise ConfigError(f"--output '{path}' is a folder; give a file (e.g. {path}/scores.jsonl)")
    if not path.exists():
        return
    if any(path.resolve() == f.resolve() for f in inputs):
        raise ConfigError(
            f"--output '{path}' is one of the files being scored: its documents would be "
            "replaced by their scores; give another file"
        )
    if path.stat().st_size and not _is_scores_file(path):
        raise ConfigError(
            f"--output '{path}' exists and is not an earlier scores file (its first line is not "
            "an {id, score, remove} record); give another file"
        )
