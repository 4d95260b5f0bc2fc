"""Sharded (FSDP ``state_dict_type: sharded``) checkpoint folders in the resume guard.

Composer 0.32.1 saves a sharded checkpoint as ``SAVE_FOLDER/ep0-ba20/`` holding one
``__<rank>_0.distcp`` per rank and a ``.metadata`` (``torch.distributed.checkpoint.save`` with a
``FileSystemWriter``) and points ``latest-sharded-rank0`` at the folder (llm-foundry's
``save_latest_filename`` for a sharded state dict; seen in a 2-process FSDP2 run of
``yamls/tiny/mpt.yaml``). Composer's FSDP refuses to
start without an NVIDIA driver, so the folders here are written the way Composer writes them:
``dcp.save`` of DTensors sharded over a gloo group of 2 CPU processes; Composer's own resume
path (``os.readlink`` of ``latest-sharded-rank0``, then ``dcp.load`` of that folder) loads
them back.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from dcp_ranks import STEPS, value

from csmpt.training.resume_guard import (
    SHARDED_LATEST,
    check_history,
    checkpoint_problem,
    guard_save_folder,
    list_checkpoints,
)

LINK = "latest-sharded-rank0"  # llm-foundry's name of a sharded run's latest link


@pytest.fixture(scope="module")
def sharded_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A save folder with three whole sharded checkpoints, latest -> the newest (as Composer)."""
    folder = tmp_path_factory.mktemp("sharded") / "run"
    folder.mkdir()
    _ranks("save", folder)
    (folder / LINK).symlink_to(f"ep0-ba{STEPS[-1]}")
    return folder


def _ranks(*args: str | Path) -> None:
    script = Path(__file__).parents[1] / "dcp_ranks.py"
    proc = subprocess.run(
        [sys.executable, str(script), *map(str, args)], capture_output=True, text=True, timeout=180
    )
    assert proc.returncode == 0, proc.stderr[-3000:]


def _copy(run: Path, tmp_path: Path) -> Path:
    out = tmp_path / "run"
    shutil.copytree(run, out, symlinks=True)
    return out


def _resumed(folder: Path, tmp_path: Path) -> tuple[torch.Tensor, int]:
    out = tmp_path / "loaded.pt"
    _ranks("load", folder, out)
    loaded = torch.load(out)
    return loaded["weight"], loaded["batch"]


def test_composer_shaped_folders_are_listed_and_whole(sharded_run: Path) -> None:
    newest = sharded_run / f"ep0-ba{STEPS[-1]}"
    assert {p.name for p in newest.iterdir()} >= {"__0_0.distcp", "__1_0.distcp", ".metadata"}
    assert [
        (c.path.name, c.batch)
        for c in list_checkpoints(sharded_run, sharded_dir="ep{epoch}-ba{batch}")
    ] == [(f"ep0-ba{s}", s) for s in STEPS]
    assert all(checkpoint_problem(sharded_run / f"ep0-ba{s}") is None for s in STEPS)
    result = guard_save_folder(sharded_run, latest_filename=SHARDED_LATEST)
    assert (result.resume_step, result.quarantined) == (STEPS[-1], [])


@pytest.mark.parametrize(
    ("tear", "reason"),
    [
        ("metadata", "no .metadata"),  # killed before the last write of dcp.save
        ("shard", "shard __1_0.distcp missing"),  # rank 1's file lost (a node-local disk)
        ("truncate", "shard __1_0.distcp torn"),  # a node crash before the shard reached disk
        ("garbage", "torn (.metadata unreadable"),
    ],
)
def test_torn_newest_folder_is_quarantined_and_the_rerun_resumes_the_previous(
    sharded_run: Path, tmp_path: Path, tear: str, reason: str
) -> None:
    run = _copy(sharded_run, tmp_path)
    newest = run / f"ep0-ba{STEPS[-1]}"
    if tear == "metadata":
        (newest / ".metadata").unlink()
    elif tear == "shard":
        (newest / "__1_0.distcp").unlink()
    elif tear == "truncate":
        with (newest / "__1_0.distcp").open("r+b") as f:
            f.truncate((newest / "__1_0.distcp").stat().st_size - 1)
    else:
        (newest / ".metadata").write_bytes(b"\x80\x04not a pickle")
    files = sorted(p.name for p in newest.iterdir())
    events = run / "events.jsonl"  # the run recorded a later event: no restart from 0
    events.write_text('{"event": "swap", "step": 5}\n')

    result = guard_save_folder(run, latest_filename=SHARDED_LATEST)

    previous = STEPS[-2]
    assert (result.resume_step, result.latest) == (previous, run / f"ep0-ba{previous}")
    ((path, why),) = result.quarantined
    assert path == newest and why.startswith(reason), why
    moved = run / "quarantine" / newest.name
    assert moved.is_dir() and sorted(p.name for p in moved.iterdir()) == files  # kept whole
    assert os.readlink(run / LINK) == f"ep0-ba{previous}"
    check_history(result.resume_step, [events], None)  # resumes: not refused
    weight, batch = _resumed(run, tmp_path)
    assert batch == previous and torch.equal(weight, value(previous))


def test_link_lost_between_saves_points_at_the_newest_whole_folder(
    sharded_run: Path, tmp_path: Path
) -> None:
    """Composer removes ``latest`` before it links the new folder; a newer folder without
    ``.metadata`` is a save the kill interrupted."""
    run = _copy(sharded_run, tmp_path)
    (run / LINK).unlink()
    partial = run / "ep0-ba8"
    shutil.copytree(run / "ep0-ba6", partial)
    (partial / ".metadata").unlink()
    result = guard_save_folder(run, latest_filename=SHARDED_LATEST)
    assert result.resume_step == 6
    assert [p.name for p, _ in result.quarantined] == ["ep0-ba8"]
    weight, batch = _resumed(run, tmp_path)
    assert batch == 6 and torch.equal(weight, value(6))


@pytest.mark.parametrize("prefix", [None, "step{batch}"])
def test_a_sharded_run_with_recorded_events_resumes_instead_of_being_refused(
    sharded_run: Path, tmp_path: Path, prefix: str | None
) -> None:
    """The issue's reproduction: before, the guard saw no checkpoint file in a sharded run's
    folder, removed ``latest`` and refused the rerun ("no checkpoint to resume from")."""
    from omegaconf import OmegaConf

    from csmpt.training.run import prepare_run_folder

    run = _copy(sharded_run, tmp_path)
    fsdp: dict[str, str] = {"state_dict_type": "sharded"}
    if prefix is not None:  # fsdp_config.sharded_ckpt_prefix_dir names the folders
        fsdp["sharded_ckpt_prefix_dir"] = prefix
        for step in STEPS:
            (run / f"ep0-ba{step}").rename(run / prefix.format(batch=step))
        (run / LINK).unlink()
        (run / LINK).symlink_to(prefix.format(batch=STEPS[-1]))
    name = (prefix or "ep0-ba{batch}").format
    (run / name(batch=STEPS[-1]) / "__0_0.distcp").unlink()
    (run / "events.jsonl").write_text('{"event": "swap", "step": 5}\n')
    cfg = OmegaConf.create({"save_folder": str(run), "autoresume": True, "fsdp_config": fsdp})

    prepare_run_folder(cfg)

    assert os.readlink(run / LINK) == name(batch=STEPS[-2])
    assert (run / "quarantine" / name(batch=STEPS[-1])).is_dir()
    assert (run / "events.jsonl").is_file(), "nothing archived: the run resumes"


def test_the_latest_link_is_named_as_llm_foundry_names_it() -> None:
    from csmpt.training.resume_guard import DEFAULT_LATEST, latest_filename

    assert latest_filename({}) == DEFAULT_LATEST == "latest-rank{rank}.pt"
    assert latest_filename({"fsdp_config": {"state_dict_type": "full"}}) == DEFAULT_LATEST
    assert latest_filename({"fsdp_config": {"state_dict_type": "sharded"}}) == SHARDED_LATEST
    assert SHARDED_LATEST.format(rank=0) == LINK
    mine = {"save_latest_filename": "last.pt", "fsdp_config": {"state_dict_type": "sharded"}}
    assert latest_filename(mine) == "last.pt"
