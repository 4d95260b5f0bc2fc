"""The demo's vocabulary-swap stage: a tiny English MPT becomes the start of the Czech run.

1. train the English tokenizer (``data_prep/tokenizer/en_sample.yaml``) and shards
   (``data_prep/en_sample.yaml``) on the English sample;
2. train the tiny English MPT for a few steps (``yamls/tiny/mpt_en.yaml``);
3. swap it to the demo's Czech tokenizer (``yamls/surgery/mpt_en_to_cs.yaml``), the new rows
   initialised with FOCUS (fastText on the Czech sample);
4. the same swap with the alignment init (TokAlign: fastText on both tokenizations of the Czech
   sample, each new row from its aligned English row), to show its alignment check beside
   FOCUS's held-out bpb (the demo's run keeps FOCUS);
5. the other way to a Czech vocabulary: extend the English tokenizer with Czech tokens
   (``data_prep/tokenizer/extend_sample.yaml``, ``csmpt tokenizer extend``): fertility before and
   after, and the English sample's ids unchanged.

The demo's Czech run then starts from ``SwapStage.load_path`` (``load_weights_only``).
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from rich.console import Console

from csmpt.config import build_structured, load_yaml_with_overrides
from csmpt.prep.config import PrepConfig
from csmpt.prep.run import prep_corpora
from csmpt.run_folder import metric_series, read_metrics
from csmpt.surgery.recipe import SurgeryConfig, run_surgery
from csmpt.surgery.report import WEAK_ALIGNMENT, SurgeryReport
from csmpt.tokenizer.extend import ExtendConfig, ExtendStats, extend_tokenizer
from csmpt.tokenizer.train import TokenizerConfig, train_tokenizer

__all__ = ["SwapStage", "alignment_rows", "run_swap_stage"]

EN_TOKENIZER_YAML = "data_prep/tokenizer/en_sample.yaml"
EXTEND_YAML = "data_prep/tokenizer/extend_sample.yaml"
EN_PREP_YAML = "data_prep/en_sample.yaml"
EN_TRAIN_YAML = "yamls/tiny/mpt_en.yaml"
SURGERY_YAML = "yamls/surgery/mpt_en_to_cs.yaml"


@dataclass
class SwapStage:
    """What the swap stage made: the English run, the surgery output and its report."""

    english_run: Path
    english_losses: tuple[float, float]
    output: Path
    load_path: Path
    report: SurgeryReport
    seconds: float
    extension: ExtendStats | None = None
    alignment: SurgeryReport | None = None

    def overrides(self) -> list[str]:
        """Overrides that make a training run start from the swapped weights."""
        return [f"load_path={self.load_path}", "load_weights_only=true"]


def run_swap_stage(
    root: Path,
    workdir: Path,
    cs_tokenizer: Path,
    steps: int,
    console: Console,
    train_overrides: Sequence[str] = (),
) -> SwapStage:
    """English tokenizer + shards -> tiny English MPT (``steps``) -> swap to ``cs_tokenizer``.

    ``train_overrides`` are added to the English run's (e.g. the quiet console's).
    """
    t0 = time.perf_counter()
    yaml = root / EN_TOKENIZER_YAML
    tok_cfg = build_structured(
        TokenizerConfig,
        load_yaml_with_overrides(yaml, [f"output_dir={workdir / 'tokenizer_en'}"]),
        yaml,
    )
    tok_cfg.inputs = [str(root / p) for p in tok_cfg.inputs]
    en_tok, _ = train_tokenizer(tok_cfg)
    yaml = root / EN_PREP_YAML
    prep_cfg = build_structured(
        PrepConfig,
        load_yaml_with_overrides(yaml, [f"tokenizer={en_tok}", f"output_dir={workdir / 'mds_en'}"]),
        yaml,
    )
    for corpus in prep_cfg.corpora:
        corpus.inputs = [str(root / p) for p in corpus.inputs]
    prep_corpora(prep_cfg)

    run_dir = workdir / "runs" / "tiny-mpt-en"
    if run_dir.exists():
        shutil.rmtree(run_dir)
    from csmpt.training.run import run_training

    console.print(f"training the tiny English MPT for {steps} steps")
    run_training(
        root / EN_TRAIN_YAML,
        [
            f"variables.data_root={workdir / 'mds_en'}",
            f"variables.tokenizer_name={en_tok}",
            f"variables.save_folder={run_dir}",
            f"max_duration={steps}ba",
            f"eval_interval={steps}ba",
            f"save_interval={steps}ba",
            *train_overrides,
        ],
    )
    losses = [
        v for _, v in metric_series(read_metrics(run_dir / "metrics.jsonl"), "loss/train/total")
    ]

    yaml = root / SURGERY_YAML
    cfg_overrides = [
        f"source.model={run_dir / 'latest-rank0.pt'}",
        f"source.tokenizer={en_tok}",
        f"target.tokenizer={cs_tokenizer}",
        f"target.corpus=[{root / 'data/samples/cs_web.jsonl'}]",
        f"vocab_swap.dictionary={root / 'data/dictionaries/en_cs.tsv'}",
    ]
    cfg = build_structured(
        SurgeryConfig,
        load_yaml_with_overrides(
            yaml,
            [
                *cfg_overrides,
                f"output.dir={workdir / 'surgery' / 'en_to_cs'}",
                "vocab_swap.init=focus",  # beat mean by 5.5% on the small base (docs/adaptation.md)
            ],
        ),
        yaml,
    )
    console.print(
        "swapping its vocabulary to the Czech tokenizer (csmpt surgery, FOCUS init; "
        "the alignment init beside it)"
    )
    out, report = run_surgery(cfg, force=True)
    align_cfg = build_structured(
        SurgeryConfig,
        load_yaml_with_overrides(
            yaml,
            [
                *cfg_overrides,
                f"output.dir={workdir / 'surgery' / 'en_to_cs_align'}",
                "output.hf=false",
                "vocab_swap.init=align",  # lost to FOCUS by 0.18 bpb on the small base
            ],
        ),
        yaml,
    )
    _, align_report = run_surgery(align_cfg, force=True)
    yaml = root / EXTEND_YAML
    ext = build_structured(
        ExtendConfig,
        load_yaml_with_overrides(
            yaml, [f"source={en_tok}", f"output_dir={workdir / 'tokenizer_en_cs'}"]
        ),
        yaml,
    )
    ext.inputs = [str(root / p) for p in ext.inputs]
    ext.protect = [str(root / p) for p in ext.protect]
    _, extension, _ = extend_tokenizer(ext)
    return SwapStage(
        english_run=run_dir,
        english_losses=(losses[0], losses[-1]),
        output=out,
        load_path=out / "model.pt",
        report=report,
        seconds=time.perf_counter() - t0,
        extension=extension,
        alignment=align_report,
    )


def alignment_rows(stage: SwapStage) -> list[tuple[str, str]]:
    """The demo summary's line on the alignment init: its check and its held-out bpb vs FOCUS's."""
    r = stage.alignment
    if r is None or not r.align:
        return []
    a = r.align
    weak = a["check_pairs"] and a["check_top1"] < WEAK_ALIGNMENT
    verdict = f"WEAK: below {WEAK_ALIGNMENT:.0%}" if weak else f"at least {WEAK_ALIGNMENT:.0%}"
    bpb = ""
    if r.bpb_swapped is not None and stage.report.bpb_swapped is not None:
        bpb = (
            f"; held-out bpb before training {r.bpb_swapped:.3f} vs FOCUS "
            f"{stage.report.bpb_swapped:.3f}"
        )
    return [
        (
            "or: align (TokAlign)",
            f"{a['aligned']:,} rows from aligned English rows; {a['check_top1']:.0%} of "
            f"{a['check_pairs']} held-out shared tokens found their own pair ({verdict})"
            f"{bpb}; the run keeps FOCUS",
        )
    ]
