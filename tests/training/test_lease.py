"""One writer per run folder: the lease refuses a second live writer, takes over a dead one's."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from csmpt.training.lease import LEASE_FILE, LeaseHeldError, acquire_lease

_WRITER = """
import sys, time
from csmpt.training.lease import acquire_lease, LeaseHeldError
try:
    lease = acquire_lease(sys.argv[1], wait=0.5, settle=0.2)
except LeaseHeldError as e:
    print("refused:", e)
    sys.exit(2)
print("held")
sys.stdout.flush()
time.sleep(3)
lease.release()
"""


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def _lease(folder: Path, **fields: object) -> None:
    now = time.time()
    base = {"host": "vm", "pid": 1, "job": "", "token": "t", "started": now, "heartbeat": now}
    (folder / LEASE_FILE).write_text(json.dumps(base | fields))


def test_two_writers_started_together_one_is_refused_naming_the_holder(tmp_path: Path) -> None:
    env = {**os.environ, "SLURM_JOB_ID": "77"}
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", _WRITER, str(tmp_path)], stdout=subprocess.PIPE, text=True,
            env=env,
        )
        for _ in range(2)
    ]  # fmt: skip
    outs = [p.communicate(timeout=60)[0] for p in procs]
    codes = sorted(p.returncode for p in procs)
    assert codes == [0, 2], outs
    refused = next(o for o in outs if o.startswith("refused"))
    assert refused.count("\n") == 1 and "(job 77)" in refused and "pid" in refused
    assert not (tmp_path / LEASE_FILE).exists()  # released at the end


def test_a_dead_holders_lease_is_taken_over(tmp_path: Path, caplog) -> None:
    import socket

    _lease(tmp_path, host=socket.gethostname(), pid=_dead_pid())
    with acquire_lease(tmp_path, wait=0, settle=0) as lease:
        assert json.loads((tmp_path / LEASE_FILE).read_text())["pid"] == os.getpid()
        assert lease.info.token != "t"
    assert "taking over the lease" in caplog.text


def test_another_hosts_lease_counts_until_its_heartbeat_is_stale(tmp_path: Path) -> None:
    _lease(tmp_path, host="node-elsewhere", pid=12, heartbeat=time.time() - 5)
    with pytest.raises(LeaseHeldError, match=r"host node-elsewhere pid 12, heartbeat \d+ s ago"):
        acquire_lease(tmp_path, wait=0, stale_after=60)
    _lease(tmp_path, host="node-elsewhere", pid=12, heartbeat=time.time() - 120)
    acquire_lease(tmp_path, wait=0, stale_after=60, settle=0).release()


def test_heartbeat_refreshes_and_a_waiting_writer_gets_the_lease_when_it_ends(
    tmp_path: Path,
) -> None:
    lease = acquire_lease(tmp_path, interval=0.1)
    first = lease.info.heartbeat
    time.sleep(0.5)
    assert json.loads((tmp_path / LEASE_FILE).read_text())["heartbeat"] > first
    waiter = subprocess.Popen(
        [sys.executable, "-c", _WRITER.replace("wait=0.5", "wait=20"), str(tmp_path)],
        stdout=subprocess.PIPE,
        text=True,
    )
    time.sleep(1.0)
    lease.release()
    out, _ = waiter.communicate(timeout=60)
    assert waiter.returncode == 0 and out.startswith("held"), out


@pytest.mark.slow
def test_two_csmpt_trains_on_one_folder_one_trains_the_other_is_refused(
    tiny_overrides, tmp_path: Path
) -> None:
    """A double sbatch: both start together; one trains (each step logged once), one refuses."""
    run_dir = tmp_path / "run"
    args = tiny_overrides(run_dir, max_duration="6ba", save_interval="3ba", eval_interval="6ba")
    env = {**os.environ, "CSMPT_LEASE_WAIT": "0", "TMPDIR": str(tmp_path)}
    cmd = [sys.executable, "-m", "csmpt.training", "yamls/tiny/mpt.yaml", *args]
    procs = [
        subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for _ in range(2)
    ]
    results = [(p.wait(timeout=600), p.stderr.read() if p.stderr else "") for p in procs]
    codes = sorted(code for code, _ in results)
    assert codes == [0, 2], results
    refusal = next(err for code, err in results if code == 2)
    assert "Traceback" not in refusal  # (python -m csmpt.training also prints library warnings)
    assert "being written by another run" in refusal.strip().splitlines()[-1], refusal
    steps = [
        json.loads(line)["step"]
        for line in (run_dir / "metrics.jsonl").read_text().splitlines()
        if "loss/train/total" in line
    ]
    assert steps == sorted(set(steps)) and len(steps) == 6  # each step once
    assert not (run_dir / LEASE_FILE).exists()


def test_a_lease_file_being_created_is_waited_for_not_taken_over(tmp_path: Path) -> None:
    """A racing writer's O_EXCL file is empty until it writes and fsyncs its JSON; before, the
    second writer read "no holder" and took it over, and both trained (seen in CI under load)."""
    import socket
    import threading

    (tmp_path / LEASE_FILE).write_text("")  # just created by the other writer
    live = {"host": socket.gethostname(), "pid": 1}  # pid 1 runs: a live holder on this host
    threading.Timer(0.5, _lease, (tmp_path,), live).start()
    with pytest.raises(LeaseHeldError, match="pid 1"):
        acquire_lease(tmp_path, wait=0)
    # A file unreadable for longer than the grace is a torn leftover: taken over.
    (tmp_path / LEASE_FILE).write_text("{torn")
    old = time.time() - 3600
    os.utime(tmp_path / LEASE_FILE, (old, old))
    acquire_lease(tmp_path, wait=0, settle=0.1).release()
