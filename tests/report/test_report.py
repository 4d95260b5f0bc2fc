"""csmpt report: the curves and the swap/spike markers behind the PNGs, and the page."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from csmpt.errors import CsmptError

pytestmark = pytest.mark.slow


def test_report_marks_swaps_and_spikes_at_their_steps(tiny_mpt_run: Path, tmp_path: Path) -> None:
    from csmpt.report.render import write_report
    from csmpt.run_folder import read_metrics

    run = tmp_path / "run"
    run.mkdir()
    shutil.copy(tiny_mpt_run / "metrics.jsonl", run)
    events = [
        {"event": "swap", "step": 6, "from": "cs_web", "to": "cs_crawl", "tokens": 6144},
        {"event": "loss_spike", "step": 9, "loss": 12.5},
        {"event": "swap", "step": 12, "from": "cs_crawl", "to": "cs_crawl_clean", "tokens": 12288},
        {"event": "nonfinite_loss", "step": 15},
        {"event": "something_else", "step": 3},
        {"event": "freeze_stage", "step": 0, "stage": 0, "schedule": "train only wte until 4ba"},
        {"event": "unfreeze", "step": 4, "stage": 1},
    ]
    (run / "events.jsonl").write_text("".join(json.dumps(e) + "\n" for e in events))
    (run / "validation.csv").write_text(
        "step,checkpoint,corpus,loss,perplexity,tokens\n"
        "6,ep0-ba6-rank0.pt,cs_crawl,8.5,4914.8,100\n12,ep0-ba12-rank0.pt,cs_crawl,8.1,3294.5,100\n"
    )
    r = write_report(run)
    d = r.data
    assert d.swap_steps == [6, 12] and d.spike_steps == [9, 15] and d.stage_steps == [0, 4]
    logged = [
        (m["step"], m["loss/train/total"])
        for m in read_metrics(run / "metrics.jsonl")
        if "loss/train/total" in m
    ]
    assert d.train_loss.points == logged and d.train_loss.steps == list(range(1, 19))
    labels = [c.label for c in d.eval_loss]
    assert labels == ["eval", "cs_crawl (validate)"]
    assert d.eval_loss[1].points == [(6, 8.5), (12, 8.1)]
    assert [c.label for c in d.accuracy] == [
        "cs_hellaswag/0-shot acc_per_token (in-loop)",
        "cs_hellaswag/3-shot acc_per_token (in-loop)",
    ]
    assert set(r.figures) == {"train_loss", "eval_loss", "accuracy"}
    assert all(p.read_bytes()[:4] == b"\x89PNG" for p in r.figures.values())
    assert r.markdown is not None and r.html is not None
    md = r.markdown.read_text()
    assert "| 6 | swap cs_web -> cs_crawl |" in md and "| 15 | nonfinite loss |" in md
    assert "| 0 | stage 0: train only wte until 4ba |" in md
    assert "| 4 | unfreeze: all parameters train |" in md
    assert "<img src='train_loss.png'" in r.html.read_text()


def test_report_of_a_folder_without_metrics_is_a_one_line_error(tmp_path: Path) -> None:
    from csmpt.report.render import write_report

    with pytest.raises(CsmptError, match="has no metrics.jsonl; point csmpt report at a run"):
        write_report(tmp_path)
    # The tired user's two near misses: the metrics file itself, the folder above the run.
    run = tmp_path / "runs" / "cs"
    run.mkdir(parents=True)
    (run / "metrics.jsonl").write_text('{"step": 1, "loss/train/total": 2.0}\n')
    with pytest.raises(CsmptError, match=f"give its folder, '{run}'"):
        write_report(run / "metrics.jsonl")
    with pytest.raises(CsmptError, match=f"the run folders in it: '{run}'"):
        write_report(tmp_path / "runs")


def _overrides_file(name: str) -> list[str]:
    lines = Path("yamls/csmpt7b", name).read_text(encoding="utf-8").splitlines()
    return [x.strip() for x in lines if x.strip() and not x.lstrip().startswith("#")]


def test_english_replay_recipe_shows_czech_and_english_bpb_per_checkpoint(
    tokenizer_dir: Path, shards_dir: Path, tmp_path: Path
) -> None:
    """The CSMPT7b recipe + english_replay.overrides in miniature: a Czech/English mixture,
    English multiple choice in the loop, and both languages' bpb at every checkpoint."""
    from csmpt.eval.validate import validate_checkpoints
    from csmpt.report.render import write_report
    from csmpt.run_folder import read_metrics
    from csmpt.training import run_training

    run = tmp_path / "run"
    replay = _overrides_file("english_replay.overrides")
    assert not any(" " in x for x in replay), "the README runs them through $(grep ...)"
    overrides = [
        *_overrides_file("miniature.overrides"),
        *replay,
        f"variables.data_root={shards_dir}",
        f"variables.tokenizer_name={tokenizer_dir}",
        f"variables.save_folder={run}",
        "save_interval=3ba",
    ]
    trainer = run_training("yamls/csmpt7b/csmpt7b.yaml", overrides)
    streams = trainer.state.train_dataloader.dataset.streams  # type: ignore[union-attr]
    assert sorted(s.local.rsplit("/", 1)[-1] for s in streams) == ["cs_crawl_clean", "en_web"]
    metrics = read_metrics(run / "metrics.jsonl")
    icl = {k.split("/")[1] for r in metrics for k in r if "InContextLearning" in k}
    assert icl == {"cs_hellaswag", "en_hellaswag"}

    rows = validate_checkpoints(
        run, "yamls/csmpt7b/csmpt7b.yaml", run / "validation.csv", None, overrides, max_samples=4
    )
    assert {r.corpus for r in rows} == {"cs_web", "cs_crawl", "cs_crawl_clean", "en_web"}
    report = write_report(run)
    curves = {c.label: c for c in report.data.bpb}
    for lang in ("cs_web", "en_web"):  # Czech and English at every checkpoint, one figure
        assert curves[lang].steps == [3, 6]
        assert all(0 < v < 20 for _, v in curves[lang].points)
    assert "bits_per_byte" in report.figures
    md = report.markdown.read_text() if report.markdown else ""
    assert "bits per byte en_web" in md and "bits per byte cs_web" in md


def test_runs_side_by_side_aligned_by_tokens_with_each_runs_markers(
    tiny_mpt_run: Path, tmp_path: Path
) -> None:
    from typer.testing import CliRunner

    from csmpt.cli.app import app
    from csmpt.report.compare import load_runs, write_comparison

    main, ablation = tmp_path / "main", tmp_path / "ablation"
    for run in (main, ablation):
        run.mkdir()
        shutil.copy(tiny_mpt_run / "metrics.jsonl", run)
    (main / "events.jsonl").write_text(
        json.dumps({"event": "swap", "step": 6, "from": "a", "to": "b"}) + "\n"
    )
    (ablation / "events.jsonl").write_text(
        json.dumps({"event": "freeze_stage", "step": 0, "stage": 0, "schedule": "x"})
        + "\n"
        + json.dumps({"event": "unfreeze", "step": 4, "stage": 1})
        + "\n"
    )
    (ablation / "validation.csv").write_text(
        "step,checkpoint,corpus,loss,perplexity,tokens,bytes,bpb\n"
        "6,a.pt,cs_web,8.5,4914.8,100,300,4.08\n12,b.pt,cs_web,8.1,3294.5,100,300,3.90\n"
    )
    runs = load_runs([main, ablation])
    # 8 samples x 128 tokens per step in the tiny recipe, read from time/token
    assert runs[0].tokens[18] == 18 * 1024 and runs[0].tokens[1] == 1024
    assert runs[1].x([6, 12], "tokens") == [6144.0, 12288.0]
    assert [m.kind for m in runs[0].data.markers] == ["swap"]
    assert [m.kind for m in runs[1].data.markers] == ["stage", "stage"]
    c = write_comparison([main, ablation], tmp_path / "cmp", x="tokens")
    assert set(c.figures) == {"train_loss", "bits_per_byte", "accuracy"}
    assert all(p.read_bytes()[:4] == b"\x89PNG" for p in c.figures.values())
    md = c.markdown.read_text() if c.markdown else ""
    assert "| ablation | 18 | 18,432 |" in md and md.count("| main | 18 |") == 1
    assert "| 3.9000 |" in md  # the ablation's last bpb; main has none
    assert "- main events: 6: swap a -> b" in md and "4: unfreeze" in md

    result = CliRunner().invoke(app, ["report", str(main), str(ablation), "--x", "tokens"])
    assert result.exit_code == 0, result.output
    assert (main / "report" / "compare" / "bits_per_byte.png").is_file()
    bad = CliRunner().invoke(app, ["report", str(main), str(ablation), "--x", "bananas"])
    assert bad.exit_code != 0 and "--x 'bananas': use one of steps, tokens" in bad.output
