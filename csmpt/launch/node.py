"""Start one node's share of a run: ``python -m csmpt.launch.node ... -- YAML [key=value ...]``.

The SLURM and PBS job scripts rendered by ``csmpt launch`` run this once per node. It works
out the node's rank and the master's address (``csmpt.launch.rendezvous``), prints the exact
``composer`` command, and replaces itself with it. ``composer`` then starts ``--nproc``
training processes of ``csmpt.launch.worker`` on the node.

With ``--print`` (or ``CSMPT_LAUNCH_PRINT=1``) it prints the command and exits: what a job
script would run on each node, without running it.
"""

from __future__ import annotations

import argparse
import logging
import os
import shlex
import signal
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

from csmpt.errors import ConfigError, CsmptError
from csmpt.launch.rendezvous import (
    DEFAULT_MASTER_PORT,
    NodeRendezvous,
    check_rdzv_url,
    composer_command,
    composer_path,
    local_rendezvous,
    slurm_rendezvous,
)

__all__ = ["main", "node_rendezvous"]

log = logging.getLogger(__name__)


def node_rendezvous(
    scheduler: str,
    env: Mapping[str, str],
    nproc: int,
    master_port: int = DEFAULT_MASTER_PORT,
    nnodes: int | None = None,
    node_rank: int | None = None,
    master_addr: str | None = None,
) -> NodeRendezvous:
    """The node's rendezvous, from the scheduler's environment and explicit values.

    Explicit ``node_rank`` / ``master_addr`` (the PBS script passes them) win over the
    environment; ``nnodes``, when given, must match what the scheduler reports.

    Raises:
        ConfigError: Missing or inconsistent values.
    """
    if scheduler == "local":
        rdzv = local_rendezvous(nproc, master_port)
    elif scheduler == "slurm" and (node_rank is None or master_addr is None):
        rdzv = slurm_rendezvous(env, nproc, master_port)
        rdzv = NodeRendezvous(
            rdzv.nnodes,
            rdzv.node_rank if node_rank is None else node_rank,
            nproc,
            master_addr or rdzv.master_addr,
            master_port,
        )
    else:
        if node_rank is None or master_addr is None or nnodes is None:
            raise ConfigError(f"{scheduler}: pass --nnodes, --node-rank and --master-addr")
        rdzv = NodeRendezvous(nnodes, node_rank, nproc, master_addr, master_port)
    if nnodes is not None and rdzv.nnodes != nnodes:
        raise ConfigError(f"the job has {rdzv.nnodes} nodes, the launch script expects {nnodes}")
    return rdzv


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m csmpt.launch.node",
        description="Start this node's training processes (run once per node by a job script).",
    )
    p.add_argument("--scheduler", choices=["local", "slurm", "pbs"], required=True)
    p.add_argument("--nproc", type=int, required=True, help="processes (GPUs) per node")
    p.add_argument("--nnodes", type=int, default=None)
    p.add_argument("--node-rank", type=int, default=None)
    p.add_argument("--master-addr", default=None)
    p.add_argument("--master-port", type=int, default=DEFAULT_MASTER_PORT)
    p.add_argument("--rdzv", default=None, help="file:///shared/file.rdzv (one per job)")
    p.add_argument("--log-dir", required=True)
    p.add_argument("--print", action="store_true", help="print the command, do not run it")
    p.add_argument("recipe", nargs=argparse.REMAINDER, help="-- YAML [key=value ...]")
    return p


def main(argv: Sequence[str] | None = None, env: Mapping[str, str] | None = None) -> None:
    """Entry of ``python -m csmpt.launch.node``: exec ``composer`` for this node."""
    args = _parser().parse_args(argv)
    env = dict(os.environ if env is None else env)
    recipe = args.recipe[1:] if args.recipe[:1] == ["--"] else args.recipe
    if not recipe:
        print("error: no recipe: ... -- YAML [key=value ...]", file=sys.stderr)  # noqa: T201
        sys.exit(2)
    try:
        rdzv = node_rendezvous(
            args.scheduler,
            env,
            args.nproc,
            args.master_port,
            args.nnodes,
            args.node_rank,
            args.master_addr,
        )
        extra_env = {"CSMPT_LOG_DIR": args.log_dir}
        if args.rdzv:
            check_rdzv_url(args.rdzv)
            extra_env["CSMPT_RDZV"] = args.rdzv
    except CsmptError as e:
        print(f"error: {e}", file=sys.stderr)  # noqa: T201
        sys.exit(2)
    cmd = composer_command(rdzv, recipe, args.log_dir, composer_path())
    shown = " ".join(f"{k}={shlex.quote(v)}" for k, v in extra_env.items())
    line = f"node {rdzv.node_rank}/{rdzv.nnodes}: {shown} {shlex.join(cmd)}"
    sys.stdout.write(line + "\n")  # one write: nodes sharing a log do not interleave
    sys.stdout.flush()
    if args.print or env.get("CSMPT_LAUNCH_PRINT") == "1":
        return
    Path(args.log_dir).mkdir(parents=True, exist_ok=True)
    # The scheduler's warning signal reaches every process of the job step, composer's launcher
    # included, which would die of it before its training processes (csmpt_signal_checkpoint)
    # have saved. Ignored signals stay ignored across exec; the training processes install
    # their own handlers.
    for sig in (signal.SIGUSR1, signal.SIGTERM):
        signal.signal(sig, signal.SIG_IGN)
    os.execvpe(cmd[0], cmd, {**env, **extra_env})


if __name__ == "__main__":
    main()
