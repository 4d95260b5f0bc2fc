"""The model card (``README.md``) of an exported HF folder: what a reader needs to trust it.

Written by ``csmpt export`` from what the run folder already records: the recipe (base model,
tokenizer, optimizer, schedule, batch, precision), the checkpoint's step and tokens (Composer's
timestamp), the corpus hot swaps (``events.jsonl``), the tokenizer's size, and the eval table of
``csmpt eval`` when the run has one (``RUN/eval/table.md``). Nothing is invented: a fact the run
folder does not hold is left out.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from csmpt.run_folder import read_events

__all__ = ["model_card"]


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
    """Batches, samples and tokens of a monolithic Composer checkpoint (empty if unreadable)."""
    import torch

    try:
        state = torch.load(checkpoint, map_location="cpu", weights_only=False, mmap=True)
        ts = state["state"]["timestamp"]["Timestamp"]
    except Exception:  # noqa: BLE001 - a card without the figure, not a failed export
        return {}
    return {k: int(ts[k]) for k in ("batch", "sample", "token") if k in ts}


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
) -> str:
    """The card's Markdown for the export in ``out`` of ``checkpoint`` (trained by ``recipe``)."""
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
