"""Loss-spike detection on a rolling window of recent values (pure functions, no Composer).

A value is compared with the window of the last ``window`` accepted values. The baseline
(``mean``) is the window's mean, or with ``trend`` (default) the window's least-squares line
extrapolated one step, and ``std`` is the spread around that baseline: a loss that is still
falling fast (the start of a run, a fresh corpus) would otherwise hide a jump below the
window's mean.

* ``ratio``: a spike when ``value >= ratio * baseline`` (llm-foundry's ``kill_loss_spike`` rule
  on the plain mean, there with ratio 2);
* ``zscore``: a spike when ``(value - baseline) / max(std, min_std) >= zscore``: catches a jump
  from 2.1 to 2.6 on a flat curve, which no sensible ratio does.

Either or both may be set; a value is a spike when any set rule fires. Nothing is flagged until
the window holds ``warmup`` values (the first steps of a run fall fast and are noisy). Spikes are
not added to the window, so one spike does not hide the next; non-finite values are never
added.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from typing import Any

__all__ = ["RollingWindow", "SpikeCheck", "SpikeRule", "check_spike"]


@dataclass(frozen=True)
class SpikeRule:
    """When a value counts as a spike.

    Attributes:
        ratio: Flag ``value >= ratio * window mean``; None turns the rule off.
        zscore: Flag ``(value - mean) / max(std, min_std) >= zscore``; None turns it off.
        warmup: Values the window must hold before anything is flagged.
        min_std: Floor of the window's standard deviation in the z-score (a flat curve would
            otherwise flag noise).
        trend: Measure against the window's linear trend instead of its plain mean.
    """

    ratio: float | None = 1.5
    zscore: float | None = 6.0
    warmup: int = 10
    min_std: float = 0.01
    trend: bool = True

    def __post_init__(self) -> None:
        if self.ratio is None and self.zscore is None:
            raise ValueError("set at least one of ratio and zscore")
        if self.ratio is not None and self.ratio <= 1.0:
            raise ValueError(f"ratio must be > 1, got {self.ratio}")
        if self.zscore is not None and self.zscore <= 0:
            raise ValueError(f"zscore must be > 0, got {self.zscore}")
        if self.warmup < 2:
            raise ValueError(f"warmup must be >= 2 values, got {self.warmup}")


@dataclass(frozen=True)
class SpikeCheck:
    """The outcome of checking one value against its window.

    Attributes:
        spike: Whether a rule fired.
        reasons: The rules that fired (``ratio``, ``zscore``).
        mean: The baseline: the window's mean, or its trend line at this step (nan when the
            window is empty).
        std: The window's spread around the baseline (population standard deviation).
        ratio: ``value / mean``.
        zscore: ``(value - mean) / max(std, min_std)``.
        n: Values in the window.
    """

    spike: bool
    reasons: tuple[str, ...]
    mean: float
    std: float
    ratio: float
    zscore: float
    n: int

    def as_dict(self) -> dict[str, Any]:
        """The statistics as a JSON-friendly dict (for events)."""
        d = asdict(self)
        d["reasons"] = list(self.reasons)
        return d


def check_spike(window: Sequence[float], value: float, rule: SpikeRule) -> SpikeCheck:
    """Check ``value`` against the values in ``window`` (which must all be finite)."""
    n = len(window)
    if n == 0:
        return SpikeCheck(False, (), math.nan, math.nan, math.nan, math.nan, 0)
    mean = math.fsum(window) / n
    std = math.sqrt(math.fsum((x - mean) ** 2 for x in window) / n)
    if rule.trend and n >= 3:
        # Least-squares line through (i, window[i]), evaluated at i = n (the new value).
        xbar = (n - 1) / 2
        sxx = math.fsum((i - xbar) ** 2 for i in range(n))
        slope = math.fsum((i - xbar) * (x - mean) for i, x in enumerate(window)) / sxx
        fit = [mean + slope * (i - xbar) for i in range(n)]
        std = math.sqrt(math.fsum((x - f) ** 2 for x, f in zip(window, fit, strict=True)) / n)
        mean = mean + slope * (n - xbar)
    ratio = value / mean if mean > 0 else math.inf
    z = (value - mean) / max(std, rule.min_std)
    reasons: list[str] = []
    if n >= rule.warmup:
        if rule.ratio is not None and mean > 0 and value >= rule.ratio * mean:
            reasons.append("ratio")
        if rule.zscore is not None and z >= rule.zscore:
            reasons.append("zscore")
    return SpikeCheck(bool(reasons), tuple(reasons), mean, std, ratio, z, n)


class RollingWindow:
    """The last ``size`` accepted values, with the check-then-accept step of the detector.

    Args:
        size: Values kept.
        rule: The spike rule.
    """

    def __init__(self, size: int, rule: SpikeRule) -> None:
        if size < rule.warmup:
            raise ValueError(f"window ({size}) must hold at least warmup ({rule.warmup}) values")
        self.rule = rule
        self.values: deque[float] = deque(maxlen=size)

    def push(self, value: float) -> SpikeCheck:
        """Check ``value``; add it to the window unless it is a spike or not finite."""
        check = check_spike(self.values, value, self.rule)
        if math.isfinite(value) and not check.spike:
            self.values.append(float(value))
        return check

    def state_dict(self) -> list[float]:
        """The window's values (for resumption)."""
        return list(self.values)

    def load_state_dict(self, values: Iterable[float]) -> None:
        """Restore the values of :meth:`state_dict`."""
        self.values.clear()
        self.values.extend(float(v) for v in values)
