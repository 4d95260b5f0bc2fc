"""``csmpt demo``: the pipeline's main job in miniature, on the shipped sample corpora.

1. train a byte-level BPE tokenizer on the Czech samples (``data_prep/tokenizer/sample.yaml``);
   and the corpus filter's linear classifier (``data_prep/filter/sample.yaml``);
2. build the MDS shards of every sample corpus (``data_prep/sample.yaml``); corpus #3
   (cs_crawl_clean) is #2 (cs_crawl) with what the classifier flags and exact duplicates removed;
   and print the token share of each source of a mixture recipe (``yamls/tiny/mpt_mixture.yaml``);
3. train a tiny English MPT on the English sample and swap its vocabulary to the Czech
   tokenizer (``csmpt.demo.vocab_swap``): the Czech run below starts from those weights;
4. train the tiny ALiBi MPT on CSMPT7b's schedule in miniature (``yamls/tiny/mpt_hot_swap.yaml``):
   corpus #1 (web) hot-swapped to #2 (crawl) and #3 (filtered crawl) mid-run, with eval and
   checkpoints, and a loss spike injected at 5/6 of the steps that ``csmpt_loss_spike`` catches;
5. after training (``csmpt.demo.after_training``): CS-HellaSwag 0/3-shot over the run's checkpoints
   (``eval/cs_hellaswag_tiny.yaml``), loss per corpus, the last checkpoint exported to HF and a
   Czech sentence generated from it with ``transformers``, the report's PNGs, and the merge path
   from the swapped weights to the trained model on held-out Czech;
6. an ablation (``csmpt ablate yamls/ablate/tiny.yaml``, ``csmpt.demo.ablation``): two learning
   rates x two seeds, each variant's mean ± 95% CI against the baseline;
7. print where everything is, the swaps, the spike, and the loss at the start and end.

It runs the same recipe files a user runs by hand, with overrides that point them at ``workdir``.
"""

from __future__ import annotations

import functools
import logging
import shutil
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from csmpt.config import build_structured, load_yaml_with_overrides
from csmpt.demo.ablation import AblationStage, ablation_rows, run_ablation_stage
from csmpt.demo.after_training import AfterTraining, after_training_rows, run_after_training
from csmpt.demo.spike import spike_events, spike_overrides, spike_rows
from csmpt.demo.vocab_swap import SwapStage, alignment_rows, run_swap_stage
from csmpt.errors import CsmptError
from csmpt.filter.classifier import train_from_yaml
from csmpt.filter.document_filter import CLASSIFIER, DUPLICATE
from csmpt.mds.manifest import SplitManifest
from csmpt.prep.config import PrepConfig
from csmpt.prep.merge import merge_parts
from csmpt.prep.run import prep_corpora
from csmpt.quiet import LOG_NAME, quiet_session
from csmpt.run_events import read_run_events
from csmpt.run_folder import loss_curve
from csmpt.surgery.report import report_rows
from csmpt.tokenizer.folder import tokenizer_size
from csmpt.tokenizer.train import TokenizerConfig, train_tokenizer

__all__ = ["DemoSummary", "find_repo_root", "run_demo"]

log = logging.getLogger(__name__)

TOKENIZER_YAML = "data_prep/tokenizer/sample.yaml"
PREP_YAML = "data_prep/sample.yaml"
FILTER_YAML = "data_prep/filter/sample.yaml"
TRAIN_YAML = "yamls/tiny/mpt_hot_swap.yaml"
MIXTURE_YAML = "yamls/tiny/mpt_mixture.yaml"
REASONS = (CLASSIFIER, DUPLICATE)


@dataclass
class DemoSummary:
    """Where the demo's outputs are and how training went."""

    tokenizer: Path
    vocab: int
    shards: dict[str, SplitManifest]
    run_dir: Path
    checkpoints: list[Path]
    swaps: list[dict[str, Any]]
    first_loss: float
    last_loss: float
    eval_loss: float | None
    steps: int
    seconds: dict[str, float] = field(default_factory=dict)
    classifier: Path | None = None
    classifier_held_out: dict[str, float] = field(default_factory=dict)
    filtered: dict[str, dict[str, int]] = field(default_factory=dict)
    spikes: list[dict[str, Any]] = field(default_factory=list)
    vocab_swap: SwapStage | None = None
    after_training: AfterTraining | None = None
    mixture: dict[str, float] = field(default_factory=dict)
    pad_share: float | None = None
    pad_samples: tuple[int, int, int] | None = None  # merged; a single build's low, high
    ablation: AblationStage | None = None


def find_repo_root(start: Path | None = None) -> Path:
    """The folder holding ``data_prep/`` and ``yamls/``: the cwd, or the source checkout."""
    candidates = [start or Path.cwd(), Path(__file__).resolve().parents[2]]
    for c in candidates:
        if (c / PREP_YAML).is_file() and (c / TRAIN_YAML).is_file():
            return c
    raise CsmptError(
        f"cannot find {PREP_YAML} and {TRAIN_YAML}: run the demo from the csmpt repository root"
    )


def _swaps_at(steps: int) -> str:
    """The recipe's two swaps moved to 1/3 and 2/3 of ``steps`` (one override: the whole list)."""
    a, b = max(steps // 3, 1), max(2 * steps // 3, 2)
    second = "{local: '${variables.corpus_2}', split: train}"
    third = "{local: '${variables.corpus_3}', split: train}"
    return (
        f"[{{name: cs_crawl, at: {a}ba, dataset: {second}}}, "
        f"{{name: cs_crawl_clean, at: {b}ba, dataset: {third}}}]"
    )


def run_demo(
    workdir: Path, steps: int = 40, console: Console | None = None, verbose: bool = False
) -> DemoSummary:
    """Run tokenizer -> shards -> training in ``workdir`` and print a summary.

    The tokenizer and shards are reused when up to date; the demo's training run starts fresh.
    Unless ``verbose``, library output goes to ``WORKDIR/csmpt.log`` (:mod:`csmpt.quiet`).
    """
    console = console or Console()
    workdir = workdir if workdir.is_absolute() else Path.cwd() / workdir
    with quiet_session(console, workdir / LOG_NAME, verbose, f"csmpt demo {workdir}") as q:
        summary = _run_stages(workdir, steps, console, q.train_overrides(), verbose)
    _print_summary(summary, console)
    return summary


def _run_stages(
    workdir: Path, steps: int, console: Console, quiet_overrides: list[str], verbose: bool
) -> DemoSummary:
    """The demo's five stages (see the module docstring)."""
    root = find_repo_root()
    seconds: dict[str, float] = {}

    console.rule("[bold]1/6 tokenizer and corpus filter classifier")
    t0 = time.perf_counter()
    tok_cfg = build_structured(
        TokenizerConfig,
        load_yaml_with_overrides(root / TOKENIZER_YAML, [f"output_dir={workdir / 'tokenizer'}"]),
        root / TOKENIZER_YAML,
    )
    tok_cfg.inputs = [str(root / p) for p in tok_cfg.inputs]
    tok_dir, skipped = train_tokenizer(tok_cfg)
    vocab = tokenizer_size(tok_dir)
    here = functools.partial(_short_path, base=workdir)
    console.print(f"outputs go below {_short_path(workdir)}/", highlight=False)
    console.print(f"{'reused' if skipped else 'trained'} {vocab}-token tokenizer: {here(tok_dir)}")
    seconds["tokenizer"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    clf_out = f"output_dir={workdir / 'filter' / 'classifier'}"
    clf = train_from_yaml(root / FILTER_YAML, [clf_out], base_dir=root)
    console.print(f"{'reused' if clf.skipped else 'trained'} filter classifier: {here(clf.path)}")
    seconds["filter classifier"] = time.perf_counter() - t0

    console.rule("[bold]2/6 MDS shards, and a mixture's token shares")
    t0 = time.perf_counter()
    prep_cfg = build_structured(
        PrepConfig,
        load_yaml_with_overrides(
            root / PREP_YAML, [f"tokenizer={tok_dir}", f"output_dir={workdir / 'mds'}"]
        ),
        root / PREP_YAML,
    )
    for corpus in prep_cfg.corpora:
        corpus.inputs = [str(root / p) for p in corpus.inputs]
        if corpus.filter is not None and corpus.filter.classifier is not None:
            corpus.filter.classifier = str(clf.path)  # the classifier trained above
    results = prep_corpora(prep_cfg)
    shards = {f"{r.name}/{s}": m for r in results for s, m in r.manifests.items()}
    filtered: dict[str, dict[str, int]] = {}  # removed by reason (train's manifest has them)
    with_filter = {c.name for c in prep_cfg.corpora if c.filter is not None}
    for r in results:
        if r.name in with_filter:
            reasons = r.manifests["train"].skipped_documents
            filtered[r.name] = {k: reasons.get(k, 0) for k in REASONS}
            filtered[r.name]["kept"] = sum(m.documents for m in r.manifests.values())
    for r in results:
        samples = {s: m.samples for s, m in r.manifests.items()}
        stamp = r.manifests["train"].tokenizer
        backend = stamp.backend if stamp else None  # older manifests lack it
        how = f", tokenized with {backend}" if backend else ""
        console.print(f"{'reused' if r.skipped else 'built'} {here(r.path)}: {samples}{how}")
    pad_cfg = replace(
        prep_cfg,
        packing="pad",
        output_dir=str(workdir / "mds_pad"),
        corpora=[c for c in prep_cfg.corpora if c.name == "cs_web"],
    )
    for i in (0, 1):  # Lit-Claire's packing, built as on two nodes: --part 1/2, 2/2, --merge
        prep_corpora(pad_cfg, part=(i, 2))
    (pad,) = merge_parts(pad_cfg)
    merged = pad.manifests["train"]
    pad_share = float(merged.pad_share or 0.0)
    pad_samples = None
    if merged.single_build_samples is not None:  # (a folder of an earlier build has not)
        low, high = merged.single_build_samples
        pad_samples = (merged.samples, low, high)
    from csmpt.recipe.mixture import mixture_tables

    ((mix_table, mix_shares),) = mixture_tables(
        root / MIXTURE_YAML, [f"variables.data_root={workdir / 'mds'}"]
    )
    if verbose:  # the summary has its token shares
        console.print(mix_table)
    seconds["shards"] = time.perf_counter() - t0

    console.rule("[bold]3/6 tiny English MPT -> vocabulary swap to the Czech tokenizer")
    swap = run_swap_stage(root, workdir, tok_dir, steps, console, quiet_overrides)
    seconds["english+swap"] = swap.seconds

    console.rule(
        "[bold]4/6 training the tiny MPT on three hot-swapped corpora, a spike injected (CPU)"
    )
    t0 = time.perf_counter()
    run_dir = workdir / "runs" / "tiny-mpt-hot-swap"
    if run_dir.exists():
        console.print(f"removing the previous demo run {run_dir}")
        shutil.rmtree(run_dir)
    from csmpt.training.run import run_training

    overrides = [
        f"variables.data_root={workdir / 'mds'}",
        f"variables.tokenizer_name={tok_dir}",
        f"variables.save_folder={run_dir}",
        f"max_duration={steps}ba",
        f"eval_interval={max(steps // 2, 1)}ba",
        f"save_interval={max(steps // 2, 1)}ba",
        "callbacks.csmpt_hot_swap.swaps=" + _swaps_at(steps),
        *swap.overrides(),  # start from the swapped English weights
        *spike_overrides(steps),  # corrupt two samples of one batch: a loss spike to catch
    ]
    trainer = run_training(root / TRAIN_YAML, [*overrides, *quiet_overrides])
    seconds["training"] = time.perf_counter() - t0

    console.rule("[bold]5/6 CS-HellaSwag over the checkpoints, HF export, report")
    after = run_after_training(
        root, workdir, run_dir, overrides, console, here, swap.load_path, tok_dir
    )
    seconds["eval+export+report"] = after.seconds

    console.rule("[bold]6/6 an ablation: two learning rates x two seeds, mean ± 95% CI")
    ablation = run_ablation_stage(
        root, workdir, tok_dir, max(steps // 3, 2), console, quiet_overrides
    )
    seconds["ablation"] = ablation.seconds

    curve = loss_curve(run_dir / "metrics.jsonl")
    evals = loss_curve(run_dir / "metrics.jsonl", "metrics/eval/LanguageCrossEntropy")
    summary = DemoSummary(
        tokenizer=tok_dir,
        vocab=vocab,
        shards=shards,
        run_dir=run_dir,
        checkpoints=sorted(run_dir.glob("*.pt")),
        swaps=[e for e in read_run_events(run_dir) if e["event"] == "swap"],
        first_loss=curve[0][1],
        last_loss=curve[-1][1],
        eval_loss=evals[-1][1] if evals else None,
        steps=int(trainer.state.timestamp.batch),
        seconds=seconds,
        classifier=clf.path,
        classifier_held_out=clf.card["held_out"]["at_0.5"],
        filtered=filtered,
        vocab_swap=swap,
        spikes=spike_events(run_dir),
        after_training=after,
        mixture={m.name: m.token_share for m in mix_shares},
        pad_share=pad_share,
        pad_samples=pad_samples,
        ablation=ablation,
    )
    return summary


def _short_path(path: Path, base: Path | None = None) -> str:
    """``path`` relative to ``base`` (default: the cwd) when it is below it."""
    try:
        return str(path.relative_to(base or Path.cwd()))
    except ValueError:
        return str(path)


def _print_summary(s: DemoSummary, console: Console) -> None:
    console.rule("[bold green]csmpt demo: summary")
    table = Table(show_header=False, box=None)
    table.add_column(style="bold", no_wrap=True)
    table.add_column(overflow="fold")
    workdir = s.run_dir.parents[1]  # WORKDIR/runs/RUN
    short = functools.partial(_short_path, base=workdir)
    run = short(s.run_dir)
    table.add_row("outputs below", _short_path(workdir))
    table.add_row("tokenizer", f"{short(s.tokenizer)} ({s.vocab} tokens)")
    if s.classifier is not None:
        m = s.classifier_held_out
        table.add_row(
            "filter classifier",
            f"{short(s.classifier)} (held out: precision {m['precision']:.2f}, "
            f"recall {m['recall']:.2f} at 0.5)",
        )
    for name, f in s.filtered.items():
        reasons = ", ".join(f"{k} {f[k]}" for k in REASONS)
        removed = sum(f[k] for k in REASONS)
        table.add_row(f"filter {name}", f"removed {removed} ({reasons}), kept {f['kept']}")
    corpora: dict[str, list[tuple[str, SplitManifest]]] = {}
    for name, manifest in s.shards.items():  # "corpus/split"
        corpus, _, split = name.rpartition("/")
        corpora.setdefault(corpus or name, []).append((split, manifest))
    for corpus, splits in corpora.items():
        table.add_row(
            f"shards {corpus}",
            " + ".join(f"{m.samples} {split}" for split, m in splits)
            + f" samples, {sum(m.tokens for _, m in splits):,} tokens",
        )
    if s.pad_share is not None:
        parts = ""
        if s.pad_samples is not None:
            n, low, high = s.pad_samples
            one = f"{low}" if low == high else f"{low}-{high}"
            parts = f"; --part 1/2, 2/2, --merge: {n} samples (one build: {one})"
        table.add_row(
            "pad packing",
            f"cs_web, whole documents: {100 * s.pad_share:.1f}% padding{parts}",
        )
    if s.mixture:
        shares = ", ".join(f"{k} {100 * v:.1f}%" for k, v in s.mixture.items())
        table.add_row("mixture", f"{MIXTURE_YAML}: {shares} of an epoch's tokens")
    if s.vocab_swap is not None:
        en = s.vocab_swap.english_losses
        table.add_row(
            "English model",
            f"{short(s.vocab_swap.english_run)} (train loss {en[0]:.3f} -> {en[1]:.3f})",
        )
        for label, value in report_rows(s.vocab_swap.report):
            table.add_row(label, value.replace(f"{workdir}/", ""))  # paths as the rows above
        table.add_row("Czech run starts from", short(s.vocab_swap.load_path))
        for label, value in alignment_rows(s.vocab_swap):
            table.add_row(label, value)
        x = s.vocab_swap.extension
        if x is not None:
            table.add_row(
                "or: extend",
                f"+{x.added} Czech tokens: {x.fertility_before:.2f} -> "
                f"{x.fertility_after:.2f} tokens per Czech word",
            )
    table.add_row("run folder", run)
    table.add_row("checkpoints", ", ".join(p.name for p in s.checkpoints) or "none")
    table.add_row("metrics", f"{run}/metrics.jsonl")
    table.add_row("config, history", f"{run}/config.yaml, {run}/runs.jsonl")
    table.add_row("steps", str(s.steps))
    for e in s.swaps:
        reset = ", optimizer reset" if e.get("reset_optimizer") else ""
        table.add_row(
            f"swap at step {e['step']}", f"{e['from']} -> {e['to']} ({e['tokens']:,} tokens{reset})"
        )
    table.add_row(
        "train loss", f"{s.first_loss:.3f} (step 1) -> {s.last_loss:.3f} (step {s.steps})"
    )
    if s.eval_loss is not None:
        table.add_row("eval loss", f"{s.eval_loss:.3f} (cs_web/val)")
    for label, value in spike_rows(s.spikes, run):
        table.add_row(label, value)
    if s.after_training is not None:
        for label, value in after_training_rows(s.after_training, short):
            table.add_row(label, value)
    if s.ablation is not None:
        for label, value in ablation_rows(s.ablation, short):
            table.add_row(label, value)
    table.add_row("events", f"{run}/events.jsonl")
    table.add_row("time", ", ".join(f"{k} {v:.0f}s" for k, v in s.seconds.items()))
    console.print(table)
