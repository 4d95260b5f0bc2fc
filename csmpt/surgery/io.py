"""Read a source model's weights and config, write the surgery's output, build a model to run.

A model is handled as :class:`ModelWeights`: the HF config (a dict) and the state dict under HF
key names (``transformer.wte.weight`` for MPT, ``model.embed_tokens.weight`` for Llama). It comes
from a local HF folder (``config.json`` + ``model.safetensors`` / ``pytorch_model.bin``, sharded
or not) or from a Composer checkpoint (``*.pt``: ``state.model`` with the ``model.`` prefix, the
HF config from ``state.integrations``). Nothing is built to read or write weights, so a 7B
surgery needs the weights' memory only.

Outputs: an HF folder (``config.json``, ``model.safetensors``, the tokenizer and, when the source
folder had them, MPT's custom-code ``*.py`` files) and a Composer checkpoint holding only
``state.model``, which a training YAML loads with ``load_path`` + ``load_weights_only: true``.
"""

from __future__ import annotations

import json
import logging
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from csmpt.errors import DataError

__all__ = [
    "ModelWeights",
    "build_model",
    "load_source",
    "portable_config",
    "write_composer_checkpoint",
    "write_hf_dir",
]

log = logging.getLogger(__name__)

_HF_WEIGHTS = ("model.safetensors", "pytorch_model.bin")
_HF_INDEXES = ("model.safetensors.index.json", "pytorch_model.bin.index.json")


@dataclass
class ModelWeights:
    """A model as its HF config and state dict (HF key names), plus where it came from.

    Attributes:
        config: The HF config (``config.json``'s content).
        state: Parameter name -> tensor.
        source: The folder or checkpoint file it was read from.
        code_files: MPT custom-code files of the source HF folder, copied to an HF output.
    """

    config: dict[str, Any]
    state: dict[str, torch.Tensor]
    source: Path
    code_files: list[Path] = field(default_factory=list)

    @property
    def family(self) -> str:
        """``mpt`` or ``llama`` (any model with Llama's key layout)."""
        if self.config.get("model_type") == "mpt" or "transformer.wte.weight" in self.state:
            return "mpt"
        return "llama"

    @property
    def tied(self) -> bool:
        """Whether the output projection is the input embedding (no separate ``lm_head``)."""
        return "lm_head.weight" not in self.state or bool(
            self.config.get("tie_word_embeddings", True)
        )

    @property
    def embed_key(self) -> str:
        """The input embedding's key."""
        return "transformer.wte.weight" if self.family == "mpt" else "model.embed_tokens.weight"

    @property
    def layers_key(self) -> str:
        """The config key of the number of layers."""
        return "n_layers" if self.family == "mpt" else "num_hidden_layers"

    @property
    def layer_prefix(self) -> str:
        """Key prefix of the transformer layers (followed by the layer index and a dot)."""
        return "transformer.blocks." if self.family == "mpt" else "model.layers."

    def embedding_keys(self) -> list[str]:
        """The embedding matrices to swap: the input embedding, and ``lm_head`` when untied."""
        keys = [self.embed_key]
        if "lm_head.weight" in self.state and not self.tied:
            keys.append("lm_head.weight")
        return keys


def _load_hf_weights(folder: Path) -> dict[str, torch.Tensor]:
    for index_name in _HF_INDEXES:
        index = folder / index_name
        if index.is_file():
            shards = sorted(set(json.loads(index.read_text())["weight_map"].values()))
            state: dict[str, torch.Tensor] = {}
            for shard in shards:
                if not (folder / shard).is_file():
                    raise DataError(f"{index}: weight shard '{shard}' is missing")
                state.update(_load_weight_file(folder / shard))
            return state
    for name in _HF_WEIGHTS:
        if (folder / name).is_file():
            return _load_weight_file(folder / name)
    raise DataError(
        f"{folder}: no model weights (expected {' or '.join(_HF_WEIGHTS)}, or a sharded index)"
    )


def _load_weight_file(path: Path) -> dict[str, torch.Tensor]:
    if path.suffix == ".safetensors":
        from safetensors.torch import load_file

        return dict(load_file(str(path)))
    return dict(torch.load(path, map_location="cpu", weights_only=True))


def _load_composer(path: Path) -> ModelWeights:
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=False)
    except Exception as e:  # noqa: BLE001 - any unreadable file is the same user mistake
        raise DataError(f"{path}: not a readable Composer checkpoint ({type(e).__name__})") from e
    state = ckpt.get("state", {}) if isinstance(ckpt, dict) else {}
    model = state.get("model")
    if not isinstance(model, dict) or not model:
        raise DataError(f"{path}: Composer checkpoint has no model weights ('state.model')")
    try:
        config = state["integrations"]["huggingface"]["model"]["config"]["content"]
    except (KeyError, TypeError):
        raise DataError(
            f"{path}: Composer checkpoint has no HF model config "
            "('state.integrations.huggingface'); was it saved by llm-foundry?"
        ) from None
    weights = {k.removeprefix("model."): v for k, v in model.items()}
    return ModelWeights(config=dict(config), state=weights, source=path)


def load_source(path: str | Path) -> ModelWeights:
    """Read a model from a local HF folder or a Composer checkpoint file.

    Raises:
        DataError: The path does not exist, has no config or no weights, or the embedding is
            missing.
    """
    p = Path(path).expanduser()
    if p.is_dir():
        cfg_path = p / "config.json"
        if not cfg_path.is_file():
            raise DataError(f"{p}: not an HF model folder (no config.json)")
        weights = ModelWeights(
            config=json.loads(cfg_path.read_text(encoding="utf-8")),
            state=_load_hf_weights(p),
            source=p,
            code_files=sorted(p.glob("*.py")),
        )
    elif p.is_file():
        weights = _load_composer(p)
    else:
        raise DataError(f"{p}: source model does not exist (an HF folder or a Composer .pt file)")
    if weights.embed_key not in weights.state:
        raise DataError(f"{p}: the weights have no '{weights.embed_key}' (the input embedding)")
    if not weights.tied and "lm_head.weight" not in weights.state:
        raise DataError(f"{p}: the config says untied embeddings but 'lm_head.weight' is missing")
    return weights


def portable_config(config: dict[str, Any]) -> dict[str, Any]:
    """``config`` runnable on any machine: MPT with ``attn_impl: torch`` on ``init_device: cpu``."""
    cfg = dict(config)
    if cfg.get("model_type") == "mpt":
        cfg["attn_config"] = dict(cfg.get("attn_config") or {}, attn_impl="torch")
        cfg["init_device"] = "cpu"
    return cfg


def _save_mpt_with_code(weights: ModelWeights, out: Path) -> None:
    """MPT via llm-foundry's ``save_pretrained`` + its modeling code (``trust_remote_code``)."""
    from accelerate import init_empty_weights
    from llmfoundry.models.mpt import MPTConfig, MPTForCausalLM
    from llmfoundry.utils.huggingface_hub_utils import edit_files_for_hf_compatibility

    MPTConfig.register_for_auto_class()
    MPTForCausalLM.register_for_auto_class("AutoModelForCausalLM")
    with init_empty_weights():
        model = _quiet_mpt(MPTForCausalLM, MPTConfig.from_dict(portable_config(weights.config)))
    model.load_state_dict({k: v.contiguous() for k, v in weights.state.items()}, assign=True)
    model.save_pretrained(out)
    edit_files_for_hf_compatibility(str(out))


def _quiet_mpt(cls: Any, config: Any) -> Any:
    """``cls(config)`` without transformers' warning that MPT lacks GenerationMixin."""
    hf_log = logging.getLogger("transformers.modeling_utils")
    level = hf_log.level
    hf_log.setLevel(logging.ERROR)
    try:
        model = cls(config)
    finally:
        hf_log.setLevel(level)
    return model


def write_hf_dir(weights: ModelWeights, out: Path, tokenizer: Any | None) -> None:
    """Write ``weights`` as an HF folder (config, safetensors, custom code, ``tokenizer``).

    An MPT folder gets llm-foundry's modeling code, so ``AutoModelForCausalLM.from_pretrained(
    out, trust_remote_code=True)`` loads it (the source folder's own code files if it had them).
    """
    from safetensors.torch import save_file

    out.mkdir(parents=True, exist_ok=True)
    if weights.family == "mpt" and not weights.code_files:
        _save_mpt_with_code(weights, out)
    else:
        config = portable_config(weights.config)
        (out / "config.json").write_text(json.dumps(config, indent=2) + "\n", encoding="utf-8")
        state = {k: v.contiguous() for k, v in weights.state.items()}
        if weights.tied:
            state.pop("lm_head.weight", None)  # safetensors refuses shared storage; HF re-ties
        save_file(state, str(out / "model.safetensors"), metadata={"format": "pt"})
        for f in weights.code_files:
            shutil.copy2(f, out / f.name)
    if tokenizer is not None:
        tokenizer.save_pretrained(str(out))


def write_composer_checkpoint(weights: ModelWeights, path: Path) -> None:
    """Write a Composer checkpoint holding only the model (``state.model``) and its HF config.

    A training run loads it with ``load_path: PATH`` and ``load_weights_only: true``.
    """
    model = {f"model.{k}": v.contiguous() for k, v in weights.state.items()}
    integrations = {"huggingface": {"model": {"config": {"content": weights.config}}}}
    torch.save({"state": {"model": model, "integrations": integrations}}, path)


def build_model(weights: ModelWeights) -> torch.nn.Module:
    """Build the HF model (MPT via llm-foundry's ``MPTForCausalLM``, or Llama) with ``weights``.

    Raises:
        DataError: The weights do not fit the config (names or shapes).
    """
    if weights.family == "mpt":
        from llmfoundry.models.mpt import MPTConfig, MPTForCausalLM

        model = _quiet_mpt(MPTForCausalLM, MPTConfig.from_dict(portable_config(weights.config)))
    else:
        from transformers import AutoConfig, AutoModelForCausalLM

        cfg = dict(weights.config)
        hf_cfg = AutoConfig.for_model(cfg.pop("model_type", "llama"), **cfg)
        model = AutoModelForCausalLM.from_config(hf_cfg)
    state = dict(weights.state)
    if weights.family == "llama" and weights.tied:
        state["lm_head.weight"] = state[weights.embed_key]
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as e:
        first = str(e).strip().splitlines()
        raise DataError(
            f"{weights.source}: weights do not fit the model config "
            f"({first[1].strip() if len(first) > 1 else first[0]})"
        ) from None
    return model.eval()
