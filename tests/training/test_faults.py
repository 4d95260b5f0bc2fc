"""Faults a cluster inflicts on a run: torn checkpoints, kills mid-save, the scheduler's signal.

Every training test compares against one uninterrupted reference run of the hot-swap recipe
(two swaps, one of them at a checkpoint step) in losses, metrics and events.
"""

from __future__ import annotations

import json
import logging
import os
import random
import shutil
import signal
import struct
import subprocess
import sys
import time
import zipfile
from pathlib import Path
from typing import Any

import pytest
import torch
from procs import wait_for_step

from csmpt.atomic import write_atomically
from csmpt.errors import ConfigError
from csmpt.run_folder import read_events, read_metrics, repair_torn_tail
from csmpt.training import run_training
from csmpt.training.resume_guard import (
    RunFolderError,
    checkpoint_problem,
    content_problem,
    guard_save_folder,
)

RECIPE = "yamls/tiny/mpt_hot_swap.yaml"
CSMPT = str(Path(sys.executable).parent / "csmpt")
STEPS = 12
SWAPS = (
    "[{name: cs_crawl, at: 4ba, dataset: {local: '${variables.corpus_2}', split: train}}, "
    "{name: cs_crawl_clean, at: 9ba, dataset: {local: '${variables.corpus_3}', split: train}}]"
)
# Wall-clock metrics differ between any two runs; everything else must match bit for bit.
WALL_CLOCK = ("throughput/", "time/train", "time/val", "time/total", "time/remaining")


@pytest.fixture(scope="module")
def fault_args(tiny_overrides, shards_dir: Path):  # noqa: ANN201
    def make(run_dir: Path, **extra: object) -> list[str]:
        settings: dict[str, object] = {
            "max_duration": f"{STEPS}ba",
            "save_interval": "2ba",
            "eval_interval": f"{STEPS}ba",
            "save_num_checkpoints_to_keep": -1,
            "callbacks.csmpt_hot_swap.swaps": SWAPS,
            **extra,
        }
        return [
            f"variables.corpus_2={shards_dir / 'en_web'}",
            f"variables.corpus_3={shards_dir / 'cs_crawl_clean'}",
            *tiny_overrides(run_dir, **settings),
        ]

    return make


@pytest.fixture(scope="module")
def reference(fault_args, tmp_path_factory: pytest.TempPathFactory) -> Path:
    run_dir = tmp_path_factory.mktemp("reference") / "run"
    run_training(RECIPE, fault_args(run_dir))
    return run_dir


def metric_lines(run_dir: Path) -> list[tuple[int, dict[str, Any]]]:
    """Each logged line's deterministic metrics, in file order (lines left empty dropped)."""
    out = []
    for record in read_metrics(run_dir / "metrics.jsonl"):
        kept = {
            k: v
            for k, v in record.items()
            if k not in ("step", "time") and not k.startswith(WALL_CLOCK)
        }
        if kept:
            out.append((int(record["step"]), kept))
    return out


def losses(run_dir: Path) -> list[tuple[int, float]]:
    return [(s, m["loss/train/total"]) for s, m in metric_lines(run_dir) if "loss/train/total" in m]


def events(run_dir: Path) -> list[dict[str, Any]]:
    return [
        {k: v for k, v in e.items() if k != "time"} for e in read_events(run_dir / "events.jsonl")
    ]


def runs(run_dir: Path) -> list[tuple[str, int]]:
    lines = (run_dir / "runs.jsonl").read_text().splitlines()
    return [(r["event"], r["step"]) for r in map(json.loads, lines)]


def assert_same_run(got: Path, ref: Path) -> None:
    assert [s for s, _ in losses(got)] == list(range(1, STEPS + 1)), "each step logged once"
    assert losses(got) == losses(ref), "losses differ from the uninterrupted run"
    assert metric_lines(got) == metric_lines(ref), "metrics differ from the uninterrupted run"
    assert events(got) == events(ref), "events differ from the uninterrupted run"


def _save(path: Path, value: float) -> None:
    torch.save({"state": {"w": torch.full((64,), value)}}, path)


# --- the folder guard, on real torch checkpoint files -------------------------------------


def test_guard_quarantines_torn_empty_newer_and_partial_files(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    for step in (2, 4, 6, 8):
        _save(tmp_path / f"ep0-ba{step}-rank0.pt", step)
    (tmp_path / "latest-rank0.pt").symlink_to("ep0-ba6-rank0.pt")
    torn = tmp_path / "ep0-ba6-rank0.pt"  # what `latest` points at: cut in half by a crash
    torn_size = torn.stat().st_size // 2
    with torn.open("r+b") as f:
        f.truncate(torn_size)
    (tmp_path / "ep0-ba10-rank0.pt").touch()  # 0 bytes: killed as the save began
    (tmp_path / ".partial-123-ep0-ba12-rank0.pt").write_bytes(b"PK\x03\x04")
    caplog.set_level(logging.WARNING, logger="csmpt")

    result = guard_save_folder(tmp_path)

    assert (result.resume_step, result.latest) == (4, tmp_path / "ep0-ba4-rank0.pt")
    assert os.readlink(tmp_path / "latest-rank0.pt") == "ep0-ba4-rank0.pt"
    reasons = {p.name: r for p, r in result.quarantined}
    assert reasons["ep0-ba6-rank0.pt"].startswith("torn")
    assert reasons["ep0-ba8-rank0.pt"] == "newer than latest-rank0.pt (step 6)"
    assert reasons["ep0-ba10-rank0.pt"] == "newer than latest-rank0.pt (step 6)"
    assert reasons[".partial-123-ep0-ba12-rank0.pt"] == "partial file of an interrupted save"
    # Moved aside, never deleted: every byte is still there.
    quarantine = tmp_path / "quarantine"
    assert (quarantine / "ep0-ba6-rank0.pt").stat().st_size == torn_size
    assert sorted(p.name for p in tmp_path.glob("ep*.pt")) == [
        "ep0-ba2-rank0.pt",
        "ep0-ba4-rank0.pt",
    ]
    warned = [r.getMessage() for r in caplog.records if "moved to" in r.getMessage()]
    assert len(warned) == 4 and any(str(torn) in w for w in warned)
    # A second pass (the next rank, the next rerun) finds nothing to do.
    assert guard_save_folder(tmp_path).quarantined == []


def test_guard_without_latest_link_points_it_at_the_newest_valid(tmp_path: Path) -> None:
    _save(tmp_path / "ep0-ba2-rank0.pt", 2)
    _save(tmp_path / "ep0-ba4-rank0.pt", 4)
    (tmp_path / "ep0-ba6-rank0.pt").write_bytes(b"not a zip at all")
    # Composer removes the old link before it creates the new one: a kill in between.
    result = guard_save_folder(tmp_path)
    assert result.resume_step == 4
    assert os.readlink(tmp_path / "latest-rank0.pt") == "ep0-ba4-rank0.pt"
    assert checkpoint_problem(tmp_path / "quarantine/ep0-ba6-rank0.pt") is not None
    assert checkpoint_problem(tmp_path / "ep0-ba4-rank0.pt") is None


def test_guard_with_nothing_valid_left_removes_the_link(tmp_path: Path) -> None:
    (tmp_path / "ep0-ba2-rank0.pt").touch()
    (tmp_path / "latest-rank0.pt").symlink_to("ep0-ba2-rank0.pt")
    assert guard_save_folder(tmp_path).resume_step == 0
    assert not (tmp_path / "latest-rank0.pt").is_symlink()
    assert (tmp_path / "quarantine/ep0-ba2-rank0.pt").is_file()


def _flip_a_tensor_byte(path: Path, rng: random.Random) -> str:
    """Flip one byte at a random offset inside a random tensor's data; its zip member name."""
    with zipfile.ZipFile(path) as zf:
        tensors = [i for i in zf.infolist() if "/data/" in i.filename and i.file_size > 0]
    info = rng.choice(tensors)
    with path.open("r+b") as f:
        f.seek(info.header_offset + 26)
        name_len, extra_len = struct.unpack("<HH", f.read(4))
        f.seek(info.header_offset + 30 + name_len + extra_len + rng.randrange(info.compress_size))
        byte = f.read(1)[0]
        f.seek(-1, os.SEEK_CUR)
        f.write(bytes([byte ^ 0xFF]))
    return info.filename


def test_verify_quarantines_a_flipped_byte_the_structure_check_misses(tmp_path: Path) -> None:
    for step in (2, 4):
        _save(tmp_path / f"ep0-ba{step}-rank0.pt", step)
    (tmp_path / "latest-rank0.pt").symlink_to("ep0-ba4-rank0.pt")
    member = _flip_a_tensor_byte(tmp_path / "ep0-ba4-rank0.pt", random.Random(4))
    assert checkpoint_problem(tmp_path / "ep0-ba4-rank0.pt") is None  # still a whole zip
    assert guard_save_folder(tmp_path).quarantined == []  # other ranks: no full read
    result = guard_save_folder(tmp_path, verify=True)
    assert result.resume_step == 2
    assert result.quarantined == [
        (tmp_path / "ep0-ba4-rank0.pt", f"corrupt (CRC32 mismatch in {member})")
    ]
    assert os.readlink(tmp_path / "latest-rank0.pt") == "ep0-ba2-rank0.pt"
    assert content_problem(tmp_path / "ep0-ba2-rank0.pt") is None


def test_integrity_check_reads_only_the_zip_directory(tmp_path: Path) -> None:
    path = tmp_path / "ep0-ba2-rank0.pt"
    _save(path, 1.0)
    assert checkpoint_problem(path) is None
    with zipfile.ZipFile(path) as zf:
        assert any(n.endswith("data.pkl") for n in zf.namelist())
    data = path.read_bytes()
    path.write_bytes(data[:-30])  # the end-of-central-directory record is the last 22+ bytes
    assert (problem := checkpoint_problem(path)) is not None and problem.startswith("torn")


def test_atomic_write_never_leaves_a_partial_file_under_the_final_name(tmp_path: Path) -> None:
    final = tmp_path / "ep0-ba2-rank0.pt"

    def dies_half_way(path: str) -> None:
        Path(path).write_bytes(b"PK half")
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        write_atomically(dies_half_way, str(final))
    assert list(tmp_path.iterdir()) == []
    write_atomically(lambda p: _save(Path(p), 3.0), str(final))
    assert [p.name for p in tmp_path.iterdir()] == [final.name]
    assert torch.load(final)["state"]["w"][0] == 3.0


def test_torn_last_line_of_a_run_file_is_cut_back(tmp_path: Path) -> None:
    path = tmp_path / "events.jsonl"
    path.write_text('{"event": "swap", "step": 4}\n{"event": "loss_sp')
    assert repair_torn_tail(path) == len('{"event": "loss_sp')
    assert path.read_text() == '{"event": "swap", "step": 4}\n'
    assert repair_torn_tail(path) == 0


def test_signal_checkpoint_settings_are_checked() -> None:
    from csmpt.callbacks.signal_checkpoint import SignalCheckpoint

    assert [s.name for s in SignalCheckpoint().signals] == ["SIGTERM", "SIGUSR1"]
    assert [s.name for s in SignalCheckpoint(signals=["USR2", 10]).signals] == [
        "SIGUSR2",
        "SIGUSR1",
    ]
    with pytest.raises(ConfigError, match="'SIGFOO' is not a signal name"):
        SignalCheckpoint(signals=["SIGFOO"])
    with pytest.raises(ConfigError, match="SIGKILL and SIGSTOP cannot be trapped"):
        SignalCheckpoint(signals=["SIGKILL"])


def test_every_recipe_checkpoints_on_signal(repo: Path) -> None:
    from csmpt.config import load_yaml_with_overrides

    for path in sorted((repo / "yamls").rglob("*.yaml")):
        cfg = load_yaml_with_overrides(path)
        if "callbacks" in cfg and "max_duration" in cfg:
            assert "csmpt_signal_checkpoint" in cfg["callbacks"], f"{path}: no signal checkpoint"


# --- real runs ----------------------------------------------------------------------------


@pytest.mark.slow
def test_torn_newest_checkpoint_falls_back_to_the_previous_one(
    fault_args, reference: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    run_dir = tmp_path / "run"
    shutil.copytree(reference, run_dir, symlinks=True)
    newest = run_dir / f"ep0-ba{STEPS}-rank0.pt"
    with newest.open("r+b") as f:
        f.truncate(newest.stat().st_size // 3)  # a node crash: the tail never reached the disk
    (run_dir / f"ep0-ba{STEPS + 2}-rank0.pt").touch()  # a save of a later run, killed at once
    caplog.set_level(logging.WARNING, logger="csmpt")

    trainer = run_training(RECIPE, fault_args(run_dir))

    assert int(trainer.state.timestamp.batch) == STEPS
    warned = " ".join(r.getMessage() for r in caplog.records)
    assert f"checkpoint {newest}: torn" in warned
    assert sorted(p.name for p in (run_dir / "quarantine").iterdir()) == [
        f"ep0-ba{STEPS}-rank0.pt",
        f"ep0-ba{STEPS + 2}-rank0.pt",
    ]
    assert runs(run_dir)[-2:] == [("resume", STEPS - 2), ("end", STEPS)]
    assert_same_run(run_dir, reference)


@pytest.mark.slow
def test_flipped_byte_in_the_newest_checkpoint_resumes_from_the_previous(
    fault_args, reference: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    run_dir = tmp_path / "run"
    shutil.copytree(reference, run_dir, symlinks=True)
    newest = run_dir / f"ep0-ba{STEPS}-rank0.pt"
    member = _flip_a_tensor_byte(newest, random.Random(26))
    assert checkpoint_problem(newest) is None  # torch.load would load it silently
    caplog.set_level(logging.WARNING, logger="csmpt")

    trainer = run_training(RECIPE, fault_args(run_dir))

    assert int(trainer.state.timestamp.batch) == STEPS
    warned = [r.getMessage() for r in caplog.records if str(newest) in r.getMessage()]
    assert warned == [
        f"checkpoint {newest}: corrupt (CRC32 mismatch in {member}); moved to "
        f"{run_dir / 'quarantine' / newest.name}"
    ]
    assert runs(run_dir)[-2:] == [("resume", STEPS - 2), ("end", STEPS)]
    assert_same_run(run_dir, reference)


@pytest.mark.slow
def test_plain_rerun_after_a_kill_before_the_first_checkpoint_restarts_and_matches(
    fault_args, reference: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A requeue of a job killed before its first save starts over by itself (same config);
    a folder holding another run is still refused, and nothing in it moves."""
    run_dir = tmp_path / "run"
    args = fault_args(run_dir, save_interval=f"{STEPS}ba")  # the first checkpoint: step 12
    proc = subprocess.Popen(
        [CSMPT, "train", RECIPE, *args], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        wait_for_step(run_dir / "metrics.jsonl", 6, proc, timeout=300)  # after the swap at 4
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=60)
    finally:
        proc.kill()
    assert not list(run_dir.glob("ep*")), "killed after its first checkpoint: rerun the test"
    files = ("config.yaml", "events.jsonl", "metrics.jsonl", "runs.jsonl")
    before = {name: (run_dir / name).read_bytes() for name in files}
    assert [e["step"] for e in events(run_dir)][:1] == [4]

    with pytest.raises(RunFolderError) as e:
        run_training(RECIPE, [*args, "seed=18"])
    assert "\n" not in str(e.value)
    assert "it is another run (seed was 17, is 18)" in str(e.value) and "--fresh" in str(e.value)
    assert {name: (run_dir / name).read_bytes() for name in files} == before

    caplog.set_level(logging.WARNING, logger="csmpt")
    run_training(RECIPE, args)

    (archive,) = (run_dir / "archive").iterdir()
    assert {name: (archive / name).read_bytes() for name in files} == before
    restarts = [r.getMessage() for r in caplog.records if "no checkpoint yet" in r.getMessage()]
    assert len(restarts) == 1 and str(archive) in restarts[0]
    assert runs(run_dir) == [("start", 0), ("end", STEPS)]
    assert_same_run(run_dir, reference)


@pytest.mark.slow
def test_rerunning_a_finished_run_says_already_done_and_exits_0(
    reference: Path, fault_args, tmp_path: Path
) -> None:
    run_dir = tmp_path / "run"
    shutil.copytree(reference, run_dir, symlinks=True)
    before = {p.name: p.read_bytes() for p in run_dir.iterdir() if p.is_file()}
    proc = subprocess.run(
        [CSMPT, "train", RECIPE, *fault_args(run_dir)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert f"done at step {STEPS}" in proc.stdout
    log_text = (run_dir / "csmpt.log").read_text()
    assert f"already done at step {STEPS} (max_duration {STEPS}ba reached)" in log_text
    assert "Traceback" not in log_text + proc.stderr
    after = {p.name: p.read_bytes() for p in run_dir.iterdir() if p.is_file()}
    after.pop("csmpt.log")
    for files in (before, after):  # the guard's (empty) lock file, made by whichever run ran
        files.pop(".csmpt-resume.lock", None)
    assert after == before, "a finished run's files are left as they were"


@pytest.mark.slow
def test_resume_from_the_swap_steps_checkpoint_logs_each_metric_once(
    fault_args, reference: Path, tmp_path: Path
) -> None:
    run_dir = tmp_path / "run"
    shutil.copytree(reference, run_dir, symlinks=True)
    for ckpt in run_dir.glob("ep0-ba*-rank0.pt"):  # back to the checkpoint of the swap step 4
        if int(ckpt.name.split("-ba")[1].split("-")[0]) > 4:
            ckpt.unlink()
    (run_dir / "latest-rank0.pt").unlink()
    with (run_dir / "metrics.jsonl").open("a") as f:  # and a torn line, as a kill leaves it
        f.write('{"step": 12, "loss/train/tot')
    run_training(RECIPE, fault_args(run_dir))
    assert runs(run_dir)[-2:] == [("resume", 4), ("end", STEPS)]
    got = metric_lines(run_dir)
    assert [s for s, m in got if "hot_swap/index" in m] == [4, 9]
    assert [s for s, m in got if "time/epoch" in m] == [
        s for s, m in metric_lines(reference) if "time/epoch" in m
    ]
    assert_same_run(run_dir, reference)


@pytest.mark.slow
def test_restart_from_scratch_over_recorded_events_needs_fresh(
    fault_args, reference: Path, tmp_path: Path
) -> None:
    from csmpt.training.preflight import preflight
    from csmpt.training.run import prepare_run_folder

    run_dir = tmp_path / "run"
    shutil.copytree(reference, run_dir, symlinks=True)
    for ckpt in run_dir.glob("*.pt"):  # the "obvious manual fix" after a torn checkpoint
        ckpt.unlink()
    before = (run_dir / "events.jsonl").read_text()
    with pytest.raises(RunFolderError) as e:  # another run (the same one would restart)
        run_training(RECIPE, [*fault_args(run_dir), "seed=18"])
    assert "\n" not in str(e.value)
    assert "no checkpoint to resume from, but events.jsonl records step 9 (swap)" in str(e.value)
    assert "--fresh" in str(e.value)
    assert (run_dir / "events.jsonl").read_text() == before, "the events must survive"
    assert runs(run_dir) == runs(reference), "a refused rerun adds no line to runs.jsonl"

    prepare_run_folder(preflight(RECIPE, fault_args(run_dir)), fresh=True)
    (archive,) = (run_dir / "archive").iterdir()
    assert (archive / "events.jsonl").read_text() == before
    assert {"metrics.jsonl", "runs.jsonl", "config.yaml"} <= {p.name for p in archive.iterdir()}
    assert not (run_dir / "events.jsonl").exists()


@pytest.mark.slow
def test_sigusr1_checkpoints_the_current_step_and_the_rerun_matches(
    fault_args, reference: Path, tmp_path: Path
) -> None:
    run_dir = tmp_path / "run"
    args = fault_args(run_dir, save_interval=f"{STEPS}ba")  # no periodic checkpoint before 12
    proc = subprocess.Popen(
        [CSMPT, "train", RECIPE, *args],
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        wait_for_step(run_dir / "metrics.jsonl", 6, proc, timeout=300)
        proc.send_signal(signal.SIGUSR1)
        _, stderr = proc.communicate(timeout=120)
    finally:
        proc.kill()
    assert proc.returncode == 75, stderr[-2000:]
    (record,) = [r for r in map(json.loads, (run_dir / "runs.jsonl").open()) if "signal" in r]
    step = record["step"]
    assert record["signal"] == "SIGUSR1" and 6 <= step < STEPS
    # 0 steps lost: the checkpoint is of the last step any metric was logged for.
    assert max(s for s, _ in losses(run_dir)) == step
    assert os.readlink(run_dir / "latest-rank0.pt") == f"ep0-ba{step}-rank0.pt"
    assert [p.name for p in run_dir.glob("ep*.pt")] == [f"ep0-ba{step}-rank0.pt"]
    print(f"SIGUSR1 -> durable checkpoint of step {step}: {record['seconds_to_checkpoint']} s")

    run_training(RECIPE, args)
    assert runs(run_dir) == [
        ("start", 0),
        ("signal_checkpoint", step),
        ("resume", step),
        ("end", STEPS),
    ]
    assert_same_run(run_dir, reference)


@pytest.mark.slow
def test_ranks_agree_on_the_step_when_only_one_rank_gets_the_signal(
    tiny_overrides, tmp_path: Path
) -> None:
    """Two DDP processes (gloo); SIGUSR1 reaches rank 1 only; rank 0 must stop at its step."""
    import socket

    import psutil

    run_dir = tmp_path / "run"
    args = tiny_overrides(
        run_dir,
        max_duration="30ba",
        eval_interval="30ba",
        save_interval="30ba",
        global_train_batch_size=4,
        device_train_microbatch_size=2,
    )
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    composer = str(Path(sys.executable).parent / "composer")
    cmd = [
        composer,
        "-n",
        "2",
        "--master_port",
        str(port),
        "-m",
        "csmpt.training",
        "yamls/tiny/mpt.yaml",
    ]
    proc = subprocess.Popen(
        [*cmd, *args], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
    )
    try:
        wait_for_step(run_dir / "metrics.jsonl", 3, proc, timeout=300)
        ranks = {int(c.environ()["RANK"]): c for c in psutil.Process(proc.pid).children()}
        ranks[1].send_signal(signal.SIGUSR1)
        _, stderr = proc.communicate(timeout=120)
    finally:
        proc.kill()
    assert proc.returncode == 75, stderr[-3000:]
    (record,) = [r for r in map(json.loads, (run_dir / "runs.jsonl").open()) if "signal" in r]
    step = record["step"]
    # Rank 0 writes the record and the checkpoint: it stopped on rank 1's signal, at one step.
    assert record["signal"] == "SIGUSR1" and 3 <= step < 30
    assert [p.name for p in run_dir.glob("ep*.pt")] == [f"ep0-ba{step}-rank0.pt"]
    assert os.readlink(run_dir / "latest-rank0.pt") == f"ep0-ba{step}-rank0.pt"
    assert max(s for s, _ in losses(run_dir)) == step
    state = torch.load(run_dir / f"ep0-ba{step}-rank0.pt", weights_only=False)["state"]
    assert state["timestamp"]["Timestamp"]["batch"] == step


@pytest.mark.slow
def test_deadline_stops_with_a_checkpoint_like_a_signal(
    fault_args, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """PBS gives no warning signal: CSMPT_STOP_AT (reached by the first step here) stops the run
    the same way."""
    from csmpt.callbacks.signal_checkpoint import SignalCheckpoint

    run_dir = tmp_path / "run"
    monkeypatch.setenv("CSMPT_STOP_AT", str(time.time() + 3600))  # a deadline must be ahead
    real_init = SignalCheckpoint.init

    def deadline_comes(self: SignalCheckpoint, state: Any, logger: Any) -> None:
        real_init(self, state, logger)
        self.stop_at = time.time() - 1  # ... and here it has come before the first step ends

    monkeypatch.setattr(SignalCheckpoint, "init", deadline_comes)
    with pytest.raises(SystemExit) as e:
        run_training(RECIPE, fault_args(run_dir))
    assert e.value.code == 75
    (record,) = [r for r in map(json.loads, (run_dir / "runs.jsonl").open()) if "signal" in r]
    assert (record["signal"], record["step"]) == ("CSMPT_STOP_AT deadline", 1)
    assert os.readlink(run_dir / "latest-rank0.pt") == "ep0-ba1-rank0.pt"
    assert checkpoint_problem(run_dir / "ep0-ba1-rank0.pt") is None


@pytest.mark.slow
def test_chaos_sigkill_at_random_moments_then_rerun_until_done(
    fault_args, reference: Path, tmp_path: Path
) -> None:
    """SIGKILL at seeded random moments, half of them while a checkpoint file is written."""
    import random

    rng = random.Random(15)
    run_dir = tmp_path / "run"
    args = fault_args(run_dir)
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    kills: list[str] = []
    for trial in range(2):
        proc = subprocess.Popen(
            [CSMPT, "train", RECIPE, *args],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            if trial % 2 == 0:  # kill inside a checkpoint write: poll for the partial file
                seen = _wait_for_partial(run_dir, proc, timeout=300)
                if seen:
                    proc.send_signal(signal.SIGKILL)
                    kills.append(f"during write of {seen}")
            else:
                start = (
                    max(s for s, _ in losses(run_dir))
                    if (run_dir / "metrics.jsonl").exists()
                    else 0
                )
                wait_for_step(
                    run_dir / "metrics.jsonl", start + rng.randint(1, 3), proc, timeout=300
                )
                time.sleep(rng.uniform(0.0, 0.4))
                proc.send_signal(signal.SIGKILL)
                kills.append("between steps")
        finally:
            proc.kill()
            proc.wait()
        if proc.returncode == 0:
            break
    assert any(k.startswith("during write") for k in kills), kills
    run_training(RECIPE, args)  # the rerun that finishes (or a no-op if a trial finished)
    print(
        "chaos kills:",
        kills,
        "quarantined:",  # a dead first attempt's quarantine is archived with its run files
        sorted(p.name for p in [*run_dir.glob("quarantine/*"), *run_dir.glob("archive/*/*/*")]),
    )
    assert_same_run(run_dir, reference)
    assert runs(run_dir)[-1] == ("end", STEPS)


def _wait_for_partial(run_dir: Path, proc: subprocess.Popen, timeout: float) -> str | None:
    """Busy-poll the run folder for a checkpoint being written; None if the run ended."""
    end = time.time() + timeout
    while time.time() < end and proc.poll() is None:
        if run_dir.is_dir():
            for name in os.listdir(run_dir):
                if name.startswith(".partial-"):
                    return name
        time.sleep(0.0005)
    return None


def test_a_rank_leaving_with_the_requeue_status_keeps_it_through_a_launchers_sigterm() -> None:
    """Composer's launcher SIGTERMs the other ranks once one rank exits 75; a rank still shutting
    down (here: an atexit handler that takes a while) must still exit 75, not -15."""
    code = (
        "import atexit, signal, time\n"
        "from csmpt.callbacks.signal_checkpoint import SignalCheckpoint\n"
        "signal.signal(signal.SIGTERM, signal.SIG_DFL)  # a launched rank's own handler\n"
        "cb = SignalCheckpoint()\n"
        "cb.init(None, None)\n"
        "def shut_down():  # Composer closes the callbacks, then the interpreter winds down\n"
        "    cb.close(None, None)\n"
        "    print('shutting down', flush=True)\n"
        "    time.sleep(5)\n"
        "atexit.register(shut_down)\n"
        "cb.leave()\n"
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline().strip() == "shutting down"
        proc.send_signal(signal.SIGTERM)  # what the launcher does to the ranks still running
        _, stderr = proc.communicate(timeout=60)
    finally:
        proc.kill()
    assert proc.returncode == 75, stderr[-2000:]
