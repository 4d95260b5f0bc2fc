"""Random weights of a real architecture, laid out as the HF hub serves them (tests, benchmarks).

:func:`write_random_hf_model` takes a hub ``config.json`` content (MPT-7B's, Llama-3-8B's, ...;
size keys shrunk for tests, unchanged for a 7B benchmark) and writes an HF folder a user would
have downloaded: that config, untouched, and weights of exactly the shapes the architecture has
(the parameter names and shapes of the model built on the meta device), N(0, 0.02) in the
config's ``torch_dtype``, as ``pytorch_model-0000N-of-0000M.bin`` shards (MPT-7B, Llama-2) or
``model-0000N-of-0000M.safetensors`` shards (Llama 3, Mistral), with the hub's index file.
Tensors are drawn one at a time, so a 7B folder needs one shard of memory (``.bin``) or one
tensor (safetensors).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import torch

from csmpt.checkpoint.hf_config import normalise_config
from csmpt.checkpoint.hf_folder import write_safetensors
from csmpt.surgery.io import ModelWeights, meta_model

__all__ = ["FORMATS", "parameter_shapes", "write_random_hf_model"]

log = logging.getLogger(__name__)

FORMATS = ("bin", "safetensors")


def parameter_shapes(config: dict[str, Any]) -> dict[str, tuple[int, ...]]:
    """HF parameter name -> shape of the architecture ``config`` describes (built on meta).

    A tied model's ``lm_head.weight`` is left out, as the hub's files leave it out.
    """
    spec = ModelWeights(normalise_config(config).config, {}, Path("config.json"))
    shapes = {k: tuple(v.shape) for k, v in meta_model(spec).state_dict().items()}
    if spec.tied:
        shapes.pop("lm_head.weight", None)
    return shapes


def _dtype(config: dict[str, Any]) -> torch.dtype:
    name = str(config.get("torch_dtype") or "float32")
    dtype = getattr(torch, name, None)
    return dtype if isinstance(dtype, torch.dtype) else torch.float32


def _tensors(
    shapes: dict[str, tuple[int, ...]], dtype: torch.dtype, seed: int
) -> Iterator[tuple[str, torch.Tensor]]:
    gen = torch.Generator().manual_seed(seed)
    for name, shape in shapes.items():
        t = torch.empty(shape, dtype=dtype)
        rows = t.view(-1, shape[-1]) if len(shape) > 1 else t.view(1, -1)
        for i in range(0, rows.shape[0], 4096):  # float32 draws one block at a time
            block = rows[i : i + 4096]
            block.copy_(torch.randn(block.shape, generator=gen).mul_(0.02))
        if name.endswith("norm.weight") or ".norm_" in name or "layernorm" in name:
            t.fill_(1.0)
        yield name, t


def write_random_hf_model(
    config: dict[str, Any],
    out: Path,
    fmt: str = "safetensors",
    max_shard_bytes: int = 5 * 10**9,
    seed: int = 0,
) -> int:
    """Write ``config`` and random weights of its shapes to ``out`` in the hub's layout.

    Args:
        config: A hub ``config.json`` content (written unchanged).
        out: The folder to create.
        fmt: ``bin`` (``pytorch_model-*.bin`` shards, ``torch.save``) or ``safetensors``.
        max_shard_bytes: Shard size (the hub's files are 2-10 GB).
        seed: Seed of the weights.

    Returns:
        The number of parameters written.
    """
    if fmt not in FORMATS:
        raise ValueError(f"fmt must be one of {FORMATS}, not {fmt!r}")
    dtype = _dtype(config)
    shapes = parameter_shapes(config)
    groups: list[list[str]] = [[]]
    size = 0
    for name, shape in shapes.items():
        n = int(torch.Size(shape).numel()) * dtype.itemsize
        if groups[-1] and size + n > max_shard_bytes:
            groups.append([])
            size = 0
        groups[-1].append(name)
        size += n
    out.mkdir(parents=True, exist_ok=True)
    (out / "config.json").write_text(json.dumps(config, indent=2) + "\n", encoding="utf-8")
    stem, ext = ("pytorch_model", "bin") if fmt == "bin" else ("model", "safetensors")
    weight_map: dict[str, str] = {}
    tensors = _tensors(shapes, dtype, seed)
    for i, names in enumerate(groups, start=1):
        fname = f"{stem}-{i:05d}-of-{len(groups):05d}.{ext}"
        shard = dict(next(tensors) for _ in names)
        if fmt == "bin":
            torch.save(shard, out / fname)
        else:
            write_safetensors(out / fname, shard)
        weight_map.update(dict.fromkeys(shard, fname))
        del shard
    total = sum(int(torch.Size(s).numel()) for s in shapes.values())
    index = {"metadata": {"total_size": total * dtype.itemsize}, "weight_map": weight_map}
    (out / f"{stem}.{ext}.index.json").write_text(json.dumps(index, indent=2) + "\n", "utf-8")
    log.info("wrote %s: %d parameters, %d %s shard(s)", out, total, len(groups), fmt)
    return total
