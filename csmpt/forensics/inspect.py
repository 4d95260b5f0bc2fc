"""Reconstruct the batch of any training step of a run from its folder (``csmpt inspect-batch``).

Everything comes from what a run leaves in its folder: ``config.yaml`` (the resolved train config,
from ``csmpt_run_record``), ``runs.jsonl`` (the world size of each start and resume) and the
events files (:mod:`csmpt.run_events`: the steps of the corpus swaps, and loss-spike events).
For step ``N`` (1-based) the corpus is the one trained on after the last swap before ``N``; its
loader is built as the trainer built it (llm-foundry's ``build_dataloader``, the swap's
``dataset`` keys applied), and :mod:`csmpt.forensics.batch_trace` replays its deterministic
order to the batch's sample ids, on every rank. A resumed run continues the same order, so
resumption needs nothing special.
"""

from __future__ import annotations

import copy
import json
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from csmpt.errors import ConfigError, CsmptError, DataError
from csmpt.forensics.batch_trace import (
    LoaderShape,
    batch_sample_ids,
    describe_sample,
    prepare_order,
)
from csmpt.forensics.doc_ids import document_index, document_map
from csmpt.mds import shm_prefix
from csmpt.recipe.swap_schedule import hot_swap_spec, merged_dataset, parse_swaps
from csmpt.run_events import read_run_events
from csmpt.run_folder import RUNS_FILE, read_runs

__all__ = ["BatchView", "Segment", "inspect_batch", "run_segments"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Segment:
    """A stretch of a run on one corpus: steps ``start + 1`` onwards.

    Attributes:
        corpus: The corpus' name.
        start: The step after which it began (0 for the first corpus).
        dataset: Its ``train_loader.dataset`` config.
    """

    corpus: str
    start: int
    dataset: dict[str, Any]


@dataclass
class BatchView:
    """One step's global batch, as reconstructed.

    Attributes:
        step: The 1-based step.
        corpus: The corpus it came from.
        world_size: Ranks of the attempt that trained the step.
        samples: One dict per sample: rank, position, sample id, stream folder, shard, indices,
            document ids, ``tokens`` (list of ids) and ``text``.
        event: The ``loss_spike``/``nonfinite_loss`` event of that step, if there was one.
    """

    step: int
    corpus: str
    world_size: int
    samples: list[dict[str, Any]] = field(default_factory=list)
    event: dict[str, Any] | None = None


def run_segments(config: dict[str, Any], events: list[dict[str, Any]]) -> list[Segment]:
    """The corpora a run trained on, in order, from its config and its swap events."""
    base = config["train_loader"]["dataset"]
    hot = hot_swap_spec(config)
    first = hot.get("first_name", "train_loader") if hot else "train_loader"
    segments = [Segment(first, 0, copy.deepcopy(base))]
    if not hot:
        return segments
    swaps = parse_swaps(hot.get("swaps") or [])
    for e in sorted((e for e in events if e.get("event") == "swap"), key=lambda e: e["index"]):
        swap = swaps[int(e["index"]) - 1]
        segments.append(Segment(swap.name, int(e["step"]), merged_dataset(base, swap)))
    return segments


def _world_size(run_dir: Path, step: int) -> int:
    """World size of the start/resume that trained ``step`` (runs.jsonl), else 1."""
    starts = [r for r in read_runs(run_dir / RUNS_FILE) if r.get("event") in ("start", "resume")]
    before = [r for r in starts if int(r.get("step", 0)) < step]
    return int(before[-1].get("world_size", 1)) if before else 1


_DATASETS: dict[tuple[str, str, int], Any] = {}


def _dataset(config: dict[str, Any], segment: Segment, device_batch: int) -> Any:
    key = (
        json.dumps(config["train_loader"], sort_keys=True, default=str),
        json.dumps(segment.dataset, sort_keys=True, default=str),
        device_batch,
    )
    if key not in _DATASETS:
        from llmfoundry.data.dataloader import build_dataloader
        from llmfoundry.utils.builders import build_tokenizer

        shm_prefix.install()  # beside a training run starting on this machine
        tok = config["tokenizer"]
        tokenizer = build_tokenizer(tok["name"], tok.get("kwargs") or {})
        cfg = copy.deepcopy(config["train_loader"])
        cfg["dataset"] = copy.deepcopy(segment.dataset)
        spec = build_dataloader(cfg, tokenizer, device_batch)
        loader = getattr(spec, "dataloader", spec)
        _DATASETS[key] = (loader, tokenizer)
    return _DATASETS[key]


def inspect_batch(
    run_dir: str | Path,
    step: int,
    world_size: int | None = None,
    ranks_per_node: int | None = None,
    doc_ids: bool = True,
) -> BatchView:
    """Reconstruct the global batch of ``step`` of the run in ``run_dir``.

    Args:
        run_dir: The run's ``save_folder`` (``config.yaml``, ``runs.jsonl``, ``events.jsonl``).
        step: The 1-based training step.
        world_size: Ranks; default from ``runs.jsonl``.
        ranks_per_node: Ranks per node; default all on one node.
        doc_ids: Look up the source document ids (reads each sample folder once).

    Raises:
        CsmptError: No such run (or a file given for it), step or rank count out of range, or
            a train loader that is not streaming.
    """
    run_dir = Path(run_dir)
    for flag, value in (("--world-size", world_size), ("--ranks-per-node", ranks_per_node)):
        if value is not None and value < 1:
            raise ConfigError(f"{flag} {value}: at least 1")
    if run_dir.is_file():
        raise ConfigError(f"--run {run_dir}: a file; give the run folder (its save_folder)")
    cfg_path = run_dir / "config.yaml"
    if not cfg_path.is_file():
        raise ConfigError(
            f"{cfg_path}: not found; inspect-batch needs a run folder written with the "
            "csmpt_run_record callback"
        )
    from omegaconf import OmegaConf

    config: dict[str, Any] = OmegaConf.to_container(OmegaConf.load(cfg_path), resolve=True)  # type: ignore[assignment]
    if step < 1:
        raise CsmptError(f"--step {step}: steps count from 1")
    records = read_runs(run_dir / RUNS_FILE)
    if records and records[-1].get("event") == "end" and step > int(records[-1]["step"]):
        raise CsmptError(f"--step {step}: the run ended at step {records[-1]['step']}")
    events = read_run_events(run_dir, config)
    segment = [s for s in run_segments(config, events) if s.start < step][-1]
    world = world_size if world_size is not None else _world_size(run_dir, step)
    per_node = ranks_per_node if ranks_per_node is not None else world
    if world % per_node:
        raise CsmptError(f"--ranks-per-node {per_node} does not divide the world size {world}")
    global_batch = int(config["global_train_batch_size"])
    if global_batch % world:
        raise CsmptError(f"global_train_batch_size {global_batch} is not divisible by {world}")
    loader, tokenizer = _dataset(config, segment, global_batch // world)
    dataset = loader.dataset
    if not hasattr(dataset, "spanner"):
        raise DataError(f"{cfg_path}: train_loader is not a streaming (MDS) loader")
    shape = LoaderShape(world // per_node, per_node, loader.num_workers, loader.drop_last)
    prepare_order(dataset, shape.num_nodes)
    ids = batch_sample_ids(dataset, shape, step - segment.start - 1)
    view = BatchView(step=step, corpus=segment.corpus, world_size=world)
    for e in events:
        if e.get("step") == step and e.get("event") in ("loss_spike", "nonfinite_loss"):
            view.event = e
    recorded = {(s["rank"], s["position"]): s for s in (view.event or {}).get("samples", [])}
    for rank in range(ids.shape[0]):
        for pos, sid in enumerate(ids[rank].tolist()):
            if sid < 0:
                continue
            rec: dict[str, Any] = {"rank": rank, "position": pos, "corpus": segment.corpus}
            rec.update(describe_sample(dataset, sid))
            dmap = document_map(rec["folder"])
            if dmap is not None:  # file:line of its documents, O(1), without the inputs
                rec["documents"] = dmap(rec["index_in_stream"])
            if doc_ids:
                index = document_index(rec["folder"])
                if index is not None:
                    rec["doc_ids"] = index(rec["index_in_stream"])
            item = dataset[sid]
            tokens = item["input_ids"] if isinstance(item, dict) else item
            rec["tokens"] = [int(t) for t in tokens]
            rec["text"] = tokenizer.decode(rec["tokens"])
            old = recorded.get((rank, pos), {})
            for key in ("loss", "suspect", "matches_data"):
                if key in old:
                    rec[key] = old[key]
            view.samples.append(rec)
    return view
