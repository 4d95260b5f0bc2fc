"""Real hub configs in: one normalisation for surgery, export, eval and training from HF folders.

The ``config.json`` the HF hub serves for a base model is older than llm-foundry 0.22: MPT-7B's
carries ``attn_config.prefix_lm: false``, which llm-foundry's ``MultiheadAttention`` rejects
(TypeError). :func:`normalise_config` drops such keys when their value is the one that changes
nothing (the key is then reported: ``attn_config.prefix_lm=False``), and raises a one-line
:class:`~csmpt.errors.ConfigError` naming the key when its value changes the computation and
llm-foundry cannot honour it (``prefix_lm: true``). Keys llm-foundry still understands
(``attn_uses_sequence_id``, ``learned_pos_emb`` with ALiBi, which MPTConfig turns off itself)
are left alone.

Top-level keys the model type's config class does not know (``transformers`` keeps them as
attributes nobody reads) are reported, not silently carried: MPT-7B's ``verbose=0`` is listed in
``ignored``. An unknown key that is a near-miss of a known one the config lacks (``n_layer`` for
``n_layers``) is a typo that would silently give the default: a one-line :class:`ConfigError`.

:func:`default_tied` answers "tied or untied?" the way ``transformers`` does when a config has
no ``tie_word_embeddings``: by the model type's config class default (Llama and Mistral untied,
MPT tied).
"""

from __future__ import annotations

import difflib
import functools
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
        ignored: ``key=value`` of every top-level key the config class does not know (kept in
            the config, read by nothing).
    """

    config: dict[str, Any]
    dropped: list[str] = field(default_factory=list)
    ignored: list[str] = field(default_factory=list)

    @property
    def changes(self) -> list[str]:
        """What a report lists: the dropped keys, then the ignored ones marked as such."""
        return [*self.dropped, *(f"{k} (unknown, ignored)" for k in self.ignored)]


# Keys every HF config may carry that no config class takes as an argument.
HF_METADATA_KEYS = frozenset(
    {"architectures", "auto_map", "model_type", "transformers_version", "_name_or_path",
     "_commit_hash", "torch_dtype", "tokenizer_name", "quantization_config"}
)  # fmt: skip


@functools.cache
def known_config_keys(model_type: str) -> frozenset[str] | None:
    """The top-level keys ``model_type``'s config class understands; None for an unknown type."""
    from transformers import PretrainedConfig

    cls: Any
    if model_type == "mpt":
        from llmfoundry.models.mpt import MPTConfig

        cls = MPTConfig
    else:
        from transformers.models.auto.configuration_auto import CONFIG_MAPPING

        if model_type not in CONFIG_MAPPING:
            return None
        cls = CONFIG_MAPPING[model_type]
    keys = set(PretrainedConfig().to_dict()) | set(HF_METADATA_KEYS)
    for c in (PretrainedConfig, cls):
        keys |= set(inspect.signature(c.__init__).parameters) - {"self", "kwargs"}
    keys |= set(getattr(cls, "attribute_map", {}))
    return frozenset(keys)


def _unknown_keys(cfg: dict[str, Any], source: object) -> list[str]:
    """``key=value`` of the top-level keys the config class ignores; a near-miss is an error."""
    model_type = cfg.get("model_type")
    known = known_config_keys(model_type) if isinstance(model_type, str) else None
    if known is None:
        return []
    ignored = []
    for key in sorted(set(cfg) - known):
        near = difflib.get_close_matches(key, sorted(known - set(cfg)), n=1, cutoff=0.85)
        if near:
            raise ConfigError(
                f"{source}: unknown config key '{key}' (did you mean '{near[0]}'?): the "
                f"{model_type} config would ignore it and use the default {near[0]}"
            )
        ignored.append(f"{key}={cfg[key]!r}")
    return ignored


def _mpt_attn_keys() -> set[str]:
    from llmfoundry.models.utils.config_defaults import attn_config_defaults

    return set(attn_config_defaults)


def normalise_config(config: dict[str, Any], source: object = "config.json") -> NormalisedConfig:
    """``config`` with the keys llm-foundry rejects but that carry no meaning removed.

    Args:
        config: An HF ``config.json`` content.
        source: Where it came from (named in the log line and in errors).

    Raises:
        ConfigError: A key changes the computation and llm-foundry cannot honour it, or an
            unknown top-level key is a near-miss of a known one (a typo).
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
    ignored = _unknown_keys(cfg, source)
    if dropped:
        log.info("%s: normalised for llm-foundry 0.22: dropped %s", source, ", ".join(dropped))
    if ignored:
        log.info("%s: keys the config class ignores: %s", source, ", ".join(ignored))
    return NormalisedConfig(cfg, dropped, ignored)


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
