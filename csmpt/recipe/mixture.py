"""What a mixture of MDS streams gives each source: samples per epoch and effective token share.

A training recipe mixes corpora with mosaicml-streaming's own ``streams`` (in
``train_loader.dataset.streams`` or in a hot-swap entry's ``dataset``), weighted the three ways
streaming knows:

* ``proportion``: relative weights (``epoch_size`` samples per epoch split by weight);
* ``repeat``: multipliers, DimensionGPT-style (Wikipedia ``repeat: 4``, books ``repeat: 0.2``);
* ``choose``: an absolute number of samples per epoch.

:func:`mixture_shares` applies streaming's ``Stream.apply_weights`` (the code the data loader
itself runs) to the sample counts in each stream's MDS index, so the printed figures are the ones
training will see, not an estimate of a home-made sampler.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from omegaconf import OmegaConf
from rich.table import Table

from csmpt.config import load_yaml_with_overrides
from csmpt.errors import ConfigError, DataError
from csmpt.mds.manifest import MANIFEST_NAME, SplitManifest

__all__ = [
    "StreamShare",
    "mds_sample_count",
    "mixture_shares",
    "mixture_tables",
    "recipe_mixtures",
]

log = logging.getLogger(__name__)

_WEIGHT_KEYS = ("proportion", "repeat", "choose")
# Keys of a ``streams`` entry that ``streaming.Stream`` accepts.
_STREAM_KEYS = {
    "remote",
    "local",
    "split",
    "proportion",
    "repeat",
    "choose",
    "download_retry",
    "download_timeout",
    "validate_hash",
    "keep_zip",
}


@dataclass
class StreamShare:
    """One stream of a mixture and what it contributes to an epoch.

    Attributes:
        name: The stream's key in ``streams``.
        folder: The local MDS folder read (``<local>/<split>``).
        samples: Samples in the folder (its MDS index).
        weight: How the recipe weights it, e.g. ``repeat 4`` or ``proportion 0.3``.
        choose: Samples drawn from it per epoch (streaming's ``Stream.choose``).
        repeat: ``choose / samples``: how many times each sample is seen per epoch.
        tokens: Tokens drawn from it per epoch (``choose`` x tokens per sample).
        token_share: Its share of the epoch's tokens.
    """

    name: str
    folder: Path
    samples: int
    weight: str
    choose: int
    repeat: float
    tokens: int
    token_share: float


def mds_sample_count(folder: Path) -> int:
    """Samples in an MDS folder, from its ``index.json``."""
    index = folder / "index.json"
    if not index.is_file():
        raise DataError(f"{folder}: no MDS index.json (build it with `csmpt prep`)")
    try:
        shards = json.loads(index.read_text(encoding="utf-8"))["shards"]
        return int(sum(int(s["samples"]) for s in shards))
    except (json.JSONDecodeError, KeyError, TypeError) as e:
        raise DataError(f"{index}: not a valid MDS index ({e})") from None


def _tokens_per_sample(folder: Path, default: int | None) -> int:
    if (folder / MANIFEST_NAME).is_file():
        seq = SplitManifest.read(folder).max_seq_len
        if seq is not None:
            return seq
    if default is None:
        raise DataError(f"{folder}: no {MANIFEST_NAME} and no max_seq_len to count tokens")
    return default


def _weight(stream: Mapping[str, Any]) -> str:
    for key in _WEIGHT_KEYS:
        if stream.get(key) is not None:
            return f"{key} {stream[key]:g}" if key != "choose" else f"choose {stream[key]:,}"
    return "natural"


def mixture_shares(dataset: Mapping[str, Any], where: str = "dataset") -> list[StreamShare]:
    """Samples and token share per epoch of each stream of a ``text`` dataset config.

    Args:
        dataset: A recipe's ``train_loader.dataset`` (or a hot-swap entry's merged ``dataset``)
            with ``streams``; each stream's ``local`` folder must exist.
        where: The config path of ``dataset``, for error messages.

    Raises:
        ConfigError: No ``streams``, a stream without ``local``, or weights streaming refuses
            (e.g. ``proportion`` on some streams and ``repeat`` on others).
        DataError: A stream's folder is not an MDS folder.
    """
    from streaming import Stream
    from streaming.base.util import number_abbrev_to_int

    streams = dataset.get("streams")
    if not isinstance(streams, Mapping) or not streams:
        raise ConfigError(f"{where}.streams: no streams to mix (set `streams:` with 2+ entries)")
    split = dataset.get("split")
    seq_len = dataset.get("max_seq_len")
    built, counts, folders, weights = [], [], [], []
    for name, cfg in streams.items():
        key = f"{where}.streams.{name}"
        if not isinstance(cfg, Mapping) or not cfg.get("local"):
            raise ConfigError(f"{key}.local: each stream needs a local folder")
        unknown = sorted(set(cfg) - _STREAM_KEYS)
        if unknown:
            raise ConfigError(f"{key}: unknown key(s) {unknown}; streaming knows {_WEIGHT_KEYS}")
        stream_split = cfg.get("split") or split
        folder = Path(cfg["local"]) / stream_split if stream_split else Path(cfg["local"])
        counts.append(mds_sample_count(folder))
        folders.append(folder)
        weights.append(_weight(cfg))
        kwargs = {k: v for k, v in cfg.items() if k in _WEIGHT_KEYS and v is not None}
        try:
            built.append(Stream(local=str(cfg["local"]), split=stream_split, **kwargs))
        except ValueError as e:  # two weights, a negative one
            raise ConfigError(f"{key}: {e}") from None
    epoch_size = dataset.get("epoch_size")
    if isinstance(epoch_size, str):
        epoch_size = number_abbrev_to_int(epoch_size)
    seed = int(dataset.get("shuffle_seed", 9176))
    try:
        Stream.apply_weights(built, np.array(counts, np.int64), epoch_size, seed)
    except ValueError as e:
        raise ConfigError(f"{where}.streams: {e}") from None
    tokens = [
        int(s.choose) * _tokens_per_sample(f, seq_len) for s, f in zip(built, folders, strict=True)
    ]
    total = sum(tokens) or 1
    return [
        StreamShare(
            name=str(name),
            folder=folder,
            samples=count,
            weight=weight,
            choose=int(stream.choose),
            repeat=float(stream.repeat),
            tokens=tok,
            token_share=tok / total,
        )
        for name, folder, count, weight, stream, tok in zip(
            streams, folders, counts, weights, built, tokens, strict=True
        )
    ]


def recipe_mixtures(recipe: Mapping[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """(label, dataset config) of every mixture a resolved recipe trains on.

    The recipe's ``train_loader.dataset`` when it has ``streams``, and each hot-swap corpus
    whose merged dataset has ``streams``.
    """
    from csmpt.recipe.swap_schedule import WHERE, hot_swap_spec, merged_dataset, parse_swaps

    base = dict((recipe.get("train_loader") or {}).get("dataset") or {})
    out: list[tuple[str, dict[str, Any]]] = []
    if base.get("streams"):
        out.append(("train_loader.dataset", base))
    hot_swap = hot_swap_spec(recipe) or {}
    for i, swap in enumerate(parse_swaps(hot_swap.get("swaps") or [])):
        merged = merged_dataset(base, swap)
        if merged.get("streams"):
            out.append((f"{WHERE}.{i} ({swap.describe()})", merged))
    return out


def mixture_tables(recipe: Path, overrides: list[str]) -> list[tuple[Table, list[Any]]]:
    """One rich table (and its :class:`~csmpt.recipe.mixture.StreamShare` rows) per mixture.

    Raises:
        ConfigError: The recipe mixes nothing, or streaming refuses its weights.
    """
    cfg = load_yaml_with_overrides(recipe, overrides)
    resolved: dict[str, Any] = OmegaConf.to_container(cfg, resolve=True)  # type: ignore[assignment]
    mixtures = recipe_mixtures(resolved)
    if not mixtures:
        raise ConfigError(
            f"{recipe}: train_loader.dataset has no `streams` (and no hot-swap corpus has any); "
            "nothing to mix"
        )
    out: list[tuple[Table, list[Any]]] = []
    for where, dataset in mixtures:
        shares = mixture_shares(dataset, where)
        table = Table(title=f"{recipe}: {where}")
        table.add_column("stream")
        table.add_column("folder", overflow="fold")
        for col in ("samples", "weight", "per epoch", "repeat", "token share"):
            table.add_column(col, justify="right", no_wrap=True)
        for s in shares:
            table.add_row(
                s.name,
                str(s.folder),
                f"{s.samples:,}",
                s.weight,
                f"{s.choose:,}",
                f"{s.repeat:.3g}x",
                f"{100 * s.token_share:.1f}%",
            )
        out.append((table, shares))
    return out
