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
    assert lines[-1] == f"qsub -W depend=afterany:99.pbs {job}"


def test_warning_time_must_fit_the_time_limit(tmp_path: Path) -> None:
    assert walltime_seconds("2-01:00:00") == 2 * 86400 + 3600
    assert walltime_seconds("45") == 45 * 60
    with pytest.raises(ConfigError, match="--signal-seconds 3600: must be above 0 and below"):
        render(_spec("slurm", tmp_path, signal_seconds=3600))
    with pytest.raises(ConfigError, match="write the limit as"):
        walltime_seconds("one hour")
