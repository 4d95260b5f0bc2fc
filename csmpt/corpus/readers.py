"""Read documents from corpus inputs: JSON Lines (plain, gzip, zstd), text, parquet, HF datasets.

A corpus input is a file, a folder (every corpus file in it, sorted; or, if the folder was
written by ``datasets.Dataset.save_to_disk``, that dataset) or a glob pattern. Formats, by name:

- ``.jsonl`` / ``.json`` / ``.ndjson`` (also ``.gz`` / ``.zst`` compressed): one JSON object per
  line, the text in ``text_field``, an optional ``id``;
- ``.txt``: one document per file;
- ``.parquet`` and ``.arrow`` (HF datasets' cache files): one document per row;
- a ``save_to_disk`` folder: one document per row.

Bad records are either errors (``strict``) or yielded with :attr:`Document.problem` set
(``invalid_utf8``, ``malformed_json``, ``missing_text``, ``unencodable``) so that the caller
counts them. A compressed file that is cut off or corrupt is always an error: the rest of it
cannot be read.

Two repairs keep a record and say so in :attr:`Document.repairs`, for the caller to count:

- a UTF-8 byte order mark at the start of a file (``.txt``, or the first line of a ``.jsonl``,
  also inside ``.gz``/``.zst``) is dropped (``bom_stripped``);
- JSON may escape lone surrogates (an escaped D800-DFFF without its pair), which no UTF-8
  text holds: such a record is ``unencodable``, or with ``repair_unicode`` each lone
  surrogate becomes U+FFFD (``repaired_unicode``).

``part=(i, n)`` reads only the records of part ``i`` of ``n`` (:func:`part_of`), skipping the
others before decoding them.
"""

from __future__ import annotations

import glob
import gzip
import io
import json
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from csmpt.corpus.long_json import LONG_LINE, parse_long_record
from csmpt.errors import DataError

__all__ = [
    "BOM_STRIPPED",
    "INVALID_UTF8",
    "MALFORMED_JSON",
    "MISSING_TEXT",
    "PART_BLOCK",
    "REPAIRED_UNICODE",
    "UNENCODABLE",
    "Document",
    "detect_format",
    "expand_inputs",
    "is_hf_dataset_dir",
    "part_of",
    "read_documents",
]

INVALID_UTF8 = "invalid_utf8"
MALFORMED_JSON = "malformed_json"
MISSING_TEXT = "missing_text"
UNENCODABLE = "unencodable"
BOM_STRIPPED = "bom_stripped"
REPAIRED_UNICODE = "repaired_unicode"
# --part: records are dealt out in blocks of this many lines/rows (see part_of).
PART_BLOCK = 4096

_BOM = b"\xef\xbb\xbf"
_SURROGATE = re.compile("[\ud800-\udfff]")

_JSONL = (".jsonl", ".json", ".ndjson")
_SUFFIXES: dict[str, str] = {s: "jsonl" for s in _JSONL}
_SUFFIXES |= {s + ".gz": "jsonl.gz" for s in _JSONL} | {s + ".zst": "jsonl.zst" for s in _JSONL}
_SUFFIXES |= {".txt": "text", ".parquet": "parquet", ".arrow": "arrow"}
_ROW_BATCH = 1024
_Part = tuple[int, int, int]  # (input's index, part, parts)


@dataclass(frozen=True)
class Document:
    """One document (or one bad record) of a corpus.

    Attributes:
        doc_id: The record's ``id`` field if it has one, else ``<input path>:<line or row>``.
        text: The document text ("" for a bad record).
        path: The file or dataset folder it came from.
        line: Its 1-based line in a jsonl file, 0-based row in a table, 1 for a text file.
        problem: None, or why the record holds no usable text (``invalid_utf8``,
            ``malformed_json``, ``missing_text``, ``unencodable``), as ``reason: details``.
        repairs: What was repaired to keep it (``bom_stripped``, ``repaired_unicode``).
    """

    doc_id: str
    text: str
    path: Path
    line: int
    problem: str | None = None
    repairs: tuple[str, ...] = ()


def part_of(file_index: int, record: int, parts: int) -> int:
    """The ``--part`` (0-based) that reads record ``record`` (0-based) of input ``file_index``.

    Records are dealt out in blocks of :data:`PART_BLOCK` consecutive records, block ``b`` of
    input ``f`` going to part ``(f + b) % parts``: many small files spread by file, one large
    file by record range, and the assignment depends only on the input list (stable on reruns).
    """
    return (file_index + record // PART_BLOCK) % parts


def _lone_surrogate(text: str) -> int:
    """The position of the first lone surrogate in ``text``, or -1."""
    m = _SURROGATE.search(text)
    return -1 if m is None else m.start()


def is_hf_dataset_dir(path: Path) -> bool:
    """True for a folder written by ``datasets.Dataset.save_to_disk``."""
    return (
        path.is_dir() and (path / "state.json").is_file() and (path / "dataset_info.json").is_file()
    )


def detect_format(path: Path) -> str:
    """Return the reader for a corpus input.

    One of ``jsonl``, ``jsonl.gz``, ``jsonl.zst``, ``text``, ``parquet``, ``arrow``, ``hf_disk``.

    Raises:
        DataError: The name is not one csmpt reads.
    """
    if is_hf_dataset_dir(path):
        return "hf_disk"
    name = path.name.lower()
    for suffix, fmt in sorted(_SUFFIXES.items(), key=lambda kv: -len(kv[0])):
        if name.endswith(suffix):
            return fmt
    raise DataError(
        f"{path}: unsupported corpus file type (use .jsonl[.gz|.zst], .txt, .parquet, .arrow "
        "or a datasets save_to_disk folder)"
    )


def _supported(path: Path) -> bool:
    return any(path.name.lower().endswith(s) for s in _SUFFIXES)


def _walk(folder: Path) -> list[Path]:
    """Corpus inputs inside a folder: save_to_disk folders whole, corpus files one by one."""
    if is_hf_dataset_dir(folder):
        return [folder]
    found: list[Path] = []
    for entry in sorted(folder.iterdir()):
        if entry.is_dir():
            found.extend(_walk(entry))
        elif entry.is_file() and _supported(entry):
            found.append(entry)
    return found


def expand_inputs(inputs: Sequence[str], base_dir: Path | None = None) -> list[Path]:
    """Expand files, folders and glob patterns to a sorted, de-duplicated list of inputs.

    Args:
        inputs: Paths or glob patterns; relative ones are taken from ``base_dir`` (or the cwd).
        base_dir: Folder relative paths are resolved against.

    Raises:
        DataError: An input matches nothing.
    """
    files: list[Path] = []
    for item in inputs:
        pattern = Path(item).expanduser()
        if base_dir is not None and not pattern.is_absolute():
            pattern = base_dir / pattern
        if any(ch in item for ch in "*?["):
            matches = sorted(Path(m) for m in glob.glob(str(pattern), recursive=True))
            found = [m for m in matches if (m.is_file() and _supported(m)) or is_hf_dataset_dir(m)]
        elif pattern.is_dir():
            found = _walk(pattern)
        elif pattern.is_file():
            found = [pattern]
        else:
            raise DataError(f"{item}: corpus input does not exist")
        if not found:
            raise DataError(f"{item}: corpus input matches no corpus file")
        files.extend(found)
    unique: dict[Path, None] = dict.fromkeys(files)
    return list(unique)


def _label(path: Path, base_dir: Path | None) -> str:
    """The input's path relative to ``base_dir`` (or the cwd) when inside it, for document ids."""
    base = base_dir or Path.cwd()
    try:
        return str(path.resolve().relative_to(base.resolve()))
    except ValueError:
        return str(path)


class _ZstdFrames(io.RawIOBase):
    """The decompressed bytes of a ``.zst`` file, every frame; EOFError if it ends in a frame.

    (zstandard's ``stream_reader`` ends quietly at a cut-off frame: a half-downloaded corpus
    file would pass for a short one.)
    """

    def __init__(self, path: Path) -> None:
        import zstandard

        self._src = path.open("rb")
        self._dctx = zstandard.ZstdDecompressor()
        self._obj = self._dctx.decompressobj()
        self._fed = False  # the current frame has input
        self._out = b""
        self._at = 0

    def readable(self) -> bool:
        return True

    def readinto(self, b: Any) -> int:
        while self._at >= len(self._out):
            chunk = self._src.read(1 << 20)
            if not chunk:
                if self._fed and not self._obj.eof:
                    raise EOFError("the file ends inside a zstd frame (cut off?)")
                return 0
            parts = []
            while chunk:
                if self._obj.eof:  # the next frame
                    self._obj = self._dctx.decompressobj()
                parts.append(self._obj.decompress(chunk))
                self._fed = True
                chunk = self._obj.unused_data if self._obj.eof else b""
            self._out, self._at = b"".join(parts), 0
        n = min(len(b), len(self._out) - self._at)
        b[:n] = self._out[self._at : self._at + n]
        self._at += n
        return n

    def close(self) -> None:
        self._src.close()
        super().close()


def _open_lines(path: Path, fmt: str) -> IO[bytes]:
    if fmt == "jsonl.gz":
        return gzip.open(path, "rb")  # type: ignore[return-value]
    if fmt == "jsonl.zst":
        return io.BufferedReader(_ZstdFrames(path), buffer_size=1 << 20)
    return path.open("rb")


def _read_jsonl(
    path: Path, fmt: str, text_field: str, label: str, repair: bool, part: _Part
) -> Iterator[Document]:
    import zstandard

    last = 0
    try:
        for doc in _jsonl_records(path, fmt, text_field, label, repair, part):
            last = doc.line
            yield doc
    except (EOFError, OSError, zstandard.ZstdError) as e:  # a cut-off or corrupt .gz / .zst
        raise DataError(f"{path}: cannot be read after line {last}: {e}") from None


def _jsonl_records(
    path: Path, fmt: str, text_field: str, label: str, repair: bool, part: _Part
) -> Iterator[Document]:
    loads = json.loads
    file_index, part_index, parts = part
    lineno = 0
    record: Any
    with _open_lines(path, fmt) as f:
        for raw in f:  # not enumerate(): its reused result tuple would hold the last line
            lineno += 1
            bom = lineno == 1 and raw.startswith(_BOM)
            if parts > 1 and part_of(file_index, lineno - 1, parts) != part_index:
                continue
            if bom:
                raw = raw[len(_BOM) :]
            # Only a \\uXXXX escape makes a lone surrogate: the rare slow path below.
            escaped = b"\\ud" in raw or b"\\uD" in raw
            if len(raw) > LONG_LINE and (long := parse_long_record(raw, text_field)) is not None:
                raw = b""  # a long record: its bytes, a UTF-8 copy of its text, then the text
                record, utf8 = long
                long = None
                record[text_field] = utf8.decode("utf-8", "surrogatepass")
                del utf8
            else:
                try:
                    line = raw.decode("utf-8")
                except UnicodeDecodeError as e:
                    why = f"not valid UTF-8 ({e.reason} at byte {e.start})"
                    yield Document(f"{label}:{lineno}", "", path, lineno, f"{INVALID_UTF8}: {why}")
                    continue
                raw = b""  # held in one form at a time: the line, then the record
                if not line or line.isspace():
                    continue
                try:
                    record = loads(line)
                    line = ""
                except json.JSONDecodeError as e:
                    why = f"not valid JSON ({e.msg} at column {e.colno})"
                    yield Document(
                        f"{label}:{lineno}", "", path, lineno, f"{MALFORMED_JSON}: {why}"
                    )
                    continue
            if not isinstance(record, dict):
                why = f"expected a JSON object, got {type(record).__name__}"
                yield Document(f"{label}:{lineno}", "", path, lineno, f"{MALFORMED_JSON}: {why}")
                continue
            doc_id = str(record["id"]) if "id" in record else f"{label}:{lineno}"
            text = record.get(text_field)
            repairs: tuple[str, ...] = (BOM_STRIPPED,) if bom else ()
            if escaped and isinstance(text, str):
                doc_id = _SURROGATE.sub("\ufffd", doc_id)
                at = _lone_surrogate(text)
                if at >= 0 and not repair:
                    why = (
                        f"lone surrogate U+{ord(text[at]):04X} at character {at} is not encodable "
                        "as UTF-8 (repair_unicode: true replaces it with U+FFFD)"
                    )
                    yield Document(doc_id, "", path, lineno, f"{UNENCODABLE}: {why}", repairs)
                    continue
                if at >= 0:
                    text = _SURROGATE.sub("\ufffd", text)
                    repairs += (REPAIRED_UNICODE,)
            if not isinstance(text, str):
                if text_field not in record:
                    fields = ", ".join(sorted(record)) or "none"
                    why = (
                        f"record has no '{text_field}' field (its fields: {fields}); "
                        "set text_field in the config"
                    )
                else:
                    why = f"field '{text_field}' is {type(text).__name__}, not a string"
                yield Document(doc_id, "", path, lineno, f"{MISSING_TEXT}: {why}", repairs)
                continue
            yield Document(doc_id, text, path, lineno, None, repairs)
            record = text = None  # not held while the next line is read


def _read_text(path: Path, label: str, part: _Part) -> Iterator[Document]:
    file_index, part_index, parts = part
    if parts > 1 and part_of(file_index, 0, parts) != part_index:
        return
    data = path.read_bytes()
    repairs: tuple[str, ...] = ()
    if data.startswith(_BOM):
        data, repairs = data[len(_BOM) :], (BOM_STRIPPED,)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        line = data[: e.start].count(b"\n") + 1
        why = f"not valid UTF-8 ({e.reason} at byte {e.start})"
        yield Document(label, "", path, line, f"{INVALID_UTF8}: {why}", repairs)
        return
    del data  # a long document is held once, as its text
    yield Document(label, text, path, 1, None, repairs)


def _read_rows(
    path: Path,
    batches: Iterator[dict[str, list[Any]]],
    text_field: str,
    label: str,
    part: _Part,
) -> Iterator[Document]:
    file_index, part_index, parts = part
    row = 0
    for batch in batches:
        ids = batch.get("id")
        for i, text in enumerate(batch[text_field]):
            if parts > 1 and part_of(file_index, row, parts) != part_index:
                row += 1
                continue
            doc_id = str(ids[i]) if ids is not None and ids[i] is not None else f"{label}:{row}"
            if isinstance(text, str):
                yield Document(doc_id, text, path, row)
            else:
                why = f"'{text_field}' is {type(text).__name__}, not a string"
                yield Document(doc_id, "", path, row, f"{MISSING_TEXT}: {why}")
            row += 1


def _table_batches(path: Path, fmt: str, text_field: str) -> Iterator[dict[str, list[Any]]]:
    """Column batches of a parquet/arrow file or a save_to_disk folder (text and id columns)."""
    if fmt == "parquet":
        import pyarrow.parquet as pq

        pf = pq.ParquetFile(path)
        names = pf.schema_arrow.names
        _check_column(path, text_field, names)
        cols = [text_field] + (["id"] if "id" in names else [])
        for rb in pf.iter_batches(batch_size=_ROW_BATCH, columns=cols):
            yield rb.to_pydict()
        return
    import datasets

    ds = (
        datasets.load_from_disk(str(path))
        if fmt == "hf_disk"
        else datasets.Dataset.from_file(str(path))
    )
    if isinstance(ds, datasets.DatasetDict):
        raise DataError(
            f"{path}: is a DatasetDict with splits {sorted(ds)}; name one split's folder as input"
        )
    _check_column(path, text_field, ds.column_names)
    cols = [text_field] + (["id"] if "id" in ds.column_names else [])
    yield from ds.select_columns(cols).iter(batch_size=_ROW_BATCH)


def _check_column(path: Path, text_field: str, names: Sequence[str]) -> None:
    if text_field not in names:
        raise DataError(
            f"{path}: has no '{text_field}' column (its columns: {', '.join(names)}); "
            "set text_field in the config"
        )


def read_documents(
    files: Sequence[Path],
    text_field: str = "text",
    strict: bool = True,
    base_dir: Path | None = None,
    repair_unicode: bool = False,
    part: tuple[int, int] = (0, 1),
) -> Iterator[Document]:
    """Yield the documents of ``files`` in order.

    Args:
        files: Corpus inputs, as returned by :func:`expand_inputs`.
        text_field: The JSON field / column that holds the text.
        strict: Raise on a bad record; otherwise yield it with ``problem`` set.
        base_dir: Document ids name inputs relative to this folder (default: the cwd).
        repair_unicode: Replace lone surrogates with U+FFFD instead of calling the record
            ``unencodable``.
        part: ``(i, n)``: only the records of part ``i`` (0-based) of ``n`` (:func:`part_of`).

    Raises:
        DataError: A cut-off or corrupt compressed file, or (``strict``) invalid UTF-8, invalid
            JSON, a record without the text field or with a lone surrogate, naming the file and
            line.
    """
    part_index, parts = part
    for file_index, path in enumerate(files):
        fmt = detect_format(path)
        label = _label(path, base_dir)
        in_part: _Part = (file_index, part_index, parts)
        if fmt.startswith("jsonl"):
            docs = _read_jsonl(path, fmt, text_field, label, repair_unicode, in_part)
        elif fmt == "text":
            docs = _read_text(path, label, in_part)
        else:
            batches = _table_batches(path, fmt, text_field)
            docs = _read_rows(path, batches, text_field, label, in_part)
        for doc in docs:
            if doc.problem is not None and strict:
                where = f"row {doc.line}" if fmt in ("parquet", "arrow", "hf_disk") else doc.line
                raise DataError(f"{path}:{where}: {doc.problem.split(': ', 1)[1]}")
            yield doc
