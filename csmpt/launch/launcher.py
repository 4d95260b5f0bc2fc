"""What ``csmpt launch`` does: settle the recipe's run identity, render the job, run or submit it.

A launched run must survive being requeued: the recipe gets a stable ``run_name`` (the YAML's,
else its file name), ``autoresume: true`` (added as an override when the recipe does not set
it), and must name a ``save_folder`` (on storage every node sees, for several nodes).
"""

from __future__ import annotations

import logging
import shutil
import subprocess
import time
from collections.abc import Sequence
from pathlib import Path

from omegaconf import OmegaConf
from omegaconf.errors import OmegaConfBaseException

from csmpt.atomic import write_text
from csmpt.config.loading import expand_overrides, load_yaml_with_overrides
from csmpt.errors import ConfigError
from csmpt.launch.render import LaunchSpec, render

__all__ = ["SUBMIT", "launch", "recipe_overrides"]

log = logging.getLogger(__name__)

SUBMIT = {"slurm": "sbatch", "pbs": "qsub"}


def _select(cfg: object, key: str, path: Path) -> object:
    try:
        return OmegaConf.select(cfg, key)  # type: ignore[arg-type]
    except OmegaConfBaseException as e:
        raise ConfigError(f"{path}: cannot resolve '{key}': {e}") from None


def recipe_overrides(
    yaml_path: Path, overrides: Sequence[str], run_name: str | None = None
) -> tuple[list[str], str]:
    """The overrides a launch adds to a recipe, and the run name.

    Returns:
        ``overrides`` plus ``run_name`` / ``autoresume=true`` where needed, and the run name.

    Raises:
        ConfigError: The YAML cannot be read, or it names no ``save_folder``.
    """
    out = expand_overrides(yaml_path, overrides)  # the job script carries plain key=value
    cfg = load_yaml_with_overrides(yaml_path, out)
    if run_name:
        has_var = _select(cfg, "variables.run_name", yaml_path) is not None
        out.append(f"{'variables.' if has_var else ''}run_name={run_name}")
    elif _select(cfg, "run_name", yaml_path) is None:
        out.append(f"run_name={yaml_path.stem}")
    if _select(cfg, "autoresume", yaml_path) is not True:
        out.append("autoresume=true")
    cfg = load_yaml_with_overrides(yaml_path, out)
    if not _select(cfg, "save_folder", yaml_path):
        raise ConfigError(
            f"{yaml_path}: no save_folder: a launched run needs one (on storage every node "
            "sees) to resume from"
        )
    return out, str(_select(cfg, "run_name", yaml_path))


def launch(
    spec: LaunchSpec, dry_run: bool = False, script_dir: Path | None = None
) -> tuple[str, int]:
    """Render ``spec``; unless ``dry_run``, run it (local) or submit it (sbatch / qsub).

    Args:
        spec: The launch.
        dry_run: Only render.
        script_dir: Where SLURM/PBS scripts are written (default: ``spec.log_dir``).

    Returns:
        The rendered script and the exit status of the run or of the submission.

    Raises:
        ConfigError: Impossible launch, or the submit command is not installed.
    """
    script = render(spec)
    if dry_run:
        return script, 0
    workdir = Path(spec.workdir)
    if spec.scheduler == "local":
        (workdir / spec.log_dir).mkdir(parents=True, exist_ok=True)
        done = subprocess.run(["bash", "-c", script], cwd=workdir, check=False)
        return script, done.returncode
    submit = SUBMIT[spec.scheduler]
    if shutil.which(submit) is None:
        raise ConfigError(
            f"`{submit}` is not installed here: run csmpt launch on the cluster's login node, "
            "or use --dry-run and submit the script yourself"
        )
    folder = script_dir or (workdir / spec.log_dir)
    folder.mkdir(parents=True, exist_ok=True)
    suffix = {"slurm": "sbatch", "pbs": "qsub"}[spec.scheduler]
    path = folder / f"{spec.job_name}.{time.strftime('%Y%m%d-%H%M%S')}.{suffix}"
    write_text(path, script)
    log.info("wrote %s", path)
    done = subprocess.run([submit, str(path)], cwd=workdir, check=False)
    return script, done.returncode
