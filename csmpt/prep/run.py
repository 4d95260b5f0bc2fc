"""``csmpt prep``: corpora -> tokens -> EOS-separated ``max_seq_len`` samples -> MDS shards.

For every corpus of a ``data_prep/*.yaml`` config this writes ``<output_dir>/<corpus>/train`` and
``<output_dir>/<corpus>/val``: Streaming MDS folders with one column ``tokens: ndarray:int32``,
which llm-foundry's ``text`` dataloader reads (``dataset.local: <output_dir>/<corpus>``,
``split: train``). Each folder also holds ``csmpt_manifest.json`` (:mod:`csmpt.mds.manifest`).

A corpus is built in ``<output_dir>/.<corpus>.partial`` and renamed into place when complete,
so a reader never sees a half-written corpus. A killed job, rerun, keeps the shards it finished
(:mod:`csmpt.prep.corpus_build`); a corpus whose inputs, tokenizer and settings are unchanged is
not rebuilt.
"""

from __future__ import annotations

import json
import logging
import shutil
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from csmpt.atomic import check_replaceable, replace_dir
from csmpt.corpus.fingerprint import input_size, sha256_file
from csmpt.corpus.readers import expand_inputs
from csmpt.errors import DataError
from csmpt.filter.document_filter import DocumentFilter
from csmpt.mds.manifest import MANIFEST_NAME, InputFile, SplitManifest, TokenizerStamp
from csmpt.mds.writer import INDEX_NAME, ShardFormat, remove_unlisted_shards
from csmpt.prep.config import (
    CORPUS_MARKS,
    SPLITS,
    TAIL_NAME,
    PrepConfig,
    build_fingerprint,
    parse_size,
    part_folder,
    with_packing,
)
from csmpt.prep.corpus_build import (
    PROGRESS_NAME,
    STRICT_REASONS,
    ProgressFn,
    build_corpus,
    split_of,
)
from csmpt.prep.encoders import (
    TextEncoder,
    choose_workers,
    make_encoder,
    start_worker_server,
)
from csmpt.prep.heap import heap_frozen
from csmpt.prep.long_docs import DocumentCutter
from csmpt.prep.pad_packing import pad_share
from csmpt.prep.part_dedup import part_verdicts
from csmpt.tokenizer.folder import check_tokenizer_dir, tokenizer_fingerprint

__all__ = [
    "MANIFEST_NAME",
    "CorpusResult",
    "prep_corpora",
    "split_of",
]

log = logging.getLogger(__name__)


@dataclass
class CorpusResult:
    """What ``prep_corpora`` did for one corpus."""

    name: str
    path: Path
    skipped: bool
    manifests: dict[str, SplitManifest]
    resumed_shards: int = 0


def _eos_id(tokenizer_dir: str) -> int:
    from tokenizers import Tokenizer

    tok = Tokenizer.from_file(str(Path(tokenizer_dir) / "tokenizer.json"))
    eos = json.loads((Path(tokenizer_dir) / "special_tokens_map.json").read_text())["eos_token"]
    eos = eos["content"] if isinstance(eos, dict) else eos
    eos_id = tok.token_to_id(eos)
    if eos_id is None:
        raise DataError(f"{tokenizer_dir}: EOS token '{eos}' is not in the vocabulary")
    return int(eos_id)


def _packing_fields(cfg: PrepConfig, tokens: int, samples: int) -> dict[str, Any]:
    """A pad-packed split's manifest fields: its packing, its real tokens and its pad share."""
    if cfg.packing == "concat":
        return {}  # concat manifests as before
    share = pad_share(tokens, samples, cfg.max_seq_len)
    return {"packing": cfg.packing, "real_tokens_in_samples": tokens, "pad_share": share}


def _is_up_to_date(corpus_dir: Path, stamp: str, splits: Sequence[str], strict: bool) -> bool:
    """Whether ``corpus_dir`` holds this build; with ``strict``, also that it passed strict.

    Raises:
        DataError: ``strict``, and the up-to-date corpus (built without it) counted documents
            strict mode stops at: the first of them, from its manifest.
    """
    for split in splits:
        folder = corpus_dir / split
        if not (folder / INDEX_NAME).is_file() or not (folder / MANIFEST_NAME).is_file():
            return False
        m = SplitManifest.read(folder)
        if m.fingerprint != stamp:
            return False
        if strict and not m.strict:
            _check_strict(corpus_dir, m)
    return True


def _check_strict(corpus_dir: Path, manifest: SplitManifest) -> None:
    """Raise at a document of a (non-strict) manifest that strict mode would have stopped at."""
    skipped = manifest.skipped_documents
    examples = manifest.bad_document_examples
    bad = [r for r in STRICT_REASONS if skipped.get(r)]
    if manifest.long_documents_split:
        bad.append("long_split")
    if bad:
        where = next((examples[r][0] for r in bad if examples.get(r)), "?")
        counts = ", ".join(f"{r} {skipped.get(r, manifest.long_documents_split)}" for r in bad)
        raise DataError(
            f"{where}: {bad[0]} document (strict: true): {corpus_dir} was built without strict "
            f"and counts {counts}; fix the inputs, or drop strict to use it as it is"
        )


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


@heap_frozen()
def prep_corpora(
    cfg: PrepConfig,
    only: Sequence[str] = (),
    force: bool = False,
    on_progress: ProgressFn | None = None,
    part: tuple[int, int] = (0, 1),
) -> list[CorpusResult]:
    """Build the MDS folders of every corpus in ``cfg`` (or of those named in ``only``).

    Args:
        cfg: The data_prep config.
        only: Corpus names to build; empty builds all.
        force: Rebuild even when the output is up to date (and ignore an interrupted build).
        on_progress: Called with (records read, tokens written) after each tokenizer batch.
        part: ``(i, n)`` with n > 1: build only part ``i`` (0-based) of each corpus' records
            (:func:`csmpt.corpus.readers.part_of`) into ``<name>.part-I-of-N`` (1-based I), for
            :func:`csmpt.prep.merge.merge_parts` to join.

    Raises:
        DataError: Missing tokenizer or input, malformed corpus file, a bad document with
            ``strict``, too little data.
    """
    out_root = Path(cfg.output_dir)
    if out_root.exists() and not out_root.is_dir():
        raise DataError(f"data_prep config: output_dir '{out_root}' is a file, not a folder")
    # a bad codec or shard size fails now, not after a corpus's work folder is made
    ShardFormat(cfg.compression, parse_size(cfg.size_limit), cfg.max_seq_len)
    check_tokenizer_dir(cfg.tokenizer)
    base_cfg = cfg
    names = [c.name for c in cfg.corpora]
    if len(set(names)) != len(names):
        raise DataError(f"data_prep config: corpus names must be unique, got {names}")
    unknown = sorted(set(only) - set(names))
    if unknown:
        raise DataError(f"no corpus named {unknown} in the config (corpora: {names})")
    if cfg.shard_multiple < 1:
        raise DataError(f"shard_multiple must be at least 1, got {cfg.shard_multiple}")
    if not (part[1] >= 1 and 0 <= part[0] < part[1]):
        raise DataError(f"part {part}: expected (i, n), 0 <= i < n (0-based; --part is 1-based)")
    tok_hash = tokenizer_fingerprint(cfg.tokenizer)
    eos_id = _eos_id(cfg.tokenizer)
    splits = [s for s in SPLITS if s == "train" or cfg.val_fraction > 0]
    tok_file = Path(cfg.tokenizer) / "tokenizer.json"
    results = []
    encoder: TextEncoder | None = None
    cutter: DocumentCutter | None = None
    backend = ""
    for spec in cfg.corpora:
        if only and spec.name not in only:
            continue
        cfg = with_packing(base_cfg, spec)
        files = expand_inputs(spec.inputs)
        filt = DocumentFilter(spec.filter) if spec.filter is not None else None
        filt_hash = filt.fingerprint() if filt else None
        if filt is not None and filt.removed_path is not None and part[1] > 1:
            rp = filt.removed_path  # each part its own side file; --merge joins them
            filt.removed_path = rp.with_name(f"{rp.stem}.{part_folder('', part)[1:]}{rp.suffix}")
        given = part_verdicts(cfg, spec, files, part)
        if given is not None and filt is not None:
            filt.use_verdicts(given[0])  # duplicates across all parts, decided in one pass
            filt_hash = f"{filt_hash}+{given[1]}"
        stamp = build_fingerprint(cfg, spec, files, tok_hash, filt_hash, part)
        folder = part_folder(spec.name, part) if part[1] > 1 else spec.name
        corpus_dir = out_root / folder
        check_replaceable(corpus_dir, CORPUS_MARKS, "data_prep config: output_dir's", "corpus")
        if not force and _is_up_to_date(corpus_dir, stamp, splits, cfg.strict):
            log.info("%s is up to date, not rebuilt", corpus_dir)
            for s in splits:
                remove_unlisted_shards(corpus_dir / s)
            kept = {s: SplitManifest.read(corpus_dir / s) for s in splits}
            results.append(CorpusResult(spec.name, corpus_dir, True, kept))
            continue
        input_bytes = sum(p.stat().st_size for p in files)
        workers = choose_workers(cfg.workers, input_bytes)
        if cfg.workers is None:
            how = f"{workers} worker processes" if workers else "threads in this process"
            log.info("tokenizing with %s (workers unset; %.1f MB of input)", how, input_bytes / 1e6)
        if workers:
            start_worker_server()  # it starts while the encoder is built and checked
        if encoder is None:
            encoder, backend = make_encoder(tok_file, cfg.tokenizer_backend)
            log.info("tokenizing with %s", backend)
            cutter = DocumentCutter(tok_file)
            if cutter.why_not is not None:
                log.info("long documents are encoded whole: %s", cutter.why_not)
        work = out_root / f".{folder}.partial"
        progress = _load_progress(work, stamp, force)
        try:
            stats, counts = build_corpus(
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
                cutter,
                part,
                workers,
            )
            skipped = counts.skipped
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
        inputs = [InputFile(str(p), input_size(p), sha256_file(p)) for p in files]
        manifests: dict[str, SplitManifest] = {}
        for split, st in stats.items():
            if st.samples == 0 and part[1] == 1:
                shutil.rmtree(work, ignore_errors=True)
                raise DataError(
                    f"corpus '{spec.name}': split '{split}' has {st.tokens} tokens, fewer than "
                    f"max_seq_len={cfg.max_seq_len}; add data or change val_fraction"
                )
            train = split == "train"  # bad and filtered documents belong to the corpus: train
            manifests[split] = SplitManifest(
                corpus=spec.name,
                split=split,
                documents=st.documents,
                tokens=st.tokens,
                samples=st.samples,
                shards=len(st.shards),
                tokens_in_samples=st.samples * cfg.max_seq_len,
                dropped_tail_tokens=st.dropped_tail_tokens,
                **_packing_fields(cfg, st.tokens, st.samples),
                skipped_documents=dict(skipped) if train else {},
                long_documents_split=counts.long_split if train else 0,
                repaired_documents=dict(counts.repaired) if train else {},
                bad_document_examples=dict(counts.examples) if train else {},
                strict=cfg.strict,
                eos_id=eos_id,
                inputs=inputs,
                fingerprint=stamp,
                max_seq_len=cfg.max_seq_len,
                tokenizer=TokenizerStamp(cfg.tokenizer, tok_hash, backend),
                config=asdict(cfg) | {"corpora": [asdict(spec)]},
                part=[part[0] + 1, part[1]] if part[1] > 1 else None,
            )
            if part[1] > 1:
                assert st.tail is not None
                np.save(work / split / TAIL_NAME, st.tail)
            manifests[split].write(work / split)
            (work / f"{split}.docmap.bin").unlink(missing_ok=True)
        (work / PROGRESS_NAME).unlink(missing_ok=True)
        replace_dir(work, corpus_dir, CORPUS_MARKS, "corpus")
        for split in splits:
            remove_unlisted_shards(corpus_dir / split)
        resumed = sum(st.resumed_shards for st in stats.values())
        log.info("built %s: %s", corpus_dir, {s: m.samples for s, m in manifests.items()})
        results.append(CorpusResult(spec.name, corpus_dir, False, manifests, resumed))
    return results
