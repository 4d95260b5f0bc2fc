"""The Czech lm-eval task pack (eval/tasks/cs/) loads in lm-eval with its sample files.

Every YAML is parsed (always); where ``lm_eval`` is importable each one is built by lm-eval's
task manager over its ``samples/`` file and every sample's gold choice is checked.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

PACK = Path("eval/tasks/cs")
SAMPLE = {
    "cs_hellaswag.yaml": "cs_hellaswag.jsonl",
    "belebele_ces_latn.yaml": "belebele_ces_Latn.jsonl",
    "global_mmlu_cs.yaml": "global_mmlu_cs.jsonl",
}
# The gold answer of each sample item, read off the files by hand.
GOLD_TEXT = {
    "belebele_ces_latn.yaml": ["B", "A", "D"],
    "global_mmlu_cs.yaml": ["B", "A", "C"],
}


def test_every_yaml_names_a_local_file_and_has_a_sample() -> None:
    assert sorted(p.name for p in PACK.glob("*.yaml")) == sorted(SAMPLE)
    for name, sample in SAMPLE.items():
        cfg = yaml.safe_load((PACK / name).read_text("utf-8"))
        assert cfg["dataset_path"] == "json" and cfg["output_type"] == "multiple_choice"
        assert cfg["dataset_kwargs"]["data_files"]["test"].startswith("data/eval/cs/")
        assert "load_dataset(" in (PACK / name).read_text("utf-8")  # how to get the data
        assert len((PACK / "samples" / sample).read_text("utf-8").strip().split("\n")) == 3


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(SAMPLE))
def test_task_builds_in_lm_eval_over_its_sample(name: str, tmp_path: Path) -> None:
    pytest.importorskip("lm_eval")
    from lm_eval.tasks import TaskManager

    cfg = yaml.safe_load((PACK / name).read_text("utf-8"))
    sample = (PACK / "samples" / SAMPLE[name]).resolve()
    cfg["dataset_kwargs"]["data_files"]["test"] = str(sample)
    (tmp_path / name).write_text(yaml.safe_dump(cfg, allow_unicode=True), "utf-8")
    task = TaskManager(include_path=str(tmp_path)).load_task_or_group([cfg["task"]])[cfg["task"]]
    docs = list(task.test_docs())
    rows = [json.loads(line) for line in sample.read_text("utf-8").strip().split("\n")]
    assert len(docs) == 3
    for i, doc in enumerate(docs):
        choices = task.doc_to_choice(doc)
        gold = task.doc_to_target(doc)
        want = GOLD_TEXT[name][i] if name in GOLD_TEXT else rows[i]["choices"][rows[i]["gold"]]
        assert choices[gold] == want, (name, i)
        assert task.doc_to_text(doc).strip()
