"""Stop within a second on SIGTERM or SIGINT, even while native (Rust, C) code runs for minutes.

A Python signal handler runs only between bytecodes of the main thread: while one native call
runs (HF tokenizers' BPE trainer), Ctrl-C waits until it returns, and so would any SIGTERM
handler (a cluster job at its walltime gets SIGKILL soon after). So:

* :class:`StopSignals` turns SIGTERM and SIGINT into :class:`~csmpt.errors.Interrupted` in the
  main thread while its block runs. A signal ignored when the block starts (``nohup``, a
  background job of a script) stays ignored; a second signal while cleaning up is only noted.
* :func:`run_in_child` runs the native work as ``python -m MODULE`` in a child process and
  waits; the handler runs at once in the waiting parent, kills the child and raises.
  :func:`child_main` is the child's side: the job comes as JSON on stdin; log records and the
  result (or a :class:`~csmpt.errors.CsmptError`'s message) go back as JSON lines on a private
  copy of stdout (the child's own stdout goes to stderr, so a library's print cannot garble them).

The child ignores SIGINT (Ctrl-C reaches the whole process group; the parent stops it), dies of
SIGTERM at once (``scancel`` signals the whole group), and on Linux is killed with its parent
(``PR_SET_PDEATHSIG``), so a SIGKILL-ed parent leaves no trainer running (only an empty
temporary folder, which the next run removes: :func:`csmpt.atomic.recover_dir`).
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Callable, Iterable
from types import FrameType, TracebackType
from typing import IO, Any, NoReturn

from csmpt import errors
from csmpt.errors import CsmptError, Interrupted

__all__ = ["STOP_SIGNALS", "StopSignals", "child_main", "run_in_child"]

log = logging.getLogger(__name__)

STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)
_PR_SET_PDEATHSIG = 1  # <linux/prctl.h>


class StopSignals:
    """While the block runs, SIGTERM and SIGINT raise :class:`Interrupted` in the main thread.

    Handlers are installed only in the main thread (elsewhere the block changes nothing) and the
    previous ones are restored on leaving.

    Args:
        signals: The signals that stop the work.

    Attributes:
        received: The first signal received, or None.
    """

    def __init__(self, signals: Iterable[signal.Signals] = STOP_SIGNALS) -> None:
        self.signals = list(signals)
        self.received: signal.Signals | None = None
        self._finishing = False
        self._previous: dict[signal.Signals, Any] = {}

    def __enter__(self) -> StopSignals:
        if threading.current_thread() is not threading.main_thread():
            return self
        for sig in self.signals:
            if signal.getsignal(sig) is signal.SIG_IGN:
                continue  # ignored by whoever started us (nohup): keep it so
            self._previous[sig] = signal.signal(sig, self._handle)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)
        self._previous.clear()

    def finishing(self) -> None:
        """From now on a signal is only noted in ``received``: the last, short step completes."""
        self._finishing = True

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        if self.received is not None:
            return  # a second signal while the first one's cleanup runs
        self.received = signal.Signals(signum)
        if not self._finishing:
            raise Interrupted(signum)


def _error_class(kind: str) -> type[CsmptError]:
    cls = getattr(errors, kind, CsmptError)
    return cls if isinstance(cls, type) and issubclass(cls, CsmptError) else CsmptError


def run_in_child(module: str, job: Any, what: str) -> Any:
    """Run ``python -m module`` on ``job`` and return its result; a signal stops it at once.

    Call it inside :class:`StopSignals`: the parent only waits, so SIGTERM/SIGINT interrupt the
    wait; the child is then killed (and waited for) before :class:`Interrupted` propagates.

    Args:
        module: A module whose ``__main__`` block calls :func:`child_main`.
        job: JSON-serialisable input for the child's work function.
        what: The work, named in error messages ("tokenizer training").

    Returns:
        What the child's work function returned.

    Raises:
        CsmptError: The child raised one (same class and message), died of a signal of its
            own (out of memory), or failed otherwise (its traceback is on stderr above).
    """
    hello = {
        "parent": os.getpid(),
        "levels": {
            "": logging.getLogger().getEffectiveLevel(),
            "csmpt": logging.getLogger("csmpt").getEffectiveLevel(),
        },
        "job": job,
    }
    # Blocked while forking, the stop signals wait (pending) in the child until child_main has
    # set its dispositions, and in the parent until the child exists to be killed.
    mask = signal.pthread_sigmask(signal.SIG_BLOCK, STOP_SIGNALS)
    try:
        proc = subprocess.Popen(
            [sys.executable, "-m", module], stdin=subprocess.PIPE, stdout=subprocess.PIPE
        )
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, mask)
    assert proc.stdin is not None and proc.stdout is not None
    outcome: dict[str, Any] = {}
    try:
        with contextlib.suppress(BrokenPipeError):  # it died early: its exit status tells
            proc.stdin.write(json.dumps(hello).encode() + b"\n")
            proc.stdin.close()
        for line in proc.stdout:
            try:
                message = json.loads(line)
            except ValueError:  # written to stdout before child_main took it over
                sys.stderr.write(line.decode(errors="replace"))
                continue
            if "log" in message:
                record = logging.makeLogRecord(message["log"])
                logging.getLogger(record.name).handle(record)
            else:
                outcome = message
        code = proc.wait()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        for pipe in (proc.stdin, proc.stdout):
            with contextlib.suppress(OSError):
                pipe.close()
    if "error" in outcome:
        raise _error_class(outcome["kind"])(outcome["error"])
    if code == 0 and "result" in outcome:
        return outcome["result"]
    if code < 0:
        name = signal.Signals(-code).name
        hint = " (out of memory?)" if name == "SIGKILL" else ""
        raise CsmptError(f"{what} stopped: its process was killed by {name}{hint}")
    raise CsmptError(f"{what} failed in its process (exit status {code}); its error is above")


class _Channel:
    """The child's JSON-lines pipe to its parent (a private copy of stdout)."""

    def __init__(self, stream: IO[bytes]) -> None:
        self._stream = stream
        self._lock = threading.Lock()

    def send(self, message: dict[str, Any]) -> None:
        data = json.dumps(message, default=str).encode() + b"\n"
        with self._lock:
            self._stream.write(data)
            self._stream.flush()


class _ForwardHandler(logging.Handler):
    """Sends each log record to the parent, which hands it to its own handlers."""

    def __init__(self, channel: _Channel) -> None:
        super().__init__()
        self._channel = channel

    def emit(self, record: logging.LogRecord) -> None:
        try:
            fields = dict(record.__dict__)
            fields["msg"] = record.getMessage()
            fields["args"] = None
            if record.exc_info:
                fields["exc_text"] = logging.Formatter().formatException(record.exc_info)
            fields["exc_info"] = None
            self._channel.send({"log": fields})
        except Exception:
            self.handleError(record)


def _die_with_parent(parent: int) -> None:
    """Ask Linux to SIGKILL this process when its parent dies; exit if it already has."""
    if sys.platform == "linux":
        import ctypes

        with contextlib.suppress(OSError, AttributeError):
            ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() != parent:
        os._exit(1)


def child_main(work: Callable[[Any], Any]) -> NoReturn:
    """The child's side of :func:`run_in_child`: run ``work(job)`` and send back its result.

    Exits 0 after sending the result, 2 after sending a :class:`CsmptError`'s message; any
    other exception prints its traceback to stderr and exits 1.
    """
    # Ctrl-C: the parent stops this process. SIGTERM keeps what exec gave it: the default (die
    # at once), or ignored where the parent's caller ignores it (nohup).
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, STOP_SIGNALS)
    channel = _Channel(os.fdopen(os.dup(1), "wb"))
    os.dup2(2, 1)  # a library's print goes to stderr, not into the channel
    sys.stdout = sys.stderr
    hello = json.loads(sys.stdin.buffer.readline())
    _die_with_parent(int(hello["parent"]))
    root = logging.getLogger()
    root.setLevel(hello["levels"][""])
    root.addHandler(_ForwardHandler(channel))
    logging.getLogger("csmpt").setLevel(hello["levels"]["csmpt"])
    try:
        result = work(hello["job"])
    except CsmptError as e:
        channel.send({"error": str(e), "kind": type(e).__name__})
        sys.exit(2)
    channel.send({"result": result})
    sys.exit(0)
