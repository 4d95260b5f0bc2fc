"""Render the job script of a launch from the templates shipped in ``csmpt/launch/templates/``.

A template is plain text with ``{{name}}`` placeholders (bash keeps its own ``$VAR`` and
``${VAR}``): ``local.sh`` (one ``composer`` command), ``slurm.sbatch`` and ``pbs.qsub``. A line
holding only a placeholder whose value is empty is dropped. An unknown placeholder is an error.
"""

from __future__ import annotations

import logging
import re
import shlex
from dataclasses import dataclass, field
from importlib import resources
from importlib.abc import Traversable
from pathlib import Path

from csmpt.errors import ConfigError
from csmpt.launch.rendezvous import (
    DEFAULT_MASTER_PORT,
    check_rdzv_url,
    composer_command,
    local_rendezvous,
)

__all__ = ["TEMPLATES", "LaunchSpec", "TEMPLATE_DIR", "render", "render_template"]

log = logging.getLogger(__name__)

# Package data (``[tool.setuptools.package-data]``): found in a wheel install as in a checkout.
TEMPLATE_DIR: Traversable = resources.files("csmpt.launch") / "templates"
TEMPLATES = {"local": "local.sh", "slurm": "slurm.sbatch", "pbs": "pbs.qsub"}
# The variable each scheduler sets to a job's unique id (a fresh rendezvous file per job).
_JOB_ID = {"slurm": "${SLURM_JOB_ID}", "pbs": "${PBS_JOBID}"}
_PLACEHOLDER = re.compile(r"\{\{(\w+)\}\}")
# The exit status of a run that checkpointed on the scheduler's signal; the job scripts requeue
# on it. Equal to csmpt.callbacks.signal_checkpoint.EXIT_REQUEUE (not imported: torch-free here).
EXIT_REQUEUE = 75


@dataclass
class LaunchSpec:
    """Everything a job script needs.

    Attributes:
        scheduler: ``local``, ``slurm`` or ``pbs``.
        recipe: The training YAML and its ``key=value`` overrides.
        job_name: Scheduler job name (the run name).
        nodes: Number of nodes.
        gpus_per_node: GPUs requested per node.
        nproc: Training processes per node (default: ``gpus_per_node``).
        workdir: Folder the job runs in (the repository root, on shared storage).
        python: The Python (of the venv) that runs ``csmpt.launch.node`` on each node.
        composer: The ``composer`` launcher (local launches).
        log_dir: Job logs, per-rank output and ``rank<R>.json`` reports.
        master_port: TCP port of the rendezvous store on the master node.
        rdzv: ``file:///shared/folder``: rendezvous through a fresh file in that folder.
        time: Wall-clock limit (``HH:MM:SS``).
        directives: Extra scheduler lines, e.g. ``--account=abc`` (SLURM), ``-A OPEN-1-2``.
        rdzv_tag: Unique part of a local launch's rendezvous file name.
        signal_seconds: Warning time before the time limit: SLURM sends USR1 that long before
            it (``--signal=B:USR1@N``), PBS jobs stop by themselves that long before it; the
            training processes checkpoint the step they are on and the job requeues itself.
        max_requeues: A job that checkpointed is submitted again at most this many times
            (SLURM's ``SLURM_RESTART_COUNT``, a counter of its own on PBS), so a chain that
            keeps stopping cannot run forever.
    """

    scheduler: str
    recipe: list[str]
    job_name: str
    nodes: int = 1
    gpus_per_node: int = 8
    nproc: int | None = None
    workdir: str = "."
    python: str = "python"
    composer: str = "composer"
    log_dir: str = "logs"
    master_port: int = DEFAULT_MASTER_PORT
    rdzv: str | None = None
    time: str = "24:00:00"
    directives: list[str] = field(default_factory=list)
    rdzv_tag: str = "local"
    signal_seconds: int = 120
    max_requeues: int = 100

    @property
    def procs_per_node(self) -> int:
        """Processes per node."""
        return self.gpus_per_node if self.nproc is None else self.nproc

    def check(self) -> None:
        """Raise ConfigError on an impossible launch."""
        if self.scheduler not in TEMPLATES:
            raise ConfigError(f"--scheduler {self.scheduler!r}: choose one of {sorted(TEMPLATES)}")
        if self.nodes < 1:
            raise ConfigError(f"--nodes {self.nodes}: must be at least 1")
        if self.nproc is not None and self.nproc < 1:
            raise ConfigError(f"--nproc {self.nproc}: must be at least 1")
        if self.gpus_per_node < 0 or self.procs_per_node < 1:  # 0 GPUs: a CPU job, --nproc set
            raise ConfigError(
                f"--gpus-per-node {self.gpus_per_node}: must be at least 1, or 0 with --nproc "
                "(processes per node on CPU)"
            )
        if self.scheduler == "local" and self.nodes != 1:
            raise ConfigError(
                f"--scheduler local runs on this machine only, not {self.nodes} nodes: "
                "use --scheduler slurm or pbs"
            )
        if not 0 < self.master_port < 65536:
            raise ConfigError(f"--master-port {self.master_port}: a TCP port is 1-65535")
        if self.rdzv:
            check_rdzv_url(self.rdzv)
        if self.scheduler != "local" and not 0 < self.signal_seconds < walltime_seconds(self.time):
            raise ConfigError(
                f"--signal-seconds {self.signal_seconds}: must be above 0 and below the "
                f"time limit --time {self.time}"
            )
        if self.max_requeues < 0:
            raise ConfigError(f"--max-requeues {self.max_requeues}: must be 0 or more")
        if not re.fullmatch(r"[A-Za-z0-9][\w.-]*", self.job_name):
            raise ConfigError(f"run name {self.job_name!r}: use letters, digits, '.', '_', '-'")


def walltime_seconds(limit: str) -> int:
    """Seconds of a time limit written ``[D-]HH:MM:SS``, ``MM:SS`` or ``MM`` (SLURM, PBS).

    Raises:
        ConfigError: Not a time limit.
    """
    m = re.fullmatch(r"(?:(\d+)-)?(\d+)(?::(\d+))?(?::(\d+))?", limit.strip())
    if m is None:
        raise ConfigError(f"--time {limit!r}: write the limit as [D-]HH:MM:SS")
    days, a, b, c = (int(x) if x else None for x in m.groups())
    if b is None:  # MM
        parts = (0, a or 0, 0)
    elif c is None:  # MM:SS (or D-HH:MM)
        parts = (a or 0, b, 0) if days is not None else (0, a or 0, b)
    else:
        parts = (a or 0, b, c)
    return (days or 0) * 86400 + parts[0] * 3600 + parts[1] * 60 + parts[2]


def _dq(text: str) -> str:
    """Escape text for the inside of a bash double-quoted string."""
    return re.sub(r'(["\\$`])', r"\\\1", text)


def render_template(text: str, values: dict[str, str], name: str = "template") -> str:
    """Fill ``{{name}}`` placeholders; drop lines that are one empty placeholder."""
    unknown = sorted(set(_PLACEHOLDER.findall(text)) - set(values))
    if unknown:
        raise ConfigError(f"{name}: unknown placeholder(s) {unknown}")
    lines = []
    for line in text.splitlines(keepends=True):
        m = _PLACEHOLDER.fullmatch(line.strip())
        if m and not values[m.group(1)]:
            continue
        lines.append(_PLACEHOLDER.sub(lambda mm: values[mm.group(1)], line))
    return "".join(lines)


def _rdzv_file(spec: LaunchSpec) -> str | None:
    if not spec.rdzv:
        return None
    job = _JOB_ID.get(spec.scheduler, spec.rdzv_tag)
    return f"{spec.rdzv.rstrip('/')}/{spec.job_name}.{job}.rdzv"


def render(spec: LaunchSpec, template_dir: Path | Traversable = TEMPLATE_DIR) -> str:
    """The job script (SLURM, PBS) or command (local) that runs ``spec``.

    Raises:
        ConfigError: Impossible launch, or a template is missing or broken.
    """
    spec.check()
    path = template_dir / TEMPLATES[spec.scheduler]
    if not path.is_file():
        raise ConfigError(f"launch template {path} does not exist")
    q = shlex.quote
    nproc = spec.procs_per_node
    rdzv_file = _rdzv_file(spec)
    # Job-id variables must expand in the job script: keep them out of single quotes.
    rdzv_arg = f" --rdzv {rdzv_file}" if rdzv_file else ""
    env = f"CSMPT_LOG_DIR={q(spec.log_dir)} "
    if rdzv_file:
        env += f"CSMPT_RDZV={q(rdzv_file)} "
    cmd = composer_command(
        local_rendezvous(nproc, spec.master_port), spec.recipe, spec.log_dir, spec.composer
    )
    recipe = " ".join(map(q, spec.recipe))
    directive = {"slurm": "#SBATCH ", "pbs": "#PBS "}.get(spec.scheduler, "# ")
    values = {
        "nodes": str(spec.nodes),
        "nproc": str(nproc),
        "gpus_per_node": str(spec.gpus_per_node),
        "world_size": str(spec.nodes * nproc),
        "job_name": spec.job_name,
        "time": spec.time,
        "master_port": str(spec.master_port),
        "workdir": q(spec.workdir),
        "python": q(spec.python),
        "log_dir": q(spec.log_dir),
        "recipe": recipe,
        "rdzv_arg": rdzv_arg,
        "directives": "\n".join(directive + d for d in spec.directives),
        "env": env,
        "composer_command": shlex.join(cmd),
        "workdir_dq": _dq(q(spec.workdir)),
        "python_dq": _dq(q(spec.python)),
        "log_dir_dq": _dq(q(spec.log_dir)),
        "rdzv_arg_dq": rdzv_arg,
        "recipe_dq": _dq(recipe),
        "signal_seconds": str(spec.signal_seconds),
        "walltime_s": str(walltime_seconds(spec.time)) if spec.scheduler != "local" else "0",
        "requeue_code": str(EXIT_REQUEUE),
        "max_requeues": str(spec.max_requeues),
    }
    return render_template(path.read_text(encoding="utf-8"), values, str(path))
