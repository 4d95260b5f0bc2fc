"""Tokenize batches of texts on every core, in order: threads or worker processes.

Two backends give the same ids (:mod:`csmpt.data.tiktoken_bpe` checks that before it is used):

* ``hf``: the tokenizer's own ``encode_batch_fast``, whose Rust thread pool uses every core;
* ``tiktoken``: the same byte-level BPE in tiktoken, with about a third of the CPU time;
* ``auto`` (the default) takes ``tiktoken`` when the tokenizer is one it reproduces, else ``hf``.

``workers=0`` encodes in this process: batches run on threads that release the GIL, so reading
and shard writing overlap with them. ``workers=N`` spreads batches over N processes. Results
come back in submission order either way, so the output depends neither on the worker count nor
on the backend.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
from concurrent.futures import Executor, Future, ProcessPoolExecutor, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from csmpt.data.tiktoken_bpe import NotEquivalentError, build_exact_tiktoken
from csmpt.errors import DataError

__all__ = ["BACKENDS", "BatchEncoder", "HFEncoder", "TextEncoder", "make_encoder"]

log = logging.getLogger(__name__)

BACKENDS = ("auto", "hf", "tiktoken")

_ENCODER: TextEncoder | None = None


class TextEncoder(Protocol):
    """What a backend offers: flat int32 ids of a batch of texts and each text's length."""

    def encode_flat(self, texts: list[str]) -> tuple[np.ndarray, np.ndarray]:
        """Ids of ``texts`` (no special tokens added) and the number of ids of each."""
        ...


@dataclass
class HFEncoder:
    """HF ``tokenizers`` encoding (``encode_batch_fast``: no character offsets, same ids).

    Args:
        tokenizer_file: The ``tokenizer.json``.
    """

    tokenizer_file: str
    _tok: Any = field(default=None, init=False, repr=False)

    def __getstate__(self) -> dict[str, Any]:
        return {"tokenizer_file": self.tokenizer_file, "_tok": None}

    def encode_flat(self, texts: list[str]) -> tuple[np.ndarray, np.ndarray]:
        """Ids of ``texts`` as one flat int32 array and per-text lengths."""
        if self._tok is None:
            from tokenizers import Tokenizer

            self._tok = Tokenizer.from_file(self.tokenizer_file)
        encode = getattr(self._tok, "encode_batch_fast", None) or self._tok.encode_batch
        lists = [e.ids for e in encode(texts, add_special_tokens=False)]
        lengths = np.fromiter(map(len, lists), dtype=np.int64, count=len(lists))
        flat = np.fromiter(
            (t for ids in lists for t in ids), dtype=np.int32, count=int(lengths.sum())
        )
        return flat, lengths


def make_encoder(tokenizer_file: Path, backend: str = "auto") -> tuple[TextEncoder, str]:
    """The encoder for ``backend`` and the backend it is (``auto`` resolves to one).

    Raises:
        DataError: An unknown backend, or ``tiktoken`` for a tokenizer it does not reproduce.
    """
    if backend not in BACKENDS:
        raise DataError(f"tokenizer_backend '{backend}' is not one of {', '.join(BACKENDS)}")
    if backend != "hf":
        try:
            return build_exact_tiktoken(tokenizer_file), "tiktoken"
        except NotEquivalentError as e:
            if backend == "tiktoken":
                raise DataError(f"{tokenizer_file}: tokenizer_backend tiktoken: {e}") from e
            log.info("tokenizing with HF tokenizers (tiktoken would not be exact: %s)", e)
    return HFEncoder(str(tokenizer_file)), "hf"


def _init_worker(encoder: TextEncoder) -> None:
    os.environ["TOKENIZERS_PARALLELISM"] = "false"
    global _ENCODER
    _ENCODER = encoder


def _encode_in_worker(texts: list[str]) -> tuple[np.ndarray, np.ndarray]:
    assert _ENCODER is not None
    return _ENCODER.encode_flat(texts)


class BatchEncoder:
    """Submit batches of texts for tokenization; each future gives ``(flat_ids, lengths)``.

    Args:
        encoder: From :func:`make_encoder`.
        workers: 0 for threads in this process, N for N worker processes.
    """

    def __init__(self, encoder: TextEncoder, workers: int = 0) -> None:
        self.encoder = encoder
        self.workers = workers
        self._executor: Executor
        if workers > 0:
            self._threads = 0
            self._executor = ProcessPoolExecutor(
                workers,
                mp_context=multiprocessing.get_context("spawn"),
                initializer=_init_worker,
                initargs=(self.encoder,),
            )
        else:
            # HF's encode_batch is parallel inside; tiktoken encodes one batch per thread.
            self._threads = 1 if isinstance(encoder, HFEncoder) else os.cpu_count() or 1
            self._executor = ThreadPoolExecutor(self._threads, thread_name_prefix="csmpt-encode")

    @property
    def depth(self) -> int:
        """How many batches to keep in flight."""
        return 2 * max(self.workers, self._threads)

    def submit(self, texts: list[str]) -> Future[tuple[np.ndarray, np.ndarray]]:
        """Start encoding ``texts``."""
        if self.workers > 0:
            return self._executor.submit(_encode_in_worker, texts)
        return self._executor.submit(self.encoder.encode_flat, texts)

    def close(self) -> None:
        """Stop the threads or processes (pending batches are cancelled)."""
        self._executor.shutdown(wait=True, cancel_futures=True)
