"""lm-evaluation-harness as a ``csmpt eval`` backend: its tasks over a checkpoint series.

An eval recipe's ``lm_eval_tasks`` names lm-eval tasks (built in, or local task YAMLs in an
``include_path`` reading local data files: nothing is fetched when the files are local). Every
checkpoint of the series is scored in memory, without writing an export: the HF model inside
llm-foundry's wrapper, with the recipe's tokenizer, goes to lm-eval's own ``HFLM`` and
``simple_evaluate``; so are the recipe's HF ``models``. The numbers are lm-eval's own (its
``acc``, ``acc_norm`` and any other metric of the task, with its standard errors) and join the
same table, CSV and plot as the ``icl_tasks`` rows.

lm-eval is an optional extra (``pip install 'csmpt[lm-eval]'``, lm_eval 0.4.9.1, which accepts
llm-foundry 0.22's pins); a recipe with ``lm_eval_tasks`` and no lm-eval gets one line saying so.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from csmpt.config.schema import at_least
from csmpt.errors import ConfigError
from csmpt.eval.icl import IclResult

__all__ = ["LmEvalTask", "evaluate_lm_eval", "require_lm_eval"]

log = logging.getLogger(__name__)

LM_EVAL_PIN = "lm_eval==0.4.9.1"


@dataclass
class LmEvalTask:
    """One lm-eval task of an eval recipe.

    Attributes:
        name: The task's name in lm-eval (``hellaswag``, ``cs_hellaswag_local`` ...).
        include_path: A folder of local task YAMLs to add (``eval/tasks/cs``).
        num_fewshot: Few-shot examples per prompt.
        limit: Score only the first this many items (None: all).
    """

    name: str
    include_path: str | None = None
    num_fewshot: int = field(default=0, metadata=at_least(0))
    limit: int | None = field(default=None, metadata=at_least(1))


def require_lm_eval(what: str = "lm_eval_tasks") -> None:
    """Raise a one-line :class:`ConfigError` when lm-eval cannot be imported."""
    try:
        import lm_eval  # noqa: F401
    except ImportError:
        raise ConfigError(
            f"{what} need lm-evaluation-harness, which is not installed: "
            f"pip install 'csmpt[lm-eval]' (or {LM_EVAL_PIN})"
        ) from None


def _metrics(results: dict[str, Any]) -> tuple[dict[str, float], dict[str, float]]:
    """lm-eval's ``{"acc,none": v, "acc_stderr,none": e}`` as (scores, stderr) by metric."""
    scores: dict[str, float] = {}
    stderr: dict[str, float] = {}
    for key, value in results.items():
        metric, _, _filter = key.partition(",")
        if not _filter or not isinstance(value, int | float) or isinstance(value, bool):
            continue
        if metric.endswith("_stderr"):
            stderr[metric.removesuffix("_stderr")] = float(value)
        else:
            scores[metric] = float(value)
    first = [m for m in ("acc_norm", "acc") if m in scores]  # the icl_tasks rows' order
    keys = first + sorted(m for m in scores if m not in first)
    return {k: scores[k] for k in keys}, {k: stderr.get(k, math.nan) for k in keys}


def evaluate_lm_eval(
    hf_model: Any,
    tokenizer: Any,
    tasks: Sequence[LmEvalTask],
    batch_size: int,
    max_length: int,
) -> list[IclResult]:
    """Score an in-memory HF causal LM on lm-eval tasks; one :class:`IclResult` per task.

    Args:
        hf_model: A ``transformers.PreTrainedModel`` (not written to disk).
        tokenizer: Its tokenizer.
        tasks: The tasks (each with its own shot count and limit).
        batch_size: Requests per forward pass.
        max_length: Tokens per request (longer contexts are cut from the left by lm-eval).
    """
    require_lm_eval()
    from lm_eval import simple_evaluate
    from lm_eval.models.huggingface import HFLM
    from lm_eval.tasks import TaskManager

    device = str(next(hf_model.parameters()).device)
    lm = HFLM(
        pretrained=hf_model,
        tokenizer=tokenizer,
        batch_size=batch_size,
        max_length=max_length,
        device=device,
    )
    out = []
    for task in tasks:
        manager = TaskManager(include_path=task.include_path) if task.include_path else None
        start = time.perf_counter()
        res = simple_evaluate(
            model=lm,
            tasks=[task.name],
            num_fewshot=task.num_fewshot,
            limit=task.limit,
            task_manager=manager,
            log_samples=False,
        )
        seconds = time.perf_counter() - start
        if res is None or task.name not in res.get("results", {}):
            raise ConfigError(f"lm-eval task '{task.name}' gave no result")
        scores, stderr = _metrics(res["results"][task.name])
        items = int((res.get("n-samples") or {}).get(task.name, {}).get("effective", 0))
        out.append(IclResult(task.name, task.num_fewshot, scores, stderr, items, seconds))
    return out
