"""Job scripts that survive the time limit: SLURM's warning signal and PBS's deadline lead to a
checkpoint (exit 75) and a requeued job; the scheduler commands are stubs that record calls."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from csmpt.callbacks.signal_checkpoint import EXIT_REQUEUE, STOP_AT_ENV
from csmpt.errors import ConfigError
from csmpt.launch.render import EXIT_REQUEUE as TEMPLATE_REQUEUE_CODE
from csmpt.launch.render import LaunchSpec, render, walltime_seconds

REPO = Path(__file__).resolve().parents[2]


def _spec(scheduler: str, tmp_path: Path, **kw: object) -> LaunchSpec:
    base: dict[str, object] = {
        "scheduler": scheduler,
        "recipe": ["yamls/tiny/mpt.yaml", "autoresume=true"],
        "job_name": "tiny",
        "nodes": 2,
        "gpus_per_node": 1,
        "workdir": str(REPO),
        "python": sys.executable,
        "log_dir": str(tmp_path / "logs"),
        "time": "01:00:00",
        "signal_seconds": 300,
    }
    base.update(kw)
    return LaunchSpec(**base)  # type: ignore[arg-type]


def _stub(folder: Path, name: str, body: str) -> None:
    folder.mkdir(exist_ok=True)
    path = folder / name
    path.write_text("#!/bin/bash\n" + body)
    path.chmod(0o755)


def _record(folder: Path, name: str, calls: Path) -> None:
    _stub(folder, name, f'echo "{name} $*" >> {calls}\n')


def test_requeue_code_is_the_callbacks_exit_code() -> None:
    assert TEMPLATE_REQUEUE_CODE == EXIT_REQUEUE == 75


def test_slurm_script_asks_for_the_warning_signal_and_requeue(tmp_path: Path) -> None:
    script = render(_spec("slurm", tmp_path))
    assert "#SBATCH --signal=B:USR1@300\n" in script
    assert "#SBATCH --requeue\n" in script
    subprocess.run(["bash", "-n"], input=script, text=True, check=True)


def test_slurm_job_forwards_usr1_and_requeues_on_75(tmp_path: Path) -> None:
    """USR1 to the batch script reaches the steps (scancel); exit 75 requeues the job."""
    bin_dir, calls = tmp_path / "bin", tmp_path / "calls.txt"
    _record(bin_dir, "scancel", calls)
    _record(bin_dir, "scontrol", calls)
    # srun: the training step, checkpointing once told to (here: once scancel was called).
    _stub(
        bin_dir,
        "srun",
        f": > {tmp_path / 'srun.started'}\n"
        f"while ! grep -q scancel {calls} 2>/dev/null; do sleep 0.05; done\nexit {EXIT_REQUEUE}\n",
    )
    job = tmp_path / "job.sh"
    job.write_text(render(_spec("slurm", tmp_path)))
    env = {**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}", "SLURM_JOB_ID": "4242"}
    proc = subprocess.Popen(["bash", str(job)], env=env, stdout=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 30
    while not (tmp_path / "srun.started").exists():  # the script is waiting for srun
        assert time.monotonic() < deadline and proc.poll() is None, "srun never started"
        time.sleep(0.05)
    proc.send_signal(signal.SIGUSR1)  # SLURM: --signal=B:USR1@300
    out, _ = proc.communicate(timeout=30)
    assert proc.returncode == EXIT_REQUEUE, out
    assert calls.read_text().splitlines() == [
        "scancel --signal=USR1 4242",
        "scontrol requeue 4242",
    ]


def test_slurm_job_that_finishes_is_not_requeued(tmp_path: Path) -> None:
    bin_dir, calls = tmp_path / "bin", tmp_path / "calls.txt"
    _record(bin_dir, "scontrol", calls)
    _stub(bin_dir, "srun", "exit 0\n")
    job = tmp_path / "job.sh"
    job.write_text(render(_spec("slurm", tmp_path)))
    env = {**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}", "SLURM_JOB_ID": "7"}
    assert subprocess.run(["bash", str(job)], env=env, capture_output=True).returncode == 0
    assert not calls.exists()


def test_pbs_job_sets_a_deadline_and_resubmits_itself_on_75(tmp_path: Path) -> None:
    bin_dir, calls = tmp_path / "bin", tmp_path / "calls.txt"
    _record(bin_dir, "qsub", calls)
    # ssh runs the node's command line; the node reports the deadline it got and "checkpoints".
    _stub(
        bin_dir,
        "ssh",
        f'host=$1; shift\necho "$host $*" | grep -o "{STOP_AT_ENV}=[0-9]*" >> {calls}\n'
        f"exit {EXIT_REQUEUE}\n",
    )
    nodefile = tmp_path / "nodefile"
    nodefile.write_text("acn1\nacn2\n")
    script = render(_spec("pbs", tmp_path))
    assert "#PBS -r y\n" in script
    job = tmp_path / "job.sh"
    job.write_text(script)
    env = {
        **os.environ,
        "PATH": f"{bin_dir}:{os.environ['PATH']}",
        "PBS_NODEFILE": str(nodefile),
        "PBS_JOBID": "99.pbs",
    }
    started = time.time()
    done = subprocess.run(["bash", str(job)], env=env, capture_output=True, text=True)
    assert done.returncode == EXIT_REQUEUE, done.stderr
    lines = calls.read_text().splitlines()
    deadlines = [int(x.split("=")[1]) for x in lines if x.startswith(STOP_AT_ENV)]
    assert len(deadlines) == 2  # both nodes
    for deadline in deadlines:  # walltime 1 h minus the 300 s warning
        assert abs(deadline - (started + 3600 - 300)) < 5
    assert lines[-1] == (
        f"qsub -W depend=afterany:99.pbs -v CSMPT_SEGMENT=1 "
        f"-o {tmp_path / 'logs'}/tiny.segment-1.out {job}"
    )


def test_warning_time_must_fit_the_time_limit(tmp_path: Path) -> None:
    assert walltime_seconds("2-01:00:00") == 2 * 86400 + 3600
    assert walltime_seconds("45") == 45 * 60
    with pytest.raises(ConfigError, match="--signal-seconds 3600: must be above 0 and below"):
        render(_spec("slurm", tmp_path, signal_seconds=3600))
    with pytest.raises(ConfigError, match="write the limit as"):
        walltime_seconds("one hour")


def _pbs_job(tmp_path: Path, statuses: dict[str, int], extra_env: dict[str, str] | None = None):
    """Run the PBS script on two stub nodes that exit with ``statuses``; (status, qsub calls)."""
    bin_dir, calls = tmp_path / "bin", tmp_path / "calls.txt"
    _record(bin_dir, "qsub", calls)
    cases = "".join(f"  {host}) exit {code} ;;\n" for host, code in statuses.items())
    _stub(bin_dir, "ssh", f'case "$1" in\n{cases}esac\n')
    nodefile = tmp_path / "nodefile"
    nodefile.write_text("".join(f"{h}\n" for h in statuses))
    job = tmp_path / "job.sh"
    job.write_text(render(_spec("pbs", tmp_path, max_requeues=3)))
    env = {
        **os.environ,
        "PATH": f"{bin_dir}:{os.environ['PATH']}",
        "PBS_NODEFILE": str(nodefile),
        "PBS_JOBID": "5.pbs",
        **(extra_env or {}),
    }
    env.pop("CSMPT_RSH", None)
    done = subprocess.run(["bash", str(job)], env=env, capture_output=True, text=True)
    qsubs = calls.read_text().splitlines() if calls.exists() else []
    return done.returncode, qsubs


@pytest.mark.parametrize(
    ("first", "second", "status", "resubmitted"),
    [(0, 0, 0, False), (75, 75, 75, True), (0, 75, 75, True), (75, 0, 75, True),
     (1, 75, 1, False), (75, 1, 1, False), (0, 1, 1, False), (137, 75, 137, False),
     (75, 137, 137, False), (2, 1, 2, False)],
)  # fmt: skip
def test_pbs_status_does_not_depend_on_node_order(
    first: int, second: int, status: int, resubmitted: bool, tmp_path: Path
) -> None:
    """A real failure on any node is the job's status and is never resubmitted."""
    code, qsubs = _pbs_job(tmp_path, {"acn1": first, "acn2": second})
    assert code == status
    assert bool(qsubs) is resubmitted


def test_pbs_chain_stops_at_max_requeues(tmp_path: Path) -> None:
    code, qsubs = _pbs_job(tmp_path, {"acn1": 75, "acn2": 75}, {"CSMPT_SEGMENT": "2"})
    assert code == 75 and len(qsubs) == 1 and "CSMPT_SEGMENT=3" in qsubs[0]
    assert "tiny.segment-3.out" in qsubs[0]  # one log per segment
    (tmp_path / "calls.txt").unlink()
    code, qsubs = _pbs_job(tmp_path, {"acn1": 75, "acn2": 75}, {"CSMPT_SEGMENT": "3"})
    assert code == 75 and qsubs == []


def test_pbs_starts_nodes_with_pbs_tmrsh_where_it_exists(tmp_path: Path) -> None:
    bin_dir, calls = tmp_path / "bin", tmp_path / "tmrsh.txt"
    _stub(bin_dir, "pbs_tmrsh", f'echo "$1" >> {calls}\nexit 0\n')
    code, _ = _pbs_job(tmp_path, {"acn1": 1, "acn2": 1})  # ssh would fail both nodes
    assert code == 0 and sorted(calls.read_text().split()) == ["acn1", "acn2"]  # in parallel


def test_slurm_chain_stops_at_max_requeues(tmp_path: Path) -> None:
    bin_dir, calls = tmp_path / "bin", tmp_path / "calls.txt"
    _record(bin_dir, "scontrol", calls)
    _stub(bin_dir, "srun", f"exit {EXIT_REQUEUE}\n")
    job = tmp_path / "job.sh"
    job.write_text(render(_spec("slurm", tmp_path, max_requeues=4)))
    assert "#SBATCH --exclusive\n" in job.read_text() and "#SBATCH --mem=0\n" in job.read_text()
    for count, requeued in ((3, True), (4, False)):
        env = {**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}", "SLURM_JOB_ID": "8",
               "SLURM_RESTART_COUNT": str(count)}  # fmt: skip
        done = subprocess.run(["bash", str(job)], env=env, capture_output=True, text=True)
        assert done.returncode == EXIT_REQUEUE
        assert calls.exists() is requeued, done.stderr
        if not requeued:
            assert "--max-requeues 4" in done.stderr
        calls.unlink(missing_ok=True)
    with pytest.raises(ConfigError, match="--max-requeues -1"):
        render(_spec("slurm", tmp_path, max_requeues=-1))


@pytest.mark.parametrize(
    ("value", "message"),
    [("nan", "not a Unix time"), ("inf", "not a Unix time"), ("soon", "not a Unix time"),
     ("PAST", "the deadline passed")],
)  # fmt: skip
def test_a_deadline_that_cannot_work_is_refused_in_one_line(value: str, message: str) -> None:
    """CSMPT_STOP_AT in the past would give one step per job forever; NaN would never stop."""
    from csmpt.callbacks.signal_checkpoint import _stop_at

    raw = str(time.time() - 60) if value == "PAST" else value
    with pytest.raises(ConfigError, match=message) as e:
        _stop_at(raw)
    assert "\n" not in str(e.value) and "None" not in str(e.value)
    assert _stop_at("") is None
    ahead = time.time() + 600
    assert _stop_at(f" {ahead} ") == ahead


_GROUP_SIGNAL = """
import os, signal, sys, time
from multiprocessing import resource_tracker, shared_memory
from csmpt.callbacks.signal_checkpoint import SignalCheckpoint
cb = SignalCheckpoint(signals=["SIGUSR1"])
cb.init(None, None)
shm = shared_memory.SharedMemory(create=True, size=4096)  # as streaming's loaders do
tracker = resource_tracker._resource_tracker._pid
os.killpg(os.getpgid(0), signal.SIGUSR1)  # scancel --signal=USR1: the whole group
time.sleep(0.5)
alive = True
try:
    os.kill(tracker, 0)
except ProcessLookupError:
    alive = False
print("received", cb.received.name if cb.received else None, "tracker alive", alive)
shm.close()
shm.unlink()
"""


def test_a_group_signal_leaves_pythons_resource_tracker_alive(tmp_path: Path) -> None:
    """scancel --signal=USR1 reaches every process of the job: the tracker must not die of it."""
    done = subprocess.run(
        [sys.executable, "-c", _GROUP_SIGNAL],
        capture_output=True,
        text=True,
        start_new_session=True,  # its own process group, as a job step has
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert "received SIGUSR1 tracker alive True" in done.stdout
    assert "KeyError" not in done.stderr and "Traceback" not in done.stderr, done.stderr
