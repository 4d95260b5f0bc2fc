"""Which local MDS folders a loader's ``dataset`` config will read, and whether they exist."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

__all__ = ["local_mds_folders", "missing_reason"]


def local_mds_folders(dataset: Mapping[str, Any]) -> list[tuple[str, Path]]:
    """(key, folder) of each local folder a ``text`` dataset config reads; remote ones skipped.

    ``key`` is ``local`` or ``streams.<name>.local`` relative to the dataset config; the folder
    includes the ``split`` subfolder, as streaming reads ``<local>/<split>/index.json``.
    """
    out = []
    streams = dataset.get("streams") or {}
    if isinstance(streams, Mapping) and streams:
        for name, stream in streams.items():
            if isinstance(stream, Mapping) and stream.get("local") and not stream.get("remote"):
                split = stream.get("split") or dataset.get("split")
                folder = Path(stream["local"]) / split if split else Path(stream["local"])
                out.append((f"streams.{name}.local", folder))
    elif dataset.get("local") and not dataset.get("remote"):
        split = dataset.get("split")
        out.append(("local", Path(dataset["local"]) / split if split else Path(dataset["local"])))
    return out


def missing_reason(folder: Path) -> str | None:
    """Why ``folder`` is not a readable MDS folder, or None if it is one."""
    if (folder / "index.json").is_file():
        return None
    return "does not exist" if not folder.exists() else "has no index.json (not MDS)"
