"""Read documents from corpus files: JSON Lines and plain text.

A corpus input is a file, a folder (every ``*.jsonl`` / ``*.txt`` file in it, sorted) or a glob
pattern. In a ``.jsonl`` file each line is one JSON object whose text field holds a document; a
``.txt`` file is one document. Mistakes are reported with the file and line.
"""

from __future__ import annotations

import glob
import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from csmpt.errors import DataError

__all__ = ["Document", "expand_inputs", "read_documents", "detect_format"]

_SUFFIXES = {".jsonl": "jsonl", ".json": "jsonl", ".txt": "text"}


@dataclass(frozen=True)
class Document:
    """One document of a corpus.

    Attributes:
        doc_id: The record's ``id`` field if it has one, else ``<file name>:<line>``.
        text: The document text.
        path: The file it came from.
        line: Its 1-based line in a jsonl file (1 for a text file).
    """

    doc_id: str
    text: str
    path: Path
    line: int


def detect_format(path: Path) -> str:
    """Return ``jsonl`` or ``text`` for a corpus file, from its suffix.

    Raises:
        DataError: The suffix is not one csmpt reads.
    """
    fmt = _SUFFIXES.get(path.suffix.lower())
    if fmt is None:
        raise DataError(
            f"{path}: unsupported corpus file type '{path.suffix}' (use .jsonl or .txt files)"
        )
    return fmt


def expand_inputs(inputs: Sequence[str], base_dir: Path | None = None) -> list[Path]:
    """Expand files, folders and glob patterns to a sorted, de-duplicated list of files.

    Args:
        inputs: Paths or glob patterns; relative ones are taken from ``base_dir`` (or the cwd).
        base_dir: Folder relative paths are resolved against.

    Raises:
        DataError: An input matches no file.
    """
    files: list[Path] = []
    for item in inputs:
        pattern = Path(item).expanduser()
        if base_dir is not None and not pattern.is_absolute():
            pattern = base_dir / pattern
        if any(ch in item for ch in "*?["):
            matches = sorted(Path(m) for m in glob.glob(str(pattern), recursive=True))
            found = [m for m in matches if m.is_file()]
        elif pattern.is_dir():
            found = sorted(p for p in pattern.rglob("*") if p.is_file() and p.suffix in _SUFFIXES)
        elif pattern.is_file():
            found = [pattern]
        else:
            raise DataError(f"{item}: corpus input does not exist")
        if not found:
            raise DataError(f"{item}: corpus input matches no .jsonl or .txt file")
        files.extend(found)
    unique: dict[Path, None] = dict.fromkeys(files)
    return list(unique)


def _read_jsonl(path: Path, text_field: str) -> Iterator[Document]:
    with path.open("rb") as f:
        for lineno, raw in enumerate(f, start=1):
            try:
                line = raw.decode("utf-8")
            except UnicodeDecodeError as e:
                raise DataError(
                    f"{path}:{lineno}: not valid UTF-8 ({e.reason} at byte {e.start})"
                ) from None
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as e:
                raise DataError(
                    f"{path}:{lineno}: not valid JSON ({e.msg} at column {e.colno})"
                ) from None
            if not isinstance(record, dict):
                raise DataError(
                    f"{path}:{lineno}: expected a JSON object, got {type(record).__name__}"
                )
            if text_field not in record:
                fields = ", ".join(sorted(record)) or "none"
                raise DataError(
                    f"{path}:{lineno}: record has no '{text_field}' field (its fields: {fields});"
                    " set text_field in the config"
                )
            text = record[text_field]
            if not isinstance(text, str):
                raise DataError(
                    f"{path}:{lineno}: field '{text_field}' is {type(text).__name__}, not a string"
                )
            doc_id = str(record.get("id", f"{path.name}:{lineno}"))
            yield Document(doc_id=doc_id, text=text, path=path, line=lineno)


def _read_text(path: Path) -> Iterator[Document]:
    data = path.read_bytes()
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        line = data[: e.start].count(b"\n") + 1
        raise DataError(f"{path}:{line}: not valid UTF-8 ({e.reason} at byte {e.start})") from None
    yield Document(doc_id=path.name, text=text, path=path, line=1)


def read_documents(files: Sequence[Path], text_field: str = "text") -> Iterator[Document]:
    """Yield the documents of ``files`` in order.

    Args:
        files: Corpus files (``.jsonl``/``.json`` as JSON Lines, ``.txt`` as one document).
        text_field: The JSON field that holds the text.

    Raises:
        DataError: Invalid UTF-8, invalid JSON, or a record without the text field (with the
            file and line).
    """
    for path in files:
        if detect_format(path) == "jsonl":
            yield from _read_jsonl(path, text_field)
        else:
            yield from _read_text(path)
