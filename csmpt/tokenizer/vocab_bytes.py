"""The bytes each vocabulary entry stands for, whatever the tokenizer's spelling of them.

Byte-level BPE writes a leading space as ``Ġ`` and a newline as ``Ċ`` (GPT-2, MPT, Llama 3),
SentencePiece writes ``▁`` and ``<0x0A>`` (Llama 2, Mistral): ``Ġdom``, ``▁dom`` and `` dom`` are
all the bytes ``b" dom"``. Vocabulary surgery aligns tokens by these bytes; bits per byte counts
them.
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np

from csmpt.tokenizer.byte_level import byte_decoder

__all__ = ["byte_lengths", "token_bytes", "token_scheme", "vocab_bytes"]


def token_scheme(tokenizer: Any) -> str:
    """``byte_level``, ``metaspace`` or ``plain``: how the tokenizer writes bytes and spaces."""
    backend = getattr(tokenizer, "backend_tokenizer", None)
    if backend is None:
        return "metaspace" if any("▁" in t for t in list(tokenizer.get_vocab())[:2000]) else "plain"
    spec = json.loads(backend.to_str())
    text = json.dumps([spec.get("decoder"), spec.get("pre_tokenizer")])
    if "ByteLevel" in text:
        return "byte_level"
    if "Metaspace" in text or "▁" in text:
        return "metaspace"
    return "plain"


def token_bytes(token: str, scheme: str) -> bytes:
    """The bytes a vocabulary entry stands for, under the tokenizer's ``scheme``."""
    if scheme == "byte_level":
        table = byte_decoder()
        if all(ch in table for ch in token):
            return bytes(table[ch] for ch in token)
        return token.encode("utf-8")
    if scheme == "metaspace":
        if len(token) == 6 and token.startswith("<0x") and token.endswith(">"):
            try:
                return bytes([int(token[3:5], 16)])
            except ValueError:
                pass
        return token.replace("▁", " ").encode("utf-8")
    return token.encode("utf-8")


def vocab_bytes(tokenizer: Any) -> dict[int, bytes]:
    """Token id -> bytes, for every non-special entry of the tokenizer's vocabulary."""
    scheme = token_scheme(tokenizer)
    special = set(tokenizer.all_special_ids)
    return {i: token_bytes(t, scheme) for t, i in tokenizer.get_vocab().items() if i not in special}


def byte_lengths(tokenizer: Any, rows: int) -> np.ndarray:
    """Each token id's byte length: what a predicted token adds to bits per byte.

    An int64 array of ``rows`` entries; special tokens and rows past the vocabulary are 0.
    """
    out = np.zeros(rows, dtype=np.int64)
    for i, b in vocab_bytes(tokenizer).items():
        if i < rows:
            out[i] = len(b)
    return out
