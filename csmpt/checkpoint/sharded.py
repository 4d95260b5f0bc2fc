"""Sharded checkpoints: the DCP folders Composer writes for ``state_dict_type: sharded``.

Composer 0.32.1 saves a sharded checkpoint as ``SAVE_FOLDER/ep{E}-ba{B}/`` holding a ``.metadata``
and one ``__{rank}_0.distcp`` per rank (``torch.distributed.checkpoint.save`` of ``{"state":
state.state_dict(), "rng": ...}``). FSDP1 and FSDP2 write the same layout: both take the model's
state dict through ``torch.distributed.checkpoint.state_dict.get_model_state_dict``
(``composer/core/state.py``), so the model's tensors sit under ``state.model.<name>`` with the
names a monolithic checkpoint's ``state["model"]`` has, and the DCP metadata records each whole
tensor's size and dtype whatever the shards were (FSDP1's ``ShardedTensor`` or FSDP2's
``DTensor``). One reader therefore serves both, and no FSDP1-to-DCP converter is needed: an FSDP1
sharded checkpoint already is a DCP folder.

:func:`sharded_model_weights` gathers the model's tensors from every rank's file in one process,
without a process group and without reading the optimizer state. :func:`sharded_integrations`
reads ``state.integrations`` alone (the HF config and the run's tokenizer, which DCP stores as one
pickled entry per leaf of those nested dicts and lists).
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from pathlib import Path
from typing import TYPE_CHECKING, Any

from csmpt.errors import DataError

if TYPE_CHECKING:
    import torch

__all__ = [
    "is_sharded_checkpoint",
    "sharded_integrations",
    "sharded_model_weights",
    "sharded_timestamp",
]

METADATA = ".metadata"
MODEL_PREFIX = "state.model."
TIMESTAMP_PREFIX = "state.timestamp.Timestamp."
INTEGRATIONS_PATH = ("state", "integrations")


def is_sharded_checkpoint(path: str | Path) -> bool:
    """Whether ``path`` is a DCP checkpoint folder (it holds the ``.metadata`` DCP writes last)."""
    p = Path(path)
    return p.is_dir() and (p / METADATA).is_file()


def _metadata(folder: Path) -> Any:
    from torch.distributed.checkpoint import FileSystemReader

    try:
        return FileSystemReader(str(folder)).read_metadata()
    except Exception as e:  # noqa: BLE001 - a torn or foreign .metadata is the user's data
        raise DataError(
            f"{folder}: not a readable sharded checkpoint ({METADATA}: {type(e).__name__})"
        ) from None


def _load(folder: Path, state: dict[str, Any]) -> None:
    """Fill ``state`` (nested as saved) from ``folder``'s files, in this process alone."""
    import warnings

    from torch.distributed.checkpoint import CheckpointException, FileSystemReader, load

    try:
        with warnings.catch_warnings():  # "torch.distributed is disabled ...": one process, meant
            warnings.filterwarnings("ignore", "torch.distributed is disabled", UserWarning)
            load(state, storage_reader=FileSystemReader(str(folder)), no_dist=True)
    except (Exception, CheckpointException) as e:  # noqa: BLE001 - a BaseException in torch
        raise DataError(
            f"{folder}: a sharded checkpoint with a missing or unreadable part "
            f"({_missing_parts(folder) or type(e).__name__}); use an earlier checkpoint of the run"
        ) from None


def _missing_parts(folder: Path) -> str:
    """The rank files the ``.metadata`` names that are absent or empty, as one phrase."""
    names = {info.relative_path for info in _metadata(folder).storage_data.values()}
    gone = sorted(n for n in names if not (folder / n).is_file())
    empty = sorted(n for n in names if (folder / n).is_file() and (folder / n).stat().st_size == 0)
    return "; ".join(
        [
            *([f"missing {', '.join(gone)}"] if gone else []),
            *([f"empty {', '.join(empty)}"] if empty else []),
        ]
    )


def sharded_model_weights(folder: str | Path) -> dict[str, torch.Tensor]:
    """The model's whole tensors of the sharded checkpoint ``folder``, on CPU.

    Keys are the model's state-dict names (as in a monolithic checkpoint's ``state["model"]``).
    Each tensor is allocated once at its saved size and dtype and filled from the shards of every
    rank; the optimizer state, RNG and callbacks' state are not read.

    Raises:
        DataError: Not a sharded checkpoint, no model tensors in it, or a part missing.
    """
    import torch
    from torch.distributed.checkpoint.metadata import TensorStorageMetadata

    p = Path(folder)
    if not is_sharded_checkpoint(p):
        raise DataError(f"{p}: not a sharded checkpoint folder (no {METADATA})")
    weights: dict[str, torch.Tensor] = {}
    for key, meta in _metadata(p).state_dict_metadata.items():
        if key.startswith(MODEL_PREFIX) and isinstance(meta, TensorStorageMetadata):
            weights[key[len(MODEL_PREFIX) :]] = torch.empty(
                tuple(meta.size), dtype=meta.properties.dtype
            )
    if not weights:
        raise DataError(f"{p}: a sharded checkpoint without model weights ({MODEL_PREFIX}*)")
    _load(p, {"state": {"model": weights}})
    return weights


def sharded_timestamp(folder: str | Path) -> dict[str, int]:
    """Batches, samples and tokens of the sharded checkpoint ``folder`` (empty if not saved)."""
    from torch.distributed.checkpoint.metadata import BytesStorageMetadata

    p = Path(folder)
    wanted = ("batch", "sample", "token")
    saved = {
        key[len(TIMESTAMP_PREFIX) :]
        for key, meta in _metadata(p).state_dict_metadata.items()
        if key.startswith(TIMESTAMP_PREFIX) and isinstance(meta, BytesStorageMetadata)
    }
    fields: dict[str, Any] = {k: None for k in wanted if k in saved}
    if not fields:
        return {}
    _load(p, {"state": {"timestamp": {"Timestamp": fields}}})
    return {k: int(v) for k, v in fields.items() if v is not None}


def _nest(root: dict[Any, Any], path: tuple[Any, ...]) -> None:
    """Make ``path`` (dict keys, list indices as ints) exist in ``root``, ending in a None."""
    node: Any = root
    for key, nxt in zip(path, path[1:], strict=False):
        empty: Any = [] if isinstance(nxt, int) else {}
        if isinstance(node, list):
            node.extend([None] * (key + 1 - len(node)))
            node[key] = empty if node[key] is None else node[key]
        else:
            node.setdefault(key, empty)
        node = node[key]
    last = path[-1]
    if isinstance(node, list):
        node.extend([None] * (last + 1 - len(node)))
    else:
        node[last] = None


def sharded_integrations(
    folder: str | Path,
    choose: Callable[[list[tuple[Any, ...]]], Collection[tuple[Any, ...]]] | None = None,
) -> dict[str, Any]:
    """``state.integrations`` of the sharded checkpoint ``folder`` (empty if not saved).

    Only those entries are read: no tensor, no optimizer state. Composer saves them in every
    checkpoint; llm-foundry's HF model puts its config and the run's tokenizer files there. DCP
    keeps no empty dict or list (``{}`` values are absent here).

    Args:
        folder: The checkpoint folder.
        choose: Given the paths of the saved entries below ``integrations`` (dict keys, list
            indices), the ones to read; all when None. Each entry read costs ~0.2-0.7 ms on 2
            cores, and a tokenizer's vocabulary is one entry per token.

    Raises:
        DataError: Not a readable sharded checkpoint, or a part of it missing.
    """
    from torch.distributed.checkpoint.metadata import BytesStorageMetadata

    p = Path(folder)
    meta = _metadata(p)
    n = len(INTEGRATIONS_PATH)
    saved = [
        tuple(path)
        for key, item in meta.state_dict_metadata.items()
        if isinstance(item, BytesStorageMetadata)
        and (path := (meta.planner_data or {}).get(key))
        and tuple(path[:n]) == INTEGRATIONS_PATH
        and len(path) > n
    ]
    chosen = None if choose is None else set(choose([path[n:] for path in saved]))
    state: dict[str, Any] = {}
    for path in saved:
        if chosen is None or path[n:] in chosen:
            _nest(state, path)
    if not state:
        return {}
    _load(p, state)
    found = state["state"]["integrations"]
    return found if isinstance(found, dict) else {}
