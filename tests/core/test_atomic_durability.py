"""csmpt.atomic's durability order: write -> fsync(file) -> rename -> fsync(folder).

A kill cannot show the difference (the page cache survives it); a power loss can. So the calls
are recorded: every writer must fsync the whole file before renaming it onto its final name, and
fsync the folder after the rename.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from csmpt import atomic

Call = tuple[str, Any]


@pytest.fixture
def calls(monkeypatch: pytest.MonkeyPatch) -> list[Call]:
    """Record fsync (with what the file held then) and rename calls, in order."""
    log: list[Call] = []
    real_fsync, real_replace, real_rename = os.fsync, os.replace, os.rename

    def fsync(fd: int) -> None:
        st = os.fstat(fd)
        if stat.S_ISDIR(st.st_mode):
            log.append(("fsync_dir", sorted(os.listdir(f"/proc/self/fd/{fd}"))))
        else:
            log.append(("fsync_file", os.pread(fd, st.st_size + 1, 0)))
        real_fsync(fd)

    def replace(src: Any, dst: Any) -> None:
        log.append(("rename", Path(dst).name))
        real_replace(src, dst)

    def rename(src: Any, dst: Any) -> None:
        log.append(("rename", Path(dst).name))
        real_rename(src, dst)

    monkeypatch.setattr(atomic.os, "fsync", fsync)
    monkeypatch.setattr(atomic.os, "replace", replace)
    monkeypatch.setattr(atomic.os, "rename", rename)
    return log


DATA = b"0123456789" * 1000


def _write_via_path(path: Path) -> None:
    atomic.write_atomically(lambda p: Path(p).write_bytes(DATA), path)


def _copy(path: Path) -> None:
    src = path.with_name("src.bin")
    src.write_bytes(DATA)
    atomic.copy_file(src, path)


@pytest.mark.parametrize(
    "write",
    [
        lambda path: atomic.write_bytes(path, DATA),
        lambda path: atomic.write_text(path, DATA.decode()),
        _write_via_path,
        _copy,
    ],
    ids=["write_bytes", "write_text", "write_atomically", "copy_file"],
)
def test_file_is_fsynced_whole_before_the_rename_and_the_folder_after(
    write: Callable[[Path], None], calls: list[Call], tmp_path: Path
) -> None:
    final = tmp_path / "out.bin"
    final.write_bytes(b"old")
    write(final)
    assert final.read_bytes() == DATA
    kinds = [kind for kind, _ in calls]
    assert kinds == ["fsync_file", "rename", "fsync_dir"], calls
    assert calls[0][1] == DATA  # the fsync came after the last byte was written
    assert calls[1][1] == "out.bin"
    assert "out.bin" in calls[2][1]  # the folder fsynced holds the renamed file


def test_replace_dir_fsyncs_every_file_and_folder_before_the_move(
    calls: list[Call], tmp_path: Path
) -> None:
    new = atomic.make_temp_dir(tmp_path / "shards")
    (new / "sub").mkdir()
    (new / "a.mds").write_bytes(b"a" * 10)
    (new / "sub" / "b.mds").write_bytes(b"b" * 20)
    atomic.replace_dir(new, tmp_path / "shards", ("a.mds",), "shards")
    rename_at = [kind for kind, _ in calls].index("rename")
    before = calls[:rename_at]
    assert sorted(v for k, v in before if k == "fsync_file") == [b"a" * 10, b"b" * 20]
    assert sum(k == "fsync_dir" for k, _ in before) == 2  # the new folder and its subfolder
    assert calls[-1][0] == "fsync_dir" and "shards" in calls[-1][1]
