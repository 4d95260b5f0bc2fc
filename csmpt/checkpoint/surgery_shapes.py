"""``csmpt_surgery_shapes``: a training config's model shape follows the surgery output it loads.

Registered in llm-foundry's ``config_transforms`` (applied to every training config). When
``load_path`` names a file in a ``csmpt surgery`` output folder (one holding
``csmpt_surgery.json``), the model's ``vocab_size`` and layer count are set from that file:
``model.vocab_size`` / ``model.n_layers`` for MPT, ``model.config_overrides.vocab_size`` /
``num_hidden_layers`` for ``hf_causal_lm``. The training YAML needs no hand edits after a
surgery; any other config passes through unchanged (but for an HF folder llm-foundry 0.22
cannot read as is, see :func:`surgery_shapes`).
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

from csmpt.errors import DataError

__all__ = ["surgery_shapes", "surgery_shapes_for"]

log = logging.getLogger(__name__)

SHAPES_NAME = "csmpt_surgery.json"


def surgery_shapes_for(load_path: object) -> dict[str, Any] | None:
    """The shapes file next to ``load_path``, or None if it is not a surgery output."""
    if not isinstance(load_path, str) or "://" in load_path:
        return None
    shapes = Path(load_path).expanduser().parent / SHAPES_NAME
    if not shapes.is_file():
        return None
    try:
        data = json.loads(shapes.read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        raise DataError(f"{shapes}: unreadable surgery shapes file ({e})") from None
    return data if isinstance(data, dict) else None


def surgery_shapes(cfg: dict[str, Any]) -> dict[str, Any]:
    """Set the model's vocab_size / layer count from the surgery output ``load_path`` names.

    Also: an ``hf_causal_lm`` model whose ``pretrained_model_name_or_path`` is a local HF folder
    with a config llm-foundry 0.22 rejects (a hub MPT-7B download) is pointed at a normalised
    view of it (:func:`csmpt.checkpoint.hf_config.normalised_hf_dir`).
    """
    model = cfg.get("model")
    if isinstance(model, dict) and model.get("name") == "hf_causal_lm":
        name = model.get("pretrained_model_name_or_path")
        if isinstance(name, str) and Path(name).expanduser().is_dir():
            from csmpt.checkpoint.hf_config import normalised_hf_dir

            model["pretrained_model_name_or_path"] = str(normalised_hf_dir(name))
    shapes = surgery_shapes_for(cfg.get("load_path"))
    if shapes is None or not isinstance(model, dict):
        return cfg
    if model.get("name") == "hf_causal_lm":
        target = model.setdefault("config_overrides", {})
        layers_key = "num_hidden_layers"
    else:
        target, layers_key = model, "n_layers"
    for key, value in (("vocab_size", shapes["vocab_size"]), (layers_key, shapes["n_layers"])):
        if target.get(key) != value:
            log.info("model %s: %s -> %s (from %s)", key, target.get(key), value, cfg["load_path"])
            target[key] = value
    return cfg
