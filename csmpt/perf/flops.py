"""Model FLOPs per batch and MFU, with the formula llm-foundry uses for MPT.

llm-foundry's ``ComposerMPTCausalLM.flops_per_batch`` counts ``3 * (2 * params * seq +
4 * n_layers * d_model * seq**2)`` per sequence (forward + 2x for backward). The same formula
applies to any decoder-only transformer given its matrix-multiply parameter count, layers and
width; :mod:`csmpt.callbacks.hf_flops` applies it to Llama-family (``hf_causal_lm``) models.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from torch import nn

__all__ = [
    "device_peak_flops",
    "hf_flops_per_batch",
    "matmul_params",
    "model_flops_per_batch",
    "mfu",
    "transformer_flops_per_batch",
]


def transformer_flops_per_batch(
    n_params: int, n_layers: int, d_model: int, batch_size: int, seq_len: int
) -> float:
    """Training FLOPs of one batch: forward + backward (2x forward), attention included."""
    params_flops = 2 * n_params * seq_len
    attn_flops = n_layers * 2 * 2 * d_model * seq_len**2
    return float(3 * (params_flops + attn_flops) * batch_size)


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


def model_flops_per_batch(model: Any, batch: dict[str, Any]) -> float | None:
    """FLOPs of a training step on ``batch`` for a Composer model, or None if unknown.

    Uses the model's own ``flops_per_batch`` (MPT, or an HF model given one by
    ``csmpt_hf_flops``) when it has one, else the same count as ``csmpt_hf_flops`` from its HF
    config (e.g. Llama: an untied input embedding is a lookup and is not counted).
    """
    own = getattr(model, "flops_per_batch", None)
    if callable(own):
        try:
            return float(own(batch))
        except NotImplementedError:
            pass
    hf_model = getattr(model, "model", None)
    config = getattr(hf_model, "config", None)
    if hf_model is None or not getattr(config, "num_hidden_layers", None):
        return None
    bs, seq = batch["input_ids"].shape[:2]
    return hf_flops_per_batch(config, matmul_params(hf_model), int(bs), int(seq))


def mfu(flops_per_second: float, peak_flops: float | None) -> float | None:
    """Model FLOPs utilisation, or None when the device's peak is unknown."""
    if not peak_flops:
        return None
    return flops_per_second / peak_flops


def device_peak_flops(precision: str) -> float | None:
    """Peak FLOP/s of the current CUDA GPU at ``precision`` (Composer's table), else None."""
    from types import SimpleNamespace

    import torch
    from composer.callbacks.speed_monitor import get_gpu_flops_available

    if not torch.cuda.is_available():
        return None
    # Composer's lookup reads only state.precision.value.
    state: Any = SimpleNamespace(precision=SimpleNamespace(value=precision))
    peak = get_gpu_flops_available(state)
    return float(peak) if peak else None
