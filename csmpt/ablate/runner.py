"""Run an ablation's variant x seed training runs in order, each resumable on its own.

Before anything trains, every run's recipe + overrides passes ``csmpt train``'s preflight
(:func:`check_runs`), so a typo in the last variant fails before the first one trains. A run
whose ``runs.jsonl`` ends with an ``end`` line at its ``max_duration`` is done and skipped
(:func:`run_state`); any other run is handed to :func:`csmpt.training.run_training`, which
resumes it from its save folder's latest checkpoint (autoresume) or starts it. With a spec's
``merge`` section, each finished run of a merged variant then gets its merge path
(:mod:`csmpt.ablate.merging`), once.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from omegaconf import OmegaConf
from rich.console import Console

from csmpt.ablate.merging import merge_done, merge_run
from csmpt.ablate.spec import (
    AblationRun,
    AblationSpec,
    check_merge_texts,
    merge_alphas,
    merged_variants,
    plan_runs,
)
from csmpt.errors import ConfigError, CsmptError
from csmpt.run_folder import RUNS_FILE, read_runs

__all__ = ["CheckedRun", "RunState", "check_runs", "run_ablation", "run_state"]

log = logging.getLogger(__name__)

_DURATION = re.compile(r"\s*(\d+)\s*(ba|tok|sp|ep|dur)\s*")


@dataclass(frozen=True)
class CheckedRun:
    """A run whose recipe passed the preflight, and what the ablation reads of it.

    Attributes:
        run: The run.
        metrics_file: Its ``metrics.jsonl`` (the ``csmpt_jsonl`` logger's path).
        max_duration: Its ``max_duration`` as resolved (e.g. ``"12ba"``).
        tokenizer: Its ``tokenizer.name`` as resolved (scores its merge path).
    """

    run: AblationRun
    metrics_file: Path
    max_duration: str
    tokenizer: str = ""


@dataclass(frozen=True)
class RunState:
    """Where a run stands.

    Attributes:
        done: It ended cleanly at its ``max_duration``.
        started: Its folder records a start (a rerun resumes or restarts it).
        step: The last step its ``runs.jsonl`` records (0 if none).
    """

    done: bool
    started: bool
    step: int

    def describe(self) -> str:
        """``done``, ``unfinished (step N)`` or ``to run``."""
        if self.done:
            return "done"
        return f"unfinished (step {self.step})" if self.started else "to run"


def _check_surgery(spec: AblationSpec, run: AblationRun) -> None:
    """The run's surgery recipe + overrides load and match the schema."""
    from csmpt.config import build_structured, load_yaml_with_overrides
    from csmpt.surgery.recipe import SurgeryConfig

    assert run.surgery is not None
    build_structured(
        SurgeryConfig,
        load_yaml_with_overrides(spec.surgery.recipe, list(run.surgery)),
        spec.surgery.recipe,
    )


def _checkable(run: AblationRun) -> list[str]:
    """The run's overrides to check now, less its surgery's ``load_path``.

    The surgery writes it just before the run trains; the surgery's own config was checked.
    """
    if run.surgery is None or run.surgery_dir is None:
        return list(run.overrides)
    return [o for o in run.overrides if o != f"load_path={run.surgery_dir / 'model.pt'}"]


def _check_one(spec: AblationSpec, run: AblationRun, spec_path: Path) -> CheckedRun:
    from csmpt.training.preflight import preflight

    try:
        if run.surgery is not None:
            _check_surgery(spec, run)
        cfg = preflight(spec.recipe, _checkable(run), deep=False)
    except CsmptError as e:
        raise type(e)(f"{spec_path}: variant '{run.variant}' (seed {run.seed}): {e}") from None
    metrics = OmegaConf.select(cfg, "loggers.csmpt_jsonl.path", default=None)
    record = OmegaConf.select(cfg, "callbacks.csmpt_run_record", default=None)
    if not isinstance(metrics, str) or record is None:
        raise ConfigError(
            f"{spec_path}: recipe {spec.recipe} needs the csmpt_jsonl logger (with a path) and "
            "the csmpt_run_record callback: the ablation reads metrics.jsonl and runs.jsonl"
        )
    tokenizer = OmegaConf.select(cfg, "tokenizer.name", default=None)
    return CheckedRun(
        run,
        Path(metrics),
        str(OmegaConf.select(cfg, "max_duration")),
        tokenizer if isinstance(tokenizer, str) else "",
    )


def check_runs(
    spec: AblationSpec, runs: Sequence[AblationRun], spec_path: str | Path, deep: bool = False
) -> list[CheckedRun]:
    """Every run's recipe + overrides through ``csmpt train``'s preflight, before any run starts.

    Args:
        spec: The spec.
        runs: Its runs (:func:`csmpt.ablate.spec.plan_runs`).
        spec_path: The spec file, for messages.
        deep: Also check each variant's optimizer and scheduler kwargs (imports llm-foundry).

    Raises:
        CsmptError: A run's recipe or data is invalid (the message names the variant), or a
            ``merge.texts`` file is missing.
    """
    path = Path(spec_path)
    check_merge_texts(spec, path)
    checked = [_check_one(spec, run, path) for run in runs]
    if deep:
        from csmpt.training.preflight import preflight

        seen: set[str] = set()
        for c in checked:
            if c.run.variant in seen:
                continue
            seen.add(c.run.variant)
            try:
                preflight(spec.recipe, _checkable(c.run), deep=True)
            except CsmptError as e:
                raise type(e)(f"{path}: variant '{c.run.variant}': {e}") from None
    return checked


def _reached(max_duration: str, record: dict[str, Any]) -> bool:
    """Whether an ``end`` record's step (or tokens) reaches ``max_duration``."""
    m = _DURATION.fullmatch(max_duration)
    if m is None:
        return True  # a unit the record cannot tell: trust the clean end
    n, unit = int(m.group(1)), m.group(2)
    if unit == "ba":
        return int(record.get("step", -1)) >= n
    if unit == "tok":
        return int(record.get("tokens", -1)) >= n
    return True


def run_state(checked: CheckedRun) -> RunState:
    """Where a run stands, from its save folder's ``runs.jsonl``."""
    records = read_runs(checked.run.folder / RUNS_FILE)
    if not records:
        return RunState(done=False, started=False, step=0)
    last = records[-1]
    step = int(last.get("step", 0))
    done = last.get("event") == "end" and _reached(checked.max_duration, last)
    return RunState(done=done, started=True, step=step)


def _train_quietly(recipe: str, overrides: list[str], console: Console, verbose: bool) -> None:
    """One ``csmpt train`` run, its library output in the run folder's ``csmpt.log``."""
    from csmpt.quiet import quiet_session, recipe_log_file
    from csmpt.training.run import run_training

    log_file = recipe_log_file(recipe, overrides)
    with quiet_session(console, log_file, verbose, f"csmpt train {recipe}") as q:
        run_training(recipe, [*overrides, *q.train_overrides()])


TrainOne = Callable[[str, list[str], Console, bool], None]


def surgery_done(run: AblationRun) -> bool:
    """Whether the run's surgery has written its output (surgeries publish whole folders)."""
    out = run.surgery_dir
    return out is not None and (out / "model.pt").is_file()


def _surgery(spec: AblationSpec, run: AblationRun, console: Console, verbose: bool) -> None:
    """The run's ``csmpt surgery``, its library output in the folder's ``csmpt.log``."""
    from csmpt.config import build_structured, load_yaml_with_overrides
    from csmpt.quiet import quiet_session
    from csmpt.surgery.recipe import SurgeryConfig, run_surgery

    assert run.surgery is not None and run.surgery_dir is not None
    recipe = spec.surgery.recipe
    cfg = build_structured(
        SurgeryConfig, load_yaml_with_overrides(recipe, list(run.surgery)), recipe
    )
    log_file = run.surgery_dir.parent / "csmpt.log"
    with quiet_session(console, log_file, verbose, f"csmpt surgery {recipe}"):
        run_surgery(cfg, force=True)


def _merge(
    spec: AblationSpec,
    checked: CheckedRun,
    texts: dict[str, list[str]],
    console: Console,
    verbose: bool,
) -> None:
    """The run's merge path, its library output in the variant folder's ``csmpt.log``."""
    from csmpt.quiet import quiet_session

    run = checked.run
    log_file = run.merge_dir.parent / "csmpt.log"
    with quiet_session(console, log_file, verbose, f"csmpt merge (the path of {run.folder})"):
        merge_run(spec, run, texts, spec.merge.tokenizer or checked.tokenizer)


def run_ablation(
    spec: AblationSpec,
    checked: Sequence[CheckedRun],
    console: Console,
    verbose: bool = False,
    train: TrainOne = _train_quietly,
    numbers: Sequence[int] | None = None,
) -> int:
    """Train every run that is not done, in order; return how many were (re)started.

    Args:
        spec: The spec.
        checked: Its runs, checked (:func:`check_runs`).
        console: Where the one-line-per-run story goes.
        verbose: Print the libraries' output instead of logging it to each run's csmpt.log.
        train: The trainer of one run (tests count calls through it).
        numbers: Each run's number in the spec's whole list (``--run I``: ``[I]``) and, as
            the total, the list's length; default 1..len(checked).

    Raises:
        CsmptError: A run failed, or ended short of its ``max_duration``.
    """
    started = 0
    nums = list(numbers) if numbers is not None else list(range(1, len(checked) + 1))
    total = len(plan_runs(spec)) if numbers is not None else len(checked)
    merged = set(merged_variants(spec))
    texts: dict[str, list[str]] | None = None
    for i, c in zip(nums, checked, strict=True):
        state = run_state(c)
        head = f"[{i}/{total}] {c.run.variant} seed {c.run.seed}"
        if state.done:
            console.print(f"{head}: done, skipped", highlight=False)
        else:
            what = f"resuming after step {state.step}" if state.started else "training"
            if c.run.surgery is not None and not surgery_done(c.run):
                console.print(f"{head}: surgery in {c.run.variant}/surgery-{c.run.seed}/")
                _surgery(spec, c.run, console, verbose)
            where = f"{c.run.variant}/seed-{c.run.seed}/"
            console.print(f"{head}: {what} in {where}", highlight=False)
            started += 1
            train(spec.recipe, list(c.run.overrides), console, verbose)
            after = run_state(c)
            if not after.done:
                raise CsmptError(
                    f"{c.run.folder}: the run stopped at step {after.step}, before its "
                    f"max_duration {c.max_duration}; rerun the same csmpt ablate command to "
                    "resume it"
                )
        if c.run.variant in merged and not merge_done(c.run):
            if texts is None:
                from csmpt.surgery.merge import read_texts

                texts = read_texts(spec.merge.texts)
            alphas = ", ".join(f"{a:g}" for a in merge_alphas(spec))
            where = f"{c.run.variant}/merge-{c.run.seed}/"
            console.print(f"{head}: merge path (α {alphas}) in {where}", highlight=False)
            _merge(spec, c, texts, console, verbose)
    return started
