"""Vocabulary swap: give a source model the target tokenizer's embedding matrix (or two).

MPT ties its input and output embeddings (``transformer.wte``); Llama has ``embed_tokens`` and
``lm_head``. Each matrix is rebuilt for the target vocabulary (padded to a multiple of 64) by
:func:`csmpt.surgery.embed_init.build_embedding` with the same alignment; the rest of the model
is untouched. The config's ``vocab_size`` follows.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from csmpt.config.schema import at_least
from csmpt.errors import ConfigError, DataError
from csmpt.surgery.alignment import (
    Alignment,
    combine,
    exact_candidates,
    frequency_order,
    special_pairs,
)
from csmpt.surgery.dictionary import DictionaryStats, dictionary_candidates, read_dictionary
from csmpt.surgery.embed_init import INIT_METHODS, build_embedding, padded_size, source_pieces
from csmpt.surgery.focus import FocusConfig, FocusStats, focus_init
from csmpt.surgery.io import ModelWeights
from csmpt.surgery.tokalign import AlignConfig, AlignStats, align_init
from csmpt.tokenizer.vocab_bytes import vocab_bytes

__all__ = [
    "MAX_UNUSED_ROWS",
    "SwapResult",
    "VocabSwapConfig",
    "check_tokenizer_fits",
    "swap_vocabulary",
]

log = logging.getLogger(__name__)

METHODS = ("exact", "dictionary")
INITS = (*INIT_METHODS, "focus", "align")
MODES = ("swap", "extend")
HEAD_INITS = ("mean", "mean_noise", "random")  # an untied head's own init (no pieces)
# A model may have this many embedding rows beyond its tokenizer (vocabulary padding: MPT-7B
# has 50432 rows for 50277 tokens); more means the tokenizer is not the model's.
MAX_UNUSED_ROWS = 512


@dataclass
class VocabSwapConfig:
    """The ``vocab_swap:`` section of a surgery YAML.

    Attributes:
        enabled: Swap the vocabulary (false: keep the source tokenizer, e.g. downcycling only).
        mode: ``swap`` (a new tokenizer: rows aligned by ``methods``) or ``extend`` (the target
            tokenizer extends the source's, ``csmpt tokenizer extend``: every source token keeps
            its id and its rows bit for bit, only the added tokens get ``init``).
        methods: Alignment methods in order of preference: ``exact``, ``dictionary``.
        dictionary: Bilingual dictionary file (``source<TAB>target`` per line).
        dictionary_top_k: Apply the dictionary to this many most frequent target tokens.
        max_aligned: Cap on aligned (non-special) tokens, most frequent first (null: none).
        init: Unaligned rows: ``mean``, ``mean_noise``, ``pieces``, ``focus`` (FOCUS:
            fastText on ``target.corpus``; see :mod:`csmpt.surgery.focus`), ``align``
            (TokAlign: each new token aligned with source tokens through fastText spaces of
            both tokenizations of ``target.corpus``; see :mod:`csmpt.surgery.tokalign`) or
            ``random`` (a baseline: N(0, sigma^2) at the source rows' scale, seeded by the
            surgery's ``seed``).
        head_init: Unaligned rows of an untied ``lm_head`` (Llama, Mistral): ``mean``,
            ``mean_noise`` or ``random``; null (the default): as ``init``. The input embedding
            keeps ``init``. A tied model (MPT) has one matrix: setting it there is an error.
        focus: FOCUS settings (fallback init, fastText min_count, dim, window, epochs).
        align: Alignment settings (FOCUS's fastText keys, ``top_k``, ``max_anchors``).
        noise_scale: ``mean_noise``'s noise std, as a fraction of the source rows' std.
        special_tokens: Extra target -> source special-token pairs (EOS, BOS, PAD, UNK are
            mapped by role already).
        pad_to_multiple_of: Pad the vocabulary to a multiple of this (64: tensor-core friendly).
    """

    enabled: bool = True
    mode: str = "swap"
    methods: list[str] = field(default_factory=lambda: ["exact", "dictionary"])
    dictionary: str | None = None
    dictionary_top_k: int | None = 1000
    max_aligned: int | None = None
    init: str = "mean"
    head_init: str | None = None
    focus: FocusConfig = field(default_factory=FocusConfig)
    align: AlignConfig = field(default_factory=AlignConfig)
    noise_scale: float = 0.1
    special_tokens: dict[str, str] = field(default_factory=dict)
    pad_to_multiple_of: int = field(default=64, metadata=at_least(1))


@dataclass
class SwapResult:
    """A swapped model and how its vocabulary was aligned."""

    weights: ModelWeights
    alignment: Alignment
    dictionary: DictionaryStats | None
    target_tokens: int
    vocab_size: int
    focus: FocusStats | None = None
    align: AlignStats | None = None


def check_tokenizer_fits(weights: ModelWeights, tokenizer: Any, name: str) -> None:
    """Raise if ``tokenizer`` cannot be the tokenizer of ``weights`` (vocabulary size).

    Raises:
        DataError: More tokens than embedding rows, or far fewer (another model's tokenizer).
    """
    rows = weights.state[weights.embed_key].shape[0]
    n = len(tokenizer)
    if n > rows or rows - n > MAX_UNUSED_ROWS:
        raise DataError(
            f"source tokenizer {name} has {n} tokens but the model {weights.source} has {rows} "
            "embedding rows: the tokenizer does not belong to the model"
        )


def check_extension(source_tok: Any, target_tok: Any, names: tuple[str, str]) -> None:
    """Raise unless ``target_tok`` keeps every token of ``source_tok`` at the same id.

    Raises:
        ConfigError: A source token is missing from the target or has another id there.
    """
    target = target_tok.get_vocab()
    for token, i in sorted(source_tok.get_vocab().items(), key=lambda kv: kv[1]):
        if target.get(token) != i:
            where = "is missing" if token not in target else f"has id {target[token]}"
            raise ConfigError(
                f"key 'vocab_swap.mode': extend needs target.tokenizer {names[1]} to extend "
                f"source.tokenizer {names[0]}, but source token {token!r} (id {i}) {where} "
                "there; make it with csmpt tokenizer extend, or use mode: swap"
            )


def _kept_alignment(source_tok: Any, target_tok: Any) -> Alignment:
    """Every source id aligned with itself (special tokens labelled ``special``)."""
    specials = set(source_tok.all_special_ids)
    ids = sorted(set(source_tok.get_vocab().values()))
    out = Alignment({i: (i, "special" if i in specials else "kept") for i in ids})
    log.info("extension: %d source tokens kept, %d added", len(ids), len(target_tok) - len(ids))
    return out


def _align(
    source_tok: Any,
    target_tok: Any,
    cfg: VocabSwapConfig,
    counts: np.ndarray | None,
    t_bytes: dict[int, bytes],
    s_bytes: dict[int, bytes],
) -> tuple[Alignment, DictionaryStats | None]:
    """``mode: swap``: the methods' candidates combined, most frequent target tokens first."""
    order = frequency_order(counts, t_bytes)
    candidates: list[tuple[str, dict[int, int]]] = []
    stats: DictionaryStats | None = None
    for method in cfg.methods:
        if method == "exact":
            candidates.append(("exact", exact_candidates(t_bytes, s_bytes)))
        else:
            if not cfg.dictionary:
                raise ConfigError(
                    "key 'vocab_swap.dictionary': the 'dictionary' method needs a dictionary file"
                )
            cand, stats = dictionary_candidates(
                read_dictionary(cfg.dictionary), t_bytes, s_bytes, order, cfg.dictionary_top_k
            )
            candidates.append(("dictionary", cand))
    specials = special_pairs(target_tok, source_tok, cfg.special_tokens)
    alignment = combine(specials, candidates, order, cfg.max_aligned)
    if stats is not None:
        stats.settle(alignment.pairs)  # which entries aligned a token, which were aligned already
    return alignment, stats


def swap_vocabulary(
    weights: ModelWeights,
    source_tok: Any,
    target_tok: Any,
    cfg: VocabSwapConfig,
    counts: np.ndarray | None = None,
    seed: int = 0,
    texts: Sequence[str] | None = None,
) -> SwapResult:
    """Align the vocabularies and rebuild the embedding matrices for ``target_tok``.

    Args:
        weights: The source model (not modified).
        source_tok: The source model's tokenizer.
        target_tok: The new tokenizer.
        cfg: How to align and initialise.
        counts: Target token frequencies on a target corpus (orders the dictionary and the cap).
        seed: Seed of ``mean_noise``, ``random`` and FOCUS's fastText.
        texts: The target corpus (``init: focus`` and ``align`` train fastText on it).

    Raises:
        ConfigError: Unknown method, or a dictionary method without a dictionary file.
        DataError: The source tokenizer does not fit the model, or a bad dictionary file.
    """
    bad = [m for m in cfg.methods if m not in METHODS]
    if bad:
        raise ConfigError(f"key 'vocab_swap.methods': unknown {bad}; use {', '.join(METHODS)}")
    if cfg.init not in INITS:
        raise ConfigError(f"key 'vocab_swap.init' is {cfg.init!r}; use one of {', '.join(INITS)}")
    if cfg.mode not in MODES:
        raise ConfigError(f"key 'vocab_swap.mode' is {cfg.mode!r}; use {' or '.join(MODES)}")
    if cfg.head_init is not None:
        if cfg.head_init not in HEAD_INITS:
            raise ConfigError(
                f"key 'vocab_swap.head_init' is {cfg.head_init!r}; use one of "
                f"{', '.join(HEAD_INITS)} (or null: as vocab_swap.init)"
            )
        if "lm_head.weight" not in weights.embedding_keys():
            raise ConfigError(
                "key 'vocab_swap.head_init': this model's output projection is its input "
                "embedding (tied), one matrix with vocab_swap.init; remove head_init"
            )
    names = (
        str(getattr(source_tok, "name_or_path", "")),
        str(getattr(target_tok, "name_or_path", "")),
    )
    check_tokenizer_fits(weights, source_tok, names[0])
    t_bytes, s_bytes = vocab_bytes(target_tok), vocab_bytes(source_tok)
    n_target = len(target_tok)
    stats: DictionaryStats | None = None
    if cfg.mode == "extend":
        check_extension(source_tok, target_tok, names)
        alignment = _kept_alignment(source_tok, target_tok)
    else:
        alignment, stats = _align(source_tok, target_tok, cfg, counts, t_bytes, s_bytes)
    t_ids, s_ids = (torch.from_numpy(a) for a in alignment.arrays())
    pieces, init, focus, align = None, cfg.init, None, None
    if cfg.init == "pieces":
        pieces = source_pieces(target_tok, source_tok, t_bytes, set(alignment.pairs))
    elif cfg.init == "focus":  # FOCUS rows as weighted pieces over the fallback init
        pieces, init, focus = focus_init(
            target_tok, source_tok, texts or [], alignment.pairs, t_bytes, n_target, cfg.focus,
            seed,
        )  # fmt: skip
    elif cfg.init == "align":  # aligned source rows as weighted pieces over the fallback init
        pieces, init, align = align_init(
            target_tok, source_tok, texts or [], alignment.pairs, t_bytes, counts, cfg.align,
            seed,
        )  # fmt: skip
    n_rows = padded_size(n_target, cfg.pad_to_multiple_of)
    state = dict(weights.state)
    for key in weights.embedding_keys():
        if key == "lm_head.weight" and cfg.head_init is not None:  # the head's own init
            key_init, key_pieces = cfg.head_init, None
        else:
            key_init, key_pieces = init, pieces
        state[key] = build_embedding(
            weights.state[key], n_rows, t_ids, s_ids, key_init, key_pieces, cfg.noise_scale, seed
        )
    if weights.tied and "lm_head.weight" in state:
        state["lm_head.weight"] = state[weights.embed_key]
    config = dict(weights.config, vocab_size=n_rows)
    for role in ("eos_token_id", "bos_token_id", "pad_token_id"):
        value = getattr(target_tok, role, None)
        if role in config and isinstance(value, int):
            config[role] = value
    out = ModelWeights(
        config=config, state=state, source=weights.source, code_files=weights.code_files
    )
    return SwapResult(out, alignment, stats, n_target, n_rows, focus, align)
