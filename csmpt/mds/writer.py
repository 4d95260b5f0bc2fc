"""Write the MDS shards of one split one complete shard at a time, so a job can resume.

Streaming's ``MDSWriter`` decides shard boundaries itself and writes ``index.json`` only at the
end. :class:`ShardedSplitWriter` instead cuts the sample stream into shards of a fixed number of
samples (the most that fit ``size_limit``), writes each shard to a temporary name and renames it
into place, so a finished shard is never rewritten and a killed job leaves only whole shards.
Shards are byte-compatible with ``MDSWriter``'s (streaming's own encodings and codecs), and
``index.json`` is written last, by :meth:`ShardedSplitWriter.finish`.

At the end the last shards are re-cut so that the shard count is a multiple of
``shard_multiple`` (1/2/4/8 GPUs then read equal numbers of shards).
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import numpy as np

from csmpt.atomic import remove_temp_files, write_bytes, write_json
from csmpt.errors import DataError

__all__ = [
    "INDEX_NAME",
    "ShardFormat",
    "ShardedSplitWriter",
    "plan_last_shards",
    "remove_unlisted_shards",
]

log = logging.getLogger(__name__)

INDEX_NAME = "index.json"
# streaming's NDArray shape-dtype codes: the smallest unsigned type that holds the length.
_SHAPE_DTYPES = [(0, np.uint8), (1, np.uint16), (2, np.uint32), (3, np.uint64)]


def _codec(algo: str) -> tuple[str, int]:
    """(family, level) of a streaming codec name we write.

    ``zstd[:1-22]``, ``gz[:0-9]``, ``bz2[:1-9]``, with streaming's own defaults (3, 9, 9).
    """
    family, _, level = algo.partition(":")
    default, levels = {
        "zstd": (3, range(1, 23)),
        "gz": (9, range(10)),
        "bz2": (9, range(1, 10)),
    }.get(family, (0, range(0)))
    lvl = int(level) if level.isdigit() else default
    if lvl not in levels or (level and not level.isdigit()):
        raise DataError(
            f"compression '{algo}' is not supported (zstd, zstd:LEVEL, gz, bz2 or null)"
        )
    return family, lvl


def _compress(algo: str, data: bytes) -> bytes:
    family, level = _codec(algo)
    if family == "zstd":
        import zstd

        return bytes(zstd.compress(data, level))
    if family == "gz":
        import gzip

        return gzip.compress(data, level)
    import bz2

    return bz2.compress(data, level)


def _decompress(algo: str, data: bytes) -> bytes:
    family, _ = _codec(algo)
    if family == "zstd":
        import zstd

        return bytes(zstd.decompress(data))
    if family == "gz":
        import gzip

        return gzip.decompress(data)
    import bz2

    return bz2.decompress(data)


class ShardFormat:
    """Streaming's MDS encoding of a ``tokens: ndarray:int32`` column.

    Written without importing ``streaming``, whose import pulls in torch and transformers; tests
    read the shards back with streaming's own reader and with llm-foundry's dataset.

    Args:
        compression: Codec (``zstd``, ``zstd:7``, ``gz``, ``bz2``) or None.
        size_limit: Shard size limit in bytes before compression.
        max_seq_len: Tokens per sample (sets how many samples fit a shard).
    """

    columns = {"tokens": "ndarray:int32"}

    def __init__(self, compression: str | None, size_limit: int, max_seq_len: int) -> None:
        self.compression = compression
        self.ext = _codec(compression)[0] if compression else None
        self.config = {
            "version": 2,
            "format": "mds",
            "compression": compression,
            "hashes": [],
            "size_limit": size_limit,
            "column_names": ["tokens"],
            "column_encodings": ["ndarray:int32"],
            "column_sizes": [None],
        }
        self.config_data = json.dumps(self.config, sort_keys=True).encode("utf-8")
        sample_bytes = len(self.encode(np.zeros(max_seq_len, np.int32))) + 4  # + its offset
        room = size_limit - 8 - len(self.config_data)
        if room < sample_bytes:
            raise DataError(
                f"size_limit {size_limit} bytes is smaller than one sample ({sample_bytes} bytes)"
            )
        self.samples_per_shard = room // sample_bytes

    @staticmethod
    def encode(sample: np.ndarray) -> bytes:
        """One sample's bytes, as ``MDSWriter.encode_sample`` makes them for ndarray:int32.

        The column size (uint32), then a shape header (ndim 1, shape dtype code) and the data.
        """
        n = len(sample)
        code, dtype = next((c, d) for c, d in _SHAPE_DTYPES if n < (1 << (8 << c)))
        datum = bytes([(1 << 2) | code]) + np.array([n], dtype).tobytes() + sample.tobytes()
        return np.uint32(len(datum)).tobytes() + datum

    def write(self, folder: Path, stem: str, samples: list[bytes]) -> dict[str, Any]:
        """Write one shard atomically and return its ``index.json`` entry."""
        sizes = np.array([0] + [len(s) for s in samples], dtype=np.int64).cumsum()
        header = 4 + 4 * (len(samples) + 1) + len(self.config_data)
        offsets = (sizes + header).astype(np.uint32)
        head = np.uint32(len(samples)).tobytes() + offsets.tobytes() + self.config_data
        raw = b"".join([head, *samples])  # one copy of the shard, not two
        raw_name = f"{stem}.mds"
        info: dict[str, Any] = {
            "samples": len(samples),
            "raw_data": {"basename": raw_name, "bytes": len(raw), "hashes": {}},
            "zip_data": None,
        }
        data, name = raw, raw_name
        if self.compression:
            name = f"{raw_name}.{self.ext}"
            data = _compress(self.compression, raw)
            info["zip_data"] = {"basename": name, "bytes": len(data), "hashes": {}}
        write_bytes(folder / name, data)
        return info | self.config

    def read(self, folder: Path, info: dict[str, Any]) -> list[bytes]:
        """The encoded samples of a shard this format wrote."""
        if info.get("zip_data"):
            data = (folder / info["zip_data"]["basename"]).read_bytes()
            raw = _decompress(info["compression"], data)
        else:
            raw = (folder / info["raw_data"]["basename"]).read_bytes()
        n = int(np.frombuffer(raw, np.uint32, 1)[0])
        offsets = np.frombuffer(raw, np.uint32, n + 1, offset=4)
        return [raw[offsets[i] : offsets[i + 1]] for i in range(n)]


def plan_last_shards(full: int, tail: int, per_shard: int, multiple: int) -> tuple[int, int]:
    """How to end a split: re-cut the last ``j`` full shards plus ``tail`` samples into ``m``.

    Returns the smallest ``j`` (and its ``m``) such that ``full - j + m`` is a multiple of
    ``multiple`` and no shard is over ``per_shard`` samples or empty.

    Raises:
        DataError: The split has fewer samples than ``multiple`` shards need.
    """
    for j in range(full + 1):
        region = j * per_shard + tail
        if region == 0:
            if (full - j) % multiple == 0:
                return j, 0
            continue
        m = max(1, -(-region // per_shard))
        m += (-(full - j + m)) % multiple
        if m <= region:
            return j, m
    total = full * per_shard + tail
    raise DataError(f"{total} samples cannot fill a multiple of {multiple} shards")


class ShardedSplitWriter:
    """Write one split's samples into fixed-size shards; finish with ``index.json``.

    Args:
        folder: The split's folder (created).
        fmt: The shard format.
        shards: Entries of shards finished by an earlier, interrupted run (kept as they are).
    """

    def __init__(self, folder: Path, fmt: ShardFormat, shards: list[dict[str, Any]]) -> None:
        self.folder = folder
        self.fmt = fmt
        self.shards = list(shards)
        self.pending: list[bytes] = []
        folder.mkdir(parents=True, exist_ok=True)
        remove_temp_files(folder)  # of a build killed mid-shard

    @property
    def committed_samples(self) -> int:
        """Samples in finished shards."""
        return sum(s["samples"] for s in self.shards)

    def add(self, sample: np.ndarray) -> bool:
        """Queue one sample; write a shard when one is full. Returns whether one was written."""
        self.pending.append(self.fmt.encode(sample))
        if len(self.pending) < self.fmt.samples_per_shard:
            return False
        self.shards.append(
            self.fmt.write(self.folder, f"shard.{len(self.shards):05}", self.pending)
        )
        self.pending = []
        return True

    def finish(self, multiple: int) -> list[dict[str, Any]]:
        """Write the last shards (shard count a multiple of ``multiple``), then ``index.json``.

        Returns:
            The index's shard entries.
        """
        per = self.fmt.samples_per_shard
        j, m = plan_last_shards(len(self.shards), len(self.pending), per, multiple)
        keep = self.shards[: len(self.shards) - j]
        region = [s for info in self.shards[len(keep) :] for s in self.fmt.read(self.folder, info)]
        region += self.pending
        # New names (numbered after every existing shard): a re-cut shard never overwrites one
        # that the progress record still lists, so a kill during finish() can be resumed.
        first = len(self.shards)
        bounds = [round(i * len(region) / m) for i in range(m + 1)] if m else []
        final = list(keep)
        for i in range(m):
            chunk = region[bounds[i] : bounds[i + 1]]
            final.append(self.fmt.write(self.folder, f"shard.{first + i:05}", chunk))
        write_json(
            self.folder / INDEX_NAME,
            {"version": 2, "shards": final},
            sort_keys=True,
            ensure_ascii=False,
        )
        if j:
            log.info("%s: re-cut the last %d shard(s) into %d", self.folder, j, m)
        return final


def remove_unlisted_shards(folder: Path) -> None:
    """Delete shard files that ``index.json`` does not list (left by a re-cut)."""
    index = json.loads((folder / INDEX_NAME).read_text())
    listed = {s["raw_data"]["basename"] for s in index["shards"]}
    listed |= {s["zip_data"]["basename"] for s in index["shards"] if s.get("zip_data")}
    for f in folder.glob("shard.*"):
        if f.name not in listed:
            f.unlink()
