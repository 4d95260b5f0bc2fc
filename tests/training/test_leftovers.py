"""Leftovers of runs and outputs: listed with their sizes, pruned oldest first, removed."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

from csmpt.atomic import PARTIAL_PREFIX, _host
from csmpt.training.leftovers import find_leftovers, prune, remove_leftovers


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def _entry(folder: Path, name: str, size: int, age: float) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_bytes(b"x" * size)
    then = time.time() - age
    os.utime(path, (then, then))
    return path


def test_prune_keeps_the_newest_entries_within_count_and_bytes(tmp_path: Path) -> None:
    q = tmp_path / "quarantine"
    old, mid, new = (_entry(q, f"ep0-ba{i}-rank0.pt", 100, 300 - i) for i in (1, 2, 3))
    assert prune(q, keep=2) == [old]
    assert sorted(q.iterdir()) == [mid, new]
    assert prune(q, keep=5, max_bytes=150) == [mid]  # 200 bytes > 150: the oldest goes
    assert prune(q, keep=5, max_bytes=10) == []  # the newest stays even when it alone is larger
    assert prune(tmp_path / "archive", keep=1) == []  # no folder, nothing to do


def test_find_and_remove_the_leftovers_of_a_run_and_of_an_output(tmp_path: Path) -> None:
    run, dead = tmp_path / "run", _dead_pid()
    _entry(run / "quarantine", "ep0-ba20-rank0.pt", 500, 10)
    (run / "archive" / "20261203T120000Z").mkdir(parents=True)
    _entry(run / "archive" / "20261203T120000Z", "ep0-ba10-rank0.pt", 300, 5)
    torn = _entry(run, f"{PARTIAL_PREFIX}{dead}-ep0-ba30-rank0.pt", 70, 1)
    live = _entry(run, f"{PARTIAL_PREFIX}{os.getpid()}-ep0-ba40-rank0.pt", 70, 1)  # writing now
    keep = _entry(run, "ep0-ba40-rank0.pt", 900, 1)
    found = {
        (x.path.relative_to(tmp_path).as_posix(), x.kind, x.bytes) for x in find_leftovers(run)
    }
    assert found == {
        ("run/quarantine/ep0-ba20-rank0.pt", "quarantine", 500),
        ("run/archive/20261203T120000Z", "archive", 300),
        (f"run/{torn.name}", "partial", 70),
    }
    assert remove_leftovers(find_leftovers(run)) == 870
    assert find_leftovers(run) == [] and keep.exists() and live.exists()
    # An output folder: a killed surgery's hidden partial copy and a hidden old copy.
    out = tmp_path / "surgery"
    out.mkdir()
    partial = tmp_path / f".surgery.partial-{_host()}-{dead}-abcd"
    partial.mkdir()
    (partial / "model.pt").write_bytes(b"y" * 64)
    hidden = tmp_path / f".surgery.old-{_host()}-{dead}"
    hidden.mkdir()
    kinds = {(x.path.name, x.kind, x.bytes) for x in find_leftovers(out)}
    assert kinds == {(partial.name, "partial", 64), (hidden.name, "hidden copy", 0)}


def test_csmpt_clean_lists_then_removes(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from csmpt.cli.app import app

    run = tmp_path / "run"
    _entry(run / "quarantine", "ep0-ba20-rank0.pt", 500, 10)
    _entry(run, "ep0-ba40-rank0.pt", 900, 1)
    listed = CliRunner().invoke(app, ["clean", str(run)])
    assert listed.exit_code == 0 and "quarantine" in listed.output and "--yes" in listed.output
    assert (run / "quarantine" / "ep0-ba20-rank0.pt").exists()
    removed = CliRunner().invoke(app, ["clean", str(run), "--yes"])
    assert removed.exit_code == 0 and "500 bytes freed" in removed.output
    assert not (run / "quarantine" / "ep0-ba20-rank0.pt").exists()
    assert (run / "ep0-ba40-rank0.pt").exists()
    missing = CliRunner().invoke(app, ["clean", str(tmp_path / "no" / "such")])
    assert missing.exit_code == 2 and "does not exist" in missing.output
    # A tired user's typo of the run's name, or its checkpoint file: an error, not "clean".
    typo = CliRunner().invoke(app, ["clean", str(tmp_path / "rnu"), "--yes"])
    assert typo.exit_code == 2 and "'" + str(tmp_path / "rnu") + "' does not exist" in typo.output
    ckpt = CliRunner().invoke(app, ["clean", str(run / "ep0-ba40-rank0.pt")])
    assert ckpt.exit_code == 2 and "is a file" in ckpt.output
    clean = CliRunner().invoke(app, ["clean", str(run)])
    assert clean.exit_code == 0 and "nothing to clean" in " ".join(clean.output.split())


def test_the_run_record_applies_the_retention_rule_at_each_start(tmp_path: Path) -> None:
    from types import SimpleNamespace

    import pytest

    from csmpt.callbacks.run_record import RunRecord
    from csmpt.errors import ConfigError

    run = tmp_path / "run"
    for i in range(4):
        _entry(run / "quarantine", f"ep0-ba{i}-rank0.pt", 10, 100 - i)
    record = RunRecord({"save_folder": str(run)}, keep_quarantine=2)
    ts = SimpleNamespace(batch=0, token=0)
    record.fit_start(SimpleNamespace(timestamp=ts, run_name="r"), None)  # type: ignore[arg-type]
    assert sorted(p.name for p in (run / "quarantine").iterdir()) == [
        "ep0-ba2-rank0.pt",
        "ep0-ba3-rank0.pt",
    ]
    with pytest.raises(ConfigError, match="keep_archive: -1 is not 0 or more"):
        RunRecord({"save_folder": str(run)}, keep_archive=-1)
