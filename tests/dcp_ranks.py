"""A 2-rank gloo job on CPU that saves and loads torch distributed (sharded) checkpoints.

``python tests/dcp_ranks.py save FOLDER`` writes ``FOLDER/ep0-ba{2,4,6}/`` the way Composer
0.32.1 saves ``state_dict_type: sharded`` checkpoints (``dcp.save`` of DTensors sharded over the
ranks, ``FileSystemWriter``, ``DefaultSavePlanner(dedup_save_to_lowest_rank=True)``).
``python tests/dcp_ranks.py load FOLDER OUT`` resolves ``FOLDER/latest-sharded-rank0`` as Composer's
autoresume does, loads that folder on both ranks and saves the gathered weight and step to OUT.
``python tests/dcp_ranks.py reshard CKPT FOLDER`` saves a monolithic Composer checkpoint's whole
state as a sharded one (its model and optimizer tensors as DTensors split over the 2 ranks, the
rest as Composer saves it): the folder FSDP would have written had the run been sharded.
Each rank is a plain subprocess of its own (``rank R PORT ...``).
"""

from __future__ import annotations

import os
import socket
import sys

import torch

STEPS = (2, 4, 6)
ROWS = 8  # rows of each sharded tensor: 4 per rank


def value(step: int) -> torch.Tensor:
    return torch.arange(ROWS * 3, dtype=torch.float32).reshape(ROWS, 3) + 1000 * step


def _init(rank: int, port: int) -> None:
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    torch.distributed.init_process_group("gloo", rank=rank, world_size=2)


def _save_ranks(rank: int, port: int, folder: str) -> None:
    """One rank of a 2-rank job: save Composer-shaped state dicts at each step, sharded."""
    import torch.distributed.checkpoint as dcp
    from torch.distributed.checkpoint import DefaultSavePlanner, FileSystemWriter
    from torch.distributed.device_mesh import init_device_mesh
    from torch.distributed.tensor import Shard, distribute_tensor

    _init(rank, port)
    mesh = init_device_mesh("cpu", (2,))
    for step in STEPS:
        weight = distribute_tensor(value(step), mesh, [Shard(0)])
        moment = distribute_tensor(-value(step), mesh, [Shard(0)])
        state = {
            "state": {
                "model": {"model.wte.weight": weight},
                "optimizers": {"LionW": {"state": {"model.wte.weight": {"exp_avg": moment}}}},
                "timestamp": {"batch": step},
            },
        }
        if rank == 0:
            state["rng"] = [{"torch": torch.get_rng_state()}]  # only rank 0 saves RNG
        dcp.save(
            state,
            storage_writer=FileSystemWriter(os.path.join(folder, f"ep0-ba{step}")),
            planner=DefaultSavePlanner(dedup_save_to_lowest_rank=True),
        )
    _finish()


def _finish() -> None:
    """Leave the job together: a barrier, then exit without gloo's teardown.

    ``destroy_process_group`` on gloo was seen to hang in one rank after the other had left
    (every checkpoint already written): the test then waited for its timeout.
    """
    torch.distributed.barrier()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)


def _load_ranks(rank: int, port: int, folder: str, out: str) -> None:
    """Resolve ``latest-sharded-rank0`` as Composer's autoresume does and load its shards."""
    import torch.distributed.checkpoint as dcp
    from torch.distributed.device_mesh import init_device_mesh
    from torch.distributed.tensor import Shard, distribute_tensor

    _init(rank, port)
    mesh = init_device_mesh("cpu", (2,))
    link = os.path.join(folder, "latest-sharded-rank0")  # llm-foundry's name for sharded runs
    path = os.path.join(os.path.dirname(link), os.readlink(link))  # trainer.py's own join
    weight = distribute_tensor(torch.zeros(ROWS, 3), mesh, [Shard(0)])
    state = {"state": {"model": {"model.wte.weight": weight}, "timestamp": {"batch": -1}}}
    dcp.load(state, checkpoint_id=path)
    full = state["state"]["model"]["model.wte.weight"].full_tensor()
    if rank == 0:
        torch.save({"weight": full, "batch": state["state"]["timestamp"]["batch"]}, out)
    _finish()


def _reshard_ranks(rank: int, port: int, ckpt: str, folder: str) -> None:
    """Save the monolithic checkpoint ``ckpt`` as a sharded one in ``folder`` (2 ranks)."""
    import torch.distributed.checkpoint as dcp
    from torch.distributed.checkpoint import DefaultSavePlanner, FileSystemWriter
    from torch.distributed.device_mesh import init_device_mesh
    from torch.distributed.tensor import Shard, distribute_tensor

    _init(rank, port)
    mesh = init_device_mesh("cpu", (2,))
    whole = torch.load(ckpt, map_location="cpu", weights_only=False)

    def shard(obj: object) -> object:
        if isinstance(obj, dict):
            return {k: shard(v) for k, v in obj.items()}
        if isinstance(obj, torch.Tensor) and obj.dim() >= 1 and obj.shape[0] >= 2:
            return distribute_tensor(obj, mesh, [Shard(0)])  # FSDP's dim-0 split
        return obj

    state = whole["state"]
    sharded = {k: shard(v) if k in ("model", "optimizers") else v for k, v in state.items()}
    to_save: dict = {"state": sharded}
    if rank == 0:
        to_save["rng"] = whole["rng"]  # only rank 0 saves RNG (Composer)
    dcp.save(
        to_save,
        storage_writer=FileSystemWriter(folder),
        planner=DefaultSavePlanner(dedup_save_to_lowest_rank=True),
    )
    _finish()


def port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def main() -> None:
    """``save FOLDER``, ``load FOLDER OUT`` or ``reshard CKPT FOLDER`` on 2 ranks, each a process.

    Two plain subprocesses (``rank R PORT ...``), not ``torch.multiprocessing.spawn``: a spawned
    rank was seen never to start (the other waited in ``init_process_group`` until the test's
    timeout), in CI on an idle machine too.
    """
    import subprocess

    if sys.argv[1] == "rank":  # one rank: rank R PORT save|load|reshard ARGS...
        rank, the_port, what, folder, *rest = sys.argv[2:]
        fn = {"save": _save_ranks, "load": _load_ranks, "reshard": _reshard_ranks}[what]
        fn(int(rank), int(the_port), folder, *rest)
        return
    p = str(port())
    ranks = [
        subprocess.Popen([sys.executable, __file__, "rank", str(r), p, *sys.argv[1:]])
        for r in range(2)
    ]
    try:
        codes = [proc.wait(timeout=120) for proc in ranks]
    finally:
        for proc in ranks:
            if proc.poll() is None:
                proc.kill()
    if any(codes):
        sys.exit(f"ranks exited {codes}")


if __name__ == "__main__":
    main()
