"""Exception types for user mistakes: one clear sentence, caught at the CLI boundary."""

from __future__ import annotations

import signal

__all__ = ["ConfigError", "CsmptError", "DataError", "Interrupted"]


class CsmptError(Exception):
    """A user-facing error: its message names the file, line, key or step and what to do.

    The CLI prints the message on one line and exits with status 2, without a traceback.
    """


class ConfigError(CsmptError):
    """A YAML config (training recipe, data_prep config) is invalid."""


class DataError(CsmptError):
    """An input corpus, tokenizer or shard folder is missing or malformed."""


class Interrupted(KeyboardInterrupt):
    """SIGTERM or SIGINT stopped a command, after csmpt cleaned up what it had started.

    A ``KeyboardInterrupt``, so that code which already stops cleanly on Ctrl-C (pytest, click)
    stops the same way on SIGTERM. The CLI prints the message on one line and exits with status
    128 + the signal's number (143 for SIGTERM, 130 for SIGINT), as a shell reports it.

    Args:
        signum: The signal received.
        detail: What was left undone and what was kept, for the user.
    """

    def __init__(self, signum: int, detail: str = "") -> None:
        self.signum = signum
        self.detail = detail
        super().__init__(signum, detail)

    @property
    def exit_code(self) -> int:
        """The command's exit status: 128 + the signal's number."""
        return 128 + self.signum

    def __str__(self) -> str:
        name = signal.Signals(self.signum).name
        return f"stopped by {name}" + (f": {self.detail}" if self.detail else "")
