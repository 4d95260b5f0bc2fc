"""Tokens to reach a target: the interpolation by hand, and the table over seeds from run files."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest
from rich.console import Console

from csmpt.ablate.results import conclude, tokens_to_reach
from csmpt.ablate.runner import CheckedRun
from csmpt.ablate.spec import load_spec, plan_runs
from csmpt.errors import ConfigError

BPB = "metrics/eval/cs/BitsPerByte"
PER_STEP = 100_000  # tokens per step


def _rows(evals: dict[int, float], steps: int = 4, name: str = BPB) -> list[dict[str, float]]:
    """Composer's log of a run: time/batch and time/token as each step starts (the counts so
    far), once more at the end of training; the eval metric at the given steps."""
    rows: list[dict[str, float]] = [{"step": 0, name: evals[0]}] if 0 in evals else []
    for s in range(1, steps + 1):
        rows += [{"step": s, "time/batch": s - 1.0}, {"step": s, "time/token": (s - 1) * PER_STEP}]
        if s in evals:
            rows.append({"step": s, name: evals[s]})
    rows += [
        {"step": steps, "time/batch": float(steps)},
        {"step": steps, "time/token": steps * PER_STEP},
    ]
    return rows


def test_tokens_to_reach_interpolate_between_evaluations() -> None:
    rows = _rows({0: 5.0, 2: 4.0, 4: 3.0})
    # 3.5 lies between step 2 (200k tokens, 4.0) and step 4 (400k, 3.0): halfway
    assert tokens_to_reach(rows, BPB, 3.5) == pytest.approx(300_000)
    assert tokens_to_reach(rows, BPB, 4.0) == pytest.approx(200_000)  # reached exactly at 2
    assert tokens_to_reach(rows, BPB, 4.5) == pytest.approx(100_000)  # 0 + 200k * 0.5 / 1.0
    assert tokens_to_reach(rows, BPB, 6.0) == 0.0  # the model before training reaches it
    assert tokens_to_reach(rows, BPB, 2.0) is None  # never reached
    acc = _rows({0: 0.25, 2: 0.3, 4: 0.5}, name="acc")
    assert tokens_to_reach(acc, "acc", 0.4, higher_is_better=True) == pytest.approx(300_000)
    assert tokens_to_reach(acc, "acc", 0.4) == 0.0  # lower is better: 0.25 is already <= 0.4


def _spec(tmp_path: Path) -> Path:
    spec = tmp_path / "spec.yaml"
    spec.write_text(
        f"recipe: r.yaml\noutput_dir: {tmp_path / 'out'}\nseeds: [1, 2, 3]\n"
        f"metrics: [{BPB}]\ntargets: [{{metric: {BPB}, value: 3.5}}]\n"
        "variants: [{name: a}, {name: b}, {name: c}]\n"
    )
    return spec


def test_the_table_gives_tokens_to_reach_over_seeds_paired_with_the_baseline(
    tmp_path: Path,
) -> None:
    spec_path = _spec(tmp_path)
    spec = load_spec(spec_path)
    curves = {  # the variant's curve at steps 0, 2, 4; each seed shifts it by 0, +0.1, -0.1
        "a": (5.0, 4.0, 3.0),  # 3.5 at 300k, 320k, 280k tokens
        "b": (5.0, 3.0, 2.5),  # at 150k, 160k, 140k: 150k fewer than a, every seed
        "c": (5.0, 4.5, 3.5),  # seed 2 ends at 3.6: never
    }
    shift = {1: 0.0, 2: 0.1, 3: -0.1}
    checked = []
    for run in plan_runs(spec):
        run.folder.mkdir(parents=True)
        values = [v + shift[run.seed] for v in curves[run.variant]]
        rows = _rows(dict(zip((0, 2, 4), values, strict=True)))
        (run.folder / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
        checked.append(CheckedRun(run, run.folder / "metrics.jsonl", "4ba"))
    console = Console(file=io.StringIO(), width=200)
    conclude(spec, checked, spec_path, console)
    out = Path(spec.output_dir)
    with (out / "ablation.csv").open() as f:
        got = {
            (r["variant"], int(r["seed"])): r[f"tokens to {BPB} <= 3.5"] for r in csv.DictReader(f)
        }
    want = {"a": (300e3, 320e3, 280e3), "b": (150e3, 160e3, 140e3), "c": (400e3, None, 380e3)}
    for v, tokens in want.items():
        for seed, t in zip((1, 2, 3), tokens, strict=True):
            assert (got[v, seed] == "") if t is None else float(got[v, seed]) == pytest.approx(t)
    verdict = (out / "verdict.md").read_text()
    table = verdict.split("## Tokens to reach a target")[1].split("## Verdict")[0]
    # a: mean 300k, s = 20k, t(0.975, 2) = 4.303: ± 49.7k; b - a per seed: -150k, -160k, -140k
    assert f"| a | {BPB} <= 3.5 | 300.0k ± 49.7k |  | baseline |" in table, table
    assert "| b | " in table and "150.0k ± 24.8k | -150.0k ± 24.8k | different |" in table, table
    assert f"| c | {BPB} <= 3.5 | 2 of 3 reached |  | n/a |" in table, table
    printed = console.file.getvalue()  # type: ignore[attr-defined]
    assert "tokens to reach" in printed and "2 of 3 reached" in printed


def test_a_target_on_a_metric_the_spec_does_not_compare_is_a_one_line_error(
    tmp_path: Path,
) -> None:
    spec = _spec(tmp_path)
    with pytest.raises(ConfigError, match=r"targets\.0\.metric.* is 'loss', not one of") as e:
        load_spec(spec, ["targets.0.metric=loss"])
    assert "\n" not in str(e.value) and str(spec) in str(e.value)
