"""The GPU path: CUDA-only checks (skipped without a GPU) and bench/gpu_check.sh's CPU dry run."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
import torch

from csmpt.run_folder import loss_curve
from csmpt.training import run_training

BENCH = Path(__file__).resolve().parents[2] / "bench"
_spec = importlib.util.spec_from_file_location("gpu_check_report", BENCH / "gpu_check_report.py")
assert _spec is not None and _spec.loader is not None
gpu_check_report = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(gpu_check_report)
_spec = importlib.util.spec_from_file_location("gpu_closure", BENCH / "gpu_closure.py")
assert _spec is not None and _spec.loader is not None
gpu_closure = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(gpu_closure)


def _rows(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().split("\n") if line]


def _dry_run(repo: Path, out: Path, wheels: Path, python: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["bash", str(repo / "bench/gpu_check.sh"), str(out), "--dry-run", "--wheels", str(wheels)],
        env={**os.environ, "PYTHON": python},
        capture_output=True,
        text=True,
        timeout=600,
    )


def test_gpu_check_dry_run_gets_to_the_cuda_check_and_says_what_it_would_run(
    repo: Path, tmp_path: Path
) -> None:
    out, wheels = tmp_path / "out", tmp_path / "no_wheels"
    proc = _dry_run(repo, out, wheels, sys.executable)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    rows = _rows(out / "rows.jsonl")
    env = next(r for r in rows if r["part"] == "env")
    assert env["torch"] == torch.__version__ and env["llm-foundry"] == "0.22.0"
    assert env["composer"] == "0.32.1"
    imports = {r["module"]: r for r in rows if r["part"] == "import"}
    assert {"composer", "llmfoundry", "streaming", "csmpt.training"} <= set(imports)
    assert all(r["ok"] for r in imports.values()), [r for r in imports.values() if not r["ok"]]
    assert imports["csmpt.training"]["file"].startswith(str(repo))  # the repository's code
    assert f"no carried wheels in {wheels}/wheels" in proc.stdout
    steps = [r for r in rows if r["part"] == "step"]
    assert steps[0]["name"] == "install"
    if torch.cuda.is_available():
        assert "CUDA is here" in proc.stdout and steps[-1]["status"] == "ok"
    else:
        assert "CUDA check: no CUDA device" in proc.stdout
        assert steps[-1]["status"] == "no CUDA device (dry run)"
    for part in (
        "gpu_check_kernels.py",
        "pytest -m gpu -k 'not flex'",
        "tests/models/test_flex_attention.py",
        "throughput",
        "FSDP FULL_SHARD",
        "SIGKILL after 21",
        "pytest -m gpu -k flex",
        "gpu_check_report.py",
    ):
        assert part in proc.stdout, part  # fmt: skip
    assert not any(r["part"] == "kernels" for r in rows)  # nothing beyond the CUDA check ran
    assert sorted(p.name for p in out.iterdir()) == ["install.log", "rows.jsonl"]


def _image_python() -> str | None:
    given = os.environ.get("GPU_IMAGE_PYTHON")
    default = Path.home() / ".cache/csmpt/gpu_image_py312"
    if given:
        return given
    return str(default / "bin/python") if (default / ".csmpt-image").is_file() else None


def test_gpu_check_dry_run_installs_the_carried_wheels_and_the_stack_imports_on_the_image(
    repo: Path, tmp_path: Path
) -> None:
    """The carried closure, installed as on the GPU image, imports under the image's packages."""
    wheels = Path(os.environ.get("GPU_WHEELS", repo / "artifacts/gpu_wheels"))
    image = _image_python()
    if image is None or not list((wheels / "wheels").glob("*.whl")):
        pytest.skip(
            "needs the carried wheels and a Python with only the GPU image's packages: run "
            "bench/gpu_wheels.sh (registry access, python3.12, ~3 GB) and set GPU_IMAGE_PYTHON "
            f"(found wheels: {wheels}/wheels, image Python: {image})"
        )
    out = tmp_path / "out"
    proc = _dry_run(repo, out, wheels, image)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    rows = _rows(out / "rows.jsonl")
    env = next(r for r in rows if r["part"] == "env")
    assert env["python"].startswith("3.12") and env["llm-foundry"] == "0.22.0"
    install = next(r for r in rows if r.get("name") == "install")
    assert install["status"] == "ok" and install["wheels"] == len(list(wheels.glob("wheels/*.whl")))
    imports = {r["module"]: r for r in rows if r["part"] == "import"}
    assert all(r["ok"] for r in imports.values()), [r for r in imports.values() if not r["ok"]]
    assert imports["llmfoundry"]["file"].startswith(tempfile.gettempdir())  # the carried one
    assert imports["csmpt.training"]["file"].startswith(str(repo))  # not the carried csmpt wheel


def test_throughput_part_records_a_row_for_each_attention_even_when_each_times_out(
    tmp_path: Path,
) -> None:
    rows_file = tmp_path / "rows.jsonl"
    proc = subprocess.run(
        [sys.executable, str(BENCH / "gpu_check_train.py"), "throughput", "--cpu", "--seq", "32",
         "--steps", "2", "--timeout", "3", "--out", str(rows_file)],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-2000:]
    rows = _rows(rows_file)
    assert [r["impl"] for r in rows] == [
        "csmpt_sdpa_alibi",
        "torch",
        "csmpt_sdpa_alibi@fsdp2",
        "csmpt_flex_alibi",
    ]
    assert all(r["part"] == "train" and r["error"].startswith("timed out") for r in rows)


def test_report_names_each_missing_row_and_why_and_shows_the_kill_step(tmp_path: Path) -> None:
    rows = [
        {"part": "env", "device": "NVIDIA H200", "torch": "2.11.0", "composer": "0.32.1"},
        {"part": "step", "name": "install", "status": "ok", "seconds": 19},
        {"part": "kernels", "what": "matmul_bf16_tflops", "value": 780.0},
        {"part": "kernels", "what": "attention", "impl": "csmpt_sdpa_alibi", "ms": 3.2},
        {"part": "step", "name": "kernels", "status": "timed out after 60s", "seconds": 60},
        {"part": "train", "impl": "csmpt_sdpa_alibi", "tokens_per_s": 1e5, "mfu": 0.4},
        {"part": "train", "impl": "torch", "error": "timed out after 27s"},
        {"part": "step", "name": "train", "status": "timed out after 80s", "seconds": 80},
        {"part": "resume", "phase": "killed", "killed_after_step": 22},
    ]
    (tmp_path / "rows.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows) + '{"tor')
    lines, missing = gpu_check_report.table(gpu_check_report.read_rows(tmp_path / "rows.jsonl"))
    text = "\n".join(lines)
    assert "| attention fwd+bwd | csmpt_sdpa_alibi | 3.20 ms" in text
    assert "| 350M FSDP bf16 | torch | error: timed out after 27s |" in text
    assert "| kill + autoresume | SIGKILL landed after step | 22 |" in text
    assert "attention fwd+bwd / torch: missing: kernels timed out after 60s" in missing
    assert "350M FSDP bf16 / csmpt_flex_alibi: missing: train timed out after 80s" in missing
    assert "pytest -m gpu / quick: missing: the step never ran (the check stopped before it)" in (
        missing
    )
    assert "350M FSDP bf16 / csmpt_sdpa_alibi@fsdp2: missing: train timed out after 80s" in missing
    assert "350M FSDP bf16 / csmpt_sdpa_alibi:" not in " ".join(missing)
    assert "FSDP1 sharded fixture / saved to OUT/fsdp1: missing: the step never ran" in (
        " ".join(missing)
    )


@pytest.mark.gpu
def test_tiny_mpt_trains_in_bf16_on_gpu(tiny_overrides, tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    trainer = run_training(
        "yamls/tiny/mpt.yaml",
        tiny_overrides(
            run_dir,
            max_duration="20ba",
            eval_interval="20ba",
            save_interval="20ba",
            precision="amp_bf16",
            **{"model.init_device": "cuda"},
        ),
    )
    assert next(trainer.state.model.parameters()).is_cuda
    losses = [v for _, v in loss_curve(run_dir / "metrics.jsonl")]
    assert len(losses) == 20 and losses[-1] < losses[0] - 1.0


@pytest.mark.gpu
def test_flex_recipe_trains_in_bf16_on_gpu_like_sdpa(tiny_overrides, tmp_path: Path) -> None:
    from csmpt.models import flex_attention

    curves = {}
    for recipe in ("mpt_sdpa", "mpt_flex"):
        run_dir = tmp_path / recipe
        run_training(
            f"yamls/tiny/{recipe}.yaml",
            tiny_overrides(
                run_dir, max_duration="20ba", eval_interval="20ba", save_interval="20ba",
                precision="amp_bf16", **{"model.init_device": "cuda"},
            ),
        )  # fmt: skip
        curves[recipe] = [v for _, v in loss_curve(run_dir / "metrics.jsonl")]
    assert "cuda" in flex_attention._compiled  # the compiled kernel ran
    assert len(curves["mpt_flex"]) == 20 and curves["mpt_flex"][-1] < curves["mpt_flex"][0] - 1.0
    assert curves["mpt_flex"] == pytest.approx(curves["mpt_sdpa"], rel=3e-2)  # bf16 noise


def test_resume_part_records_the_phase_that_timed_out_and_no_verdict(tmp_path: Path) -> None:
    rows_file = tmp_path / "rows.jsonl"
    proc = subprocess.run(
        [sys.executable, str(BENCH / "gpu_check_train.py"), "resume", "--cpu", "--timeout", "2",
         "--data", str(tmp_path / "data"), "--work", str(tmp_path / "runs"),
         "--out", str(rows_file)],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-2000:]
    reference, compare = _rows(rows_file)
    assert reference["phase"] == "reference" and reference["error"].startswith("timed out")
    assert compare["phase"] == "compare" and compare["complete"] is False
    assert compare["killed_after_step"] is None
    assert compare["losses_equal_within_bf16_noise"] is False


def test_closure_maps_each_import_failure_to_the_distribution_to_carry() -> None:
    needs, dist = gpu_closure._needs, gpu_closure._distribution
    hub = ImportError(
        "huggingface-hub>=0.30.0,<1.0 is required for a normal functioning of this module, "
        "but found huggingface-hub==1.33.0."
    )
    assert needs(hub) == "huggingface-hub" and dist("huggingface-hub") == "huggingface-hub"
    assert dist(needs(ModuleNotFoundError("No module named 'mlflow'", name="mlflow"))) == (
        "mlflow-skinny"  # not mlflow's 29 MB wheel, though both install the package
    )
    assert dist("opentelemetry.sdk") == "opentelemetry-sdk"  # a namespace package's part
    assert dist("opentelemetry", frozenset({"opentelemetry-sdk"})) != "opentelemetry-sdk"
    assert dist("pkg_resources") == "setuptools"
    gone = ImportError("cannot import name 'X' from 'transformers.utils'", name="transformers.x")
    assert dist(needs(gone)) == "transformers"
    assert needs(RuntimeError("CUDA driver missing")) is None
