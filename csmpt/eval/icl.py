"""Few-shot multiple-choice eval (CS-HellaSwag) on llm-foundry's ICL machinery.

The prompts and the batches are llm-foundry's own: ``build_icl_evaluators`` turns ``icl_tasks``
entries (exactly as a training recipe writes them) into dataloaders. From one forward pass per
batch the loop reads every multiple-choice metric (:mod:`csmpt.eval.mc_metrics`): lm-eval's
``acc_norm`` and ``acc`` from the summed log-likelihood of each choice, and llm-foundry's
``InContextLearningMultipleChoiceAccuracy`` (lowest mean per-token cross-entropy, CSMPT7b's
figure) as ``acc_per_token``, each with its standard error. This module adds what a user needs
around them: a check of local eval files that names the line and field of a mistake, a one-line
error when a hub dataset cannot be loaded, and a plain loop that reports items/s.
"""

from __future__ import annotations

import copy
import json
import logging
import math
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from csmpt.errors import DataError
from csmpt.eval.mc_metrics import DEFAULT_METRIC, ChoiceScores, aggregate, item_correct

if TYPE_CHECKING:
    from composer.core import Evaluator
    from composer.models import ComposerModel
    from transformers import PreTrainedTokenizerBase

__all__ = [
    "IclResult",
    "build_evaluators",
    "check_hub_dataset",
    "check_mc_jsonl",
    "evaluate_icl",
    "hub_hint",
    "is_hub_uri",
]

log = logging.getLogger(__name__)

_MC_METRIC = "InContextLearningMultipleChoiceAccuracy"  # llm-foundry's, per-token


@dataclass
class IclResult:
    """Scores of one model on one task at one shot count.

    Attributes:
        task: The task's label.
        shots: Few-shot examples per prompt.
        scores: Metric -> accuracy; a multiple-choice task has ``acc_norm``, ``acc`` and
            ``acc_per_token`` (:mod:`csmpt.eval.mc_metrics`), another task llm-foundry's metric
            under its class name.
        stderr: Metric -> standard error of ``scores`` (lm-eval's ``mean_stderr``; ``nan``
            where undefined).
        items: Items scored.
        seconds: Time spent scoring.
        details: Per item of a multiple-choice task: each choice's log-likelihood, token and
            character counts, and the gold index (in dataset order).
    """

    task: str
    shots: int
    scores: dict[str, float]
    stderr: dict[str, float]
    items: int
    seconds: float
    details: list[ChoiceScores] = field(default_factory=list, repr=False)

    @property
    def column(self) -> str:
        """The task and shot count: ``cs_hellaswag/3-shot`` (a table column per metric)."""
        return f"{self.task}/{self.shots}-shot"

    @property
    def accuracy(self) -> float:
        """The headline score: ``acc_norm`` where the task has it, else its only metric."""
        return self.scores.get(DEFAULT_METRIC, next(iter(self.scores.values())))


def is_hub_uri(uri: str) -> bool:
    """Whether an ICL ``dataset_uri`` names an HF hub dataset (``hf://ORG/NAME``)."""
    return uri.startswith("hf://")


def check_mc_jsonl(path: str | Path) -> int:
    """Check a ``multiple_choice`` eval file line by line; return its number of items.

    Every line must be a JSON object with a non-empty string ``query``, a list ``choices`` of at
    least two strings (the same count on every line: llm-foundry batches by the first item's
    count) and an integer ``gold`` indexing ``choices``.

    Raises:
        DataError: ``FILE:LINE: field 'NAME' ...`` for the first bad line.
    """
    p = Path(path)
    if not p.is_file():
        raise DataError(f"eval file '{p}' does not exist")
    n_choices: int | None = None
    items = 0
    with p.open(encoding="utf-8") as f:
        for lineno, line in enumerate(f, 1):
            if not line.strip():
                continue
            where = f"{p}:{lineno}"
            try:
                rec = json.loads(line)
            except json.JSONDecodeError as e:
                raise DataError(f"{where}: not valid JSON ({e.msg})") from None
            if not isinstance(rec, dict):
                raise DataError(f"{where}: expected a JSON object with query, choices, gold")
            query, choices, gold = rec.get("query"), rec.get("choices"), rec.get("gold")
            if not isinstance(query, str) or not query.strip():
                raise DataError(f"{where}: field 'query' must be a non-empty string")
            if (
                not isinstance(choices, list)
                or len(choices) < 2
                or not all(isinstance(c, str) and c.strip() for c in choices)
            ):
                raise DataError(f"{where}: field 'choices' must be a list of 2+ non-empty strings")
            if n_choices is None:
                n_choices = len(choices)
            elif len(choices) != n_choices:
                raise DataError(
                    f"{where}: field 'choices' has {len(choices)} entries, the first line "
                    f"{n_choices}; every item needs the same number of choices"
                )
            if isinstance(gold, bool) or not isinstance(gold, int) or not 0 <= gold < n_choices:
                raise DataError(f"{where}: field 'gold' must be an integer in [0, {n_choices})")
            items += 1
    if items == 0:
        raise DataError(f"eval file '{p}' has no items")
    return items


def hub_hint(uri: str, key: str) -> str:
    """How to point an ICL task at a local copy of a hub dataset.

    ``key`` is what to change: a ``variables.NAME`` the URI comes from (an override), or the
    task's ``icl_tasks.N.dataset_uri`` (a recipe edit).
    """
    name = uri.removeprefix("hf://")
    fix = (
        f"override {key}=cs_hellaswag.jsonl"
        if key.startswith("variables.")
        else f"set {key} to cs_hellaswag.jsonl in the recipe (and drop hf_loading_vars)"
    )
    return (
        "without network access, save it once where the hub is reachable "
        f"(python -c \"import datasets; datasets.load_dataset('{name}', split='test')"
        f".to_json('cs_hellaswag.jsonl')\") and {fix}"
    )


def check_hub_dataset(
    uri: str, loading_vars: dict[str, Any] | None, where: str, key: str = "dataset_uri"
) -> None:
    """Load a hub ICL dataset now (cached afterwards), so an offline machine fails in one line.

    Raises:
        DataError: The dataset cannot be loaded; the message says how to use a local copy.
    """
    from datasets import load_dataset

    try:
        load_dataset(uri.removeprefix("hf://"), **(loading_vars or {}))
    except Exception as e:  # noqa: BLE001 - datasets raises many types when offline
        reason = (str(e).strip().splitlines() or [type(e).__name__])[0][:160]
        raise DataError(
            f"{where}: cannot load '{uri}' from the HF hub ({reason}); {hub_hint(uri, key)}"
        ) from None


def _check_tasks(tasks: Sequence[dict[str, Any]]) -> None:
    for i, task in enumerate(tasks):
        uri = str(task.get("dataset_uri", ""))
        if task.get("icl_task_type") == "multiple_choice" and uri and not is_hub_uri(uri):
            check_mc_jsonl(uri)
        elif is_hub_uri(uri):
            key = f"icl_tasks.{i}.dataset_uri"
            check_hub_dataset(uri, task.get("hf_loading_vars"), key, key)


@contextmanager
def _tmpdir() -> Iterator[str]:
    with tempfile.TemporaryDirectory(prefix="csmpt-icl-") as d:
        yield d


def build_evaluators(
    tasks: Sequence[dict[str, Any]],
    tokenizer: PreTrainedTokenizerBase,
    max_seq_len: int,
    batch_size: int,
    subset_num_batches: int | None = None,
) -> list[Evaluator]:
    """llm-foundry's ICL evaluators (one per task and shot count), input files checked first.

    Args:
        tasks: ``icl_tasks`` entries as in a training recipe (``label``, ``dataset_uri``,
            ``icl_task_type``, ``num_fewshot`` ...).
        tokenizer: The model's tokenizer.
        max_seq_len: Prompt length (contexts are cut from the left to fit).
        batch_size: Sequences per batch (a multiple-choice item takes one per choice).
        subset_num_batches: Evaluate only this many batches per task (``None``: all).

    Raises:
        DataError: A malformed local file (line and field) or an unreachable hub dataset.
    """
    from llmfoundry.utils.builders import build_icl_evaluators

    tasks = copy.deepcopy(list(tasks))
    _check_tasks(tasks)
    with _tmpdir() as dest:
        # The datasets are read (and copied to dest) while the evaluators are built.
        evaluators, _ = build_icl_evaluators(
            tasks, tokenizer, max_seq_len, batch_size, dest, subset_num_batches
        )
    return evaluators


def _to_device(batch: dict[str, Any], device: Any) -> dict[str, Any]:
    import torch

    return {k: v.to(device) if isinstance(v, torch.Tensor) else v for k, v in batch.items()}


def _trim_padding(batch: dict[str, Any]) -> dict[str, Any]:
    """Drop the right-padding columns no sequence of the batch uses.

    llm-foundry pads every prompt to ``max_seq_len``; the model is causal and the padding is on
    the right, so the logits of the real tokens do not change when the batch ends after the last
    scored token. A 40-token 0-shot prompt then costs 40 positions, not ``max_seq_len``.
    """
    spans = batch.get("continuation_indices")
    if not spans:
        return batch
    end = max(int(s.max()) for s in spans) + 1
    out = dict(batch)
    for key in ("input_ids", "labels", "attention_mask"):
        v = out.get(key)
        if v is not None and getattr(v, "ndim", 0) == 2:
            out[key] = v[:, :end]
    return out


def _continuation_loglikelihoods(
    logits: Any, labels: Any, spans: Sequence[Any]
) -> tuple[list[float], list[int]]:
    """Per sequence of the batch: summed log p of its continuation tokens, and their count.

    ``labels`` are shifted left by one (Composer's ``eval_forward``), so the token at position
    ``i`` of a continuation is predicted by the logits at ``i - 1`` and is ``labels[i - 1]``.
    """
    import torch

    lls, counts = [], []
    for row, idx in enumerate(spans):
        pos = idx.to(logits.device) - 1
        logp = torch.log_softmax(logits[row].index_select(0, pos).float(), dim=-1)  # (n, V)
        target = labels[row].to(logits.device).index_select(0, pos)  # (n,)
        lls.append(float(logp.gather(-1, target[:, None]).sum()))
        counts.append(int(pos.numel()))
    return lls, counts


class _McItems:
    """The multiple-choice examples of an evaluator, in the order its batches hold them."""

    def __init__(self, dataloader: Any) -> None:
        self.dataset = dataloader.dataset
        self.order = list(iter(dataloader.sampler))
        self.choices_key = getattr(self.dataset, "choices_key", "choices")
        self.seen = 0

    def next_item(self, lls: list[float], counts: list[int], gold: int) -> ChoiceScores:
        """The next item's scores; its choice strings (as llm-foundry scored them) give n_chars.

        Raises:
            RuntimeError: The batch and the dataset disagree (gold or number of choices).
        """
        example = self.dataset[self.order[self.seen]]
        self.seen += 1
        choices = list(example[self.choices_key])
        if len(choices) != len(lls) or int(example["gold"]) != gold:
            raise RuntimeError(
                f"multiple-choice item {self.order[self.seen - 1]}: the batch holds "
                f"{len(lls)} choices and gold {gold}, the dataset {len(choices)} and "
                f"{example['gold']}; the dataloader's order is not its sampler's"
            )
        return ChoiceScores(tuple(lls), tuple(counts), tuple(len(c) for c in choices), gold)


def evaluate_icl(
    model: ComposerModel, evaluators: Sequence[Evaluator], precision: str = "fp32"
) -> list[IclResult]:
    """Run each evaluator over ``model`` and return the scores per task and shot count.

    The loop is Composer's eval step without a Trainer: ``model.eval_forward`` and
    ``model.update_metric`` with llm-foundry's metric, under autocast for ``amp_bf16``; each
    batch is first cut after its last scored token (see ``_trim_padding``). For a
    multiple-choice task the same logits give each choice's summed log-likelihood, from which
    lm-eval's ``acc`` and ``acc_norm`` are read; llm-foundry's per-item verdict is
    ``acc_per_token``.
    """
    import torch

    device = next(model.parameters()).device
    metrics = model.get_metrics(is_train=False)
    autocast = precision in ("amp_bf16", "bf16") and device.type == "cuda"
    results = []
    model.eval()
    for ev in evaluators:
        label: str = ev.label
        task, _, shot = label.rpartition("/")
        metric_name = list(ev.metric_names or [])[0]
        metric = copy.deepcopy(metrics[metric_name])
        metric.reset()
        dataloader: Any = ev.dataloader.dataloader
        limit = ev.subset_num_batches if ev.subset_num_batches not in (None, -1) else None
        mc = _McItems(dataloader) if metric_name == _MC_METRIC else None
        per_item: list[dict[str, float]] = []
        details: list[ChoiceScores] = []
        items, t0 = 0, time.perf_counter()
        with torch.no_grad(), torch.autocast(device.type, torch.bfloat16, enabled=autocast):
            for i, batch in enumerate(dataloader):
                if limit is not None and i >= limit:
                    break
                batch = _to_device(_trim_padding(batch), device)
                items += len(list(batch["gold_indices"]))
                outputs = model.eval_forward(batch)
                verdicts = model.update_metric(batch, outputs, metric) or {}
                if mc is None:
                    continue
                lls, counts = _continuation_loglikelihoods(
                    outputs, model.labels, batch["continuation_indices"]
                )
                groups = zip(batch["choice_groupings"], batch["gold_indices"], strict=True)
                for g, ((start, end), gold) in enumerate(groups):
                    item = mc.next_item(lls[start:end], counts[start:end], int(gold))
                    correct = item_correct(item)
                    correct["acc_per_token"] = float(verdicts["result"][g])  # llm-foundry's
                    details.append(item)
                    per_item.append(correct)
        seconds = time.perf_counter() - t0
        if mc is not None:
            scores, stderr = aggregate(per_item)
        else:
            scores, stderr = {metric_name: float(metric.compute())}, {metric_name: math.nan}
        results.append(
            IclResult(task, int(shot.split("-")[0]), scores, stderr, items, seconds, details)
        )
        log.info(
            "%s: %s on %d items, %.1f items/s",
            label,
            ", ".join(f"{k} {v:.4f} ± {stderr[k]:.4f}" for k, v in scores.items()),
            items,
            items / seconds,
        )
    return results
