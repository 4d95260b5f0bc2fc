"""Model components registered in llm-foundry's registries: attention and an MPT that runs it.

The attention functions import torch only (llm-foundry's reference is imported when a call needs
it), so a GPU check can run them where Composer does not import; the MPT model is imported on
first use.
"""

from __future__ import annotations

from typing import Any

from csmpt.models.alibi_attention import additive_attention_mask, sdpa_alibi_attention
from csmpt.models.flex_attention import flex_alibi_attention

__all__ = [
    "CsmptMPTCausalLM",
    "additive_attention_mask",
    "flex_alibi_attention",
    "sdpa_alibi_attention",
    "split_attn_impl",
    "use_attention_fn",
]

_FROM_MPT = ("CsmptMPTCausalLM", "split_attn_impl", "use_attention_fn")


def __getattr__(name: str) -> Any:
    """Import the MPT model (and llm-foundry with it) only when it is asked for."""
    if name in _FROM_MPT:
        from csmpt.models import mpt

        return getattr(mpt, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
