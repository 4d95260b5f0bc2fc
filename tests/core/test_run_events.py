"""The events files of a run: every callback that writes one declares it, and every reader and
the run-folder checks find it (a non-default ``events_file`` included)."""

from __future__ import annotations

import ast
import json
from pathlib import Path

import pytest
import tomllib
from omegaconf import OmegaConf

from csmpt.errors import CsmptError
from csmpt.run_events import events_file_kwarg, events_files, read_run_events

REPO = Path(__file__).resolve().parents[2]

FREEZE_EVENTS = [
    {"event": "freeze_stage", "step": 0, "stage": 0, "schedule": "train only wte until 4ba"},
    {"event": "unfreeze", "step": 4, "stage": 1},
]


def _lines(records: list[dict]) -> str:
    return "".join(json.dumps(r) + "\n" for r in records)


def _recipe(run: Path, freeze_file: Path) -> dict:
    return {
        "save_folder": str(run),
        "autoresume": True,
        "callbacks": {
            "csmpt_freeze": {
                "stages": [{"until": "4ba", "train": ["wte"]}],
                "events_file": str(freeze_file),
            },
            "speed_monitor": {"window_size": 1},  # llm-foundry's own: writes no events
        },
    }


def _entry_points() -> dict[str, str]:
    """Callback registry key -> ``module:Class`` from pyproject.toml."""
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    groups = project["entry-points"]
    return {
        **groups["llmfoundry_callbacks"],
        **groups["llmfoundry_callbacks_with_config"],
    }


def _writes_events(module: Path, cls: str) -> bool:
    """Whether ``cls`` in ``module`` appends to or rewrites an events file."""
    tree = ast.parse(module.read_text(encoding="utf-8"))
    (node,) = [n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == cls]
    calls = [c for c in ast.walk(node) if isinstance(c, ast.Call)]
    names = {getattr(c.func, "id", getattr(c.func, "attr", "")) for c in calls}
    return bool(names & {"append_event", "rewrite_events"})


def test_every_callback_that_writes_events_declares_its_file() -> None:
    writers = []
    for name, target in _entry_points().items():
        module, cls = target.split(":")
        if _writes_events(REPO / (module.replace(".", "/") + ".py"), cls):
            writers.append(name)
            assert events_file_kwarg(name) == "events_file", f"{name} does not declare its file"
    assert {"csmpt_hot_swap", "csmpt_loss_spike", "csmpt_freeze"} <= set(writers)
    assert events_file_kwarg("csmpt_run_record") is None  # writes runs.jsonl, not events
    assert events_file_kwarg("speed_monitor") is None  # llm-foundry's, not an entry point


def test_the_hot_swap_name_is_in_one_module() -> None:
    found = {
        p.relative_to(REPO).as_posix()
        for p in (REPO / "csmpt").rglob("*.py")
        if '"csmpt_hot_swap"' in p.read_text(encoding="utf-8")
    }
    assert len(found) <= 1, sorted(found)


def test_events_files_lists_the_default_then_each_callbacks_own(tmp_path: Path) -> None:
    run, freeze = tmp_path / "run", tmp_path / "elsewhere" / "freeze.jsonl"
    callbacks = {
        **_recipe(run, freeze)["callbacks"],
        "csmpt_loss_spike": {"events_file": str(run / "events.jsonl")},  # the default, named
        "csmpt_hot_swap": {"swaps": []},  # the default, unnamed
    }
    assert events_files(callbacks, run) == [run / "events.jsonl", freeze]
    assert events_files(None, run) == [run / "events.jsonl"]


def test_a_torn_freeze_events_file_is_repaired_checked_and_archived(tmp_path: Path) -> None:
    from csmpt.training.run import prepare_run_folder

    run, freeze = tmp_path / "run", tmp_path / "elsewhere" / "freeze.jsonl"
    run.mkdir()
    freeze.parent.mkdir()
    whole = _lines(FREEZE_EVENTS)
    freeze.write_text(whole + '{"event": "freeze_st')  # killed mid-write
    cfg = OmegaConf.create(_recipe(run, freeze))

    with pytest.raises(CsmptError) as e:  # no checkpoint, but stage 1 began at step 4
        prepare_run_folder(cfg)
    assert "freeze.jsonl records step 4 (unfreeze)" in str(e.value) and "--fresh" in str(e.value)
    assert freeze.read_text() == whole, "the torn last line is cut off, the records kept"

    prepare_run_folder(cfg, fresh=True)
    (archive,) = (run / "archive").iterdir()
    assert (archive / "freeze.jsonl").read_text() == whole
    assert not freeze.exists()
    prepare_run_folder(cfg)  # nothing recorded any more: starting over is allowed


def test_report_inspect_and_demo_read_the_freeze_file_like_the_others(tmp_path: Path) -> None:
    from csmpt.demo.spike import spike_events
    from csmpt.report.data import build_report_data

    run, freeze = tmp_path / "run", tmp_path / "freeze.jsonl"
    run.mkdir()
    rows = [{"step": s, "loss/train/total": 3.0 - s / 10} for s in range(1, 7)]
    (run / "metrics.jsonl").write_text(_lines(rows))
    swap = {"event": "swap", "step": 3, "from": "a", "to": "b"}
    spike = {"event": "loss_spike", "step": 5, "loss": 9.0}
    (run / "events.jsonl").write_text(_lines([swap]))
    (tmp_path / "spikes.jsonl").write_text(_lines([spike]))
    freeze.write_text(_lines(FREEZE_EVENTS))
    recipe = _recipe(run, freeze)
    recipe["callbacks"]["csmpt_loss_spike"] = {"events_file": str(tmp_path / "spikes.jsonl")}
    (run / "config.yaml").write_text(OmegaConf.to_yaml(OmegaConf.create(recipe)))

    data = build_report_data(run)
    assert data.stage_steps == [0, 4] and data.swap_steps == [3] and data.spike_steps == [5]
    steps = [(e["event"], e["step"]) for e in read_run_events(run)]
    assert steps == [("freeze_stage", 0), ("swap", 3), ("unfreeze", 4), ("loss_spike", 5)]
    assert read_run_events(run, {}) == [swap]  # a config without callbacks: events.jsonl
    assert spike_events(run) == [spike]
