"""``csmpt eval``: few-shot ICL eval of a checkpoint series and of HF models, as one table.

An eval recipe (``eval/*.yaml``) names the ICL tasks (llm-foundry's ``icl_tasks`` entries, as a
training recipe writes them), the checkpoints (a run's ``save_folder`` + the training recipe that
built its model) and HF directories (exports, base models to compare against). The result is
``table.md``, ``table.csv`` and ``accuracy.png`` in ``output_dir``: every multiple-choice task
scored as lm-eval's ``acc_norm`` and ``acc`` and llm-foundry's ``acc_per_token``, each with its
standard error (:mod:`csmpt.eval.mc_metrics`). With ``bpb_texts`` the table
also has each text's bits per byte per row, every model scored with its own tokenizer
(:mod:`csmpt.eval.bpb`): a base model and its vocabulary-swapped run in one comparable column.
With ``lm_eval_tasks`` every row is also scored by lm-evaluation-harness itself on the named
tasks, in memory (:mod:`csmpt.eval.lm_eval_backend`).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from csmpt.atomic import write_text
from csmpt.checkpoint.loading import (
    build_hf_model,
    build_recipe_model,
    find_checkpoints,
    load_checkpoint_weights,
)
from csmpt.config import at_least, build_structured, load_yaml_with_overrides
from csmpt.errors import ConfigError, DataError
from csmpt.eval.icl import IclResult, build_evaluators, evaluate_icl
from csmpt.eval.lm_eval_backend import LmEvalTask, evaluate_lm_eval, require_lm_eval
from csmpt.eval.table import EvalRow, plot_accuracy, to_csv, to_markdown

__all__ = [
    "BpbText",
    "EvalOutputs",
    "EvalRecipe",
    "HFModelSpec",
    "bpb_documents",
    "load_eval_recipe",
    "run_eval",
]

log = logging.getLogger(__name__)


@dataclass
class HFModelSpec:
    """An HF directory (or hub name) to evaluate, and its name in the table."""

    name: str
    path: str


@dataclass
class BpbText:
    """Documents scored in bits per byte by every row (a ``LABEL/bpb`` column of the table).

    Attributes:
        label: The column's name.
        path: Corpus file(s), folder or glob (JSON Lines, text, parquet: as ``csmpt prep``).
        text_field: JSON field of the text.
        max_documents: Score only the first this many documents.
    """

    label: str
    path: str
    text_field: str = "text"
    max_documents: int = field(default=200, metadata=at_least(1))


@dataclass
class EvalRecipe:
    """An eval recipe (``eval/*.yaml``).

    Attributes:
        icl_tasks: llm-foundry ``icl_tasks`` entries (``label``, ``dataset_uri``,
            ``icl_task_type``, ``num_fewshot`` ...).
        lm_eval_tasks: lm-evaluation-harness tasks scored by lm-eval itself (needs the
            ``lm-eval`` extra).
        checkpoints: A folder of Composer checkpoints (a run's ``save_folder``); one row each.
        train_yaml: The training recipe whose model the checkpoints hold.
        train_overrides: ``key=value`` overrides for ``train_yaml`` (e.g. its tokenizer path).
        models: HF directories to evaluate too (exports, base models).
        max_seq_len: Prompt length in tokens (longer contexts are cut from the left).
        device_eval_batch_size: Sequences per batch.
        icl_subset_num_batches: Evaluate only this many batches per task (None: all items).
        precision: ``fp32`` or ``amp_bf16`` (CUDA).
        output_dir: Where table.md, table.csv and accuracy.png go.
        bpb_texts: Texts scored in bits per byte by every row, each model with its own
            tokenizer (windows of ``max_seq_len`` tokens).
        variables: Free values for interpolation.
    """

    icl_tasks: list[dict[str, Any]] = field(default_factory=list)
    lm_eval_tasks: list[LmEvalTask] = field(default_factory=list)
    checkpoints: str | None = None
    train_yaml: str | None = None
    train_overrides: list[str] = field(default_factory=list)
    models: list[HFModelSpec] = field(default_factory=list)
    max_seq_len: int = field(default=128, metadata=at_least(1))
    device_eval_batch_size: int = field(default=8, metadata=at_least(1))
    icl_subset_num_batches: int | None = field(default=None, metadata=at_least(1))
    precision: str = "fp32"
    output_dir: str = "artifacts/eval"
    bpb_texts: list[BpbText] = field(default_factory=list)
    variables: dict[str, Any] = field(default_factory=dict)


@dataclass
class EvalOutputs:
    """The rows of the table and where it was written."""

    rows: list[EvalRow]
    markdown: Path
    csv: Path
    plot: Path


_ICL_TASK_TYPES = ("multiple_choice", "schema", "language_modeling", "generation_task_with_answers")


def _check_icl_tasks(path: str | Path, tasks: Sequence[Mapping[str, Any]]) -> None:
    """The ``icl_tasks`` keys llm-foundry would otherwise reject with a traceback.

    ``icl_task_type`` one of llm-foundry 0.22's; ``num_fewshot`` whole numbers >= 0, each once
    (a negative one was int('')'s traceback, a repeated one two identical columns).

    Raises:
        ConfigError: One line naming ``icl_tasks.N.key`` and the value.
    """
    for i, task in enumerate(tasks):
        kind = task.get("icl_task_type")
        if kind not in _ICL_TASK_TYPES:
            raise ConfigError(
                f"{path}: icl_tasks.{i}.icl_task_type is {kind!r}; use one of "
                f"{', '.join(_ICL_TASK_TYPES)}"
            )
        shots = task.get("num_fewshot", [0])
        shots = list(shots) if isinstance(shots, list | tuple) else [shots]
        bad = [n for n in shots if not isinstance(n, int) or isinstance(n, bool) or n < 0]
        if bad or not shots or len(set(shots)) != len(shots):
            raise ConfigError(
                f"{path}: icl_tasks.{i}.num_fewshot is {shots}; give distinct whole numbers "
                ">= 0 (e.g. [0, 3])"
            )


def load_eval_recipe(path: str | Path, overrides: Sequence[str] = ()) -> EvalRecipe:
    """Load and check an eval recipe with ``key=value`` overrides."""
    recipe = build_structured(EvalRecipe, load_yaml_with_overrides(path, overrides), path)
    if not recipe.icl_tasks and not recipe.lm_eval_tasks:
        raise ConfigError(f"{path}: no task; name at least one in icl_tasks or lm_eval_tasks")
    _check_icl_tasks(path, recipe.icl_tasks)
    if recipe.lm_eval_tasks:
        require_lm_eval(f"{path}: lm_eval_tasks")
    if recipe.checkpoints and not recipe.train_yaml:
        raise ConfigError(
            f"{path}: 'checkpoints' needs 'train_yaml', the recipe the run trained with"
        )
    return recipe


def bpb_documents(texts: Sequence[BpbText]) -> dict[str, list[str]]:
    """Label -> the documents to score (bad records skipped, as ``csmpt prep`` skips them).

    Raises:
        DataError: A path matches no file, or holds no usable document.
    """
    from csmpt.corpus.readers import expand_inputs, read_documents

    out: dict[str, list[str]] = {}
    for t in texts:
        docs: list[str] = []
        for d in read_documents(expand_inputs([t.path]), t.text_field):
            if d.problem is None and d.text.strip():
                docs.append(d.text)
                if len(docs) == t.max_documents:
                    break
        if not docs:
            raise DataError(f"bpb_texts '{t.label}': {t.path} holds no usable document")
        out[t.label] = docs
    return out


def _bpb(
    model: Any, tokenizer: Any, docs: dict[str, list[str]], recipe: EvalRecipe
) -> dict[str, float]:
    from csmpt.eval.bpb import score_documents, score_window

    if not docs:
        return {}
    inner = model.model  # the HF model inside Composer's wrapper
    window, batch = score_window(inner, recipe.max_seq_len), recipe.device_eval_batch_size
    return {k: score_documents(inner, tokenizer, d, window, batch).bpb for k, d in docs.items()}


def _evaluators(recipe: EvalRecipe, tokenizer: Any) -> list[Any]:
    """llm-foundry's evaluators of the recipe's ``icl_tasks`` (none without them)."""
    if not recipe.icl_tasks:
        return []
    return build_evaluators(
        recipe.icl_tasks,
        tokenizer,
        recipe.max_seq_len,
        recipe.device_eval_batch_size,
        recipe.icl_subset_num_batches,
    )


def _score(
    model: Any, tokenizer: Any, evaluators: list[Any], recipe: EvalRecipe
) -> list[IclResult]:
    """The ``icl_tasks`` results, then lm-eval's on ``lm_eval_tasks`` (the same model)."""
    results = evaluate_icl(model, evaluators, recipe.precision) if evaluators else []
    if recipe.lm_eval_tasks:
        results += evaluate_lm_eval(
            model.model,  # the HF model inside Composer's wrapper
            tokenizer,
            recipe.lm_eval_tasks,
            recipe.device_eval_batch_size,
            recipe.max_seq_len,
        )
    return results


def run_eval(
    recipe: EvalRecipe,
    progress: Callable[[str], None] | None = None,
) -> EvalOutputs:
    """Evaluate every checkpoint (in step order) and every HF model; write the table and plot.

    Raises:
        CsmptError: Nothing to evaluate, an empty checkpoint folder, a checkpoint that does not
            fit the recipe's model, a malformed eval file, an unreachable hub dataset.
    """
    say = progress or (lambda msg: log.info("%s", msg))
    ckpts = find_checkpoints(recipe.checkpoints) if recipe.checkpoints else []
    if not ckpts and not recipe.models:
        raise ConfigError(
            "nothing to evaluate: set 'checkpoints' (+ 'train_yaml') or list HF 'models'"
        )
    rows: list[EvalRow] = []
    docs = bpb_documents(recipe.bpb_texts)
    if ckpts:
        assert recipe.train_yaml is not None
        rm = build_recipe_model(recipe.train_yaml, recipe.train_overrides)
        evaluators = _evaluators(recipe, rm.tokenizer)
        run_name = Path(recipe.checkpoints or "").name
        for c in ckpts:
            load_checkpoint_weights(rm.model, c.path, rm.recipe)
            row = EvalRow(run_name, c.step, _score(rm.model, rm.tokenizer, evaluators, recipe))
            row.bpb = _bpb(rm.model, rm.tokenizer, docs, recipe)
            rows.append(row)
            say(_describe(row))
    for spec in recipe.models:
        model, tokenizer = build_hf_model(spec.path, recipe.max_seq_len)
        evaluators = _evaluators(recipe, tokenizer)
        row = EvalRow(spec.name, None, _score(model, tokenizer, evaluators, recipe))
        row.bpb = _bpb(model, tokenizer, docs, recipe)
        rows.append(row)
        say(_describe(row))
    out = Path(recipe.output_dir)
    outputs = EvalOutputs(rows, out / "table.md", out / "table.csv", out / "accuracy.png")
    write_text(outputs.markdown, to_markdown(rows))
    write_text(outputs.csv, to_csv(rows))
    plot_accuracy(rows, outputs.plot, title="few-shot accuracy over training")
    return outputs


def _describe(row: EvalRow) -> str:
    where = f"{row.model} step {row.step}" if row.step is not None else row.model
    accs = ", ".join(
        [f"{c} {m} {v:.4f} ± {e:.4f}" for (c, m), (v, e) in row.scores.items()]
        + [f"{k} {v:.3f} bpb" for k, v in row.bpb.items()]
    )
    return f"{where}: {accs} ({row.items_per_s:.1f} items/s)"
