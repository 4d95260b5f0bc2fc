"""lm-eval as a csmpt eval backend: a local lm-eval task over a checkpoint series, in memory.

The lm-eval rows must equal csmpt's own acc/acc_norm on the same items (the task asks lm-eval
for the very requests csmpt scores). Runs where ``lm_eval`` is importable (an optional extra:
docs/eval.md), skipped otherwise; without it a recipe naming ``lm_eval_tasks`` is one line.
"""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from csmpt.errors import ConfigError

N_ITEMS = 24


def _recipe(run: Path, tokenizer_dir: Path, shards_dir: Path, out: Path, tasks: Path) -> list[str]:
    items = out.parent / "items.jsonl"
    return [
        f"checkpoints={run}",
        "train_yaml=yamls/tiny/mpt.yaml",
        f"train_overrides=[variables.tokenizer_name={tokenizer_dir},"
        f"variables.data_root={shards_dir}]",
        f"icl_tasks=[{{label: mc, dataset_uri: '{items}', icl_task_type: multiple_choice, "
        "num_fewshot: [0], continuation_delimiter: ' '}]",
        f"lm_eval_tasks=[{{name: csmpt_mc, include_path: '{tasks}'}}]",
        "bpb_texts=[]",
        f"output_dir={out}",
    ]


def test_without_lm_eval_a_recipe_naming_its_tasks_is_one_line(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    import sys

    from csmpt.eval.series import load_eval_recipe

    monkeypatch.setitem(sys.modules, "lm_eval", None)  # import lm_eval -> ImportError
    yaml = tmp_path / "eval.yaml"
    yaml.write_text("lm_eval_tasks: [{name: hellaswag}]\nmodels: [{name: m, path: x}]\n")
    with pytest.raises(
        ConfigError, match=r"lm_eval_tasks need lm-evaluation-harness.*csmpt\[lm-eval\]"
    ) as e:
        load_eval_recipe(yaml)
    assert "\n" not in str(e.value) and str(yaml) in str(e.value)
    yaml.write_text("models: [{name: m, path: x}]\n")
    with pytest.raises(ConfigError, match="no task"):
        load_eval_recipe(yaml)


@pytest.mark.slow
def test_a_local_lm_eval_task_scores_every_checkpoint_as_csmpt_does(
    tiny_mpt_run: Path, tokenizer_dir: Path, shards_dir: Path, tmp_path: Path
) -> None:
    pytest.importorskip("lm_eval")
    from csmpt.eval.lm_eval_task import write_mc_task
    from csmpt.eval.series import load_eval_recipe, run_eval

    lines = Path("data/samples/cs_hellaswag.jsonl").read_text("utf-8").split("\n")[:N_ITEMS]
    (tmp_path / "items.jsonl").write_text("\n".join(lines) + "\n", "utf-8")
    write_mc_task(tmp_path / "tasks", "csmpt_mc", tmp_path / "items.jsonl")
    out = tmp_path / "eval"
    yaml = tmp_path / "eval.yaml"
    yaml.write_text("max_seq_len: 128\ndevice_eval_batch_size: 8\n")
    recipe = load_eval_recipe(
        yaml, _recipe(tiny_mpt_run, tokenizer_dir, shards_dir, out, tmp_path / "tasks")
    )
    res = run_eval(recipe)
    assert [r.step for r in res.rows] == [6, 12, 18]
    with res.csv.open() as f:
        rows = list(csv.DictReader(f))
    for row in rows:
        for m in ("acc", "acc_norm"):
            ours, theirs = float(row[f"mc/0-shot/{m}"]), float(row[f"csmpt_mc/0-shot/{m}"])
            assert theirs == pytest.approx(ours, abs=1e-6), (row["step"], m)
            e_ours, e_theirs = (float(row[f"{t}/0-shot/{m}_stderr"]) for t in ("mc", "csmpt_mc"))
            assert e_theirs == pytest.approx(e_ours, abs=1e-6)
    assert "csmpt_mc/0-shot acc_norm" in res.markdown.read_text()
