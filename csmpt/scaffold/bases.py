"""The base models ``csmpt init`` scaffolds for, their shape, and the batch plan for a GPU count.

Each base's shape comes from its real ``config.json`` as the HF hub serves it, shipped as package
data (``csmpt/scaffold/configs/<base>/config.json``). The batch plan keeps CSMPT7b's tokens per
step (1,024 x 2,048 = 2,097,152) and its tokens per microbatch (4 x 2,048 on an A100 40GB).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from importlib import resources
from typing import Any

from csmpt.errors import ConfigError

__all__ = ["BASES", "BaseModel", "BatchPlan", "base_model", "batch_plan", "launch_shape"]

TOKENS_PER_STEP = 1024 * 2048  # CSMPT7b: batch 1,024 x 2,048 tokens
TOKENS_PER_MICROBATCH = 4 * 2048  # CSMPT7b: microbatch 4 at 2,048 (A100 40GB, FSDP)
MAX_CONTEXT = 8192  # longer contexts are a context-extension stage, not the first CPT run
GPUS_PER_NODE = 8


@dataclass(frozen=True)
class BaseModel:
    """A base model to continue pretraining.

    Attributes:
        name: The ``--base`` value.
        hub: Its HF hub name (what to download as the surgery's source).
        family: ``mpt`` (llm-foundry's ``mpt_causal_lm``) or ``hf`` (``hf_causal_lm``).
        config: Its real ``config.json``.
    """

    name: str
    hub: str
    family: str
    config: dict[str, Any]

    @property
    def context(self) -> int:
        """The training context: the model's own, at most :data:`MAX_CONTEXT`."""
        own = self.config.get("max_seq_len") or self.config["max_position_embeddings"]
        return min(int(own), MAX_CONTEXT)

    @property
    def shape(self) -> dict[str, int]:
        """d_model, layers, heads (and KV heads, FFN width for Llama-style models)."""
        c = self.config
        keys: tuple[str, ...]
        if self.family == "mpt":
            keys = ("d_model", "n_heads", "n_layers", "expansion_ratio", "vocab_size")
            return {k: int(c[k]) for k in keys}
        keys = (
            "hidden_size",
            "num_attention_heads",
            "num_key_value_heads",
            "num_hidden_layers",
            "intermediate_size",
            "vocab_size",
        )
        return {k: int(c[k]) for k in keys}


_HUB = {
    "mpt-7b": ("mosaicml/mpt-7b", "mpt"),
    "llama-3-8b": ("meta-llama/Meta-Llama-3-8B", "hf"),
    "llama-3.1-8b": ("meta-llama/Llama-3.1-8B", "hf"),
    "llama-2-7b": ("meta-llama/Llama-2-7b-hf", "hf"),
    "mistral-7b": ("mistralai/Mistral-7B-v0.1", "hf"),
}
BASES = tuple(_HUB)


def base_model(name: str) -> BaseModel:
    """The base model ``name`` with its shipped ``config.json``.

    Raises:
        ConfigError: Not one of :data:`BASES`.
    """
    if name not in _HUB:
        raise ConfigError(f"--base {name!r}: choose one of {', '.join(BASES)}")
    hub, family = _HUB[name]
    text = (resources.files("csmpt.scaffold") / "configs" / name / "config.json").read_text(
        encoding="utf-8"
    )
    return BaseModel(name=name, hub=hub, family=family, config=json.loads(text))


@dataclass(frozen=True)
class BatchPlan:
    """Global batch and per-GPU microbatch for a GPU count.

    Attributes:
        global_batch: Sequences per optimizer step (a multiple of gpus x microbatch).
        microbatch: Sequences per GPU per forward/backward.
        accumulation: Microbatches per GPU per step.
    """

    global_batch: int
    microbatch: int
    accumulation: int


def batch_plan(gpus: int, seq_len: int) -> BatchPlan:
    """CSMPT7b's ~2.1M tokens per step and 8,192 tokens per microbatch, for ``gpus`` GPUs.

    Raises:
        ConfigError: ``gpus`` < 1.
    """
    if gpus < 1:
        raise ConfigError(f"--gpus {gpus}: at least 1")
    micro = max(1, TOKENS_PER_MICROBATCH // seq_len)
    per_round = gpus * micro
    rounds = max(1, round(TOKENS_PER_STEP / seq_len / per_round))
    return BatchPlan(global_batch=rounds * per_round, microbatch=micro, accumulation=rounds)


def launch_shape(gpus: int) -> tuple[int, int]:
    """(nodes, GPUs per node) for ``gpus`` GPUs on 8-GPU nodes.

    Raises:
        ConfigError: More than one node's worth that is not whole nodes.
    """
    if gpus <= GPUS_PER_NODE:
        return 1, gpus
    if gpus % GPUS_PER_NODE:
        raise ConfigError(f"--gpus {gpus}: more than {GPUS_PER_NODE} GPUs must be whole nodes")
    return math.ceil(gpus / GPUS_PER_NODE), GPUS_PER_NODE
