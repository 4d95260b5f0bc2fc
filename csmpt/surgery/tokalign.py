"""Alignment init (TokAlign, Li et al., ACL 2025): each new row from its aligned source rows.

FOCUS (:mod:`csmpt.surgery.focus`) places a new target token among the *shared* tokens only.
TokAlign aligns it with *any* source token, through the target corpus tokenized twice:

1. fastText is trained on the target corpus tokenized with the target tokenizer, and again on
   the same corpus tokenized with the source tokenizer (two separate vector spaces);
2. the shared tokens (the exact / dictionary pairs, non-special, known in both spaces; the
   ``max_anchors`` most frequent) are *anchors*: a token's relative representation is its
   cosine similarity to every anchor in its own space (Moschella et al., 2023), both centred
   at the anchors' mean c, which makes the two spaces comparable,

       r(t) = normalize([cos(v_t - c, a_1 - c), ..., cos(v_t - c, a_A - c)])

   Every tenth anchor (by frequency, at most 200) is held out of the anchors to check the
   alignment: the share of them whose own source token is the most alike (``check_top1``;
   chance is 1 / the source tokens placed) is in the stats and the surgery report;

3. each new target token is aligned with the ``top_k`` source tokens whose relative
   representations are the most alike (cosine), and its row is their source rows combined:
   ``top_k: 1`` copies the best one (TokAlign's one-to-one alignment); more are weighted by
   sparsemax of the similarities (a few get weight, the rest exactly 0).

Tokens fastText cannot place keep the ``fallback`` initialisation (``mean``, ``mean_noise`` or
``pieces``), as with FOCUS. Both fastText models are gensim's, one thread, fixed seeds: the
same on every run.

:func:`relative_representations` and :func:`align_weights` are the math (pure, tested against
hand-computed values); :func:`align_init` trains the two spaces and returns the combinations in
the ``embedding_bag`` form :func:`csmpt.surgery.embed_init.build_embedding` applies.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from csmpt.config.schema import at_least
from csmpt.errors import ConfigError, DataError
from csmpt.surgery.focus import FocusConfig, sparsemax, train_fasttext, with_fallback

__all__ = [
    "AlignConfig",
    "AlignStats",
    "align_combinations",
    "align_init",
    "align_weights",
    "relative_representations",
]

log = logging.getLogger(__name__)

_CHUNK = 256  # target rows per block: a 256 x 50k-token similarity block is 100 MB
_CHECK_PAIRS = 200
_FALLBACKS = ("mean", "mean_noise", "pieces")


@dataclass
class AlignConfig(FocusConfig):
    """The ``vocab_swap.align:`` section (used when ``vocab_swap.init: align``).

    The fastText keys (``fallback``, ``min_count``, ``dim``, ``window``, ``epochs``, ``bucket``)
    mean what they mean for FOCUS and apply to both spaces.

    Attributes:
        top_k: Source tokens each new token is aligned with (1: copy the best one's row).
        max_anchors: Shared tokens used as anchors, most frequent first.
    """

    top_k: int = field(default=1, metadata=at_least(1))
    max_anchors: int = field(default=2000, metadata=at_least(1))


@dataclass
class AlignStats:
    """What the alignment init did: rows aligned, rows left to the fallback, the two spaces."""

    aligned: int
    fallback: int
    fallback_init: str
    anchors: int
    top_k: int
    target_vocab: int
    source_vocab: int
    copied_shared: int
    mean_similarity: float
    check_pairs: int
    check_top1: float


def relative_representations(vecs: torch.Tensor, anchors: torch.Tensor) -> torch.Tensor:
    """Each row's cosine similarity to every anchor, L2-normalised: (n, k) x (A, k) -> (n, A).

    Both are first centred at the anchors' mean: fastText vectors share a common direction
    (every cosine near 1 without it), and the centre of paired anchors is itself a paired point,
    so a rotation plus a shift of one space leaves the representations unchanged. Float64; a
    row orthogonal to every anchor gives a zero row.
    """
    centre = anchors.double().mean(0)
    a = torch.nn.functional.normalize(vecs.double() - centre, dim=-1)
    b = torch.nn.functional.normalize(anchors.double() - centre, dim=-1)
    return torch.nn.functional.normalize(a @ b.T, dim=-1)


def align_weights(
    target_rel: torch.Tensor, source_rel: torch.Tensor, top_k: int
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The ``top_k`` most alike source tokens of each target row, and their weights.

    Args:
        target_rel: Relative representations of the new target tokens (n, A), unit rows.
        source_rel: Relative representations of the candidate source tokens (m, A), unit rows.
        top_k: Source tokens per target token (at most m).

    Returns:
        (indices into ``source_rel`` (n, k), weights (n, k), best similarity (n,)): weight 1 on
        the best with ``top_k`` 1, else sparsemax of the k similarities (rows sum to 1; ties
        broken by the lower index).
    """
    sim = target_rel @ source_rel.T  # (n, m)
    k = min(top_k, source_rel.shape[0])
    if k == 1:  # argmax returns the first of equal maxima
        order = sim.argmax(dim=-1, keepdim=True)
    else:  # a stable sort by -similarity: equal similarities keep the lower index first
        order = torch.sort(-sim, dim=-1, stable=True).indices[:, :k]
    vals = sim.gather(-1, order)
    weights = torch.ones_like(vals) if k == 1 else sparsemax(vals)
    return order, weights, vals[:, 0]


def align_combinations(
    new: Sequence[int],
    target_rel: torch.Tensor,
    candidates: Sequence[int],
    source_rel: torch.Tensor,
    top_k: int,
) -> tuple[dict[int, tuple[list[int], list[float]]], float]:
    """Target id -> (source ids, weights) for each new token, in row chunks.

    Args:
        new: Target ids of the new tokens; ``target_rel`` (n, A) their relative representations.
        target_rel: Their relative representations (n, A).
        candidates: Source id of each candidate; ``source_rel`` (m, A) theirs.
        source_rel: The candidates' relative representations (m, A).
        top_k: Source tokens per new token.

    Returns:
        The combinations (zero weights dropped) and the mean best similarity.
    """
    source_of = torch.tensor(list(candidates), dtype=torch.long)
    out: dict[int, tuple[list[int], list[float]]] = {}
    best_sum = 0.0
    for i in range(0, len(new), _CHUNK):
        idx, w, best = align_weights(target_rel[i : i + _CHUNK], source_rel, top_k)
        best_sum += float(best.sum())
        src = source_of[idx].tolist()
        for t, ids, ws in zip(new[i : i + _CHUNK], src, w.tolist(), strict=True):
            keep = [(s, x) for s, x in zip(ids, ws, strict=True) if x > 0]
            out[t] = ([s for s, _ in keep], [x for _, x in keep])
    return out, best_sum / len(new) if new else 0.0


def _space(tok: Any, texts: Sequence[str], cfg: AlignConfig, seed: int) -> tuple[list[str], Any]:
    """Token names of ``tok`` and fastText's vectors of ``texts`` tokenized with it."""
    names = tok.convert_ids_to_tokens(list(range(len(tok))))
    encoded = tok(list(texts), add_special_tokens=False)["input_ids"]
    sentences = [[names[i] for i in ids] for ids in encoded if ids]
    return names, train_fasttext(sentences, cfg, seed).wv


def _stack(kv: Any, names: Sequence[str], ids: Sequence[int]) -> torch.Tensor:
    return torch.from_numpy(np.stack([kv[names[i]] for i in ids]))


def align_pieces(
    target_tok: Any,
    source_tok: Any,
    texts: Sequence[str],
    pairs: Mapping[int, int],
    skip: set[int],
    counts: np.ndarray | None,
    cfg: AlignConfig,
    seed: int,
) -> tuple[dict[int, tuple[list[int], list[float]]], AlignStats]:
    """Alignment combinations of the target tokens fastText can place.

    Args:
        target_tok: The target tokenizer.
        source_tok: The source tokenizer.
        texts: The target corpus (tokenized with both tokenizers).
        pairs: Shared tokens: target id -> source id (non-special aligned pairs).
        skip: Target ids that are not initialised here (aligned and special tokens).
        counts: Target token frequencies (orders the anchors; None: by target id).
        cfg: Alignment and fastText settings.
        seed: fastText's seed (the source space gets ``seed + 1``).

    Returns:
        (target id -> (source ids, weights)) for the aligned tokens, and the counts.

    Raises:
        ConfigError: An unknown fallback, ``top_k`` or ``max_anchors`` below 1, no corpus.
        DataError: Corpus too small, or no shared token is known in both spaces.
    """
    if cfg.fallback not in _FALLBACKS:
        raise ConfigError(
            f"key 'vocab_swap.align.fallback': unknown '{cfg.fallback}'; "
            "use mean, mean_noise or pieces"
        )
    for key in ("top_k", "max_anchors"):
        if getattr(cfg, key) < 1:
            raise ConfigError(f"key 'vocab_swap.align.{key}' is {getattr(cfg, key)}; use 1 or more")
    if not texts:
        raise ConfigError("key 'target.corpus': init 'align' trains fastText on it; it is empty")
    t_names, t_kv = _space(target_tok, texts, cfg, seed)
    s_names, s_kv = _space(source_tok, texts, cfg, seed + 1)
    t_known = {t for t in range(len(t_names)) if t_names[t] in t_kv.key_to_index}
    s_known = {s for s in range(len(s_names)) if s_names[s] in s_kv.key_to_index}
    anchors = [t for t in pairs if t in t_known and pairs[t] in s_known]
    if not anchors:
        raise DataError(
            f"none of the {len(pairs):,} aligned tokens occurs vocab_swap.align.min_count="
            f"{cfg.min_count} times in target.corpus under both tokenizers: the alignment has "
            "no anchors"
        )
    freq = counts if counts is not None else np.zeros(len(t_names))
    ordered = sorted(anchors, key=lambda t: (-float(freq[t]), t))
    check = ordered[9::10][:_CHECK_PAIRS] if len(ordered) >= 20 else []
    held = set(check)
    anchors = [t for t in ordered if t not in held][: cfg.max_anchors]
    t_anchor = _stack(t_kv, t_names, anchors)  # (A, k)
    s_anchor = _stack(s_kv, s_names, [pairs[t] for t in anchors])  # (A, k)
    specials = set(source_tok.all_special_ids)
    candidates = sorted(s for s in s_known if s not in specials)
    s_rel = relative_representations(_stack(s_kv, s_names, candidates), s_anchor)
    new = [t for t in range(len(t_names)) if t not in skip and t in t_known]
    rest = sum(1 for t in range(len(t_names)) if t not in skip and t not in t_known)
    out: dict[int, tuple[list[int], list[float]]] = {}
    mean_sim = 0.0
    if new:
        t_rel = relative_representations(_stack(t_kv, t_names, new), t_anchor)
        out, mean_sim = align_combinations(new, t_rel, candidates, s_rel, cfg.top_k)
    top1 = 0.0
    if check:
        c_rel = relative_representations(_stack(t_kv, t_names, check), t_anchor)
        got, _ = align_combinations(check, c_rel, candidates, s_rel, 1)
        top1 = sum(got[t][0] == [pairs[t]] for t in check) / len(check)
    shared_sources = set(pairs.values())
    copied = sum(1 for ids, _ in out.values() if len(ids) == 1 and ids[0] in shared_sources)
    stats = AlignStats(
        aligned=len(new),
        fallback=rest,
        fallback_init=cfg.fallback,
        anchors=len(anchors),
        top_k=cfg.top_k,
        target_vocab=len(t_kv.key_to_index),
        source_vocab=len(s_kv.key_to_index),
        copied_shared=copied,
        mean_similarity=mean_sim,
        check_pairs=len(check),
        check_top1=top1,
    )
    log.info(
        "alignment: %d tokens aligned with source tokens through %d anchors (mean similarity "
        "%.3f; %.1f%% of %d held-out anchors found their pair), %d left to %s",
        stats.aligned,
        stats.anchors,
        stats.mean_similarity,
        100 * stats.check_top1,
        stats.check_pairs,
        stats.fallback,
        cfg.fallback,
    )
    return out, stats


def align_init(
    target_tok: Any,
    source_tok: Any,
    texts: Sequence[str],
    aligned: Mapping[int, tuple[int, str]],
    target_bytes: Mapping[int, bytes],
    counts: np.ndarray | None,
    cfg: AlignConfig,
    seed: int,
) -> tuple[Any, str, AlignStats]:
    """The ``init: align`` rows for :func:`~csmpt.surgery.embed_init.build_embedding`.

    Args:
        target_tok: The target tokenizer.
        source_tok: The source tokenizer.
        texts: The target corpus both fastText spaces are trained on.
        aligned: The alignment's pairs (target id -> (source id, method)); the non-special
            ones are the anchors.
        target_bytes: Target id -> bytes (for a ``pieces`` fallback).
        counts: Target token frequencies (orders the anchors).
        cfg: Alignment settings.
        seed: fastText's seed.

    Returns:
        (weighted pieces, the base init of the other rows, stats). With ``fallback: pieces``
        the fallback rows are in the weighted pieces too (equal weights: their mean).
    """
    shared = {t: s for t, (s, method) in aligned.items() if method != "special"}
    combos, stats = align_pieces(
        target_tok, source_tok, texts, shared, set(aligned), counts, cfg, seed
    )
    rows, base = with_fallback(combos, cfg.fallback, target_tok, source_tok, target_bytes, aligned)
    return rows, base, stats
