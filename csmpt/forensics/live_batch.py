"""The samples of the batch a running trainer just trained on, for a loss-spike event."""

from __future__ import annotations

import logging
import math
import re
from typing import Any

import torch
from composer.core import State
from composer.utils import dist

from csmpt.forensics.batch_trace import LoaderShape, batch_sample_ids, describe_sample
from csmpt.forensics.doc_ids import document_index, document_map
from csmpt.forensics.sample_loss import outlier_samples, per_sample_loss

__all__ = ["first_line", "live_batch_samples", "live_shape"]

log = logging.getLogger(__name__)


def first_line(tokenizer: Any, ids: Any, width: int = 100) -> str:
    """The first non-empty line of the decoded tokens, cut to ``width`` characters."""
    if tokenizer is None:
        return ""
    text = tokenizer.decode([int(i) for i in ids if int(i) >= 0])
    line = next((x.strip() for x in text.splitlines() if x.strip()), "")
    # Corrupted samples decode to control bytes: show them as U+FFFD, and a long run of one
    # character once with its count, so the line stays readable in a console or a report.
    line = "".join(c if c.isprintable() else "\ufffd" for c in line)
    line = re.sub(r"(.)\1{4,}", lambda m: f"{m.group(1)}×{len(m.group(0))}", line)
    return line if len(line) <= width else line[: width - 1] + "…"


def live_shape(state: State) -> LoaderShape:
    """The job shape of the running train loader."""
    loader = state.train_dataloader
    local = max(dist.get_local_world_size(), 1)
    return LoaderShape(
        num_nodes=max(dist.get_world_size() // local, 1),
        ranks_per_node=local,
        num_workers=int(getattr(loader, "num_workers", 0)),
        drop_last=bool(getattr(loader, "drop_last", True)),
    )


def _local_losses(state: State) -> torch.Tensor | None:
    """Per-sample losses of this rank's batch: from the step's logits when they cover it."""
    batch: Any = state.batch
    if not isinstance(batch, dict) or "input_ids" not in batch:
        return None
    labels: Any = batch.get("labels", batch["input_ids"])
    logits: Any = getattr(state.outputs, "logits", state.outputs)
    if not torch.is_tensor(logits) or logits.shape[0] != labels.shape[0]:
        with torch.no_grad():  # several microbatches: run the full batch again
            logits = state.model(batch)
            logits = getattr(logits, "logits", logits)
    with torch.no_grad():
        return per_sample_loss(logits.detach(), labels)


def live_batch_samples(
    state: State,
    step: int,
    corpus_start: int,
    corpus: str,
    suspect_zscore: float = 3.5,
    doc_ids_max_samples: int | None = 1_000_000,
) -> list[dict[str, Any]]:
    """Describe every sample of step ``step``'s global batch (all ranks; call on every rank).

    Args:
        state: The trainer state at ``BATCH_END`` of the step.
        step: The 1-based step just trained.
        corpus_start: The last step before the current corpus began (0 for the first corpus).
        corpus: The current corpus' name.
        suspect_zscore: Robust z-score above the batch median that makes a sample a suspect.
        doc_ids_max_samples: Look document ids up only in folders with at most this many samples.

    Returns:
        One dict per sample: rank, position, corpus, sample id, stream, folder, shard, index in
        shard and folder, documents (``file:line``) and ids, loss, suspect, whether the trained
        tokens match the data, and the first line of the tokens trained on.
    """
    losses = _local_losses(state)
    world = dist.get_world_size()
    if losses is not None and world > 1:
        gathered = dist.all_gather(losses.contiguous())
        all_losses = torch.stack([g.cpu() for g in gathered]).tolist()
    else:
        all_losses = [losses.cpu().tolist()] if losses is not None else []
    if dist.get_global_rank() != 0:
        return []
    tokenizer = getattr(state.model, "tokenizer", None)
    rows = state.batch["input_ids"].cpu() if isinstance(state.batch, dict) else None
    dataset: Any = getattr(state.train_dataloader, "dataset", None)
    ids = None
    if dataset is not None and hasattr(dataset, "spanner"):
        try:
            ids = batch_sample_ids(dataset, live_shape(state), step - corpus_start - 1)
        except Exception as e:  # noqa: BLE001 - forensics must never stop training
            log.warning("step %d: cannot trace the batch's samples: %s", step, e)
    flat = [x for r in all_losses for x in r]
    suspects = set(outlier_samples(flat, suspect_zscore)) if flat else set()
    out: list[dict[str, Any]] = []
    n_ranks = ids.shape[0] if ids is not None else len(all_losses) or 1
    per_rank = ids.shape[1] if ids is not None else (rows.shape[0] if rows is not None else 0)
    for rank in range(n_ranks):
        for pos in range(per_rank):
            rec: dict[str, Any] = {"rank": rank, "position": pos, "corpus": corpus}
            k = rank * per_rank + pos
            if ids is not None and ids[rank, pos] >= 0:
                rec.update(describe_sample(dataset, int(ids[rank, pos])))
                dmap = document_map(rec["folder"])
                if dmap is not None:  # file:line of its documents, any corpus size
                    rec["documents"] = dmap(rec["index_in_stream"])
                index = document_index(rec["folder"], doc_ids_max_samples)
                if index is not None:
                    rec["doc_ids"] = index(rec["index_in_stream"])
            if k < len(flat):
                rec["loss"] = flat[k] if math.isfinite(flat[k]) else str(flat[k])
                rec["suspect"] = k in suspects
            local = rank == 0 and rows is not None and pos < rows.shape[0]
            if local and rows is not None and "sample" in rec:
                data = dataset[rec["sample"]]
                data = data["input_ids"] if isinstance(data, dict) else data
                rec["matches_data"] = bool(torch.equal(torch.as_tensor(data), rows[pos]))
            if local and rows is not None:
                rec["first_line"] = first_line(tokenizer, rows[pos].tolist())
            elif "sample" in rec:
                data = dataset[rec["sample"]]
                data = data["input_ids"] if isinstance(data, dict) else data
                rec["first_line"] = first_line(tokenizer, torch.as_tensor(data).tolist())
            out.append(rec)
    return out
