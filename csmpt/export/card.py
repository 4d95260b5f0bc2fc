"""The model card (``README.md``) of an exported HF folder: what a reader needs to trust it.

Written by ``csmpt export`` from what the run folder already records: the recipe (base model,
tokenizer, optimizer, schedule, batch, precision), the checkpoint's step and tokens (Composer's
timestamp), the corpus hot swaps (``events.jsonl``), the tokenizer's size and its fertility on
the run's evaluation split (tokens per word, measured on the split's shards when they are on
this machine), and the eval table of ``csmpt eval`` when the run has one (``RUN/eval/table.md``).
Nothing is invented: a fact the run folder does not hold is left out.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from csmpt.run_folder import read_events

__all__ = ["model_card"]

log = logging.getLogger(__name__)


def _base(recipe: Mapping[str, Any]) -> str | None:
    """Where the run's weights came from: ``load_path`` or the HF model it was built from."""
    model = recipe.get("model") or {}
    if model.get("pretrained") and model.get("pretrained_model_name_or_path"):
        return str(model["pretrained_model_name_or_path"])
    load = recipe.get("load_path")
    if not load:
        return None
    path = Path(str(load))  # a local path: its last parts, not the training machine's folders
    return str(Path(*path.parts[-3:])) if path.is_absolute() else str(path)


def _timestamp(checkpoint: Path) -> dict[str, int]:
    """Batches, samples and tokens of a Composer checkpoint (empty if unreadable)."""
    import torch

    from csmpt.checkpoint.sharded import is_sharded_checkpoint, sharded_timestamp

    try:
        if is_sharded_checkpoint(checkpoint):
            return sharded_timestamp(checkpoint)
        state = torch.load(checkpoint, map_location="cpu", weights_only=False, mmap=True)
        ts = state["state"]["timestamp"]["Timestamp"]
    except Exception:  # noqa: BLE001 - a card without the figure, not a failed export
        return {}
    return {k: int(ts[k]) for k in ("batch", "sample", "token") if k in ts}


def _target_split(recipe: Mapping[str, Any]) -> Path | None:
    """The run's evaluation split (else its training split), when it is a local folder here."""
    from csmpt.mds.folders import local_mds_folders

    evals = recipe.get("eval_loader")
    loaders = [*(evals if isinstance(evals, list) else [evals]), recipe.get("train_loader")]
    for loader in loaders:
        dataset = loader.get("dataset") if isinstance(loader, Mapping) else None
        if isinstance(dataset, Mapping):
            for _, folder in local_mds_folders(dataset):
                if (folder / "index.json").is_file():
                    return folder
    return None


def _fertility_row(recipe: Mapping[str, Any], tokenizer: Any) -> str | None:
    """``| fertility | ... |`` on the run's own evaluation text, or None when it is not here."""
    from csmpt.eval.fertility import split_fertility

    folder = _target_split(recipe)
    if folder is None or tokenizer is None:
        return None
    try:
        f = split_fertility(folder, tokenizer)
    except Exception as e:  # noqa: BLE001 - a card without the figure, not a failed export
        log.info("%s: no fertility for the model card: %s", folder, e)
        return None
    if not f.documents:
        return None
    return (
        f"| fertility | {f.tokens_per_word:.2f} tokens per word, {f.bytes_per_token:.2f} bytes "
        f"per token on `{Path(*folder.parts[-2:])}` ({f.documents:,} documents, "
        f"{f.tokens:,} tokens) |"
    )


def _recipe_rows(recipe: Mapping[str, Any]) -> list[tuple[str, str]]:
    opt = recipe.get("optimizer") or {}
    sched = recipe.get("scheduler") or {}
    rows = [
        ("optimizer", f"{opt.get('name')} lr {opt.get('lr')}, betas {opt.get('betas')}, "
                      f"weight decay {opt.get('weight_decay')}"),
        ("schedule", f"{sched.get('name')}, warmup {sched.get('t_warmup')}, "
                     f"alpha_f {sched.get('alpha_f')}"),
        ("batch", f"{recipe.get('global_train_batch_size')} x {recipe.get('max_seq_len')} tokens"),
        ("precision", str(recipe.get("precision"))),
        ("max_duration", str(recipe.get("max_duration"))),
    ]  # fmt: skip
    return [(k, v) for k, v in rows if "None" not in v]


def model_card(
    out: Path,
    checkpoint: Path,
    recipe: Mapping[str, Any],
    model_type: str,
    vocab_size: int | None,
    max_abs_diff: float,
    tokenizer: Any = None,
) -> str:
    """The card's Markdown for the export in ``out`` of ``checkpoint`` (trained by ``recipe``).

    ``tokenizer`` (the run's) measures the fertility row; without it the row is left out.
    """
    run = checkpoint.parent
    name = str(recipe.get("run_name") or run.name)
    ts = _timestamp(checkpoint)
    lines = [f"# {name}", ""]
    base = _base(recipe)
    intro = "Continually pretrained with csmpt (llm-foundry/Composer)"
    lines += [f"{intro}{f' from `{base}`' if base else ''}.", ""]
    lines += ["## Training", "", "| | |", "|---|---|"]
    lines.append(f"| checkpoint | `{checkpoint.name}` |")
    if ts:
        lines.append(f"| trained | {ts.get('batch', 0):,} steps, {ts.get('token', 0):,} tokens |")
    tok = (recipe.get("tokenizer") or {}).get("name")
    if tok:
        size = f", {vocab_size:,} tokens" if vocab_size else ""
        lines.append(f"| tokenizer | `{Path(str(tok)).name}`{size} (in this folder) |")
    fertility = _fertility_row(recipe, tokenizer)
    if fertility:
        lines.append(fertility)
    lines += [f"| {k} | {v} |" for k, v in _recipe_rows(recipe)]
    swaps = [e for e in read_events(run / "events.jsonl") if e.get("event") == "swap"]
    if swaps:
        lines += ["", "## Corpus hot swaps", "", "| step | tokens | from | to | optimizer reset |"]
        lines.append("|---:|---:|---|---|---|")
        for e in swaps:
            lines.append(
                f"| {e.get('step')} | {e.get('tokens', 0):,} | {e.get('from')} | {e.get('to')} | "
                f"{'yes' if e.get('reset_optimizer') else 'no'} |"
            )
    table = run / "eval" / "table.md"
    if table.is_file():
        lines += ["", "## Evaluation (`csmpt eval`)", "", table.read_text(encoding="utf-8").strip()]
    remote = ", trust_remote_code=True" if model_type == "mpt" else ""
    lines += [
        "",
        "## Use",
        "",
        "```python",
        "from transformers import AutoModelForCausalLM, AutoTokenizer",
        f'model = AutoModelForCausalLM.from_pretrained("{out.name}"{remote})',
        f'tokenizer = AutoTokenizer.from_pretrained("{out.name}")',
        "```",
        "",
        f"The export's logits equal the checkpoint's within {max_abs_diff:.2g} (max abs "
        "difference, checked by `csmpt export`).",
        "",
        f"<!-- csmpt: {json.dumps({'checkpoint': checkpoint.name, **ts})} -->",
    ]
    return "\n".join(lines) + "\n"
