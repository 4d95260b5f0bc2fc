"""Per-sample losses of a batch, and which samples stand out (the suspects of a spike)."""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
import torch.nn.functional as F

__all__ = ["outlier_samples", "per_sample_loss"]


def per_sample_loss(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Mean next-token cross-entropy of each sequence.

    Args:
        logits: ``(batch, seq, vocab)`` outputs for the inputs.
        labels: ``(batch, seq)`` targets aligned with the inputs (the model shifts them by one, as
            llm-foundry's causal LMs do); -100 is ignored.

    Returns:
        ``(batch,)`` float32 losses (nan for a sequence with no target).
    """
    b, s, v = logits.shape
    pred = logits[:, :-1].reshape(-1, v).float()  # (b * (s-1), v)
    target = labels[:, 1:].reshape(-1)
    token = F.cross_entropy(pred, target, ignore_index=-100, reduction="none").view(b, s - 1)
    mask = (labels[:, 1:] != -100).float()
    return (token * mask).sum(1) / mask.sum(1)


def outlier_samples(
    losses: Sequence[float], zscore: float = 3.5, min_ratio: float = 1.05
) -> list[int]:
    """Indices of samples whose loss stands out from the batch: the suspects of a spike.

    A sample is an outlier when its loss is at least ``zscore`` robust standard deviations
    (1.4826 x the median absolute deviation) above the batch median and at least ``min_ratio``
    times the median. A batch whose every sample is bad has no outliers.
    """
    finite = sorted(x for x in losses if math.isfinite(x))
    if not finite:
        return []
    median = _median(finite)
    mad = _median(sorted(abs(x - median) for x in finite))
    scale = max(1.4826 * mad, 1e-6)
    return [
        i
        for i, x in enumerate(losses)
        if not math.isfinite(x) or ((x - median) / scale >= zscore and x >= min_ratio * median)
    ]


def _median(xs: Sequence[float]) -> float:
    n = len(xs)
    return xs[n // 2] if n % 2 else (xs[n // 2 - 1] + xs[n // 2]) / 2
