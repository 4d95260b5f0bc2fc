"""``csmpt prep``: corpora -> tokens -> EOS-separated ``max_seq_len`` samples -> MDS shards.

For every corpus of a ``data_prep/*.yaml`` config this writes ``<output_dir>/<corpus>/train`` and
``<output_dir>/<corpus>/val``: Streaming MDS folders with one column ``tokens: ndarray:int32``,
which llm-foundry's ``text`` dataloader reads (``dataset.local: <output_dir>/<corpus>``,
``split: train``). Each folder also holds ``csmpt_manifest.json`` (:mod:`csmpt.data.manifest`).

A corpus is built in ``<output_dir>/.<corpus>.partial`` and renamed into place when complete,
so a reader never sees a half-written corpus. A killed job, rerun, keeps the shards it finished
(:mod:`csmpt.data.corpus_build`); a corpus whose inputs, tokenizer and settings are unchanged is
not rebuilt.
"""

from __future__ import annotations

import json
import logging
import re
import shutil
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from csmpt.atomic_dir import replace_dir
from csmpt.data.corpus_build import PROGRESS_NAME, ProgressFn, build_corpus, split_of
from csmpt.data.filtering import DocumentFilter, FilterSpec
from csmpt.data.fingerprint import fingerprint, input_size, input_stats, sha256_file
from csmpt.data.manifest import MANIFEST_NAME
from csmpt.data.mds_writer import INDEX_NAME, remove_unlisted_shards
from csmpt.data.readers import expand_inputs
from csmpt.data.tokenizer_train import check_tokenizer_dir, tokenizer_fingerprint
from csmpt.data.workers import TextEncoder, make_encoder
from csmpt.errors import DataError

__all__ = [
    "MANIFEST_NAME",
    "CorpusResult",
    "CorpusSpec",
    "PrepConfig",
    "parse_size",
    "prep_corpora",
    "split_of",
]

log = logging.getLogger(__name__)

SPLITS = ("train", "val")
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
    """

    name: str = "???"
    inputs: list[str] = field(default_factory=list)
    text_field: str = "text"
    filter: FilterSpec | None = None


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
        strict: Stop at the first bad document (invalid UTF-8, no text field, empty, longer than
            ``max_doc_chars``) with its file and line, instead of counting it.
        max_doc_chars: Longer documents are tokenized in pieces of this many characters (cut at
            whitespace; nothing is dropped) and counted.
        batch_size: Documents per tokenizer batch (does not change the output).
        workers: 0: tokenize with the tokenizer's threads in this process (every core);
            N: in N worker processes. Does not change the output.
        tokenizer_backend: ``auto`` (tiktoken when it provably gives the tokenizer's ids, else
            HF tokenizers), ``hf`` or ``tiktoken`` (:mod:`csmpt.data.workers`). Does not change
            the output.
    """

    tokenizer: str = "???"
    output_dir: str = "???"
    max_seq_len: int = 2048
    corpora: list[CorpusSpec] = field(default_factory=list)
    val_fraction: float = 0.05
    compression: str | None = "zstd"
    size_limit: str = "64mb"
    shard_multiple: int = 1
    strict: bool = False
    max_doc_chars: int = 1_000_000
    batch_size: int = 512
    workers: int = 0
    tokenizer_backend: str = "auto"


@dataclass
class CorpusResult:
    """What ``prep_corpora`` did for one corpus."""

    name: str
    path: Path
    skipped: bool
    manifests: dict[str, dict[str, Any]]
    resumed_shards: int = 0


def parse_size(size: str | int) -> int:
    """Bytes from ``67108864``, ``64mb``, ``64MiB``, ``1.5g``.

    Raises:
        DataError: Not a size.
    """
    m = _SIZE.match(str(size))
    if m is None:
        raise DataError(f"size_limit '{size}' is not a size (e.g. 64mb or 67108864)")
    return int(float(m.group(1)) * _UNITS[m.group(2)[:1].lower()])


def _output_settings(cfg: PrepConfig) -> dict[str, Any]:
    """The settings that change the output (not workers, batch_size, strict)."""
    keys = ("max_seq_len", "val_fraction", "compression", "size_limit", "shard_multiple")
    return {k: getattr(cfg, k) for k in keys} | {"max_doc_chars": cfg.max_doc_chars}


def _fingerprint(
    cfg: PrepConfig, spec: CorpusSpec, files: Sequence[Path], tok_hash: str, filt_hash: str | None
) -> str:
    """Identify a build: settings, tokenizer, filter, and each input's path, size and mtime."""
    return fingerprint(
        {
            "spec": asdict(spec),
            "settings": _output_settings(cfg),
            "tokenizer": tok_hash,
            "filter": filt_hash,
            "inputs": input_stats(files),
        }
    )


def _eos_id(tokenizer_dir: str) -> int:
    from tokenizers import Tokenizer

    tok = Tokenizer.from_file(str(Path(tokenizer_dir) / "tokenizer.json"))
    eos = json.loads((Path(tokenizer_dir) / "special_tokens_map.json").read_text())["eos_token"]
    eos = eos["content"] if isinstance(eos, dict) else eos
    eos_id = tok.token_to_id(eos)
    if eos_id is None:
        raise DataError(f"{tokenizer_dir}: EOS token '{eos}' is not in the vocabulary")
    return int(eos_id)


def _is_up_to_date(corpus_dir: Path, stamp: str, splits: Sequence[str]) -> bool:
    for split in splits:
        manifest = corpus_dir / split / MANIFEST_NAME
        if not (corpus_dir / split / INDEX_NAME).is_file() or not manifest.is_file():
            return False
        if json.loads(manifest.read_text()).get("fingerprint") != stamp:
            return False
    return True


def _load_progress(work: Path, stamp: str, force: bool) -> dict[str, Any]:
    """The progress record of an interrupted build of the same corpus, or a fresh work folder."""
    record = work / PROGRESS_NAME
    if not force and record.is_file():
        progress: dict[str, Any] = json.loads(record.read_text())
        if progress.get("fingerprint") == stamp:
            return progress
        log.info("%s: inputs or settings changed since the interrupted build; restarting", work)
    if work.exists():
        shutil.rmtree(work)
    work.mkdir(parents=True)
    return {"fingerprint": stamp, "splits": {}}


def prep_corpora(
    cfg: PrepConfig,
    only: Sequence[str] = (),
    force: bool = False,
    on_progress: ProgressFn | None = None,
) -> list[CorpusResult]:
    """Build the MDS folders of every corpus in ``cfg`` (or of those named in ``only``).

    Args:
        cfg: The data_prep config.
        only: Corpus names to build; empty builds all.
        force: Rebuild even when the output is up to date (and ignore an interrupted build).
        on_progress: Called with (records read, tokens written) after each tokenizer batch.

    Raises:
        DataError: Missing tokenizer or input, malformed corpus file, a bad document with
            ``strict``, too little data.
    """
    check_tokenizer_dir(cfg.tokenizer)
    names = [c.name for c in cfg.corpora]
    if len(set(names)) != len(names):
        raise DataError(f"data_prep config: corpus names must be unique, got {names}")
    unknown = sorted(set(only) - set(names))
    if unknown:
        raise DataError(f"no corpus named {unknown} in the config (corpora: {names})")
    if cfg.shard_multiple < 1:
        raise DataError(f"shard_multiple must be at least 1, got {cfg.shard_multiple}")
    tok_hash = tokenizer_fingerprint(cfg.tokenizer)
    eos_id = _eos_id(cfg.tokenizer)
    splits = [s for s in SPLITS if s == "train" or cfg.val_fraction > 0]
    out_root = Path(cfg.output_dir)
    results = []
    encoder: TextEncoder | None = None
    backend = ""
    for spec in cfg.corpora:
        if only and spec.name not in only:
            continue
        files = expand_inputs(spec.inputs)
        filt = DocumentFilter(spec.filter) if spec.filter is not None else None
        stamp = _fingerprint(cfg, spec, files, tok_hash, filt.fingerprint() if filt else None)
        corpus_dir = out_root / spec.name
        if not force and _is_up_to_date(corpus_dir, stamp, splits):
            log.info("%s is up to date, not rebuilt", corpus_dir)
            for s in splits:
                remove_unlisted_shards(corpus_dir / s)
            kept = {s: json.loads((corpus_dir / s / MANIFEST_NAME).read_text()) for s in splits}
            results.append(CorpusResult(spec.name, corpus_dir, True, kept))
            continue
        if encoder is None:
            tok_file = Path(cfg.tokenizer) / "tokenizer.json"
            encoder, backend = make_encoder(tok_file, cfg.tokenizer_backend)
            log.info("tokenizing with %s", backend)
        work = out_root / f".{spec.name}.partial"
        progress = _load_progress(work, stamp, force)
        try:
            stats, skipped, long_split, examples = build_corpus(
                cfg,
                files,
                spec.text_field,
                work,
                splits,
                progress,
                eos_id,
                encoder,
                filt,
                on_progress,
            )
            if filt is not None:
                skipped |= {r: n for r, n in filt.removed.items()}
                filt.close()
        except DataError:
            if filt is not None:
                filt.abort()
            shutil.rmtree(work, ignore_errors=True)  # bad input: the inputs must change anyway
            raise
        except BaseException:
            if filt is not None:
                filt.abort()
            raise  # the work folder stays: a rerun resumes from its finished shards
        inputs = [{"path": str(p), "bytes": input_size(p), "sha256": sha256_file(p)} for p in files]
        manifests: dict[str, dict[str, Any]] = {}
        for split, st in stats.items():
            if st.samples == 0:
                shutil.rmtree(work, ignore_errors=True)
                raise DataError(
                    f"corpus '{spec.name}': split '{split}' has {st.tokens} tokens, fewer than "
                    f"max_seq_len={cfg.max_seq_len}; add data or change val_fraction"
                )
            manifests[split] = {
                "corpus": spec.name,
                "split": split,
                "documents": st.documents,
                "tokens": st.tokens,
                "samples": st.samples,
                "shards": len(st.shards),
                "tokens_in_samples": st.samples * cfg.max_seq_len,
                "dropped_tail_tokens": st.dropped_tail_tokens,
                # Bad and filtered documents belong to the corpus, not to a split: train has them.
                "skipped_documents": skipped if split == "train" else {},
                "long_documents_split": long_split if split == "train" else 0,
                "bad_document_examples": examples if split == "train" else {},
                "eos_id": eos_id,
                "inputs": inputs,
                "fingerprint": stamp,
                "max_seq_len": cfg.max_seq_len,
                "tokenizer": {"path": cfg.tokenizer, "sha256": tok_hash, "backend": backend},
                "config": asdict(cfg) | {"corpora": [asdict(spec)]},
            }
            (work / split / MANIFEST_NAME).write_text(
                json.dumps(manifests[split], indent=2, ensure_ascii=False) + "\n"
            )
        (work / PROGRESS_NAME).unlink(missing_ok=True)
        replace_dir(work, corpus_dir)
        for split in splits:
            remove_unlisted_shards(corpus_dir / split)
        resumed = sum(st.resumed_shards for st in stats.values())
        log.info("built %s: %s", corpus_dir, {s: m["samples"] for s, m in manifests.items()})
        results.append(CorpusResult(spec.name, corpus_dir, False, manifests, resumed))
    return results
