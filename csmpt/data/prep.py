"""``csmpt prep``: corpora -> tokens -> EOS-separated ``max_seq_len`` samples -> MDS shards.

For every corpus of a ``data_prep/*.yaml`` config this writes ``<output_dir>/<corpus>/train`` and
``<output_dir>/<corpus>/val``: Streaming MDS folders with one column ``tokens: ndarray:int32``,
which llm-foundry's ``text`` dataloader reads (``dataset.local: <output_dir>/<corpus>``,
``split: train``). Each folder also holds ``csmpt_manifest.json`` (what went in, what came out).

A corpus is built in a temporary folder and renamed into place when complete, so a reader never
sees a half-written corpus, and a corpus whose inputs, tokenizer and settings are unchanged is
not rebuilt.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from csmpt.data.concat import SampleConcatenator
from csmpt.data.fingerprint import fingerprint, input_stats, sha256_file
from csmpt.data.readers import Document, expand_inputs, read_documents
from csmpt.data.tokenizer_train import check_tokenizer_dir, tokenizer_fingerprint
from csmpt.errors import DataError

__all__ = [
    "MANIFEST_NAME",
    "CorpusSpec",
    "PrepConfig",
    "CorpusResult",
    "prep_corpora",
    "split_of",
]

log = logging.getLogger(__name__)

MANIFEST_NAME = "csmpt_manifest.json"
SPLITS = ("train", "val")


@dataclass
class CorpusSpec:
    """One corpus of a data_prep config.

    Attributes:
        name: Output folder name (``<output_dir>/<name>/{train,val}``).
        inputs: Files, folders or glob patterns (``.jsonl`` records or ``.txt`` documents).
        text_field: JSON field holding the text.
    """

    name: str = "???"
    inputs: list[str] = field(default_factory=list)
    text_field: str = "text"


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
        compression: MDS shard compression (``zstd``, ``gz``, ... or null).
        size_limit: Shard size limit before compression (bytes or e.g. ``64mb``).
        batch_size: Documents per tokenizer call (the tokenizer encodes a batch in parallel).
    """

    tokenizer: str = "???"
    output_dir: str = "???"
    max_seq_len: int = 2048
    corpora: list[CorpusSpec] = field(default_factory=list)
    val_fraction: float = 0.05
    compression: str | None = "zstd"
    size_limit: str = "64mb"
    batch_size: int = 512


@dataclass
class CorpusResult:
    """What ``prep_corpora`` did for one corpus."""

    name: str
    path: Path
    skipped: bool
    manifests: dict[str, dict[str, Any]]


def split_of(text: str, val_fraction: float) -> str:
    """Return ``val`` or ``train`` for a document, from a hash of its text (deterministic)."""
    if val_fraction <= 0:
        return "train"
    h = int.from_bytes(hashlib.blake2b(text.encode("utf-8"), digest_size=8).digest(), "big")
    return "val" if h / 2**64 < val_fraction else "train"


def _fingerprint(cfg: PrepConfig, spec: CorpusSpec, files: Sequence[Path], tok_hash: str) -> str:
    """Identify a build: settings, tokenizer, and each input's path, size and mtime."""
    return fingerprint(
        {
            "spec": asdict(spec),
            "max_seq_len": cfg.max_seq_len,
            "val_fraction": cfg.val_fraction,
            "compression": cfg.compression,
            "size_limit": cfg.size_limit,
            "tokenizer": tok_hash,
            "inputs": input_stats(files),
        }
    )


def _batched(docs: Iterator[Document], size: int) -> Iterator[list[Document]]:
    batch: list[Document] = []
    for doc in docs:
        batch.append(doc)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


def _is_up_to_date(corpus_dir: Path, fingerprint: str, splits: Sequence[str]) -> bool:
    for split in splits:
        manifest = corpus_dir / split / MANIFEST_NAME
        if not (corpus_dir / split / "index.json").is_file() or not manifest.is_file():
            return False
        if json.loads(manifest.read_text()).get("fingerprint") != fingerprint:
            return False
    return True


def _build_corpus(
    cfg: PrepConfig,
    spec: CorpusSpec,
    files: Sequence[Path],
    tmp_dir: Path,
    splits: Sequence[str],
    on_docs: Callable[[int], None] | None,
) -> dict[str, dict[str, Any]]:
    from streaming import MDSWriter
    from tokenizers import Tokenizer

    tok = Tokenizer.from_file(str(Path(cfg.tokenizer) / "tokenizer.json"))
    eos_token = json.loads((Path(cfg.tokenizer) / "special_tokens_map.json").read_text())[
        "eos_token"
    ]
    eos_token = eos_token["content"] if isinstance(eos_token, dict) else eos_token
    eos_id = tok.token_to_id(eos_token)
    if eos_id is None:
        raise DataError(f"{cfg.tokenizer}: EOS token '{eos_token}' is not in the vocabulary")
    concat = {s: SampleConcatenator(cfg.max_seq_len, eos_id) for s in splits}
    docs = {s: 0 for s in splits}
    empty = 0
    writers = {
        s: MDSWriter(
            out=str(tmp_dir / s),
            columns={"tokens": "ndarray:int32"},
            compression=cfg.compression,
            size_limit=cfg.size_limit,
        )
        for s in splits
    }
    try:
        for batch in _batched(read_documents(files, spec.text_field), cfg.batch_size):
            kept = [d for d in batch if d.text.strip()]
            empty += len(batch) - len(kept)
            encodings = tok.encode_batch([d.text for d in kept], add_special_tokens=False)
            for doc, enc in zip(kept, encodings, strict=True):
                split = split_of(doc.text, cfg.val_fraction)
                docs[split] += 1
                for sample in concat[split].add(enc.ids):
                    writers[split].write({"tokens": sample})
            if on_docs is not None:
                on_docs(len(batch))
    finally:
        for w in writers.values():
            w.finish()
    inputs = [{"path": str(p), "bytes": p.stat().st_size, "sha256": sha256_file(p)} for p in files]
    manifests: dict[str, dict[str, Any]] = {}
    for split in splits:
        c = concat[split]
        if c.samples_out == 0:
            raise DataError(
                f"corpus '{spec.name}': split '{split}' has {c.tokens_in} tokens, fewer than "
                f"max_seq_len={cfg.max_seq_len}; add data or change val_fraction"
            )
        manifests[split] = {
            "corpus": spec.name,
            "split": split,
            "documents": docs[split],
            "tokens": c.tokens_in,
            "samples": c.samples_out,
            "tokens_in_samples": c.samples_out * cfg.max_seq_len,
            "dropped_tail_tokens": c.remainder,
            "skipped_documents": {"empty": empty} if split == "train" else {},
            "eos_id": eos_id,
            "inputs": inputs,
        }
    return manifests


def prep_corpora(
    cfg: PrepConfig,
    only: Sequence[str] = (),
    force: bool = False,
    on_docs: Callable[[int], None] | None = None,
) -> list[CorpusResult]:
    """Build the MDS folders of every corpus in ``cfg`` (or of those named in ``only``).

    Args:
        cfg: The data_prep config.
        only: Corpus names to build; empty builds all.
        force: Rebuild even when the output is up to date.
        on_docs: Called with the number of documents after each tokenizer batch.

    Raises:
        DataError: Missing tokenizer or input, malformed corpus file, too little data.
    """
    check_tokenizer_dir(cfg.tokenizer)
    names = [c.name for c in cfg.corpora]
    if len(set(names)) != len(names):
        raise DataError(f"data_prep config: corpus names must be unique, got {names}")
    unknown = sorted(set(only) - set(names))
    if unknown:
        raise DataError(f"no corpus named {unknown} in the config (corpora: {names})")
    tok_hash = tokenizer_fingerprint(cfg.tokenizer)
    splits = [s for s in SPLITS if s == "train" or cfg.val_fraction > 0]
    out_root = Path(cfg.output_dir)
    results = []
    for spec in cfg.corpora:
        if only and spec.name not in only:
            continue
        files = expand_inputs(spec.inputs)
        fingerprint = _fingerprint(cfg, spec, files, tok_hash)
        corpus_dir = out_root / spec.name
        if not force and _is_up_to_date(corpus_dir, fingerprint, splits):
            log.info("%s is up to date, not rebuilt", corpus_dir)
            manifests = {
                s: json.loads((corpus_dir / s / MANIFEST_NAME).read_text()) for s in splits
            }
            results.append(CorpusResult(spec.name, corpus_dir, True, manifests))
            continue
        out_root.mkdir(parents=True, exist_ok=True)
        tmp_dir = Path(tempfile.mkdtemp(prefix=f".{spec.name}.tmp-", dir=out_root))
        try:
            manifests = _build_corpus(cfg, spec, files, tmp_dir, splits, on_docs)
            for split, manifest in manifests.items():
                manifest.update(
                    fingerprint=fingerprint,
                    max_seq_len=cfg.max_seq_len,
                    tokenizer={"path": cfg.tokenizer, "sha256": tok_hash},
                    config=asdict(cfg) | {"corpora": [asdict(spec)]},
                )
                (tmp_dir / split / MANIFEST_NAME).write_text(
                    json.dumps(manifest, indent=2, ensure_ascii=False) + "\n"
                )
            _replace_dir(tmp_dir, corpus_dir)
        finally:
            if tmp_dir.exists():
                shutil.rmtree(tmp_dir, ignore_errors=True)
        log.info("built %s: %s", corpus_dir, {s: m["samples"] for s, m in manifests.items()})
        results.append(CorpusResult(spec.name, corpus_dir, False, manifests))
    return results


def _replace_dir(new: Path, target: Path) -> None:
    """Move ``new`` to ``target``; an older ``target`` is removed only once ``new`` is in place."""
    if target.exists():
        old = target.with_name(f".{target.name}.old-{os.getpid()}")
        os.replace(target, old)
        os.replace(new, target)
        shutil.rmtree(old, ignore_errors=True)
    else:
        os.replace(new, target)
