"""The corpus hot-swap schedule: parsing, validation and lookup (pure functions).

A schedule lists the corpora a run switches to, each with the point it starts at, counted in
batches (``26500ba``) or tokens (``5e9tok``) from the start of the run, independent of
``max_duration``. The corpus the run starts on is the recipe's ``train_loader``. ``at: resume``
is a manual swap: it happens at the step the run is resumed from (llm-foundry's
``dataset_swap`` use case) and is recorded with that step in the run's swap history.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from csmpt.errors import ConfigError, DataError
from csmpt.mds.folders import local_mds_folders, missing_reason
from csmpt.recipe.duration import Duration

__all__ = [
    "HOT_SWAP",
    "SWAP_KEYS",
    "Swap",
    "check_swaps",
    "hot_swap_spec",
    "merged_dataset",
    "parse_swaps",
    "swaps_due",
]

SWAP_KEYS = ("name", "at", "dataset", "reset_optimizer")
UNITS = {"ba": "batch", "tok": "token"}
HOT_SWAP = "csmpt_hot_swap"
"""The hot-swap callback's registry key (``pyproject.toml``): ``callbacks.csmpt_hot_swap``."""
WHERE = f"callbacks.{HOT_SWAP}.swaps"


def hot_swap_spec(cfg: Mapping[str, Any]) -> dict[str, Any] | None:
    """The hot-swap callback's kwargs in a train config (``swaps``, ``first_name``...).

    Args:
        cfg: A resolved train config (a dict, as ``OmegaConf.to_container`` returns it).

    Returns:
        A copy of ``callbacks.csmpt_hot_swap``; None when the recipe swaps no corpus.
    """
    callbacks = cfg.get("callbacks")
    spec = callbacks.get(HOT_SWAP) if isinstance(callbacks, Mapping) else None
    return dict(spec) if isinstance(spec, Mapping) else None


@dataclass
class Swap:
    """One scheduled corpus change.

    Attributes:
        name: The corpus' name (in events, reports and errors).
        unit: ``batch`` or ``token``; None for a manual ``at: resume`` swap not yet resolved.
        value: The batch or token count at which the new corpus starts.
        dataset: Keys that replace those of ``train_loader.dataset`` (``local``, ``split``,
            ``streams``, ``shuffle_seed``, ...).
        reset_optimizer: Zero the optimizer state (e.g. Lion momentum) at the swap.
        manual: ``at: resume``: the swap happens at the step the run resumes from; ``unit`` and
            ``value`` are filled in then (or from the run's swap history).
    """

    name: str
    unit: str | None
    value: int
    dataset: dict[str, Any] = field(default_factory=dict)
    reset_optimizer: bool = False
    manual: bool = False

    def describe(self) -> str:
        """``cs_crawl at 26500ba``."""
        at = (
            "resume"
            if self.unit is None
            else f"{self.value}{'ba' if self.unit == 'batch' else 'tok'}"
        )
        return f"{self.name} at {at}"


def _parse_at(raw: object, where: str) -> tuple[str | None, int]:
    """``(unit, value)`` of a swap point (:class:`~csmpt.recipe.duration.Duration`), or resume."""
    if raw == "resume":
        return None, 0
    try:
        at = Duration.parse(raw, where, units=("ba", "tok"))
    except ConfigError as e:
        if "whole number" in str(e):
            raise
        raise ConfigError(
            f"{where}: '{raw}' is not a swap point; use batches ('26500ba'), tokens "
            "('5000000tok') or 'resume'"
        ) from None
    return UNITS[at.unit], at.value


def parse_swaps(raw: Sequence[Mapping[str, Any]]) -> list[Swap]:
    """Parse and check the ``swaps`` list of the callback's YAML.

    Raises:
        ConfigError: Unknown key, missing name/at, bad unit, mixed units, unsorted or duplicate
            swap points, duplicate names.
    """
    swaps: list[Swap] = []
    for i, item in enumerate(raw):
        where = f"{WHERE}.{i}"
        if not isinstance(item, Mapping):
            raise ConfigError(f"{where}: expected a mapping with keys {', '.join(SWAP_KEYS)}")
        unknown = sorted(set(item) - set(SWAP_KEYS))
        if unknown:
            raise ConfigError(f"{where}.{unknown[0]}: unknown key; allowed: {', '.join(SWAP_KEYS)}")
        for key in ("name", "at"):
            if key not in item:
                raise ConfigError(f"{where}: '{key}' is missing")
        unit, value = _parse_at(item["at"], f"{where}.at")
        dataset = item.get("dataset") or {}
        if not isinstance(dataset, Mapping):
            raise ConfigError(f"{where}.dataset: expected a mapping of train_loader.dataset keys")
        swaps.append(
            Swap(
                name=str(item["name"]),
                unit=unit,
                value=value,
                dataset=copy.deepcopy(dict(dataset)),
                reset_optimizer=bool(item.get("reset_optimizer", False)),
                manual=unit is None,
            )
        )
    scheduled = [s for s in swaps if not s.manual]
    units = {s.unit for s in scheduled}
    if len(units) > 1:
        raise ConfigError(f"{WHERE}: use one unit (ba or tok) for every swap point")
    for a, b in zip(scheduled, scheduled[1:], strict=False):
        if b.value == a.value:
            raise ConfigError(f"{WHERE}: duplicate swap point {b.describe()} (also {a.name})")
        if b.value < a.value:
            raise ConfigError(
                f"{WHERE}: swap points must be sorted: {b.describe()} comes after {a.describe()}"
            )
    manual = [i for i, s in enumerate(swaps) if s.manual]
    if manual and manual != list(range(len(swaps) - len(manual), len(swaps))):
        raise ConfigError(f"{WHERE}: 'at: resume' swaps must come after the scheduled ones")
    names = [s.name for s in swaps]
    if len(set(names)) != len(names):
        raise ConfigError(f"{WHERE}: swap names must be unique, got {names}")
    return swaps


def merged_dataset(base: Mapping[str, Any], swap: Swap) -> dict[str, Any]:
    """``train_loader.dataset`` with the swap's keys; ``streams`` replaces local/remote/split."""
    out = copy.deepcopy(dict(base))
    if "streams" in swap.dataset:
        for key in ("local", "remote", "split"):
            out.pop(key, None)
    out.update(copy.deepcopy(swap.dataset))
    return out


def _not_before_end(
    swap: Swap, end: tuple[str | None, int], tokens_per_batch: int | None
) -> str | None:
    """None if ``swap`` takes effect before the run ends, else the detail for the error.

    A swap at batch ``n`` gives batch ``n + 1`` the new corpus, so a swap at or after the last
    batch never happens. With full batches of ``tokens_per_batch`` tokens, a swap at ``t``
    tokens happens after batch ``ceil(t / tokens_per_batch)`` and a run of ``T`` tokens ends
    after batch ``ceil(T / tokens_per_batch)``: both are compared in batches.
    """
    end_unit, end_value = end
    if not tokens_per_batch:
        if end_unit != swap.unit:
            return None  # nothing to compare with
        return "" if swap.value >= end_value else None
    swap_batch = swap.value if swap.unit == "batch" else -(-swap.value // tokens_per_batch)
    end_batch = end_value if end_unit == "batch" else -(-end_value // tokens_per_batch)
    if swap_batch < end_batch:
        return None
    if swap.unit == "batch" and end_unit == "batch":
        return ""
    return (
        f" (at {tokens_per_batch} tokens a batch the swap comes after batch {swap_batch}, "
        f"the run ends after batch {end_batch})"
    )


def check_swaps(
    swaps: Sequence[Swap],
    train_config: Mapping[str, Any],
) -> None:
    """Check the schedule against the run before it starts.

    Raises:
        ConfigError: A swap point at or after ``max_duration``.
        DataError: A swap's data folder does not exist.
    """
    max_duration = str(train_config.get("max_duration", ""))
    tokens_per_batch = None
    if train_config.get("global_train_batch_size") and train_config.get("max_seq_len"):
        tokens_per_batch = int(train_config["global_train_batch_size"]) * int(
            train_config["max_seq_len"]
        )
    end: tuple[str | None, int] | None = None
    try:
        end = _parse_at(max_duration, "max_duration")
    except ConfigError:
        end = None  # e.g. epochs: nothing to compare with
    base = (train_config.get("train_loader") or {}).get("dataset") or {}
    for i, swap in enumerate(swaps):
        if end is not None and swap.unit is not None:
            late = _not_before_end(swap, end, tokens_per_batch)
            if late is not None:
                raise ConfigError(
                    f"{WHERE}.{i}.at: swap {swap.describe()} is not before max_duration "
                    f"{max_duration}{late}"
                )
        for key, folder in local_mds_folders(merged_dataset(base, swap)):
            reason = missing_reason(folder)
            if reason:
                raise DataError(
                    f"{WHERE}.{i}.dataset.{key}: data folder '{folder}' of swap "
                    f"{swap.describe()} {reason}; build it with `csmpt prep` or fix the path"
                )


def swaps_due(swaps: Sequence[Swap], batch: int, tokens: int) -> int:
    """How many scheduled swaps have their start point at or before this batch/token count."""
    n = 0
    for swap in swaps:
        if swap.unit is None:  # a manual swap not yet placed
            break
        reached = batch if swap.unit == "batch" else tokens
        if reached < swap.value:
            break
        n += 1
    return n
