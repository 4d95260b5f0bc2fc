"""Tokenize (and score for the corpus filter) batches of texts on every core, in order.

Two backends give the same ids (:mod:`csmpt.prep.tiktoken_bpe` checks that before it is used):

* ``hf``: the tokenizer's own ``encode_batch_fast``, whose Rust thread pool uses every core;
* ``tiktoken``: the same byte-level BPE in tiktoken, with about a third of the CPU time;
* ``auto`` (the default) takes ``tiktoken`` when the tokenizer is one it reproduces, else ``hf``.

``workers=0`` encodes in this process: batches run on threads that release the GIL, so reading
and shard writing overlap with them. ``workers=N`` spreads batches over N processes, forked from
a server process that has imported this module and tiktoken already (``forkserver``, where the
platform has it; else spawned), which :func:`start_worker_server` starts early. Results
come back in submission order either way, so the output depends neither on the worker count nor
on the backend. A batch can also carry texts for the corpus filter's classifier
(:mod:`csmpt.filter.document_filter`): scoring is Python-heavy, so worker processes spread it over
the cores, where threads only take it off the reading thread.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import sys
from collections.abc import Iterator
from concurrent.futures import Executor, Future, ProcessPoolExecutor, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace
from typing import Any, Protocol

import numpy as np

from csmpt.errors import DataError
from csmpt.prep.concat import flatten_ids
from csmpt.prep.tiktoken_bpe import NotEquivalentError, build_exact_tiktoken

__all__ = [
    "BACKENDS",
    "BatchEncoder",
    "HFEncoder",
    "Scorer",
    "TextEncoder",
    "choose_workers",
    "make_encoder",
    "start_worker_server",
]

log = logging.getLogger(__name__)

BACKENDS = ("auto", "hf", "tiktoken")

_WORKER: tuple[TextEncoder, Scorer | None, Signer | None] | None = None
# (flat ids, ids per text, scores, near-dedup signatures)
Result = tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]


class TextEncoder(Protocol):
    """What a backend offers: flat int32 ids of a batch of texts and each text's length."""

    def encode_flat(self, texts: list[str]) -> tuple[np.ndarray, np.ndarray]:
        """Ids of ``texts`` (no special tokens added) and the number of ids of each."""
        ...


class Scorer(Protocol):
    """The corpus filter's classifier: a score per text."""

    def score(self, texts: list[str]) -> np.ndarray:
        """One score per text."""
        ...


class Signer(Protocol):
    """The near-duplicate filter's MinHash: a signature row per text."""

    def sign(self, texts: list[str]) -> np.ndarray:
        """One signature row per text."""
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
        return flatten_ids([e.ids for e in encode(texts, add_special_tokens=False)])


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


def _run(
    encoder: TextEncoder,
    scorer: Scorer | None,
    signer: Signer | None,
    texts: list[str],
    score: list[str],
    sign: list[str],
) -> Result:
    if texts:
        flat, lengths = encoder.encode_flat(texts)
    else:
        flat, lengths = np.zeros(0, np.int32), np.zeros(0, np.int64)
    scores = scorer.score(score) if scorer is not None and score else np.zeros(0)
    sigs = signer.sign(sign) if signer is not None and sign else np.zeros((0, 0), np.uint32)
    return flat, lengths, np.asarray(scores, dtype=np.float64), sigs


def _init_worker(encoder: TextEncoder, scorer: Scorer | None, signer: Signer | None) -> None:
    os.environ["TOKENIZERS_PARALLELISM"] = "false"
    global _WORKER
    _WORKER = (encoder, scorer, signer)


@contextmanager
def _spawned_without_main() -> Iterator[None]:
    """Spawn processes that do not re-run this process's ``__main__``.

    A spawned child re-imports its parent's main module before it runs anything; under the
    ``csmpt`` script that is the whole CLI (typer, rich, every command: ~0.25 s of CPU per
    worker, measured), though a worker needs only this module. ``multiprocessing`` skips the
    import when the main module's ``__spec__`` names a ``*.__main__`` module (as under
    ``python -m``); this gives it such a name while processes start, then puts it back.
    """
    main = sys.modules.get("__main__")
    if main is None:
        yield
        return
    had, saved = hasattr(main, "__spec__"), getattr(main, "__spec__", None)
    main.__spec__ = SimpleNamespace(name="csmpt.prep.__main__")  # type: ignore[assignment]
    try:
        yield
    finally:
        if had:
            main.__spec__ = saved
        else:
            del main.__spec__


# What the worker server imports once, so that each worker forked from it starts with them.
_PRELOAD = [__name__, "tiktoken"]
_SPAWN_WHY: str | None = None  # why workers are spawned, once the server could not start


def _worker_context() -> multiprocessing.context.BaseContext:
    """``forkserver`` where it starts (preloading :data:`_PRELOAD`), else ``spawn``.

    A spawned worker starts an interpreter and imports numpy and tiktoken (~0.13 s of CPU each,
    measured); a worker forked from the server has them already. The server is one clean,
    single-threaded process (this one may run tokenizers' or torch's threads, which ``fork``
    would not survive), started once per process and shared by every later pool. It listens
    on a Unix socket under the temporary folder; where it cannot (no ``forkserver`` on the
    platform, a ``TMPDIR`` too long for a socket path), workers are spawned.
    """
    global _SPAWN_WHY
    if _SPAWN_WHY is None and "forkserver" not in multiprocessing.get_all_start_methods():
        _SPAWN_WHY = "the platform has no forkserver"
    if _SPAWN_WHY is None:
        from multiprocessing import forkserver

        ctx = multiprocessing.get_context("forkserver")
        ctx.set_forkserver_preload(_PRELOAD)  # no effect once the server runs
        try:
            with _spawned_without_main():
                forkserver.ensure_running()  # a no-op once it runs
            return ctx
        except OSError as e:
            _SPAWN_WHY = f"the worker server did not start: {e}"
            log.info("worker processes are spawned (%s)", _SPAWN_WHY)
    return multiprocessing.get_context("spawn")


def start_worker_server() -> None:
    """Start the worker server now, if it can start; a no-op once it runs.

    It imports :data:`_PRELOAD` on its own while this process goes on.
    """
    _worker_context()


def _run_in_worker(texts: list[str], score: list[str], sign: list[str]) -> Result:
    assert _WORKER is not None
    return _run(*_WORKER, texts, score, sign)


# Inputs from which worker processes beat threads on 2 cores (bench/data_prep.py, 2026-12-04:
# 4 MB: threads 0.38 s, 2 processes 0.51 s; 20 MB: 1.91 s vs 1.46 s; crossing near 7 MB).
PROCESSES_FROM_BYTES = 8 * 10**6


def choose_workers(workers: int | None, input_bytes: int, cores: int | None = None) -> int:
    """Worker processes for a corpus: ``workers`` when set, else chosen for the machine.

    Unset: one per core when the corpus's input files hold at least
    :data:`PROCESSES_FROM_BYTES` and there are 2 or more cores; else 0 (threads in this
    process). With threads the main thread's reading and writing share the GIL with the
    encoder threads; processes leave it to itself, at ~0.25 s to start them (spawned;
    forked from the worker server, ~0.25 CPU s less, the wall time of one build the same).
    """
    if workers is not None:
        return workers
    n = cores if cores is not None else os.cpu_count() or 1
    return n if n >= 2 and input_bytes >= PROCESSES_FROM_BYTES else 0


class BatchEncoder:
    """Submit batches; each future gives ``(flat_ids, lengths, scores, signatures)``.

    Args:
        encoder: From :func:`make_encoder`.
        workers: 0 for threads in this process, N for N worker processes.
        scorer: The corpus filter's classifier, if the batches carry texts to score.
        signer: The near-duplicate filter's MinHash, if the batches carry texts to sign.
    """

    def __init__(
        self,
        encoder: TextEncoder,
        workers: int = 0,
        scorer: Scorer | None = None,
        signer: Signer | None = None,
    ) -> None:
        self.encoder = encoder
        self.scorer = scorer
        self.signer = signer
        self.workers = workers
        self._executor: Executor
        if workers > 0:
            self._threads = 0
            self._executor = ProcessPoolExecutor(
                workers,
                mp_context=_worker_context(),
                initializer=_init_worker,
                initargs=(encoder, scorer, signer),
            )
            # Start every worker now (one task each: the pool starts a process per task while
            # none is idle), so they start while the first batches are read, and start without
            # the main module; later submits find the pool full and start none.
            with _spawned_without_main():
                for _ in range(workers):
                    self._executor.submit(os.getpid)
        else:
            # HF's encode_batch is parallel inside; tiktoken encodes one batch per thread.
            self._threads = 1 if isinstance(encoder, HFEncoder) else os.cpu_count() or 1
            self._executor = ThreadPoolExecutor(self._threads, thread_name_prefix="csmpt-encode")

    @property
    def depth(self) -> int:
        """How many batches to keep in flight."""
        return 2 * max(self.workers, self._threads)

    def submit(
        self, texts: list[str], score: list[str] | None = None, sign: list[str] | None = None
    ) -> Future[Result]:
        """Start encoding ``texts``, scoring ``score`` and signing ``sign``."""
        if score and self.scorer is None:
            raise ValueError("BatchEncoder.submit: texts to score but no scorer")
        if sign and self.signer is None:
            raise ValueError("BatchEncoder.submit: texts to sign but no signer")
        if self.workers > 0:
            return self._executor.submit(_run_in_worker, texts, score or [], sign or [])
        return self._executor.submit(
            _run, self.encoder, self.scorer, self.signer, texts, score or [], sign or []
        )

    def close(self) -> None:
        """Stop the threads or processes (pending batches are cancelled)."""
        self._executor.shutdown(wait=True, cancel_futures=True)
