"""``csmpt prep CONFIG --merge``: join the ``--part`` folders of each corpus into one corpus.

``csmpt prep CONFIG --part I/N`` builds part I of N of every corpus into
``<output_dir>/<corpus>.part-III-of-NNN`` (records dealt out by
:func:`csmpt.corpus.readers.part_of`), on as many nodes as there are parts. Merging then makes,
for each split, ``<output_dir>/<corpus>/<split>/`` holding

- ``part-III/``: part I's shards, hard-linked (copied across file systems);
- ``tail/``: the parts' leftover tokens (each part's last, partial sample, in part order) cut
  into whole samples;
- ``index.json`` written by mosaicml-streaming's own ``merge_index``, which names each shard
  ``part-III/shard.NNNNN.mds.zstd``;
- ``csmpt_manifest.json`` summing the parts', and the joined document map.

The merged corpus holds every token a single-node build holds, each document once, and the
same number of samples (documents cut by the parts' ends continue in the tail samples). The
order differs: part 1's documents (its records in corpus order), then part 2's, ..., then the
tail samples. Only the last partial sample of the joined tails is dropped, as in a single build.
The merge is done in ``.<corpus>.partial`` and renamed into place; a merged corpus whose parts
are unchanged is not merged again.

``packing: pad`` (:mod:`csmpt.prep.pad_packing`): each part packs its own documents and writes
its last, open sample (no tail), so the merge only joins the parts' shards and maps, and every
document is whole in it (an over-long one as its ``max_seq_len`` chunks), once, in the order
above. The samples are not a single build's: next-fit packing is restarted wherever the corpus's
record order passes from one part to another (every :data:`csmpt.corpus.readers.PART_BLOCK`
records of an input, and between inputs), and packing runs of documents separately changes the
sample count by at most one per run joined or split. So with ``s`` switches (the manifest's
``part_switches``, counted from the parts' document maps) over ``k`` parts holding documents,
a single build has between ``samples - s`` and ``samples + s + 1 - k`` samples (the manifest's
``single_build_samples``; at most ``k - 1`` fewer when each part is one range of the records).
Documents, tokens and real tokens are the single build's.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from csmpt.atomic import open_atomic, replace_dir
from csmpt.errors import DataError
from csmpt.mds.doc_map import DOCMAP_DIR, segments, write_doc_map
from csmpt.mds.manifest import SplitManifest
from csmpt.mds.writer import INDEX_NAME, ShardedSplitWriter, ShardFormat
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
from csmpt.prep.pad_packing import pad_share

if TYPE_CHECKING:
    from csmpt.prep.run import CorpusResult

__all__ = ["merge_parts"]

log = logging.getLogger(__name__)


def _part_dirs(out_root: Path, name: str) -> list[Path]:
    """The part folders of corpus ``name``, in part order; all N of one N."""
    found = sorted(out_root.glob(f"{name}.part-*-of-*"))
    found = [p for p in found if p.is_dir()]
    if not found:
        raise DataError(
            f"{out_root}: no parts of corpus '{name}' ({name}.part-I-of-N); build them with "
            "csmpt prep CONFIG --part I/N"
        )
    counts = {p.name.rsplit("-of-", 1)[1] for p in found}
    if len(counts) != 1:
        raise DataError(f"{out_root}: parts of '{name}' of different N {sorted(counts)}")
    n = int(counts.pop())
    want = [out_root / f"{name}.part-{i:03}-of-{n:03}" for i in range(1, n + 1)]
    missing = [p.name for p in want if not (p / "train" / INDEX_NAME).is_file()]
    if missing:
        raise DataError(f"{out_root}: part(s) {', '.join(missing)} of '{name}' are not built yet")
    return want


def _link_tree(src: Path, dst: Path) -> None:
    """Hard-link (or copy) the files of a split folder: shards, index."""
    dst.mkdir(parents=True)
    for f in src.iterdir():
        if f.is_file() and (f.name.startswith("shard.") or f.name == INDEX_NAME):
            try:
                os.link(f, dst / f.name)
            except OSError:
                shutil.copy2(f, dst / f.name)


def _tail_runs(folder: Path, n_samples: int, seq_len: int) -> tuple[np.ndarray, np.ndarray]:
    """(start in the tail, document, offset in it) of the documents in a part's tail."""
    starts = np.load(folder / DOCMAP_DIR / "doc_start.npy")
    at = n_samples * seq_len
    if len(starts) == 0:
        return np.zeros((0, 3), np.int64), starts
    first = int(np.searchsorted(starts, at, side="right")) - 1
    docs = np.arange(first, len(starts), dtype=np.int64)
    pos = np.maximum(starts[first:] - at, 0)
    off = np.zeros(len(docs), np.int64)
    off[0] = at - starts[first]
    return np.stack([pos, docs, off], axis=1), starts


def _merge_split(cfg: PrepConfig, parts: Sequence[Path], split: str, out: Path) -> SplitManifest:
    """Merge one split of the parts into ``out`` (a new folder); return its manifest."""
    from streaming.base.util import merge_index

    seq = cfg.max_seq_len
    manifests = [SplitManifest.read(p / split) for p in parts]
    out.mkdir(parents=True)
    indexes = []
    maps: dict[str, list[np.ndarray]] = {k: [] for k in ("seg_doc", "seg_offset", "seg_pos")}
    doc_file, doc_line, sample_seg = [], [], [np.zeros(1, np.int64)]
    tails, runs = [], []
    docs_before = segs_before = tail_len = 0
    for i, (part, m) in enumerate(zip(parts, manifests, strict=True)):
        src = part / split
        sub = out / f"part-{i + 1:03}"
        if m.samples:
            _link_tree(src, sub)
            indexes.append(str(sub / INDEX_NAME))
        d = src / DOCMAP_DIR
        a = {k: np.load(d / f"{k}.npy") for k in ("sample_seg", "doc_file", "doc_line", *maps)}
        for k in maps:
            maps[k].append(a[k] + (docs_before if k == "seg_doc" else 0))
        sample_seg.append(a["sample_seg"][1:] + segs_before)
        doc_file.append(a["doc_file"])
        doc_line.append(a["doc_line"])
        tail = np.load(src / TAIL_NAME)
        if len(tail) and cfg.packing == "pad":
            raise DataError(f"{src}: a pad-packed part with a dropped tail; rebuild the part")
        if len(tail):
            run, _ = _tail_runs(src, m.samples, seq)
            run[:, 0] += tail_len
            run[:, 1] += docs_before
            runs.append(run)
            tails.append(tail)
            tail_len += len(tail)
        docs_before += len(a["doc_file"])
        segs_before += len(a["seg_doc"])
    joined = np.concatenate(tails) if tails else np.zeros(0, np.int32)
    n_tail = len(joined) // seq
    if 0 < n_tail < cfg.shard_multiple:
        log.warning("%s: %d tail sample(s) < shard_multiple, dropped", out, n_tail)
        n_tail = 0
    if n_tail:
        fmt = ShardFormat(cfg.compression, parse_size(cfg.size_limit), seq)
        writer = ShardedSplitWriter(out / "tail", fmt, [])
        for sample in joined[: n_tail * seq].reshape(n_tail, seq):
            writer.add(sample)
        writer.finish(cfg.shard_multiple)
        indexes.append(str(out / "tail" / INDEX_NAME))
        r = np.concatenate(runs)
        t = segments(r[:, 0], r[:, 1], r[:, 2], n_tail, seq)
        for k in maps:
            maps[k].append(t[k])
        sample_seg.append(t["sample_seg"][1:] + segs_before)
    merge_index(indexes, str(out))
    write_doc_map(
        out,
        {
            "sample_seg": np.concatenate(sample_seg),
            "doc_file": np.concatenate(doc_file).astype(np.int32),
            "doc_line": np.concatenate(doc_line).astype(np.int64),
        }
        | {k: np.concatenate(v) for k, v in maps.items()},
    )
    merged = SplitManifest.merge(manifests, n_tail, len(joined))
    if cfg.packing == "pad":
        real = sum(m.real_tokens_in_samples or 0 for m in manifests)
        merged = replace(merged, **_pad_fields(real, merged.samples, seq, doc_file, doc_line))
    return merged


def _part_switches(doc_file: list[np.ndarray], doc_line: list[np.ndarray]) -> tuple[int, int]:
    """(Places where corpus order passes from one part's documents to another's, parts with any).

    Corpus order is (input, line or row), each document's place in a single build.
    """
    part = np.concatenate([np.full(len(f), i, np.int32) for i, f in enumerate(doc_file)])
    if len(part) == 0:
        return 0, 0
    order = np.lexsort((np.concatenate(doc_line), np.concatenate(doc_file)))
    seq = part[order]
    return int(np.count_nonzero(seq[1:] != seq[:-1])), len(np.unique(part))


def _pad_fields(
    real: int,
    samples: int,
    seq: int,
    doc_file: list[np.ndarray],
    doc_line: list[np.ndarray],
) -> dict[str, Any]:
    """A merged pad split's real tokens and pad share, and a single build's sample count range.

    Each run of consecutive documents (in corpus order) of one part is packed apart from the
    runs before it in the corpus; next-fit over two runs takes the two runs' samples or one
    fewer, so a single build has ``[samples - s, samples + s + 1 - k]`` samples (module
    docstring), and never fewer than its real tokens fill.

    Args:
        real: The parts' real tokens in samples, summed.
        samples: The merged split's samples.
        seq: ``max_seq_len``.
        doc_file: Each part's ``doc_file`` array (document map).
        doc_line: Each part's ``doc_line`` array.

    Returns:
        The :class:`~csmpt.mds.manifest.SplitManifest` fields ``real_tokens_in_samples``,
        ``pad_share``, ``part_switches`` and ``single_build_samples``.
    """
    switches, filled = _part_switches(doc_file, doc_line)
    low = max(samples - switches, -(-real // seq))
    return {
        "real_tokens_in_samples": real,
        "pad_share": pad_share(real, samples, seq),
        "part_switches": switches,
        "single_build_samples": [low, samples + switches + 1 - max(filled, 1)],
    }


def _join_side_files(path: Path, n: int) -> None:
    """The parts' removed-document files, joined in part order into the configured one."""
    with open_atomic(path, "wb") as out:
        for i in range(n):
            part = path.with_name(f"{path.stem}.{part_folder('', (i, n))[1:]}{path.suffix}")
            if part.is_file():
                out.write(part.read_bytes())


def merge_parts(
    cfg: PrepConfig, only: Sequence[str] = (), force: bool = False
) -> list[CorpusResult]:
    """Join the ``--part`` folders of every corpus (or of those in ``only``).

    Raises:
        DataError: A part is missing or was built from other inputs or settings.
    """
    from csmpt.corpus.readers import expand_inputs
    from csmpt.filter.document_filter import DocumentFilter
    from csmpt.prep.part_dedup import part_verdicts
    from csmpt.prep.run import CorpusResult, _is_up_to_date
    from csmpt.tokenizer.folder import tokenizer_fingerprint

    tok_hash = tokenizer_fingerprint(cfg.tokenizer)
    splits = [s for s in SPLITS if s == "train" or cfg.val_fraction > 0]
    out_root = Path(cfg.output_dir)
    results = []
    for spec in cfg.corpora:
        if only and spec.name not in only:
            continue
        ccfg = with_packing(cfg, spec)  # the corpus's own packing, as its parts were built
        files = expand_inputs(spec.inputs)
        filt = DocumentFilter(spec.filter) if spec.filter is not None else None
        filt_hash = filt.fingerprint() if filt else None
        parts = _part_dirs(out_root, spec.name)
        n = len(parts)
        given = part_verdicts(cfg, spec, files, (0, n))
        part_hash = f"{filt_hash}+{given[1]}" if given is not None else filt_hash
        for i, p in enumerate(parts):
            if SplitManifest.read(p / "train").fingerprint != build_fingerprint(
                ccfg, spec, files, tok_hash, part_hash, (i, n)
            ):
                raise DataError(
                    f"{p}: built from other inputs or settings than the config's; rebuild it "
                    f"(csmpt prep CONFIG --part {i + 1}/{n})"
                )
        stamp = build_fingerprint(ccfg, spec, files, tok_hash, filt_hash)
        corpus_dir = out_root / spec.name
        if not force and _is_up_to_date(corpus_dir, stamp, splits, False):
            kept = {s: SplitManifest.read(corpus_dir / s) for s in splits}
            results.append(CorpusResult(spec.name, corpus_dir, True, kept))
            continue
        work = out_root / f".{spec.name}.partial"
        shutil.rmtree(work, ignore_errors=True)
        manifests = {}
        for split in splits:
            m = _merge_split(ccfg, parts, split, work / split)
            m.fingerprint = stamp
            m.shards = len(json.loads((work / split / INDEX_NAME).read_text())["shards"])
            if m.samples == 0:
                shutil.rmtree(work, ignore_errors=True)
                raise DataError(
                    f"corpus '{spec.name}': split '{split}' has {m.tokens} tokens, fewer than "
                    f"max_seq_len={cfg.max_seq_len}; add data or change val_fraction"
                )
            m.write(work / split)
            manifests[split] = m
        replace_dir(work, corpus_dir, CORPUS_MARKS, "corpus")
        if filt is not None and filt.removed_path is not None:
            _join_side_files(filt.removed_path, n)
        log.info("merged %d parts into %s", n, corpus_dir)
        results.append(CorpusResult(spec.name, corpus_dir, False, manifests))
    return results
