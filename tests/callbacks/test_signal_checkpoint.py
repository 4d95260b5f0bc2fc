"""SignalCheckpoint.leave(): the requeue status survives a SIGTERM, whatever is trapped.

Composer's launcher SIGTERMs the other ranks once one rank exits 75; a rank still shutting down
must still exit 75, not die of that SIGTERM (-15, and the job is not requeued). With the default
signals SIGTERM is trapped anyway; with ``signals: [SIGUSR1]`` only ``leave()``'s own SIG_IGN
keeps the status.
"""

from __future__ import annotations

import signal
import subprocess
import sys

CHILD = """
import atexit, signal, sys, time
from csmpt.callbacks.signal_checkpoint import SignalCheckpoint
signal.signal(signal.SIGTERM, signal.SIG_DFL)  # a launched rank's own handler
cb = SignalCheckpoint(signals={signals})
cb.init(None, None)
def shut_down():  # Composer closes the callbacks, then the interpreter winds down
    cb.close(None, None)
    print('shutting down', flush=True)
    time.sleep(3)
atexit.register(shut_down)
cb.leave()
"""


def test_requeue_status_survives_the_launchers_sigterm_with_only_sigusr1_trapped() -> None:
    # (the default signals are covered by tests/training/test_faults.py)
    proc = subprocess.Popen(
        [sys.executable, "-c", CHILD.format(signals=["SIGUSR1"])],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline().strip() == "shutting down"
        proc.send_signal(signal.SIGTERM)  # what the launcher does to the ranks still running
        proc.send_signal(signal.SIGUSR1)  # and a late scheduler signal
        _, stderr = proc.communicate(timeout=60)
    finally:
        proc.kill()
    assert proc.returncode == 75, stderr[-2000:]
