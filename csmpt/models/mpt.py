"""MPT that runs any attention implementation registered in llm-foundry, e.g. ``csmpt_sdpa_alibi``.

llm-foundry's ``MPTConfig`` accepts only ``attn_impl: torch`` or ``flash``, and ``MPTModel``
decides from that string how to build the attention bias, mask padding and lay out the KV cache.
Rather than subclass either, :class:`CsmptMPTCausalLM` (registered as ``csmpt_mpt_causal_lm`` in
llm-foundry's ``models``) accepts, in ``attn_config.attn_impl``, any other key of the
``attention_implementations`` registry: it builds the plain MPT with ``attn_impl: torch`` (so
``MPTModel`` builds the ALiBi/padding ``attn_bias`` and passes ``is_causal`` and
``key_padding_mask`` exactly as for torch) and then points every attention layer's ``attn_fn``
at the registered function. The function must therefore keep the torch path's contract (see
:mod:`csmpt.models.alibi_attention`). ``torch`` and ``flash`` behave as in ``mpt_causal_lm``.

In a training YAML::

    model:
      name: csmpt_mpt_causal_lm
      attn_config:
        attn_impl: csmpt_sdpa_alibi
        alibi: true

Export: the Hugging Face model inside is llm-foundry's own ``MPTForCausalLM`` with a plain
``MPTConfig`` whose ``attn_impl`` is ``torch``; the custom function lives only on the layers of the
running model. A Composer checkpoint therefore records a plain MPT (``get_metadata``), and both
llm-foundry's ``hf_checkpointer`` callback and ``scripts/inference/convert_composer_to_hf.py``
(Composer's ``hf_from_composer_checkpoint``) write a standard MPT folder: ``attn_impl: torch``,
llm-foundry's remote code, no csmpt import. ``transformers`` loads it with
``trust_remote_code=True`` and computes the same logits (tested to 1e-5). To go on training from
such a folder with this implementation, set ``attn_config.attn_impl`` again in the YAML.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import Any

from llmfoundry.layers_registry import attention_implementations
from llmfoundry.models.mpt.modeling_mpt import ComposerMPTCausalLM
from torch import nn
from transformers import PreTrainedTokenizerBase

from csmpt.errors import ConfigError

__all__ = ["BUILTIN_ATTN_IMPLS", "CsmptMPTCausalLM", "split_attn_impl", "use_attention_fn"]

log = logging.getLogger(__name__)

# The values MPTConfig itself accepts; every other registered key runs as "torch" + its function.
BUILTIN_ATTN_IMPLS = ("torch", "flash")


def split_attn_impl(model_kwargs: Mapping[str, Any]) -> tuple[str | None, dict[str, Any]]:
    """Separate a registered, non-built-in ``attn_config.attn_impl`` from MPT's kwargs.

    Args:
        model_kwargs: The model's YAML section (without ``name``).

    Returns:
        The registry key to run (None for ``torch``/``flash`` or no ``attn_config``) and a copy of
        the kwargs with ``attn_impl: torch`` in its place.

    Raises:
        ConfigError: If ``attn_impl`` is not a key of llm-foundry's ``attention_implementations``.
    """
    kwargs = dict(model_kwargs)
    attn_config = kwargs.get("attn_config")
    if not attn_config or attn_config.get("attn_impl") in (None, *BUILTIN_ATTN_IMPLS):
        return None, kwargs
    name = str(attn_config["attn_impl"])
    registered = sorted(attention_implementations.get_all())
    if name not in registered:
        raise ConfigError(
            f"model.attn_config.attn_impl: {name!r} is not a registered attention implementation "
            f"(registered: {', '.join(registered)}); fix the name or `pip install -e .` to "
            "refresh csmpt's entry points"
        )
    kwargs["attn_config"] = {**attn_config, "attn_impl": "torch"}
    return name, kwargs


def use_attention_fn(model: nn.Module, attn_fn: Callable[..., Any]) -> int:
    """Make every torch-path attention layer of ``model`` call ``attn_fn``.

    Args:
        model: An MPT model built with ``attn_impl: torch``.
        attn_fn: A function with the contract of llm-foundry's
            ``scaled_multihead_dot_product_attention``.

    Returns:
        How many layers now call ``attn_fn``.

    Raises:
        ValueError: If ``model`` has no attention layer on the torch path.
    """
    layers: list[Any] = [  # llm-foundry's attention layers keep their function in .attn_fn
        m
        for m in model.modules()
        if hasattr(m, "attn_fn") and getattr(m, "attn_impl", "") == "torch"
    ]
    if not layers:
        raise ValueError("the model has no attention layer with attn_impl 'torch' to swap")
    for layer in layers:
        layer.attn_fn = attn_fn
    return len(layers)


class CsmptMPTCausalLM(ComposerMPTCausalLM):
    """llm-foundry's ``mpt_causal_lm`` that also runs registered attention implementations.

    Registered as ``csmpt_mpt_causal_lm``. Takes the same YAML keys as ``mpt_causal_lm``;
    ``attn_config.attn_impl`` may also name any key of ``attention_implementations`` (such as
    ``csmpt_sdpa_alibi``), which runs in place of the ``torch`` path's attention function. The
    wrapped model and its config stay plain ``MPTForCausalLM``/``MPTConfig`` with
    ``attn_impl: torch``, so checkpoints and Hugging Face exports are ordinary MPT.

    Args:
        tokenizer: The tokenizer (passed by llm-foundry).
        use_train_metrics: Whether to compute train metrics.
        additional_train_metrics: Extra metric names.
        loss_fn: ``fused_crossentropy`` or ``torch_crossentropy``.
        **kwargs: ``MPTConfig`` keys, as for ``mpt_causal_lm``.
    """

    def __init__(
        self,
        tokenizer: PreTrainedTokenizerBase | None = None,
        use_train_metrics: bool | None = True,
        additional_train_metrics: list | None = None,
        loss_fn: str | dict | None = "fused_crossentropy",
        **kwargs: Any,
    ) -> None:
        name, mpt_kwargs = split_attn_impl(kwargs)
        super().__init__(
            tokenizer=tokenizer,
            use_train_metrics=use_train_metrics,
            additional_train_metrics=additional_train_metrics,
            loss_fn=loss_fn,
            **mpt_kwargs,
        )
        self.attn_impl_name: str = name or self.model.config.attn_config["attn_impl"]
        if name is not None:
            n = use_attention_fn(self.model, attention_implementations.get(name))
            log.info("MPT attention: %s in %d layers (config keeps attn_impl 'torch')", name, n)
