"""Tokenize batches of texts on every core, in order: tokenizer threads or worker processes.

``workers=0`` encodes in this process with ``Tokenizer.encode_batch``, whose Rust thread pool
uses every core and releases the GIL, so reading and shard writing overlap with it.
``workers=N`` spreads batches over N processes (each encoding on one thread), for machines where
one Python process cannot keep up. Results come back in submission order either way, so the
output does not depend on the worker count.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
from concurrent.futures import Executor, Future, ProcessPoolExecutor, ThreadPoolExecutor
from pathlib import Path

import numpy as np

__all__ = ["BatchEncoder", "encode_texts"]

log = logging.getLogger(__name__)

_TOKENIZER = None


def encode_texts(tokenizer: object, texts: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """Token ids of ``texts`` (no special tokens) as one flat int32 array and per-text lengths."""
    # encode_batch_fast (tokenizers >= 0.20) skips the character offsets: same ids, less work.
    encode = getattr(tokenizer, "encode_batch_fast", None) or tokenizer.encode_batch  # type: ignore[attr-defined]
    encodings = encode(texts, add_special_tokens=False)
    lists = [e.ids for e in encodings]
    lengths = np.fromiter((len(ids) for ids in lists), dtype=np.int64, count=len(lists))
    flat = np.fromiter((t for ids in lists for t in ids), dtype=np.int32, count=int(lengths.sum()))
    return flat, lengths


def _init_worker(tokenizer_file: str) -> None:
    os.environ["TOKENIZERS_PARALLELISM"] = "false"
    from tokenizers import Tokenizer

    global _TOKENIZER
    _TOKENIZER = Tokenizer.from_file(tokenizer_file)


def _encode_in_worker(texts: list[str]) -> tuple[np.ndarray, np.ndarray]:
    return encode_texts(_TOKENIZER, texts)


class BatchEncoder:
    """Submit batches of texts for tokenization; each future gives ``(flat_ids, lengths)``.

    Args:
        tokenizer_file: The ``tokenizer.json`` to encode with.
        workers: 0 for tokenizer threads in this process, N for N worker processes.
    """

    def __init__(self, tokenizer_file: Path, workers: int = 0) -> None:
        from tokenizers import Tokenizer

        self.workers = workers
        self._executor: Executor
        if workers <= 0:
            self._tok = Tokenizer.from_file(str(tokenizer_file))
            self._executor = ThreadPoolExecutor(1, thread_name_prefix="csmpt-encode")
        else:
            self._executor = ProcessPoolExecutor(
                workers,
                mp_context=multiprocessing.get_context("spawn"),
                initializer=_init_worker,
                initargs=(str(tokenizer_file),),
            )

    @property
    def depth(self) -> int:
        """How many batches to keep in flight."""
        return 2 if self.workers <= 0 else 2 * self.workers

    def submit(self, texts: list[str]) -> Future[tuple[np.ndarray, np.ndarray]]:
        """Start encoding ``texts``."""
        if self.workers <= 0:
            return self._executor.submit(encode_texts, self._tok, texts)
        return self._executor.submit(_encode_in_worker, texts)

    def close(self) -> None:
        """Stop the threads or processes (pending batches are cancelled)."""
        self._executor.shutdown(wait=True, cancel_futures=True)
