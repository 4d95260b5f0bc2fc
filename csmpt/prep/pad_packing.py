"""Pack whole documents into variable-length samples (``packing: pad``), Lit-Claire style.

Each document (its tokens and EOS) goes, in order, into the open sample if it fits in
``max_seq_len``; otherwise the open sample is closed and the document starts a new one
(next-fit: deterministic and streaming, one open sample held). A document longer than
``max_seq_len`` starts a new sample and is cut on token boundaries into ``max_seq_len`` chunks,
each its own sample; its last, shorter chunk stays open and following documents may join it.
So no document is cut across samples except an over-long one, whose chunks all start a sample.

Samples are written as they are (at most ``max_seq_len`` tokens, no pad tokens stored):
llm-foundry's ``text`` collator pads each batch to its longest sample with the tokenizer's pad
token and masks those positions out of the labels.

Positions: the builder's document map and resume points count in a *virtual* stream where
sample ``i`` occupies ``[i * max_seq_len, (i + 1) * max_seq_len)`` (padding included), so sample
``i`` is still stream position ``// max_seq_len`` and every document is contiguous in it.

With ``--part I/N`` each part packs its own records and writes its open sample at its end;
``--merge`` joins the parts' samples as they are (:mod:`csmpt.prep.merge` bounds how the sample
count differs from a single build's).
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

__all__ = ["PadPacker", "pad_share"]


def pad_share(real_tokens: int, samples: int, max_seq_len: int) -> float:
    """The share of padding once samples are padded: ``1 - real / (samples * max_seq_len)``."""
    capacity = samples * max_seq_len
    return 1.0 - real_tokens / capacity if capacity else 0.0


class PadPacker:
    """Pack documents into samples of at most ``max_seq_len`` tokens without cutting them.

    The same feeding interface as :class:`csmpt.prep.concat.SampleConcatenator`:
    :meth:`add_tokens` takes one document's tokens (EOS included) per call and yields the
    samples it closes; :meth:`close` yields the last, open one.

    Args:
        max_seq_len: The most tokens a sample holds.
    """

    def __init__(self, max_seq_len: int) -> None:
        if max_seq_len < 1:
            raise ValueError(f"max_seq_len must be positive, got {max_seq_len}")
        self.max_seq_len = max_seq_len
        self._parts: list[np.ndarray] = []
        self._held = 0  # tokens in the open sample
        self.tokens_in = 0  # real tokens taken
        self.tokens_out = 0  # real tokens in the samples yielded
        self.samples_out = 0

    def start_of(self, n: int) -> int:
        """Where a next document of ``n`` tokens would start in the virtual (padded) stream."""
        base = self.samples_out * self.max_seq_len
        if self._held and self._held + n > self.max_seq_len:
            return base + self.max_seq_len  # it closes the open sample
        return base + self._held

    def add_tokens(self, tokens: np.ndarray) -> Iterator[np.ndarray]:
        """Add one document's tokens (EOS included); yield every sample this closes."""
        n = len(tokens)
        if n == 0:
            return
        self.tokens_in += n
        if self._held and self._held + n > self.max_seq_len:
            yield self._emit()
        start = 0
        while n - start > self.max_seq_len:  # an over-long document: full chunks
            yield self._count(np.asarray(tokens[start : start + self.max_seq_len], np.int32))
            start += self.max_seq_len
        self._parts.append(np.asarray(tokens[start:], np.int32))
        self._held += n - start
        if self._held == self.max_seq_len:
            yield self._emit()

    def close(self) -> Iterator[np.ndarray]:
        """Yield the open sample, if any (at the end of the split)."""
        if self._held:
            yield self._emit()

    def _emit(self) -> np.ndarray:
        sample = np.concatenate(self._parts) if len(self._parts) > 1 else self._parts[0]
        self._parts, self._held = [], 0
        return self._count(sample)

    def _count(self, sample: np.ndarray) -> np.ndarray:
        self.samples_out += 1
        self.tokens_out += len(sample)
        return sample

    def held(self) -> np.ndarray:
        """The tokens of the open sample (a copy)."""
        return np.concatenate(self._parts) if self._parts else np.zeros(0, np.int32)

    @property
    def remainder(self) -> int:
        """Tokens dropped at the end: none (:meth:`close` writes the open sample)."""
        return 0
