"""Inject a loss spike or a NaN on purpose, to test and demonstrate ``csmpt_loss_spike``.

Registered as ``csmpt_inject_spike`` (``callbacks``). Not for real training runs.

* ``kind: tokens`` (default): at step ``at`` the tokens of the batch rows ``samples`` (positions
  in each rank's device batch) are replaced by random token ids, as a corrupted shard would
  feed them; the data on disk stays as it is.
* ``kind: adversarial``: as ``tokens``, but each token is the one the model (before the step)
  finds least likely after the tokens before it: a spike even early in training, when random
  tokens cost little more than the data (one forward per position of the chosen rows);
* ``kind: nan``: at step ``at`` one weight of the model is set to NaN, so the loss is NaN.

YAML::

    callbacks:
      csmpt_inject_spike: {at: 15, samples: [1, 5]}
"""

from __future__ import annotations

import logging
import math
from typing import Any

import torch
from composer.core import Callback, State
from composer.loggers import Logger

from csmpt.errors import ConfigError

__all__ = ["InjectSpike"]

log = logging.getLogger(__name__)

KINDS = ("tokens", "adversarial", "nan")


def least_likely_tokens(model: torch.nn.Module, first: torch.Tensor, length: int) -> torch.Tensor:
    """Sequences that start with ``first`` and continue with the model's least likely token.

    Args:
        model: A causal LM whose output has ``.logits`` of shape ``(batch, seq, vocab)``.
        first: ``(batch,)`` first tokens.
        length: Tokens per sequence.
    """
    seq = first.view(-1, 1)
    was_training = model.training
    model.eval()
    with torch.no_grad():
        for _ in range(length - 1):
            logits = model(input_ids=seq).logits[:, -1]  # (batch, vocab)
            seq = torch.cat([seq, logits.argmin(-1, keepdim=True)], dim=1)
    model.train(was_training)
    return seq


class InjectSpike(Callback):
    """Corrupt chosen samples (or poison a weight) at one step.

    Args:
        at: The 1-based step whose batch is corrupted.
        samples: Row positions in each rank's device batch (``kind: tokens``).
        kind: ``tokens``, ``adversarial`` or ``nan``.
        seed: Seed of the random token ids.
        low: Smallest random token id (default: the upper half of the vocabulary).
    """

    def __init__(
        self,
        at: int,
        samples: list[int] | None = None,
        kind: str = "tokens",
        seed: int = 0,
        low: int | None = None,
    ) -> None:
        if kind not in KINDS:
            raise ConfigError(
                f"callbacks.csmpt_inject_spike.kind: '{kind}' is not one of {', '.join(KINDS)}"
            )
        if at < 1:
            raise ConfigError(f"callbacks.csmpt_inject_spike.at: step {at} must be >= 1")
        self.at = at
        self.samples = list(samples if samples is not None else [0])
        self.kind = kind
        self.seed = seed
        self.low = low

    def after_dataloader(self, state: State, logger: Logger) -> None:
        """Corrupt the batch of step ``at`` before the model sees it."""
        del logger
        if int(state.timestamp.batch) + 1 != self.at:
            return
        if self.kind == "nan":
            param = next(p for p in state.model.parameters() if p.requires_grad)
            with torch.no_grad():
                param.view(-1)[0] = math.nan
            log.warning("injected a NaN weight at step %d", self.at)
            return
        batch = state.batch
        ids = batch["input_ids"]
        composer_model: Any = state.model
        if isinstance(composer_model, torch.nn.parallel.DistributedDataParallel):
            composer_model = composer_model.module  # DDP wraps the Composer model; FSDP2 does not
        hf_model: Any = composer_model.model
        vocab = int(hf_model.config.vocab_size)
        gen = torch.Generator().manual_seed(self.seed)
        low = self.low if self.low is not None else vocab // 2
        bad = [p for p in self.samples if p >= ids.shape[0]]
        if bad:
            raise ConfigError(
                f"callbacks.csmpt_inject_spike.samples: position {bad[0]} is outside the device "
                f"batch of {ids.shape[0]}"
            )
        noise = torch.randint(low, vocab, (len(self.samples), ids.shape[1]), generator=gen)
        if self.kind == "adversarial":
            noise = least_likely_tokens(hf_model, noise[:, 0].to(ids.device), ids.shape[1])
        for row, pos in zip(noise, self.samples, strict=True):
            ids[pos] = row.to(ids)
            if "labels" in batch:
                batch["labels"][pos] = row.to(batch["labels"])
        log.warning("injected random tokens into samples %s at step %d", self.samples, self.at)
