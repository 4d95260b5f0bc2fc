"""One Duration type: the same string means the same amount for swaps, freeze stages and ramps."""

from __future__ import annotations

import pytest

from csmpt.errors import ConfigError
from csmpt.recipe.duration import Duration


@pytest.mark.parametrize(
    ("raw", "value", "unit"),
    [("26500ba", 26500, "ba"), ("5e9tok", 5_000_000_000, "tok"), (" 64 sp ", 64, "sp"),
     ("1_000ba", 1000, "ba"), ("2.0ba", 2, "ba")],
)  # fmt: skip
def test_parses_composers_units(raw: str, value: int, unit: str) -> None:
    d = Duration.parse(raw, "k")
    assert (d.value, d.unit) == (value, unit)
    assert d.to_time().value == value and d.to_time().unit.value == unit  # Composer's Time


@pytest.mark.parametrize(
    ("raw", "units", "bare", "message"),
    [
        ("14 steps", ("ba",), None, r"^k: '14 steps' is not an amount of batches \('200ba'\)$"),
        ("4tok", ("ba",), "ba", r"is not an amount of batches"),
        ("4", ("ba", "tok"), None, r"is not an amount of batches .* or tokens"),
        ("0ba", ("ba",), None, r"must be a positive whole number of batches"),
        ("-3ba", ("ba",), None, r"is not an amount"),
        ("2.5sp", ("sp",), None, r"must be a positive whole number of samples"),
        ("nanba", ("ba",), None, r"is not an amount"),
        (True, ("ba",), "ba", r"is not an amount"),
    ],
)
def test_bad_amounts_are_one_line_errors_naming_the_key(
    raw: object, units: tuple[str, ...], bare: str | None, message: str
) -> None:
    with pytest.raises(ConfigError, match=message) as e:
        Duration.parse(raw, "k", units=units, bare=bare)
    assert "\n" not in str(e.value)


def test_bare_numbers_count_in_the_given_unit() -> None:
    assert Duration.parse(200, "k", units=("ba",), bare="ba") == Duration(200, "ba")


def test_samples_from_tokens_and_samples() -> None:
    assert Duration(4096, "tok").samples(2048) == 2
    assert Duration(7, "sp").samples(2048) == 7
    with pytest.raises(ConfigError, match="in batches"):
        Duration(3, "ba").samples(2048)


def test_swap_points_freeze_stages_and_ramp_read_amounts_alike() -> None:
    from csmpt.callbacks.batch_ramp import _parse_amount
    from csmpt.callbacks.freeze import parse_stages
    from csmpt.recipe.swap_schedule import parse_swaps

    assert parse_swaps([{"name": "a", "at": "1e3ba"}])[0].value == 1000
    assert parse_stages([{"until": "1e3ba", "train": ["wte"]}])[0].until == 1000
    assert _parse_amount("4096tok", 2048) == 2
    with pytest.raises(ConfigError, match="must be a positive whole number of batches"):
        parse_stages([{"until": "0ba", "train": ["wte"]}])
    with pytest.raises(ConfigError, match="must be a positive whole number of batches"):
        parse_swaps([{"name": "a", "at": "0ba"}])
