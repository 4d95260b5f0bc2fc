"""``csmpt prep``'s configuration: the keys of a ``data_prep/*.yaml`` and what follows from them.

:class:`PrepConfig` and :class:`CorpusSpec` (the YAML keys, checked with file:line errors by
:mod:`csmpt.config`), sizes (``64mb``), ``--part I/N`` and its folder names, each corpus's
packing, and the fingerprint that says whether a built corpus is up to date.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from csmpt.config.schema import at_least, in_range
from csmpt.corpus.fingerprint import fingerprint, input_stats
from csmpt.errors import ConfigError, DataError
from csmpt.filter.document_filter import FilterSpec

__all__ = [
    "CORPUS_MARKS",
    "PACKINGS",
    "SPLITS",
    "TAIL_NAME",
    "CorpusSpec",
    "PrepConfig",
    "build_fingerprint",
    "output_settings",
    "parse_part",
    "parse_size",
    "part_folder",
    "with_packing",
]

SPLITS = ("train", "val")
CORPUS_MARKS = SPLITS  # a corpus folder of an earlier build holds its split folders
TAIL_NAME = "csmpt_tail.npy"  # a --part's dropped tail (concat; empty for pad), for --merge
_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([kmgt]?i?b?)\s*$", re.IGNORECASE)
_UNITS = {"": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40}


@dataclass
class CorpusSpec:
    """One corpus of a data_prep config.

    Attributes:
        name: Output folder name (``<output_dir>/<name>/{train,val}``).
        inputs: Files, folders or glob patterns: ``.jsonl`` (``.gz``/``.zst``), ``.txt``,
            ``.parquet``, ``.arrow``, or ``datasets`` ``save_to_disk`` folders.
        text_field: JSON field / column holding the text.
        filter: Optional classifier filter and duplicate removal (:class:`FilterSpec`).
        packing: This corpus's packing (``concat`` or ``pad``); null: the config's.
    """

    name: str = "???"
    inputs: list[str] = field(default_factory=list)
    text_field: str = "text"
    filter: FilterSpec | None = None
    packing: str | None = None


@dataclass
class PrepConfig:
    """The keys of a ``data_prep/*.yaml`` config.

    Attributes:
        tokenizer: HF tokenizer folder (from ``csmpt tokenizer train``).
        output_dir: Where the corpus folders go.
        max_seq_len: Tokens per sample (2048 for CSMPT7b).
        corpora: The corpora to build.
        val_fraction: Share of documents sent to the ``val`` split, chosen by a hash of each
            document's text (deterministic; 0 writes no val split).
        compression: MDS shard compression (``zstd``, ``zstd:7``, ``gz``, ... or null).
        size_limit: Shard size limit before compression (bytes or e.g. ``64mb``).
        shard_multiple: Each split's shard count is a multiple of this (8: 1/2/4/8 GPUs read
            equal shares of shards).
        strict: Stop at the first bad document (invalid UTF-8, no text field, empty, a lone
            surrogate, longer than ``max_doc_chars``) with its file and line, instead of
            counting it. A corpus built without it counts as up to date for a strict run only
            if it has no such documents; otherwise the strict run stops at the first one.
        max_doc_chars: Longer documents are tokenized in pieces (cut where the tokenizer's
            pre-tokenizer starts a new token, so the ids are the whole document's; of at most
            this many characters, 64K when it is larger; :mod:`csmpt.prep.long_docs`), a few at
            a time, and counted.
        repair_unicode: Replace lone surrogates (which JSON can escape, UTF-8 cannot hold) with
            U+FFFD and keep the document (counted as ``repaired_unicode``) instead of skipping
            it as ``unencodable``.
        batch_size: Documents per tokenizer batch (does not change the output).
        workers: unset (the default): one worker process per core when a corpus's input files
            hold at least 8 MB and the machine has 2 or more cores, else threads
            (:func:`csmpt.prep.encoders.choose_workers`: processes reach 80-95% of raw
            tiktoken's rate on 20-60 MB where threads reach 62-65%; below ~7 MB starting the
            processes costs more than it saves); 0: the tokenizer's threads in this process;
            N: N worker processes. Does not change the output.
        tokenizer_backend: ``auto`` (tiktoken when it provably gives the tokenizer's ids, else
            HF tokenizers), ``hf`` or ``tiktoken`` (:mod:`csmpt.prep.encoders`). Does not change
            the output.
        packing: ``concat`` (documents joined by EOS and cut into ``max_seq_len`` samples, as
            CSMPT7b) or ``pad`` (whole documents packed in order into samples of at most
            ``max_seq_len`` tokens, padded by the collator at training time; longer documents
            cut into ``max_seq_len`` chunks; :mod:`csmpt.prep.pad_packing`). A corpus may
            set its own.
    """

    tokenizer: str = "???"
    output_dir: str = "???"
    max_seq_len: int = field(default=2048, metadata=at_least(1))
    corpora: list[CorpusSpec] = field(default_factory=list)
    val_fraction: float = field(default=0.05, metadata=in_range(0, 1))
    compression: str | None = "zstd"
    size_limit: str = "64mb"
    shard_multiple: int = field(default=1, metadata=at_least(1))
    strict: bool = False
    max_doc_chars: int = field(default=1_000_000, metadata=at_least(1))
    batch_size: int = field(default=512, metadata=at_least(1))
    workers: int | None = field(default=None, metadata=at_least(0))
    tokenizer_backend: str = "auto"
    repair_unicode: bool = False
    packing: str = "concat"


PACKINGS = ("concat", "pad")


def parse_size(size: str | int) -> int:
    """Bytes from ``67108864``, ``64mb``, ``64MiB``, ``1.5g``.

    Raises:
        DataError: Not a size.
    """
    m = _SIZE.match(str(size))
    if m is None:
        raise DataError(f"size_limit '{size}' is not a size (e.g. 64mb or 67108864)")
    return int(float(m.group(1)) * _UNITS[m.group(2)[:1].lower()])


def output_settings(cfg: PrepConfig) -> dict[str, Any]:
    """The settings that change the output (not workers, batch_size, strict)."""
    keys = ("max_seq_len", "val_fraction", "compression", "size_limit", "shard_multiple")
    settings = {k: getattr(cfg, k) for k in keys} | {"max_doc_chars": cfg.max_doc_chars}
    settings |= {"packing": cfg.packing} if cfg.packing != "concat" else {}  # concat: as before
    return settings | ({"repair_unicode": True} if cfg.repair_unicode else {})


def build_fingerprint(
    cfg: PrepConfig,
    spec: CorpusSpec,
    files: Sequence[Path],
    tok_hash: str,
    filt_hash: str | None,
    part: tuple[int, int] = (0, 1),
) -> str:
    """Identify a build: settings, tokenizer, filter, and each input's path, size and mtime."""
    obj = {
        "spec": {k: v for k, v in asdict(spec).items() if k != "packing" or v is not None},
        "settings": output_settings(cfg),
        "tokenizer": tok_hash,
        "filter": filt_hash,
        "inputs": input_stats(files),
    }
    return fingerprint(obj | ({"part": list(part)} if part[1] > 1 else {}))


def parse_part(text: str) -> tuple[int, int]:
    """``"I/N"`` (1 <= I <= N, as a job array numbers its tasks) -> ``(I - 1, N)``.

    Raises:
        DataError: Not of that form.
    """
    m = re.fullmatch(r"\s*(\d+)\s*/\s*(\d+)\s*", text)
    if m is None or not 1 <= int(m.group(1)) <= int(m.group(2)):
        raise DataError(f"--part '{text}' is not I/N with 1 <= I <= N (e.g. --part 2/8)")
    return int(m.group(1)) - 1, int(m.group(2))


def part_folder(name: str, part: tuple[int, int]) -> str:
    """The folder of part ``part`` (0-based, of N) of corpus ``name``."""
    i, n = part
    return f"{name}.part-{i + 1:03}-of-{n:03}"


def with_packing(cfg: PrepConfig, spec: CorpusSpec) -> PrepConfig:
    """``cfg`` with the corpus's own ``packing`` (if it sets one), checked.

    Raises:
        ConfigError: An unknown packing.
    """
    packing = spec.packing if spec.packing is not None else cfg.packing
    if packing not in PACKINGS:
        key = f"corpora.{spec.name}.packing" if spec.packing is not None else "packing"
        raise ConfigError(f"data_prep config: {key} '{packing}' is not one of {PACKINGS}")
    return replace(cfg, packing=packing)
