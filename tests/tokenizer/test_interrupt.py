"""``csmpt tokenizer train`` stops within seconds on SIGTERM/SIGINT and leaves nothing behind.

HF tokenizers merges in Rust, where no Python signal handler runs; csmpt trains in a child
process that the waiting command kills. A real ``csmpt`` process is signalled once its trainer
has read the corpus (opened and closed it) and is merging, which would take far longer.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

CSMPT = str(Path(sys.executable).parent / "csmpt")
STOP_WITHIN_S = 10.0  # the stop itself takes well under a second; the rest is a loaded machine

pytestmark = pytest.mark.skipif(
    not Path("/proc/self/fd").is_dir(), reason="finds the trainer through /proc (Linux)"
)


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """~10 MB of 500k made-up words: read in a few seconds, then a 32k-token BPE merge that
    runs in Rust for ~15 s on an idle core (longer than STOP_WITHIN_S)."""
    rng = random.Random(25)
    letters = "abcdefghijklmnopqrstuvwxyzáčďéěíňóřšťúůýž"
    words = ["".join(rng.choices(letters, k=rng.randint(4, 12))) for _ in range(500_000)]
    path = tmp_path_factory.mktemp("corpus") / "corpus.jsonl"
    with path.open("w", encoding="utf-8") as f:
        for _ in range(8_000):
            f.write(json.dumps({"text": " ".join(rng.choices(words, k=100))}) + "\n")
    return path


def _opened_by_some_process(path: Path) -> bool:
    """Whether any process of this user has ``path`` open (the trainer reading the corpus)."""
    target = str(path)
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            if any(os.readlink(fd) == target for fd in (proc / "fd").iterdir()):
                return True
        except OSError:  # gone, or not ours
            continue
    return False


def _wait_until_merging(corpus: Path, proc: subprocess.Popen[str], timeout: float) -> None:
    """Return once the corpus was opened and closed again: the trainer is merging, in Rust."""
    end = time.monotonic() + timeout
    opened = False
    while time.monotonic() < end:
        if proc.poll() is not None:
            raise AssertionError(f"csmpt ended before it was signalled: {proc.communicate()}")
        is_open = _opened_by_some_process(corpus)
        if opened and not is_open:
            return
        opened |= is_open
        time.sleep(0.05)
    raise AssertionError(f"{corpus} was not read within {timeout}s")


def _descendants(root: int) -> set[int]:
    """The processes below ``root`` (read from ``/proc/PID/stat``)."""
    parent: dict[int, int] = {}
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit():
            try:
                stat = (proc / "stat").read_text()
            except OSError:
                continue
            parent[int(proc.name)] = int(stat.rsplit(")", 1)[1].split()[1])
    found: set[int] = set()
    frontier = {root}
    while frontier:
        frontier = {pid for pid, ppid in parent.items() if ppid in frontier} - found
        found |= frontier
    return found


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def _snapshot(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in folder.rglob("*") if p.is_file()}


@pytest.mark.parametrize(
    ("sig", "group", "code", "previous"),
    [(signal.SIGTERM, False, 143, True), (signal.SIGINT, True, 130, False)],
    ids=["kill-pid-keeps-previous", "ctrl-c-writes-nothing"],
)
def test_signal_stops_training_within_seconds(
    tmp_path: Path, corpus: Path, sig: signal.Signals, group: bool, code: int, previous: bool
) -> None:
    """``kill PID`` reaches csmpt alone; Ctrl-C (and ``scancel``) the whole process group."""
    out = tmp_path / "tok"
    if previous:  # an earlier tokenizer that the cut-short run must leave as it was
        out.mkdir()
        (out / "tokenizer.json").write_text('{"earlier": true}\n')
        (out / "csmpt_tokenizer.json").write_text('{"fingerprint": "earlier"}\n')
    before = _snapshot(out) if previous else None
    config = tmp_path / "tok.yaml"
    config.write_text(f"inputs: [{corpus}]\noutput_dir: {out}\nvocab_size: 32000\n")
    proc = subprocess.Popen(
        [CSMPT, "tokenizer", "train", str(config)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,  # its own process group, as a terminal's foreground job
    )
    try:
        _wait_until_merging(corpus, proc, timeout=60)
        workers = _descendants(proc.pid)
        sent = time.monotonic()
        if group:
            os.killpg(proc.pid, sig)
        else:
            proc.send_signal(sig)
        stdout, stderr = proc.communicate(timeout=STOP_WITHIN_S)
        took = time.monotonic() - sent
    finally:
        if proc.poll() is None:  # the old behaviour: trains on for minutes
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    assert proc.returncode == code, (proc.returncode, stdout, stderr)
    assert took < STOP_WITHIN_S
    message = [line for line in (stdout + stderr).splitlines() if line.strip()]
    assert len(message) == 1 and f"stopped by {sig.name}" in message[0], message
    assert "Traceback" not in stderr
    # Nothing half-written, no temporary folder, the earlier tokenizer untouched.
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        ["tok.yaml", *(["tok"] if previous else [])]
    )
    if previous:
        assert _snapshot(out) == before
    # The trainer died with the command.
    assert not [pid for pid in workers if _alive(pid)]
