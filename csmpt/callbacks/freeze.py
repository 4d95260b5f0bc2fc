"""``csmpt_freeze``: train only some parameters for the first steps (an embeddings-first stage).

Language-adaptation papers commonly train the new embedding rows (and the LM head) alone for a
first stage, so they catch up before the body moves. A recipe says so with a step schedule::

    callbacks:
      csmpt_freeze:
        stages:
          - until: 200ba                        # batches [0, 200): only these train
            train: [wte, embed_tokens, lm_head] # regexes searched in parameter names
          - until: 300ba                        # then optionally another stage ...
            freeze: [wte, embed_tokens]         # ... or name what stays still instead
        # after the last stage every parameter trains

How: after every backward pass (each microbatch) the gradients of the frozen parameters are
set to ``None``. ``requires_grad`` is never changed, so the model FSDP (``use_orig_params:
true``, which exposes the original parameters and their gradients) or DDP wrapped stays as it
was built. Optimizers skip parameters without a gradient (``csmpt_lionw``, ``decoupled_lionw``
and torch's optimizers do), so frozen parameters and their optimizer state (LionW's momentum,
weight decay included) stay bit-identical; gradient clipping sees only the trained ones.
Parameters that have no optimizer state yet get their initial state (zeros for LionW) when
training starts, because a checkpoint must hold state for every parameter to load.

The stage of a batch is a function of its step alone, so a resumed run freezes exactly what
the uninterrupted one did. Each stage start is an event (``freeze_stage``, and ``unfreeze``
after the last) in ``<save_folder>/events.jsonl``; ``csmpt report`` draws them like swaps.
"""

from __future__ import annotations

import logging
import re
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from composer.core import Callback, State
from composer.loggers import Logger
from composer.utils import dist

from csmpt.errors import ConfigError
from csmpt.recipe.duration import Duration
from csmpt.run_folder import EVENTS_FILE, append_event, read_events, rewrite_events

__all__ = [
    "Freeze",
    "FreezeStage",
    "frozen_names",
    "init_missing_state",
    "parse_stages",
    "stage_at",
]

log = logging.getLogger(__name__)

KEY = "callbacks.csmpt_freeze"
EVENTS = ("freeze_stage", "unfreeze")


@dataclass(frozen=True)
class FreezeStage:
    """Batches ``[start, until)``: only ``train`` parameters train, or all but ``freeze``.

    Attributes:
        until: First batch (0-based step) after the stage.
        patterns: Regexes searched in parameter names.
        train: True: ``patterns`` name what trains; False: what is frozen.
    """

    until: int
    patterns: tuple[str, ...]
    train: bool

    def describe(self) -> str:
        """``train wte|lm_head until 200ba`` or ``freeze ... until ...``."""
        what = "train only" if self.train else "freeze"
        return f"{what} {'|'.join(self.patterns)} until {self.until}ba"


def _steps(value: Any, where: str) -> int:
    """A stage boundary in steps, ``200ba`` or ``200`` (a Duration)."""
    return Duration.parse(value, where, units=("ba",), bare="ba").value


def parse_stages(stages: list[dict[str, Any]]) -> list[FreezeStage]:
    """Check and parse the ``stages:`` list (``until`` increasing; ``train`` xor ``freeze``).

    Raises:
        ConfigError: One line naming the stage and key.
    """
    if not stages:
        raise ConfigError(f"{KEY}.stages: empty; give at least one stage")
    out: list[FreezeStage] = []
    for i, s in enumerate(stages):
        where = f"{KEY}.stages.{i}"
        if not isinstance(s, dict):
            raise ConfigError(f"{where}: expected a mapping with until and train or freeze")
        unknown = set(s) - {"until", "train", "freeze"}
        if unknown:
            raise ConfigError(
                f"{where}: unknown key(s) {sorted(unknown)}; use until, train, freeze"
            )
        if ("train" in s) == ("freeze" in s):
            raise ConfigError(f"{where}: give exactly one of 'train' or 'freeze'")
        if "until" not in s:
            raise ConfigError(
                f"{where}.until: missing (the first step after the stage, e.g. 200ba)"
            )
        key = "train" if "train" in s else "freeze"
        pats = s[key]
        pats = [pats] if isinstance(pats, str) else list(pats or [])
        if not pats:
            raise ConfigError(f"{where}.{key}: empty; name parameters by regex (e.g. wte)")
        for p in pats:
            try:
                re.compile(str(p))
            except re.error as e:
                raise ConfigError(f"{where}.{key}: bad regex {p!r} ({e})") from None
        until = _steps(s["until"], f"{where}.until")
        if out and until <= out[-1].until:
            raise ConfigError(
                f"{where}.until: {until}ba is not after the previous stage's {out[-1].until}ba"
            )
        out.append(FreezeStage(until, tuple(str(p) for p in pats), key == "train"))
    return out


def stage_at(stages: list[FreezeStage], batch: int) -> int | None:
    """Index of the stage batch ``batch`` (0-based) belongs to; None after the last stage."""
    for i, s in enumerate(stages):
        if batch < s.until:
            return i
    return None


def _past(stages: list[FreezeStage], batch: int) -> list[tuple[int, tuple[str, ...], bool]]:
    """The stages as far as batches ``[0, batch)`` went through them."""
    out, start = [], 0
    for s in stages:
        if start >= batch:
            break
        out.append((min(s.until, batch), s.patterns, s.train))
        start = s.until
    return out


def frozen_names(stage: FreezeStage, names: list[str]) -> list[str]:
    """The parameter names ``stage`` freezes."""
    regexes = [re.compile(p) for p in stage.patterns]
    hit = [any(r.search(n) for r in regexes) for n in names]
    return [n for n, h in zip(names, hit, strict=True) if h != stage.train]


def init_missing_state(optimizer: Any) -> int:
    """Give every parameter without optimizer state its initial state; return how many.

    Checkpoints (torch.distributed.checkpoint, as Composer saves them) must hold state for
    every trainable parameter, or loading fails; a parameter frozen from step 0 would have
    none. This is torch's own ``_init_optim_state`` restricted to those parameters: one step
    with zero gradients at learning rate 0 (parameters with state get no gradient and are
    skipped). For LionW the state is the zero momentum its first real step would create.
    """
    import torch

    missing = [p for g in optimizer.param_groups for p in g["params"] if p not in optimizer.state]
    if not missing:
        return 0
    saved = [(p, p.grad) for g in optimizer.param_groups for p in g["params"]]
    for p, _ in saved:
        p.grad = None
    for p in missing:
        p.grad = torch.zeros_like(p)
    lrs = [g["lr"] for g in optimizer.param_groups]
    for g in optimizer.param_groups:
        g["lr"] = 0.0
    try:
        optimizer.step()
    finally:
        for g, lr in zip(optimizer.param_groups, lrs, strict=True):
            g["lr"] = lr
        for p, grad in saved:
            p.grad = grad
    return len(missing)


class Freeze(Callback):
    """Freeze parameters by a step schedule (see the module docstring).

    Args:
        train_config: The whole training config (for ``save_folder``).
        stages: ``[{until: 200ba, train: [regex, ...]} | {until: ..., freeze: [...]}, ...]``.
        events_file: JSONL events file; default ``<save_folder>/events.jsonl``.
    """

    events_file_kwarg: ClassVar[str] = "events_file"  # how csmpt.run_events finds its file

    def __init__(
        self,
        train_config: dict[str, Any],
        stages: list[dict[str, Any]],
        events_file: str | None = None,
    ) -> None:
        self.stages = parse_stages(stages)
        folder = train_config.get("save_folder")
        if events_file is None and (not folder or "://" in str(folder)):
            raise ConfigError(f"{KEY}: set `events_file:` (no local save_folder to put it in)")
        self.events_file = Path(events_file or Path(str(folder)) / EVENTS_FILE)
        self._frozen: list[Any] = []  # parameters frozen in the current batch
        self._stage: int | None = -1  # -1: not decided yet
        self._saved: list[FreezeStage] | None = None  # the schedule of the checkpoint

    def fit_start(self, state: State, logger: Logger) -> None:
        """Check every pattern names parameters; drop this callback's events of a redone past."""
        del logger
        names = [n for n, _ in state.model.named_parameters()]
        for i, s in enumerate(self.stages):
            for p in s.patterns:
                if not any(re.search(p, n) for n in names):
                    key = "train" if s.train else "freeze"
                    raise ConfigError(
                        f"{KEY}.stages.{i}.{key}: {p!r} matches no parameter "
                        f"(e.g. {names[0]!r}, {names[-1]!r})"
                    )
            if not frozen_names(s, names):
                raise ConfigError(f"{KEY}.stages.{i}: freezes nothing ({s.describe()})")
        self._stage = -1
        batch = int(state.timestamp.batch)
        if self._saved is not None and _past(self._saved, batch) != _past(self.stages, batch):
            raise ConfigError(
                f"{KEY}.stages: the run is at step {batch} and its stages so far were "
                f"{[s.describe() for s in self._saved]}; the past of the schedule cannot change "
                "(only stages after the current step may)"
            )
        if dist.get_global_rank() == 0:
            self._truncate_events(batch)
        for optimizer in state.optimizers:
            init_missing_state(optimizer)

    def batch_start(self, state: State, logger: Logger) -> None:
        """Enter the stage of this batch (an event when it changes)."""
        batch = int(state.timestamp.batch)
        stage = stage_at(self.stages, batch)
        if stage == self._stage:
            return
        named = list(state.model.named_parameters())
        if stage is None:
            self._frozen = []
        else:
            frozen = set(frozen_names(self.stages[stage], [n for n, _ in named]))
            self._frozen = [p for n, p in named if n in frozen]
        n_frozen = sum(p.numel() for p in self._frozen)
        n_all = sum(p.numel() for _, p in named)
        logger.log_metrics({"freeze/stage": -1 if stage is None else stage})
        starts = stage is not None and batch == (self.stages[stage - 1].until if stage else 0)
        ends = stage is None and batch == self.stages[-1].until
        if (starts or ends) and dist.get_global_rank() == 0:
            event: dict[str, Any] = {
                "event": "unfreeze" if stage is None else "freeze_stage",
                "step": batch,
                "tokens": int(state.timestamp.token),
                "stage": len(self.stages) if stage is None else stage,
                "trainable_params": n_all - n_frozen,
                "frozen_params": n_frozen,
                "time": time.time(),
            }
            if stage is not None:
                event["schedule"] = self.stages[stage].describe()
            append_event(self.events_file, event)
        log.info(
            "step %d: %s (%d of %d parameters frozen)",
            batch,
            "all parameters train" if stage is None else self.stages[stage].describe(),
            n_frozen,
            n_all,
        )
        self._stage = stage

    def after_backward(self, state: State, logger: Logger) -> None:
        """Drop the frozen parameters' gradients: the optimizer leaves them and their state."""
        del state, logger
        for p in self._frozen:
            p.grad = None

    def _truncate_events(self, batch: int) -> None:
        """A resumed run redoes the steps from ``batch``: drop our events from there on."""
        events = read_events(self.events_file)
        kept = [e for e in events if e.get("event") not in EVENTS or int(e["step"]) < batch]
        if len(kept) != len(events):
            rewrite_events(self.events_file, kept)

    def state_dict(self) -> dict[str, Any]:
        """The schedule, so a resumed run can refuse a changed past."""
        return {"stages": [[s.until, list(s.patterns), s.train] for s in self.stages]}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Keep the checkpoint's schedule; ``fit_start`` refuses a changed past."""
        self._saved = [
            FreezeStage(int(u), tuple(p), bool(t)) for u, p, t in state.get("stages", [])
        ]

    def fit_end(self, state: State, logger: Logger) -> None:
        """Nothing stays frozen after training."""
        del state, logger
        self._frozen = []
