"""Build one corpus's MDS splits from its documents: resumably, on every core, in order.

The pipeline: a reader thread reads documents (counting bad ones), drops exact duplicates
(the filter's ``duplicates``), routes each document to ``train`` or ``val`` by a hash of its text
and batches the texts; the encoder tokenizes them, and scores them with the filter's classifier,
on every core (:mod:`csmpt.prep.encoders`); this thread takes the filter's verdicts in corpus order
(``record``: counts, side file), joins each kept document's tokens and EOS into ``max_seq_len``
samples and writes shards (:mod:`csmpt.mds.writer`). A document longer than ``max_doc_chars`` is
not batched: this thread cuts it and feeds its pieces' ids as they come back
(:func:`csmpt.prep.long_docs.stream_ids`), so its ids are never held whole.

Resumption: after each finished shard the work folder's ``csmpt_progress.json`` records, per
split, its finished shards and where the next sample starts (document number, token offset). A
rerun reads every document again (the filter's duplicate set is rebuilt from their hashes) but
does not score again the documents whose verdicts the work folder's side file holds (progress
``filter_records``), nor tokenize those before a split's resume point.
Batching and the worker count change nothing in the output.
"""

from __future__ import annotations

import hashlib
import logging
import queue
import threading
from collections import Counter, deque
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from csmpt.atomic import write_json
from csmpt.corpus.readers import (
    INVALID_UTF8,
    MALFORMED_JSON,
    MISSING_TEXT,
    UNENCODABLE,
    Document,
    read_documents,
)
from csmpt.errors import DataError
from csmpt.mds.doc_map import DocMapWriter, split_doc_map, write_doc_map
from csmpt.mds.writer import ShardedSplitWriter, ShardFormat
from csmpt.prep.concat import SampleConcatenator
from csmpt.prep.config import PrepConfig, parse_size
from csmpt.prep.encoders import BatchEncoder, Result, TextEncoder
from csmpt.prep.long_docs import PIECE_CHARS, DocumentCutter, stream_ids
from csmpt.prep.pad_packing import PadPacker

if TYPE_CHECKING:
    from csmpt.filter.document_filter import DocumentFilter

__all__ = [
    "EMPTY",
    "LONG_SPLIT",
    "PROGRESS_NAME",
    "STRICT_REASONS",
    "CorpusCounts",
    "SplitStats",
    "build_corpus",
    "split_of",
]

log = logging.getLogger(__name__)

PROGRESS_NAME = "csmpt_progress.json"
EMPTY = "empty"
LONG_SPLIT = "long_split"
MAX_EXAMPLES = 5
_HASH_CHARS = 1 << 20  # characters encoded at a time to hash a document

# Skip reasons that strict mode stops at (filters' removals are not errors).
STRICT_REASONS = (INVALID_UTF8, MALFORMED_JSON, MISSING_TEXT, UNENCODABLE, EMPTY)

ProgressFn = Callable[[int, int], None]


def split_of(text: str, val_fraction: float) -> str:
    """Return ``val`` or ``train`` for a document, from a hash of its text (deterministic)."""
    if val_fraction <= 0:
        return "train"
    digest = hashlib.blake2b(digest_size=8)
    for i in range(0, len(text), _HASH_CHARS):  # a long document is not encoded whole
        digest.update(text[i : i + _HASH_CHARS].encode("utf-8"))
    h = int.from_bytes(digest.digest(), "big")
    return "val" if h / 2**64 < val_fraction else "train"


def _blank(text: str) -> bool:
    """``not text.strip()``, without copying the text."""
    return not text or text.isspace()


@dataclass
class SplitStats:
    """What went into one split."""

    documents: int = 0
    tokens: int = 0
    samples: int = 0
    dropped_tail_tokens: int = 0
    shards: list[dict[str, Any]] = field(default_factory=list)
    resumed_shards: int = 0
    tail: np.ndarray | None = None  # the dropped tail's tokens


@dataclass
class CorpusCounts:
    """What a build skipped, split and repaired, with where the first few of each are.

    Attributes:
        skipped: Documents not used, by reason.
        long_split: Documents longer than ``max_doc_chars`` (tokenized in pieces).
        repaired: Documents kept after a repair (``bom_stripped``, ``repaired_unicode``).
        examples: Reason -> the first few ``file:line`` of each kind.
    """

    skipped: dict[str, int]
    long_split: int
    repaired: dict[str, int]
    examples: dict[str, list[str]]


@dataclass
class _Entry:
    doc: int  # number of the record in the corpus stream
    source: Document
    duplicate: bool = False
    split: str = "train"
    skip: int = -1  # tokens already written (resumed); -1: all of them
    first_text: int = 0  # its first piece in the batch's texts
    n_texts: int = 0
    score_at: int = -1  # its place in the batch's texts to score; -1: not scored
    sign_at: int = -1  # its place in the batch's texts to sign (near-dedup); -1: not signed
    long: bool = False  # longer than max_doc_chars: encoded piece by piece when consumed


@dataclass
class _Batch:
    entries: list[_Entry] = field(default_factory=list)
    texts: list[str] = field(default_factory=list)  # to tokenize
    score: list[str] = field(default_factory=list)  # for the filter's classifier
    sign: list[str] = field(default_factory=list)  # for the near-duplicate filter
    records: int = 0


class _SplitSink:
    """One split's concatenator and shard writer, and the stream position of each document."""

    def __init__(
        self,
        writer: ShardedSplitWriter,
        max_seq_len: int,
        resume: tuple[int, int],
        doc_map: DocMapWriter,
        packing: str = "concat",
        real_tokens: int = 0,
    ):
        self.writer = writer
        self.max_seq_len = max_seq_len
        # pad: positions count in the padded stream (sample i at i * max_seq_len), and
        # real_tokens are the tokens in finished shards (progress keeps them).
        self.pad = PadPacker(max_seq_len) if packing == "pad" else None
        self.concat = self.pad or SampleConcatenator(max_seq_len, None)
        self.base_tokens = writer.committed_samples * max_seq_len
        self.base_real = self.real_tokens = real_tokens
        self.start = resume  # fixed: what the reader thread skips
        self.resume = resume  # moves on with every finished shard
        self.doc_map = doc_map
        self.resume_entries = doc_map.entries  # doc map entries before the resume document
        self._starts: deque[tuple[int, int, int]] = deque()
        self._skip = 0  # tokens of the current document still to skip (resumed)

    def skip_of(self, doc: int) -> int:
        k, offset = self.start
        return -1 if doc < k else offset if doc == k else 0

    def feed(self, doc: int, tokens: np.ndarray, skip: int, file: int, line: int) -> bool:
        """Add a document's tokens (EOS included) from ``skip`` on; True if a shard was written.

        ``file`` (index of the input) and ``line`` go into the split's document map.
        """
        self.begin(doc, skip, file, line, len(tokens))
        return self.add(tokens)

    def begin(self, doc: int, skip: int, file: int, line: int, n_tokens: int = -1) -> None:
        """Start a document whose tokens :meth:`add` takes, in parts, from ``skip`` on.

        ``n_tokens`` (EOS included) is needed by pad packing only.
        """
        at = self.pad.start_of(n_tokens - skip) if self.pad else self.concat.tokens_in
        pos = self.base_tokens + at
        self._starts.append((doc, pos - skip, self.doc_map.entries))
        self.doc_map.add(pos - skip, file, line)
        self._skip = skip

    def feed_many(
        self, docs: Sequence[tuple[int, int, int]], tokens: np.ndarray, lengths: np.ndarray
    ) -> bool:
        """Add whole documents at once (concat packing, none resumed); True if a shard was written.

        ``docs`` holds (record, file, line) per document, ``tokens`` their tokens one after
        another (EOS included), ``lengths`` each one's token count. Equal to :meth:`feed` per
        document: every start is known before the tokens go in, so a shard written mid-way
        resumes from the document it falls in.
        """
        assert self.pad is None and self._skip == 0
        starts = self.base_tokens + self.concat.tokens_in + np.cumsum(lengths) - lengths
        entry = self.doc_map.entries
        for (doc, file, line), pos in zip(docs, starts.tolist(), strict=True):
            self._starts.append((doc, pos, entry))
            self.doc_map.add(pos, file, line)
            entry += 1
        return self.add(tokens)

    def add(self, tokens: np.ndarray) -> bool:
        """Add the next tokens of the document begun (pad: all of them at once)."""
        if self._skip:
            cut = min(self._skip, len(tokens))
            tokens, self._skip = tokens[cut:], self._skip - cut
        wrote = False
        for sample in self.concat.add_tokens(tokens):
            if self.writer.add(sample):
                wrote = True
                self.resume = self._position(self.writer.committed_samples * self.max_seq_len)
                if self.pad:
                    self.real_tokens = self.base_real + self.pad.tokens_out
        return wrote

    def _position(self, pos: int) -> tuple[int, int]:
        while len(self._starts) > 1 and self._starts[1][1] <= pos:
            self._starts.popleft()
        doc, start, entry = self._starts[0]
        self.resume_entries = entry
        return doc, pos - start


def _joined(
    entries: Sequence[_Entry],
    flat: np.ndarray,
    lengths: np.ndarray,
    ends: np.ndarray,
    eos: np.ndarray,
    file_ids: dict[Path, int],
) -> tuple[list[tuple[int, int, int]], np.ndarray, np.ndarray]:
    """Whole documents' (record, file, line), their tokens each followed by EOS, and counts.

    ``flat``/``lengths``/``ends`` are a batch's encoded texts; each entry is one text of it.
    """
    at = np.fromiter((e.first_text for e in entries), np.int64, len(entries))
    n = lengths[at]
    if len(at) == len(lengths):  # every text of the batch, in order: no gather
        body = flat
    else:
        offsets = np.cumsum(n) - n
        body = flat[np.arange(int(n.sum())) + np.repeat(ends[at] - n - offsets, n)]
    tokens = np.insert(body, np.cumsum(n), eos[0])
    docs = [(e.doc, file_ids[e.source.path], e.source.line) for e in entries]
    return docs, tokens.astype(np.int32, copy=False), n + 1


class _Background:
    """Run ``items`` in a thread from construction on, its results handed over a queue.

    Reading starts while the caller goes on (the encoder's workers start); an exception in the
    thread is raised by the iteration. Iterate once; :meth:`close` stops the thread (at its
    next hand-over) and waits for it.
    """

    def __init__(self, items: Iterator[_Batch], maxsize: int = 8) -> None:
        self._q: queue.Queue[Any] = queue.Queue(maxsize)
        self._stop = threading.Event()
        self._done = object()
        self._thread = threading.Thread(target=self._run, args=(items,), name="csmpt-read")
        self._thread.daemon = True
        self._thread.start()

    def _put(self, item: object) -> bool:
        while not self._stop.is_set():
            try:
                self._q.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def _run(self, items: Iterator[_Batch]) -> None:
        try:
            for item in items:
                if not self._put(item):
                    return
            self._put(self._done)
        except BaseException as e:  # noqa: BLE001 - handed to the consumer
            self._put(e)

    def __iter__(self) -> Iterator[_Batch]:
        while (item := self._q.get()) is not self._done:
            if isinstance(item, BaseException):
                raise item
            yield item

    def close(self) -> None:
        """Stop the reading thread and wait for it."""
        self._stop.set()
        self._thread.join()


class _Reader:
    """Turn the document stream into tokenizer batches, counting what is skipped."""

    def __init__(
        self,
        cfg: PrepConfig,
        sinks: dict[str, _SplitSink],
        filt: DocumentFilter | None,
        cutter: DocumentCutter,
    ) -> None:
        self.cfg = cfg
        self.sinks = sinks
        self.filt = filt
        self.cutter = cutter
        self.skipped: Counter[str] = Counter()
        self.repaired: Counter[str] = Counter()
        self.examples: dict[str, list[str]] = {}  # reason -> first few "file:line"
        self.documents: Counter[str] = Counter()
        self.long_split = 0
        self.filt_resume = filt.resume_record if filt is not None else 0

    def _note(self, doc: Document, reason: str) -> None:
        seen = self.examples.setdefault(reason, [])
        if len(seen) < MAX_EXAMPLES:
            seen.append(f"{doc.path}:{doc.line}")

    def _count(self, doc: Document, reason: str) -> None:
        self.skipped[reason] += 1
        self._note(doc, reason)

    def _strict(self, doc: Document, why: str) -> None:
        if self.cfg.strict:
            raise DataError(f"{doc.path}:{doc.line}: {why} (strict: true)")

    def batches(self, docs: Iterator[Document]) -> Iterator[_Batch]:
        group: list[tuple[int, Document]] = []
        records = 0
        for n, doc in enumerate(docs):
            records += 1
            for repair in doc.repairs:
                self.repaired[repair] += 1
                self._note(doc, repair)
            if doc.problem is not None:
                self._count(doc, doc.problem.split(":", 1)[0])
            elif _blank(doc.text):
                self._strict(doc, "empty or whitespace-only document")
                self._count(doc, EMPTY)
            else:
                group.append((n, doc))
            if len(group) >= self.cfg.batch_size:
                yield self._batch(group, records)
                group, records = [], 0
        if group or records:
            yield self._batch(group, records)

    def _batch(self, group: list[tuple[int, Document]], records: int) -> _Batch:
        """Route, and queue for tokenizing and scoring; the filter's verdict comes in ``kept``."""
        dups: Sequence[bool] = [False] * len(group)
        if self.filt is not None and group:
            dups = self.filt.duplicates([d.text for _, d in group])
        scoring = self.filt is not None and self.filt.model is not None
        signing = self.filt is not None and self.filt.signer is not None
        batch = _Batch(records=records)
        for (n, doc), dup in zip(group, dups, strict=True):
            entry = _Entry(n, doc, dup)
            batch.entries.append(entry)
            if dup:
                continue
            if signing:  # every one: earlier kept ones rejoin the index on a resume
                entry.sign_at = len(batch.sign)
                batch.sign.append(doc.text)
            if scoring and n >= self.filt_resume:  # earlier ones keep their verdicts
                entry.score_at = len(batch.score)
                batch.score.append(doc.text)
            entry.split = split_of(doc.text, self.cfg.val_fraction)
            entry.skip = self.sinks[entry.split].skip_of(n)
            entry.first_text = len(batch.texts)
            if entry.skip >= 0 and len(doc.text) > self.cfg.max_doc_chars:
                entry.long = True  # cut and encoded a few pieces at a time by the consumer
            elif entry.skip >= 0:
                entry.n_texts = 1
                batch.texts.append(doc.text)
        return batch

    def kept(self, entry: _Entry) -> None:
        """Count a document the filter kept (in the consuming thread, in corpus order)."""
        doc = entry.source
        self.documents[entry.split] += 1
        if len(doc.text) > self.cfg.max_doc_chars:
            why = f"document of {len(doc.text):,} characters is longer than max_doc_chars"
            self._strict(doc, f"{why}={self.cfg.max_doc_chars:,}")
            self.long_split += 1
            self._note(doc, LONG_SPLIT)


def build_corpus(
    cfg: PrepConfig,
    files: Sequence[Path],
    text_field: str,
    work_dir: Path,
    splits: Sequence[str],
    progress: dict[str, Any],
    eos_id: int,
    encoder: TextEncoder,
    filt: DocumentFilter | None = None,
    on_progress: ProgressFn | None = None,
    cutter: DocumentCutter | None = None,
    part: tuple[int, int] = (0, 1),
    workers: int = 0,
) -> tuple[dict[str, SplitStats], CorpusCounts]:
    """Write every split of one corpus into ``work_dir/<split>``, resuming from ``progress``.

    Args:
        cfg: The data_prep config (one corpus's settings are passed as ``files``/``filt``).
        files: The corpus inputs, in order.
        text_field: The field/column holding the text.
        work_dir: The corpus's work folder; ``csmpt_progress.json`` there is kept up to date.
        splits: ``train`` and, with a val fraction, ``val``.
        progress: The loaded progress record (``{"fingerprint": ..., "splits": {}}`` if new).
        eos_id: Appended after every document.
        encoder: Tokenizes (:func:`csmpt.prep.encoders.make_encoder`).
        filt: The corpus's document filter, if any.
        on_progress: Called with (records read, tokens written) after every batch.
        cutter: Cuts documents longer than ``max_doc_chars`` (default: of ``cfg.tokenizer``).
        part: ``(i, n)``: build only part ``i`` (0-based) of ``n`` of the records.
        workers: Worker processes to encode with, 0 for threads (chosen by the caller:
            :func:`csmpt.prep.encoders.choose_workers`).

    Returns:
        Per-split stats (each split folder also gets its document map) and the counts of
        skipped, long and repaired documents.
    """
    fmt = ShardFormat(cfg.compression, parse_size(cfg.size_limit), cfg.max_seq_len)
    sinks: dict[str, _SplitSink] = {}
    for s in splits:
        done = progress["splits"].get(s, {})
        writer = ShardedSplitWriter(work_dir / s, fmt, done.get("shards", []))
        doc_map = DocMapWriter(work_dir / f"{s}.docmap.bin", int(done.get("map_entries", 0)))
        resume = (done.get("doc", -1), done.get("offset", 0))
        real = int(done.get("real_tokens", 0))
        sinks[s] = _SplitSink(writer, cfg.max_seq_len, resume, doc_map, cfg.packing, real)
    resumed = {s: len(k.writer.shards) for s, k in sinks.items()}
    if any(resumed.values()):
        log.info("resuming %s with finished shards %s", work_dir, resumed)

    def save() -> None:
        if filt is not None:
            filt.sync()  # its lines are on disk before the progress that counts on them
            progress["filter_records"] = filtered[0]
        for k in sinks.values():
            k.doc_map.flush(sync=True)
        progress["splits"] = {
            s: {
                "shards": k.writer.shards,
                "doc": k.resume[0],
                "offset": k.resume[1],
                "map_entries": k.resume_entries,
            }
            | ({"real_tokens": k.real_tokens} if k.pad else {})
            for s, k in sinks.items()
        }
        write_json(work_dir / PROGRESS_NAME, progress, sort_keys=True, ensure_ascii=False)

    if filt is not None:
        # The side file holds the verdicts of every record before this: they are kept.
        filt.begin(work_dir, int(progress.get("filter_records", 0)))
    filtered = [0]  # records with verdicts so far
    if cutter is None:
        cutter = DocumentCutter(Path(cfg.tokenizer) / "tokenizer.json")
    reader = _Reader(cfg, sinks, filt, cutter)
    docs = read_documents(
        files, text_field, strict=cfg.strict, repair_unicode=cfg.repair_unicode, part=part
    )
    file_ids = {path: i for i, path in enumerate(files)}
    scorer = filt.model if filt is not None else None
    signer = filt.signer if filt is not None else None
    batches = _Background(reader.batches(docs))  # reading starts while the workers start
    try:
        batch_encoder = BatchEncoder(encoder, workers, scorer, signer)
    except BaseException:
        batches.close()
        raise
    eos = np.asarray([eos_id], dtype=np.int32)
    inflight: deque[tuple[_Batch, Future[Result] | None]] = deque()

    def feed_long(e: _Entry) -> tuple[bool, int]:
        """Cut, encode and feed a long document piece by piece; (a shard written, its tokens)."""
        sink, source = sinks[e.split], e.source
        assert cutter is not None
        pieces = cutter.iter_pieces(source.text, min(cfg.max_doc_chars, PIECE_CHARS))
        ids = stream_ids(pieces, batch_encoder.submit, batch_encoder.depth)
        where = (file_ids[source.path], source.line)
        if sink.pad is not None:  # pad packing places a document by its length: whole
            tokens = np.concatenate([*ids, eos])
            return sink.feed(e.doc, tokens, e.skip, *where), len(tokens) - 1
        sink.begin(e.doc, e.skip, *where)
        wrote, n = False, 0
        for part in ids:
            wrote |= sink.add(part)
            n += len(part)
        return sink.add(eos) or wrote, n

    def consume(batch: _Batch, fut: Future[Result] | None) -> None:
        none = (eos[:0], np.zeros(0, np.int64), np.zeros(0), np.zeros((0, 0), np.uint32))
        flat, lengths, scores, sigs = fut.result() if fut is not None else none
        entries = batch.entries
        verdicts: Sequence[str | None] = [None] * len(entries)
        if filt is not None and entries:
            verdicts = filt.record(
                [e.source.doc_id for e in entries],
                [e.source.text for e in entries],
                [e.duplicate for e in entries],
                [float(scores[e.score_at]) if e.score_at >= 0 else None for e in entries],
                [e.doc for e in entries],
                sigs[[max(e.sign_at, 0) for e in entries]] if len(sigs) else None,
                [(file_ids[e.source.path], e.source.line) for e in entries],
            )
            filtered[0] = entries[-1].doc + 1
        ends = np.cumsum(lengths)
        wrote = False
        n_tokens = int(ends[-1]) if len(ends) else 0
        fed = [e for e, verdict in zip(entries, verdicts, strict=True) if verdict is None]
        concat = all(k.pad is None for k in sinks.values())
        if concat and all(e.skip <= 0 and not e.long for e in fed):
            for e in fed:  # the common batch: whole documents, concat packing
                reader.kept(e)
            for split, sink in sinks.items():
                whole = [e for e in fed if e.skip == 0 and e.split == split]
                if whole:
                    wrote |= sink.feed_many(*_joined(whole, flat, lengths, ends, eos, file_ids))
        else:
            for e in fed:
                reader.kept(e)
                if e.skip < 0:
                    continue
                if e.long:
                    wrote_long, n = feed_long(e)
                    wrote, n_tokens = wrote | wrote_long, n_tokens + n
                    continue
                a = int(ends[e.first_text] - lengths[e.first_text])
                b = int(ends[e.first_text + e.n_texts - 1])
                tokens = np.concatenate([flat[a:b], eos])
                source = e.source
                wrote |= sinks[e.split].feed(
                    e.doc, tokens, e.skip, file_ids[source.path], source.line
                )
        if wrote:
            save()
        if on_progress is not None:
            on_progress(batch.records, n_tokens)

    try:
        for batch in batches:
            job = None
            if batch.texts or batch.score or batch.sign:
                job = batch_encoder.submit(batch.texts, batch.score, batch.sign)
            inflight.append((batch, job))
            if len(inflight) > batch_encoder.depth:
                consume(*inflight.popleft())
        while inflight:
            consume(*inflight.popleft())
    finally:
        batches.close()  # stops the reader thread
        batch_encoder.close()
    stats: dict[str, SplitStats] = {}
    for s, k in sinks.items():
        for sample in k.pad.close() if k.pad else ():  # pad: the last sample, not dropped
            k.writer.add(sample)
        shards = k.writer.finish(cfg.shard_multiple)  # an empty split: an empty index
        n_samples = sum(x["samples"] for x in shards)
        entries = k.doc_map.read()
        k.doc_map.close()
        write_doc_map(k.writer.folder, split_doc_map(entries, n_samples, cfg.max_seq_len))
        held = k.concat.remainder
        tail = k.concat.held()
        stats[s] = SplitStats(
            documents=reader.documents[s],
            tokens=(k.base_real if k.pad else k.base_tokens) + k.concat.tokens_in,
            samples=n_samples,
            dropped_tail_tokens=held,
            shards=shards,
            resumed_shards=resumed[s],
            tail=tail,
        )
    skipped = {r: n for r, n in reader.skipped.items() if n}
    for reason, where in reader.examples.items():
        counts = reader.repaired if reason in reader.repaired else reader.skipped
        n = reader.long_split if reason == LONG_SPLIT else counts[reason]
        log.warning("%s: %d document(s), the first at %s", reason, n, ", ".join(where))
    repaired = {r: n for r, n in reader.repaired.items() if n}
    return stats, CorpusCounts(skipped, reader.long_split, repaired, reader.examples)
