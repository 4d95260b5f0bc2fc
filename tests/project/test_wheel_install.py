"""A wheel install (``pip install .``, not editable) renders a SLURM job script and scaffolds a
project: the launch templates and the base models' configs ship as package data, not files read
from the repository root."""

from __future__ import annotations

import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
GOLDEN = REPO / "tests" / "golden" / "slurm_2x8.sbatch"

# Runs inside the wheel's venv, from a folder outside the repository: the same spec as
# tests/launch/test_launch.py's golden SLURM script.
_RENDER = f"""
import csmpt, sys
from csmpt.launch import LaunchSpec, recipe_overrides, render
recipe = "yamls/csmpt7b/csmpt7b.yaml"
extra, name = recipe_overrides({str(REPO)!r} + "/" + recipe, ["max_duration=1000ba"])
spec = LaunchSpec(
    scheduler="slurm", recipe=[recipe, *extra], job_name=name, nodes=2, gpus_per_node=8,
    workdir="/shared/csmpt", python="/shared/csmpt/.venv/bin/python", log_dir=f"logs/{{name}}",
    directives=["--account=abc@a100"],
)
print(csmpt.__file__, file=sys.stderr)
sys.stdout.write(render(spec))
"""


def test_wheel_install_renders_slurm_script(tmp_path: Path) -> None:
    src = tmp_path / "src"
    shutil.copytree(
        REPO / "csmpt", src / "csmpt", ignore=shutil.ignore_patterns("__pycache__", "*.pyc")
    )
    for name in ("pyproject.toml", "README.md", "LICENSE"):
        shutil.copy(REPO / name, src / name)
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "-q"]
    offline = ["--no-deps", "--no-index", "--no-build-isolation"]
    subprocess.run([*pip, "wheel", *offline, "-w", str(tmp_path / "dist"), str(src)], check=True)
    wheel = next((tmp_path / "dist").glob("csmpt-*.whl"))

    # A fresh venv that sees this environment's dependencies (a .pth line) but not its csmpt:
    # the editable install's own .pth is not processed from a directory a .pth line adds.
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    py = venv / "bin" / "python"
    site = subprocess.run(
        [str(py), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    Path(site, "_deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    subprocess.run(
        [str(py), "-m", "pip", "--disable-pip-version-check", "-q", "install", "--no-deps"]
        + ["--no-index", "--ignore-installed", str(wheel)],
        check=True,
    )

    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    done = subprocess.run(
        [str(py), "-c", _RENDER], cwd=elsewhere, check=True, capture_output=True, text=True
    )
    assert Path(done.stderr.strip().splitlines()[-1]).is_relative_to(site)  # the wheel's csmpt
    assert done.stdout == GOLDEN.read_text()
    assert "#SBATCH --nodes=2" in done.stdout

    # The installed command renders one too, and the templates are inside the wheel's package.
    cli = subprocess.run(
        [str(venv / "bin" / "csmpt"), "launch", "--scheduler", "slurm", "--nodes", "2"]
        + [
            "--dry-run",
            "--no-check",
            "--workdir",
            str(REPO),
            str(REPO / "yamls/csmpt7b/csmpt7b.yaml"),
        ],
        cwd=elsewhere,
        check=True,
        capture_output=True,
        text=True,
    )
    assert cli.stdout.startswith("#!/bin/bash") and "#SBATCH --nodes=2" in cli.stdout
    assert (Path(site) / "csmpt" / "launch" / "templates" / "slurm.sbatch").is_file()
    # csmpt init reads the base models' configs from the package too.
    subprocess.run(
        [str(venv / "bin" / "csmpt"), "init", "proj", "--base", "llama-3-8b", "--language", "sk"],
        cwd=elsewhere,
        check=True,
        capture_output=True,
    )
    assert "FFN 14336" in (elsewhere / "proj" / "train.yaml").read_text()
