"""ALiBi attention on torch's FlexAttention: no ``(B, nh, T, T)`` mask, one fused kernel on CUDA.

:func:`flex_alibi_attention` keeps the contract of llm-foundry's torch path
(``scaled_multihead_dot_product_attention``; see :mod:`csmpt.models.alibi_attention`): it takes the
``attn_bias`` that ``MPTModel`` builds for ``attn_impl: torch``, the ``key_padding_mask`` and
``is_causal``, and returns the same output and KV cache. Instead of folding them into a dense
float mask it hands ``torch.nn.attention.flex_attention`` two small functions:

* a ``score_mod`` that adds ``attn_bias[b, h, q, kv]`` to each logit, read from the bias as
  ``MPTModel`` passes it. For causal ALiBi that is ``(B|1, nh, 1, S)`` (one row per head, padding
  folded in), so nothing of size ``T x T`` exists; a sequence-id bias arrives as
  ``(B, nh, T, T)`` (built once per forward by ``MPTModel``) and is read as it is;
  ``attn_logit_softcapping`` is applied to the logit before the bias, as in the reference;
* a block mask from a ``mask_mod`` for causal (bottom-right aligned), sliding window and key
  padding: the kernel skips fully masked blocks. It is built once per forward and shared by the
  layers (:mod:`csmpt.models.forward_cache`). Grouped-query attention uses flex's ``enable_gqa``.

On CUDA ``flex_attention`` runs through ``torch.compile`` (one fused Triton kernel forward and
backward); elsewhere it runs eagerly (torch's reference implementation, which materialises the
scores: a correctness path, not a fast one). Query rows that see no key at all (left padding)
come out as the reference computes them: the uniform average of the values.

Delegated: KV-cache decoding (a non-empty ``past_key_value``) and attention dropout in training go
to ``csmpt_sdpa_alibi``; ``needs_weights`` goes to llm-foundry's reference. Registered as
``csmpt_flex_alibi``; select it with ``csmpt_mpt_causal_lm`` (``attn_config.attn_impl:
csmpt_flex_alibi``); checkpoints stay plain MPT.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import torch
import torch.nn.functional as F
from torch.nn.attention.flex_attention import BlockMask, create_block_mask, flex_attention

from csmpt.models.alibi_attention import sdpa_alibi_attention, unpadded_bias
from csmpt.models.forward_cache import PerForwardCache

__all__ = ["flex_alibi_attention", "flex_block_mask", "visible_rows"]

log = logging.getLogger(__name__)

_KVCache = tuple[torch.Tensor, torch.Tensor]

_BLOCK_MASKS: PerForwardCache[tuple[BlockMask | None, torch.Tensor | None]] = PerForwardCache()
_compiled: dict[str, Callable[..., Any]] = {}
_delegated: set[str] = set()


def _flex_fn(device: torch.device) -> Callable[..., Any]:
    """``flex_attention`` compiled once per process on CUDA, eager elsewhere."""
    if device.type != "cuda":
        return flex_attention
    if "cuda" not in _compiled:
        # Default dynamism: one static graph for the training length; a second length (eval,
        # generation prefill) compiles one dynamic-shape graph instead of one graph per length.
        _compiled["cuda"] = torch.compile(flex_attention)
        log.info("csmpt_flex_alibi: flex_attention compiled for CUDA")
    return _compiled["cuda"]


def _mask_mod(
    offset: int, is_causal: bool, sliding_window_size: int, padding: torch.Tensor | None
) -> Callable[..., torch.Tensor] | None:
    """The positions a query may attend to, as llm-foundry's torch path masks them; None if all."""
    if not is_causal and sliding_window_size == -1 and padding is None:
        return None

    def mask_mod(
        b: torch.Tensor, h: torch.Tensor, q_idx: torch.Tensor, kv_idx: torch.Tensor
    ) -> torch.Tensor:
        allowed = kv_idx >= 0
        if is_causal:
            allowed = allowed & (kv_idx <= q_idx + offset)
        if sliding_window_size != -1:
            allowed = allowed & ((q_idx + offset - kv_idx).abs() <= sliding_window_size)
        if padding is not None:
            allowed = allowed & padding[b, kv_idx]
        return allowed

    return mask_mod


def visible_rows(
    padding: torch.Tensor, s_q: int, *, is_causal: bool, sliding_window_size: int
) -> torch.Tensor:
    """Which queries can see at least one real key: ``(B, S_q)`` bool.

    Args:
        padding: ``(B, S_k)``, True where the key is a real token.
        s_q: Number of queries (the last ``s_q`` positions).
        is_causal: Whether future keys are masked (bottom-right aligned).
        sliding_window_size: Attend only within this distance; -1 for no window.
    """
    s_k = padding.size(1)
    counts = F.pad(padding.long().cumsum(-1), (1, 0))  # (B, S_k + 1): real keys before index j
    pos = torch.arange(s_q, device=padding.device) + (s_k - s_q)  # each query's position
    hi = torch.full_like(pos, s_k)
    lo = torch.zeros_like(pos)
    if is_causal:
        hi = torch.minimum(hi, pos + 1)
    if sliding_window_size != -1:
        hi = torch.minimum(hi, pos + sliding_window_size + 1)
        lo = torch.clamp(pos - sliding_window_size, min=0)
    return (counts[:, hi] - counts[:, lo]) > 0  # (B, S_q)


def flex_block_mask(
    key_padding_mask: torch.Tensor | None,
    batch: int,
    s_q: int,
    s_k: int,
    *,
    is_causal: bool,
    sliding_window_size: int = -1,
    device: torch.device,
) -> tuple[BlockMask | None, torch.Tensor | None]:
    """The block mask for these masks and the padding left after dropping an all-ones mask.

    Args:
        key_padding_mask: ``(B, S_k)``, True where the key is a real token, or None.
        batch: Batch size ``B``.
        s_q: Number of queries.
        s_k: Number of keys.
        is_causal: Mask future keys (bottom-right aligned).
        sliding_window_size: Attend only within this distance; -1 for no window.
        device: Where the attention runs.

    Returns:
        The ``BlockMask`` (None when nothing is masked) and the ``(B, S_k)`` padding mask still in
        force (None when no key is padded).
    """
    _, padding = unpadded_bias(None, key_padding_mask)
    if padding is not None:
        padding = padding.to(device=device, dtype=torch.bool)
    mask_mod = _mask_mod(s_k - s_q, is_causal, sliding_window_size, padding)
    if mask_mod is None:
        return None, padding
    block_mask = create_block_mask(
        mask_mod,
        B=batch if padding is not None else None,
        H=None,
        Q_LEN=s_q,
        KV_LEN=s_k,
        device=str(device),
        _compile=device.type == "cuda",
    )
    return block_mask, padding


def _score_mod(
    attn_bias: torch.Tensor | None, softcap: float | None, shape: tuple[int, int, int, int]
) -> Callable[..., torch.Tensor] | None:
    """Add ``attn_bias`` (broadcast to ``shape``, no copy) to each logit, after soft-capping."""
    if attn_bias is None and softcap is None:
        return None
    bias = None if attn_bias is None else attn_bias.expand(shape)  # a view: stride 0 where 1

    def score_mod(
        score: torch.Tensor,
        b: torch.Tensor,
        h: torch.Tensor,
        q_idx: torch.Tensor,
        kv_idx: torch.Tensor,
    ) -> torch.Tensor:
        if softcap is not None:
            score = softcap * torch.tanh(score / softcap)
        if bias is not None:
            score = score + bias[b, h, q_idx, kv_idx]
        return score

    return score_mod


def _cut_bias(attn_bias: torch.Tensor, s_q: int, s_k: int, dtype: torch.dtype) -> torch.Tensor:
    """The last ``s_q`` rows and ``s_k`` columns of the bias, as the torch path cuts it."""
    bias = attn_bias[:, :, max(0, attn_bias.size(2) - s_q) :, max(0, attn_bias.size(3) - s_k) :]
    if bias.size(-1) not in (1, s_k) or bias.size(-2) not in (1, s_q):
        raise RuntimeError(
            f"attn_bias (shape: {tuple(attn_bias.shape)}) is expected to broadcast to "
            f"(B, nh, {s_q}, {s_k})."
        )
    return bias.to(dtype)


def flex_alibi_attention(
    query: torch.Tensor,
    key: torch.Tensor,
    value: torch.Tensor,
    n_heads: int,
    kv_n_heads: int,
    past_key_value: _KVCache | None = None,
    softmax_scale: float | None = None,
    attn_bias: torch.Tensor | None = None,
    key_padding_mask: torch.Tensor | None = None,
    is_causal: bool = False,
    dropout_p: float = 0.0,
    training: bool = False,
    needs_weights: bool = False,
    attn_logit_softcapping: float | None = None,
    sliding_window_size: int = -1,
) -> tuple[torch.Tensor, torch.Tensor | None, _KVCache | None]:
    """Multi-head (and grouped-query) attention with an additive bias on FlexAttention.

    Same arguments and results as llm-foundry's ``scaled_multihead_dot_product_attention``
    (``attn_impl: torch``); registered as ``csmpt_flex_alibi`` in ``attention_implementations``.

    Args:
        query: ``(B, S_q, nh * hs)``.
        key: ``(B, S, kv_nh * hs)``.
        value: ``(B, S, kv_nh * hs)``.
        n_heads: Number of query heads ``nh``.
        kv_n_heads: Number of key/value heads ``kv_nh`` (divides ``nh``).
        past_key_value: KV cache in the torch path's layout, an empty tuple to start one, or None.
            A non-empty cache (decoding) runs through ``csmpt_sdpa_alibi``.
        softmax_scale: Logit scale; default ``1 / sqrt(hs)``.
        attn_bias: Additive bias broadcastable to ``(B, nh, S_q, S_k)`` (MPT's ALiBi and padding).
        key_padding_mask: ``(B, S_k)``, True where the key is a real token.
        is_causal: Mask future keys (bottom-right aligned).
        dropout_p: Attention dropout probability; when training with it, ``csmpt_sdpa_alibi`` runs.
        training: Whether the module is in training mode.
        needs_weights: Return the attention weights (computed by the reference path).
        attn_logit_softcapping: Tanh soft-capping of the logits, before the bias.
        sliding_window_size: Attend only within this distance; -1 for no window.

    Returns:
        The output ``(B, S_q, nh * hs)``, the attention weights (None unless ``needs_weights``) and
        the updated KV cache (None when ``past_key_value`` is None).
    """
    args: dict[str, Any] = {
        "n_heads": n_heads,
        "kv_n_heads": kv_n_heads,
        "past_key_value": past_key_value,
        "softmax_scale": softmax_scale,
        "attn_bias": attn_bias,
        "key_padding_mask": key_padding_mask,
        "is_causal": is_causal,
        "dropout_p": dropout_p,
        "training": training,
        "needs_weights": needs_weights,
        "attn_logit_softcapping": attn_logit_softcapping,
        "sliding_window_size": sliding_window_size,
    }
    if needs_weights:
        from llmfoundry.models.layers.attention import scaled_multihead_dot_product_attention

        return scaled_multihead_dot_product_attention(query, key, value, **args)
    decoding = past_key_value is not None and len(past_key_value) != 0
    if decoding or (training and dropout_p > 0) or query.size(1) != key.size(1):
        if decoding:
            reason = "decoding with a KV cache"
        elif training and dropout_p > 0:
            reason = "attention dropout"
        else:
            reason = "queries and keys of different lengths"
        if reason not in _delegated:
            _delegated.add(reason)
            log.info("csmpt_flex_alibi: %s runs through csmpt_sdpa_alibi", reason)
        return sdpa_alibi_attention(query, key, value, **args)

    q = query.unflatten(-1, (n_heads, -1)).transpose(1, 2)  # (B, nh, S, hs)
    k = key.unflatten(-1, (kv_n_heads, -1)).transpose(1, 2)  # (B, kv_nh, S, hs)
    v = value.unflatten(-1, (kv_n_heads, -1)).transpose(1, 2)  # (B, kv_nh, S, hs)
    if past_key_value is not None:
        past_key_value = (k.transpose(2, 3), v)  # keys (B, kv_nh, hs, S), values (B, kv_nh, S, hs)
    b, _, s, _ = q.shape
    if is_causal and s == 1:
        is_causal = False  # the torch path ignores causality for a single query

    block_mask, padding = _BLOCK_MASKS.get(
        (key_padding_mask,),
        (b, s, is_causal, sliding_window_size, q.device),
        lambda: flex_block_mask(
            key_padding_mask,
            b,
            s,
            s,
            is_causal=is_causal,
            sliding_window_size=sliding_window_size,
            device=q.device,
        ),
    )
    bias = None if attn_bias is None else _cut_bias(attn_bias, s, s, torch.float32)
    score_mod = _score_mod(bias, attn_logit_softcapping, (b, n_heads, s, s))
    out = _flex_fn(q.device)(
        q,
        k,
        v,
        score_mod=score_mod,
        block_mask=block_mask,
        scale=softmax_scale,
        enable_gqa=n_heads != kv_n_heads,
    )  # (B, nh, S, hs)
    if padding is not None:
        # Rows with no visible key: the reference softmaxes a row of equal minima (uniform).
        seen = visible_rows(
            padding, s, is_causal=is_causal, sliding_window_size=sliding_window_size
        )  # (B, S)
        uniform = v.mean(dim=2, keepdim=True).repeat_interleave(n_heads // kv_n_heads, dim=1)
        out = torch.where(seen[:, None, :, None], out, uniform.to(out.dtype))  # (B, nh, S, hs)
    out = out.transpose(1, 2).flatten(2)  # (B, S, nh * hs)
    return out, None, past_key_value
