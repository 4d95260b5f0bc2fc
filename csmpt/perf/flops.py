"""Model FLOPs per batch and MFU, with the formula llm-foundry uses for MPT.

llm-foundry's ``ComposerMPTCausalLM.flops_per_batch`` counts ``3 * (2 * params * seq +
4 * n_layers * d_model * seq**2)`` per sequence (forward + 2x for backward). The same formula
applies to any decoder-only transformer given its parameter count, layers and width, which
is how Llama-family (``hf_causal_lm``) models get an MFU here.
"""

from __future__ import annotations

from typing import Any

__all__ = ["device_peak_flops", "model_flops_per_batch", "mfu", "transformer_flops_per_batch"]


def transformer_flops_per_batch(
    n_params: int, n_layers: int, d_model: int, batch_size: int, seq_len: int
) -> float:
    """Training FLOPs of one batch: forward + backward (2x forward), attention included."""
    params_flops = 2 * n_params * seq_len
    attn_flops = n_layers * 2 * 2 * d_model * seq_len**2
    return float(3 * (params_flops + attn_flops) * batch_size)


def model_flops_per_batch(model: Any, batch: dict[str, Any]) -> float | None:
    """FLOPs of a training step on ``batch`` for a Composer model, or None if unknown.

    Uses the model's own ``flops_per_batch`` (MPT) when it has one, else the transformer
    formula from its HF config (``num_hidden_layers`` / ``hidden_size``, e.g. Llama).
    """
    own = getattr(model, "flops_per_batch", None)
    if callable(own):
        try:
            return float(own(batch))
        except NotImplementedError:
            pass
    config = getattr(getattr(model, "model", None), "config", None)
    n_layers = getattr(config, "num_hidden_layers", None) or getattr(config, "n_layers", None)
    d_model = getattr(config, "hidden_size", None) or getattr(config, "d_model", None)
    if not n_layers or not d_model:
        return None
    n_params = sum(p.numel() for p in model.parameters())
    bs, seq = batch["input_ids"].shape[:2]
    return transformer_flops_per_batch(n_params, n_layers, d_model, bs, seq)


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
