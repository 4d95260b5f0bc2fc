"""``csmpt ablate`` in miniature: 2 variants x 2 seeds x 4 steps of the tiny MPT (CPU).

One uninterrupted ablation (module fixture) gives the reference table; a second one starts with
one run killed half-way (trained to its step-2 checkpoint only) and is run twice: the killed
run resumes, the finished runs are never trained again, and the table equals the reference.
"""

from __future__ import annotations

import csv
import json
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from csmpt.ablate.spec import load_spec, plan_runs, run_overrides
from csmpt.ablate.stats import mean_ci
from csmpt.cli import app

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]
LCE = "metrics/eval/LanguageCrossEntropy"
LOSS = "loss/train/total"
STEPS = 4
VARIANTS = ["lr-2e-3", "lr-6e-3"]
SEEDS = [1, 2]


def _write_spec(path: Path, out: Path, tiny_overrides: Callable[..., list[str]]) -> Path:
    data = tiny_overrides(out / "unused")[:2]  # the session's tokenizer and shards
    spec = {
        "recipe": str(REPO / "yamls/tiny/mpt.yaml"),
        "output_dir": str(out),
        "seeds": SEEDS,
        "metrics": [LCE, LOSS],
        "overrides": [
            *data,
            f"max_duration={STEPS}ba",
            "save_interval=2ba",
            f"eval_interval={STEPS}ba",
            "eval_first=true",
            "eval_subset_num_batches=1",
            f"scheduler.t_max={STEPS}ba",  # the same schedule for a run cut at step 2
            "scheduler.t_warmup=1ba",
            "icl_subset_num_batches=1",
            "icl_tasks.0.num_fewshot=[0]",
            "icl_tasks.0.batch_size=8",
        ],
        "variants": [
            {"name": VARIANTS[0], "overrides": []},
            {"name": VARIANTS[1], "overrides": ["optimizer.lr=6.0e-3"]},
        ],
    }
    path.write_text(yaml.safe_dump(spec, sort_keys=False))
    return path


def _ablate(*args: str) -> str:
    res = CliRunner().invoke(app, ["ablate", *args], terminal_width=200)
    assert res.exit_code == 0, f"exit {res.exit_code}: {res.output}\n{res.exception!r}"
    return res.output


def _csv(out: Path) -> list[dict[str, str]]:
    with (out / "ablation.csv").open() as f:
        return list(csv.DictReader(f))


def _last(metrics: Path, name: str) -> tuple[float, float | None]:
    """(value at the last step, value at step 0 or None), straight from the JSON lines."""
    by_step: dict[int, float] = {}
    for line in metrics.read_text().split("\n"):
        if line.strip():
            row = json.loads(line)
            if name in row:
                by_step[row["step"]] = float(row[name])
    return by_step[max(by_step)], by_step.get(0)


def _events(run: Path) -> list[tuple[str, int]]:
    lines = (run / "runs.jsonl").read_text().split("\n")
    return [(r["event"], r["step"]) for r in map(json.loads, filter(None, lines))]


@pytest.fixture(scope="module")
def reference(tiny_overrides, tmp_path_factory: pytest.TempPathFactory) -> Path:  # noqa: ANN001
    """An uninterrupted ablation: its output folder."""
    root = tmp_path_factory.mktemp("ablate_ref")
    out = root / "out"
    _ablate(str(_write_spec(root / "spec.yaml", out, tiny_overrides)))
    return out


def test_table_holds_each_runs_last_values_and_their_mean_ci(reference: Path) -> None:
    rows = _csv(reference)
    assert [(r["variant"], int(r["seed"])) for r in rows] == [
        (v, s) for v in VARIANTS for s in SEEDS
    ]
    verdict = (reference / "verdict.md").read_text()
    for r in rows:
        run = reference / r["variant"] / f"seed-{r['seed']}"
        assert _events(run) == [("start", 0), ("end", STEPS)]
        assert int(r["step"]) == STEPS
        for name in (LCE, LOSS):
            final, at0 = _last(run / "metrics.jsonl", name)
            assert float(r[name]) == final
            if name == LCE:  # eval_first: the eval at step 0 is in the table
                assert at0 is not None and float(r[f"{name}@0"]) == at0
        assert f"{LOSS}@0" not in r  # no train loss at step 0
    for v in VARIANTS:
        for name in (LCE, LOSS):
            ci = mean_ci([float(r[name]) for r in rows if r["variant"] == v])
            assert math.isfinite(ci.half_width)
            assert f"| {v} | {name} |" in verdict and f"| {ci} |" in verdict, verdict
    assert "within noise" in verdict or "than lr-2e-3" in verdict
    assert f"**{VARIANTS[1]}**" in verdict.split("## Verdict")[1]


def test_rerun_skips_finished_runs_and_resumes_a_killed_one(
    reference: Path,
    tiny_overrides,  # noqa: ANN001
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import csmpt.training.run as training_run

    out = tmp_path / "out"
    spec_path = _write_spec(tmp_path / "spec.yaml", out, tiny_overrides)
    spec = load_spec(spec_path)
    # The killed run: lr-6e-3 seed 2 got as far as its step-2 checkpoint.
    killed = out / VARIANTS[1] / "seed-2"
    cut = [*run_overrides(spec, spec.variants[1], 2), "max_duration=2ba"]
    training_run.run_training(spec.recipe, cut)
    assert _events(killed) == [("start", 0), ("end", 2)]
    assert "unfinished (step 2)" in _ablate(str(spec_path), "--dry-run")

    started: list[list[str]] = []
    real = training_run.run_training

    def counting(yaml_path: Any, overrides: Any = (), fresh: bool = False) -> Any:
        started.append(list(overrides))
        return real(yaml_path, overrides, fresh)

    monkeypatch.setattr(training_run, "run_training", counting)
    _ablate(str(spec_path))
    assert len(started) == 4
    assert _events(killed) == [("start", 0), ("end", 2), ("resume", 2), ("end", STEPS)]

    def snapshot() -> dict[str, tuple[int, int, bytes]]:
        files = [p for p in out.rglob("*") if p.suffix in (".pt", ".jsonl") and p.is_file()]
        return {str(p): (p.stat().st_ino, p.stat().st_mtime_ns, p.read_bytes()) for p in files}

    before = snapshot()
    assert sum(k.endswith(".pt") for k in before) >= 8
    output = _ablate(str(spec_path))
    assert len(started) == 4, "a finished run was trained again"
    assert output.count("done, skipped") == 4
    assert snapshot() == before

    ref, got = _csv(reference), _csv(out)
    assert [(r["variant"], r["seed"]) for r in got] == [(r["variant"], r["seed"]) for r in ref]
    for a, b in zip(ref, got, strict=True):
        for key in (LCE, f"{LCE}@0", LOSS):
            assert float(b[key]) == pytest.approx(float(a[key]), rel=1e-5), (key, a, b)


def test_one_run_alone_is_that_run_of_the_sequence_and_the_table_takes_the_runs_done(
    reference: Path,
    tiny_overrides,  # noqa: ANN001
    tmp_path: Path,
) -> None:
    """A job array's task: ``--run I`` trains the I-th run only; ``--table`` reads what is done."""
    out = tmp_path / "out"
    spec_path = _write_spec(tmp_path / "spec.yaml", out, tiny_overrides)
    output = " ".join(_ablate(str(spec_path), "--run", "3").split())  # lr-6e-3 seed 1
    assert "[3/4] lr-6e-3 seed 1: training" in output and "verdict" not in output
    assert [p.relative_to(out).as_posix() for p in out.glob("*/seed-*")] == ["lr-6e-3/seed-1"]
    assert _events(out / VARIANTS[1] / "seed-1") == [("start", 0), ("end", STEPS)]
    assert "done, skipped" in _ablate(str(spec_path), "--run", "3")  # a resubmitted task
    table = " ".join(_ablate(str(spec_path), "--table").split())
    assert "1 of 4 runs done; the table holds those" in table
    got, ref = _csv(out), _csv(reference)
    assert [(r["variant"], r["seed"]) for r in got] == [(VARIANTS[1], "1")]
    want = next(r for r in ref if (r["variant"], r["seed"]) == (VARIANTS[1], "1"))
    for key in (LCE, f"{LCE}@0", LOSS):  # the same run as in the uninterrupted sequence
        assert float(got[0][key]) == pytest.approx(float(want[key]), rel=1e-5), key
    for args, words in [
        (["--run", "5"], "--run 5: " + str(spec_path) + " has 4 runs"),
        (["--run", "0"], "--run 0: " + str(spec_path) + " has 4 runs (1 to 4"),  # 0-based typo
        (["--run", "1", "--table"], "give one of --dry-run, --run and --table"),
    ]:
        res = CliRunner().invoke(app, ["ablate", str(spec_path), *args], terminal_width=200)
        assert res.exit_code == 2 and words in " ".join(res.output.split()), res.output
    empty = tmp_path / "spec2.yaml"
    _write_spec(empty, tmp_path / "none", tiny_overrides)
    res = CliRunner().invoke(app, ["ablate", str(empty), "--table"], terminal_width=200)
    flat = " ".join(res.output.split())
    assert res.exit_code != 0 and "no run of" in flat and "is done yet" in flat, res.output


def test_ablate_array_templates_submit_the_runs_then_the_table(tmp_path: Path) -> None:
    from tests.procs import run_with_fake_schedulers

    templates = REPO / "csmpt/launch/templates"
    args = ["yamls/ablate/x.yaml", "12"]
    slurm = run_with_fake_schedulers(templates / "ablate_array.slurm.sh", args, tmp_path)
    pbs = run_with_fake_schedulers(templates / "ablate_array.pbs.sh", args, tmp_path)
    assert "--array=1-12" in slurm[0] and "--gpus-per-task=1" in slurm[0]
    assert slurm[0].endswith("ablate yamls/ablate/x.yaml  --run $SLURM_ARRAY_TASK_ID")
    assert "--dependency=afterany:4242" in slurm[1] and slurm[1].endswith("x.yaml  --table")
    # qsub: its arguments, then the job script it read on stdin
    assert "-J 1-12" in pbs[0] and "ngpus=1" in pbs[0]
    assert pbs[1].endswith("ablate yamls/ablate/x.yaml  --run $PBS_ARRAY_INDEX")
    assert "depend=afterany:4242[].pbs" in pbs[2] and pbs[3].endswith("x.yaml  --table")


def test_a_bad_variant_fails_before_any_run_starts(tiny_overrides, tmp_path: Path) -> None:  # noqa: ANN001
    out = tmp_path / "out"
    spec_path = _write_spec(tmp_path / "spec.yaml", out, tiny_overrides)
    for extra, words in [
        (["variants.1.overrides=[max_seq_len=-1]"], ["lr-6e-3", "max_seq_len"]),
        (["variants.1.overrides=[optimizer.betaz=1]"], ["lr-6e-3", "optimizer.betaz"]),
        # the dry run a user trusts before a job array checks what a real run checks
        (["variants.1.overrides=[optimizer.lrr=6e-3]", "--dry-run"], ["lr-6e-3", "optimizer.lrr"]),
    ]:
        res = CliRunner().invoke(app, ["ablate", str(spec_path), *extra])
        assert res.exit_code == 2, res.output
        assert all(w in res.output for w in words), res.output
        assert not out.exists(), "a run started before every variant was checked"


def test_a_metric_no_run_logged_is_named_with_the_closest_one(reference: Path) -> None:
    """A typo in ``metrics:`` once gave an all-n/a table and exit 0."""
    spec = reference.parent / "spec.yaml"
    verdict = (reference / "verdict.md").read_text()
    typo = "metrics=[metrics/eval/LanguageCrossEntropi]"
    res = CliRunner().invoke(app, ["ablate", str(spec), "--table", typo], terminal_width=200)
    flat = " ".join(res.output.split())
    assert res.exit_code == 2, res.output
    assert "LanguageCrossEntropi' is in no run's metrics.jsonl" in flat
    assert f"did you mean '{LCE}'?" in flat and "WARNING" not in flat
    assert (reference / "verdict.md").read_text() == verdict  # nothing rewritten


SPECS = sorted((REPO / "yamls/ablate").glob("*.yaml"))


@pytest.mark.parametrize("path", SPECS, ids=lambda p: p.name)
def test_shipped_spec_loads_and_its_runs_have_known_keys(path: Path) -> None:
    from csmpt.training.preflight import check_recipe_keys

    spec = load_spec(path)
    runs = plan_runs(spec)
    assert len(runs) == len(spec.variants) * len(spec.seeds) >= 2
    for run in runs:
        check_recipe_keys(REPO / spec.recipe, run.overrides)


def test_curves_are_drawn_per_metric_from_the_runs_values(reference: Path) -> None:
    from csmpt.ablate.plot import band

    names = sorted(p.name for p in reference.glob("curves_*.png"))
    assert names == sorted(
        ["curves_" + n.replace("/", "_") + ".png" for n in {LCE, LOSS, "loss/train/total"}]
    )
    assert all((reference / n).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" for n in names)
    # the band of the baseline's training loss: per step, the mean of the seeds' logged values
    runs = [reference / VARIANTS[0] / f"seed-{s}" / "metrics.jsonl" for s in SEEDS]
    from csmpt.run_folder import metric_series, read_metrics

    series = [metric_series(read_metrics(r), "loss/train/total") for r in runs]
    curve = band(series)
    assert curve.steps == [s for s, _ in series[0]]
    for i, step in enumerate(curve.steps):
        values = [dict(s)[step] for s in series]
        assert curve.mean[i] == pytest.approx(sum(values) / len(values))
        assert curve.half[i] > 0
