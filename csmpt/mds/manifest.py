"""The manifest of an MDS split folder (``csmpt_manifest.json``): what went in, what came out.

``csmpt prep`` writes one per split folder: the inputs with sizes and hashes, the tokenizer's
hash, the config, documents, tokens, samples, shards and the documents skipped, by reason.
``csmpt prep --stats DIR`` finds the manifests under ``DIR`` and prints them as a table.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from rich.table import Table

from csmpt.errors import DataError

__all__ = ["MANIFEST_NAME", "find_manifests", "manifest_table"]

MANIFEST_NAME = "csmpt_manifest.json"


def find_manifests(folder: Path) -> list[tuple[Path, dict[str, Any]]]:
    """Every manifest in ``folder`` or below it (a split, corpus or output folder), sorted.

    Raises:
        DataError: ``folder`` holds no manifest.
    """
    if not folder.exists():
        raise DataError(f"{folder}: does not exist")
    paths = sorted(folder.glob(MANIFEST_NAME)) or sorted(
        p for p in folder.rglob(MANIFEST_NAME) if not any(x.startswith(".") for x in p.parts)
    )
    if not paths:
        raise DataError(f"{folder}: no {MANIFEST_NAME} here or below; build it with csmpt prep")
    return [(p.parent, json.loads(p.read_text(encoding="utf-8"))) for p in paths]


def _bytes(n: int) -> str:
    size = float(n)
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if size < 1024 or unit == "TB":
            return f"{size:,.0f} {unit}" if unit == "B" else f"{size:,.1f} {unit}"
        size /= 1024
    return str(n)


def manifest_table(found: list[tuple[Path, dict[str, Any]]], title: str) -> Table:
    """A rich table with one row per split folder; the tokenizers' hashes go in the caption."""
    table = Table(title=title)
    cols = ["corpus", "split", "documents", "tokens", "samples", "shards", "skipped", "inputs"]
    for col in cols:
        table.add_column(col, justify="left" if col in ("corpus", "split", "skipped") else "right")
    tokenizers = set()
    for _, m in found:
        skipped = m.get("skipped_documents") or {}
        long_split = m.get("long_documents_split", 0)
        notes = [f"{r} {n:,}" for r, n in sorted(skipped.items())]
        if long_split:
            notes.append(f"(long, split: {long_split:,})")
        inputs = m.get("inputs", [])
        tokenizers.add(str(m.get("tokenizer", {}).get("sha256", "?"))[:12])
        table.add_row(
            m.get("corpus", "?"),
            m.get("split", "?"),
            f"{m.get('documents', 0):,}",
            f"{m.get('tokens', 0):,}",
            f"{m.get('samples', 0):,}",
            f"{m.get('shards', 0):,}",
            ", ".join(notes) or "none",
            f"{len(inputs)}: {_bytes(sum(i.get('bytes', 0) for i in inputs))}",
        )
    table.caption = f"tokenizer sha256 {', '.join(sorted(tokenizers))}"
    return table
