"""Warmup-stable-decay (WSD) learning-rate schedule, registered as ``csmpt_wsd``.

The LR rises linearly from 0 over ``t_warmup``, stays at the peak, then decays to
``alpha_f`` x peak over the last ``t_decay`` of the run (linear, cosine or ``1-sqrt``, the
shape of Hägele et al. 2024). The decay ends at ``t_max`` (default: the run's
``max_duration``), so an annealing run that resumes a stable-phase checkpoint with a longer
``max_duration`` decays from wherever it starts: the schedule is a pure function of the
timestamp, nothing of it is stored in the checkpoint.

Times are Composer time strings (``100ba``, ``2000000sp``, ``4000000000tok``, ``0.1dur``).
Counted in samples or tokens (as Lucie-7B's warmup of 2M samples), the schedule does not move
when the batch size changes.

Example::

    scheduler:
      name: csmpt_wsd
      t_warmup: 100ba
      t_decay: 0.2dur          # decay over the last fifth of max_duration
      decay_shape: 1-sqrt
      alpha_f: 0.0
"""

from __future__ import annotations

import logging
import math

from composer.core import State, Time
from composer.optim.scheduler import ComposerScheduler, _convert_time

from csmpt.errors import ConfigError

__all__ = ["DECAY_SHAPES", "WarmupStableDecayScheduler", "wsd_multiplier"]

log = logging.getLogger(__name__)

DECAY_SHAPES = ("linear", "cosine", "1-sqrt")


def wsd_multiplier(
    t: float, t_warmup: float, t_decay_start: float, t_end: float, alpha_f: float, shape: str
) -> float:
    """The LR multiplier at time ``t`` (all times in one unit).

    Args:
        t: elapsed time.
        t_warmup: end of the linear warmup from 0 to 1.
        t_decay_start: start of the decay; the multiplier is 1 between warmup and here.
        t_end: end of the decay; ``alpha_f`` from here on.
        alpha_f: the final multiplier.
        shape: ``linear``, ``cosine`` or ``1-sqrt``.
    """
    if t < t_warmup:
        return t / t_warmup
    if t < t_decay_start:
        return 1.0
    x = 1.0 if t_end <= t_decay_start else min(1.0, (t - t_decay_start) / (t_end - t_decay_start))
    if shape == "linear":
        fall = x
    elif shape == "cosine":
        fall = 0.5 * (1.0 - math.cos(math.pi * x))
    elif shape == "1-sqrt":
        fall = math.sqrt(x)
    else:
        raise ConfigError(
            f"scheduler.decay_shape: {shape!r} is not one of {', '.join(DECAY_SHAPES)}"
        )
    return 1.0 - (1.0 - alpha_f) * fall


class WarmupStableDecayScheduler(ComposerScheduler):
    """Warmup, constant LR, then decay to ``alpha_f`` over ``t_decay`` ending at ``t_max``.

    Args:
        t_warmup: linear warmup from 0 (a Composer time string).
        t_decay: length of the decay phase.
        t_max: when the decay ends; default ``1dur`` (the run's ``max_duration``).
        alpha_f: final LR as a fraction of the peak.
        decay_shape: ``linear``, ``cosine`` or ``1-sqrt``.
    """

    def __init__(
        self,
        t_warmup: str | Time,
        t_decay: str | Time,
        t_max: str | Time = "1dur",
        alpha_f: float = 0.0,
        decay_shape: str = "linear",
    ) -> None:
        if decay_shape not in DECAY_SHAPES:
            raise ConfigError(
                f"scheduler.decay_shape: {decay_shape!r} is not one of {', '.join(DECAY_SHAPES)}"
            )
        if not 0.0 <= alpha_f <= 1.0:
            raise ConfigError(f"scheduler.alpha_f: {alpha_f} is not between 0 and 1")
        self.t_warmup = t_warmup
        self.t_decay = t_decay
        self.t_max = t_max
        self.alpha_f = alpha_f
        self.decay_shape = decay_shape

    def __call__(self, state: State, ssr: float = 1.0) -> float:
        """The LR multiplier at the state's timestamp."""
        warmup = _convert_time(self.t_warmup, state)
        decay = _convert_time(self.t_decay, state, ssr=ssr)
        end = _convert_time(self.t_max, state, ssr=ssr)
        unit = end.unit
        for key, value in (("t_warmup", warmup), ("t_decay", decay)):
            if value.unit != unit:
                raise ConfigError(
                    f"scheduler.{key}: {value} is not in the unit of t_max / max_duration "
                    f"({unit.value}); give both in the same unit"
                )
        start = end.value - decay.value
        if start < warmup.value:
            raise ConfigError(
                f"scheduler: the decay ({decay}) starts at {start}{unit.value}, before the "
                f"warmup ({warmup}) ends; shorten t_decay or t_warmup"
            )
        now = state.timestamp.get(unit).value
        return wsd_multiplier(
            float(now), warmup.value, start, end.value, self.alpha_f, self.decay_shape
        )
