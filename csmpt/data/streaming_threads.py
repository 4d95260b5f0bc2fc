"""Stop the background threads of a StreamingDataset whose epoch will not be read to its end."""

from __future__ import annotations

__all__ = ["stop_streaming_threads"]


def stop_streaming_threads(loader: object) -> None:
    """Stop the download/ready threads of ``loader``'s StreamingDataset, if it is iterating.

    With ``num_workers: 0`` a StreamingDataset iterates in the trainer's process with two
    background threads that wait for samples nobody will ask for once its loader is replaced (a
    corpus hot-swap) or training ends mid-epoch; they also keep the dataset (and its shared
    memory handles) alive. streaming's own ``_Iterator.exit()``, what it calls when a new epoch
    starts, ends them. Worker processes (``num_workers > 0``) end with their loader's iterator.
    """
    iterator = getattr(getattr(loader, "dataset", None), "_iterator", None)
    if iterator is not None and hasattr(iterator, "exit"):
        iterator.exit()
