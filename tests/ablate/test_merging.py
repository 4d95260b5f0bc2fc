"""An ablation's merge paths: the spec's merge section, and the table over seeds by hand.

Merge records are written the way ``csmpt ablate`` writes them (``merge-S/merge.json``), with
values chosen so the intervals can be computed by hand (t(0.975, 2) = 4.3027).
"""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from rich.console import Console

from csmpt.ablate.merging import merge_done, read_paths, summarize_merges
from csmpt.ablate.results import conclude
from csmpt.ablate.runner import CheckedRun, check_runs
from csmpt.ablate.spec import load_spec, merge_alphas, merged_variants, plan_runs
from csmpt.errors import ConfigError

BPB = "metrics/eval/cs/BitsPerByte"


def _spec(tmp_path: Path, merge: str = "", texts: bool = True) -> Path:
    held = tmp_path / "held.jsonl"
    held.write_text('{"text": "a"}\n')
    spec = tmp_path / "spec.yaml"
    spec.write_text(
        f"recipe: r.yaml\noutput_dir: {tmp_path / 'out'}\nseeds: [1, 2, 3]\n"
        f"metrics: [{BPB}]\nsurgery: {{recipe: s.yaml}}\n"
        "variants: [{name: mean}, {name: focus}, {name: scratch, scratch: true}]\n"
        + (
            f"merge: {{texts: {{cs: {held}, en: {held}}}, alphas: [0.5, 0]{merge}}}\n"
            if texts
            else ""
        )
    )
    return spec


def _write(run_dir: Path, points: dict[float, dict[str, float]]) -> None:
    run_dir.mkdir(parents=True, exist_ok=True)
    body = {
        "inputs": ["surgery/model.pt", "seed/ep0-ba4-rank0.pt"],
        "points": [
            {"alpha": a, "coefficients": [1 - a, a], "path": "", "bpb": bpb}
            for a, bpb in points.items()
        ],
    }
    (run_dir / "merge.json").write_text(json.dumps(body))


def test_merged_variants_are_those_with_a_surgery_and_alpha_1_is_always_scored(
    tmp_path: Path,
) -> None:
    spec = load_spec(_spec(tmp_path))
    assert merged_variants(spec) == ["mean", "focus"]  # scratch has no surgery to start from
    assert merge_alphas(spec) == [0.0, 0.5, 1.0]
    spec = load_spec(_spec(tmp_path, ", variants: [focus]"))
    assert merged_variants(spec) == ["focus"]
    assert merged_variants(load_spec(_spec(tmp_path, texts=False))) == []


@pytest.mark.parametrize(
    ("override", "says"),
    [
        ("merge.alphas=[0.5,1.5]", r"merge\.alphas\.1.* is 1\.5; each alpha is in \[0, 1\]"),
        ("merge.alphas=[-0.25]", r"merge\.alphas\.0.* is -0\.25"),
        ("merge.variants=[fcous]", r"merge\.variants\.0.* is 'fcous', not a variant"),
        ("merge.variants=[scratch]", r"variant 'scratch' has no surgery to merge with"),
        ("merge.window=0", r"merge\.window"),
    ],
)
def test_a_mistake_in_the_merge_section_is_one_line_naming_the_key(
    tmp_path: Path, override: str, says: str
) -> None:
    spec = _spec(tmp_path)
    with pytest.raises(ConfigError, match=says) as e:
        load_spec(spec, [override])
    assert "\n" not in str(e.value) and str(spec) in str(e.value)


def test_a_missing_text_fails_before_any_run_not_at_load(tmp_path: Path) -> None:
    spec_path = _spec(tmp_path)
    spec = load_spec(spec_path, ["merge.texts.en=missing.jsonl"])  # a build may write it later
    with pytest.raises(ConfigError, match=r"merge\.texts\.en.*missing\.jsonl does not exist") as e:
        check_runs(spec, plan_runs(spec), spec_path)
    assert "\n" not in str(e.value) and str(spec_path) in str(e.value)


def test_the_merge_table_pairs_each_alpha_with_the_trained_model(tmp_path: Path) -> None:
    spec_path = _spec(tmp_path)
    spec = load_spec(spec_path)
    trained = {1: 2.0, 2: 2.1, 3: 1.9}
    # per seed, α 0.5 minus α 1 on cs: +0.10, +0.11, +0.12 (mean +0.11, s 0.01: ± 0.0248);
    # α 0.5 itself: 2.10, 2.21, 2.02 (mean 2.11, s 0.0954: ± 0.2370)
    # on en: -0.1, -0.2, -0.3 (mean -0.2, s 0.1: ± 0.2484, includes 0)
    half = {
        s: {"cs": trained[s] + d, "en": 5.0 - 0.1 * s}
        for s, d in zip((1, 2, 3), (0.10, 0.11, 0.12), strict=True)
    }
    checked = []
    for run in plan_runs(spec):
        run.folder.mkdir(parents=True)
        (run.folder / "metrics.jsonl").write_text(json.dumps({"step": 4, BPB: 2.0}) + "\n")
        checked.append(CheckedRun(run, run.folder / "metrics.jsonl", "4ba"))
        if run.variant == "focus":
            s = run.seed
            _write(
                run.merge_dir,
                {0.0: {"cs": 4.0, "en": 6.0}, 0.5: half[s], 1.0: {"cs": trained[s], "en": 5.0}},
            )
    # mean seed 1: a half-written record is not a merge (a rerun redoes it), not a crash
    (checked[0].run.merge_dir).mkdir(parents=True)
    (checked[0].run.merge_dir / "merge.json").write_text('{"points": [{"alpha": 0.5')
    assert not merge_done(checked[0].run)
    assert merge_done(checked[3].run)
    assert set(read_paths(spec, [c.run for c in checked])) == {("focus", s) for s in (1, 2, 3)}

    by = {
        (s.text, s.alpha): s
        for s in summarize_merges(spec, read_paths(spec, [c.run for c in checked]))
    }
    assert by["cs", 1.0].bpb.mean == pytest.approx(2.0) and by["cs", 1.0].vs_trained is None
    cs = by["cs", 0.5].vs_trained
    assert cs is not None and cs.paired is not None
    assert cs.paired.mean == pytest.approx(0.11) and cs.paired.half_width == pytest.approx(
        0.024841, abs=1e-6
    )
    assert by["cs", 0.5].verdict() == "worse"
    assert by["en", 0.5].vs_trained.paired.half_width == pytest.approx(0.248414, abs=1e-6)  # type: ignore[union-attr]
    assert by["en", 0.5].verdict() == "within noise at this CI"
    assert by["en", 0.0].verdict() == "worse"  # 6.0 vs 5.0 on every seed

    console = Console(file=io.StringIO(), width=200)
    conclude(spec, checked, spec_path, console)
    out = Path(spec.output_dir)
    verdict = (out / "verdict.md").read_text()
    assert "| focus | cs | 0.5 | 2.1100 ± 0.2370 | +0.1100 ± 0.0248 | worse |" in verdict, verdict
    assert (
        "| focus | en | 0.5 | 4.8000 ± 0.2484 | -0.2000 ± 0.2484 | within noise at this CI |"
        in verdict
    )
    assert "**focus**, en: no interpolation is better than the trained model at 95%." in verdict
    rows = (out / "merge.csv").read_text().splitlines()
    assert rows[0] == "variant,seed,alpha,text,bpb" and len(rows) == 1 + 3 * 3 * 2
    assert "focus,2,0.5,cs,2.21" in rows
    assert "merge path" in console.file.getvalue()  # type: ignore[attr-defined]
    for text in ("cs", "en"):
        assert (out / f"merge_{text}.png").stat().st_size > 5000


def test_an_interpolation_better_than_the_trained_model_is_named(tmp_path: Path) -> None:
    spec = load_spec(_spec(tmp_path, ", variants: [focus]"))
    for run in plan_runs(spec):
        if run.variant == "focus":
            d = {1: 0.30, 2: 0.31, 3: 0.29}[run.seed]
            _write(
                run.merge_dir,
                {
                    0.0: {"cs": 3.0, "en": 6.0},
                    0.5: {"cs": 2.5, "en": 5.0 - d},
                    1.0: {"cs": 2.0, "en": 5.0},
                },
            )
    summaries = summarize_merges(spec, read_paths(spec, plan_runs(spec)))
    from csmpt.ablate.merging import merge_markdown

    text = "\n".join(merge_markdown(spec, summaries))
    assert (
        "**focus**, en: α 0.5 better than the trained model at 95%; the best, α 0.5, by "
        "-0.3000 ± 0.0248 bpb." in text
    ), text
    assert "**focus**, cs: no interpolation is better" in text
