"""``csmpt_eval_bpb``: bits per byte of every eval loader, in the loop, beside the loss.

llm-foundry logs ``metrics/eval[/LABEL]/LanguageCrossEntropy`` in nats per token, which does not
compare across tokenizers. This callback adds ``metrics/eval[/LABEL]/BitsPerByte`` at each eval:
the summed cross-entropy of the predicted tokens over ln 2 x their UTF-8 bytes. A token's bytes
are its exact bytes in the vocabulary (byte-level BPE: the text's bytes, even where a sample cuts
a character; special tokens such as EOS have none). ICL batches are skipped. Sums are reduced
over ranks, so the figure is the whole eval set's::

    callbacks:
      csmpt_eval_bpb: {}
"""

from __future__ import annotations

import logging
import math
from typing import Any

import torch
from composer.core import Callback, State
from composer.loggers import Logger
from composer.utils import dist

from csmpt.errors import ConfigError

__all__ = ["EvalBitsPerByte", "token_byte_lengths"]

log = logging.getLogger(__name__)


def token_byte_lengths(tokenizer: Any, rows: int) -> torch.Tensor:
    """(rows,) UTF-8 byte length of each token id (specials and padding rows: 0)."""
    from csmpt.tokenizer.vocab_bytes import byte_lengths

    return torch.from_numpy(byte_lengths(tokenizer, rows))


class EvalBitsPerByte(Callback):
    """Log ``metrics/eval[/LABEL]/BitsPerByte`` for each eval loader (see the module docstring)."""

    def __init__(self) -> None:
        self._lengths: torch.Tensor | None = None
        self._sums: dict[str, list[float]] = {}

    def fit_start(self, state: State, logger: Logger) -> None:
        """Build the token -> bytes table from the model's tokenizer."""
        del logger
        self._build_lengths(state)

    def _build_lengths(self, state: State) -> None:
        tokenizer = getattr(state.model, "tokenizer", None)
        if tokenizer is None:
            raise ConfigError("callbacks.csmpt_eval_bpb: the model has no tokenizer")
        rows = len(tokenizer)
        emb = getattr(state.model.model, "get_input_embeddings", None)
        if callable(emb):
            rows = max(rows, int(emb().weight.shape[0]))
        self._lengths = token_byte_lengths(tokenizer, rows)

    def eval_start(self, state: State, logger: Logger) -> None:
        """Start new sums (and build the table: ``eval_first`` evaluates before ``fit``)."""
        del logger
        if self._lengths is None:
            self._build_lengths(state)
        self._sums = {}

    def eval_batch_end(self, state: State, logger: Logger) -> None:
        """Add this batch's summed loss (nats) and target bytes."""
        del logger
        batch = state.batch
        if self._lengths is None or not isinstance(batch, dict) or "mode" in batch:
            return  # ICL task batches carry a mode
        out: Any = state.outputs
        logits = out["logits"] if isinstance(out, dict) else getattr(out, "logits", out)
        labels = batch.get("labels", batch.get("input_ids"))
        if not torch.is_tensor(logits) or not torch.is_tensor(labels):
            return
        targets = torch.roll(labels, shifts=-1, dims=1)  # (B, T): what each position predicts
        targets[:, -1] = -100
        mask = targets != -100
        nats = torch.nn.functional.cross_entropy(
            logits[mask].float(), targets[mask], reduction="sum"
        )
        n_bytes = self._lengths.to(targets.device)[targets[mask]].sum()
        sums = self._sums.setdefault(str(state.dataloader_label), [0.0, 0.0])
        sums[0] += float(nats)
        sums[1] += float(n_bytes)

    def eval_end(self, state: State, logger: Logger) -> None:
        """Reduce over ranks and log each loader's bits per byte."""
        del state
        metrics = {}
        for label, (nats, n_bytes) in sorted(self._sums.items()):
            t = torch.tensor([nats, n_bytes], dtype=torch.float64)
            dist.all_reduce(t)
            if t[1] > 0:
                metrics[f"metrics/{label}/BitsPerByte"] = float(t[0] / (math.log(2) * t[1]))
        if metrics:
            logger.log_metrics(metrics)
