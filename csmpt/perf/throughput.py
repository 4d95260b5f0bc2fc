"""Time the training step of a recipe, split into data / forward / backward / optimizer.

The model, optimizer and dataloader are built by llm-foundry's own builders from the recipe YAML
(+ overrides), on one device and without Composer's Trainer, so each phase can be timed on its
own (CUDA is synchronised around each phase).
"""

from __future__ import annotations

import copy
import gc
import time
from collections.abc import Sequence
from contextlib import nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from csmpt.perf.flops import mfu, model_flops_per_batch

__all__ = ["StepTiming", "measure_recipe"]

PHASES = ("data", "forward", "backward", "optimizer")


@dataclass
class StepTiming:
    """Mean seconds per step of each phase, and what a step processes."""

    variant: str
    steps: int
    precision: str
    tokens_per_step: int
    flops_per_step: float | None
    seconds: dict[str, float] = field(default_factory=dict)
    final_loss: float = float("nan")

    @property
    def step_s(self) -> float:
        """Seconds per training step (all phases)."""
        return sum(self.seconds.values())

    @property
    def tokens_per_s(self) -> float:
        """Training tokens per second."""
        return self.tokens_per_step / self.step_s

    def mfu(self, peak_flops: float | None) -> float | None:
        """MFU at ``peak_flops`` (None if either is unknown)."""
        if self.flops_per_step is None:
            return None
        return mfu(self.flops_per_step / self.step_s, peak_flops)


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _to(batch: dict[str, Any], device: torch.device) -> dict[str, Any]:
    return {k: v.to(device) if isinstance(v, torch.Tensor) else v for k, v in batch.items()}


def measure_recipe(
    yaml_path: str | Path,
    overrides: Sequence[str],
    steps: int,
    warmup: int = 1,
    variant: str = "",
    device: str | None = None,
) -> StepTiming:
    """Build the recipe's model, optimizer and train loader, and time ``steps`` steps.

    Args:
        yaml_path: Training recipe.
        overrides: ``key=value`` overrides (e.g. ``optimizer.name=csmpt_lionw``).
        steps: Timed steps (after ``warmup`` untimed ones).
        warmup: Untimed steps first (allocations, kernel selection).
        variant: A label for the result.
        device: ``cpu`` or ``cuda`` (default: cuda if available).
    """
    from llmfoundry.utils.builders import (
        build_composer_model,
        build_optimizer,
        build_tokenizer,
    )
    from llmfoundry.utils.config_utils import (
        TRAIN_CONFIG_KEYS,
        TrainConfig,
        make_dataclass_and_log_config,
    )

    from csmpt.training.preflight import preflight

    dev = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
    cfg = preflight(yaml_path, overrides)
    _, train_cfg = make_dataclass_and_log_config(
        cfg, TrainConfig, TRAIN_CONFIG_KEYS, transforms="all"
    )
    tokenizer = build_tokenizer(train_cfg.tokenizer["name"], train_cfg.tokenizer.get("kwargs", {}))
    model_cfg = copy.deepcopy(train_cfg.model)
    name = model_cfg.pop("name")
    model_cfg["init_device"] = "cpu"
    model = build_composer_model(name=name, cfg=model_cfg, tokenizer=tokenizer).to(dev)
    opt_cfg = copy.deepcopy(train_cfg.optimizer)
    optimizer = build_optimizer(model, opt_cfg.pop("name"), opt_cfg)
    batch_size = int(train_cfg.device_train_batch_size)
    loader = _build_loader(train_cfg.train_loader, tokenizer, batch_size)
    autocast = (
        torch.autocast(dev.type, dtype=torch.bfloat16)
        if "bf16" in train_cfg.precision
        else nullcontext()
    )
    totals = dict.fromkeys(PHASES, 0.0)
    it = iter(loader)
    tokens = 0
    flops: float | None = None
    loss_value = float("nan")
    model.train()
    for i in range(warmup + steps):
        marks = [time.perf_counter()]
        try:
            batch = next(it)
        except StopIteration:
            it = iter(loader)
            batch = next(it)
        batch = _to(batch, dev)
        _sync(dev)
        marks.append(time.perf_counter())
        with autocast:
            outputs = model(batch)
            loss = model.loss(outputs, batch)
        _sync(dev)
        marks.append(time.perf_counter())
        loss.backward()
        _sync(dev)
        marks.append(time.perf_counter())
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        _sync(dev)
        marks.append(time.perf_counter())
        if i >= warmup:
            for phase, a, b in zip(PHASES, marks, marks[1:], strict=False):
                totals[phase] += b - a
        tokens = int(batch["input_ids"].numel())
        flops = model_flops_per_batch(model, batch)
        loss_value = float(loss.detach())
    timing = StepTiming(
        variant=variant or name,
        steps=steps,
        precision=train_cfg.precision,
        tokens_per_step=tokens,
        flops_per_step=flops,
        seconds={k: v / steps for k, v in totals.items()},
        final_loss=loss_value,
    )
    del model, optimizer, loader, it
    _release_streaming()
    return timing


def _build_loader(loader_cfg: dict[str, Any], tokenizer: Any, batch_size: int) -> Any:
    from llmfoundry.data.dataloader import build_dataloader

    spec = build_dataloader(copy.deepcopy(loader_cfg), tokenizer, batch_size)
    return spec.dataloader


def _release_streaming() -> None:
    """Free the shared memory of finished StreamingDatasets so the next variant can start."""
    gc.collect()
    try:
        from streaming.base.util import clean_stale_shared_memory

        clean_stale_shared_memory()
    except Exception:  # noqa: BLE001 - best effort: nothing to clean is fine
        pass
