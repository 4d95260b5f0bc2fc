"""The manifest of an MDS split folder (``csmpt_manifest.json``): what went in, what came out.

``csmpt prep`` writes one per split folder: the inputs with sizes and hashes, the tokenizer's
hash, the config, documents, tokens, samples, shards and the documents skipped, by reason.
:class:`SplitManifest` is its one definition: ``csmpt prep`` and ``--merge`` write it, preflight,
the mixture table, forensics and ``csmpt prep --stats`` read it. Every field is listed in
``docs/formats.md``. ``csmpt prep --stats DIR`` finds the manifests under ``DIR`` and prints
them as a table.

The JSON object has the fields in the order of :class:`SplitManifest`, without those that are
None (a ``concat`` split has no ``packing``; only a part has ``part``, only a merged split
``merged_from``), then any key this version does not know (kept as read).
"""

from __future__ import annotations

import dataclasses
import json
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar, overload

from rich.table import Table

from csmpt.errors import DataError

__all__ = [
    "MANIFEST_NAME",
    "InputFile",
    "MergedPart",
    "SplitManifest",
    "TokenizerStamp",
    "find_manifests",
    "manifest_table",
    "tokenizer_mismatch",
]

log = logging.getLogger(__name__)

MANIFEST_NAME = "csmpt_manifest.json"
MAX_EXAMPLES = 5  # bad-document examples kept per reason in a merged manifest

T = TypeVar("T")
D = TypeVar("D")
_REQUIRED: Any = object()


@overload
def _get(obj: Mapping[str, Any], key: str, kind: type[T], where: str) -> T: ...


@overload
def _get(obj: Mapping[str, Any], key: str, kind: type[T], where: str, default: D) -> T | D: ...


def _get(
    obj: Mapping[str, Any], key: str, kind: type[Any], where: str, default: Any = _REQUIRED
) -> Any:
    """``obj[key]`` checked to be a ``kind`` (an int is a float too; a bool is not an int).

    Without ``default`` the key is required; an absent or null key gives ``default``.
    """
    if key not in obj or obj[key] is None:
        if default is _REQUIRED:
            raise DataError(f"{where}: no '{key}'; not a csmpt prep manifest")
        return default
    value = obj[key]
    if kind is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise DataError(f"{where}: '{key}' is {value!r}, expected {kind.__name__}")
    return value


def _counts(obj: Mapping[str, Any], key: str, where: str) -> dict[str, int]:
    """A ``{reason: count}`` object."""
    raw = _get(obj, key, dict, where, {})
    out = {}
    for reason, n in raw.items():
        if isinstance(n, bool) or not isinstance(n, int):
            raise DataError(f"{where}: '{key}.{reason}' is {n!r}, expected int")
        out[str(reason)] = n
    return out


@dataclass
class InputFile:
    """One input file of a split, as it was when the split was built.

    Attributes:
        path: The file (as the config named it, expanded).
        bytes: Its size.
        sha256: Its SHA-256 (``csmpt.corpus.fingerprint.sha256_file``).
    """

    path: str
    bytes: int
    sha256: str

    @classmethod
    def from_json(cls, obj: Any, where: str) -> InputFile:
        """Read one entry of ``inputs``."""
        if not isinstance(obj, Mapping):
            raise DataError(f"{where}: an entry of 'inputs' is {obj!r}, expected an object")
        return cls(
            path=_get(obj, "path", str, where),
            bytes=_get(obj, "bytes", int, where, 0),
            sha256=_get(obj, "sha256", str, where, ""),
        )


@dataclass
class TokenizerStamp:
    """The tokenizer that encoded a split.

    Attributes:
        path: Its folder.
        sha256: The hash of its files (``csmpt.tokenizer.folder.tokenizer_fingerprint``).
        backend: The encoder used (``tiktoken`` or ``tokenizers``); None in older manifests.
    """

    path: str
    sha256: str
    backend: str | None = None

    @classmethod
    def from_json(cls, obj: Any, where: str) -> TokenizerStamp:
        """Read ``tokenizer``."""
        if not isinstance(obj, Mapping):
            raise DataError(f"{where}: 'tokenizer' is {obj!r}, expected an object")
        return cls(
            path=_get(obj, "path", str, where, ""),
            sha256=_get(obj, "sha256", str, where, ""),
            backend=_get(obj, "backend", str, where, None),
        )

    def to_json(self) -> dict[str, Any]:
        """The JSON object (``backend`` left out when unknown)."""
        out: dict[str, Any] = {"path": self.path, "sha256": self.sha256}
        if self.backend is not None:
            out["backend"] = self.backend
        return out


@dataclass
class MergedPart:
    """One ``--part`` folder a merged split was joined from.

    Attributes:
        part: ``[I, N]``: part I (1-based) of N.
        samples: The part's samples.
        tokens: The part's tokens.
    """

    part: list[int]
    samples: int
    tokens: int

    @classmethod
    def from_json(cls, obj: Any, where: str) -> MergedPart:
        """Read one entry of ``merged_from``."""
        if not isinstance(obj, Mapping):
            raise DataError(f"{where}: an entry of 'merged_from' is {obj!r}, expected an object")
        return cls(
            part=[int(i) for i in _get(obj, "part", list, where)],
            samples=_get(obj, "samples", int, where),
            tokens=_get(obj, "tokens", int, where),
        )


@dataclass(kw_only=True)
class SplitManifest:
    """What went into one MDS split folder and what came out (``csmpt_manifest.json``).

    Attributes:
        corpus: The corpus's name in the prep config.
        split: ``train`` or ``val``.
        documents: Documents encoded into the split.
        tokens: Their tokens, each document's EOS included.
        samples: Samples (rows of ``max_seq_len`` tokens) in the shards.
        shards: Shard files.
        tokens_in_samples: ``samples * max_seq_len`` (pad tokens included).
        dropped_tail_tokens: Tokens after the last whole sample, not written (``concat``).
        packing: ``pad`` for a pad-packed split; None (absent) for ``concat``.
        real_tokens_in_samples: ``pad``: the document tokens in the samples.
        pad_share: ``pad``: the share of the samples' tokens that are padding.
        skipped_documents: ``train``: documents not encoded, by reason (``empty``,
            ``malformed_json``, ``unencodable``, the filter's reasons...).
        long_documents_split: ``train``: documents longer than ``max_doc_chars`` encoded in
            pieces.
        repaired_documents: ``train``: documents repaired (``repair_unicode``), by reason.
        bad_document_examples: ``train``: ``file:line`` of the first documents skipped, by
            reason.
        strict: Built with ``strict: true`` (a bad document stops the build).
        eos_id: The EOS token id that ends each document.
        inputs: The input files.
        fingerprint: The build fingerprint (inputs, tokenizer, settings): equal means up to
            date (``csmpt.prep.config.build_fingerprint``).
        max_seq_len: Tokens per sample.
        tokenizer: The tokenizer.
        config: The prep config the split was built with (this corpus only in ``corpora``).
        part: A ``--part`` folder: ``[I, N]``, part I (1-based) of N.
        merged_from: A merged split: the parts it joins, in order.
        part_switches: A merged ``pad`` split: places where corpus order passes from one part
            to another.
        single_build_samples: A merged ``pad`` split: ``[low, high]``, the samples a single
            build would have.
        extra: Keys this version does not know, kept as read (not a JSON key itself).
    """

    corpus: str
    split: str
    documents: int
    tokens: int
    samples: int
    shards: int = 0
    tokens_in_samples: int = 0
    dropped_tail_tokens: int = 0
    packing: str | None = None
    real_tokens_in_samples: int | None = None
    pad_share: float | None = None
    skipped_documents: dict[str, int] = field(default_factory=dict)
    long_documents_split: int = 0
    repaired_documents: dict[str, int] = field(default_factory=dict)
    bad_document_examples: dict[str, list[str]] = field(default_factory=dict)
    strict: bool = False
    eos_id: int | None = None
    inputs: list[InputFile] = field(default_factory=list)
    fingerprint: str | None = None
    max_seq_len: int | None = None
    tokenizer: TokenizerStamp | None = None
    config: dict[str, Any] = field(default_factory=dict)
    part: list[int] | None = None
    merged_from: list[MergedPart] | None = None
    part_switches: int | None = None
    single_build_samples: list[int] | None = None
    extra: dict[str, Any] = field(default_factory=dict, metadata={"json_key": False})

    @classmethod
    def from_json(cls, obj: Any, where: str = MANIFEST_NAME) -> SplitManifest:
        """Read a manifest object, as written by this or any earlier version.

        Keys added over time (``shards``, ``strict``, ``repaired_documents``...) take their
        defaults when absent; unknown keys go to ``extra``.

        Args:
            obj: The parsed JSON.
            where: The file, for error messages.

        Raises:
            DataError: Not an object, no ``corpus``/``split``/counts, or a field of another
                type, naming the key.
        """
        if not isinstance(obj, Mapping):
            raise DataError(f"{where}: not a JSON object; not a csmpt prep manifest")
        examples = _get(obj, "bad_document_examples", dict, where, {})
        tokenizer = obj.get("tokenizer")
        merged = obj.get("merged_from")
        single = obj.get("single_build_samples")
        known = {f.name for f in dataclasses.fields(cls) if f.metadata.get("json_key", True)}
        return cls(
            corpus=_get(obj, "corpus", str, where),
            split=_get(obj, "split", str, where),
            documents=_get(obj, "documents", int, where),
            tokens=_get(obj, "tokens", int, where),
            samples=_get(obj, "samples", int, where),
            shards=_get(obj, "shards", int, where, 0),
            tokens_in_samples=_get(obj, "tokens_in_samples", int, where, 0),
            dropped_tail_tokens=_get(obj, "dropped_tail_tokens", int, where, 0),
            packing=_get(obj, "packing", str, where, None),
            real_tokens_in_samples=_get(obj, "real_tokens_in_samples", int, where, None),
            pad_share=_get(obj, "pad_share", float, where, None),
            skipped_documents=_counts(obj, "skipped_documents", where),
            long_documents_split=_get(obj, "long_documents_split", int, where, 0),
            repaired_documents=_counts(obj, "repaired_documents", where),
            bad_document_examples={str(k): [str(x) for x in v] for k, v in examples.items()},
            strict=_get(obj, "strict", bool, where, False),
            eos_id=_get(obj, "eos_id", int, where, None),
            inputs=[InputFile.from_json(i, where) for i in _get(obj, "inputs", list, where, [])],
            fingerprint=_get(obj, "fingerprint", str, where, None),
            max_seq_len=_get(obj, "max_seq_len", int, where, None),
            tokenizer=None if tokenizer is None else TokenizerStamp.from_json(tokenizer, where),
            config=_get(obj, "config", dict, where, {}),
            part=None if obj.get("part") is None else [int(i) for i in obj["part"]],
            merged_from=None
            if merged is None
            else [MergedPart.from_json(m, where) for m in merged],
            part_switches=_get(obj, "part_switches", int, where, None),
            single_build_samples=None if single is None else [int(i) for i in single],
            extra={k: v for k, v in obj.items() if k not in known},
        )

    def to_json(self) -> dict[str, Any]:
        """The JSON object: the fields in order, None ones left out, then ``extra``."""
        out: dict[str, Any] = {}
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if not f.metadata.get("json_key", True) or value is None:
                continue
            if isinstance(value, TokenizerStamp):
                value = value.to_json()
            elif f.name in ("inputs", "merged_from"):
                value = [dataclasses.asdict(v) for v in value]
            out[f.name] = value
        return out | self.extra

    @classmethod
    def read(cls, folder: Path) -> SplitManifest:
        """The manifest of a split folder.

        Raises:
            DataError: The folder has no manifest, or it is not valid JSON (naming the line) or
                not a manifest.
        """
        path = Path(folder) / MANIFEST_NAME
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            raise DataError(f"{path}: not found; build the folder with csmpt prep") from None
        try:
            obj = json.loads(text)
        except json.JSONDecodeError as e:
            raise DataError(f"{path}:{e.lineno}: not valid JSON ({e.msg})") from None
        return cls.from_json(obj, str(path))

    def write(self, folder: Path) -> Path:
        """Write ``folder/csmpt_manifest.json`` (2-space indented, UTF-8); return its path."""
        path = Path(folder) / MANIFEST_NAME
        path.write_text(json.dumps(self.to_json(), indent=2, ensure_ascii=False) + "\n")
        return path

    @classmethod
    def merge(
        cls, parts: Sequence[SplitManifest], tail_samples: int = 0, tail_tokens: int = 0
    ) -> SplitManifest:
        """The manifest of one split merged from its ``--part`` manifests (in part order).

        Counts are summed; the first part's other fields are kept (``shards``,
        ``fingerprint`` and, for ``pad``, the real tokens are the merger's to set).

        Args:
            parts: The parts' manifests of this split.
            tail_samples: Samples cut from the parts' joined tails (``concat``).
            tail_tokens: Tokens in the joined tails.

        Raises:
            DataError: No parts, or a manifest without ``part``/``max_seq_len``.
        """
        if not parts:
            raise DataError("merge: no part manifests")
        first = parts[0]
        seq = first.max_seq_len
        if seq is None:
            raise DataError(f"{first.corpus}/{first.split}: the part manifest has no max_seq_len")
        merged_from = []
        for p in parts:
            if p.part is None:
                raise DataError(f"{p.corpus}/{p.split}: not a --part manifest (no 'part')")
            merged_from.append(MergedPart(list(p.part), p.samples, p.tokens))
        samples = sum(p.samples for p in parts) + tail_samples
        examples: dict[str, list[str]] = {}
        for p in parts:
            for reason, where in p.bad_document_examples.items():
                room = MAX_EXAMPLES - len(examples.setdefault(reason, []))
                examples[reason] += where[: max(room, 0)]
        return dataclasses.replace(
            first,
            documents=sum(p.documents for p in parts),
            tokens=sum(p.tokens for p in parts),
            samples=samples,
            tokens_in_samples=samples * seq,
            dropped_tail_tokens=tail_tokens - tail_samples * seq,
            skipped_documents=_sum_counts(p.skipped_documents for p in parts),
            long_documents_split=sum(p.long_documents_split for p in parts),
            repaired_documents=_sum_counts(p.repaired_documents for p in parts),
            bad_document_examples=examples,
            strict=all(p.strict for p in parts),
            part=None,
            merged_from=merged_from,
            extra=dict(first.extra),
        )


def tokenizer_mismatch(
    folder: Path, tokenizer_dir: str | Path, label: str | None = None
) -> str | None:
    """Why the split in ``folder`` was not encoded by ``tokenizer_dir``'s tokenizer, or None.

    ``label`` names that tokenizer in the message (a hub id whose files are in the HF cache);
    default: ``tokenizer_dir``.

    The split's manifest names the tokenizer that encoded it and its SHA-256. A different hash
    is a mismatch only when that tokenizer's folder still exists and encodes differently
    (:func:`csmpt.tokenizer.folder.same_encoding`: a tokenizer saved again is the same one); when
    it is gone, nothing can be proved and a warning is logged. A split without a manifest or a
    tokenizer that is not a local folder is not checked.
    """
    from csmpt.tokenizer.folder import same_encoding, tokenizer_fingerprint

    own = Path(tokenizer_dir).expanduser()
    if not (folder / MANIFEST_NAME).is_file() or not (own / "tokenizer.json").is_file():
        return None
    built = SplitManifest.read(folder).tokenizer
    if built is None or not built.sha256 or built.sha256 == tokenizer_fingerprint(own):
        return None
    other = Path(built.path)
    if not (other / "tokenizer.json").is_file():
        log.warning(
            "%s: encoded by the tokenizer %s (sha256 %s), which is gone; %s differs in its "
            "files and could not be compared",
            folder,
            built.path,
            built.sha256[:12],
            label or own,
        )
        return None
    if same_encoding(other, own):
        return None
    return (
        f"was encoded by the tokenizer {built.path} (sha256 {built.sha256[:12]}), "
        f"not {label or own} "
        f"({tokenizer_fingerprint(own)[:12]}): its tokens would decode to other text"
    )


def _sum_counts(counts: Any) -> dict[str, int]:
    """``{reason: count}`` objects summed (reasons in order of first appearance)."""
    total: dict[str, int] = {}
    for c in counts:
        for reason, n in c.items():
            total[reason] = total.get(reason, 0) + n
    return total


def find_manifests(folder: Path) -> list[tuple[Path, SplitManifest]]:
    """Every manifest in ``folder`` or below it (a split, corpus or output folder), sorted.

    Raises:
        DataError: ``folder`` holds no manifest, or one that does not read.
    """
    if not folder.exists():
        raise DataError(f"{folder}: does not exist")
    paths = sorted(folder.glob(MANIFEST_NAME)) or sorted(
        p for p in folder.rglob(MANIFEST_NAME) if not any(x.startswith(".") for x in p.parts)
    )
    if not paths:
        raise DataError(f"{folder}: no {MANIFEST_NAME} here or below; build it with csmpt prep")
    return [(p.parent, SplitManifest.read(p.parent)) for p in paths]


def _bytes(n: int) -> str:
    size = float(n)
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if size < 1024 or unit == "TB":
            return f"{size:,.0f} {unit}" if unit == "B" else f"{size:,.1f} {unit}"
        size /= 1024
    return str(n)


def manifest_table(found: list[tuple[Path, SplitManifest]], title: str) -> Table:
    """A rich table with one row per split folder; the tokenizers' hashes go in the caption."""
    table = Table(title=title)
    cols = ["corpus", "split", "documents", "tokens", "samples", "shards", "skipped", "inputs"]
    for col in cols:
        table.add_column(col, justify="left" if col in ("corpus", "split", "skipped") else "right")
    tokenizers = set()
    for _, m in found:
        notes = [f"{r} {n:,}" for r, n in sorted(m.skipped_documents.items())]
        if m.long_documents_split:
            notes.append(f"(long, split: {m.long_documents_split:,})")
        tokenizers.add(m.tokenizer.sha256[:12] if m.tokenizer else "?")
        table.add_row(
            m.corpus,
            m.split,
            f"{m.documents:,}",
            f"{m.tokens:,}",
            f"{m.samples:,}",
            f"{m.shards:,}",
            ", ".join(notes) or "none",
            f"{len(m.inputs)}: {_bytes(sum(i.bytes for i in m.inputs))}",
        )
    table.caption = f"tokenizer sha256 {', '.join(sorted(tokenizers))}"
    return table
