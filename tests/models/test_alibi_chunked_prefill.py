"""csmpt_sdpa_alibi with a KV cache and several new queries (a chunked prefill).

The causal mask must be aligned bottom-right (new query i sees every cached key and the new keys
up to i). The decode tests feed one query at a time, where alignment does not matter; here the
cached forward must equal the rows of one full forward.
"""

from __future__ import annotations

import torch
from llmfoundry.models.layers.attention import build_alibi_bias
from llmfoundry.models.mpt import ComposerMPTCausalLM

from csmpt.models.alibi_attention import sdpa_alibi_attention
from csmpt.models.mpt import CsmptMPTCausalLM

TOL = {"rtol": 1e-5, "atol": 1e-5}
NH, KV_NH, HS = 4, 2, 16


def test_chunked_prefill_equals_the_full_forward() -> None:
    g = torch.Generator().manual_seed(0)
    b, s = 2, 12
    q = torch.randn(b, s, NH * HS, generator=g)
    k = torch.randn(b, s, KV_NH * HS, generator=g)
    v = torch.randn(b, s, KV_NH * HS, generator=g)
    bias = build_alibi_bias(NH, 64)  # (1, nh, 1, 64): MPTModel's causal ALiBi bias
    args = {"n_heads": NH, "kv_n_heads": KV_NH, "attn_bias": bias, "is_causal": True}
    full, _, _ = sdpa_alibi_attention(q, k, v, **args)
    cache: tuple = ()
    outs = []
    for lo, hi in [(0, 4), (4, 9), (9, 12)]:  # prefill in chunks of several queries
        out, _, cache = sdpa_alibi_attention(
            q[:, lo:hi], k[:, lo:hi], v[:, lo:hi], past_key_value=cache, **args
        )
        outs.append(out)
    torch.testing.assert_close(torch.cat(outs, dim=1), full, **TOL)


def test_mpt_chunked_prefill_logits_equal_the_full_forward() -> None:
    torch.manual_seed(0)
    cfg = {
        "d_model": 64,
        "n_heads": 4,
        "n_layers": 2,
        "expansion_ratio": 2,
        "max_seq_len": 64,
        "vocab_size": 128,
        "no_bias": True,
        "learned_pos_emb": False,
        "loss_fn": "torch_crossentropy",
    }
    ref = ComposerMPTCausalLM(**cfg, attn_config={"attn_impl": "torch", "alibi": True})
    new = CsmptMPTCausalLM(**cfg, attn_config={"attn_impl": "csmpt_sdpa_alibi", "alibi": True})
    new.load_state_dict(ref.state_dict())
    ids = torch.randint(0, 128, (2, 24), generator=torch.Generator().manual_seed(1))
    hf = new.model.eval()
    with torch.no_grad():
        full = ref.model.eval()(ids).logits
        past = hf(ids[:, :10], use_cache=True).past_key_values
        chunk = hf(ids[:, 10:], past_key_values=past, use_cache=True).logits  # 14 new queries
    torch.testing.assert_close(chunk, full[:, 10:], **TOL)
