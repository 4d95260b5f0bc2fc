"""What csmpt's durability rule costs: ``csmpt.atomic.write_bytes`` against a plain write.

The anchor is the write most code does: the bytes into a temp file beside the target, then
``os.replace`` (atomic against a crash of the process, but not against a crash of the machine:
no ``fsync``). ``csmpt.atomic`` adds ``fsync`` of the file and of its folder, so that after a
power cut or a node reboot the new file is whole or the old one is still there. The two are run
alternately, ``--repeats`` times each, on the same folder's file system; the medians and their
ratio are printed for MDS-shard-sized files and for small files (manifests, events, configs).

    .venv/bin/python bench/atomic_write_cost.py [--dir DIR] [--repeats 5] [--small]
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from csmpt.atomic import write_bytes


def plain(path: Path, data: bytes) -> None:
    """The anchor: temp file + ``os.replace``, no fsync."""
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)


def timed(write: Callable[[Path, bytes], None], folder: Path, data: bytes, n: int) -> float:
    """Seconds to write ``n`` files of ``data`` into an empty ``folder``; the files removed."""
    t0 = time.perf_counter()
    for i in range(n):
        write(folder / f"shard.{i:05}.mds", data)
    seconds = time.perf_counter() - t0
    for p in folder.iterdir():
        p.unlink()
    return seconds


def main() -> None:
    """Print one row per file size: plain and atomic medians and their ratio."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--dir", default=None, help="Folder on the file system to measure.")
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--small", action="store_true", help="Tiny sizes (a smoke run).")
    args = ap.parse_args()
    cases = [(1 << 20, 4), (4_096, 20)] if args.small else [(64 << 20, 4), (100_000, 200)]
    load = os.getloadavg()[0]
    print(f"load average {load:.2f}, {args.repeats} alternating repeats, medians")
    print("| files | plain s | atomic s | atomic / plain | per file, extra |")
    print("|---|---:|---:|---:|---:|")
    with tempfile.TemporaryDirectory(dir=args.dir) as tmp:
        folder = Path(tmp)
        for size, n in cases:
            data = os.urandom(size)
            runs: dict[str, list[float]] = {"plain": [], "atomic": []}
            for _ in range(args.repeats):
                runs["plain"].append(timed(plain, folder, data, n))
                runs["atomic"].append(timed(write_bytes, folder, data, n))
            a, b = statistics.median(runs["plain"]), statistics.median(runs["atomic"])
            extra_ms = 1000 * (b - a) / n
            print(
                f"| {n} x {size / 1e6:.3g} MB | {a:.4g} | {b:.4g} | {b / a:.2f}x "
                f"| {extra_ms:.2f} ms |"
            )


if __name__ == "__main__":
    main()
