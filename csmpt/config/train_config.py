"""What llm-foundry's train config accepts: its top-level keys, and the values csmpt checks.

The key list mirrors ``llmfoundry.utils.config_utils.TrainConfig`` (a test keeps them equal), so
checking a recipe does not import llm-foundry (9 s) before telling a user about a typo.
:func:`value_problem` checks the types and ranges of the keys a recipe sets, where llm-foundry
would fail after minutes of start-up, or, for a negative batch size, not at all.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

__all__ = ["FSDP_VERSIONS", "TRAIN_KEYS", "TIME_UNITS", "fsdp_version_problem", "value_problem"]

# llm-foundry 0.22.0's TrainConfig fields, less n_gpus and device_train_grad_accum (filled in by
# llm-foundry, never by the user).
TRAIN_KEYS: frozenset[str] = frozenset(
    """model tokenizer optimizer scheduler train_loader device_train_batch_size
    device_eval_batch_size max_duration max_seq_len seed precision code_paths max_split_size_mb
    expandable_segments cuda_load_lazy dist_timeout fsdp_config tp_config
    accumulate_train_batch_on_tokens eval_interval eval_loader eval_loaders icl_tasks
    icl_tasks_str eval_gauntlet eval_gauntlet_str icl_subset_num_batches icl_seq_len loggers
    progress_bar log_to_console python_log_level console_log_interval log_config callbacks
    algorithms save_folder save_latest_filename save_overwrite save_weights_only save_filename
    save_interval save_num_checkpoints_to_keep load_path load_weights_only
    load_strict_model_weights load_ignore_keys save_ignore_keys only_hf_checkpoint
    only_composer_checkpoint train_subset_num_batches device_train_microbatch_size
    global_train_batch_size spin_dataloaders eval_subset_num_batches eval_first compile_config
    metadata flatten_metadata run_name autoresume profiler variables""".split()
)

TIME_UNITS = ("ba", "ep", "tok", "sp", "dur")
_TIME = re.compile(r"^\s*(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?\s*(" + "|".join(TIME_UNITS) + r")\s*$")
PRECISIONS = ("fp32", "amp_bf16", "amp_fp16", "amp_fp8")


def _int(value: Any) -> int | None:
    """``value`` as an int (YAML int or a string of digits), else None (bools are not ints)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and re.fullmatch(r"\s*[+-]?\d+\s*", value):
        return int(value)
    return None


def _number(value: Any) -> float | None:
    """``value`` as a float (YAML number or a numeric string such as ``1e-4``), else None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return None
    return None


def _positive_int(value: Any) -> str | None:
    n = _int(value)
    return None if n is not None and n > 0 else "a positive integer"


def _non_negative_int(value: Any) -> str | None:
    n = _int(value)
    return None if n is not None and n >= 0 else "an integer >= 0"


def _positive_number(value: Any) -> str | None:
    x = _number(value)
    return None if x is not None and x > 0 else "a positive number"


def _non_negative_number(value: Any) -> str | None:
    x = _number(value)
    return None if x is not None and x >= 0 else "a number >= 0"


def _microbatch(value: Any) -> str | None:
    if value == "auto":
        return None
    return None if _positive_number(value) is None else "a positive integer or 'auto'"


def _duration(value: Any) -> str | None:
    n = _int(value)
    if n is not None:
        return None if n > 0 else "a positive integer or a time such as 10ba"
    m = _TIME.match(value) if isinstance(value, str) else None
    if m is not None and float(m.group(1) + (m.group(3) or "")) > 0:
        return None
    return f"a positive integer or a time such as 10ba ({', '.join(TIME_UNITS)})"


def _max_duration(value: Any) -> str | None:
    """A positive time with its unit: a bare ``100`` is 100 epochs to Composer, not batches."""
    if _int(value) is not None:
        return (
            "a time with its unit, such as 100ba or 1ep (a bare number is epochs to Composer: "
            f"{value} would train {value} epochs)"
        )
    if _duration(value) is None:
        return None
    return f"a positive time with its unit, such as 100ba or 1ep ({', '.join(TIME_UNITS)})"


def _time_from_zero(value: Any) -> str | None:
    """A time that may be 0 (a warmup, a decay): ``0ba``, ``4ba``, ``0.1dur``; never negative."""
    n = _int(value)
    if n is not None:
        return None if n >= 0 else "a time >= 0 such as 0ba or 100ba"
    if isinstance(value, str) and _TIME.match(value) is not None:
        return None  # the pattern has no sign: never negative
    return f"a time >= 0 such as 0ba or 100ba ({', '.join(TIME_UNITS)})"


def _bool(value: Any) -> str | None:
    return None if isinstance(value, bool) else "true or false"


def _precision(value: Any) -> str | None:
    return None if value in PRECISIONS else " | ".join(PRECISIONS)


FSDP_VERSIONS = ("1", "2")


def fsdp_version_problem(value: Any) -> str | None:
    """None if ``value`` is an FSDP version (``fsdp_config.version``), else the allowed values."""
    ok = not isinstance(value, bool) and str(value).strip() in FSDP_VERSIONS
    return None if ok else "1 (FSDP1, Composer's default) or 2 (FSDP2: fully_shard, DCP)"


# Dotted key -> check returning the allowed values when the value is not allowed.
CHECKS: dict[str, Callable[[Any], str | None]] = {
    "max_seq_len": _positive_int,
    "global_train_batch_size": _positive_int,
    "device_train_batch_size": _positive_number,
    "device_eval_batch_size": _positive_number,
    "device_train_microbatch_size": _microbatch,
    "icl_seq_len": _positive_int,
    "seed": _non_negative_int,
    "max_duration": _max_duration,
    "eval_interval": _duration,
    "save_interval": _duration,  # 0ba never saved: a preempted run lost everything
    "precision": _precision,
    "autoresume": _bool,
    "save_overwrite": _bool,
    "save_weights_only": _bool,
    "load_weights_only": _bool,
    "eval_first": _bool,
    "optimizer.lr": _positive_number,
    "optimizer.weight_decay": _non_negative_number,
    "optimizer.eps": _non_negative_number,
    "scheduler.alpha_f": _non_negative_number,
    "scheduler.t_warmup": _time_from_zero,  # -5ba trained as if no warmup, exit 0
    "scheduler.t_decay": _time_from_zero,
    "scheduler.t_max": _duration,
    "model.d_model": _positive_int,
    "model.n_heads": _positive_int,
    "model.n_layers": _positive_int,
    "model.vocab_size": _positive_int,
    "train_loader.num_workers": _non_negative_int,
    "fsdp_config.version": fsdp_version_problem,
}


def value_problem(cfg: dict[str, Any]) -> tuple[str, Any, str] | None:
    """The first key of a resolved train config whose value is out of type or range.

    Args:
        cfg: The resolved train config (a plain dict).

    Returns:
        ``(dotted key, value, allowed values)``, or None when every checked key is fine.
    """
    for key, check in CHECKS.items():
        node: Any = cfg
        for part in key.split("."):
            node = node.get(part, None) if isinstance(node, dict) else None
        if node is None:
            continue
        allowed = check(node)
        if allowed is not None:
            return key, node, allowed
    return None
