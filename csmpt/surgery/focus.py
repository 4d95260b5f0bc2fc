"""FOCUS (Dobler & de Melo, EMNLP 2023): new embedding rows from the shared tokens' rows.

The target tokens that have a source counterpart (the alignment: exact + dictionary) are copied
as they are. Every other target token gets a convex combination of those shared tokens' source
embeddings, weighted by how alike the tokens are in a fastText space trained on the target
corpus tokenized with the target tokenizer:

    sim_j  = cos(fasttext(new token), fasttext(shared token j))    over the shared tokens
    w      = sparsemax(sim)          # a few shared tokens get weight, the rest exactly 0
    e_new  = sum_j w_j * E_source[source id of shared token j]      (sum_j w_j = 1)

It needs nothing but the target corpus (offline). Tokens fastText cannot place (fewer than
``min_count`` occurrences in the corpus) keep the ``fallback`` initialisation (``mean``,
``mean_noise`` or ``pieces``); the swap says how many. fastText is gensim's, trained on one
thread with a fixed seed and a fixed hash function, so the result is the same on every run.

:func:`sparsemax` and :func:`focus_weights` are the math (pure, tested against hand-computed
values); :func:`focus_pieces` trains fastText and returns the combinations in the
``embedding_bag`` form :func:`csmpt.surgery.embed_init.build_embedding` applies.
"""

from __future__ import annotations

import logging
import zlib
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from csmpt.errors import ConfigError, DataError

__all__ = [
    "FocusConfig",
    "FocusStats",
    "focus_combinations",
    "focus_init",
    "focus_pieces",
    "focus_weights",
    "pieces_fallback",
    "sparsemax",
    "train_fasttext",
    "weighted_pieces",
    "with_fallback",
]

log = logging.getLogger(__name__)

_CHUNK = 4096


@dataclass
class FocusConfig:
    """The ``vocab_swap.focus:`` section (used when ``vocab_swap.init: focus``).

    Attributes:
        fallback: Initialisation of the tokens fastText cannot place: ``mean``, ``mean_noise``
            or ``pieces``.
        min_count: A token needs this many occurrences in the target corpus for a fastText
            vector.
        dim: fastText vector size.
        window: fastText context window (tokens).
        epochs: fastText training epochs over the corpus.
        bucket: fastText's character n-gram hash buckets (its memory: bucket x dim floats,
            twice; fastText's own default is 2,000,000).
    """

    fallback: str = "mean"
    min_count: int = 3
    dim: int = 100
    window: int = 5
    epochs: int = 5
    bucket: int = 500_000


@dataclass
class FocusStats:
    """What FOCUS did: rows combined, rows left to the fallback, fastText's vocabulary."""

    combined: int
    fallback: int
    fallback_init: str
    shared: int
    fasttext_vocab: int
    mean_support: float


def sparsemax(z: torch.Tensor) -> torch.Tensor:
    """Sparsemax (Martins & Astudillo, 2016) of each row of ``z`` (..., n).

    The Euclidean projection onto the probability simplex: ``max(z - tau, 0)`` with the
    threshold ``tau`` that makes each row sum to 1. Unlike softmax it gives exactly 0 to the
    entries far below the largest.
    """
    zs, _ = torch.sort(z, dim=-1, descending=True)  # (..., n)
    k = torch.arange(1, z.shape[-1] + 1, dtype=z.dtype, device=z.device)
    cumsum = zs.cumsum(-1)
    support = 1 + k * zs > cumsum  # (..., n), True for the first k(z) entries
    k_z = support.sum(-1, keepdim=True)  # (..., 1)
    tau = (cumsum.gather(-1, k_z - 1) - 1) / k_z.to(z.dtype)
    return torch.clamp(z - tau, min=0)


def focus_weights(new_vecs: torch.Tensor, shared_vecs: torch.Tensor) -> torch.Tensor:
    """Sparsemax over cosine similarities: (n_new, k) x (n_shared, k) -> (n_new, n_shared).

    Each row sums to 1 (float64); zero vectors have similarity 0 to everything.
    """
    a = torch.nn.functional.normalize(new_vecs.double(), dim=-1)  # float64: rows sum to 1
    b = torch.nn.functional.normalize(shared_vecs.double(), dim=-1)
    return sparsemax(a @ b.T)


def _stable_hash(text: str) -> int:
    """A stable seed hash for fastText (Python's ``hash`` changes per process)."""
    return zlib.crc32(text.encode("utf-8", errors="surrogatepass"))


def train_fasttext(
    sentences: Sequence[Sequence[str]], cfg: FocusConfig, seed: int
) -> Any:  # gensim.models.FastText
    """Train gensim's FastText on token sequences: one thread, ``seed``, a stable hash.

    Raises:
        DataError: No token occurs ``min_count`` times (one line with the minimum needed).
    """
    from gensim.models import FastText

    counts = Counter(t for s in sentences for t in s)
    if not counts or max(counts.values()) < cfg.min_count:
        most = max(counts.values()) if counts else 0
        raise DataError(
            f"target.corpus is too small for FOCUS's fastText: no token occurs "
            f"vocab_swap.focus.min_count={cfg.min_count} times (the most frequent occurs "
            f"{most} times in {sum(counts.values()):,} tokens); give at least "
            f"{cfg.min_count} occurrences of the tokens to place (more text) or lower min_count"
        )
    model = FastText(
        vector_size=cfg.dim,
        window=cfg.window,
        min_count=cfg.min_count,
        workers=1,
        seed=seed,
        hashfxn=_stable_hash,
        bucket=cfg.bucket,
        sg=1,
    )
    model.build_vocab(corpus_iterable=sentences)
    model.train(corpus_iterable=sentences, total_examples=len(sentences), epochs=cfg.epochs)
    return model


def focus_combinations(
    new: Sequence[int],
    new_vecs: torch.Tensor | None,
    shared_source: Sequence[int],
    shared_vecs: torch.Tensor,
) -> dict[int, tuple[list[int], list[float]]]:
    """Target id -> (source ids, sparsemax weights) for each new token, in row chunks.

    Args:
        new: Target ids of the new tokens; ``new_vecs`` (n, k) their fastText vectors.
        new_vecs: Their fastText vectors (n, k); None when there are none.
        shared_source: Source id of each shared token; ``shared_vecs`` (S, k) their vectors.
        shared_vecs: The shared tokens' fastText vectors (S, k).
    """
    source_of = torch.tensor(list(shared_source), dtype=torch.long)
    out: dict[int, tuple[list[int], list[float]]] = {}
    if new_vecs is None:
        return out
    for i in range(0, len(new), _CHUNK):
        w = focus_weights(new_vecs[i : i + _CHUNK], shared_vecs)  # (B, S)
        rows, cols = torch.nonzero(w, as_tuple=True)  # row-major: grouped by row
        vals = w[rows, cols].tolist()
        src = source_of[cols].tolist()
        counts = torch.bincount(rows, minlength=w.shape[0]).tolist()
        at = 0
        for t, c in zip(new[i : i + _CHUNK], counts, strict=True):
            out[t] = (src[at : at + c], vals[at : at + c])
            at += c
    return out


def focus_pieces(
    target_tok: Any,
    texts: Sequence[str],
    pairs: Mapping[int, int],
    skip: set[int],
    n_target: int,
    cfg: FocusConfig,
    seed: int,
) -> tuple[dict[int, tuple[list[int], list[float]]], FocusStats]:
    """FOCUS combinations of the target tokens fastText can place.

    Args:
        target_tok: The target tokenizer.
        texts: The target corpus.
        pairs: Shared tokens: target id -> source id (non-special aligned pairs).
        skip: Target ids that are not initialised here (aligned and special tokens).
        n_target: Target vocabulary size.
        cfg: fastText settings.
        seed: fastText's seed.

    Returns:
        (target id -> (source ids, weights)) for the combined tokens, and the counts.

    Raises:
        DataError: Corpus too small, or no shared token is in fastText's vocabulary.
    """
    if cfg.fallback not in ("mean", "mean_noise", "pieces"):
        raise ConfigError(
            f"key 'vocab_swap.focus.fallback': unknown '{cfg.fallback}'; "
            "use mean, mean_noise or pieces"
        )
    if not texts:
        raise ConfigError("key 'target.corpus': init 'focus' trains fastText on it; it is empty")
    names = target_tok.convert_ids_to_tokens(list(range(n_target)))
    encoded = target_tok(list(texts), add_special_tokens=False)["input_ids"]
    sentences = [[names[i] for i in ids] for ids in encoded if ids]
    model = train_fasttext(sentences, cfg, seed)
    kv = model.wv
    known = {t for t in range(n_target) if names[t] in kv.key_to_index}
    shared = sorted(t for t in pairs if t in known)
    if not shared:
        raise DataError(
            f"none of the {len(pairs):,} aligned tokens occurs vocab_swap.focus.min_count="
            f"{cfg.min_count} times in target.corpus: FOCUS has nothing to combine"
        )
    new = [t for t in range(n_target) if t not in skip and t in known]
    rest = sum(1 for t in range(n_target) if t not in skip and t not in known)
    shared_vecs = torch.from_numpy(np.stack([kv[names[t]] for t in shared]))  # (S, k)
    new_vecs = torch.from_numpy(np.stack([kv[names[t]] for t in new])) if new else None
    out = focus_combinations(new, new_vecs, [pairs[t] for t in shared], shared_vecs)
    support = sum(len(ids) for ids, _ in out.values())
    stats = FocusStats(
        combined=len(new),
        fallback=rest,
        fallback_init=cfg.fallback,
        shared=len(shared),
        fasttext_vocab=len(kv.key_to_index),
        mean_support=support / len(new) if new else 0.0,
    )
    log.info(
        "FOCUS: %d tokens combined from %d shared tokens (%.1f on average), %d left to %s",
        stats.combined,
        stats.shared,
        stats.mean_support,
        stats.fallback,
        cfg.fallback,
    )
    return out, stats


def weighted_pieces(combos: Mapping[int, tuple[Sequence[int], Sequence[float]]]) -> Any:
    """(target id -> (source ids, weights)) as :class:`~csmpt.surgery.embed_init.Pieces`."""
    from csmpt.surgery.embed_init import Pieces

    items = [(t, list(ids), list(w)) for t, (ids, w) in sorted(combos.items()) if len(ids)]
    lengths = torch.tensor([len(ids) for _, ids, _ in items], dtype=torch.long)
    offsets = torch.zeros(len(items), dtype=torch.long)
    if len(items) > 1:
        offsets[1:] = torch.cumsum(lengths, 0)[:-1]
    return Pieces(
        rows=torch.tensor([t for t, _, _ in items], dtype=torch.long),
        flat=torch.tensor([i for _, ids, _ in items for i in ids], dtype=torch.long),
        offsets=offsets,
        weights=torch.tensor([x for _, _, w in items for x in w], dtype=torch.float32),
    )


def focus_init(
    target_tok: Any,
    source_tok: Any,
    texts: Sequence[str],
    aligned: Mapping[int, tuple[int, str]],
    target_bytes: Mapping[int, bytes],
    n_target: int,
    cfg: FocusConfig,
    seed: int,
) -> tuple[Any, str, FocusStats]:
    """The ``init: focus`` rows for :func:`~csmpt.surgery.embed_init.build_embedding`.

    Args:
        target_tok: The target tokenizer.
        source_tok: The source tokenizer (for a ``pieces`` fallback).
        texts: The target corpus fastText is trained on.
        aligned: The alignment's pairs (target id -> (source id, method)); the non-special
            ones are FOCUS's shared tokens.
        target_bytes: Target id -> bytes (for a ``pieces`` fallback).
        n_target: Target vocabulary size.
        cfg: FOCUS settings.
        seed: fastText's seed.

    Returns:
        (weighted pieces, the base init of the other rows, stats). With ``fallback: pieces``
        the fallback rows are in the weighted pieces too (equal weights: their mean).
    """
    shared = {t: s for t, (s, method) in aligned.items() if method != "special"}
    combos, stats = focus_pieces(target_tok, texts, shared, set(aligned), n_target, cfg, seed)
    rows, base = with_fallback(combos, cfg.fallback, target_tok, source_tok, target_bytes, aligned)
    return rows, base, stats


def with_fallback(
    combos: dict[int, tuple[list[int], list[float]]],
    fallback: str,
    target_tok: Any,
    source_tok: Any,
    target_bytes: Mapping[int, bytes],
    aligned: Mapping[int, Any],
) -> tuple[Any, str]:
    """The combined rows as weighted pieces, and the base init of the rows left.

    With ``fallback: pieces`` the rows left join the weighted pieces (their source pieces,
    equal weights) over a ``mean`` base; otherwise the fallback is the base init.
    """
    if fallback != "pieces":
        return weighted_pieces(combos), fallback
    combos.update(pieces_fallback(target_tok, source_tok, target_bytes, set(aligned) | set(combos)))
    return weighted_pieces(combos), "mean"


def pieces_fallback(
    target_tok: Any, source_tok: Any, target_bytes: Mapping[int, bytes], skip: set[int]
) -> dict[int, tuple[list[int], list[float]]]:
    """The ``fallback: pieces`` rows: each other target token as its source pieces, equal weights.

    Args:
        target_tok: The target tokenizer.
        source_tok: The source tokenizer (splits each token's bytes into its pieces).
        target_bytes: Target id -> bytes.
        skip: Target ids already initialised (aligned, special or combined).
    """
    from csmpt.surgery.embed_init import source_pieces

    rest = source_pieces(target_tok, source_tok, dict(target_bytes), skip)
    ends = torch.cat([rest.offsets[1:], torch.tensor([len(rest.flat)])])
    out: dict[int, tuple[list[int], list[float]]] = {}
    for t, lo, hi in zip(rest.rows.tolist(), rest.offsets.tolist(), ends.tolist(), strict=True):
        ids = rest.flat[lo:hi].tolist()
        out[t] = (ids, [1.0 / len(ids)] * len(ids))
    return out
