"""Which samples form each batch of a StreamingDataset loader, from its deterministic order.

mosaicml-streaming fixes an epoch's sample order from the dataset's settings (shuffle seed and
algorithm, canonical nodes, block size, batch size, partition and batching method) and the
shape of the job (nodes, ranks per node, dataloader workers): :func:`streaming.base.batching.
generate_work` returns it as ``(nodes, ranks per node, workers per rank, batches, batch size)``
sample ids. A rank's DataLoader then takes batches round-robin from its workers. Replaying that
gives the sample ids of any batch, on any rank, without running the loader, which is what the
loss-spike callback records and ``csmpt inspect-batch`` prints.
"""

from __future__ import annotations

import logging
import weakref
from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = ["LoaderShape", "batch_sample_ids", "describe_sample", "epoch_batches", "prepare_order"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class LoaderShape:
    """The shape of the job a loader ran in: it decides the sample order.

    Attributes:
        num_nodes: Physical nodes.
        ranks_per_node: Ranks (GPUs) per node.
        num_workers: DataLoader workers per rank (0 counts as 1).
        drop_last: Whether a rank's final partial batch is dropped.
    """

    num_nodes: int = 1
    ranks_per_node: int = 1
    num_workers: int = 0
    drop_last: bool = True

    @property
    def num_ranks(self) -> int:
        """Ranks in the job."""
        return self.num_nodes * self.ranks_per_node


def prepare_order(dataset: Any, num_nodes: int) -> None:
    """Fill in the order settings a StreamingDataset resolves only when it starts iterating.

    ``num_canonical_nodes`` defaults to the number of physical nodes (64x for ``py1s``/``py2s``)
    and ``shuffle_block_size`` to ``max(4e6 // num_canonical_nodes, 2**18)``, as in
    ``StreamingDataset._resume``.
    """
    if not dataset.num_canonical_nodes:
        factor = 64 if dataset.shuffle_algo in ("py1s", "py2s") else 1
        dataset.num_canonical_nodes = factor * num_nodes
    if dataset.shuffle_block_size is None:
        dataset.shuffle_block_size = max(4_000_000 // dataset.num_canonical_nodes, 1 << 18)


# Keyed by id(dataset); the weak reference tells a live dataset from a new one at a reused id.
_CACHE: dict[tuple[int, int, LoaderShape], tuple[weakref.ref[Any], np.ndarray]] = {}


def epoch_batches(dataset: Any, shape: LoaderShape, epoch: int) -> np.ndarray:
    """Every rank's batches of one epoch: sample ids, shape ``(ranks, batches, batch size)``.

    A rank's last batch is padded with -1 when it is partial and ``drop_last`` is off.
    """
    from streaming.base.batching import generate_work
    from streaming.base.world import World

    key = (id(dataset), epoch, shape)
    cached = _CACHE.get(key)
    if cached is not None and cached[0]() is dataset:
        return cached[1]
    workers = max(shape.num_workers, 1)
    world = World(shape.num_nodes, shape.ranks_per_node, workers, 0)
    # (nodes, ranks per node, workers per rank, batches per worker, batch size)
    work = generate_work(dataset.batching_method, dataset, world, epoch, 0)
    batch_size = int(dataset.batch_size)
    ranks = []
    for node in range(shape.num_nodes):
        for rank_of_node in range(shape.ranks_per_node):
            per_worker = []
            for w in range(workers):
                ids = work[node, rank_of_node, w].reshape(-1)
                ids = ids[ids != -1]  # padding; the loader skips it
                n_full = len(ids) // batch_size
                batches = [ids[i * batch_size : (i + 1) * batch_size] for i in range(n_full)]
                if not shape.drop_last and len(ids) % batch_size:
                    tail = np.full(batch_size, -1, dtype=np.int64)
                    tail[: len(ids) % batch_size] = ids[n_full * batch_size :]
                    batches.append(tail)
                per_worker.append(batches)
            # The DataLoader takes one batch from each worker in turn; an exhausted worker is
            # skipped.
            order = []
            for i in range(max((len(b) for b in per_worker), default=0)):
                order += [b[i] for b in per_worker if i < len(b)]
            ranks.append(order)
    n = min(len(r) for r in ranks)
    out = np.stack([np.stack(r[:n]) if n else np.empty((0, batch_size), np.int64) for r in ranks])
    if len(_CACHE) > 8:
        _CACHE.clear()
    _CACHE[key] = (weakref.ref(dataset), out)
    return out


def batch_sample_ids(dataset: Any, shape: LoaderShape, batch_index: int) -> np.ndarray:
    """Sample ids of every rank for the ``batch_index``-th batch (0-based) since the loader began.

    Epochs follow each other: batch ``k`` of epoch ``e`` is index ``e * batches_per_epoch + k``.

    Returns:
        Shape ``(ranks, batch size)``; -1 marks padding of a partial last batch.
    """
    first = epoch_batches(dataset, shape, 0)
    per_epoch = first.shape[1]
    if per_epoch == 0:
        raise ValueError("the dataset yields no full batch for this job shape")
    epoch, k = divmod(batch_index, per_epoch)
    return epoch_batches(dataset, shape, epoch)[:, k]


def describe_sample(dataset: Any, sample_id: int) -> dict[str, Any]:
    """Where a sample id lives: stream, its local folder, shard file and index in the shard."""
    shard_id, index_in_shard = dataset.spanner[int(sample_id)]
    stream_id = int(dataset.stream_per_shard[shard_id])
    stream = dataset.streams[stream_id]
    reader = dataset.shards[shard_id]
    basename = reader.raw_data.basename if getattr(reader, "raw_data", None) else str(shard_id)
    folder = stream.local if stream.split is None else f"{stream.local}/{stream.split}"
    return {
        "sample": int(sample_id),
        "stream": stream_id,
        "folder": str(folder).replace("//", "/"),
        "shard": basename,
        "index_in_shard": int(index_in_shard),
        "index_in_stream": int(index_in_shard + _stream_offset(dataset, stream_id, shard_id)),
    }


def _stream_offset(dataset: Any, stream_id: int, shard_id: int) -> int:
    """Samples in the stream's shards before ``shard_id`` (the sample's index in its folder)."""
    first = int(np.argmax(dataset.stream_per_shard == stream_id))
    return int(dataset.samples_per_shard[first:shard_id].sum())
