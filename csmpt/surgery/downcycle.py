"""Layer downcycling: keep some of a model's transformer layers (Llama-3-8B 32 -> 24 layers).

The kept layers are renumbered 0..n-1 in their original order (MPT ``transformer.blocks.N``,
Llama ``model.layers.N``) and the config's layer count follows; embeddings, final norm and head
are kept as they are.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from csmpt.errors import ConfigError, DataError
from csmpt.surgery.io import ModelWeights

__all__ = ["PATTERNS", "DowncycleConfig", "choose_layers", "downcycle"]

log = logging.getLogger(__name__)

PATTERNS = ("first_last_even",)


@dataclass
class DowncycleConfig:
    """The ``downcycle:`` section of a surgery YAML (leave both keys null to keep every layer).

    Attributes:
        keep_layers: The 0-based layers to keep, e.g. ``[0, 1, 2, 5, 7]``.
        n_layers: Keep this many layers chosen by ``pattern`` (instead of ``keep_layers``).
        pattern: ``first_last_even``: keep the first and last layer and drop layers evenly
            spaced through the middle.
    """

    keep_layers: list[int] | None = None
    n_layers: int | None = None
    pattern: str = "first_last_even"


def choose_layers(total: int, cfg: DowncycleConfig) -> list[int]:
    """The layers to keep out of ``total`` (all of them when nothing is asked).

    Raises:
        ConfigError: Both or invalid ``keep_layers`` / ``n_layers``, or an unknown pattern.
    """
    if cfg.keep_layers is not None and cfg.n_layers is not None:
        raise ConfigError(
            "keys 'downcycle.keep_layers' and 'downcycle.n_layers': give one, not both"
        )
    if cfg.keep_layers is not None:
        keep = list(cfg.keep_layers)
        if not keep or keep != sorted(set(keep)) or keep[0] < 0 or keep[-1] >= total:
            raise ConfigError(
                f"key 'downcycle.keep_layers': {keep} must be increasing, without repeats, "
                f"within 0..{total - 1} (the model has {total} layers)"
            )
        return keep
    if cfg.n_layers is None:
        return list(range(total))
    if cfg.pattern not in PATTERNS:
        raise ConfigError(
            f"key 'downcycle.pattern': unknown '{cfg.pattern}'; use one of {', '.join(PATTERNS)}"
        )
    n = cfg.n_layers
    if not 1 <= n <= total:
        raise ConfigError(f"key 'downcycle.n_layers': {n} must be within 1..{total}")
    if n == 1:
        return [0]
    return sorted({int(round(x)) for x in np.linspace(0, total - 1, n)})


def downcycle(weights: ModelWeights, keep: Sequence[int]) -> ModelWeights:
    """A model with only the layers ``keep``, renumbered in order.

    Raises:
        DataError: A kept layer has no weights in the source.
    """
    prefix = weights.layer_prefix
    new_index = {old: new for new, old in enumerate(keep)}
    state = {}
    found: set[int] = set()
    for key, value in weights.state.items():
        if not key.startswith(prefix):
            state[key] = value
            continue
        idx_str, _, rest = key[len(prefix) :].partition(".")
        old = int(idx_str)
        if old in new_index:
            state[f"{prefix}{new_index[old]}.{rest}"] = value
            found.add(old)
    missing = sorted(set(keep) - found)
    if missing:
        raise DataError(f"{weights.source}: no weights for layer(s) {missing} ('{prefix}N.*')")
    config = dict(weights.config)
    config[weights.layers_key] = len(keep)
    log.info("downcycled to layers %s", list(keep))
    return ModelWeights(config, state, weights.source, weights.code_files)
