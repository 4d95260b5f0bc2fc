"""Concatenate tokenized documents, each followed by EOS, into fixed-length samples.

This is CSMPT7b's "Concat" dataset type (llm-foundry's ``ConcatTokensDataset``): documents are
joined into one token stream, separated by the EOS token, and cut into ``max_seq_len`` samples.
A document may span two samples. Only the tail shorter than ``max_seq_len`` is dropped.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import numpy as np

__all__ = ["SampleConcatenator", "flatten_ids"]


def flatten_ids(lists: Sequence[Sequence[int]]) -> tuple[np.ndarray, np.ndarray]:
    """A batch's per-text token ids as one flat int32 array, and the number of ids of each."""
    lengths = np.fromiter(map(len, lists), dtype=np.int64, count=len(lists))
    flat = np.fromiter((t for ids in lists for t in ids), dtype=np.int32, count=int(lengths.sum()))
    return flat, lengths


class SampleConcatenator:
    """Turn a stream of token ids into ``max_seq_len`` int32 samples.

    Args:
        max_seq_len: Tokens per sample.
        eos_id: Appended after every document by :meth:`add`, or None to append nothing.
    """

    def __init__(self, max_seq_len: int, eos_id: int | None) -> None:
        if max_seq_len < 1:
            raise ValueError(f"max_seq_len must be positive, got {max_seq_len}")
        self.max_seq_len = max_seq_len
        self.eos_id = eos_id
        self._eos = np.asarray([] if eos_id is None else [eos_id], dtype=np.int32)
        self._parts: list[np.ndarray] = []
        self._held = 0
        self.tokens_in = 0
        self.samples_out = 0

    def add(self, ids: Sequence[int] | np.ndarray) -> Iterator[np.ndarray]:
        """Append one document's token ids (plus EOS) and yield every sample that is now full."""
        yield from self.add_tokens(np.asarray(ids, dtype=np.int32))
        yield from self.add_tokens(self._eos)

    def add_tokens(self, tokens: np.ndarray) -> Iterator[np.ndarray]:
        """Append raw tokens (no EOS) and yield every sample that is now full."""
        if len(tokens) == 0:
            return
        self._parts.append(tokens)
        self._held += len(tokens)
        self.tokens_in += len(tokens)
        if self._held < self.max_seq_len:
            return
        stream = np.concatenate(self._parts) if len(self._parts) > 1 else self._parts[0]
        n_full = self._held // self.max_seq_len
        cut = n_full * self.max_seq_len
        self._parts = [stream[cut:]] if cut < self._held else []
        self._held -= cut
        self.samples_out += n_full
        yield from stream[:cut].reshape(n_full, self.max_seq_len)

    def held(self) -> np.ndarray:
        """The tokens held back because they do not fill a sample (a copy)."""
        return np.concatenate(self._parts) if self._parts else np.zeros(0, np.int32)

    @property
    def remainder(self) -> int:
        """Tokens held back because they do not fill a sample (dropped at the end)."""
        return self._held
