"""Mean ± 95% CI over seeds (Student's t) and separation, against t-table values by hand."""

from __future__ import annotations

import math

import pytest

from csmpt.ablate.stats import compare, mean_ci

# Student's t, two-sided 95%: t(0.975, 1) = 12.706, t(0.975, 2) = 4.303 (printed tables).


def test_mean_ci_matches_the_t_table() -> None:
    ci = mean_ci([1.0, 2.0, 3.0])  # mean 2, s = 1
    assert ci.mean == 2.0 and ci.n == 3
    assert ci.half_width == pytest.approx(4.303 / math.sqrt(3), abs=1e-3)
    # The 'mean' init at step 80, two seeds: s = 0.005 / sqrt(2), s / sqrt(2) = 0.0025.
    two = mean_ci([2.880, 2.885])
    assert two.mean == pytest.approx(2.8825)
    assert two.half_width == pytest.approx(12.706 * 0.0025, abs=1e-4)
    assert str(two) == "2.8825 ± 0.0318"
    assert mean_ci([1.0, 2.0, 3.0], level=0.5).half_width < ci.half_width
    assert math.isinf(mean_ci([3.0]).half_width) and str(mean_ci([3.0])) == "3.0000 (1 seed)"
    for bad in ([], [1.0, math.nan]):
        with pytest.raises(ValueError):
            mean_ci(bad)
    with pytest.raises(ValueError):
        mean_ci([1.0, 2.0], level=1.0)


def test_compare_calls_a_difference_real_only_when_the_intervals_separate() -> None:
    # [1, 2, 3]: 2 ± 2.484 = (-0.48, 4.48).
    far = compare([1.0, 2.0, 3.0], [10.0, 11.0, 12.0])  # (7.52, 14.48)
    assert far.separate and far.difference == pytest.approx(9.0)
    near = compare([1.0, 2.0, 3.0], [4.0, 5.0, 6.0])  # (2.52, 7.48) overlaps
    assert not near.separate and near.difference == pytest.approx(3.0)
    assert compare([10.0, 11.0, 12.0], [1.0, 2.0, 3.0]).separate  # either order
    # The table: 'pieces' (2.846, 2.851) vs 'mean' (2.880, 2.885) at step 80 with two
    # seeds is NOT a separated difference at 95% (each half-width 0.032 > the 0.034 gap / 2).
    assert not compare([2.880, 2.885], [2.846, 2.851]).separate
    assert not compare([5.0], [1.0, 1.1, 1.2]).separate  # one seed: no interval, no claim


def test_compare_paired_uses_the_per_seed_differences() -> None:
    from csmpt.ablate.stats import compare_paired

    # Seeds move both variants together; b is 0.1 lower on every seed. Unpaired, the intervals
    # (1.0 +- 2.48 and 0.9 +- 2.48) overlap; paired, the differences are exactly -0.1.
    a = {1: 0.0, 2: 1.0, 3: 2.0}
    b = {1: -0.1, 2: 0.9, 3: 1.9}
    assert not compare(list(a.values()), list(b.values())).separate
    c = compare_paired(a, b)
    assert c.separate and c.paired is not None
    assert c.paired.mean == pytest.approx(-0.1) and c.paired.half_width == pytest.approx(0.0)
    # differences -0.1, 0.1, -0.3: mean -0.1, s 0.2, t(0.975, 2) 4.303 -> half-width 0.4969
    d = compare_paired(a, {1: -0.1, 2: 1.1, 3: 1.7})
    assert not d.separate
    assert d.paired is not None and d.paired.half_width == pytest.approx(4.302653 * 0.2 / 3**0.5)
    # fewer than two common seeds: back to the overlap test
    e = compare_paired({1: 1.0, 2: 2.0, 3: 3.0}, {4: 10.0, 5: 11.0, 6: 12.0})
    assert e.paired is None and e.separate


def test_band_is_the_mean_and_t_interval_per_step() -> None:
    from csmpt.ablate.plot import band

    b = band([[(0, 1.0), (5, 2.0)], [(0, 3.0), (5, 2.0), (10, 7.0)], [(0, 2.0), (5, float("nan"))]])
    assert b.steps == [0, 5, 10] and b.mean == [2.0, 2.0, 7.0]
    # step 0: values 1, 2, 3 -> s = 1, t(0.975, 2) = 4.302653 -> 4.302653 / sqrt(3)
    assert b.half[0] == pytest.approx(4.302653 / 3**0.5, rel=1e-6)
    assert b.half[1] == 0.0 and b.half[2] == 0.0  # equal values; one seed
