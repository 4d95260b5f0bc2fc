"""The demo's last stage: after training, what a user does with a run.

1. ``csmpt eval eval/cs_hellaswag_tiny.yaml``: CS-HellaSwag (0- and 3-shot) over the run's
   checkpoints, as a table;
2. ``csmpt validate``: loss per corpus (cs_web, cs_crawl, cs_crawl_clean val) per checkpoint;
3. ``csmpt export``: the last checkpoint to an HF folder, checked by logits, then
   ``transformers`` loads it and generates a Czech sentence;
4. ``csmpt report``: the run's curves with swap and spike markers (PNGs + page);
5. ``csmpt merge``: the path from the swapped weights (α 0) to the trained model (α 1), scored in
   bits per byte on the cs_web documents held out of training (its val split).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from rich.console import Console

from csmpt.checkpoint.loading import find_checkpoints
from csmpt.eval.mc_metrics import DEFAULT_METRIC
from csmpt.eval.series import load_eval_recipe, run_eval
from csmpt.eval.table import EvalRow, to_markdown
from csmpt.eval.validate import validate_checkpoints
from csmpt.export.hf import export_to_hf
from csmpt.report.render import write_report

__all__ = [
    "EVAL_YAML",
    "GENERATION_PROMPT",
    "AfterTraining",
    "after_training_rows",
    "generate",
    "run_after_training",
]

log = logging.getLogger(__name__)

EVAL_YAML = "eval/cs_hellaswag_tiny.yaml"
GENERATION_PROMPT = "Dobrý den,"


@dataclass
class AfterTraining:
    """What the demo's last stage produced."""

    eval_rows: list[EvalRow]
    eval_table: Path
    hf_dir: Path
    export_diff: float
    sentence: str
    report: Path
    figures: list[Path] = field(default_factory=list)
    seconds: float = 0.0
    validation: dict[str, float] = field(default_factory=dict)
    validation_csv: Path | None = None
    merge_bpb: dict[float, float] = field(default_factory=dict)
    merge_dir: Path | None = None

    @property
    def markdown(self) -> str:
        """The eval table as Markdown."""
        return to_markdown(self.eval_rows)


def generate(hf_dir: Path, prompt: str = GENERATION_PROMPT, max_new_tokens: int = 16) -> str:
    """Load an HF folder with ``transformers`` and continue ``prompt`` (greedy, deterministic)."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tok = AutoTokenizer.from_pretrained(hf_dir)
    model = AutoModelForCausalLM.from_pretrained(hf_dir, trust_remote_code=True).eval()
    ids = tok(prompt, return_tensors="pt")["input_ids"]
    # One line of words: no EOS or whitespace-only tokens (a tiny model's favourites).
    blank = [i for i in range(len(tok)) if not tok.decode([i]).strip()]
    with torch.no_grad():
        out = model.generate(
            ids,
            attention_mask=torch.ones_like(ids),
            max_new_tokens=max_new_tokens,
            min_new_tokens=max_new_tokens,
            suppress_tokens=blank,
            do_sample=False,
            repetition_penalty=1.3,
            pad_token_id=tok.pad_token_id if tok.pad_token_id is not None else tok.eos_token_id,
        )
    return str(tok.decode(out[0], skip_special_tokens=True)).strip()


def run_after_training(
    root: Path,
    workdir: Path,
    run_dir: Path,
    train_overrides: list[str],
    console: Console,
    short: Callable[[Path], str] = str,
    swapped: Path | None = None,
    tokenizer: Path | None = None,
) -> AfterTraining:
    """Eval table, per-corpus validation, HF export + generation, report, merge path.

    ``swapped`` is the model the run started from (the merge path's α 0; none: no merge),
    ``tokenizer`` the run's; ``short`` shortens the paths it prints.
    """
    t0 = time.perf_counter()
    train_yaml = str(root / "yamls/tiny/mpt_hot_swap.yaml")
    ov = [o for o in train_overrides if o.startswith("variables.")]
    recipe = load_eval_recipe(root / EVAL_YAML, [f"variables.run={run_dir}"])
    recipe.train_yaml, recipe.train_overrides = train_yaml, ov
    recipe.icl_tasks[0]["dataset_uri"] = str(root / recipe.icl_tasks[0]["dataset_uri"])
    ev = run_eval(recipe, progress=log.info)  # every metric: csmpt.log and the eval table
    for row in ev.rows:  # one line per checkpoint: lm-eval's acc_norm ± stderr and bpb
        scores = [
            f"{c} {v:.3f} ± {e:.3f}" for (c, m), (v, e) in row.scores.items() if m == DEFAULT_METRIC
        ]
        bpb = [f"{k} {v:.3f} bpb" for k, v in row.bpb.items()]
        console.print(
            f"step {row.step}: {DEFAULT_METRIC} " + ", ".join(scores + bpb), highlight=False
        )
    val = validate_checkpoints(
        run_dir,
        train_yaml,
        run_dir / "validation.csv",
        overrides=ov,
        max_samples=32,
        progress=log.info,  # one line per checkpoint and corpus: the summary has the last
    )
    last = find_checkpoints(run_dir)[-1]
    hf_dir = workdir / "hf"
    exp = export_to_hf(last.path, train_yaml, hf_dir, ov, overwrite=True)
    console.print(
        f"exported step {last.step} to {short(hf_dir)}: max abs logit diff {exp.max_abs_diff:.3g}",
        highlight=False,
    )
    sentence = generate(hf_dir)
    console.print(f"transformers generates: {sentence}", highlight=False)
    rep = write_report(run_dir)
    assert rep.html is not None
    merge_bpb: dict[float, float] = {}
    merge_dir = workdir / "merge"
    if swapped is not None and tokenizer is not None:
        merge_bpb = _merge_path(
            swapped, last.path, workdir / "mds" / "cs_web" / "val", tokenizer, merge_dir
        )

    last_step = max((r.step for r in val if r.step is not None), default=None)
    return AfterTraining(
        validation={r.corpus: r.loss for r in val if r.step == last_step},
        validation_csv=run_dir / "validation.csv",
        eval_rows=ev.rows,
        eval_table=ev.markdown,
        hf_dir=hf_dir,
        export_diff=exp.max_abs_diff,
        sentence=sentence,
        report=rep.html,
        figures=list(rep.figures.values()),
        seconds=time.perf_counter() - t0,
        merge_bpb=merge_bpb,
        merge_dir=merge_dir if merge_bpb else None,
    )


def _merge_path(
    swapped: Path, trained: Path, held_out: Path, tokenizer: Path, out: Path
) -> dict[float, float]:
    """α -> bits per byte on the documents of the split ``held_out``.

    ``csmpt merge SWAPPED TRAINED OUT --alpha 0 --alpha 0.5 --alpha 1 --text cs=...``, scores only.
    """
    from transformers import AutoTokenizer

    from csmpt.mds.doc_map import split_texts
    from csmpt.surgery.merge import run_merge

    texts = {"cs": split_texts(held_out)}
    tok = AutoTokenizer.from_pretrained(str(tokenizer))
    points = run_merge(
        [swapped, trained],
        out,
        [0.0, 0.5, 1.0],
        texts=texts,
        tokenizer=tok,
        force=True,
        write_models=False,
    )
    return {float(p.alpha or 0.0): p.bpb["cs"] for p in points}


def after_training_rows(a: AfterTraining, short: Callable[[Path], str]) -> list[tuple[str, str]]:
    """The demo summary's rows for this stage (``short`` shortens paths)."""
    accs = [
        f"{r.model} step {r.step}: "
        + ", ".join(f"{c} {DEFAULT_METRIC} {v:.4f}" for c, v in r.accuracy.items())
        for r in a.eval_rows
    ]
    losses = ", ".join(f"{c} {v:.3f}" for c, v in a.validation.items())
    rows = [("CS-HellaSwag (sample)", "\n".join(accs))]
    if a.validation_csv is not None:
        rows.append(("val loss, last step", f"{losses} ({short(a.validation_csv)})"))
    rows += [
        ("eval table", f"{short(a.eval_table)} (+ .csv, accuracy.png)"),
        ("HF export", f"{short(a.hf_dir)} (logits max abs diff {a.export_diff:.2g})"),
        ("generated (transformers)", a.sentence),
        ("report", f"{short(a.report)} ({', '.join(p.name for p in a.figures)})"),
    ]
    if a.merge_bpb and a.merge_dir is not None:
        path = ", ".join(f"α {k:g} {v:.3f}" for k, v in a.merge_bpb.items())
        rows.append(
            ("merge swapped -> trained", f"held-out cs_web bpb {path} ({short(a.merge_dir)})")
        )
    return rows
