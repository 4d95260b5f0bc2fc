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

from csmpt.perf.flops import hf_flops_per_batch, matmul_params

__all__ = ["HFFlops"]

log = logging.getLogger(__name__)


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
