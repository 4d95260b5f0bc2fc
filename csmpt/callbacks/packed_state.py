"""Callback state of a changing shape, packed so sharded (DCP) checkpoints can resume it.

``torch.distributed.checkpoint`` saves a state dict as leaves (a dict is walked key by key, a list
is walked item by item when it holds dicts or lists) and loads into the shape of the *running*
state dict. A callback whose state grows a list of records (the hot swap's history, the loss
spike's rollbacks) or a dict that is ``None`` until a swap (the swapped corpus' position) saves
``history.0.step`` ... and asks at load for ``history``: the resume of a sharded run died with
"Missing key in checkpoint state_dict: state.callbacks.HotSwap.history" (found by
``bench/fsdp2_cpu.py --recipe yamls/tiny/mpt_hot_swap.yaml``). Such parts travel as one JSON
string, a leaf of the same key whatever it holds; a monolithic checkpoint written before this
holds the plain value, which :func:`unpack` passes through.
"""

from __future__ import annotations

import json
from typing import Any

__all__ = ["pack", "unpack"]


def pack(value: Any) -> str:
    """``value`` (JSON-able: lists, dicts, numbers, strings, None) as one JSON string."""
    return json.dumps(value, sort_keys=True)


def unpack(value: Any) -> Any:
    """What :func:`pack` packed; a value saved unpacked (an older checkpoint) as it is."""
    return json.loads(value) if isinstance(value, str) else value
