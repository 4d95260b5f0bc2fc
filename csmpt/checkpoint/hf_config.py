"""Real hub configs in: one normalisation for surgery, export, eval and training from HF folders.

The ``config.json`` the HF hub serves for a base model is older than llm-foundry 0.22: MPT-7B's
carries ``attn_config.prefix_lm: false``, which llm-foundry's ``MultiheadAttention`` rejects
(TypeError). :func:`normalise_config` drops such keys when their value is the one that changes
nothing (the key is then reported: ``attn_config.prefix_lm=False``), and raises a one-line
:class:`~csmpt.errors.ConfigError` naming the key when its value changes the computation and
llm-foundry cannot honour it (``prefix_lm: true``). Keys llm-foundry still understands
(``attn_uses_sequence_id``, ``learned_pos_emb`` with ALiBi, which MPTConfig turns off itself)
are left alone.

:func:`default_tied` answers "tied or untied?" the way ``transformers`` does when a config has
no ``tie_word_embeddings``: by the model type's config class default (Llama and Mistral untied,
MPT tied).
"""

from __future__ import annotations

import hashlib
import inspect
import json
import logging
import os
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from csmpt.atomic import publish_dir
from csmpt.errors import ConfigError

__all__ = [
    "MPT_NOOP_ATTN_KEYS",
    "NormalisedConfig",
    "default_tied",
    "normalise_config",
    "normalised_hf_dir",
]

log = logging.getLogger(__name__)

# attn_config keys of older MPT configs that llm-foundry 0.22 rejects, with the value that means
# "feature off" (the computation llm-foundry does anyway).
MPT_NOOP_ATTN_KEYS: dict[str, Any] = {"prefix_lm": False}


@dataclass
class NormalisedConfig:
    """A config llm-foundry 0.22 / transformers 4.51 accept, and what was changed to get it.

    Attributes:
        config: The normalised config (a new dict; the input is not modified).
        dropped: ``key=value`` of every key removed (empty when the config was already fine).
    """

    config: dict[str, Any]
    dropped: list[str] = field(default_factory=list)


def _mpt_attn_keys() -> set[str]:
    from llmfoundry.models.utils.config_defaults import attn_config_defaults

    return set(attn_config_defaults)


def normalise_config(config: dict[str, Any], source: object = "config.json") -> NormalisedConfig:
    """``config`` with the keys llm-foundry rejects but that carry no meaning removed.

    Args:
        config: An HF ``config.json`` content.
        source: Where it came from (named in the log line and in errors).

    Raises:
        ConfigError: A key changes the computation and llm-foundry cannot honour it.
    """
    cfg = dict(config)
    dropped: list[str] = []
    if cfg.get("model_type") == "mpt" and isinstance(cfg.get("attn_config"), dict):
        attn = dict(cfg["attn_config"])
        known = _mpt_attn_keys()
        for key in sorted(set(attn) - known):
            value = attn[key]
            if key in MPT_NOOP_ATTN_KEYS and value == MPT_NOOP_ATTN_KEYS[key]:
                del attn[key]
                dropped.append(f"attn_config.{key}={value!r}")
            else:
                raise ConfigError(
                    f"{source}: config key 'attn_config.{key}' = {value!r} changes the model's "
                    "computation and llm-foundry 0.22 cannot honour it"
                )
        cfg["attn_config"] = attn
    if dropped:
        log.info("%s: normalised for llm-foundry 0.22: dropped %s", source, ", ".join(dropped))
    return NormalisedConfig(cfg, dropped)


def default_tied(model_type: str | None) -> bool:
    """Whether a ``model_type`` ties its embeddings when ``tie_word_embeddings`` is absent.

    The default of the model type's config class (``LlamaConfig``: False, llm-foundry's
    ``MPTConfig``: True); ``PretrainedConfig``'s True for an unknown type.
    """
    cls: Any
    if model_type == "mpt":
        from llmfoundry.models.mpt import MPTConfig

        cls = MPTConfig
    else:
        from transformers import PretrainedConfig
        from transformers.models.auto.configuration_auto import CONFIG_MAPPING

        cls = CONFIG_MAPPING[model_type] if model_type in CONFIG_MAPPING else PretrainedConfig
    param = inspect.signature(cls.__init__).parameters.get("tie_word_embeddings")
    if param is None or param.default is inspect.Parameter.empty:
        return True
    return bool(param.default)


def normalised_hf_dir(path: str | Path) -> str | Path:
    """An HF folder whose config llm-foundry 0.22 accepts: ``path`` itself, or a normalised view.

    A folder whose ``config.json`` needs no normalisation is returned unchanged (so is a hub
    name). Otherwise (MPT-7B as downloaded from the hub) a view folder is made once under
    ``$TMPDIR/csmpt-hf-views/``: the normalised config, llm-foundry's MPT modeling code (the
    hub's own code predates transformers 4.51), and symlinks to the weights and tokenizer files.
    Eval and training load the view; nothing is copied.

    Raises:
        ConfigError: The config has a key that changes the computation and cannot be honoured.
    """
    src = Path(path).expanduser()
    cfg_path = src / "config.json"
    if not cfg_path.is_file():
        return path
    config = json.loads(cfg_path.read_text(encoding="utf-8"))
    norm = normalise_config(config, cfg_path)
    if not norm.dropped:
        return path
    stamp = f"{src.resolve()}:{cfg_path.stat().st_mtime_ns}".encode()
    view = Path(tempfile.gettempdir()) / "csmpt-hf-views" / hashlib.sha1(stamp).hexdigest()[:16]
    if (view / "config.json").is_file():
        return view
    from csmpt.checkpoint.hf_folder import write_hf_config

    tmp = view.with_name(f"{view.name}.tmp-{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    for f in src.iterdir():
        if f.name != "config.json" and f.suffix != ".py":
            (tmp / f.name).symlink_to(f.resolve())
    write_hf_config(tmp, norm.config)
    publish_dir(tmp, view)  # False: another rank made it first
    log.info("%s: loading through the normalised view %s", src, view)
    return view
