"""Where a node stands in a multi-node run: its rank, the master's address, the world size.

Pure functions over a scheduler's environment, used on each node by ``csmpt.launch.node``:

* SLURM: ``SLURM_NODEID`` is the node rank, the first host of ``SLURM_JOB_NODELIST`` (a
  compressed host list such as ``gpu[001-004]``) the master, ``SLURM_NNODES`` the node count.
* PBS Pro: the job script (on the first node) reads the hosts from ``$PBS_NODEFILE`` and passes
  each node its rank and the master's address explicitly (see ``csmpt/launch/templates/pbs.qsub``).
* local: one node, rank 0, master 127.0.0.1.

A ``file://`` rendezvous (a file on storage every node shares, for clusters where the nodes
cannot open TCP connections to each other for the store) replaces the master address and
port in ``torch.distributed.init_process_group``; see ``csmpt.launch.worker``.
"""

from __future__ import annotations

import logging
import re
import shutil
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse

from csmpt.errors import ConfigError

__all__ = [
    "WORKER_MODULE",
    "NodeRendezvous",
    "composer_command",
    "composer_path",
    "check_rdzv_url",
    "expand_hostlist",
    "local_rendezvous",
    "slurm_rendezvous",
]

log = logging.getLogger(__name__)

DEFAULT_MASTER_PORT = 29500


@dataclass(frozen=True)
class NodeRendezvous:
    """One node's place in a run of ``nnodes`` nodes x ``nproc`` processes.

    Attributes:
        nnodes: Number of nodes.
        node_rank: This node's rank, in ``[0, nnodes)``.
        nproc: Processes (GPUs) per node.
        master_addr: Host of global rank 0 (runs the TCP store).
        master_port: Port of the TCP store on ``master_addr``.
    """

    nnodes: int
    node_rank: int
    nproc: int
    master_addr: str
    master_port: int = DEFAULT_MASTER_PORT

    def __post_init__(self) -> None:
        if self.nnodes < 1 or self.nproc < 1:
            raise ConfigError(f"nodes ({self.nnodes}) and processes per node ({self.nproc}) >= 1")
        if not 0 <= self.node_rank < self.nnodes:
            raise ConfigError(f"node rank {self.node_rank} is not in [0, {self.nnodes})")

    @property
    def world_size(self) -> int:
        """Total number of processes."""
        return self.nnodes * self.nproc

    @property
    def base_rank(self) -> int:
        """Global rank of this node's local rank 0."""
        return self.node_rank * self.nproc

    def composer_args(self) -> list[str]:
        """The ``composer`` launcher's arguments that place this node in the run."""
        return [
            "--world_size",
            str(self.world_size),
            "--node_rank",
            str(self.node_rank),
            "--master_addr",
            self.master_addr,
            "--master_port",
            str(self.master_port),
            "-n",
            str(self.nproc),
        ]


_RANGE = re.compile(r"^(\d+)(?:-(\d+))?$")


def expand_hostlist(nodelist: str) -> list[str]:
    """Expand a SLURM host list: ``"gpu[001-003,007],login1"`` -> ``gpu001 ... gpu007, login1``.

    Handles the forms SLURM writes to ``SLURM_JOB_NODELIST`` (as ``scontrol show hostnames``):
    comma-separated entries, each a plain name or ``prefix[ranges]suffix`` with zero-padded ranges.

    Raises:
        ConfigError: The list is empty or malformed.
    """
    entries: list[str] = []
    depth, start = 0, 0
    for i, ch in enumerate(nodelist):
        depth += {"[": 1, "]": -1}.get(ch, 0)
        if depth < 0:
            raise ConfigError(f"malformed SLURM host list '{nodelist}'")
        if ch == "," and depth == 0:
            entries.append(nodelist[start:i])
            start = i + 1
    entries.append(nodelist[start:])
    hosts: list[str] = []
    for entry in (e.strip() for e in entries):
        if not entry or depth != 0:
            raise ConfigError(f"malformed SLURM host list '{nodelist}'")
        hosts.extend(_expand_entry(entry, nodelist))
    return hosts


def _expand_entry(entry: str, nodelist: str) -> list[str]:
    m = re.search(r"\[([^\]]*)\]", entry)
    if m is None:
        return [entry]
    prefix, rest = entry[: m.start()], entry[m.end() :]
    out: list[str] = []
    for part in m.group(1).split(","):
        r = _RANGE.match(part.strip())
        if r is None:
            raise ConfigError(f"malformed range '{part}' in SLURM host list '{nodelist}'")
        lo, hi = r.group(1), r.group(2) or r.group(1)
        width = len(lo)
        for n in range(int(lo), int(hi) + 1):
            out.extend(
                prefix + str(n).zfill(width) + tail for tail in _expand_entry(rest, nodelist)
            )
    return out


def _env_int(env: Mapping[str, str], *names: str) -> int:
    for name in names:
        if env.get(name, "").strip():
            try:
                return int(env[name])
            except ValueError:
                raise ConfigError(f"${name}={env[name]!r} is not an integer") from None
    raise ConfigError(f"${names[0]} is not set: run this on a node of a SLURM job (under srun)")


def slurm_rendezvous(
    env: Mapping[str, str], nproc: int, master_port: int = DEFAULT_MASTER_PORT
) -> NodeRendezvous:
    """The rendezvous of the node running inside a SLURM job step (one task per node).

    ``MASTER_ADDR`` in the environment wins over the first host of ``SLURM_JOB_NODELIST``.

    Raises:
        ConfigError: A SLURM variable is missing or malformed.
    """
    nnodes = _env_int(env, "SLURM_NNODES", "SLURM_JOB_NUM_NODES")
    node_rank = _env_int(env, "SLURM_NODEID")
    master = env.get("MASTER_ADDR", "").strip()
    if not master:
        nodelist = env.get("SLURM_JOB_NODELIST") or env.get("SLURM_NODELIST")
        if not nodelist:
            raise ConfigError("$SLURM_JOB_NODELIST is not set: run this under srun in a job")
        hosts = expand_hostlist(nodelist)
        if len(hosts) != nnodes:
            raise ConfigError(f"SLURM_JOB_NODELIST has {len(hosts)} hosts, SLURM_NNODES={nnodes}")
        master = hosts[0]
    return NodeRendezvous(nnodes, node_rank, nproc, master, master_port)


def local_rendezvous(nproc: int, master_port: int = DEFAULT_MASTER_PORT) -> NodeRendezvous:
    """One node: rank 0, master 127.0.0.1."""
    return NodeRendezvous(1, 0, nproc, "127.0.0.1", master_port)


def check_rdzv_url(url: str) -> Path:
    """The folder of a ``file:///shared/folder`` rendezvous URL (absolute, shared by all nodes).

    Raises:
        ConfigError: Not a ``file://`` URL with an absolute path.
    """
    parsed = urlparse(url)
    if parsed.scheme != "file" or parsed.netloc or not parsed.path.startswith("/"):
        raise ConfigError(
            f"--rdzv {url!r}: expected file:///absolute/folder on storage every node shares "
            "(three slashes: file:// + /path)"
        )
    return Path(parsed.path)


WORKER_MODULE = "csmpt.launch.worker"


def composer_path() -> str:
    """The ``composer`` launcher next to this Python (the venv's), else the one on PATH."""
    sibling = Path(sys.executable).parent / "composer"
    return str(sibling) if sibling.is_file() else (shutil.which("composer") or "composer")


def composer_command(
    rdzv: NodeRendezvous,
    recipe: Sequence[str],
    log_dir: str | Path,
    composer: str = "composer",
) -> list[str]:
    """The ``composer`` command that starts this node's processes of ``csmpt.launch.worker``.

    Args:
        rdzv: The node's place in the run.
        recipe: The YAML and its ``key=value`` overrides.
        log_dir: Where ranks other than each node's local rank 0 write their stdout/stderr.
        composer: Path of the ``composer`` launcher.
    """
    out = f"{log_dir}/rank{{rank}}.out"
    if rdzv.nnodes == 1:
        place = ["-n", str(rdzv.nproc), "--master_port", str(rdzv.master_port)]
    else:
        place = rdzv.composer_args()
    return [composer, *place, "--stdout", out, "-m", WORKER_MODULE, *recipe]
