"""Stop the background threads of a StreamingDataset whose epoch will not be read to its end."""

from __future__ import annotations

__all__ = ["stop_all_streaming_threads", "stop_streaming_threads"]


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


def stop_all_streaming_threads() -> None:
    """Stop the threads of every StreamingDataset in this process (between benchmark runs).

    A run that stops mid-epoch leaves its epoch's two threads polling for the life of the
    process; a process that times several runs stops them so earlier runs do not slow later ones.
    """
    import gc

    from streaming.base.dataset import StreamingDataset

    for obj in gc.get_objects():
        if isinstance(obj, StreamingDataset):
            iterator = getattr(obj, "_iterator", None)
            if iterator is not None:
                iterator.exit()
            executor = getattr(obj, "_executor", None)
            if executor is not None:
                executor.shutdown(wait=False)
