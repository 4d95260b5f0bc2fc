"""Detect loss spikes and non-finite losses, and record which samples caused them.

Registered as ``csmpt_loss_spike`` (``callbacks_with_config``). CSMPT7b saw spikes and a local
divergence and could not tell which data caused them; llm-foundry's ``kill_loss_spike`` reports
only to the MosaicML platform. This callback, at the end of every batch, checks the global
training loss (and optionally the gradient norm) against a rolling window
(:mod:`csmpt.callbacks.spike_detect`) and, on a spike:

* appends a ``loss_spike`` event to the run's events file (default ``<save_folder>/events.jsonl``,
  flushed and fsynced at once) with step, tokens, loss, window statistics, lr, grad norm, the
  corpus (from ``csmpt_hot_swap``) and every sample of the global batch: rank, position, stream
  folder, shard, index, source document ids (from the data_prep manifest), per-sample loss, and
  ``suspect`` for the samples whose loss stands out;
* logs ``loss_spike/*`` metrics to every Composer logger;
* does ``action``: ``log`` (default: training goes on), ``checkpoint`` (also saves
  ``<save_folder>/spikes/spike-ba<step>-rank<r>.pt``, outside the checkpoint rotation),
  ``stop`` (ends the run cleanly after this batch), or ``skip_step`` (OLMo-core's rule: the
  batch is checked before the optimizer steps, from the microbatch losses all-reduced across
  ranks, and a spike's step is skipped by ``csmpt_lionw``: no weight and no optimizer state
  moves; the event records ``skipped: true`` and the batch's samples; a NaN/inf loss is skipped
  too before ``nonfinite_action`` applies). The LR schedule and the data still advance;
  or ``rollback`` (the PaLM recipe): the weights and optimizer state go back to the newest
  checkpoint at least ``rollback_steps`` before the spike (read from the save folder), the data
  stream and the step counter go on, so the batches after that checkpoint up to the spike are
  skipped, and the ``skip_batches`` batches after the spike are skipped too (csmpt_lionw's skip
  flag); a ``rollback`` event lists the skipped steps. A ``reset_optimizer`` hot swap made
  after that checkpoint is applied again (``optimizer_reset_again``: its step), so the rollback
  does not bring back the momentum the swap cleared. Step numbers keep naming the same data, so
  ``csmpt inspect-batch`` still prints any step's batch. More than ``max_rollbacks`` rollbacks
  within ``rollback_window`` steps stop the run with a one-line error instead of looping. Keep
  checkpoints far enough back (``save_num_checkpoints_to_keep``).

A non-finite loss is a ``nonfinite_loss`` event; with ``nonfinite_action: stop`` (default) the
run stops at once with an error naming the step and the batch's suspects, before a checkpoint of
the broken weights can be written.

Resumption: the window is in ``state_dict``, so a resumed run flags the same steps; events already
in the file are kept, and a replayed step does not write its event twice.

YAML keys (all optional)::

    callbacks:
      csmpt_loss_spike:
        window: 100            # values in the rolling window
        warmup: 20             # values needed before anything is flagged
        ratio: 1.5             # spike if loss >= ratio * window mean (null: off)
        zscore: 6.0            # spike if (loss - mean) / max(std, min_std) >= zscore (null: off)
        min_std: 0.01
        grad_norm: false       # also check the gradient norm (computed after backward)
        action: log            # log | checkpoint | stop | skip_step | rollback (csmpt_lionw)
        rollback_steps: 100    # rollback: to the newest checkpoint at least this far back
        skip_batches: 0        # rollback: also skip this many batches after the spike
        max_rollbacks: 3       # rollback: at most this many ...
        rollback_window: 1000  # ... within this many steps, else the run stops
        restart_at_swap: false # true: a hot swap's new corpus starts the windows over
        max_consecutive: 20    # this many spikes in a row: a new loss level, windows start over
        nonfinite_action: stop # stop | log
        events_file: null      # default <save_folder>/events.jsonl
        suspect_zscore: 3.5    # robust z-score of a sample's loss in its batch -> suspect
        doc_ids_max_samples: 100000  # look up document ids in folders up to this size
"""

from __future__ import annotations

import logging
import math
import time
from pathlib import Path
from typing import Any, ClassVar

import torch
from composer.core import Callback, State
from composer.loggers import Logger
from composer.utils import dist

from csmpt.callbacks.hot_swap import HotSwap, zero_optimizer_state
from csmpt.callbacks.packed_state import pack, unpack
from csmpt.callbacks.spike_detect import RollingWindow, SpikeCheck, SpikeRule
from csmpt.errors import ConfigError, CsmptError
from csmpt.run_folder import EVENTS_FILE, append_event, read_events
from csmpt.training.resume_guard import DEFAULT_FILENAME, checkpoint_names

__all__ = ["LossSpike", "LossSpikeError", "NonFiniteLossError"]

log = logging.getLogger(__name__)

ACTIONS = ("log", "checkpoint", "stop", "skip_step", "rollback")


class NonFiniteLossError(CsmptError):
    """Training stopped because the loss was NaN or infinite."""


class LossSpikeError(CsmptError):
    """A rollback on a loss spike was impossible or too frequent."""


def _saved_state(state: State, path: Path) -> dict[str, Any]:
    """The model and optimizer state of a checkpoint, in the form ``state`` loads.

    A monolithic checkpoint is one file; a sharded one (FSDP with ``state_dict_type: sharded``)
    is a torch distributed checkpoint folder, which every rank reads into its own shards of the
    current model's and optimizer's state dicts (all ranks roll back together).
    """
    if not path.is_dir():
        return torch.load(path, map_location="cpu", weights_only=False)["state"]
    from torch.distributed.checkpoint import FileSystemReader
    from torch.distributed.checkpoint import load as dcp_load

    wanted = {"model": state.get_model_state_dict(), "optimizers": state.get_optim_state_dict()}
    holder = {"state": wanted}
    planner = state.fsdp_config.load_planner if state.fsdp_config is not None else None
    with torch.no_grad():  # the loaded values are copied into the live shards, as Composer does
        dcp_load(holder, storage_reader=FileSystemReader(str(path)), planner=planner)
    return holder["state"]


class LossSpike(Callback):
    """Log loss spikes and non-finite losses with the batch's samples (``csmpt_loss_spike``).

    Args:
        train_config: The whole train config (passed by llm-foundry).
        window: Values in the rolling window.
        warmup: Values the window needs before a spike is flagged.
        ratio: Spike when ``loss >= ratio * mean``; None turns the rule off.
        zscore: Spike when ``(loss - mean) / max(std, min_std) >= zscore``; None turns it off.
        min_std: Floor of the window's standard deviation.
        grad_norm: Also check the gradient norm (one norm per microbatch).
        action: ``log``, ``checkpoint``, ``stop``, ``skip_step`` or ``rollback`` on a spike.
        nonfinite_action: ``stop`` (raise, naming the step) or ``log`` on a NaN/inf loss.
        events_file: JSONL events file; default ``<save_folder>/events.jsonl``.
        suspect_zscore: A sample whose loss is this many robust standard deviations above the
            batch median is a suspect.
        doc_ids_max_samples: Resolve document ids only in MDS folders of at most this many
            samples (the lookup reads the folder once); null for no limit.
        rollback_steps: ``rollback``: go back to a checkpoint at least this many steps back.
        skip_batches: ``rollback``: batches after the spike skipped as well.
        max_rollbacks: ``rollback``: most rollbacks allowed within ``rollback_window`` steps.
        rollback_window: ``rollback``: the window of ``max_rollbacks``, in steps.
        restart_at_swap: Start the windows over (``warmup`` again) when ``csmpt_hot_swap``
            installs a new corpus: its loss level is its own, and spikes never enter a window,
            so a lasting jump to a harder corpus would be flagged (and with ``skip_step``
            skipped) at every step from then on.
        max_consecutive: After this many spikes in a row, take them as a lasting change of the
            loss level (a shift in the data, a new learning rate) rather than spikes: the windows
            start over (``warmup`` again) and a warning says so. Without it such a shift is a
            spike at every later step (with ``skip_step``: no step trains again). None: off.
    """

    events_file_kwarg: ClassVar[str] = "events_file"  # how csmpt.run_events finds its file

    def __init__(
        self,
        train_config: dict[str, Any],
        window: int = 100,
        warmup: int = 20,
        ratio: float | None = 1.5,
        zscore: float | None = 6.0,
        min_std: float = 0.01,
        grad_norm: bool = False,
        action: str = "log",
        nonfinite_action: str = "stop",
        events_file: str | None = None,
        suspect_zscore: float = 3.5,
        doc_ids_max_samples: int | None = 100_000,
        rollback_steps: int = 100,
        skip_batches: int = 0,
        max_rollbacks: int = 3,
        rollback_window: int = 1000,
        restart_at_swap: bool = False,
        max_consecutive: int | None = 20,
    ) -> None:
        where = "callbacks.csmpt_loss_spike"
        if action not in ACTIONS:
            raise ConfigError(f"{where}.action: '{action}' is not one of {', '.join(ACTIONS)}")
        if nonfinite_action not in ("stop", "log"):
            raise ConfigError(f"{where}.nonfinite_action: '{nonfinite_action}' is not stop or log")
        try:
            self.rule = SpikeRule(ratio=ratio, zscore=zscore, warmup=warmup, min_std=min_std)
            self.losses = RollingWindow(window, self.rule)
            self.grad_norms = RollingWindow(window, self.rule) if grad_norm else None
        except ValueError as e:
            raise ConfigError(f"{where}: {e}") from None
        folder = train_config.get("save_folder")
        if events_file is None and (not folder or "://" in str(folder)):
            raise ConfigError(f"{where}: set `events_file:` (no local save_folder to put it in)")
        self.events_file = Path(events_file or Path(str(folder)) / EVENTS_FILE)
        self.spike_dir = self.events_file.parent / "spikes"
        self.action = action
        self.nonfinite_action = nonfinite_action
        self.suspect_zscore = suspect_zscore
        self.doc_ids_max_samples = doc_ids_max_samples
        self.count = 0
        self._recorded: set[tuple[str, int]] = set()
        self._lr = math.nan
        self._grad_norm: float | None = None
        self._loss_sum = 0.0  # skip_step: this rank's sample-weighted microbatch losses
        self._loss_n = 0
        self._decided: tuple[float, SpikeCheck | None, SpikeCheck | None, bool] | None = None
        if min(rollback_steps, skip_batches, max_rollbacks, rollback_window) < 0:
            raise ConfigError(f"{where}: rollback settings must not be negative")
        self.rollback_steps, self.skip_batches = rollback_steps, skip_batches
        self.max_rollbacks, self.rollback_window = max_rollbacks, rollback_window
        self.save_folder = Path(str(folder)) if folder and "://" not in str(folder) else None
        self.restart_at_swap = restart_at_swap
        if max_consecutive is not None and max_consecutive < 1:
            raise ConfigError(
                f"{where}.max_consecutive: at least 1 (or null), got {max_consecutive}"
            )
        self.max_consecutive = max_consecutive
        self._consecutive = 0  # spikes in a row
        self._restarted_at: int | None = None  # the step max_consecutive last restarted at
        self._corpus_start: int | None = None  # the step the current corpus started at
        self.save_filename = str(train_config.get("save_filename") or DEFAULT_FILENAME)
        names = checkpoint_names(train_config)
        # a sharded run (FSDP, state_dict_type: sharded) saves DCP folders: roll back to those
        self.sharded_dir = names.sharded_dir if names is not None else None
        if action == "rollback" and self.save_folder is None:
            raise ConfigError(f"{where}.action: rollback needs a local save_folder")
        self.rollbacks: list[dict[str, Any]] = []  # {"step", "to"} of every rollback
        self._skip_until = 0  # rollback: steps up to this one are skipped (skip_batches)

    # --- Composer events ----------------------------------------------------------------

    def fit_start(self, state: State, logger: Logger) -> None:
        """Remember the events already recorded; with ``skip_step``, hook into csmpt_lionw."""
        del logger
        self._recorded = {
            (str(e.get("event")), int(e.get("step", -1))) for e in read_events(self.events_file)
        }
        if self.action not in ("skip_step", "rollback"):
            return
        from csmpt.optim.lionw import LionW

        optimizers = [o for o in state.optimizers if isinstance(o, LionW)]
        if not optimizers or len(optimizers) != len(state.optimizers):
            raise ConfigError(
                f"callbacks.csmpt_loss_spike.action: {self.action} needs the optimizer csmpt_lionw "
                f"(this run has {', '.join(type(o).__name__ for o in state.optimizers)})"
            )
        for optimizer in optimizers:
            if self.action == "skip_step":
                optimizer.skip_fn = lambda state=state: self._decide_skip(state)
            else:  # rollback: skip the skip_batches steps after a spike
                optimizer.skip_fn = lambda state=state: (
                    int(state.timestamp.batch) < self._skip_until
                )

    def before_train_batch(self, state: State, logger: Logger) -> None:
        """Start summing this batch's microbatch losses (``skip_step``)."""
        del state, logger
        self._loss_sum, self._loss_n, self._decided = 0.0, 0, None

    def after_loss(self, state: State, logger: Logger) -> None:
        """Add the microbatch's loss, weighted by its samples (``skip_step``)."""
        del logger
        if self.action != "skip_step":
            return
        loss = state.loss["total"] if isinstance(state.loss, dict) else state.loss
        n = int(state.batch["input_ids"].shape[0])
        self._loss_sum += float(torch.as_tensor(loss).detach().float().mean()) * n
        self._loss_n += n

    def _decide_skip(self, state: State) -> bool:
        """Whether csmpt_lionw skips this step: is the batch a spike on any rank."""
        if self._decided is not None:  # one decision per batch, for every optimizer
            return self._decided[3]
        totals = state.device.tensor_to_device(
            torch.tensor([self._loss_sum, float(self._loss_n)], dtype=torch.float64)
        )
        dist.all_reduce(totals)
        loss = float(totals[0] / totals[1]) if float(totals[1]) > 0 else math.nan
        check = grad_check = None
        if math.isfinite(loss):
            self._restart_at_swap(state)
            check = self.losses.push(loss)
            if self.grad_norms is not None and self._grad_norm is not None:
                grad_check = self.grad_norms.push(self._grad_norm)
            skip = check.spike or (grad_check is not None and grad_check.spike)
        else:
            skip = True
        flag = state.device.tensor_to_device(torch.tensor([int(skip)]))
        dist.all_reduce(flag, reduce_operation="MAX")
        if math.isfinite(loss):  # the same verdict on every rank
            self._count_spikes(bool(flag.item()), int(state.timestamp.batch) + 1)
        self._decided = (loss, check, grad_check, bool(flag.item()))
        return self._decided[3]

    def batch_start(self, state: State, logger: Logger) -> None:
        """Note the learning rate this batch trains with."""
        del logger
        if state.optimizers:
            self._lr = float(state.optimizers[0].param_groups[0]["lr"])

    def after_backward(self, state: State, logger: Logger) -> None:
        """Gradient norm (of the gradients accumulated so far) when ``grad_norm`` is on."""
        del logger
        if self.grad_norms is None:
            return
        grads = [p.grad for p in state.model.parameters() if p.grad is not None]
        if grads:
            sq = torch.stack([torch.linalg.vector_norm(g.float()) ** 2 for g in grads]).sum()
            if state.fsdp_enabled:
                dist.all_reduce(sq)
            self._grad_norm = float(sq.sqrt())

    def batch_end(self, state: State, logger: Logger) -> None:
        """Check the step's loss (and grad norm); record and act on a spike or a NaN."""
        loss = (state.total_loss_dict or {}).get("loss/train/total")
        if loss is None:
            return
        loss = float(loss)
        step = int(state.timestamp.batch)
        if not math.isfinite(loss):
            self._nonfinite(state, logger, step, loss)
            return
        if self._decided is not None:  # skip_step: checked before the optimizer stepped
            _, decided_check, grad_check, skipped = self._decided
            self._decided = None
            if skipped and decided_check is not None:
                self._spike(state, logger, step, loss, decided_check, grad_check)
            return
        self._restart_at_swap(state)
        check = self.losses.push(loss)
        grad_check = None
        if self.grad_norms is not None and self._grad_norm is not None:
            grad_check = self.grad_norms.push(self._grad_norm)
        spike = check.spike or (grad_check is not None and grad_check.spike)
        self._count_spikes(spike, step)
        if spike:
            self._spike(state, logger, step, loss, check, grad_check)

    def _count_spikes(self, spike: bool, step: int) -> None:
        """After ``max_consecutive`` spikes in a row, start the windows over (a new level)."""
        self._consecutive = self._consecutive + 1 if spike else 0
        if self.max_consecutive is None or self._consecutive < self.max_consecutive:
            return
        self._clear_windows()
        self._consecutive = 0
        self._restarted_at = step
        log.warning(
            "%d loss spikes in a row up to step %d: taken as a new loss level, not spikes; the "
            "spike window starts over (%d steps of warmup)",
            self.max_consecutive,
            step,
            self.rule.warmup,
        )

    def _clear_windows(self) -> None:
        """Forget the window values: the next ``warmup`` checks flag nothing."""
        self.losses.load_state_dict([])
        if self.grad_norms is not None:
            self.grad_norms.load_state_dict([])

    def _restart_at_swap(self, state: State) -> None:
        """Empty the windows when a hot swap has started a new corpus since the last check."""
        corpus, start = self._corpus(state)
        if self._corpus_start is not None and start != self._corpus_start and self.restart_at_swap:
            self._clear_windows()
            log.info("loss-spike windows restarted: corpus %s since step %d", corpus, start)
        self._corpus_start = start

    # --- spikes ---------------------------------------------------------------------------

    def _corpus(self, state: State) -> tuple[str, int]:
        for cb in state.callbacks:
            if isinstance(cb, HotSwap):
                return cb.current_corpus(), cb.corpus_start_step()
        return "train_loader", 0

    def _event(self, state: State, name: str, step: int, loss: float) -> dict[str, Any]:
        from csmpt.forensics.live_batch import live_batch_samples

        corpus, start = self._corpus(state)
        samples = live_batch_samples(
            state, step, start, corpus, self.suspect_zscore, self.doc_ids_max_samples
        )
        return {
            "event": name,
            "step": step,
            "tokens": int(state.timestamp.token),
            "time": time.time(),
            "loss": loss,
            "lr": self._lr,
            "grad_norm": self._grad_norm,
            "corpus": corpus,
            "world_size": dist.get_world_size(),
            "suspects": [(s["rank"], s["position"]) for s in samples if s.get("suspect")],
            "samples": samples,
        }

    def _write(self, event: dict[str, Any]) -> None:
        key = (event["event"], event["step"])
        if dist.get_global_rank() != 0:
            return
        if key in self._recorded:
            log.info("%s at step %d is already in %s", *key, self.events_file)
            return
        append_event(self.events_file, event)
        self._recorded.add(key)

    def _spike(
        self,
        state: State,
        logger: Logger,
        step: int,
        loss: float,
        check: SpikeCheck,
        grad_check: SpikeCheck | None,
    ) -> None:
        self.count += 1
        event = self._event(state, "loss_spike", step, loss)
        event.update(window=check.as_dict(), action=self.action)
        if self.action == "skip_step":
            event["skipped"] = True
        if self._restarted_at == step:
            event["window_restarted"] = f"{self.max_consecutive} spikes in a row: a new level"
        if grad_check is not None:
            event["grad_norm_window"] = grad_check.as_dict()
        if self.action == "checkpoint":
            from composer.utils.checkpoint import save_checkpoint

            self.spike_dir.mkdir(parents=True, exist_ok=True)
            path = save_checkpoint(state, str(self.spike_dir / "spike-ba{batch}-rank{rank}.pt"))
            event["checkpoint"] = str(path) if path else None
        log.warning(
            "loss spike at step %d: loss %.4f, window mean %.4f (x%.2f, z %.1f), suspects %s",
            step,
            loss,
            check.mean,
            check.ratio,
            check.zscore,
            event["suspects"],
        )
        logger.log_metrics(
            {
                "loss_spike/loss": loss,
                "loss_spike/window_mean": check.mean,
                "loss_spike/ratio": check.ratio,
                "loss_spike/zscore": check.zscore,
                "loss_spike/count": self.count,
                "loss_spike/suspects": len(event["suspects"]),
            }
        )
        self._write(event)
        if self.action == "stop":
            log.warning("stopping the run after the loss spike at step %d (action: stop)", step)
            state.stop_training()
        if self.action == "rollback":
            self._rollback(state, logger, step)

    def _rollback(self, state: State, logger: Logger, step: int) -> None:
        """Load the weights and optimizer state of a checkpoint before ``step``; go on."""
        from csmpt.training.resume_guard import checkpoint_problem, list_checkpoints

        recent = [r for r in self.rollbacks if r["step"] > step - self.rollback_window]
        if len(recent) >= self.max_rollbacks:
            at = f" (at steps {', '.join(str(r['step']) for r in recent)})" if recent else ""
            raise LossSpikeError(
                f"loss spike at step {step}: {len(recent)} rollbacks within "
                f"{self.rollback_window} steps already{at}, max_rollbacks is "
                f"{self.max_rollbacks}: the run stops instead of looping; inspect the batches "
                "with csmpt inspect-batch, then resume"
            )
        assert self.save_folder is not None
        candidates = [
            c
            for c in list_checkpoints(self.save_folder, self.save_filename, self.sharded_dir)
            if c.batch <= step - self.rollback_steps and checkpoint_problem(c.path) is None
        ]
        if not candidates:
            raise LossSpikeError(
                f"loss spike at step {step}: no valid checkpoint at or before step "
                f"{step - self.rollback_steps} in {self.save_folder} to roll back to "
                "(rollback_steps; keep more with save_num_checkpoints_to_keep)"
            )
        target = candidates[-1]
        saved = _saved_state(state, target.path)
        state.load_model_state(saved, logger, strict=True)
        state.load_optim_state(saved)
        # A reset_optimizer swap since that checkpoint: its reset was just undone; redo it.
        resets = [
            s
            for cb in state.callbacks
            if isinstance(cb, HotSwap)
            for s in cb.resets_since(target.batch)
        ]
        if resets:
            zero_optimizer_state(state)
        self._skip_until = step + self.skip_batches  # steps after the spike up to this one
        skipped = list(range(target.batch + 1, self._skip_until + 1))
        record = {"step": step, "to": target.batch}
        self.rollbacks.append(record)
        self._write(
            {
                "event": "rollback",
                "step": step,
                "tokens": int(state.timestamp.token),
                "time": time.time(),
                "to": target.batch,
                "checkpoint": str(target.path),
                "skipped_steps": skipped,
                "optimizer_reset_again": resets,
                "rollbacks_in_window": len(recent) + 1,
            }
        )
        logger.log_metrics({"loss_spike/rollback_to": target.batch})
        log.warning(
            "loss spike at step %d: rolled back to the checkpoint of step %d; steps %d-%d skipped",
            step,
            target.batch,
            skipped[0],
            skipped[-1],
        )

    def _nonfinite(self, state: State, logger: Logger, step: int, loss: float) -> None:
        event = self._event(state, "nonfinite_loss", step, loss)
        event["action"] = self.nonfinite_action
        logger.log_metrics({"nonfinite_loss/step": step})
        self._write(event)
        where = ", ".join(
            f"rank {s['rank']} #{s['position']} ({s.get('folder', '?')} sample "
            f"{s.get('index_in_stream', '?')})"
            for s in event["samples"]
            if s.get("suspect")
        )
        message = (
            f"loss is {loss} at step {step} (corpus {event['corpus']}); "
            f"suspect samples: {where or 'none stands out'}; the batch is in {self.events_file}, "
            f"print it with: csmpt inspect-batch --run {self.events_file.parent} --step {step}"
        )
        if self.nonfinite_action == "stop":
            raise NonFiniteLossError(message)
        log.error(message)

    # --- resumption -----------------------------------------------------------------------

    def state_dict(self) -> dict[str, Any]:
        """The windows and the spike count."""
        return {
            "losses": self.losses.state_dict(),
            "grad_norms": self.grad_norms.state_dict() if self.grad_norms else [],
            "count": self.count,
            "rollbacks": pack(self.rollbacks),  # a list of records: packed for DCP
            "skip_until": self._skip_until,
            "corpus_start": self._corpus_start,
            "consecutive": self._consecutive,
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore :meth:`state_dict`."""
        self.losses.load_state_dict(state.get("losses", []))
        if self.grad_norms is not None:
            self.grad_norms.load_state_dict(state.get("grad_norms", []))
        self.count = int(state.get("count", 0))
        self.rollbacks = list(unpack(state.get("rollbacks")) or [])
        self._skip_until = int(state.get("skip_until", 0))
        self._consecutive = int(state.get("consecutive", 0))
        start = state.get("corpus_start")
        self._corpus_start = None if start is None else int(start)
