"""A tokenizer's fertility on a corpus split: tokens per word and bytes per token.

Measured on the split's own shards (the text the run evaluates on), decoded back to text: the
samples' tokens are joined in stored order, cut at the special tokens (EOS ends each document),
and each whole document is decoded, its words counted by whitespace and its UTF-8 bytes
measured. The document cut off at the end of the sample budget is left out, so no word is
counted in pieces.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["Fertility", "split_fertility"]


@dataclass(frozen=True)
class Fertility:
    """Counts over whole documents of a split.

    Attributes:
        documents: Documents measured.
        tokens: Their tokens (special tokens not counted).
        words: Their whitespace-separated words.
        bytes: Their UTF-8 bytes.
    """

    documents: int
    tokens: int
    words: int
    bytes: int

    @property
    def tokens_per_word(self) -> float:
        """Tokens per whitespace-separated word (the usual "fertility")."""
        return self.tokens / max(self.words, 1)

    @property
    def bytes_per_token(self) -> float:
        """UTF-8 bytes of text per token (higher: the tokenizer compresses better)."""
        return self.bytes / max(self.tokens, 1)


def _documents(folder: Path, special: set[int], max_tokens: int) -> Iterator[np.ndarray]:
    """Whole documents' ids (specials removed), in stored order, up to ``max_tokens`` read."""
    from csmpt.mds.reader import iter_samples

    carry = np.zeros(0, dtype=np.int64)
    read = 0
    for sample in iter_samples(folder):
        tokens = np.asarray(sample["tokens"], dtype=np.int64)
        read += len(tokens)
        stream = np.concatenate([carry, tokens])
        cuts = np.flatnonzero(np.isin(stream, list(special)))
        start = 0
        for cut in cuts:
            if cut > start:
                yield stream[start:cut]
            start = int(cut) + 1
        carry = stream[start:]
        if read >= max_tokens:
            return  # the open document (carry) is cut off: left out


def split_fertility(folder: str | Path, tokenizer: Any, max_tokens: int = 200_000) -> Fertility:
    """The fertility of ``tokenizer`` on the MDS split ``folder`` (about ``max_tokens`` read).

    Args:
        folder: An MDS split folder encoded by ``tokenizer`` (``index.json``).
        tokenizer: An HF tokenizer (``decode``, ``all_special_ids``).
        max_tokens: Stop reading samples after this many tokens.
    """
    special = {int(i) for i in tokenizer.all_special_ids}
    docs = tokens = words = size = 0
    for ids in _documents(Path(folder), special, max_tokens):
        text = tokenizer.decode(ids.tolist())
        docs += 1
        tokens += len(ids)
        words += len(text.split())
        size += len(text.encode("utf-8"))
    return Fertility(docs, tokens, words, size)
