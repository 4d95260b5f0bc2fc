"""`csmpt demo` runs the whole pipeline in miniature and reports the corpus swaps."""

from __future__ import annotations

from pathlib import Path

import pytest
from rich.console import Console

from csmpt.demo import run_demo

pytestmark = pytest.mark.slow


def test_demo_trains_on_three_hot_swapped_corpora(tmp_path: Path) -> None:
    console = Console(record=True, width=120)
    summary = run_demo(workdir=tmp_path / "demo", steps=12, console=console)
    assert summary.steps == 12
    assert [(e["step"], e["from"], e["to"]) for e in summary.swaps] == [
        (4, "cs_web", "cs_crawl"),
        (8, "cs_crawl", "cs_crawl_clean"),
    ]
    assert summary.last_loss < summary.first_loss
    assert {"cs_web/train", "cs_crawl/train", "cs_crawl_clean/train", "en_web/val"} <= set(
        summary.shards
    )
    text = console.export_text()
    # Quiet by default: the story on the console, the libraries' output in WORKDIR/csmpt.log.
    log_file = tmp_path / "demo" / "csmpt.log"
    assert text.count(str(log_file)) == 1  # its path, printed once
    lines = text.rstrip("\n").split("\n")
    assert len(lines) < 120, f"{len(lines)} lines"
    assert not any("unexplained" in x for x in lines), [x for x in lines if "unexplained" in x]
    assert not any("Warning:" in x or "warnings.warn" in x for x in lines)
    assert "[batch=" not in text and "python_log_level" not in text  # Composer's, config dump
    logged = log_file.read_text(encoding="utf-8")
    assert "python_log_level" in logged and "UserWarning" in logged
    assert "library warnings by kind" in text  # each kind explained in one line
    assert text.count("trained tiny-mpt-hot-swap: steps 0 -> 12") == 1  # the progress bar's end
    # The shards were tokenized by the tiktoken backend (exact for the demo's byte-level BPE).
    assert text.count("tokenized with tiktoken") == 4
    assert "swap at step 4" in text and "cs_web -> cs_crawl" in text
    assert "swap at step 8" in text and "cs_crawl -> cs_crawl_clean" in text
    # corpus #3 = #2 through the filter: the 22 spam/toxic crawl documents removed
    assert summary.filtered == {"cs_crawl_clean": {"classifier": 22, "duplicate": 0, "kept": 308}}
    assert "removed 22 (classifier 22, duplicate 0), kept 308" in text
    # vocabulary swap: a tiny English MPT swapped to the Czech tokenizer starts the Czech run
    swap = summary.vocab_swap
    assert swap is not None and swap.report.aligned["exact"] > 100
    assert swap.report.loss_swapped < swap.report.loss_random
    assert f"load_path: {swap.load_path}" in (summary.run_dir / "config.yaml").read_text()
    assert "vocab swap" in text and "coverage" in text and "swapped" in text
    # the new rows start from FOCUS: weighted sums of shared tokens' English rows
    assert swap.report.focus is not None and swap.report.focus["combined"] > 0
    assert "FOCUS" in text and "shared tokens" in text
    # the alignment init beside it: its check (held-out shared tokens finding their own pair)
    # and its held-out bpb before training, next to FOCUS's; the run itself keeps FOCUS
    a = swap.alignment
    assert a is not None and a.align is not None and a.align["check_pairs"] > 0
    assert a.align["aligned"] > 0 and a.bpb_swapped is not None
    assert a.output != swap.report.output
    assert "or: align (TokAlign)" in text and f"vs FOCUS {swap.report.bpb_swapped:.3f}" in text
    # ... or the English tokenizer extended with Czech tokens: fewer tokens per Czech word
    x = swap.extension
    assert x is not None and x.added == 512 and x.fertility_after < 0.8 * x.fertility_before
    assert "+512 Czech tokens" in text and "tokens per Czech word" in text
    # cs_web packed as whole documents (packing: pad), its padding share reported
    assert summary.pad_share is not None and 0 < summary.pad_share < 0.5
    assert f"{100 * summary.pad_share:.1f}% padding" in text
    # ... built as two --parts and a --merge; the merged manifest gives a single build's range
    assert summary.pad_samples is not None and "--merge" in text
    merged, low, high = summary.pad_samples
    assert 0 < low <= high and low <= merged
    # loss spike: the demo corrupts samples 1 and 5 of step 10; the event names exactly them
    spike = next(e for e in summary.spikes if e["step"] == 10)
    assert spike["event"] == "loss_spike" and spike["suspects"] == [[0, 1], [0, 5]]
    assert "loss spike at step 10" in text and "suspect #1" in text and "suspect #5" in text
    # after training: CS-HellaSwag over both checkpoints, the HF export generating Czech, report
    after = summary.after_training
    assert after is not None and [r.step for r in after.eval_rows] == [6, 12]
    assert all(
        set(r.accuracy) == {"cs_hellaswag/0-shot", "cs_hellaswag/3-shot"} for r in after.eval_rows
    )
    assert after.export_diff <= 1e-4 and (after.hf_dir / "config.json").is_file()
    assert after.sentence.startswith("Dobrý den,") and len(after.sentence.split()) > 3
    assert {"train_loss.png", "eval_loss.png", "accuracy.png"} <= {p.name for p in after.figures}
    from csmpt.report.data import build_report_data

    report = build_report_data(summary.run_dir)
    assert report.swap_steps == [4, 8] and 10 in report.spike_steps
    assert "CS-HellaSwag (sample)" in text and "step 12: cs_hellaswag/0-shot" in text
    assert "generated (transformers)" in text and "report.html" in text
    # the merge path on the cs_web documents held out of training: the run moved the model
    # (α 1 is the trained model, below the swapped weights at α 0 on held-out Czech)
    assert sorted(after.merge_bpb) == [0.0, 0.5, 1.0]
    assert after.merge_bpb[1.0] < after.merge_bpb[0.0], after.merge_bpb
    assert "merge swapped -> trained" in text
    # the mixture recipe's shares, computed by streaming from the demo's shards
    assert set(summary.mixture) == {"cs_web", "en_web"}
    assert sum(summary.mixture.values()) == pytest.approx(1.0) and summary.mixture["cs_web"] > 0.7
    assert "mixture" in text and "of an epoch's tokens" in text
    # the ablation: 2 learning rates x 2 seeds, each run checked, trained, then mean ± CI
    ablation = summary.ablation
    assert ablation is not None and ablation.runs == 4 and ablation.verdict.is_file()
    assert "mean ± 95% CI over 2 seeds" in text and text.count("] lr-") == 4
    import csv

    with (ablation.verdict.parent / "ablation.csv").open() as f:
        assert len(list(csv.DictReader(f))) == 4
