"""Quiet by default: a command's console tells the story, its log file holds everything else.

``csmpt demo``, ``train``, ``surgery`` and ``eval`` run inside a :func:`quiet_session`. On the
console stay csmpt's own lines (stage headers, progress bars, what was written where, hot swaps,
loss spikes, the summary) and csmpt's warnings; into ``LOG`` (the run or output folder's
``csmpt.log``, its path printed once) go llm-foundry's config dumps (they are printed to stdout),
Composer's and every other library's log records, and Python warnings. When the command ends,
each kind of library warning it raised gets one line: why it is harmless (the table
:data:`KNOWN_WARNINGS`), or ``unexplained`` with its first line. With ``verbose`` the session
changes nothing: everything prints as the libraries print it.

A training run in a session shows one progress bar (:class:`~csmpt.loggers.console_progress.
ConsoleProgress`) instead of Composer's console logging: :meth:`QuietSession.train_overrides`.
"""

from __future__ import annotations

import contextlib
import logging
import re
import time
import warnings
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from rich.console import Console
from rich.logging import RichHandler

__all__ = [
    "KNOWN_WARNINGS",
    "LOG_NAME",
    "QuietSession",
    "explain_warning",
    "quiet_session",
    "recipe_log_file",
]

log = logging.getLogger(__name__)

LOG_NAME = "csmpt.log"
# csmpt loggers whose INFO lines belong to the story (everything of csmpt at WARNING+ shows).
STORY_LOGGERS = ("csmpt.callbacks.hot_swap",)

# (pattern of the warning's first line, why it is harmless here). Each came from a `make demo`
# unless its comment names the recipe.
KNOWN_WARNINGS: tuple[tuple[str, str], ...] = (
    (
        r"exists and not empty\. But continue to mkdir since exist_ok",
        "streaming's merge_index writes the merged index beside the parts (csmpt prep --merge)",
    ),
    (
        r"A temporary folder .* is created to store index files",
        "streaming's merge_index stages the parts' indexes in a temporary folder",
    ),
    (
        r"which Google will stop supporting",
        "google-api-core (via gensim) dates its Python support; no Google API used",
    ),
    (
        r"pkg_resources is deprecated as an API",
        "llm-foundry 0.22 imports setuptools' pkg_resources",
    ),
    (
        r"alibi or rope is turned on, setting `learned_pos_emb` to `False",
        "llm-foundry's MPT config says so whenever ALiBi is on (it always warns)",
    ),
    (
        r"doesn't directly inherit from `GenerationMixin`",
        "transformers 4.50+ on llm-foundry's MPT class; generate() works",
    ),
    (
        r"'pin_memory' argument is set as true but no accelerator",
        "a recipe's loader pins memory (its default) on CPU; the demo's do not",
    ),
    (
        r"To copy construct from a tensor, it is recommended",
        "Composer's trainer calls torch.tensor() on a tensor; no effect",
    ),
    (
        r"DataloaderNumBatchesWarning",
        "a small val split has fewer batches than eval_subset_num_batches",
    ),
    (
        r"Cannot split (tensor|list) of length \d+ into batches of size \d+",
        "a last eval batch is smaller than the batch size",
    ),
    (
        r"Token indices sequence length is longer than the specified maximum",
        "ICL items are tokenized whole, then cut to icl_seq_len",
    ),
    (
        r"The `use_auth_token` argument is deprecated",
        "llm-foundry 0.22's hf_causal_lm passes it to transformers; no hub token is used",
    ),
    (
        r"No existing generation config found for the model",
        "a local HF config folder has none; generation defaults (export writes one)",
    ),
    (
        r"Propagating key_padding_mask to the attention module",
        "MPT's torch attention masks padded eval batches, as it should",
    ),
    (  # from the rotary bases (yamls/base/builds/en_rope.yaml and kin), not the demo
        r"Unrecognized keys in `rope_scaling` for 'rope_type'='default': \{'factor'\}",
        "MPT's rope_impl hf hands its unscaled rotary config's factor (1.0) to HF",
    ),
)


def explain_warning(message: str) -> str | None:
    """Why a library warning is harmless, or None when :data:`KNOWN_WARNINGS` has no entry."""
    for pattern, why in KNOWN_WARNINGS:
        if re.search(pattern, message):
            return why
    return None


def _key(message: str) -> str:
    """A warning's first line with its numbers masked (one kind for every batch size)."""
    first = message.strip().split("\n", 1)[0]
    return re.sub(r"\d+", "#", first)[:200]


@dataclass
class QuietSession:
    """An active quiet (or verbose) console session.

    Attributes:
        console: Where the story goes.
        verbose: Everything prints as the libraries print it; no log file.
        log_file: Where the rest goes (None when verbose).
        warnings: Library warnings seen, by kind (first line, numbers masked).
    """

    console: Console
    verbose: bool
    log_file: Path | None = None
    warnings: Counter[str] = field(default_factory=Counter)
    examples: dict[str, str] = field(default_factory=dict)

    def train_overrides(self) -> list[str]:
        """Overrides that swap Composer's console logging for one progress bar (none if verbose)."""
        if self.verbose:
            return []
        return ["progress_bar=false", "log_to_console=false", "loggers.csmpt_console={}"]

    def note_warning(self, message: str) -> None:
        """Count one library warning."""
        key = _key(message)
        self.warnings[key] += 1
        self.examples.setdefault(key, message.strip().split("\n", 1)[0])

    def warning_lines(self) -> list[str]:
        """A header, then one line per kind of library warning.

        Each says why the warning is harmless, or ``unexplained`` and its first line.
        """
        counts: Counter[str] = Counter()  # one line per explanation (or unexplained warning)
        for key, n in self.warnings.items():
            example = self.examples[key]
            counts[explain_warning(example) or f"unexplained: {example[:120]}"] += n
        if not counts:
            return []
        head = f"library warnings by kind, and why each is harmless (all in {LOG_NAME}):"
        return [head] + [f"  {n}x {text}" for text, n in counts.items()]


class _StoryFilter(logging.Filter):
    """csmpt's records at WARNING+, and INFO of the story loggers."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not record.name.startswith("csmpt"):
            return False
        return record.levelno >= logging.WARNING or record.name.startswith(STORY_LOGGERS)


class _WarningCounter(logging.Handler):
    """Counts other libraries' WARNING+ records for the session's summary."""

    def __init__(self, session: QuietSession) -> None:
        super().__init__(logging.WARNING)
        self.session = session

    def emit(self, record: logging.LogRecord) -> None:
        if not record.name.startswith("csmpt"):
            self.session.note_warning(record.getMessage())


def _own_stream_handlers() -> list[tuple[logging.Logger, list[logging.Handler], bool]]:
    """Libraries' loggers that print by themselves (transformers, mlflow): their handlers."""
    found = []
    for logger in list(logging.Logger.manager.loggerDict.values()):
        if not isinstance(logger, logging.Logger) or logger.name.startswith("csmpt"):
            continue
        own: list[logging.Handler] = [
            h
            for h in logger.handlers
            if isinstance(h, logging.StreamHandler) and not isinstance(h, logging.FileHandler)
        ]
        if own:
            found.append((logger, own, logger.propagate))
    return found


@contextlib.contextmanager
def quiet_session(
    console: Console, log_file: Path, verbose: bool = False, title: str = "csmpt"
) -> Iterator[QuietSession]:
    """Run a command with its library output in ``log_file`` (see the module docstring).

    Args:
        console: The command's console (kept on the real stdout / stderr).
        log_file: The log file (appended to; its folder is created).
        verbose: Change nothing.
        title: The command line, written at the top of this session's part of the log.
    """
    session = QuietSession(console=console, verbose=verbose)
    if verbose:
        yield session
        return
    from csmpt.loggers import console_progress

    log_file.parent.mkdir(parents=True, exist_ok=True)
    session.log_file = log_file
    stream: IO[str] = log_file.open("a", encoding="utf-8", buffering=1)
    stream.write(f"\n===== {title} ({time.strftime('%Y-%m-%d %H:%M:%S')})\n")
    console.print(
        f"details (configs, library logs and warnings): {log_file}", highlight=False, soft_wrap=True
    )

    pinned = getattr(console, "_file", None)
    console.file = console.file  # stay on the terminal while sys.stdout goes to the log
    root = logging.getLogger()
    saved_root = (root.handlers[:], root.level)
    saved_own = _own_stream_handlers()
    for logger, own, _ in saved_own:
        for h in own:
            logger.removeHandler(h)
        logger.propagate = True
    to_file = logging.StreamHandler(stream)
    to_file.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    story = RichHandler(console=console, show_path=False, show_time=False)
    story.addFilter(_StoryFilter())
    root.handlers = [to_file, story, _WarningCounter(session)]
    csmpt_logger = logging.getLogger("csmpt")
    saved_csmpt_level = csmpt_logger.level
    csmpt_logger.setLevel(logging.INFO)

    def show(
        message: Warning | str,
        category: type[Warning],
        filename: str,
        lineno: int,
        file: IO[str] | None = None,
        line: str | None = None,
    ) -> None:
        del file
        stream.write(warnings.formatwarning(message, category, filename, lineno, line))
        session.note_warning(f"{category.__name__}: {message}")

    console_progress.set_console(console)
    basic_config = logging.basicConfig
    # llm-foundry's and Composer's trainers call basicConfig(force=True): keep these handlers.
    logging.basicConfig = _keep_handlers
    try:
        with (
            warnings.catch_warnings(),
            contextlib.redirect_stdout(stream),
            contextlib.redirect_stderr(stream),
        ):
            warnings.showwarning = show
            yield session
    finally:
        logging.basicConfig = basic_config
        console_progress.set_console(None)
        root.handlers, level = saved_root
        root.setLevel(level)
        csmpt_logger.setLevel(saved_csmpt_level)
        for logger, own, propagate in saved_own:
            for h in own:
                logger.addHandler(h)
            logger.propagate = propagate
        console.file = pinned  # type: ignore[assignment]
        for line in session.warning_lines():
            stream.write(line + "\n")
            console.print(line, highlight=False, soft_wrap=True)
        stream.close()


def recipe_log_file(yaml_path: str | Path, overrides: list[str]) -> Path:
    """A training run's log file: ``SAVE_FOLDER/csmpt.log``, else ``./csmpt.log``.

    A recipe that does not load or resolve gets ``./csmpt.log``: its training fails in the
    preflight, with the error on the console.
    """
    from omegaconf import OmegaConf
    from omegaconf.errors import OmegaConfBaseException

    from csmpt.config import load_yaml_with_overrides
    from csmpt.errors import CsmptError

    try:
        cfg = load_yaml_with_overrides(yaml_path, overrides)
        folder = OmegaConf.select(cfg, "save_folder", throw_on_missing=False)
        run_name = OmegaConf.select(cfg, "run_name", default="")
    except (CsmptError, OmegaConfBaseException):
        return Path.cwd() / LOG_NAME
    if not isinstance(folder, str) or "://" in folder:
        return Path.cwd() / LOG_NAME
    return Path(folder.replace("{run_name}", str(run_name or ""))) / LOG_NAME


def _keep_handlers(**kwargs: Any) -> None:
    """``logging.basicConfig`` inside a session: the level only, the handlers stay."""
    if kwargs.get("level") is not None:
        logging.getLogger().setLevel(kwargs["level"])
