"""Read a source model's weights and config, write the surgery's output, build a model to run.

A model is handled as :class:`ModelWeights`: the HF config (a dict) and the state dict under HF
key names (``transformer.wte.weight`` for MPT, ``model.embed_tokens.weight`` for Llama). It comes
from a local HF folder (``config.json`` + ``model.safetensors`` / ``pytorch_model.bin``, sharded
or not) or from a Composer checkpoint (``*.pt``: ``state.model`` with the ``model.`` prefix, the
HF config from ``state.integrations``). Every file is memory-mapped (safetensors ``safe_open``,
``torch.load(mmap=True)`` for ``.bin`` shards and ``.pt``): a 7B source costs file pages, not
anonymous memory, and nothing is built to read or write weights.

Outputs: an HF folder written by the shared writer (:mod:`csmpt.checkpoint.hf_folder`: sharded
safetensors, config, tokenizer, MPT's modeling code) and a Composer checkpoint holding only
``state.model``, which a training YAML loads with ``load_path`` + ``load_weights_only: true``.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from csmpt.checkpoint.hf_config import default_tied, normalise_config
from csmpt.checkpoint.hf_folder import portable_config, write_hf_folder
from csmpt.checkpoint.loading import torch_load_mmap
from csmpt.errors import DataError

__all__ = [
    "ModelWeights",
    "build_model",
    "hf_state",
    "load_source",
    "meta_model",
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
        code_files: Custom-code files of a (non-MPT) source HF folder, copied to an HF output.
        normalised: Config keys dropped or ignored (:func:`csmpt.checkpoint.hf_config.
            normalise_config`).
        integrations: A Composer source's ``state.integrations`` (its saved tokenizer,
            :mod:`csmpt.checkpoint.saved_tokenizer`); empty for HF folders.
    """

    config: dict[str, Any]
    state: dict[str, torch.Tensor]
    source: Path
    code_files: list[Path] = field(default_factory=list)
    normalised: list[str] = field(default_factory=list)
    integrations: dict[str, Any] = field(default_factory=dict)

    @property
    def family(self) -> str:
        """``mpt`` or ``llama`` (any model with Llama's key layout)."""
        if self.config.get("model_type") == "mpt" or "transformer.wte.weight" in self.state:
            return "mpt"
        return "llama"

    @property
    def tied(self) -> bool:
        """Whether the output projection is the input embedding (no separate ``lm_head``).

        ``tie_word_embeddings`` when the config has it, else the model type's HF default
        (Llama and Mistral untied: their ``lm_head`` is kept; MPT tied).
        """
        if "tie_word_embeddings" in self.config:
            return bool(self.config["tie_word_embeddings"])
        return default_tied(self.config.get("model_type") or self.family)

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
    """The tensors of one weights file, memory-mapped (file pages, not anonymous memory)."""
    if path.suffix == ".safetensors":
        from safetensors import safe_open

        with safe_open(str(path), framework="pt") as f:  # tensors are views of the mmap
            return {k: f.get_tensor(k) for k in f.keys()}  # noqa: SIM118 - not a dict
    return dict(torch_load_mmap(path, weights_only=True))


def _load_composer(path: Path) -> ModelWeights:
    try:
        ckpt = torch_load_mmap(path, weights_only=False)
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
    integrations = state.get("integrations")
    return ModelWeights(
        config=dict(config),
        state=weights,
        source=path,
        integrations=dict(integrations) if isinstance(integrations, dict) else {},
    )


def load_source(path: str | Path) -> ModelWeights:
    """Read a model from a local HF folder or a Composer checkpoint file, memory-mapped.

    The config is normalised for llm-foundry 0.22 (:func:`csmpt.checkpoint.hf_config.
    normalise_config`; the dropped keys are in ``normalised``).

    Raises:
        ConfigError: A config key changes the computation and llm-foundry cannot honour it.
        DataError: The path does not exist, has no config or no weights, or the embedding is
            missing.
    """
    p = Path(path).expanduser()
    if p.is_dir():
        cfg_path = p / "config.json"
        if not cfg_path.is_file():
            ckpts = sorted(p.glob("*-rank0.pt"))  # a run's save_folder: name one checkpoint
            hint = f"; a run folder: give one of its checkpoints, e.g. {ckpts[-1]}" if ckpts else ""
            raise DataError(f"{p}: not an HF model folder (no config.json){hint}")
        # The config first: a refused key costs no weight loading.
        norm = normalise_config(json.loads(cfg_path.read_text(encoding="utf-8")), cfg_path)
        weights = ModelWeights(
            config=norm.config,
            state=_load_hf_weights(p),
            source=p,
            code_files=sorted(p.glob("*.py")),
            normalised=norm.changes,
        )
    elif p.is_file():
        weights = _load_composer(p)
        norm = normalise_config(weights.config, p)
        weights.config, weights.normalised = norm.config, norm.changes
    else:
        raise DataError(f"{p}: source model does not exist (an HF folder or a Composer .pt file)")
    if weights.embed_key not in weights.state:
        raise DataError(f"{p}: the weights have no '{weights.embed_key}' (the input embedding)")
    if not weights.tied and "lm_head.weight" not in weights.state:
        raise DataError(f"{p}: the config says untied embeddings but 'lm_head.weight' is missing")
    return weights


def hf_state(weights: ModelWeights) -> dict[str, torch.Tensor]:
    """The state dict an HF folder holds: a tied model's ``lm_head.weight`` is left out."""
    state = dict(weights.state)
    if weights.tied:
        state.pop("lm_head.weight", None)  # HF re-ties it from the embedding
    return state


def write_hf_dir(weights: ModelWeights, out: Path, tokenizer: Any | None) -> None:
    """Write ``weights`` as an HF folder (:func:`csmpt.checkpoint.hf_folder.write_hf_folder`).

    Sharded safetensors in the weights' dtype, the config normalised and made portable with
    ``tie_word_embeddings`` explicit; an MPT folder gets llm-foundry's modeling code, so
    ``AutoModelForCausalLM.from_pretrained(out, trust_remote_code=True)`` loads it.
    """
    config = dict(weights.config, tie_word_embeddings=weights.tied)
    write_hf_folder(out, config, hf_state(weights), tokenizer, weights.code_files)


def write_composer_checkpoint(weights: ModelWeights, path: Path) -> None:
    """Write a Composer checkpoint holding only the model (``state.model``) and its HF config.

    The tokenizer in ``weights.integrations`` travels too: the one a merge's inputs were saved
    with, or a surgery's output tokenizer.

    A training run loads it with ``load_path: PATH`` and ``load_weights_only: true``. Tensors
    are written as they are (mmapped ones streamed from their files).
    """
    model = {f"model.{k}": v.contiguous() for k, v in weights.state.items()}
    config = dict(weights.config, tie_word_embeddings=weights.tied)
    integrations: dict[str, Any] = {"huggingface": {"model": {"config": {"content": config}}}}
    saved = weights.integrations.get("huggingface", {}).get("tokenizer")
    if saved:  # a merge's inputs' tokenizer, or a surgery's output one
        integrations["huggingface"]["tokenizer"] = saved
    torch.save({"state": {"model": model, "integrations": integrations}}, path)


def _quiet(build: Any) -> Any:
    """``build()`` without transformers' warning that MPT lacks GenerationMixin."""
    hf_log = logging.getLogger("transformers.modeling_utils")
    level = hf_log.level
    hf_log.setLevel(logging.ERROR)
    try:
        return build()
    finally:
        hf_log.setLevel(level)


def meta_model(weights: ModelWeights) -> torch.nn.Module:
    """The model ``weights.config`` describes, parameters on the meta device (buffers on CPU)."""
    from accelerate import init_empty_weights

    config = portable_config(weights.config)
    model: Any
    with init_empty_weights(include_buffers=False):
        if weights.family == "mpt":
            from llmfoundry.models.mpt import MPTConfig, MPTForCausalLM

            model = _quiet(lambda: MPTForCausalLM(MPTConfig.from_dict(config)))
        else:
            from transformers import AutoConfig, AutoModelForCausalLM

            cfg = dict(config, tie_word_embeddings=weights.tied)
            hf_cfg = AutoConfig.for_model(cfg.pop("model_type", "llama"), **cfg)
            model = AutoModelForCausalLM.from_config(hf_cfg)
    return model


def build_model(weights: ModelWeights) -> torch.nn.Module:
    """The HF model (MPT via llm-foundry's ``MPTForCausalLM``, or Llama/Mistral) on ``weights``.

    Built on the meta device and given the weights' own tensors (``assign``): no copy, no
    float32 init, the weights' dtype; an mmapped source stays in file pages. The model shares
    its tensors with ``weights``: do not train it.

    Raises:
        DataError: The weights do not fit the config (names or shapes).
    """
    model: Any = meta_model(weights)
    state = dict(weights.state)
    if weights.tied and "lm_head.weight" in model.state_dict():
        state["lm_head.weight"] = state[weights.embed_key]
    try:
        model.load_state_dict(state, strict=True, assign=True)
    except RuntimeError as e:
        first = str(e).strip().splitlines()
        raise DataError(
            f"{weights.source}: weights do not fit the model config "
            f"({first[1].strip() if len(first) > 1 else first[0]})"
        ) from None
    if weights.tied and hasattr(model, "tie_weights"):
        model.tie_weights()
    return model.eval()
