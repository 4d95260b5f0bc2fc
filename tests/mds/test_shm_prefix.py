"""Two processes building StreamingDatasets at the same moment: no shared-memory clash.

Streaming looks for a free shared-memory prefix, then creates it, with no lock between; each
child here widens that window to 0.5 s (a sleep after the look), so two children started
together both find prefix N free. Without csmpt's lock the second dies with streaming's
``FileExistsError`` (the control case: the bug is real in the pinned streaming); with it, the
second waits and takes the next prefix.

The same for two jobs of two ranks each (gloo process groups on one machine): every rank looks
for the prefix, not only the leader, so the lock must hold the other ranks back too; the control
there is the leader-only lock, under which the waiting job's second rank finds the other job's
prefix and streaming raises.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from procs import free_port

SLOW_LOOK = r"""
import os, sys, time
from pathlib import Path

from streaming.base.shared import prefix
from streaming import StreamingDataset

look = prefix._check_and_find

def slow_look(*args, **kwargs):
    found = look(*args, **kwargs)
    time.sleep(float(os.environ["WINDOW_S"]))  # the window between the look and the create
    return found

prefix._check_and_find = slow_look
"""

CHILD = (
    SLOW_LOOK
    + r"""
local, sync, lock = sys.argv[1], Path(sys.argv[2]), sys.argv[3] == "1"
if lock:
    from csmpt.mds import shm_prefix
    assert shm_prefix.install()
(sync / Path(local).name).touch()  # ready: imports done
while not (sync / "go").exists():  # both build at once
    time.sleep(0.01)
try:
    ds = StreamingDataset(local=local, batch_size=1)
except FileExistsError as e:
    print("clash", e)
    sys.exit(3)
print("prefix", ds._shm_prefix_int, flush=True)
time.sleep(1.5)  # hold the prefix while the other process registers
"""
)


def _write_shards(folder: Path) -> None:
    from streaming import MDSWriter

    with MDSWriter(out=str(folder), columns={"text": "str"}) as w:
        for i in range(4):
            w.write({"text": f"sample {i}"})


def _start_two(folder: Path, lock: bool, tmp_path: Path) -> list[tuple[int, str]]:
    sync = tmp_path / f"sync-{int(lock)}"
    sync.mkdir()
    env = {**os.environ, "TMPDIR": str(tmp_path), "WINDOW_S": "0.5"}
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", CHILD, str(folder / str(i)), str(sync), "1" if lock else "0"],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env=env,
        )
        for i in range(2)
    ]
    deadline = time.monotonic() + 120
    while not all((sync / str(i)).exists() for i in range(2)) and time.monotonic() < deadline:
        time.sleep(0.05)
    (sync / "go").touch()
    return [(p.wait(timeout=120), p.stdout.read() if p.stdout else "") for p in procs]


@pytest.mark.slow
def test_two_datasets_built_together_take_different_prefixes(tmp_path: Path) -> None:
    for i in range(2):
        _write_shards(tmp_path / "mds" / str(i))
    locked = _start_two(tmp_path / "mds", lock=True, tmp_path=tmp_path)
    assert [rc for rc, _ in locked] == [0, 0], locked
    prefixes = {out.split("prefix ")[1].split()[0] for _, out in locked}
    assert len(prefixes) == 2, locked  # each its own shared memory
    # The control: the same two children without the lock clash (streaming's open race).
    unlocked = _start_two(tmp_path / "mds", lock=False, tmp_path=tmp_path)
    assert sorted(rc for rc, _ in unlocked) == [0, 3], unlocked
    assert any("File exists" in out for _, out in unlocked), unlocked


RANK_CHILD = (
    SLOW_LOOK
    + r"""
import torch.distributed as dist
from csmpt.mds import shm_prefix

local, sync, mode = sys.argv[1], Path(sys.argv[2]), sys.argv[3]

assert shm_prefix.install()
if mode == "leader":  # the control: the leader-only lock (no barrier for the other ranks)
    shm_prefix._distributed = lambda: False
dist.init_process_group("gloo")
me = f"{Path(local).name}-{os.environ['RANK']}"
(sync / me).touch()  # ready: imports done, process group up
while not (sync / "go").exists():  # all four build at once
    time.sleep(0.01)
try:
    ds = StreamingDataset(local=local, batch_size=1)
except (FileExistsError, RuntimeError) as e:
    print("clash", e, flush=True)
    sys.exit(3)
print("prefix", ds._shm_prefix_int, flush=True)
time.sleep(2.0)  # hold the prefix while the other job registers
"""
)


def _start_two_jobs(folder: Path, mode: str, tmp_path: Path) -> dict[str, tuple[int, str]]:
    """Jobs 0 and 1, two ranks each, on one machine; ``{"JOB-RANK": (rc, output)}``."""
    sync = tmp_path / f"sync-{mode}"
    sync.mkdir()
    procs = {}
    for job in range(2):
        port = free_port()
        for rank in range(2):
            env = {
                **os.environ,
                "TMPDIR": str(tmp_path),
                "WINDOW_S": "1.0",
                "OMP_NUM_THREADS": "1",
                "MASTER_ADDR": "127.0.0.1",
                "MASTER_PORT": str(port),
                "WORLD_SIZE": "2",
                "RANK": str(rank),
                "LOCAL_RANK": str(rank),
                "LOCAL_WORLD_SIZE": "2",
            }
            procs[f"{job}-{rank}"] = subprocess.Popen(
                [sys.executable, "-c", RANK_CHILD, str(folder / str(job)), str(sync), mode],
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
                env=env,
            )
    deadline = time.monotonic() + 180
    while not all((sync / name).exists() for name in procs) and time.monotonic() < deadline:
        time.sleep(0.05)
    (sync / "go").touch()
    return {
        name: (p.wait(timeout=180), p.stdout.read() if p.stdout else "")
        for name, p in procs.items()
    }


@pytest.mark.slow
def test_two_multi_rank_jobs_built_together_take_different_prefixes(tmp_path: Path) -> None:
    for i in range(2):
        _write_shards(tmp_path / "mds" / str(i))
    done = _start_two_jobs(tmp_path / "mds", mode="all", tmp_path=tmp_path)
    assert all(rc == 0 for rc, _ in done.values()), done
    prefix = {name: out.split("prefix ")[1].split()[0] for name, (_, out) in done.items()}
    assert prefix["0-0"] == prefix["0-1"] and prefix["1-0"] == prefix["1-1"], done
    assert prefix["0-0"] != prefix["1-0"], done  # each job its own shared memory
    # The control: a lock on the leaders only; the waiting job's other rank looked too early.
    control = _start_two_jobs(tmp_path / "mds", mode="leader", tmp_path=tmp_path)
    failed = [out for rc, out in control.values() if rc != 0]
    assert failed and all("clash" in out for out in failed), control
