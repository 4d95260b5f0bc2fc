"""Mean and 95% confidence interval over seeds, and whether two variants' intervals separate.

An ablation runs each variant with a few seeds; a difference between variants means something
only when it is larger than the seed-to-seed spread. :func:`mean_ci` gives the mean of the
per-seed values and the half-width of its Student's t interval::

    half_width = t(1 - (1 - level) / 2, n - 1) * s / sqrt(n)

``s`` the sample standard deviation (``n - 1`` in the denominator).

Two variants run with the same seeds (the same data order, the same surgery draws) are compared
pair by pair: :func:`compare_paired` takes the per-seed differences and calls the variants
different when the interval of their mean excludes 0 (a paired t-test at ``level``). Without two
common seeds, :func:`compare` calls them different only when their intervals do not overlap — a
conservative test, and what a reader of a table of ``mean ± half-width`` checks by eye.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass

__all__ = ["Comparison", "MeanCI", "compare", "compare_paired", "mean_ci"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class MeanCI:
    """A mean over seeds and its confidence interval.

    Attributes:
        mean: Mean of the values.
        half_width: Half-width of the interval (``inf`` for one value: no spread is known).
        n: Number of values (seeds).
        level: Confidence level, e.g. 0.95.
    """

    mean: float
    half_width: float
    n: int
    level: float = 0.95

    @property
    def low(self) -> float:
        """Lower end of the interval."""
        return self.mean - self.half_width

    @property
    def high(self) -> float:
        """Upper end of the interval."""
        return self.mean + self.half_width

    def __str__(self) -> str:
        if math.isinf(self.half_width):
            return f"{self.mean:.4f} (1 seed)"
        return f"{self.mean:.4f} ± {self.half_width:.4f}"


@dataclass(frozen=True)
class Comparison:
    """Two variants' intervals side by side.

    Attributes:
        a: The first variant's interval.
        b: The second variant's interval.
        separate: The difference is real at this level: the paired difference's interval
            excludes 0 (``paired``), or the two intervals do not overlap.
        difference: ``b.mean - a.mean``.
        paired: The interval of the per-seed differences (``b - a`` on the common seeds), when
            the variants share at least two seeds; None: compared by overlap.
    """

    a: MeanCI
    b: MeanCI
    separate: bool
    difference: float
    paired: MeanCI | None = None

    def difference_text(self) -> str:
        """``+d ± h`` from the paired interval; the plain ``+d`` when not paired."""
        if self.paired is None:
            return f"{self.difference:+.4f}"
        return f"{self.paired.mean:+.4f} ± {self.paired.half_width:.4f}"


def _t_quantile(p: float, df: int) -> float:
    """Student's t quantile (scipy is a dependency of scikit-learn, which csmpt requires)."""
    from scipy.stats import t

    return float(t.ppf(p, df))


def mean_ci(values: Sequence[float], level: float = 0.95) -> MeanCI:
    """Mean of ``values`` (one per seed) and the half-width of its Student's t interval.

    Args:
        values: One measurement per seed (e.g. held-out bpb at the end of each run).
        level: Confidence level in (0, 1).

    Raises:
        ValueError: No values, a value that is not finite, or ``level`` outside (0, 1).
    """
    if not 0.0 < level < 1.0:
        raise ValueError(f"confidence level {level} is not in (0, 1)")
    xs = [float(v) for v in values]
    if not xs:
        raise ValueError("mean_ci needs at least one value")
    if not all(math.isfinite(x) for x in xs):
        raise ValueError(f"mean_ci got a value that is not finite: {xs}")
    n = len(xs)
    mean = math.fsum(xs) / n
    if n == 1:
        return MeanCI(mean, math.inf, 1, level)
    s = math.sqrt(math.fsum((x - mean) ** 2 for x in xs) / (n - 1))
    return MeanCI(mean, _t_quantile(1 - (1 - level) / 2, n - 1) * s / math.sqrt(n), n, level)


def compare(a: Sequence[float], b: Sequence[float], level: float = 0.95) -> Comparison:
    """Whether variants ``a`` and ``b`` (per-seed values) differ at ``level``: CIs disjoint.

    Raises:
        ValueError: As :func:`mean_ci`.
    """
    ca, cb = mean_ci(a, level), mean_ci(b, level)
    separate = ca.high < cb.low or cb.high < ca.low
    return Comparison(ca, cb, separate, cb.mean - ca.mean)


def compare_paired(a: dict[int, float], b: dict[int, float], level: float = 0.95) -> Comparison:
    """Variants ``a`` and ``b`` (seed -> value) compared on their common seeds, pair by pair.

    With two or more common seeds the difference is real when the interval of the mean
    per-seed difference ``b - a`` excludes 0; otherwise this is :func:`compare`.

    Raises:
        ValueError: As :func:`mean_ci`.
    """
    common = sorted(set(a) & set(b))
    if len(common) < 2:
        return compare(list(a.values()), list(b.values()), level)
    ca, cb = mean_ci(list(a.values()), level), mean_ci(list(b.values()), level)
    diff = mean_ci([b[s] - a[s] for s in common], level)
    return Comparison(ca, cb, diff.low > 0 or diff.high < 0, cb.mean - ca.mean, diff)
