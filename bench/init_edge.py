"""Where an informed init's edge goes: the init ablation's rows, body and training loss.

    .venv/bin/python bench/init_edge.py ABLATION_DIR [...] [--baseline mean] [--variants a,b]
        [--corpus artifacts/base/cs/corpus/train.jsonl --tokenizer artifacts/base/cs/tokenizer]
        [--windows 1-10,11-25,26-50,51-75,76-100] [--eval-metric metrics/eval/cs/BitsPerByte]

Reads folders that ``csmpt ablate`` wrote for a spec with surgery variants (each variant's
``surgery-SEED/model.pt`` and ``seed-SEED/`` run; yamls/ablate/base_cs_rope.yaml and the like).
Per folder and variant, over the seeds, mean ± 95% CI (:mod:`csmpt.ablate.stats`):

* ``rows moved``: how far the new embedding rows (those the variant's surgery set differently
  from the baseline's) moved from the surgery to the run's last checkpoint, L2 per row,
  weighted by each token's share of ``--corpus`` (plain mean without one); left out, with
  the gap columns, for a variant that trains the baseline's own surgery (``focus-embfirst``
  against ``focus``: no row differs), whose training-loss and eval gaps are still given;
* ``gap to baseline``: the same weighted distance between the variant's rows and the
  baseline's (same seed), at the surgery and at the end, and its ratio (below 1: the rows
  converge; above 1: they drift apart);
* ``body moved``: ||W_end - W_0|| / ||W_0|| over the transformer blocks (0: frozen);
* the training-loss gap to the baseline (``loss/train/total``, variant minus baseline, paired
  by seed and step: the runs see the same batches) averaged over each step window;
* with ``--eval-metric``, that eval metric's gap to the baseline (variant minus baseline,
  paired by seed) at every step both runs evaluated (``Δ @STEP``): where along a run an edge
  opens or closes (yamls/ablate/base_cs_long.yaml evaluates every 50 steps).

A Markdown table per folder goes to stdout.
"""

from __future__ import annotations

import argparse
import json
import logging
from collections.abc import Sequence
from pathlib import Path

import torch

from csmpt.ablate.stats import MeanCI, mean_ci
from csmpt.checkpoint.loading import find_checkpoints
from csmpt.errors import CsmptError
from csmpt.surgery.io import ModelWeights, load_source


def _embedding(weights: ModelWeights) -> torch.Tensor:
    return weights.state[weights.embed_key].float()


def _body_moved(start: ModelWeights, end: ModelWeights) -> float:
    """Relative change of the transformer blocks' weights."""
    names = [k for k in start.state if k.startswith(start.layer_prefix)]
    w0 = torch.cat([start.state[k].float().flatten() for k in names])
    w1 = torch.cat([end.state[k].float().flatten() for k in names])
    return float((w1 - w0).norm() / w0.norm())


def token_shares(corpus: Path, tokenizer: Path) -> torch.Tensor:
    """Each token's share of the corpus's tokens (a JSONL of ``text``), one per vocabulary id."""
    from tokenizers import Tokenizer

    tok = Tokenizer.from_file(str(tokenizer / "tokenizer.json"))
    size = tok.get_vocab_size()
    counts = torch.zeros(size, dtype=torch.float64)
    with corpus.open(encoding="utf-8") as f:
        for line in f:
            ids = torch.tensor(tok.encode(json.loads(line)["text"]).ids, dtype=torch.long)
            counts += torch.bincount(ids[ids < size], minlength=size).double()
    return counts / counts.sum()


def _weighted(values: torch.Tensor, shares: torch.Tensor) -> float:
    total = shares.sum()
    if total <= 0:  # the new rows never occur: plain mean
        return float(values.mean())
    return float((values * shares).sum() / total)


def _row_shares(shares: torch.Tensor, rows: int) -> torch.Tensor:
    """``shares`` over an embedding of ``rows`` rows (padding rows: share 0)."""
    out = torch.zeros(rows, dtype=shares.dtype)
    n = min(rows, shares.shape[0])
    out[:n] = shares[:n]
    return out


def _last_weights(run: Path) -> ModelWeights:
    """The weights of a run folder's last checkpoint."""
    return load_source(find_checkpoints(run)[-1].path)


def _series(run: Path, metric: str = "loss/train/total") -> dict[int, float]:
    """A run's ``metric`` by step (the training loss by default, or an eval metric)."""
    from csmpt.run_folder import loss_curve

    return dict(loss_curve(run / "metrics.jsonl", metric))


def _seeds(folder: Path, variant: str) -> list[int]:
    return sorted(int(p.name.split("-")[1]) for p in (folder / variant).glob("surgery-*"))


def edge_rows(
    folder: Path,
    baseline: str,
    shares: torch.Tensor | None,
    windows: Sequence[tuple[int, int]],
    only: Sequence[str] = (),
    eval_metric: str | None = None,
) -> list[dict[str, object]]:
    """One dict per variant (the baseline first): the table's cells as :class:`MeanCI`.

    A variant's new rows are those its surgery set differently from the baseline's (same
    seed); the baseline's, those any variant's surgery did. ``only``: compare these variants
    with the baseline (default: every other variant with a surgery). ``eval_metric``: its
    paired gap at every step both runs logged it (cells ``Δ @STEP``).
    """
    if not folder.is_dir():
        raise SystemExit(f"{folder}: no such ablation folder")
    found = sorted(p.name for p in folder.iterdir() if p.is_dir() and any(p.glob("surgery-*")))
    for name in [baseline, *only]:
        if name not in found:
            raise SystemExit(f"{folder}: no variant '{name}' with a surgery (found {found})")
    variants = [v for v in (only or found) if v != baseline]
    seeds = _seeds(folder, baseline)
    start = {
        (v, s): load_source(folder / v / f"surgery-{s}" / "model.pt")
        for v in [baseline, *variants]
        for s in seeds
    }
    differs = {
        (v, s): ~(_embedding(start[v, s]) == _embedding(start[baseline, s])).all(1)
        for v in variants
        for s in seeds
    }
    for s in seeds:
        union = torch.zeros(_embedding(start[baseline, s]).shape[0], dtype=torch.bool)
        for v in variants:
            union |= differs[v, s]
        differs[baseline, s] = union
    end_base = {s: _last_weights(folder / baseline / f"seed-{s}") for s in seeds}
    loss_base = {s: _series(folder / baseline / f"seed-{s}") for s in seeds}
    eval_base = {
        s: _series(folder / baseline / f"seed-{s}", eval_metric) if eval_metric else {}
        for s in seeds
    }
    if eval_metric and not any(eval_base.values()):
        from csmpt.run_folder import read_metrics

        rows = read_metrics(folder / baseline / f"seed-{seeds[0]}" / "metrics.jsonl")
        logged = sorted({k for r in rows for k in r if k.startswith("metrics/eval/")})
        raise SystemExit(f"{folder}: '{baseline}' never logged {eval_metric} (logged: {logged})")
    out: list[dict[str, object]] = []
    for variant in [baseline, *variants]:
        cells: dict[str, list[float]] = {}
        for s in seeds:
            first = start[variant, s]
            end = (
                end_base[s]
                if variant == baseline
                else _last_weights(folder / variant / f"seed-{s}")
            )
            new = differs[variant, s]
            e0, e1 = _embedding(first)[new], _embedding(end)[new]
            w = (
                _row_shares(shares, new.shape[0])[new]
                if shares is not None
                else torch.ones(len(e0))
            )
            has_rows = bool(new.any())  # none: the variant trains the baseline's surgery
            if has_rows:
                cells.setdefault("rows moved", []).append(_weighted((e1 - e0).norm(dim=1), w))
            cells.setdefault("body moved", []).append(_body_moved(first, end))
            if variant == baseline:
                continue
            if has_rows:
                b0 = _embedding(start[baseline, s])[new]
                b1 = _embedding(end_base[s])[new]
                g0 = _weighted((e0 - b0).norm(dim=1), w)
                g1 = _weighted((e1 - b1).norm(dim=1), w)
                cells.setdefault("gap at 0", []).append(g0)
                cells.setdefault("gap at end", []).append(g1)
                cells.setdefault("gap ratio", []).append(g1 / g0)
            loss, ref = _series(folder / variant / f"seed-{s}"), loss_base[s]
            for a, b in windows:
                steps = [k for k in ref if a <= k <= b and k in loss]
                if steps:
                    diff = sum(loss[k] - ref[k] for k in steps) / len(steps)
                    cells.setdefault(f"loss {a}-{b}", []).append(diff)
            if eval_metric:
                evals = _series(folder / variant / f"seed-{s}", eval_metric)
                for step in sorted(set(evals) & set(eval_base[s])):
                    cells.setdefault(f"Δ @{step}", []).append(evals[step] - eval_base[s][step])
        row: dict[str, object] = {"variant": variant}
        row.update({k: mean_ci(v) for k, v in cells.items()})
        out.append(row)
    return out


def _cell(value: object, signed: bool) -> str:
    """``mean ± half-width`` (a sign on differences), or the text given."""
    if not isinstance(value, MeanCI):
        return str(value)
    fmt = "+.3f" if signed else ".3f"
    mean = format(value.mean, fmt)
    return f"{mean} ± {value.half_width:.3f}" if value.n > 1 else mean


def _windows(text: str) -> list[tuple[int, int]]:
    """``1-10,11-25`` as ``[(1, 10), (11, 25)]``."""
    out = []
    for part in text.split(","):
        a, _, b = part.partition("-")
        if not (a.isdigit() and b.isdigit() and int(a) <= int(b)):
            raise argparse.ArgumentTypeError(f"'{part}' is not a step window FIRST-LAST (1-10)")
        out.append((int(a), int(b)))
    return out


def main() -> None:
    """Print the table of every ablation folder given."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("folders", type=Path, nargs="+", help="csmpt ablate output folders")
    p.add_argument("--baseline", default="mean")
    p.add_argument("--variants", default="", help="comma-separated variants (default: all)")
    p.add_argument("--corpus", type=Path, default=None, help="JSONL whose token shares weight rows")
    p.add_argument("--tokenizer", type=Path, default=None, help="tokenizer folder for --corpus")
    p.add_argument("--windows", type=_windows, default="1-10,11-25,26-50,51-75,76-100")
    p.add_argument(
        "--eval-metric",
        default=None,
        help="an eval metric of the runs' metrics.jsonl: its paired gap at every eval step",
    )
    args = p.parse_args()
    if (args.corpus is None) != (args.tokenizer is None):
        p.error("--corpus and --tokenizer go together (the corpus's tokens weight the rows)")
    logging.basicConfig(level=logging.WARNING)
    shares = token_shares(args.corpus, args.tokenizer) if args.corpus is not None else None
    only = [v for v in args.variants.split(",") if v]
    for folder in args.folders:
        try:
            rows = edge_rows(folder, args.baseline, shares, args.windows, only, args.eval_metric)
        except CsmptError as e:  # an unreadable or missing checkpoint: one line
            raise SystemExit(str(e)) from None
        keys = list(dict.fromkeys(k for row in rows for k in row if k != "variant"))
        print(f"\n{folder}\n")
        print("| variant | " + " | ".join(keys) + " |")
        print("|---|" + "---:|" * len(keys))
        for row in rows:
            print(
                f"| {row['variant']} | "
                + " | ".join(_cell(row.get(k, ""), k.startswith(("loss", "Δ"))) for k in keys)
                + " |"
            )


if __name__ == "__main__":
    main()
