"""``csmpt validate``: loss and perplexity of checkpoints on each corpus' validation split.

Lit-Claire's offline validation: while training goes on, evaluate the checkpoints already
written on every corpus (not only the one the run trains on now) and append the figures to a
CSV (``step, checkpoint, corpus, loss, perplexity, tokens``). It is safe next to a running
trainer: shards are read by csmpt's MDS reader into scratch copies (no StreamingDataset, no
shared memory), a checkpoint that cannot be read yet (still being written) is skipped with a
warning, rows are appended under a file lock, and (step, corpus) pairs already in the CSV are
not evaluated again, so the same command can be rerun as new checkpoints appear.
"""

from __future__ import annotations

import csv
import fcntl
import logging
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from csmpt.errors import ConfigError, DataError
from csmpt.eval.models import (
    Checkpoint,
    build_recipe_model,
    find_checkpoints,
    load_checkpoint_weights,
)

__all__ = ["FIELDS", "ValRow", "corpora_of_recipe", "validate_checkpoints", "validation_loss"]

log = logging.getLogger(__name__)

FIELDS = ["step", "checkpoint", "corpus", "loss", "perplexity", "tokens"]


@dataclass
class ValRow:
    """Loss of one checkpoint on one corpus' validation split."""

    step: int
    checkpoint: str
    corpus: str
    loss: float
    perplexity: float
    tokens: int


def corpora_of_recipe(recipe: str | Path, overrides: Sequence[str] = ()) -> dict[str, Path]:
    """Validation folders named by a recipe: its eval loader(s) and its hot-swap corpora."""
    from omegaconf import OmegaConf

    from csmpt.config.loading import load_yaml_with_overrides

    cfg: Any = OmegaConf.to_container(load_yaml_with_overrides(recipe, overrides), resolve=True)
    out: dict[str, Path] = {}
    loaders = cfg.get("eval_loader") or []
    for i, loader in enumerate(loaders if isinstance(loaders, list) else [loaders]):
        ds = loader.get("dataset", {}) if isinstance(loader, dict) else {}
        if "local" in ds:
            folder = Path(ds["local"]) / str(ds.get("split") or "")
            out[str(loader.get("label") or Path(ds["local"]).name or f"eval{i}")] = folder
    swap = (cfg.get("callbacks") or {}).get("csmpt_hot_swap") or {}
    for s in swap.get("swaps") or []:
        local = (s.get("dataset") or {}).get("local")
        if local and (Path(local) / "val").is_dir():
            out.setdefault(str(s.get("name") or Path(local).name), Path(local) / "val")
    return out


def validation_loss(
    model: Any, folder: Path, max_seq_len: int, max_samples: int, batch_size: int = 8
) -> tuple[float, int]:
    """Mean next-token cross-entropy of ``model`` over an MDS folder; (loss, tokens scored)."""
    import numpy as np
    import torch
    import torch.nn.functional as F  # noqa: N812

    from csmpt.data.mds_reader import iter_samples

    if not (folder / "index.json").is_file():
        raise DataError(f"validation folder '{folder}' has no index.json; build it with csmpt prep")
    total, count = 0.0, 0
    batch: list[Any] = []
    device = next(model.parameters()).device

    def flush() -> None:
        nonlocal total, count
        ids = torch.from_numpy(np.stack(batch)).long().to(device)  # (B, T)
        logits = model(input_ids=ids).logits.float()  # (B, T, V)
        loss = F.cross_entropy(
            logits[:, :-1].reshape(-1, logits.shape[-1]), ids[:, 1:].reshape(-1), reduction="sum"
        )
        total += float(loss)
        count += ids[:, 1:].numel()
        batch.clear()

    model.eval()
    with torch.no_grad():
        for i, sample in enumerate(iter_samples(folder)):
            if i >= max_samples:
                break
            batch.append(np.asarray(sample["tokens"])[:max_seq_len])
            if len(batch) == batch_size:
                flush()
        if batch:
            flush()
    if count == 0:
        raise DataError(f"validation folder '{folder}' has no samples")
    return total / count, count


def _done(csv_path: Path) -> set[tuple[int, str]]:
    if not csv_path.is_file():
        return set()
    with csv_path.open(encoding="utf-8") as f:
        return {(int(r["step"]), r["corpus"]) for r in csv.DictReader(f) if r.get("step")}


def _append(csv_path: Path, rows: list[ValRow]) -> None:
    csv_path.parent.mkdir(parents=True, exist_ok=True)
    with csv_path.open("a", encoding="utf-8", newline="") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        w = csv.writer(f)
        if f.tell() == 0:
            w.writerow(FIELDS)
        for r in rows:
            w.writerow(
                [r.step, r.checkpoint, r.corpus, f"{r.loss:.6f}", f"{r.perplexity:.4f}", r.tokens]
            )
        f.flush()


def validate_checkpoints(
    checkpoints: str | Path,
    train_yaml: str | Path,
    csv_path: str | Path,
    corpora: dict[str, Path] | None = None,
    overrides: Sequence[str] = (),
    max_samples: int = 256,
    progress: Callable[[str], None] | None = None,
) -> list[ValRow]:
    """Evaluate new checkpoints (a file or a run folder) on every corpus; append to the CSV.

    Returns:
        The rows appended now (pairs already in the CSV are skipped).
    """
    say = progress or (lambda msg: log.info("%s", msg))
    src = Path(checkpoints)
    if src.is_file():
        ckpts = [Checkpoint(_step_of(src), src)]
    else:
        ckpts = find_checkpoints(src)
    corpora = corpora or corpora_of_recipe(train_yaml, overrides)
    if not corpora:
        raise ConfigError(f"{train_yaml}: no eval_loader corpora; name them with --corpus NAME=DIR")
    out = Path(csv_path)
    done = _done(out)
    rm = build_recipe_model(train_yaml, overrides)
    new: list[ValRow] = []
    for c in ckpts:
        todo = [n for n in corpora if (c.step, n) not in done]
        if not todo:
            continue
        try:
            load_checkpoint_weights(rm.model, c.path, rm.recipe)
        except DataError as e:
            if "not a readable" in str(e):  # still being written by the trainer
                log.warning("skipping %s for now: %s", c.path, e)
                continue
            raise
        rows = []
        for name in todo:
            loss, n = validation_loss(rm.model.model, corpora[name], rm.max_seq_len, max_samples)
            rows.append(ValRow(c.step, c.path.name, name, loss, math.exp(min(loss, 50.0)), n))
            say(f"step {c.step} {name}: loss {loss:.4f}, perplexity {rows[-1].perplexity:.2f}")
        _append(out, rows)
        new += rows
    return new


def _step_of(path: Path) -> int:
    import re

    m = re.search(r"-ba(\d+)-", path.name)
    if not m:
        raise DataError(f"'{path}': cannot tell the step from the name (expected ep*-ba*-rank0.pt)")
    return int(m.group(1))
