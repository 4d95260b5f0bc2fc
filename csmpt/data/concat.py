"""Concatenate tokenized documents, each followed by EOS, into fixed-length samples.

This is CSMPT7b's "Concat" dataset type (llm-foundry's ``ConcatTokensDataset``): documents are
joined into one token stream, separated by the EOS token, and cut into ``max_seq_len`` samples.
A document may span two samples. Only the tail shorter than ``max_seq_len`` is dropped.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

import numpy as np

__all__ = ["SampleConcatenator"]


class SampleConcatenator:
    """Turn a stream of token-id lists into ``max_seq_len`` int32 samples.

    Args:
        max_seq_len: Tokens per sample.
        eos_id: Appended after every document, or None to append nothing.
    """

    def __init__(self, max_seq_len: int, eos_id: int | None) -> None:
        if max_seq_len < 1:
            raise ValueError(f"max_seq_len must be positive, got {max_seq_len}")
        self.max_seq_len = max_seq_len
        self.eos_id = eos_id
        self._buffer: list[int] = []
        self.tokens_in = 0
        self.samples_out = 0

    def add(self, ids: Iterable[int]) -> Iterator[np.ndarray]:
        """Append one document's token ids (plus EOS) and yield every sample that is now full."""
        before = len(self._buffer)
        self._buffer.extend(ids)
        if self.eos_id is not None:
            self._buffer.append(self.eos_id)
        self.tokens_in += len(self._buffer) - before
        n_full = len(self._buffer) // self.max_seq_len
        if n_full == 0:
            return
        cut = n_full * self.max_seq_len
        block = np.asarray(self._buffer[:cut], dtype=np.int32).reshape(n_full, self.max_seq_len)
        del self._buffer[:cut]
        self.samples_out += n_full
        yield from block

    @property
    def remainder(self) -> int:
        """Tokens held back because they do not fill a sample (dropped at the end)."""
        return len(self._buffer)
