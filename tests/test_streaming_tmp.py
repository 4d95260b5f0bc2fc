"""Each run keeps streaming's lock files in its own temp folder."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from csmpt.training.streaming_tmp import use_run_streaming_tmpdir


@pytest.fixture
def system_tmp(tmp_path: Path) -> Iterator[Path]:
    saved = tempfile.tempdir
    tempfile.tempdir = str(tmp_path)
    yield tmp_path
    tempfile.tempdir = saved


def test_a_run_gets_one_stable_folder(system_tmp: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    a = use_run_streaming_tmpdir("cs mpt/7b", "/shared/runs/a")
    assert a.parent == system_tmp / "csmpt-streaming" and a.is_dir()
    assert a.name.startswith("cs_mpt_7b-")
    assert tempfile.gettempdir() == str(a)
    # Same run again (a resume, or another local rank): the same folder, not one nested in it.
    assert use_run_streaming_tmpdir("cs mpt/7b", "/shared/runs/a") == a
    b = use_run_streaming_tmpdir("cs mpt/7b", "/shared/runs/b")
    assert b != a and b.parent == a.parent
    monkeypatch.setenv("CSMPT_SHARED_STREAMING_TMPDIR", "1")
    assert use_run_streaming_tmpdir("other", None) == b  # opted out: left as it is


def test_streaming_lock_files_land_in_the_run_folder(system_tmp: Path, shards_dir: Path) -> None:
    from streaming import StreamingDataset

    folder = use_run_streaming_tmpdir("locks", None)
    dataset = StreamingDataset(local=str(shards_dir / "cs_web"), split="train", batch_size=8)
    next(iter(dataset))
    dataset._iterator.exit()
    assert any(p.name.endswith("_filelock") for p in folder.iterdir())
    assert not any(p.name.endswith("_filelock") for p in system_tmp.iterdir())
