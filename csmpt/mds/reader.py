"""Read the samples of an MDS folder back, in stored order (for checks and inspection)."""

from __future__ import annotations

import json
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

__all__ = ["iter_samples"]


def iter_samples(folder: str | Path) -> Iterator[dict[str, Any]]:
    """Yield every sample of an MDS folder in stored order, decompressing shards in memory.

    Uses streaming's own codecs and MDS reader on a scratch copy of each shard, so the folder is
    left as it is (unlike a StreamingDataset, which decompresses next to the shards).
    """
    from streaming.base.compression import decompress
    from streaming.base.format import reader_from_json

    folder = Path(folder)
    index = json.loads((folder / "index.json").read_text())
    with tempfile.TemporaryDirectory() as scratch:
        for info in index["shards"]:
            raw = info["raw_data"]["basename"]  # part-001/shard.00000.mds in a merged folder
            (Path(scratch) / raw).parent.mkdir(parents=True, exist_ok=True)
            if info.get("zip_data"):
                data = (folder / info["zip_data"]["basename"]).read_bytes()
                (Path(scratch) / raw).write_bytes(decompress(info["compression"], data))
            else:
                (Path(scratch) / raw).write_bytes((folder / raw).read_bytes())
            shard = reader_from_json(scratch, None, info)
            for i in range(shard.samples):
                yield shard.get_item(i)
            (Path(scratch) / raw).unlink()
