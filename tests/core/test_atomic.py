"""Atomic writes (csmpt/atomic.py): one durability rule, used by every writer in csmpt/.

A real SIGKILL in the middle of a large write must leave the old file whole; the killed
writer's temporary file must not look like an output to a reader and is gone after the next
write; modes follow the umask; and no other module renames onto a final name.
"""

from __future__ import annotations

import ast
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from csmpt.atomic import (
    copy_file,
    make_temp_dir,
    open_atomic,
    replace_dir,
    write_bytes,
    write_json,
    write_jsonl,
    write_text,
)

REPO = Path(__file__).resolve().parents[2]

_KILLED_WRITER = """
import sys, time
from pathlib import Path
from csmpt.atomic import open_atomic
from csmpt.run_folder import rewrite_events

kind, path = sys.argv[1], Path(sys.argv[2])
if kind == "bytes":  # a large streamed write, 1 MiB at a time
    with open_atomic(path, "wb") as f:
        for _ in range(4096):
            f.write(b"n" * (1 << 20))
else:  # csmpt's events rewrite (the hot swap / freeze callbacks), many big events
    rewrite_events(path, ({"event": "x", "step": i, "pad": "n" * 100_000} for i in range(40_000)))
"""


def _kill_mid_write(kind: str, path: Path) -> None:
    """Start a writer of ``path`` and SIGKILL it once its temporary file holds 8 MiB."""
    proc = subprocess.Popen([sys.executable, "-c", _KILLED_WRITER, kind, str(path)], cwd=REPO)
    deadline = time.monotonic() + 120
    try:
        while True:
            assert proc.poll() is None, "the writer finished before it was killed"
            assert time.monotonic() < deadline, "the writer never got going"
            temps = [p for p in path.parent.iterdir() if p.name.startswith(f".{path.name}")]
            if temps and temps[0].stat().st_size >= 8 << 20:
                break
            time.sleep(0.005)
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
    assert proc.returncode == -signal.SIGKILL


@pytest.mark.parametrize("kind", ["bytes", "events"])
def test_a_killed_write_leaves_the_old_file_whole(kind: str, tmp_path: Path) -> None:
    from csmpt.run_folder import read_events

    name = "table.bin" if kind == "bytes" else "events.jsonl"
    path = tmp_path / name
    old = [{"event": "swap", "step": 3}, {"event": "loss_spike", "step": 7}]
    write_jsonl(path, old)
    before = path.read_bytes()
    _kill_mid_write(kind, path)
    assert path.read_bytes() == before and read_events(path) == old
    # What the killed writer left is hidden and ends in no output suffix: no reader takes it.
    leftovers = [p.name for p in tmp_path.iterdir() if p != path]
    assert leftovers and all(n.startswith(f".{name}.partial-") for n in leftovers)
    assert sorted(tmp_path.glob(f"*{path.suffix}")) == [path]
    # The next write of the same file puts the new content in place and sweeps the leftover.
    write_jsonl(path, [{"event": "swap", "step": 9}])
    assert read_events(path) == [{"event": "swap", "step": 9}]
    assert [p.name for p in tmp_path.iterdir()] == [name]


def test_an_error_inside_a_write_leaves_the_old_file(tmp_path: Path) -> None:
    path = tmp_path / "index.json"
    write_json(path, {"shards": [1]})
    with pytest.raises(RuntimeError), open_atomic(path) as f:
        f.write('{"shards": [1, 2')
        raise RuntimeError("disk full")
    assert json.loads(path.read_text()) == {"shards": [1]}
    assert [p.name for p in tmp_path.iterdir()] == ["index.json"]


@pytest.fixture
def umask_027() -> Iterator[None]:
    old = os.umask(0o027)
    try:
        yield
    finally:
        os.umask(old)


def test_modes_follow_the_umask(tmp_path: Path, umask_027: None) -> None:
    from csmpt.filter.score import write_scores
    from csmpt.run_folder import append_event, rewrite_events

    write_text(tmp_path / "a.md", "x")
    write_bytes(tmp_path / "b.png", b"x")
    write_json(tmp_path / "c.json", {})
    copy_file(tmp_path / "a.md", tmp_path / "d.md")
    write_scores(tmp_path / "scores.jsonl", [("doc1", 0.9, "")], 0.5)  # was mkstemp + 0644
    append_event(tmp_path / "events.jsonl", {"event": "swap", "step": 1})
    rewrite_events(tmp_path / "events.jsonl", [])
    for p in tmp_path.iterdir():
        assert p.stat().st_mode & 0o777 == 0o640, p.name
    new = make_temp_dir(tmp_path / "tokenizer")
    assert new.stat().st_mode & 0o777 == 0o750  # tempfile.mkdtemp would give 0700
    (new / "tokenizer.json").write_text("{}")
    replace_dir(new, tmp_path / "tokenizer", ("tokenizer.json",), "tokenizer")
    assert (tmp_path / "tokenizer").stat().st_mode & 0o777 == 0o750


# Calls that put a file or folder under a final name, or make temp files with private modes.
_RENAMES = {"replace", "rename", "move"}  # os.replace, os.rename, Path.replace/rename, shutil.move
_TEMPS = {"mkstemp", "mkdtemp", "NamedTemporaryFile"}
ALLOWED = {
    "csmpt/atomic.py": "the one module that does it",
    "csmpt/training/resume_guard.py": "moves bad checkpoints aside into quarantine/ (no write)",
}


def _offenders(root: Path) -> dict[str, list[int]]:
    found: dict[str, list[int]] = {}
    for path in sorted((root / "csmpt").rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if not isinstance(node, ast.Call) or not isinstance(node.func, ast.Attribute):
                continue
            name, n_args = node.func.attr, len(node.args) + len(node.keywords)
            owner = node.func.value
            module = owner.id if isinstance(owner, ast.Name) else ""
            rename = name in _RENAMES and (module in ("os", "shutil") or n_args == 1)
            temp = name in _TEMPS and module == "tempfile"
            if rename or temp:
                found.setdefault(path.relative_to(root).as_posix(), []).append(node.lineno)
    return found


def test_no_module_but_atomic_renames_onto_a_final_name() -> None:
    found = _offenders(REPO)
    assert set(found) <= set(ALLOWED), {k: v for k, v in found.items() if k not in ALLOWED}
    assert "csmpt/atomic.py" in found  # the scan sees os.replace


def test_the_scan_catches_a_temp_and_rename_writer(tmp_path: Path) -> None:
    (tmp_path / "csmpt").mkdir()
    (tmp_path / "csmpt" / "w.py").write_text(
        "import os, tempfile\nfrom pathlib import Path\n"
        "def w(p: Path) -> None:\n"
        "    tmp = p.with_name('x.tmp')\n    tmp.write_text('x')\n    tmp.replace(p)\n"
        "    os.rename(tmp, p)\n    tempfile.mkstemp()\n    'a-b'.replace('-', '_')\n"
    )
    assert _offenders(tmp_path) == {"csmpt/w.py": [6, 7, 8]}


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_a_replace_killed_between_its_renames_is_restored_by_the_next_writer(
    tmp_path: Path,
) -> None:
    """export --overwrite / surgery --force killed midway: the old copy was hidden, the new one
    not yet in place. The next writer of that folder puts the old copy back."""
    from csmpt.atomic import _host, make_temp_dir, recover_dir

    out = tmp_path / "hf"
    dead = _dead_pid()
    hidden_old = tmp_path / f".hf.old-{_host()}-{dead}"
    hidden_old.mkdir()
    (hidden_old / "config.json").write_text("{}")
    partial = tmp_path / f".hf.partial-{_host()}-{dead}-beef"  # the killed writer's new copy
    partial.mkdir()
    (partial / "model.safetensors").write_bytes(b"x" * 1000)
    alive = tmp_path / f".hf.partial-{_host()}-{os.getpid()}-cafe"  # a live writer's: kept
    alive.mkdir()
    elsewhere = tmp_path / f".hf.partial-otherhost-{dead}-f00d"  # another host's: unknown, kept
    elsewhere.mkdir()
    fresh = make_temp_dir(out)
    assert (out / "config.json").read_text() == "{}"  # restored
    assert not hidden_old.exists() and not partial.exists()
    assert alive.exists() and elsewhere.exists() and fresh.exists()
    # With the folder in place, a dead writer's old copy is only removed.
    stale = tmp_path / f".hf.old-{dead}"  # the naming before hosts were recorded
    stale.mkdir()
    assert recover_dir(out) == [f"removed {stale} (left by a killed writer)"]
    assert (out / "config.json").exists() and not stale.exists()


def test_replace_dir_never_replaces_a_file_or_a_folder_of_other_things(tmp_path: Path) -> None:
    """A tired user's output_dir (a file, the project folder) is refused, and left as it was."""
    from csmpt.atomic import check_replaceable
    from csmpt.errors import DataError

    notes = tmp_path / "notes.txt"
    notes.write_text("mine\n")
    project = tmp_path / "project"
    (project / "data").mkdir(parents=True)
    (project / "data" / "corpus.jsonl").write_text("{}\n")
    for target, words in ((notes, "is a file"), (project, "other files and no classifier")):
        with pytest.raises(DataError, match=words):
            check_replaceable(target, ("card.json",), "output_dir", "classifier")
        new = make_temp_dir(target)
        (new / "card.json").write_text("{}")
        with pytest.raises(DataError, match=words):
            replace_dir(new, target, ("card.json",), "classifier")
    assert notes.read_text() == "mine\n"
    assert (project / "data" / "corpus.jsonl").read_text() == "{}\n"
    assert sorted(p.name for p in tmp_path.iterdir() if not p.name.startswith(".")) == [
        "notes.txt",
        "project",
    ]
    # Absent, empty, or an earlier output of the kind (it has a mark): replaced.
    for target in (tmp_path / "new", tmp_path / "empty", tmp_path / "old"):
        if target.name == "empty":
            target.mkdir()
        if target.name == "old":
            target.mkdir()
            (target / "card.json").write_text("old")
        check_replaceable(target, ("card.json",), "output_dir", "classifier")
        new = make_temp_dir(target)
        (new / "card.json").write_text("new")
        replace_dir(new, target, ("card.json",), "classifier")
        assert (target / "card.json").read_text() == "new"
