"""Batch-size ramp-up (Megatron's ``--rampup-batch-size``), registered as ``csmpt_batch_ramp``.

Lucie-7B grew its batch from 256 to 1,024 sequences "by steps of 64 over 10M samples". Composer
and llm-foundry have no ramp. This callback gives one without touching the train loop:

* the recipe's ``global_train_batch_size`` is the final size; ``start``, ``increment`` and
  ``ramp`` (the samples or tokens over which the size grows, Megatron's ``ramp_samples``) give
  the rest. After ``S`` samples the global batch is
  ``min(final, start + increment * floor(S / (ramp / n_increments)))``;
* the train loader is re-batched: the StreamingDataset yields microbatches of
  ``device_train_microbatch_size`` (the position in the stream is counted in samples, so it does
  not depend on the batch size) and a thin wrapper joins as many of them as the current step
  needs. Composer then splits the batch into the same microbatches again, so gradient
  accumulation grows with the batch while the microbatch stays fixed;
* nothing of the ramp is stored: the batch size is a pure function of the samples seen, and
  Composer's own checkpoint restores the dataset's sample position. A run killed anywhere in the
  ramp resumes with exactly the batches of an uninterrupted run;
* count the LR schedule in samples or tokens (``t_warmup: 2000000sp``, ``max_duration`` in
  ``sp`` or ``tok``) and it is unaffected by the ramp;
* each step logs ``batch_ramp/global_batch_size`` to the Composer loggers (``metrics.jsonl``),
  and a log line marks each increment.

Works with ``csmpt_hot_swap`` (each corpus' loader is re-batched the same way).

Example (Lucie-7B: 256 -> 1,024 by 64 over 10M samples, warmup 2M samples)::

    global_train_batch_size: 1024
    max_duration: 762144586sp
    scheduler: {name: cosine_with_warmup, t_warmup: 2000000sp, alpha_f: 0.1}
    callbacks:
      csmpt_batch_ramp: {start: 256, increment: 64, ramp: 10000000sp}
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from typing import Any

import torch
from composer.core import Callback, State
from composer.loggers import Logger
from composer.utils import dist
from torch.utils.data import DataLoader

from csmpt.errors import ConfigError
from csmpt.recipe.duration import Duration

__all__ = ["BatchRamp", "RampLoader", "ramp_batch_size"]

log = logging.getLogger(__name__)

WHERE = "callbacks.csmpt_batch_ramp"


def ramp_batch_size(samples: int, start: int, increment: int, final: int, interval: int) -> int:
    """The global batch size of the step that starts after ``samples`` samples.

    Args:
        samples: samples trained so far.
        start: the first batch size.
        increment: how much it grows at each increment.
        final: the size it stops at (the recipe's ``global_train_batch_size``).
        interval: samples between two increments.
    """
    return min(final, start + increment * (samples // interval))


def _join(parts: list[Any]) -> Any:
    """Concatenate collated microbatches (dicts, tuples, tensors, per-sample lists) along dim 0."""
    first = parts[0]
    if torch.is_tensor(first):
        return torch.cat(parts, dim=0)
    if isinstance(first, dict):
        return {key: _join([p[key] for p in parts]) for key in first}
    if isinstance(first, tuple):  # (inputs, targets)-style batches: join field by field
        return tuple(_join([p[i] for p in parts]) for i in range(len(first)))
    if isinstance(first, list):  # one item per sample
        return [item for p in parts for item in p]
    raise TypeError(f"cannot join batches of type {type(first).__name__}")


class RampLoader(DataLoader):
    """A train loader whose batches grow on a schedule: microbatches joined per step.

    A ``DataLoader`` (over microbatches of ``batch_size``) so that Composer saves and restores
    its dataset's position in checkpoints as it does for the recipe's own loader.

    Args:
        dataset: the StreamingDataset.
        per_rank_size: called before each batch; how many samples this rank's next batch has.
        **kwargs: ``DataLoader`` arguments; ``batch_size`` is the device microbatch size.
    """

    def __init__(self, dataset: Any, per_rank_size: Callable[[], int], **kwargs: Any) -> None:
        super().__init__(dataset, **kwargs)
        self.per_rank_size = per_rank_size

    def __len__(self) -> int:
        """Unknown: the number of batches per epoch depends on where the ramp is."""
        raise TypeError("a RampLoader has no fixed length")

    def __iter__(self) -> Iterator[Any]:  # type: ignore[override]
        parts = super().__iter__()
        micro = int(self.batch_size or 1)
        while True:
            size = self.per_rank_size()
            batch = []
            for _ in range(size // micro):
                try:
                    batch.append(next(parts))
                except StopIteration:
                    return  # end of the epoch: a partial batch is dropped (drop_last)
            yield _join(batch)


def _parse_amount(raw: object, max_seq_len: int) -> int:
    """Samples in ``ramp`` (``10000000sp`` or ``2e10tok``)."""
    return Duration.parse(raw, f"{WHERE}.ramp", units=("sp", "tok")).samples(max_seq_len)


class BatchRamp(Callback):
    """Grow the global batch from ``start`` to the recipe's size in steps of ``increment``.

    Registered as ``csmpt_batch_ramp`` (``callbacks_with_config``).

    Args:
        start: the first global batch size (samples).
        increment: how many samples each increment adds.
        ramp: over how many samples (``sp``) or tokens (``tok``) the size reaches the recipe's
            ``global_train_batch_size`` (Megatron's ``ramp_samples``).
        train_config: the whole train config (llm-foundry passes it).
    """

    def __init__(self, start: int, increment: int, ramp: str, train_config: dict[str, Any]) -> None:
        self.final = int(train_config.get("global_train_batch_size") or 0)
        micro = train_config.get("device_train_microbatch_size")
        if not isinstance(micro, int):
            raise ConfigError(
                f"{WHERE}: needs a fixed device_train_microbatch_size (got {micro!r})"
            )
        self.start, self.increment, self.micro = int(start), int(increment), micro
        if not 0 < self.start < self.final or self.increment <= 0:
            raise ConfigError(
                f"{WHERE}: need 0 < start ({start}) < global_train_batch_size ({self.final}) "
                f"and increment > 0 ({increment})"
            )
        if (self.final - self.start) % self.increment:
            raise ConfigError(
                f"{WHERE}.increment: {increment} does not lead from start {start} to "
                f"global_train_batch_size {self.final} in whole steps"
            )
        steps = (self.final - self.start) // self.increment
        samples = _parse_amount(ramp, int(train_config.get("max_seq_len") or 1))
        self.interval = samples // steps
        if self.interval <= 0:
            raise ConfigError(f"{WHERE}.ramp: {ramp} is shorter than its {steps} increments")
        self._world = dist.get_world_size()
        for key, value in (("start", self.start), ("increment", self.increment)):
            if value % (self._world * self.micro):
                raise ConfigError(
                    f"{WHERE}.{key}: {value} is not a multiple of ranks x "
                    f"device_train_microbatch_size ({self._world} x {self.micro})"
                )
        self._last = 0

    def global_size(self, samples: int) -> int:
        """The global batch size after ``samples`` samples."""
        return ramp_batch_size(samples, self.start, self.increment, self.final, self.interval)

    def wrap(self, state: State) -> None:
        """Re-batch the state's train loader (idempotent; ``csmpt_hot_swap`` calls it too)."""
        loader = state.train_dataloader
        if isinstance(loader, RampLoader):
            return
        if not isinstance(loader, DataLoader) or not hasattr(loader.dataset, "state_dict"):
            raise ConfigError(
                f"{WHERE}: the train loader must be a StreamingDataset loader (llm-foundry's "
                "'text' loader); its position is counted in samples"
            )
        dataset = loader.dataset
        if hasattr(dataset, "batch_size"):
            dataset.batch_size = self.micro  # streaming partitions the stream in microbatches
        workers = loader.num_workers

        def per_rank_size() -> int:
            return self.global_size(int(state.timestamp.sample)) // self._world

        ramp_loader = RampLoader(
            dataset,
            per_rank_size,
            batch_size=self.micro,
            collate_fn=loader.collate_fn,
            num_workers=workers,
            pin_memory=loader.pin_memory,
            drop_last=loader.drop_last,
            timeout=loader.timeout,
            prefetch_factor=loader.prefetch_factor if workers > 0 else None,
            persistent_workers=loader.persistent_workers if workers > 0 else False,
        )
        state.set_dataloader(ramp_loader, "train")
        state.train_dataloader = state.dataloader

    def fit_start(self, state: State, logger: Logger) -> None:
        """Re-batch the train loader before the first batch (of this run or a resumed one)."""
        del logger
        self.wrap(state)

    def batch_start(self, state: State, logger: Logger) -> None:
        """Note the step's global batch size; a log line at each increment."""
        del logger
        size = self.global_size(int(state.timestamp.sample))
        if size != self._last:
            log.info(
                "batch size %d from step %d (%d samples)",
                size,
                int(state.timestamp.batch) + 1,
                int(state.timestamp.sample),
            )
            self._last = size

    def batch_end(self, state: State, logger: Logger) -> None:
        """Log the step's global batch size (``batch_ramp/global_batch_size``)."""
        del state
        logger.log_metrics({"batch_ramp/global_batch_size": self._last})
