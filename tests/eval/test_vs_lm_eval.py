"""csmpt's acc/acc_norm and their standard errors equal lm-evaluation-harness's on one export.

Runs where ``lm_eval`` is importable (it is not one of csmpt's dependencies: install it into a
separate environment, see docs/eval.md), skipped otherwise.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

N_ITEMS = 40


def test_acc_and_acc_norm_equal_lm_evals_on_the_same_export_and_items(
    tiny_mpt_run: Path, tokenizer_dir: Path, shards_dir: Path, tmp_path: Path
) -> None:
    pytest.importorskip("lm_eval")
    from lm_eval import simple_evaluate
    from lm_eval.models.huggingface import HFLM
    from lm_eval.tasks import TaskManager

    from csmpt.checkpoint.loading import build_hf_model
    from csmpt.eval.icl import build_evaluators, evaluate_icl
    from csmpt.eval.lm_eval_task import write_mc_task
    from csmpt.export.hf import export_to_hf

    hf = tmp_path / "hf"
    train = [f"variables.tokenizer_name={tokenizer_dir}", f"variables.data_root={shards_dir}"]
    export_to_hf(tiny_mpt_run / "ep0-ba18-rank0.pt", "yamls/tiny/mpt.yaml", hf, train)
    lines = Path("data/samples/cs_hellaswag.jsonl").read_text("utf-8").split("\n")[:N_ITEMS]
    items = tmp_path / "items.jsonl"
    items.write_text("\n".join(lines) + "\n", "utf-8")
    docs = [json.loads(line) for line in lines]

    model, tok = build_hf_model(hf, 128)
    task = {
        "label": "mc",
        "dataset_uri": str(items),
        "icl_task_type": "multiple_choice",
        "num_fewshot": [0],
        "continuation_delimiter": " ",
    }
    (ours,) = evaluate_icl(model, build_evaluators([task], tok, 128, 16))

    write_mc_task(tmp_path / "tasks", "csmpt_mc", items)
    lm = HFLM(pretrained=str(hf), trust_remote_code=True, device="cpu", dtype="float32")
    out = simple_evaluate(
        model=lm,
        tasks=["csmpt_mc"],
        task_manager=TaskManager(include_path=str(tmp_path / "tasks")),
        log_samples=True,
    )
    assert out is not None
    theirs = out["results"]["csmpt_mc"]
    their_lls = {
        s["doc_id"]: [float(r[0]) for r in s["filtered_resps"]] for s in out["samples"]["csmpt_mc"]
    }
    assert sorted(their_lls) == list(range(N_ITEMS))
    ll_diff = max(
        abs(a - b)
        for i, d in enumerate(ours.details)
        for a, b in zip(d.loglikelihoods, their_lls[i], strict=True)
    )
    print(f"max |log-likelihood difference| {ll_diff:.2e}; csmpt {ours.scores}, lm-eval {theirs}")
    assert ll_diff < 1e-4
    assert [d.gold for d in ours.details] == [d["gold"] for d in docs]
    for m in ("acc", "acc_norm"):
        assert ours.scores[m] == pytest.approx(theirs[f"{m},none"], abs=1e-6), m
        assert ours.stderr[m] == pytest.approx(theirs[f"{m}_stderr,none"], abs=1e-6), m
