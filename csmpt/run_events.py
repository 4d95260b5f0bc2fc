"""The events files of a run: which callbacks of a recipe write one, and where.

A callback that appends records to an events file declares it on its class: the class attribute
``events_file_kwarg`` names the keyword argument (the YAML key under ``callbacks.<name>``) that
sets the file; when the recipe leaves it unset, the callback writes ``<save_folder>/events.jsonl``
(:data:`~csmpt.run_folder.EVENTS_FILE`). That declaration is all a new callback needs: training
(torn-line repair, ``--fresh`` archiving, the check before a restart), ``csmpt report``,
``csmpt inspect-batch`` and the demo find its file here, from the recipe's ``callbacks:``
section, looking each name up in llm-foundry's callback entry points.

Example (``csmpt_freeze`` declares ``events_file_kwarg = "events_file"``)::

    callbacks:
      csmpt_freeze:
        stages: [{until: 200ba, train: [transformer.wte]}]
        events_file: /scratch/run1/freeze_events.jsonl   # found by every reader
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Mapping
from importlib import metadata
from pathlib import Path
from typing import Any

from csmpt.run_folder import EVENTS_FILE, read_events

__all__ = [
    "CALLBACK_GROUPS",
    "EVENTS_FILE_ATTR",
    "events_file_kwarg",
    "events_files",
    "read_run_events",
    "run_config",
]

log = logging.getLogger(__name__)

EVENTS_FILE_ATTR = "events_file_kwarg"
"""The class attribute by which a callback declares the keyword argument naming its file."""

CALLBACK_GROUPS = ("llmfoundry_callbacks", "llmfoundry_callbacks_with_config")
"""The entry-point groups through which callbacks reach llm-foundry's registries."""


@functools.cache
def events_file_kwarg(name: str) -> str | None:
    """The keyword argument naming the events file of the callback registered as ``name``.

    Args:
        name: A key of a recipe's ``callbacks:`` section.

    Returns:
        The kwarg the callback class declares in ``events_file_kwarg``; None when the callback
        is not an entry point (llm-foundry's own), does not load, or writes no events.
    """
    for group in CALLBACK_GROUPS:
        for ep in metadata.entry_points(group=group, name=name):
            try:
                cls = ep.load()
            except (ImportError, AttributeError) as e:
                log.warning("callback %s (%s) does not load: %s", name, ep.value, e)
                return None
            kwarg = getattr(cls, EVENTS_FILE_ATTR, None)
            return kwarg if isinstance(kwarg, str) else None
    return None


def events_files(callbacks: Mapping[str, Any] | None, folder: Path) -> list[Path]:
    """The events files a run with these callbacks writes, the default one first.

    Args:
        callbacks: The recipe's (resolved) ``callbacks:`` section; None for none.
        folder: The run's local save folder (where the default ``events.jsonl`` is).

    Returns:
        ``folder/events.jsonl``, then each other file a callback names, without repeats.
    """
    out = [folder / EVENTS_FILE]
    for name, spec in (callbacks or {}).items():
        kwarg = events_file_kwarg(str(name))
        value = spec.get(kwarg) if kwarg and isinstance(spec, Mapping) else None
        if value and Path(str(value)) not in out:
            out.append(Path(str(value)))
    return out


def run_config(run_dir: Path) -> dict[str, Any]:
    """The resolved train config a run left in ``config.yaml`` ({} when there is none)."""
    path = run_dir / "config.yaml"
    if not path.is_file():
        return {}
    from omegaconf import OmegaConf

    loaded = OmegaConf.to_container(OmegaConf.load(path), resolve=True)
    return {str(k): v for k, v in loaded.items()} if isinstance(loaded, dict) else {}


def read_run_events(
    run_dir: str | Path, config: Mapping[str, Any] | None = None
) -> list[dict[str, Any]]:
    """Every event of a run, from all its events files, in step order.

    Args:
        run_dir: The run's save folder.
        config: Its resolved train config; default the folder's ``config.yaml`` (written by
            ``csmpt_run_record``). Without either, only ``run_dir/events.jsonl`` is read.

    Returns:
        The records (torn lines skipped as in :func:`~csmpt.run_folder.read_jsonl`): one file's
        in the order written; the records of several files merged by ``step`` (a stable sort:
        each file's order is kept within a step).
    """
    folder = Path(run_dir)
    cfg = run_config(folder) if config is None else config
    per_file = [read_events(p) for p in events_files(cfg.get("callbacks"), folder)]
    per_file = [records for records in per_file if records]
    if len(per_file) == 1:
        return per_file[0]
    return sorted((r for records in per_file for r in records), key=_step)


def _step(record: Mapping[str, Any]) -> int:
    """A record's step (0 when it has none)."""
    step = record.get("step")
    return step if isinstance(step, int) else 0
