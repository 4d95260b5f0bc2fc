"""A checkpoint that cannot fit is one line before anything is written; ENOSPC is one line too."""

from __future__ import annotations

import errno
import shutil
from pathlib import Path
from typing import Any

import pytest

from csmpt.training import atomic_save


def _install(monkeypatch: pytest.MonkeyPatch, write: Any) -> Any:
    from composer.utils import checkpoint

    monkeypatch.setattr(checkpoint, "_write_checkpoint_file", write)
    atomic_save.install()
    return checkpoint._write_checkpoint_file


def test_a_save_that_cannot_fit_is_refused_before_writing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "ep0-ba10-rank0.pt").write_bytes(b"x" * 1000)
    written: list[str] = []

    def write(state: Any, name: str) -> None:
        written.append(name)
        Path(name).write_bytes(b"y" * 10)

    save = _install(monkeypatch, write)
    real = shutil.disk_usage
    monkeypatch.setattr(atomic_save.shutil, "disk_usage", lambda p: real(p)._replace(free=900))
    with pytest.raises(atomic_save.DiskFullError) as e:
        save({}, str(tmp_path / "ep0-ba20-rank0.pt"))
    msg = str(e.value)
    assert "\n" not in msg and str(tmp_path) in msg and "900 bytes free" in msg and "1,100" in msg
    assert written == [] and sorted(p.name for p in tmp_path.iterdir()) == ["ep0-ba10-rank0.pt"]
    monkeypatch.setattr(atomic_save.shutil, "disk_usage", real)
    save({}, str(tmp_path / "ep0-ba20-rank0.pt"))  # room: the write happens
    assert len(written) == 1 and (tmp_path / "ep0-ba20-rank0.pt").stat().st_size == 10


def test_enospc_during_a_save_is_one_line_and_leaves_no_partial(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def full(state: Any, name: str) -> None:
        Path(name).write_bytes(b"half")
        raise OSError(errno.ENOSPC, "No space left on device")

    save = _install(monkeypatch, full)
    with pytest.raises(atomic_save.DiskFullError, match="no space left on the device of"):
        save({}, str(tmp_path / "ep0-ba20-rank0.pt"))
    assert list(tmp_path.iterdir()) == []
