"""``csmpt init``: a project folder for continual pretraining of a base model into a language.

Writes five configs (``tokenizer.yaml``, ``prep.yaml``, ``surgery.yaml``, ``train.yaml``,
``eval.yaml``), ``miniature.overrides`` (the pipeline shrunk to a CPU smoke run) and a README
listing the six commands in order. Every command runs from the project folder; every output goes
below ``artifacts/``. Values a user must set carry a ``# SET:`` comment and a row in the README.
Training follows the CSMPT7b recipe (LionW lr 1e-4, betas 0.9/0.95, no weight decay, grad clip
1.0, cosine with 100 warmup steps to 0.1x, FSDP FULL_SHARD, bf16) with the base model's shape
and context, and a batch plan for the GPU count (:func:`~csmpt.scaffold.bases.batch_plan`).
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from pathlib import Path

from csmpt.errors import ConfigError
from csmpt.scaffold.bases import BaseModel, base_model, batch_plan, launch_shape
from csmpt.scaffold.languages import check_language
from csmpt.scaffold.templates import (
    README,
    eval_yaml,
    miniature_overrides,
    prep_yaml,
    surgery_yaml,
    tokenizer_yaml,
    train_yaml,
)

__all__ = ["FILES", "REPLAY", "SCHEDULERS", "Project", "write_project"]

log = logging.getLogger(__name__)

FILES = (
    "tokenizer.yaml",
    "prep.yaml",
    "surgery.yaml",
    "train.yaml",
    "eval.yaml",
    "miniature.overrides",
    "README.md",
)
SCHEDULERS = ("slurm", "pbs", "local")
# Benchmarks csmpt knows per language (multiple_choice, llm-foundry's format).
BENCHMARKS = {"cs": ("cs_hellaswag", "hf://CZLC/cs_hellaswag", "test")}
# English replay by default: on the small base 5% cost 0.8% Czech bits per byte after 100 steps
# and 2.2% after 300, and kept English 1.1-1.6 bpb lower (docs/adaptation.md, "The evidence" and
# "The other defaults at 300 steps"); --replay 0 where the base language need not be kept.
REPLAY = 0.05


@dataclass
class Project:
    """What ``csmpt init`` decided and wrote.

    Attributes:
        folder: The project folder.
        base: The base model.
        language: The target language code.
        name: The run name (``<base>-<language>``).
        scheduler: ``slurm``, ``pbs`` or ``local``.
        gpus: GPUs in all.
        vocab: The new tokenizer's vocabulary size.
        replay: Share of the training samples from the base model's language (0: none).
    """

    folder: Path
    base: BaseModel
    language: str
    name: str
    scheduler: str
    gpus: int
    vocab: int
    replay: float = 0.0

    @property
    def train_command(self) -> str:
        """The README's step 4: ``csmpt launch`` for the scheduler and GPU count."""
        if self.scheduler == "local":
            return f"csmpt launch --scheduler local --nproc {self.gpus} train.yaml"
        nodes, per_node = launch_shape(self.gpus)
        return (
            f"csmpt launch --scheduler {self.scheduler} --nodes {nodes} "
            f"--gpus-per-node {per_node} train.yaml"
        )

    @property
    def commands(self) -> list[str]:
        """The six commands, in order."""
        run = f"artifacts/runs/{self.name}"
        return [
            "csmpt tokenizer train tokenizer.yaml",
            "csmpt prep prep.yaml",
            "csmpt surgery surgery.yaml",
            self.train_command,
            "csmpt eval eval.yaml",
            f"csmpt export {run}/latest-rank0.pt artifacts/hf --train-yaml {run}/config.yaml",
        ]


def task_pack(language: str) -> list[tuple[str, Path]]:
    """(lm-eval task name, YAML) of csmpt's lm-eval task pack for ``language`` (may be empty).

    The pack (``eval/tasks/LANG/``, shipped in ``csmpt/scaffold/task_packs/``) reads local data
    files the user saves once; ``csmpt init`` copies it into the project's ``tasks/``.
    """
    folder = Path(__file__).parent / "task_packs" / language.split("-")[0]
    out = []
    for f in sorted(folder.glob("*.yaml")):
        names = re.findall(r"^task:\s*(\S+)", f.read_text(encoding="utf-8"), flags=re.M)
        if names:
            out.append((names[0], f))
    return out


def write_project(
    folder: Path,
    base: str,
    language: str,
    scheduler: str = "slurm",
    gpus: int = 8,
    vocab: int = 64000,
    force: bool = False,
    replay: float = REPLAY,
) -> Project:
    """Write the project folder (see the module docstring).

    Raises:
        ConfigError: Unknown base or scheduler, a bad language code, GPU count, vocabulary
            size or replay share, or a folder that already holds one of the files (unless
            ``force``).
    """
    model = base_model(base)
    if scheduler not in SCHEDULERS:
        raise ConfigError(f"--scheduler {scheduler!r}: choose one of {', '.join(SCHEDULERS)}")
    check_language(language)
    if not 0.0 <= replay < 1.0:
        raise ConfigError(f"--replay {replay}: a share of the training samples in [0, 1)")
    if vocab < 512:
        raise ConfigError(f"--vocab {vocab}: at least 512 (256 bytes + special tokens + merges)")
    if scheduler != "local":
        launch_shape(gpus)  # whole nodes
    elif gpus < 1:
        raise ConfigError(f"--gpus {gpus}: at least 1")
    packed = [f"tasks/{f.name}" for _, f in task_pack(language)]
    existing = [f for f in (*FILES, *packed) if (folder / f).exists()]
    if existing and not force:
        raise ConfigError(f"{folder}: already holds {', '.join(existing)}; pass --force")
    project = Project(
        folder=folder,
        base=model,
        language=language,
        name=f"{base}-{language}",
        scheduler=scheduler,
        gpus=gpus,
        vocab=vocab,
        replay=replay,
    )
    seq = model.context
    plan = batch_plan(gpus, seq)
    bench = BENCHMARKS.get(language.split("-")[0])
    pack = task_pack(language)
    texts = {
        "tokenizer.yaml": tokenizer_yaml(project, seq),
        "prep.yaml": prep_yaml(project, seq),
        "surgery.yaml": surgery_yaml(project),
        "train.yaml": train_yaml(project, seq, plan, bench),
        "eval.yaml": eval_yaml(project, bench, [name for name, _ in pack]),
        "miniature.overrides": miniature_overrides(project),
        "README.md": README.format(
            name=project.name,
            base=model.name,
            hub=model.hub,
            language=language,
            commands="\n".join(f"{project.commands[i]}   # {i + 1}" for i in range(6)),
            global_batch=plan.global_batch,
            microbatch=plan.microbatch,
            accumulation=plan.accumulation,
            seq=seq,
            gpus=gpus,
            vocab=vocab,
            replay_row=(
                f"| `prep.yaml` | `corpora.1.inputs` | {model.name}'s language (English) text to "
                f"replay, {replay:.0%} of the samples (`csmpt init --replay 0`: none) |\n"
                if replay > 0
                else ""
            ),
            bench_row=(
                ""
                if bench
                else "| `eval.yaml`, `train.yaml` | `icl_tasks.0.dataset_uri` | a multiple-choice "
                "benchmark in your language (llm-foundry's jsonl: query, choices, gold) |\n"
            ),
        ),
    }
    texts |= {f"tasks/{f.name}": f.read_text(encoding="utf-8") for _, f in pack}
    folder.mkdir(parents=True, exist_ok=True)
    if pack:
        (folder / "tasks").mkdir(exist_ok=True)
    for name, text in texts.items():
        (folder / name).write_text(text, encoding="utf-8")
    log.info("wrote %s: %s", folder, ", ".join(texts))
    return project
