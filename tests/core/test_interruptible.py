"""``csmpt.interruptible``: a child's result, errors and log records reach the parent, and a
signal to the waiting parent kills the child at once."""

from __future__ import annotations

import logging
import os
import signal
import textwrap
import threading
import time
from pathlib import Path

import pytest

from csmpt.errors import DataError, Interrupted
from csmpt.interruptible import StopSignals, run_in_child

CHILD = textwrap.dedent(
    """
    import logging, os, time
    from csmpt.errors import DataError
    from csmpt.interruptible import child_main

    def work(job):
        log = logging.getLogger("csmpt.child")
        log.info("job %s", job["say"])
        log.debug("not sent: below the parent's level")
        print("a stray print")  # must not garble the channel
        if job.get("fail"):
            raise DataError("corpus.jsonl:3: not JSON")
        if job.get("sleep"):
            open(job["pidfile"], "w").write(str(os.getpid()))
            time.sleep(job["sleep"])  # stands for minutes in Rust
        return {"pid": os.getpid(), "said": job["say"]}

    if __name__ == "__main__":
        child_main(work)
    """
)


@pytest.fixture
def child_module(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    (tmp_path / "csmpt_test_child.py").write_text(CHILD)
    monkeypatch.setenv("PYTHONPATH", f"{tmp_path}{os.pathsep}{os.environ.get('PYTHONPATH', '')}")
    return "csmpt_test_child"


def test_result_and_log_records_come_back(
    child_module: str, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger="csmpt"):
        result = run_in_child(child_module, {"say": "hello"}, "the test job")
    assert result["said"] == "hello" and result["pid"] != os.getpid()
    records = [(r.name, r.levelno, r.getMessage()) for r in caplog.records]
    assert ("csmpt.child", logging.INFO, "job hello") in records
    assert not any("not sent" in m for _, _, m in records)


def test_a_csmpt_error_keeps_its_class_and_message(child_module: str) -> None:
    with pytest.raises(DataError, match=r"^corpus.jsonl:3: not JSON$"):
        run_in_child(child_module, {"say": "x", "fail": True}, "the test job")


def test_sigterm_to_the_parent_kills_the_child_at_once(child_module: str, tmp_path: Path) -> None:
    pidfile = tmp_path / "child.pid"
    sent: list[float] = []
    before = signal.getsignal(signal.SIGTERM)  # SIG_DFL, or what an earlier test left (Composer)

    def signal_once_started() -> None:
        while not pidfile.exists() or not pidfile.read_text():
            time.sleep(0.02)
        sent.append(time.monotonic())
        os.kill(os.getpid(), signal.SIGTERM)

    threading.Thread(target=signal_once_started, daemon=True).start()
    with pytest.raises(Interrupted) as e, StopSignals():
        run_in_child(
            child_module, {"say": "x", "sleep": 60, "pidfile": str(pidfile)}, "the test job"
        )
    assert time.monotonic() - sent[0] < 5
    assert e.value.exit_code == 143 and str(e.value) == "stopped by SIGTERM"
    with pytest.raises(ProcessLookupError):
        os.kill(int(pidfile.read_text()), 0)  # killed and reaped
    assert signal.getsignal(signal.SIGTERM) is before  # the previous handler is back


def test_a_signal_ignored_at_the_start_stays_ignored() -> None:
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        with StopSignals():
            assert signal.getsignal(signal.SIGINT) is signal.SIG_IGN
            assert signal.getsignal(signal.SIGTERM) is not signal.SIG_DFL
    finally:
        signal.signal(signal.SIGINT, previous)
