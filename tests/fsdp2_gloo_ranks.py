"""A 2-rank gloo job: one FSDP2 (``fully_shard``) backward pass of a small linear model.

``python tests/fsdp2_gloo_ranks.py OUT [patched]`` runs both ranks (each a subprocess), each on
its own 4 rows of input, and saves to OUT rank 0's gathered (full) gradient of the weight and
the per-rank gradients the same model gets without FSDP. With ``patched``, each rank first
calls :func:`csmpt.training.gloo_average.install`.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys

import torch


def _rank(rank: int, port: int, out: str, patched: bool) -> None:
    import torch.distributed as dist
    from torch.distributed.device_mesh import init_device_mesh
    from torch.distributed.fsdp import fully_shard

    if patched:
        from csmpt.training.gloo_average import install

        assert install()
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    dist.init_process_group("gloo", rank=rank, world_size=2)
    torch.manual_seed(0)
    model = torch.nn.Linear(6, 4, bias=False)
    local = [torch.randn(4, 6, generator=torch.Generator().manual_seed(10 + r)) for r in (0, 1)]
    plain = []
    for x in local:  # the gradient each rank's rows give the unsharded model (DDP averages them)
        model.zero_grad()
        (model(x) ** 2).mean().backward()
        plain.append(model.weight.grad.clone())
    model.zero_grad()
    fully_shard(model, mesh=init_device_mesh("cpu", (2,)))
    (model(local[rank]) ** 2).mean().backward()
    grad = model.weight.grad.full_tensor()
    if rank == 0:
        torch.save({"fsdp2": grad, "per_rank": plain}, out)
    dist.barrier()
    sys.stdout.flush()
    os._exit(0)


def main() -> None:
    if sys.argv[1] == "rank":
        _rank(int(sys.argv[2]), int(sys.argv[3]), sys.argv[4], sys.argv[5] == "1")
        return
    out, patched = sys.argv[1], "1" if "patched" in sys.argv[2:] else "0"
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    procs = [
        subprocess.Popen([sys.executable, __file__, "rank", str(r), str(port), out, patched])
        for r in (0, 1)
    ]
    codes = [p.wait(timeout=120) for p in procs]
    sys.exit(max(codes))


if __name__ == "__main__":
    main()
