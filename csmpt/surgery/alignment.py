"""Align target-tokenizer tokens with source-tokenizer tokens.

Token strings are compared as the bytes they stand for (:mod:`csmpt.tokenizer.vocab_bytes`),
so the tokenizers' conventions do not matter: ``Ġdom``, ``▁dom`` and `` dom`` are all ``b" dom"``.

Methods (combinable, first one wins for a target token, with a cap on the total):

* ``exact``: the target token's bytes are a source token's bytes;
* ``dictionary``: a bilingual dictionary (source word -> target word, see
  :mod:`csmpt.surgery.dictionary`), applied to the most frequent target tokens.

Special tokens are mapped explicitly (EOS -> EOS, ...) by :func:`special_pairs`.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from csmpt.errors import ConfigError

__all__ = [
    "Alignment",
    "combine",
    "exact_candidates",
    "frequency_order",
    "special_pairs",
    "token_frequencies",
]

log = logging.getLogger(__name__)


def token_frequencies(tokenizer: Any, texts: Iterable[str], size: int) -> np.ndarray:
    """How often each token id occurs when ``tokenizer`` encodes ``texts`` (length ``size``)."""
    counts = np.zeros(size, dtype=np.int64)
    batch: list[str] = []

    def flush() -> None:
        ids = tokenizer(batch, add_special_tokens=False)["input_ids"]
        flat = np.concatenate([np.asarray(i, dtype=np.int64) for i in ids] + [np.zeros(0, int)])
        counts[:] += np.bincount(flat, minlength=size)[:size]
        batch.clear()

    for t in texts:
        batch.append(t)
        if len(batch) >= 256:
            flush()
    if batch:
        flush()
    return counts


def frequency_order(counts: np.ndarray | None, ids: Iterable[int]) -> list[int]:
    """``ids`` most frequent first (ties, or no counts: lower id first; BPE ids follow merges)."""
    ids = sorted(ids)
    if counts is None:
        return ids
    return sorted(ids, key=lambda i: (-int(counts[i]) if i < len(counts) else 0, i))


def exact_candidates(target: Mapping[int, bytes], source: Mapping[int, bytes]) -> dict[int, int]:
    """Target id -> source id for target tokens whose bytes are a source token's bytes."""
    by_bytes: dict[bytes, int] = {}
    for i, b in sorted(source.items()):
        by_bytes.setdefault(b, i)
    return {t: by_bytes[b] for t, b in target.items() if b in by_bytes}


def special_pairs(target_tok: Any, source_tok: Any, explicit: Mapping[str, str]) -> dict[int, int]:
    """Target id -> source id for special tokens: EOS/BOS/PAD/UNK by role, then ``explicit``.

    Raises:
        ConfigError: An ``explicit`` entry names a token one of the tokenizers does not have.
    """
    pairs: dict[int, int] = {}
    for role in ("eos_token_id", "bos_token_id", "pad_token_id", "unk_token_id"):
        t, s = getattr(target_tok, role, None), getattr(source_tok, role, None)
        if isinstance(t, int) and isinstance(s, int) and t not in pairs:
            pairs[t] = s
    tv, sv = target_tok.get_vocab(), source_tok.get_vocab()
    for t_name, s_name in explicit.items():
        for name, vocab, which in ((t_name, tv, "target"), (s_name, sv, "source")):
            if name not in vocab:
                raise ConfigError(
                    f"key 'vocab_swap.special_tokens': '{name}' is not a {which} token"
                )
        pairs[tv[t_name]] = sv[s_name]
    return pairs


@dataclass
class Alignment:
    """Which target token gets which source token's embedding, and by which method.

    Attributes:
        pairs: Target id -> (source id, method).
    """

    pairs: dict[int, tuple[int, str]] = field(default_factory=dict)

    def by_method(self) -> dict[str, int]:
        """Number of aligned target tokens per method."""
        return dict(Counter(m for _, m in self.pairs.values()))

    def arrays(self) -> tuple[np.ndarray, np.ndarray]:
        """(target ids, source ids) as int64 arrays, sorted by target id."""
        items = sorted(self.pairs.items())
        t = np.array([k for k, _ in items], dtype=np.int64)
        s = np.array([v[0] for _, v in items], dtype=np.int64)
        return t, s


def combine(
    specials: Mapping[int, int],
    candidates: Sequence[tuple[str, Mapping[int, int]]],
    order: Sequence[int],
    max_aligned: int | None,
) -> Alignment:
    """Merge the methods' candidates: first method wins, most frequent target tokens first.

    Args:
        specials: Special-token pairs (always kept; not counted against the cap).
        candidates: (method name, target id -> source id), in order of preference.
        order: Target ids by priority (most frequent first); the cap keeps the first ones.
        max_aligned: At most this many non-special aligned tokens (None: no cap).
    """
    out = Alignment({t: (s, "special") for t, s in specials.items()})
    n = 0
    for t in order:
        if max_aligned is not None and n >= max_aligned:
            break
        if t in out.pairs:
            continue
        for method, cand in candidates:
            if t in cand:
                out.pairs[t] = (cand[t], method)
                n += 1
                break
    log.info("aligned %d target tokens: %s", len(out.pairs), out.by_method())
    return out
