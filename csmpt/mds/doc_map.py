"""The document map of an MDS split: which documents (file, line) and tokens each sample holds.

``csmpt prep`` writes it beside the shards, in ``<split>/csmpt_docmap/`` (numpy ``.npy`` files,
memory-mapped when read, so a lookup is O(1) for a corpus of any size):

- ``doc_file`` (int32), ``doc_line`` (int64): per document of the split, the index of its input
  in the manifest's ``inputs`` and its line (jsonl, 1-based) or row (tables, 0-based);
- ``doc_start`` (int64): where its tokens start in the split's token stream (not in merged
  folders);
- ``sample_seg`` (int64, samples + 1): sample ``i``'s pieces are ``sample_seg[i]`` to
  ``sample_seg[i + 1]`` of:
- ``seg_doc`` (int64), ``seg_offset`` (int64), ``seg_pos`` (int32): each piece's document, the
  offset in that document's tokens (EOS included) of its first token, and where it starts in the
  sample.

Memory: 20 bytes per document while building (an append-only file in the work folder, cut back
on resume), and on disk 20 bytes per document plus 20 per piece (about one piece per document
and one per sample): a 70B-token corpus of 100M documents and 34M samples takes about 5 GB.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from csmpt.atomic import open_atomic

__all__ = [
    "DOCMAP_DIR",
    "DocMapWriter",
    "DocumentMap",
    "split_texts",
    "segments",
    "split_doc_map",
    "write_doc_map",
]

DOCMAP_DIR = "csmpt_docmap"
_ENTRY = np.dtype([("start", "<i8"), ("file", "<i4"), ("line", "<i8")])


class DocMapWriter:
    """Append (stream start, file, line) per document to ``path``; resumable.

    Args:
        path: The work folder's append-only file.
        entries: Entries to keep from an interrupted run (the file is cut back to them).
    """

    def __init__(self, path: Path, entries: int = 0) -> None:
        self.path = path
        keep = entries * _ENTRY.itemsize if path.is_file() else 0
        with path.open("ab") as f:
            f.truncate(keep)
        self.entries = keep // _ENTRY.itemsize
        self._f = path.open("ab")
        self._buf: list[tuple[int, int, int]] = []

    def add(self, start: int, file: int, line: int) -> None:
        """One document whose tokens start at ``start`` in the split's stream."""
        self._buf.append((start, file, line))
        self.entries += 1
        if len(self._buf) >= 65536:
            self.flush()

    def flush(self, sync: bool = False) -> None:
        """Write the buffered entries (and ``fsync`` them)."""
        if self._buf:
            self._f.write(np.array(self._buf, dtype=_ENTRY).tobytes())
            self._buf = []
        self._f.flush()
        if sync:
            os.fsync(self._f.fileno())

    def read(self, entries: int | None = None) -> np.ndarray:
        """The first ``entries`` entries (all by default)."""
        self.flush()
        data = np.fromfile(self.path, dtype=_ENTRY)
        return data if entries is None else data[:entries]

    def close(self) -> None:
        """Close the file."""
        self.flush()
        self._f.close()


def segments(
    run_pos: np.ndarray, run_doc: np.ndarray, run_off: np.ndarray, n_samples: int, seq_len: int
) -> dict[str, np.ndarray]:
    """Cut a token stream made of runs into ``n_samples`` samples of ``seq_len``.

    Args:
        run_pos: Where each run starts in the stream (increasing; the first at 0).
        run_doc: The document of each run.
        run_off: The offset in its document of each run's first token.
        n_samples: Samples taken from the stream's start.
        seq_len: Tokens per sample.

    Returns:
        ``sample_seg``, ``seg_doc``, ``seg_offset``, ``seg_pos`` (see the module docstring).
    """
    end = n_samples * seq_len
    starts = np.arange(n_samples, dtype=np.int64) * seq_len
    pos = np.union1d(run_pos[run_pos < end], starts).astype(np.int64)
    run = np.searchsorted(run_pos, pos, side="right") - 1
    return {
        "sample_seg": np.searchsorted(pos, np.append(starts, end)).astype(np.int64),
        "seg_doc": run_doc[run].astype(np.int64),
        "seg_offset": (run_off[run] + pos - run_pos[run]).astype(np.int64),
        "seg_pos": (pos % seq_len).astype(np.int32) if seq_len else pos.astype(np.int32),
    }


def write_doc_map(folder: Path, arrays: dict[str, np.ndarray]) -> None:
    """Save the map's arrays into ``folder/csmpt_docmap``."""
    out = folder / DOCMAP_DIR
    out.mkdir(parents=True, exist_ok=True)
    for name, arr in arrays.items():
        with open_atomic(out / f"{name}.npy", "wb") as f:
            np.save(f, arr)


def split_doc_map(entries: np.ndarray, n_samples: int, seq_len: int) -> dict[str, np.ndarray]:
    """The map of a split from its documents' entries (stream start, file, line)."""
    n = len(entries)
    arrays = segments(
        entries["start"], np.arange(n, dtype=np.int64), np.zeros(n, np.int64), n_samples, seq_len
    )
    return arrays | {
        "doc_file": entries["file"].astype(np.int32),
        "doc_line": entries["line"].astype(np.int64),
        "doc_start": entries["start"].astype(np.int64),
    }


class DocumentMap:
    """Read a split's document map (memory-mapped).

    Args:
        folder: The split folder (``.../CORPUS/train``).
        inputs: The input paths, in the manifest's order (``file`` indexes them).

    Raises:
        FileNotFoundError: The folder has no document map.
    """

    def __init__(self, folder: str | Path, inputs: Sequence[str]) -> None:
        self.folder = Path(folder)
        d = self.folder / DOCMAP_DIR
        if not (d / "sample_seg.npy").is_file():
            raise FileNotFoundError(f"{self.folder}: no {DOCMAP_DIR}")
        self.inputs = list(inputs)
        self._a = {
            name: np.load(d / f"{name}.npy", mmap_mode="r")
            for name in ("sample_seg", "seg_doc", "seg_offset", "seg_pos", "doc_file", "doc_line")
        }

    @property
    def num_samples(self) -> int:
        """Samples the map covers."""
        return len(self._a["sample_seg"]) - 1

    def documents(self) -> list[tuple[str, int]]:
        """Every document of the split, in order: (input path, line or row)."""
        files, lines = self._a["doc_file"], self._a["doc_line"]
        return [(self.inputs[int(f)], int(n)) for f, n in zip(files, lines, strict=True)]

    def pieces(self, index: int) -> list[dict[str, Any]]:
        """The documents of sample ``index``, in order: file, line, token offset, position."""
        a = self._a
        lo, hi = int(a["sample_seg"][index]), int(a["sample_seg"][index + 1])
        out = []
        for k in range(lo, hi):
            doc = int(a["seg_doc"][k])
            out.append(
                {
                    "doc": doc,
                    "file": self.inputs[int(a["doc_file"][doc])],
                    "line": int(a["doc_line"][doc]),
                    "offset": int(a["seg_offset"][k]),
                    "pos": int(a["seg_pos"][k]),
                }
            )
        return out

    def __call__(self, index: int) -> list[str]:
        """``file:line`` of each document sample ``index`` holds, in order."""
        return [f"{p['file']}:{p['line']}" for p in self.pieces(index)]


def split_texts(folder: str | Path) -> list[str]:
    """The texts of the documents of a split (``.../CORPUS/val``), read back from its inputs.

    A split's own documents are what was held out of the others: ``val``'s texts are held-out
    text for a model trained on ``train`` (scored in bits per byte by ``csmpt merge --text``).

    Raises:
        FileNotFoundError: The folder has no document map or manifest.
        CsmptError: An input cannot be read.
    """
    from csmpt.corpus.readers import expand_inputs, read_documents
    from csmpt.mds.manifest import SplitManifest

    inputs = [i.path for i in SplitManifest.read(Path(folder)).inputs]
    wanted: dict[str, set[int]] = {}
    for path, line in DocumentMap(folder, inputs).documents():
        wanted.setdefault(path, set()).add(line)
    texts = []
    for path in inputs:
        lines = wanted.get(path)
        if lines:
            docs = read_documents(expand_inputs([path]))
            texts += [d.text for d in docs if d.line in lines and d.problem is None]
    return texts
