"""FSDP2 on gloo: the gradient is the ranks' average (as NCCL's and DDP's), not their sum."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import torch

SCRIPT = Path(__file__).parents[1] / "fsdp2_gloo_ranks.py"


def _grads(tmp_path: Path, *flags: str) -> dict[str, torch.Tensor]:
    out = tmp_path / f"grads{'-'.join(flags)}.pt"
    done = subprocess.run(
        [sys.executable, str(SCRIPT), str(out), *flags], capture_output=True, text=True, timeout=180
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return torch.load(out)


def test_fsdp2_gradients_on_gloo_are_the_ranks_average(tmp_path: Path) -> None:
    got = _grads(tmp_path, "patched")
    mean = (got["per_rank"][0] + got["per_rank"][1]) / 2
    assert torch.allclose(got["fsdp2"], mean, rtol=1e-6, atol=1e-7)


def test_without_the_patch_torch_sums_them(tmp_path: Path) -> None:
    """The premise: torch 2.7.0's FSDP2 asks gloo for ReduceOp.AVG and gloo sums. Should a torch
    average on gloo by itself, this fails and the patch (then harmless) can go."""
    got = _grads(tmp_path)
    total = got["per_rank"][0] + got["per_rank"][1]
    if torch.allclose(got["fsdp2"], total / 2, rtol=1e-6):
        pytest.fail("this torch averages FSDP2 gradients on gloo: csmpt.training.gloo_average")
    assert torch.allclose(got["fsdp2"], total, rtol=1e-6, atol=1e-7)


def test_install_is_idempotent_and_leaves_other_backends_alone() -> None:
    from torch.distributed.fsdp._fully_shard import _fsdp_collectives as collectives

    from csmpt.training.gloo_average import install

    assert install() and install()
    wrapped = collectives._get_gradient_divide_factors
    assert wrapped.__wrapped__.__name__ == "_get_gradient_divide_factors"  # wrapped once
    not_a_group = object()  # no backend (None would mean the default group, gloo if one is up)
    assert wrapped(not_a_group, None, torch.float32, "cuda") == (None, None)  # untouched


def test_the_default_group_counts_its_ranks(gloo_default_group: int) -> None:
    """``None`` is the default process group: on gloo it is averaged over its ranks, not crashed."""
    from torch.distributed.fsdp._fully_shard import _fsdp_collectives as collectives

    from csmpt.training.gloo_average import install

    assert install()
    got = collectives._get_gradient_divide_factors(None, None, torch.float32, "cpu")
    assert got == (1.0, float(gloo_default_group))
