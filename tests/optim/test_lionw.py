"""csmpt_lionw makes exactly decoupled_lionw's updates and shares its checkpoints."""

from __future__ import annotations

import copy

import pytest
import torch
from llmfoundry.optim import DecoupledLionW

from csmpt.optim import LionW

SHAPES = [(37, 19), (300,), (64, 64), (5, 3, 7), (1,)]
KW = {"lr": 1e-2, "betas": (0.9, 0.95), "weight_decay": 1e-4}


def _params(seed: int = 0) -> list[torch.nn.Parameter]:
    g = torch.Generator().manual_seed(seed)
    return [torch.nn.Parameter(torch.randn(s, generator=g)) for s in SHAPES]


def _step(opt: torch.optim.Optimizer, params: list[torch.nn.Parameter], step: int) -> None:
    g = torch.Generator().manual_seed(1000 + step)
    for i, p in enumerate(params):
        p.grad = None if (step + i) % 7 == 0 else torch.randn(p.shape, generator=g)
    for group in opt.param_groups:  # a decaying schedule, as Composer's schedulers set it
        group["lr"] = KW["lr"] * (1 - step / 200)
    opt.step()


def _max_diff(a: list[torch.nn.Parameter], b: list[torch.nn.Parameter]) -> float:
    return max((x - y).abs().max().item() for x, y in zip(a, b, strict=True))


@pytest.mark.parametrize(
    "impl_kwargs",
    [
        {"impl": "chunked", "chunk_size": 64, "num_threads": 2},
        {"impl": "chunked", "chunk_size": 1 << 17, "num_threads": 1},
        {"impl": "foreach"},
        {"impl": "auto"},
    ],
    ids=["chunked-small-2threads", "chunked-1thread", "foreach", "auto"],
)
def test_same_updates_as_decoupled_lionw_over_100_steps(impl_kwargs: dict, monkeypatch) -> None:
    # Small test tensors: let the chunked path use its threads anyway.
    monkeypatch.setattr("csmpt.optim.lionw._MIN_THREADED_NUMEL", 0)
    ref_params, new_params = _params(), _params()
    ref = DecoupledLionW(ref_params, **KW)
    new = LionW(new_params, **KW, **impl_kwargs)
    for step in range(100):
        _step(ref, ref_params, step)
        _step(new, new_params, step)
    assert _max_diff(ref_params, new_params) <= 1e-6
    for p_ref, p_new in zip(ref_params, new_params, strict=True):
        m_ref, m_new = ref.state[p_ref]["exp_avg"], new.state[p_new]["exp_avg"]
        assert (m_ref - m_new).abs().max().item() <= 1e-6


def test_param_groups_with_own_lr_and_decay() -> None:
    def groups(ps: list[torch.nn.Parameter]) -> list[dict]:
        return [{"params": ps[:2], "weight_decay": 0.0}, {"params": ps[2:], "lr": 3e-3}]

    ref_params, new_params = _params(1), _params(1)
    ref, new = DecoupledLionW(groups(ref_params), **KW), LionW(groups(new_params), **KW)
    for step in range(10):
        _step(ref, ref_params, step)
        _step(new, new_params, step)
    assert _max_diff(ref_params, new_params) <= 1e-6


@pytest.mark.parametrize("direction", ["decoupled->csmpt", "csmpt->decoupled"])
def test_checkpoint_round_trip_both_directions(direction: str) -> None:
    first_cls, second_cls = (
        (DecoupledLionW, LionW) if direction == "decoupled->csmpt" else (LionW, DecoupledLionW)
    )
    # Reference: 40 uninterrupted steps of decoupled_lionw.
    ref_params = _params(2)
    ref = DecoupledLionW(ref_params, **KW)
    for step in range(40):
        _step(ref, ref_params, step)

    # 20 steps with one optimizer, its state_dict into the other, 20 more steps.
    params = _params(2)
    first = first_cls(params, **KW)
    for step in range(20):
        _step(first, params, step)
    saved_params = copy.deepcopy([p.detach() for p in params])
    saved_state = copy.deepcopy(first.state_dict())

    resumed = [torch.nn.Parameter(p.clone()) for p in saved_params]
    second = second_cls(resumed, **KW)
    second.load_state_dict(saved_state)
    assert second.param_groups[0]["initial_lr"] == KW["lr"]
    for step in range(20, 40):
        _step(second, resumed, step)
    assert _max_diff(ref_params, resumed) <= 1e-6


def test_bad_impl_is_refused() -> None:
    with pytest.raises(ValueError, match="impl must be one of"):
        LionW(_params(), impl="fused")
    with pytest.raises(ValueError, match="needs CUDA"):
        opt = LionW(_params(), impl="triton")
        _step(opt, opt.param_groups[0]["params"], 1)


@pytest.mark.gpu
@pytest.mark.parametrize("impl", ["foreach", "triton"])
def test_cuda_matches_decoupled_lionw(impl: str) -> None:
    ref_params = [torch.nn.Parameter(p.detach().cuda()) for p in _params(3)]
    new_params = [torch.nn.Parameter(p.detach().cuda()) for p in _params(3)]
    ref, new = DecoupledLionW(ref_params, **KW), LionW(new_params, **KW, impl=impl)
    for step in range(100):
        for opt, ps in ((ref, ref_params), (new, new_params)):
            g = torch.Generator().manual_seed(1000 + step)
            for p in ps:
                p.grad = torch.randn(p.shape, generator=g).cuda()
            opt.step()
    assert _max_diff(ref_params, new_params) <= 1e-5


FSDP2_SCRIPT = r"""
import os, sys, torch
os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=sys.argv[1])
torch.distributed.init_process_group("gloo", rank=0, world_size=1)
from torch.distributed.device_mesh import init_device_mesh
from torch.distributed.tensor import Shard, distribute_tensor
from csmpt.optim import LionW

torch.manual_seed(0)
mesh = init_device_mesh("cpu", (1,))
plain = [torch.nn.Parameter(torch.randn(8, 3)), torch.nn.Parameter(torch.randn(5))]
shard = [torch.nn.Parameter(distribute_tensor(p.detach().clone(), mesh, [Shard(0)])) for p in plain]
opts = [LionW(ps, lr=0.1, betas=(0.9, 0.99), weight_decay=0.1) for ps in (plain, shard)]
for step in range(3):
    grads = [torch.randn_like(p) for p in plain]
    for p, g in zip(plain, grads):
        p.grad = g.clone()
    for p, g in zip(shard, grads):
        p.grad = distribute_tensor(g.clone(), mesh, [Shard(0)])
    for opt in opts:
        opt.step()
for p, q in zip(plain, shard):
    assert type(q.data).__name__ == "DTensor"
    assert torch.equal(p.detach(), q.full_tensor().detach()), (p, q)
    m, want = opts[1].state[q]["exp_avg"], opts[0].state[p]["exp_avg"]
    assert type(m).__name__ == "DTensor" and torch.equal(want, m.full_tensor())
torch.distributed.destroy_process_group()
print("ok")
"""


def test_fsdp2_sharded_parameters_get_the_same_update(tmp_path) -> None:  # noqa: ANN001
    # FSDP2 (Composer's FSDP_VERSION=2) hands the optimizer DTensors; LionW updates their local
    # shards (it is elementwise). Before, its chunked path failed: "mixed torch.Tensor and DTensor".
    import socket
    import subprocess
    import sys

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = str(s.getsockname()[1])
    proc = subprocess.run(
        [sys.executable, "-c", FSDP2_SCRIPT, port], capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 0 and proc.stdout.strip() == "ok", proc.stderr[-2000:]
