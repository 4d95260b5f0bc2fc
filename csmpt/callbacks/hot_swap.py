"""Swap the training corpus mid-run on a schedule in batches or tokens, exactly across resumption.

Registered as ``csmpt_hot_swap`` (``callbacks_with_config``). CSMPT7b trained one run on three
corpora swapped at fixed steps; llm-foundry's ``dataset_swap`` swaps only on restart and its
``curriculum_learning`` only with token/epoch durations that sum to ``max_duration``.

How it works, with Composer's own mechanisms (the train loop is untouched):

* at ``BATCH_END`` of the batch that reaches a swap point, the callback sets the state's
  iteration length to the tokens of the current iteration, so Composer ends the iteration right
  after that batch's eval and checkpoint, and fires ``ITERATION_END`` / ``ITERATION_START``;
* at ``ITERATION_START`` it builds the next corpus' loader with llm-foundry's ``build_dataloader``
  (the recipe's ``train_loader`` with the swap's ``dataset`` keys) and installs it; the LR
  schedule, step counter and optimizer state carry on (unless ``reset_optimizer``);
* its ``state_dict`` holds the swap history and the position in the current corpus, so a run
  resumed before, at or after a swap continues with exactly the samples of an uninterrupted run;
  past swaps cannot change on resume, future ones can (and ``at: resume`` adds a manual swap).

Every swap is logged to the Composer loggers (``hot_swap/*``) and appended to a JSONL events file
(default ``<save_folder>/events.jsonl``) with step, tokens, from, to and whether the optimizer
was reset.
"""

from __future__ import annotations

import copy
import logging
import time
from pathlib import Path
from typing import Any, ClassVar

import torch
from composer.core import Callback, State, Time, TimeUnit
from composer.loggers import Logger
from composer.utils import dist

from csmpt.callbacks.packed_state import pack, unpack
from csmpt.errors import ConfigError
from csmpt.mds.streaming_threads import stop_streaming_threads
from csmpt.recipe.swap_schedule import Swap, check_swaps, merged_dataset, parse_swaps, swaps_due
from csmpt.run_folder import EVENTS_FILE, append_event, read_events, rewrite_events

__all__ = ["HotSwap", "zero_optimizer_state"]

log = logging.getLogger(__name__)


def zero_optimizer_state(state: State) -> None:
    """Zero every tensor of every optimizer's state: LionW's momentum as a fresh one has it."""
    for optimizer in state.optimizers:
        for param_state in optimizer.state.values():
            for value in param_state.values():
                if torch.is_tensor(value):
                    value.zero_()


def run_tokenizer(state: State) -> Any:
    """The run's tokenizer: the model's, through a DDP wrapper, else the training dataset's.

    Under DDP Composer replaces ``state.model`` by ``DistributedDataParallel(model)``, which has
    no ``tokenizer`` (the model is its ``module``): a multi-process run's first swap built the
    next corpus' loader with ``None`` and died ("Tokenizer is required for text dataloader",
    found by ``bench/fsdp2_cpu.py --recipe yamls/tiny/mpt_hot_swap.yaml`` on 2 processes).
    """
    model = state.model
    for candidate in (model, getattr(model, "module", None)):
        tokenizer = getattr(candidate, "tokenizer", None)
        if tokenizer is not None:
            return tokenizer
    dataset = getattr(state.train_dataloader, "dataset", None)
    tokenizer = getattr(dataset, "tokenizer", None)
    if tokenizer is None:
        raise RuntimeError(
            "csmpt_hot_swap: neither the model nor the training dataset has a tokenizer"
        )
    return tokenizer


class HotSwap(Callback):
    """Swap the training corpus at scheduled batches or tokens (``csmpt_hot_swap``).

    Args:
        train_config: The whole train config (passed by llm-foundry).
        swaps: The schedule: a list of ``{name, at, dataset, reset_optimizer}``; ``at`` is
            ``<n>ba``, ``<n>tok`` or ``resume``; ``dataset`` replaces keys of the recipe's
            ``train_loader.dataset`` (``local``/``split``, ``streams``, ``shuffle_seed``...).
        first_name: Name of the corpus the run starts on (the recipe's ``train_loader``).
        events_file: JSONL file of swap events; default ``<save_folder>/events.jsonl``.
    """

    events_file_kwarg: ClassVar[str] = "events_file"  # how csmpt.run_events finds its file

    def __init__(
        self,
        train_config: dict[str, Any],
        swaps: list[dict[str, Any]],
        first_name: str = "train_loader",
        events_file: str | None = None,
    ) -> None:
        self.swaps: list[Swap] = parse_swaps(swaps)
        check_swaps(self.swaps, train_config)
        folder = train_config.get("save_folder")
        if events_file is None and (not folder or "://" in str(folder)):
            raise ConfigError(
                "callbacks.csmpt_hot_swap: set `events_file:` (no local save_folder to put it in)"
            )
        self.events_file = Path(events_file or Path(str(folder)) / EVENTS_FILE)
        self.first_name = first_name
        self._loader_cfg: dict[str, Any] = train_config["train_loader"]
        self._batch_size = train_config["device_train_batch_size"]
        self._segment = 0  # how many swaps have been applied
        self._history: list[dict[str, Any]] = []
        self._restored: dict[str, Any] | None = None
        self._state: State | None = None

    # --- names --------------------------------------------------------------------------

    def _name(self, segment: int) -> str:
        return self.first_name if segment == 0 else self.swaps[segment - 1].name

    def current_corpus(self) -> str:
        """Name of the corpus being trained on now."""
        return self._name(self._segment)

    def corpus_start_step(self) -> int:
        """The step after which the current corpus began (0 for the first corpus)."""
        return int(self._history[self._segment - 1]["step"]) if self._segment else 0

    # --- Composer events ----------------------------------------------------------------

    def init(self, state: State, logger: Logger) -> None:
        """Keep the state (for ``state_dict``)."""
        del logger
        self._state = state

    def fit_start(self, state: State, logger: Logger) -> None:
        """Resolve manual swaps, restore the corpus of a resumed run, tidy the events file."""
        batch, tokens = int(state.timestamp.batch), int(state.timestamp.token)
        self._resolve_manual(batch)
        if dist.get_global_rank() == 0:
            self._truncate_events(batch)
        restored = self._restored or {}
        due = swaps_due(self.swaps, batch, tokens)
        if due > self._segment:
            # Resumed from the checkpoint taken at a swap step (or a manual swap is due): end
            # the iteration as the uninterrupted run did, and swap now.
            state.timestamp = state.timestamp.to_next_iteration()
            self._swap(state, logger, due)
        elif self._segment > 0:
            # Resumed inside corpus k > 0: Composer restored the position into the first
            # corpus' dataset; rebuild corpus k and give it the saved position.
            self._install(state, self._segment, restored.get("dataset_state"))
        self._restored = None

    def batch_end(self, state: State, logger: Logger) -> None:
        """At a swap point, make Composer end the iteration after this batch."""
        del logger
        if swaps_due(self.swaps, int(state.timestamp.batch), int(state.timestamp.token)) > (
            self._segment
        ):
            state._iteration_length = Time(  # noqa: SLF001 - Composer's iteration hook
                int(state.timestamp.token_in_iteration), TimeUnit.TOKEN
            )

    def iteration_start(self, state: State, logger: Logger) -> None:
        """Install the next corpus when an iteration starts at a swap point."""
        state._iteration_length = None  # noqa: SLF001
        due = swaps_due(self.swaps, int(state.timestamp.batch), int(state.timestamp.token))
        if due > self._segment:
            self._swap(state, logger, due)

    # --- swapping -----------------------------------------------------------------------

    def _install(self, state: State, segment: int, dataset_state: Any = None) -> None:
        from llmfoundry.data.dataloader import build_dataloader

        cfg = copy.deepcopy(self._loader_cfg)
        cfg["dataset"] = merged_dataset(self._loader_cfg["dataset"], self.swaps[segment - 1])
        spec = build_dataloader(cfg, run_tokenizer(state), self._batch_size)
        loader = spec.dataloader
        if dataset_state is not None:
            loader.dataset.load_state_dict(dataset_state)
        stop_streaming_threads(state.train_dataloader)
        state.set_dataloader(loader, "train")
        state.train_dataloader = state.dataloader
        from csmpt.callbacks.batch_ramp import BatchRamp

        for callback in state.callbacks:  # a batch-size ramp re-batches every corpus' loader
            if isinstance(callback, BatchRamp):
                callback.wrap(state)

    def _swap(self, state: State, logger: Logger, due: int) -> None:
        for segment in range(self._segment + 1, due + 1):
            swap = self.swaps[segment - 1]
            if segment == due:
                self._install(state, segment)
            if swap.reset_optimizer:
                zero_optimizer_state(state)
            event = {
                "event": "swap",
                "step": int(state.timestamp.batch),
                "tokens": int(state.timestamp.token),
                "index": segment,
                "from": self._name(segment - 1),
                "to": swap.name,
                "at": swap.describe(),
                "reset_optimizer": swap.reset_optimizer,
                "manual": swap.manual,
                "time": time.time(),
            }
            self._history.append(
                {
                    "index": segment,
                    "name": swap.name,
                    "at": swap.describe(),
                    "dataset": swap.dataset,
                    "reset_optimizer": swap.reset_optimizer,
                    "step": event["step"],
                }
            )
            self._segment = segment
            log.info("hot swap at step %d: %s -> %s", event["step"], event["from"], swap.name)
            logger.log_metrics(
                {"hot_swap/index": segment, "hot_swap/reset_optimizer": int(swap.reset_optimizer)}
            )
            if dist.get_global_rank() == 0:
                append_event(self.events_file, event)

    def _resolve_manual(self, batch: int) -> None:
        done = {h["name"]: h for h in self._history}
        for swap in self.swaps:
            if swap.manual and swap.unit is None:
                swap.unit = "batch"
                swap.value = int(done[swap.name]["step"]) if swap.name in done else batch

    def _truncate_events(self, batch: int) -> None:
        events = read_events(self.events_file)
        kept = [
            e
            for e in events
            if e.get("event") != "swap"  # other callbacks' events: they dedupe their own
            or int(e.get("step", 0)) < batch
            or (
                int(e.get("step", 0)) == batch
                and not (e.get("event") == "swap" and int(e.get("index", 0)) > self._segment)
            )
        ]
        if len(kept) != len(events):
            rewrite_events(self.events_file, kept)

    # --- resumption ---------------------------------------------------------------------

    def resets_since(self, step: int) -> list[int]:
        """Steps of the ``reset_optimizer`` swaps made at or after ``step``.

        A checkpoint of step ``s`` is written before a swap at ``s`` (the swap comes at the next
        iteration's start), so loading it (a rollback) undoes the resets of these swaps.
        """
        return [
            int(r["step"]) for r in self._history if r["reset_optimizer"] and int(r["step"]) >= step
        ]

    def state_dict(self) -> dict[str, Any]:
        """Swap history, current corpus, and the position in it (for exact resumption)."""
        dataset_state = None
        if self._state is not None and self._segment > 0:
            dataset = getattr(self._state.train_dataloader, "dataset", None)
            if hasattr(dataset, "state_dict"):
                num_samples = int(self._state.timestamp.sample_in_epoch)
                dataset_state = dataset.state_dict(num_samples, True)  # type: ignore[union-attr]
        # history and dataset_state change shape: packed, a sharded checkpoint resumes them
        return {
            "segment": self._segment,
            "history": pack(self._history),
            "dataset_state": pack(dataset_state),
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore the history; refuse a schedule whose past swaps differ from what happened."""
        history = list(unpack(state.get("history")) or [])
        for record in history:
            i = int(record["index"]) - 1
            if i >= len(self.swaps):
                raise ConfigError(
                    f"callbacks.csmpt_hot_swap.swaps: the run already swapped to "
                    f"'{record['name']}' at step {record['step']}, but the schedule has only "
                    f"{len(self.swaps)} swaps; past swaps cannot be removed"
                )
            swap = self.swaps[i]
            was = (record["name"], record["dataset"], record["reset_optimizer"])
            now = (swap.name, swap.dataset, swap.reset_optimizer)
            if was != now or (not swap.manual and swap.describe() != record["at"]):
                raise ConfigError(
                    f"callbacks.csmpt_hot_swap.swaps.{i}: swap {record['at']} already happened "
                    f"at step {record['step']} and cannot change (now: {swap.describe()}); "
                    "only future swaps may be changed or added"
                )
        self._history = history
        self._segment = int(state.get("segment", 0))
        self._restored = {**state, "dataset_state": unpack(state.get("dataset_state"))}
