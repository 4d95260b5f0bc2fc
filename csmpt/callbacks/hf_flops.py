"""Training FLOPs per batch for Hugging Face causal LMs (Llama family), so MFU is reported.

Composer's ``speed_monitor`` reports ``throughput/*/flops_per_sec`` and ``throughput/device/mfu``
only for a model with a ``flops_per_batch`` method. llm-foundry's MPT has one; its
``hf_causal_lm`` (Llama, Mistral, ...) has none. The ``csmpt_hf_flops`` callback (registered in
``callbacks``) gives it one at ``INIT``, with the count MPT uses, so the two are comparable::

    3 * batch * (2 * matmul_params * seq + n_layers * 2 * 2 * attn_width * seq**2)

``matmul_params`` are the parameters used in matrix multiplies: every parameter except an
untied input embedding (a lookup, no FLOPs; a tied one is counted once, as the output
projection, as MPT counts it). ``attn_width`` is ``n_heads * head_dim`` (the query width, which
grouped-query attention keeps). The factor 3 is forward + backward (2x forward); causal masking
is not discounted, as in llm-foundry. A model that already has ``flops_per_batch`` (MPT) is left
as it is. In a YAML::

    callbacks:
      csmpt_hf_flops: {}
      speed_monitor: {window_size: 10}
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from composer.core import Callback, State
from composer.loggers import Logger
from torch import nn

__all__ = ["HFFlops", "hf_flops_per_batch", "matmul_params"]

log = logging.getLogger(__name__)


def matmul_params(model: nn.Module) -> int:
    """Parameters of an HF causal LM that take part in matrix multiplies (see module doc)."""
    total = sum(p.numel() for p in model.parameters())
    get_in = getattr(model, "get_input_embeddings", None)
    get_out = getattr(model, "get_output_embeddings", None)
    emb = get_in() if callable(get_in) else None
    out = get_out() if callable(get_out) else None
    if emb is None or (out is not None and out.weight is emb.weight):
        return total  # tied: the one matrix is the output projection
    return total - emb.weight.numel()


def hf_flops_per_batch(config: Any, n_matmul_params: int, batch_size: int, seq_len: int) -> float:
    """Training FLOPs of one batch of an HF decoder (forward + backward, MPT's convention).

    Args:
        config: The HF config (``num_hidden_layers``, ``num_attention_heads``, ``hidden_size``,
            optional ``head_dim``).
        n_matmul_params: :func:`matmul_params` of the model.
        batch_size: Sequences in the batch.
        seq_len: Tokens per sequence.
    """
    n_layers = int(config.num_hidden_layers)
    n_heads = int(config.num_attention_heads)
    head_dim = getattr(config, "head_dim", None) or config.hidden_size // n_heads
    attn_width = n_heads * int(head_dim)
    params_flops = 2 * n_matmul_params * seq_len
    attn_flops = n_layers * 2 * 2 * attn_width * seq_len**2
    return float(3 * (params_flops + attn_flops) * batch_size)


class _FlopsPerBatch:
    """``flops_per_batch(batch)`` for one HF model (counted once, before FSDP shards it)."""

    def __init__(self, hf_model: nn.Module) -> None:
        config = hf_model.config
        self.config = getattr(config, "text_config", None) or config
        self.n_matmul_params = matmul_params(hf_model)

    def __call__(self, batch: Mapping[str, Any]) -> float:
        bs, seq = batch["input_ids"].shape[:2]
        return hf_flops_per_batch(self.config, self.n_matmul_params, int(bs), int(seq))


class HFFlops(Callback):
    """Give an ``hf_causal_lm`` model a ``flops_per_batch`` so MFU is reported (``csmpt_hf_flops``).

    Takes no arguments. Does nothing for a model that has one already (MPT).
    """

    def init(self, state: State, logger: Logger) -> None:
        """Attach ``flops_per_batch`` to the Composer model."""
        del logger
        model: Any = state.model
        if callable(getattr(model, "flops_per_batch", None)):
            return
        hf_model = getattr(model, "model", None)
        if hf_model is None or not hasattr(hf_model, "config"):
            log.warning("csmpt_hf_flops: %s has no HF model inside; no FLOPs", type(model).__name__)
            return
        model.flops_per_batch = _FlopsPerBatch(hf_model)
