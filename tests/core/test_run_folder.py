"""The run folder's files (csmpt/run_folder.py): one torn-line rule, one repeated-step rule.

The readers the report, the comparison, forensics and the resume guard use all go through
csmpt.run_folder; these tests feed them hostile files (a torn last line, garbage in the middle,
a step logged twice, Composer's final ``time/*`` log) and kill a real appender with SIGKILL.
"""

from __future__ import annotations

import ast
import json
import logging
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from csmpt.run_folder import (
    JsonlAppender,
    append_event,
    metric_series,
    read_events,
    read_metrics,
    read_runs,
    repair_torn_tail,
)

REPO = Path(__file__).resolve().parents[2]
TORN = '{"event": "loss_spike", "step": 9, "lo'


def _lines(*records: dict) -> str:
    return "".join(json.dumps(r) + "\n" for r in records)


def _metrics(run: Path, *records: dict, tail: str = "") -> None:
    run.mkdir(parents=True, exist_ok=True)
    (run / "metrics.jsonl").write_text(_lines(*records) + tail)


def test_torn_last_line_is_skipped_by_every_reader(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    from csmpt.forensics.inspect import _world_size
    from csmpt.report.data import build_report_data
    from csmpt.training.resume_guard import RunFolderError, check_history

    run = tmp_path / "run"
    _metrics(
        run,
        {"step": 1, "loss/train/total": 3.0},
        {"step": 2, "loss/train/total": 2.5},
        tail='{"step": 3, "loss/train/total": 2.',
    )
    swap = {"event": "swap", "step": 2, "from": "a", "to": "b"}
    (run / "events.jsonl").write_text(_lines(swap) + TORN)
    starts = [
        {"event": "start", "step": 0, "world_size": 8},
        {"event": "resume", "step": 5, "world_size": 4},
    ]
    (run / "runs.jsonl").write_text(_lines(*starts) + '{"event": "resume", "step": 9, "world_')

    assert read_events(run / "events.jsonl") == [swap]
    assert [r["world_size"] for r in read_runs(run / "runs.jsonl")] == [8, 4]
    assert [r["step"] for r in read_metrics(run / "metrics.jsonl")] == [1, 2]
    data = build_report_data(run)  # the report
    assert data.train_loss.points == [(1, 3.0), (2, 2.5)] and data.swap_steps == [2]
    assert _world_size(run, 12) == 4  # forensics: the torn resume at step 9 is not a start
    with pytest.raises(RunFolderError, match="events.jsonl records step 2"):
        check_history(0, [run / "events.jsonl"], run / "runs.jsonl")  # the resume guard

    # A whole last record that only lost its newline is kept; garbage inside is warned about.
    path = tmp_path / "events.jsonl"
    path.write_text(_lines(swap) + "not json at all\n" + json.dumps({"event": "x", "step": 3}))
    with caplog.at_level(logging.WARNING, logger="csmpt.run_folder"):
        assert [e["event"] for e in read_events(path)] == ["swap", "x"]
    assert f"{path}:2: not a JSON object" in caplog.text
    assert repair_torn_tail(path) == 0 and path.read_text().endswith('"step": 3}\n')


def test_a_repeated_step_keeps_its_last_value_in_every_reader(tmp_path: Path) -> None:
    from csmpt.report.compare import load_runs
    from csmpt.report.data import build_report_data

    rows = [
        {"step": 1, "loss/train/total": 3.0, "metrics/eval/BitsPerByte": 2.0},
        {"step": 2, "loss/train/total": 5.0, "metrics/eval/LanguageCrossEntropy": 4.5},
        {"step": 2, "loss/train/total": 2.0, "metrics/eval/LanguageCrossEntropy": 2.2},
        {"step": 2, "metrics/eval/BitsPerByte": 1.5},
        {"step": 2, "metrics/eval/BitsPerByte": 1.25},
        {"step": 3, "loss/train/total": 1.5},
        {"step": 3, "loss/train/total": "nan"},
    ]
    assert metric_series(rows, "loss/train/total")[:2] == [(1, 3.0), (2, 2.0)]
    assert str(metric_series(rows, "loss/train/total")[2][1]) == "nan"
    assert metric_series(rows, "loss/train/total", finite=True) == [(1, 3.0), (2, 2.0)]
    for name in ("a", "b"):
        _metrics(tmp_path / name, *rows)
    data = build_report_data(tmp_path / "a")
    assert data.train_loss.points == [(1, 3.0), (2, 2.0)]
    assert [(c.label, c.points) for c in data.eval_loss] == [("eval", [(2, 2.2)])]
    series = load_runs([tmp_path / "a", tmp_path / "b"])[0]
    assert [(c.label, c.points) for c in series.bpb] == [("eval (in loop)", [(1, 2.0), (2, 1.25)])]


def test_tokens_per_step_follow_composers_final_log_of_the_last_step(tmp_path: Path) -> None:
    from csmpt.run_folder import tokens_by_step

    # Composer logs time/batch and time/token as each step starts (counts so far) and once
    # more at the end of training, at the last step. Step 4 trains a bigger batch (a ramp).
    rows: list[dict] = []
    for step, before in zip(range(1, 5), (0, 100, 200, 300), strict=True):
        rows += [{"step": step, "time/batch": step - 1.0}, {"step": step, "time/token": before}]
    rows += [{"step": 4, "time/batch": 4.0}, {"step": 4, "time/token": 550.0}]
    tokens = tokens_by_step(rows)
    assert tokens[1] == 100 and tokens[2] == 200 and tokens[4] == 550
    assert 300 <= tokens[3] <= 550  # overwritten by the final log: interpolated
    # A run killed before its final log: the last step is extrapolated from the one before.
    assert tokens_by_step(rows[:-2])[4] == 400


def test_appends_cut_a_torn_tail_and_survive_a_kill(tmp_path: Path) -> None:
    path = tmp_path / "events.jsonl"
    path.write_text(_lines({"event": "swap", "step": 4}) + TORN)
    append_event(path, {"event": "rollback", "step": 10})
    assert [e["step"] for e in read_events(path)] == [4, 10]
    assert path.read_text().count("\n") == 2

    # A metrics-style appender (fsync only at close) reopens after close and keeps order.
    appender = JsonlAppender(tmp_path / "m.jsonl", durable=False)
    appender.append({"step": 1})
    appender.close()
    appender.append({"step": 2})
    appender.close()
    assert [r["step"] for r in read_metrics(tmp_path / "m.jsonl")] == [1, 2]

    # A writer of big events (several write() calls each) killed with SIGKILL mid-stream.
    killed = tmp_path / "killed.jsonl"
    code = (
        "import sys; from pathlib import Path; from csmpt.run_folder import append_event\n"
        "p = Path(sys.argv[1]); i = 0\n"
        "while True:\n"
        "    append_event(p, {'event': 'loss_spike', 'step': i, 'pad': 'x' * 300_000}); i += 1\n"
    )
    proc = subprocess.Popen([sys.executable, "-c", code, str(killed)], cwd=REPO)
    deadline = time.monotonic() + 60
    while (not killed.exists() or killed.stat().st_size < 2_000_000) and proc.poll() is None:
        assert time.monotonic() < deadline, "the appender did not start"
        time.sleep(0.01)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    events = read_events(killed)
    assert len(events) >= 6
    assert [e["step"] for e in events] == list(range(len(events)))
    assert all(len(e["pad"]) == 300_000 for e in events)
    append_event(killed, {"event": "resume", "step": len(events)})
    assert [e["step"] for e in read_events(killed)] == list(range(len(events) + 1))


def test_run_files_are_appended_only_through_run_folder() -> None:
    """No other csmpt module opens a file for appending (a second appender would need its own
    torn-line rule); the allowed ones append to files that are not run-folder JSONL."""
    allowed = {
        "csmpt/run_folder.py": "the appender of events.jsonl, metrics.jsonl, runs.jsonl",
        "csmpt/quiet.py": "csmpt.log, the plain-text log of a quiet session",
        "csmpt/filter/document_filter.py": "its own resumable side file in the work folder",
        "csmpt/mds/doc_map.py": "the binary entry log of a resumable prep build",
        "csmpt/eval/validate.py": "validation.csv, a row per checkpoint scored",
    }
    found = set()
    for path in sorted((REPO / "csmpt").rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if not isinstance(node, ast.Call):
                continue
            name = getattr(node.func, "attr", getattr(node.func, "id", ""))
            args = [*node.args, *(k.value for k in node.keywords if k.arg == "mode")]
            modes = [a.value for a in args if isinstance(a, ast.Constant)]
            is_mode = [isinstance(m, str) and "a" in m and set(m) <= set("rwxabt+") for m in modes]
            if name in ("open", "fdopen") and any(is_mode):
                found.add(path.relative_to(REPO).as_posix())
    assert found <= set(allowed), sorted(found - set(allowed))
    assert "csmpt/run_folder.py" in found
