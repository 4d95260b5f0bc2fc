"""csmpt launch: rendered SLURM / PBS scripts (golden files), the per-node commands they run,
rendezvous from a scheduler's environment, a file:// rendezvous, and a real 2-process CPU run."""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
from procs import free_port
from typer.testing import CliRunner

from csmpt.cli.app import app
from csmpt.errors import ConfigError
from csmpt.launch import LaunchSpec, expand_hostlist, recipe_overrides, render, slurm_rendezvous
from csmpt.launch.node import node_rendezvous

REPO = Path(__file__).resolve().parents[2]
GOLDEN = REPO / "tests" / "golden"
RECIPE = "yamls/csmpt7b/csmpt7b.yaml"


def _spec(scheduler: str, **kw: object) -> LaunchSpec:
    extra, name = recipe_overrides(REPO / RECIPE, ["max_duration=1000ba"])
    base: dict[str, object] = {
        "scheduler": scheduler,
        "recipe": [RECIPE, *extra],
        "job_name": name,
        "nodes": 2,
        "gpus_per_node": 8,
        "workdir": "/shared/csmpt",
        "python": "/shared/csmpt/.venv/bin/python",
        "log_dir": f"logs/{name}",
        "directives": ["--account=abc@a100"] if scheduler == "slurm" else ["-A OPEN-00-00"],
    }
    base.update(kw)
    return LaunchSpec(**base)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("scheduler", "golden", "rdzv"),
    [
        ("slurm", "slurm_2x8.sbatch", None),
        ("pbs", "pbs_2x8.qsub", None),
        ("pbs", "pbs_2x8_file_rdzv.qsub", "file:///scratch/project/rdzv"),
    ],
)
def test_rendered_script_matches_golden(scheduler: str, golden: str, rdzv: str | None) -> None:
    script = render(_spec(scheduler, rdzv=rdzv))
    path = GOLDEN / golden
    if os.environ.get("CSMPT_UPDATE_GOLDEN") == "1":
        path.write_text(script)
    assert script == path.read_text(), f"regenerate with CSMPT_UPDATE_GOLDEN=1 if intended: {path}"
    assert "world size 16" in script
    subprocess.run(["bash", "-n"], input=script, text=True, check=True)  # valid bash


def _node_lines(out: str) -> dict[int, list[str]]:
    nodes = {}
    for line in out.splitlines():
        if line.startswith("node "):
            head, _, cmd = line.partition(": ")
            nodes[int(head.split()[1].split("/")[0])] = shlex.split(cmd)
    return nodes


def _stub(folder: Path, name: str, body: str) -> None:
    path = folder / name
    path.write_text("#!/bin/bash\n" + body)
    path.chmod(0o755)


def _run_script(script: str, tmp_path: Path, env: dict[str, str]) -> dict[int, list[str]]:
    path = tmp_path / "job.sh"
    path.write_text(script)
    full = {**os.environ, **env, "CSMPT_LAUNCH_PRINT": "1"}
    full["PATH"] = f"{tmp_path / 'bin'}:{full['PATH']}"
    done = subprocess.run(["bash", str(path)], capture_output=True, text=True, env=full)
    assert done.returncode == 0, done.stderr
    return _node_lines(done.stdout)


def _check_node(argv: list[str], rank: int, master: str) -> None:
    i = argv.index("--world_size")
    assert argv[i : i + 10] == [
        *("--world_size", "16", "--node_rank", str(rank), "--master_addr", master),
        *("--master_port", "29500", "-n", "8"),
    ]
    assert argv[argv.index("-m") + 1 :][:2] == ["csmpt.launch.worker", RECIPE]
    assert "max_duration=1000ba" in argv


def test_slurm_script_gives_each_node_its_rank_and_the_master(tmp_path: Path) -> None:
    (tmp_path / "bin").mkdir()
    # srun: one task per node, SLURM_NODEID set per task (what SLURM does).
    _stub(
        tmp_path / "bin",
        "srun",
        'while [[ "$1" == --* ]]; do shift; done\n'
        'for i in $(seq 0 $((SLURM_NNODES - 1))); do SLURM_NODEID=$i "$@" || exit 1; done\n',
    )
    spec = _spec(
        "slurm",
        workdir=str(REPO),
        python=sys.executable,
        log_dir=str(tmp_path / "logs"),
        rdzv="file:///shared/rdzv",
    )
    env = {"SLURM_NNODES": "2", "SLURM_JOB_NODELIST": "gpu[007-008]", "SLURM_JOB_ID": "4242"}
    nodes = _run_script(render(spec), tmp_path, env)
    assert sorted(nodes) == [0, 1]
    for rank, argv in nodes.items():
        assert argv[0] == f"CSMPT_LOG_DIR={tmp_path / 'logs'}"
        assert argv[1] == "CSMPT_RDZV=file:///shared/rdzv/csmpt7b.4242.rdzv"  # one file per job
        _check_node(argv[2:], rank, "gpu007")


def test_pbs_script_gives_each_node_its_rank_and_the_master(tmp_path: Path) -> None:
    (tmp_path / "bin").mkdir()
    _stub(tmp_path / "bin", "ssh", 'host=$1; shift; bash -c "$*"\n')  # ssh runs a command line
    nodefile = tmp_path / "nodefile"
    nodefile.write_text("acn12\n" * 8 + "acn07\n" * 8)  # PBS lists a host once per process
    spec = _spec("pbs", workdir=str(REPO), python=sys.executable, log_dir=str(tmp_path / "logs"))
    spec.recipe.append("variables.note=${variables.run_name} x")  # quoting survives ssh
    nodes = _run_script(render(spec), tmp_path, {"PBS_NODEFILE": str(nodefile)})
    assert sorted(nodes) == [0, 1]
    for rank, argv in nodes.items():
        _check_node(argv[1:], rank, "acn12")
        assert argv[-1] == "variables.note=${variables.run_name} x"


def test_hostlist_and_slurm_environment() -> None:
    assert expand_hostlist("gpu[001-003,010],login1") == [
        *("gpu001", "gpu002", "gpu003", "gpu010", "login1")
    ]
    assert expand_hostlist("r[1-2]i[3-4]") == ["r1i3", "r1i4", "r2i3", "r2i4"]
    env = {"SLURM_NNODES": "2", "SLURM_NODEID": "1", "SLURM_JOB_NODELIST": "jz[0100-0101]"}
    rdzv = slurm_rendezvous(env, nproc=8)
    assert (rdzv.node_rank, rdzv.world_size, rdzv.base_rank, rdzv.master_addr) == (
        1,
        16,
        8,
        "jz0100",
    )
    with pytest.raises(ConfigError, match="2 nodes, the launch script expects 4"):
        node_rendezvous("slurm", env, 8, nnodes=4)
    with pytest.raises(ConfigError, match="malformed"):
        expand_hostlist("gpu[001-")
    with pytest.raises(ConfigError, match="SLURM_NODEID"):
        slurm_rendezvous({"SLURM_NNODES": "2"}, nproc=8)


def test_cli_dry_run_and_its_errors(tmp_path: Path) -> None:
    runner = CliRunner()
    args = ["launch", "--scheduler", "slurm", "--nodes", "2", "--dry-run", "--no-check", RECIPE]
    res = runner.invoke(app, [*args, "max_duration=1000ba"])
    assert res.exit_code == 0, res.output
    assert "#SBATCH --nodes=2" in res.output and "--nnodes 2 --nproc 8" in res.output
    bad = [
        (["--scheduler", "local", "--nodes", "2"], "runs on this machine only"),
        (["--scheduler", "pbs", "--rdzv", "file://relative/x"], "file:///absolute"),
        (["--scheduler", "lsf"], "choose one of"),
    ]
    for extra, message in bad:
        res = runner.invoke(app, ["launch", "--dry-run", *extra, RECIPE])
        assert res.exit_code == 2 and message in res.output, res.output
    no_save = tmp_path / "r.yaml"
    no_save.write_text("run_name: x\nmax_duration: 1ba\n")
    res = runner.invoke(app, ["launch", "--dry-run", str(no_save)])
    assert res.exit_code == 2 and "no save_folder" in res.output
    # A recipe without a run name gets a stable one, and autoresume is switched on.
    no_name = tmp_path / "myrun.yaml"
    no_name.write_text("save_folder: /tmp/x\n")
    assert recipe_overrides(no_name, [])[0] == ["run_name=myrun", "autoresume=true"]


def test_submit_checks_the_recipe_then_calls_sbatch(tiny_overrides, tmp_path: Path) -> None:
    (tmp_path / "bin").mkdir()
    _stub(tmp_path / "bin", "sbatch", f'cp "$1" {tmp_path}/submitted.sh\necho "Submitted 7"\n')
    env = {"PATH": f"{tmp_path / 'bin'}:{os.environ['PATH']}"}
    args = ["launch", "--scheduler", "slurm", "--nodes", "2", "--log-dir", str(tmp_path / "logs")]
    runner = CliRunner()
    bad = runner.invoke(app, [*args, "yamls/tiny/mpt.yaml", "variables.data_local=/nonexistent"])
    assert bad.exit_code == 2 and "/nonexistent" in bad.output, bad.output
    assert not (tmp_path / "submitted.sh").exists()  # nothing queued for a broken recipe
    res = runner.invoke(
        app, [*args, "yamls/tiny/mpt.yaml", *tiny_overrides(tmp_path / "run")], env=env
    )
    assert res.exit_code == 0, res.output
    submitted = (tmp_path / "submitted.sh").read_text()
    [kept] = (tmp_path / "logs").glob("tiny-mpt.*.sbatch")  # the script stays with the logs
    assert kept.read_text() == submitted and "#SBATCH --nodes=2" in submitted


_REDUCE = """
import os, sys, torch, torch.distributed as tdist
from csmpt.launch.worker import init_file_rendezvous
init_file_rendezvous(sys.argv[1], timeout_s=120)
t = torch.tensor([float(os.environ["RANK"]) + 1])
tdist.all_reduce(t)
print(tdist.get_backend(), t.item())
"""


def test_file_rendezvous_joins_two_processes(tmp_path: Path) -> None:
    url = f"file://{tmp_path / 'job.rdzv'}"
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", _REDUCE, url],
            env={**os.environ, "RANK": str(rank), "WORLD_SIZE": "2", "CUDA_VISIBLE_DEVICES": ""},
            stdout=subprocess.PIPE,
            text=True,
        )
        for rank in (0, 1)
    ]
    outs = [p.communicate(timeout=300)[0].strip() for p in procs]
    assert outs == ["gloo 3.0", "gloo 3.0"]


@pytest.mark.slow
def test_local_launch_trains_with_two_processes(tiny_overrides, tmp_path: Path) -> None:
    run_dir, log_dir = tmp_path / "run", tmp_path / "logs"
    overrides = tiny_overrides(
        run_dir,
        max_duration="4ba",
        eval_interval="4ba",
        save_interval="4ba",
        global_train_batch_size=4,
        device_train_microbatch_size=2,
    )
    cmd = [str(Path(sys.executable).parent / "csmpt"), "launch", "--scheduler", "local"]
    cmd += ["--nproc", "2", "--log-dir", str(log_dir), "--master-port", str(free_port())]
    cmd += ["yamls/tiny/mpt.yaml", *overrides]
    done = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    r0, r1 = (json.loads((log_dir / f"rank{r}.json").read_text()) for r in (0, 1))
    assert (r0["rank"], r1["rank"], r0["world_size"], r0["step"], r1["step"]) == (0, 1, 2, 4, 4)
    assert r0["loss"] == r1["loss"]  # the logged loss: all-reduced over the two ranks
    # Each rank saw its own half of the batch, and their mean is the logged loss ...
    assert r0["rank_loss"] != r1["rank_loss"]
    assert (r0["rank_loss"] + r1["rank_loss"]) / 2 == pytest.approx(r0["loss"], rel=1e-6)
    # ... and after 4 DDP steps both ranks hold the same weights.
    assert (r0["weight_sum"], r0["weight_sq_sum"]) == (r1["weight_sum"], r1["weight_sq_sum"])
    steps = [json.loads(x)["step"] for x in (run_dir / "metrics.jsonl").read_text().splitlines()]
    assert max(steps) == 4
    assert (log_dir / "rank1.out").is_file()
