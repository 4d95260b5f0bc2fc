"""Model surgery before continual pretraining: vocabulary swap and layer downcycling.

``csmpt surgery YAML`` (:func:`csmpt.surgery.recipe.run_surgery`) reads a source model (local HF
folder or Composer checkpoint), aligns its tokenizer with a target tokenizer, rebuilds the
embeddings, optionally keeps a subset of layers, and writes a folder a training YAML loads.
The package imports nothing heavy until used (the config transform runs in every preflight).
"""

from __future__ import annotations

import importlib
from typing import Any

__all__ = ["SurgeryConfig", "SurgeryReport", "run_surgery"]

_WHERE = {
    "SurgeryConfig": "csmpt.surgery.recipe",
    "run_surgery": "csmpt.surgery.recipe",
    "SurgeryReport": "csmpt.surgery.report",
}


def __getattr__(name: str) -> Any:
    if name in _WHERE:
        return getattr(importlib.import_module(_WHERE[name]), name)
    raise AttributeError(f"module 'csmpt.surgery' has no attribute {name!r}")
