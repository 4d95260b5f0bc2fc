"""An ablation's merge paths: each surgery run from its surgery (α 0) to its trained model (α 1).

With a spec's ``merge`` section, every finished run of a merged variant gets
``OUTPUT_DIR/VARIANT/merge-S/merge.json`` (:func:`merge_run`: ``csmpt merge``'s
:func:`csmpt.surgery.merge.run_merge` at each α, scoring each text in bits per byte with the
run's tokenizer). The folder is written whole or not at all, so a run whose ``merge.json``
is readable is merged and a rerun skips it; an unreadable one is redone.

Over seeds (:func:`summarize_merges`), each variant x text x α gets mean ± CI, and each α is
paired by seed with α 1, the trained model itself: the table says where an interpolation is
really better or worse than the model it came from (the paired interval excludes 0), and where
the difference is noise.
"""

from __future__ import annotations

import csv
import io
import json
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from csmpt.ablate.spec import AblationRun, AblationSpec, merge_alphas, merged_variants
from csmpt.ablate.stats import Comparison, MeanCI, compare_paired, mean_ci
from csmpt.atomic import write_text

if TYPE_CHECKING:
    from rich.console import Console

__all__ = [
    "MERGE_FILE",
    "MERGE_HEADER",
    "MergeSummary",
    "merge_done",
    "merge_markdown",
    "merge_rows",
    "merge_run",
    "print_merges",
    "read_paths",
    "summarize_merges",
    "trained_model",
    "write_merge_csv",
]

log = logging.getLogger(__name__)

MERGE_FILE = "merge.json"

# (variant, seed) -> alpha -> text -> bits per byte
Paths = dict[tuple[str, int], dict[float, dict[str, float]]]


def merge_done(run: AblationRun) -> bool:
    """Whether the run's merge path is written (a readable ``merge-S/merge.json``)."""
    return _read_path(run.merge_dir / MERGE_FILE) is not None


def _read_path(path: Path) -> dict[float, dict[str, float]] | None:
    """α -> text -> bpb from a ``merge.json``; None when it is missing or unreadable."""
    try:
        points = json.loads(path.read_text(encoding="utf-8"))["points"]
        return {float(p["alpha"]): {k: float(v) for k, v in p["bpb"].items()} for p in points}
    except FileNotFoundError:
        return None
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as e:
        log.warning("%s: not a csmpt merge record (%s); the merge is redone", path, e)
        return None


def trained_model(run: AblationRun) -> Path:
    """The run's last checkpoint (its trained model, α 1).

    Raises:
        DataError: The run's save folder holds no checkpoint.
    """
    from csmpt.checkpoint.loading import find_checkpoints

    return find_checkpoints(run.folder)[-1].path


def merge_run(
    spec: AblationSpec, run: AblationRun, texts: Mapping[str, Sequence[str]], tokenizer: str
) -> None:
    """Score the run's path from its surgery's ``model.pt`` to its trained model at each α.

    Args:
        spec: The spec (its ``merge`` section).
        run: A finished run of a merged variant.
        texts: Name -> documents (:func:`csmpt.surgery.merge.read_texts` of ``merge.texts``).
        tokenizer: The tokenizer folder that scores them.

    Raises:
        CsmptError: The surgery output or the checkpoint is missing or unreadable, or the two
            models differ in shapes.
    """
    from transformers import AutoTokenizer

    from csmpt.surgery.merge import run_merge

    assert run.surgery_dir is not None
    tok = AutoTokenizer.from_pretrained(tokenizer)
    run_merge(
        [run.surgery_dir / "model.pt", trained_model(run)],
        run.merge_dir,
        merge_alphas(spec),
        texts=texts,
        tokenizer=tok,
        window=spec.merge.window,
        force=True,
        write_models=spec.merge.keep_models,
    )


def read_paths(spec: AblationSpec, runs: Sequence[AblationRun]) -> Paths:
    """Every merged run's ``merge.json``: (variant, seed) -> α -> text -> bpb.

    Runs without a readable one (not merged yet; a rerun merges them) are left out.
    """
    names = set(merged_variants(spec))
    out: Paths = {}
    for run in runs:
        if run.variant in names and (path := _read_path(run.merge_dir / MERGE_FILE)) is not None:
            out[(run.variant, run.seed)] = path
    return out


@dataclass(frozen=True)
class MergeSummary:
    """One variant's bits per byte on one text at one α, over seeds.

    Attributes:
        variant: The variant.
        text: The text's name (a key of ``merge.texts``).
        alpha: The weight of the trained model (0: the surgery's model, 1: the trained one).
        bpb: Mean ± CI over the seeds.
        vs_trained: Paired by seed with α 1 (``difference``: this α minus α 1); None at α 1.
    """

    variant: str
    text: str
    alpha: float
    bpb: MeanCI
    vs_trained: Comparison | None

    def verdict(self) -> str:
        """``trained model``, ``better``, ``worse`` or ``within noise at this CI``."""
        c = self.vs_trained
        if c is None:
            return "trained model"
        if c.b.n < 2:
            return "one seed: no claim"
        if not c.separate:
            return "within noise at this CI"
        return "better" if c.difference < 0 else "worse"


def summarize_merges(spec: AblationSpec, paths: Paths) -> list[MergeSummary]:
    """Mean ± CI per variant x text x α, each α paired by seed with α 1 (lower bpb is better)."""
    out = []
    for variant in merged_variants(spec):
        seeds = {s: path for (v, s), path in paths.items() if v == variant}
        if not seeds:
            continue
        for text in spec.merge.texts:
            trained = {s: p[1.0][text] for s, p in seeds.items() if text in p.get(1.0, {})}
            for alpha in merge_alphas(spec):
                at = {s: p[alpha][text] for s, p in seeds.items() if text in p.get(alpha, {})}
                if not at:
                    continue
                vs = None if alpha == 1.0 else compare_paired(trained, at, spec.level)
                out.append(
                    MergeSummary(variant, text, alpha, mean_ci(list(at.values()), spec.level), vs)
                )
    return out


def _delta(s: MergeSummary) -> str:
    return "" if s.vs_trained is None else s.vs_trained.difference_text()


MERGE_HEADER = ["variant", "text", "α", "bpb", "Δ vs α 1 (trained)", "verdict"]


def merge_rows(summaries: Sequence[MergeSummary]) -> list[list[str]]:
    """variant, text, α, bpb, Δ vs α 1, verdict: one row per variant x text x α."""
    return [
        [s.variant, s.text, f"{s.alpha:g}", str(s.bpb), _delta(s), s.verdict()] for s in summaries
    ]


def _sentence(summaries: Sequence[MergeSummary], variant: str, text: str, level: str) -> str:
    """Which α beat the trained model on the text, or that none did."""
    rows = [s for s in summaries if s.variant == variant and s.text == text]
    better = [s for s in rows if s.verdict() == "better"]
    if not better:
        return (
            f"**{variant}**, {text}: no interpolation is better than the trained model at {level}."
        )
    best = min(better, key=lambda s: s.bpb.mean)
    alphas = ", ".join(f"{s.alpha:g}" for s in better)
    return (
        f"**{variant}**, {text}: α {alphas} better than the trained model at {level}; "
        f"the best, α {best.alpha:g}, by {_delta(best)} bpb."
    )


def merge_markdown(spec: AblationSpec, summaries: Sequence[MergeSummary]) -> list[str]:
    """``verdict.md``'s merge section: the table, then one sentence per variant x text."""
    if not summaries:
        return []
    level = f"{spec.level:.0%}"
    lines = [
        "",
        "## Merge paths: the surgery's model (α 0) to the trained model (α 1)",
        "",
        "`(1 - α) * surgery + α * trained` per tensor, each text scored in bits per byte with "
        f"the run's tokenizer; mean ± {level} CI over seeds; Δ paired by seed with α 1 "
        "(lower is better).",
        "",
        "| " + " | ".join(MERGE_HEADER) + " |",
        "|---|---|---:|---:|---:|---|",
    ]
    lines += ["| " + " | ".join(row) + " |" for row in merge_rows(summaries)]
    lines.append("")
    pairs = dict.fromkeys((s.variant, s.text) for s in summaries)
    lines += [f"- {_sentence(summaries, v, t, level)}" for v, t in pairs]
    return lines


def write_merge_csv(path: Path, paths: Paths) -> None:
    """``merge.csv``: one row per run x α x text (variant, seed, alpha, text, bpb)."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(["variant", "seed", "alpha", "text", "bpb"])
    for (variant, seed), path_ in sorted(paths.items()):
        for alpha, scores in sorted(path_.items()):
            for text, bpb in scores.items():
                writer.writerow([variant, seed, f"{alpha:g}", text, repr(bpb)])
    write_text(path, buf.getvalue())


def print_merges(console: Console, spec: AblationSpec, summaries: Sequence[MergeSummary]) -> None:
    """One table per variant: α down, bpb and Δ vs α 1 per text."""
    from rich import box
    from rich.table import Table

    for variant in dict.fromkeys(s.variant for s in summaries):
        rows = [r for r in merge_rows(summaries) if r[0] == variant]
        table = Table(box=box.SIMPLE_HEAD, title_justify="left", title_style="bold")
        table.title = (
            f"{variant}: merge path, surgery (α 0) to trained (α 1), bits per byte, "
            f"mean ± {spec.level:.0%} CI"
        )
        for name in ("text", "α", "bpb", "Δ vs α 1", "verdict"):
            table.add_column(name, justify="right" if name in ("α", "bpb", "Δ vs α 1") else "left")
        for r in rows:
            table.add_row(*r[1:])
        console.print(table)
