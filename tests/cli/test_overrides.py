"""``key=value`` overrides that address list items, as csmpt init's README tells users to set."""

from __future__ import annotations

from pathlib import Path

import pytest
from omegaconf import OmegaConf

from csmpt.config import load_yaml_with_overrides
from csmpt.errors import ConfigError

REPO = Path(__file__).resolve().parents[2]
PREP = REPO / "data_prep/sample.yaml"
MPT = REPO / "yamls/tiny/mpt.yaml"


def test_list_item_override_sets_that_item_only() -> None:
    before = OmegaConf.to_container(load_yaml_with_overrides(PREP), resolve=False)
    cfg = load_yaml_with_overrides(PREP, ["corpora.0.inputs=[a.jsonl, b.jsonl]"])
    after = OmegaConf.to_container(cfg, resolve=False)
    assert isinstance(before, dict) and isinstance(after, dict)
    assert after["corpora"][0]["inputs"] == ["a.jsonl", "b.jsonl"]
    assert after["corpora"][0]["name"] == before["corpora"][0]["name"]
    assert after["corpora"][1:] == before["corpora"][1:]


def test_icl_task_override_keeps_the_other_task_keys() -> None:
    cfg = load_yaml_with_overrides(MPT, ["icl_tasks.0.dataset_uri=/data/hs.jsonl"])
    task = OmegaConf.to_container(cfg.icl_tasks[0], resolve=False)
    assert isinstance(task, dict)
    assert task["dataset_uri"] == "/data/hs.jsonl" and "icl_task_type" in task


def test_index_past_the_end_names_the_list() -> None:
    msg = r"override 'corpora.9.inputs=\[a\]': 'corpora' is a list of \d+ items"
    with pytest.raises(ConfigError, match=msg):
        load_yaml_with_overrides(PREP, ["corpora.9.inputs=[a]"])
