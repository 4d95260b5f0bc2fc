"""Exception types for user mistakes: one clear sentence, caught at the CLI boundary."""

from __future__ import annotations

__all__ = ["ConfigError", "CsmptError", "DataError"]


class CsmptError(Exception):
    """A user-facing error: its message names the file, line, key or step and what to do.

    The CLI prints the message on one line and exits with status 2, without a traceback.
    """


class ConfigError(CsmptError):
    """A YAML config (training recipe, data_prep config) is invalid."""


class DataError(CsmptError):
    """An input corpus, tokenizer or shard folder is missing or malformed."""
