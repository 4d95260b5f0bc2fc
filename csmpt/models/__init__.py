"""Model components registered in llm-foundry's registries: attention and an MPT that runs it."""

from csmpt.models.alibi_attention import additive_attention_mask, sdpa_alibi_attention
from csmpt.models.mpt import CsmptMPTCausalLM, split_attn_impl, use_attention_fn

__all__ = [
    "CsmptMPTCausalLM",
    "additive_attention_mask",
    "sdpa_alibi_attention",
    "split_attn_impl",
    "use_attention_fn",
]
