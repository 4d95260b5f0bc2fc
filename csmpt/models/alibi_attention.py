"""ALiBi-capable attention on ``torch.nn.functional.scaled_dot_product_attention`` (SDPA).

llm-foundry's MPT supports ALiBi with ``attn_impl: flash`` (needs flash-attn >= 2.4.2) or
``attn_impl: torch``, whose ``scaled_multihead_dot_product_attention`` builds the whole
``(B, nh, T, T)`` weight matrix in Python ops and keeps several copies of it for backward.
:func:`sdpa_alibi_attention` is a drop-in replacement for the latter with the same contract: the
model hands it the same ``attn_bias`` (ALiBi, padding, sequence-id masking; built by ``MPTModel``
for ``attn_impl: torch``), ``key_padding_mask`` and ``is_causal``, and it reads and writes the
KV cache in the same layout (keys ``(B, kv_nh, hs, S)``, values ``(B, kv_nh, S, hs)``). It folds
bias, padding, causal and sliding-window masks into one additive float mask of the query's dtype
and makes a single SDPA call. On CUDA, SDPA with a float mask runs the memory-efficient kernel
(flash-attn's kernel does not take a bias); without any bias or padding mask, a square causal call
passes ``is_causal=True`` and may use the flash kernel.

The mask is built once per forward and shared by every layer (:func:`shared_additive_mask`):
``MPTModel`` hands all layers the same ``attn_bias`` and padding mask, and autograd then keeps one
mask for backward instead of one a layer. When no key is padded (every packed pretraining batch)
the mask is ``(1, nh, S_q, S_k)``, not ``(B, nh, S_q, S_k)``.

Registered as ``csmpt_sdpa_alibi`` in llm-foundry's ``attention_implementations``. MPT's config
rejects any ``attn_impl`` but ``torch``/``flash``, so select it with the ``csmpt_mpt_causal_lm``
model (:mod:`csmpt.models.mpt`). Calls it cannot serve (``needs_weights`` for
``output_attentions``, ``attn_logit_softcapping``) go to llm-foundry's reference implementation.
"""

from __future__ import annotations

import logging

import torch
import torch.nn.functional as F

from csmpt.models.forward_cache import PerForwardCache, sharing_enabled

__all__ = [
    "additive_attention_mask",
    "sdpa_alibi_attention",
    "shared_additive_mask",
    "unpadded_bias",
]

log = logging.getLogger(__name__)

_KVCache = tuple[torch.Tensor, torch.Tensor]


def _repeat_kv(x: torch.Tensor, n_rep: int) -> torch.Tensor:
    """Repeat each KV head ``n_rep`` times: ``(B, kv_nh, S, hs)`` -> ``(B, kv_nh*n_rep, S, hs)``."""
    if n_rep == 1:
        return x
    b, kv_nh, s, hs = x.shape
    return x[:, :, None].expand(b, kv_nh, n_rep, s, hs).reshape(b, kv_nh * n_rep, s, hs)


def _masked_positions(
    s_q: int,
    s_k: int,
    is_causal: bool,
    sliding_window_size: int,
    key_padding_mask: torch.Tensor | None,
    device: torch.device,
) -> torch.Tensor | None:
    """Where attention is not allowed (True), as llm-foundry's torch path masks it; None if nowhere.

    The causal mask is aligned bottom-right (the last query sees every key), as with a KV cache.
    """
    masked: torch.Tensor | None = None
    if key_padding_mask is not None:
        masked = ~key_padding_mask.view(key_padding_mask.size(0), 1, 1, s_k)  # (B, 1, 1, S_k)
    if is_causal and s_q != 1:
        s = max(s_q, s_k)
        future = torch.ones(s, s, dtype=torch.bool, device=device).tril().logical_not()
        future = future[-s_q:, -s_k:].view(1, 1, s_q, s_k)  # (1, 1, S_q, S_k)
        masked = future if masked is None else masked | future
    if sliding_window_size != -1:
        window = torch.ones(s_q, s_k, dtype=torch.bool, device=device)
        if s_q != 1:
            if s_q != s_k:
                raise ValueError("Number of queries should be equal to the number of keys.")
            window = window.tril(diagonal=sliding_window_size).triu(diagonal=-sliding_window_size)
        else:
            window[:, : -(sliding_window_size + 1)] = False
        outside = window.logical_not().view(1, 1, s_q, s_k)  # (1, 1, S_q, S_k)
        masked = outside if masked is None else masked | outside
    return masked


def additive_attention_mask(
    attn_bias: torch.Tensor | None,
    s_q: int,
    s_k: int,
    *,
    is_causal: bool,
    key_padding_mask: torch.Tensor | None = None,
    sliding_window_size: int = -1,
    dtype: torch.dtype = torch.float32,
    device: torch.device | None = None,
) -> torch.Tensor | None:
    """One float mask to add to the attention logits: ``attn_bias`` plus every mask.

    ``attn_bias`` is cut to the last ``s_q`` rows and ``s_k`` columns, as llm-foundry's torch path
    does, and masked positions are set (not added) to ``finfo(dtype).min``, so a fully masked row
    stays finite and softmaxes to a uniform row, as there.

    Args:
        attn_bias: Additive bias broadcastable to ``(B, nh, S_q, S_k)`` (ALiBi, padding), or None.
        s_q: Number of queries.
        s_k: Number of keys (cached ones included).
        is_causal: Mask future keys (bottom-right aligned); ignored for a single query.
        key_padding_mask: ``(B, S_k)``, True where the key is a real token.
        sliding_window_size: Attend only within this distance; -1 for no window.
        dtype: The mask's dtype (SDPA needs the query's).
        device: Where to build the mask (default: ``attn_bias``'s device, else CPU).

    Returns:
        A tensor broadcastable to ``(B, nh, S_q, S_k)``, or None when nothing is biased or masked.
    """
    if attn_bias is not None:
        device = attn_bias.device
        attn_bias = attn_bias[
            :, :, max(0, attn_bias.size(2) - s_q) :, max(0, attn_bias.size(3) - s_k) :
        ]
        if attn_bias.size(-1) not in (1, s_k) or attn_bias.size(-2) not in (1, s_q):
            raise RuntimeError(
                f"attn_bias (shape: {tuple(attn_bias.shape)}) is expected to broadcast to "
                f"(B, nh, {s_q}, {s_k})."
            )
        attn_bias = attn_bias.to(dtype)
    device = device or torch.device("cpu")
    masked = _masked_positions(s_q, s_k, is_causal, sliding_window_size, key_padding_mask, device)
    if masked is None:
        return attn_bias
    if attn_bias is None:
        attn_bias = torch.zeros((), dtype=dtype, device=device)
    return torch.where(masked, torch.finfo(dtype).min, attn_bias)  # (B|1, nh|1, S_q, S_k)


_MASKS: PerForwardCache[torch.Tensor | None] = PerForwardCache()


def unpadded_bias(
    attn_bias: torch.Tensor | None, key_padding_mask: torch.Tensor | None
) -> tuple[torch.Tensor | None, torch.Tensor | None]:
    """Drop an all-ones ``key_padding_mask`` and the batch dimension it left on ``attn_bias``.

    ``MPTModel`` folds the padding mask into its ``(1, nh, 1, S)`` ALiBi bias with a
    ``masked_fill``, which gives the bias a batch dimension even when nothing is padded (every
    packed pretraining batch). When no key is padded and every batch row of the bias is the same,
    one row serves the whole batch. Costs one host sync (``all()``).

    Args:
        attn_bias: Additive bias broadcastable to ``(B, nh, S_q, S_k)``, or None.
        key_padding_mask: ``(B, S_k)``, True where the key is a real token, or None.

    Returns:
        The bias (batch dimension 1 when the rows are equal) and the mask (None when all ones).
    """
    if key_padding_mask is None or not bool(key_padding_mask.all()):
        return attn_bias, key_padding_mask
    if attn_bias is not None and attn_bias.size(0) > 1 and bool((attn_bias == attn_bias[:1]).all()):
        attn_bias = attn_bias[:1]  # (1, nh|1, S_q|1, S_k)
    return attn_bias, None


def shared_additive_mask(
    attn_bias: torch.Tensor | None,
    s_q: int,
    s_k: int,
    *,
    is_causal: bool,
    key_padding_mask: torch.Tensor | None,
    sliding_window_size: int,
    dtype: torch.dtype,
    device: torch.device,
) -> torch.Tensor | None:
    """:func:`additive_attention_mask`, built once per forward and shared by every layer.

    Without padding (``key_padding_mask`` all ones) the mask is ``(1, nh, S_q, S_k)`` instead of
    ``(B, nh, S_q, S_k)``; whichever it is, the layers of one forward share one tensor (see
    :mod:`csmpt.models.forward_cache`), so autograd keeps one copy for backward, not one a layer.
    Arguments as for :func:`additive_attention_mask`.
    """

    def build() -> torch.Tensor | None:
        bias, padding = attn_bias, key_padding_mask
        if sharing_enabled():
            bias, padding = unpadded_bias(attn_bias, key_padding_mask)
        return additive_attention_mask(
            bias,
            s_q,
            s_k,
            is_causal=is_causal,
            key_padding_mask=padding,
            sliding_window_size=sliding_window_size,
            dtype=dtype,
            device=device,
        )

    key = (s_q, s_k, is_causal, sliding_window_size, dtype, device)
    return _MASKS.get((attn_bias, key_padding_mask), key, build)


def sdpa_alibi_attention(
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
    """Multi-head (and grouped-query) attention with an additive bias, through one SDPA call.

    Same arguments and results as llm-foundry's ``scaled_multihead_dot_product_attention``
    (``attn_impl: torch``), of which it is a faster, leaner equivalent; registered as
    ``csmpt_sdpa_alibi`` in ``attention_implementations``.

    Args:
        query: ``(B, S_q, nh * hs)``.
        key: ``(B, S, kv_nh * hs)``.
        value: ``(B, S, kv_nh * hs)``.
        n_heads: Number of query heads ``nh``.
        kv_n_heads: Number of key/value heads ``kv_nh`` (divides ``nh``).
        past_key_value: KV cache in the torch path's layout (keys ``(B, kv_nh, hs, S_past)``,
            values ``(B, kv_nh, S_past, hs)``), an empty tuple to start one, or None for none.
        softmax_scale: Logit scale; default ``1 / sqrt(hs)``.
        attn_bias: Additive bias broadcastable to ``(B, nh, S_q, S_k)`` (MPT's ALiBi and padding).
        key_padding_mask: ``(B, S_k)``, True where the key is a real token.
        is_causal: Mask future keys (bottom-right aligned, so a KV cache works).
        dropout_p: Attention dropout probability, applied only when ``training``.
        training: Whether the module is in training mode.
        needs_weights: Return the attention weights (computed by the reference path).
        attn_logit_softcapping: Tanh soft-capping of the logits (computed by the reference path).
        sliding_window_size: Attend only within this distance; -1 for no window.

    Returns:
        The output ``(B, S_q, nh * hs)``, the attention weights (None unless ``needs_weights``) and
        the updated KV cache (None when ``past_key_value`` is None).
    """
    if needs_weights or attn_logit_softcapping is not None:
        # SDPA returns no weights and cannot cap logits before the bias: use the reference path.
        from llmfoundry.models.layers.attention import scaled_multihead_dot_product_attention

        return scaled_multihead_dot_product_attention(
            query,
            key,
            value,
            n_heads=n_heads,
            kv_n_heads=kv_n_heads,
            past_key_value=past_key_value,
            softmax_scale=softmax_scale,
            attn_bias=attn_bias,
            key_padding_mask=key_padding_mask,
            is_causal=is_causal,
            dropout_p=dropout_p,
            training=training,
            needs_weights=needs_weights,
            attn_logit_softcapping=attn_logit_softcapping,
            sliding_window_size=sliding_window_size,
        )

    q = query.unflatten(-1, (n_heads, -1)).transpose(1, 2)  # (B, nh, S_q, hs)
    k = key.unflatten(-1, (kv_n_heads, -1)).transpose(1, 2)  # (B, kv_nh, S, hs)
    v = value.unflatten(-1, (kv_n_heads, -1)).transpose(1, 2)  # (B, kv_nh, S, hs)

    if past_key_value is not None:
        if len(past_key_value) != 0:
            k = torch.cat([past_key_value[0].transpose(2, 3), k], dim=2)  # (B, kv_nh, S_k, hs)
            v = torch.cat([past_key_value[1], v], dim=2)  # (B, kv_nh, S_k, hs)
        past_key_value = (
            k.transpose(2, 3),
            v,
        )  # keys (B, kv_nh, hs, S_k), values (B, kv_nh, S_k, hs)

    s_q, s_k = q.size(2), k.size(2)
    k = _repeat_kv(k, n_heads // kv_n_heads)  # (B, nh, S_k, hs)
    v = _repeat_kv(v, n_heads // kv_n_heads)  # (B, nh, S_k, hs)

    square_causal = is_causal and s_q == s_k and s_q != 1
    if (
        attn_bias is None
        and key_padding_mask is None
        and sliding_window_size == -1
        and square_causal
    ):
        mask, causal_flag = None, True  # SDPA's own causal mask (top-left) equals ours when square
    else:
        mask = shared_additive_mask(
            attn_bias,
            s_q,
            s_k,
            is_causal=is_causal,
            key_padding_mask=key_padding_mask,
            sliding_window_size=sliding_window_size,
            dtype=q.dtype,
            device=q.device,
        )  # (B|1, nh|1, S_q, S_k) or None; (1, nh, S_q, S_k) without padding
        causal_flag = False

    out = F.scaled_dot_product_attention(
        q,
        k,
        v,
        attn_mask=mask,
        dropout_p=dropout_p if training else 0.0,
        is_causal=causal_flag,
        scale=softmax_scale,
    )  # (B, nh, S_q, hs)
    out = out.transpose(1, 2).flatten(2)  # (B, S_q, nh * hs)
    return out, None, past_key_value
