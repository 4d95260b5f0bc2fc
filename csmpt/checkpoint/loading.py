"""Checkpoint loading: a recipe's model with a checkpoint's weights, or an HF directory.

Used by ``csmpt eval``/``validate`` (a run's checkpoints, base models and exports), ``csmpt
export`` (the recipe's model on the meta device given the checkpoint's tensors) and ``csmpt
surgery`` (:func:`torch_load_mmap` reads its Composer and ``.bin`` sources).

The first is a training recipe's model with a Composer checkpoint's weights; the second an
export or a base model.

A checkpoint series is a run folder's ``ep*-ba*-rank0.pt`` files and sharded ``ep*-ba*/`` folders
(:mod:`csmpt.checkpoint.sharded`), in step order.
"""

from __future__ import annotations

import copy
import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from csmpt.checkpoint.saved_tokenizer import (
    check_saved_tokenizer,
    saved_vocab,
    sharded_saved_vocab,
)
from csmpt.checkpoint.sharded import is_sharded_checkpoint, sharded_model_weights
from csmpt.errors import ConfigError, DataError

if TYPE_CHECKING:
    from composer.models import ComposerModel
    from transformers import PreTrainedTokenizerBase

__all__ = [
    "Checkpoint",
    "RecipeModel",
    "build_hf_model",
    "build_recipe_model",
    "find_checkpoints",
    "load_checkpoint_weights",
    "recipe_config",
    "torch_load_mmap",
]

log = logging.getLogger(__name__)

_CKPT = re.compile(r"^ep(\d+)-ba(\d+)-rank0\.pt$")
_SHARDED = re.compile(r"^ep(\d+)-ba(\d+)$")


@dataclass(frozen=True)
class Checkpoint:
    """One Composer checkpoint of a run and the batch (step) it was taken at."""

    step: int
    path: Path


def find_checkpoints(folder: str | Path) -> list[Checkpoint]:
    """The Composer checkpoints in ``folder``, in step order.

    Monolithic files (``ep{E}-ba{B}-rank0.pt``) and sharded folders (``ep{E}-ba{B}/`` with DCP's
    ``.metadata``; a folder without it is a save that did not finish and is left out).

    Raises:
        DataError: The folder does not exist or holds no checkpoint.
    """
    p = Path(folder)
    if not p.is_dir():
        raise DataError(f"checkpoint folder '{p}' does not exist")
    found = []
    for f in p.iterdir():
        m = _CKPT.match(f.name)
        if m and f.is_file() and not f.is_symlink():
            found.append(Checkpoint(int(m.group(2)), f))
        m = _SHARDED.match(f.name)
        if m and not f.is_symlink() and is_sharded_checkpoint(f):
            found.append(Checkpoint(int(m.group(2)), f))
    if not found:
        raise DataError(
            f"checkpoint folder '{p}' holds no Composer checkpoints (ep*-ba*-rank0.pt or sharded "
            "ep*-ba*/); "
            "point it at a run's save_folder"
        )
    return sorted(found, key=lambda c: c.step)


@dataclass
class RecipeModel:
    """A training recipe's model and tokenizer, as llm-foundry builds them."""

    model: ComposerModel
    tokenizer: PreTrainedTokenizerBase
    recipe: Path
    name: str
    max_seq_len: int
    precision: str


def recipe_config(recipe: str | Path, overrides: Sequence[str] = ()) -> dict[str, Any]:
    """A training recipe resolved (overrides applied), with the shapes its run trained with."""
    return _recipe_parts(Path(recipe), overrides)


def _recipe_parts(recipe: Path, overrides: Sequence[str]) -> dict[str, Any]:
    from omegaconf import OmegaConf

    from csmpt.checkpoint.surgery_shapes import surgery_shapes
    from csmpt.config.loading import load_yaml_with_overrides

    cfg = OmegaConf.to_container(load_yaml_with_overrides(recipe, overrides), resolve=True)
    assert isinstance(cfg, dict)
    for key in ("model", "tokenizer"):
        if not isinstance(cfg.get(key), dict):
            raise ConfigError(f"{recipe}: '{key}' is missing; pass the recipe the run trained with")
    # The shapes the run trained with: a run loading a surgery output took them from it.
    return surgery_shapes({str(k): v for k, v in cfg.items()})


def build_recipe_model(
    recipe: str | Path, overrides: Sequence[str] = (), init_device: str = "cpu"
) -> RecipeModel:
    """Build the model and tokenizer of a training recipe on CPU (random weights).

    Args:
        recipe: The training YAML.
        overrides: ``key=value`` overrides of it.
        init_device: ``cpu`` (random float32 weights), or ``meta`` (no memory: give it weights
            with :func:`load_checkpoint_weights` and ``assign=True``).
    """
    from llmfoundry.utils.builders import build_composer_model, build_tokenizer

    from csmpt.config.yaml_lines import describe_key
    from csmpt.tokenizer.folder import check_named_tokenizer

    path = Path(recipe)
    cfg = _recipe_parts(path, overrides)
    tok_cfg = cfg["tokenizer"]
    check_named_tokenizer(str(tok_cfg["name"]), describe_key(path, "tokenizer.name"))
    tokenizer = build_tokenizer(tok_cfg["name"], tok_cfg.get("kwargs", {}))
    model_cfg = copy.deepcopy(cfg["model"])
    name = model_cfg.pop("name")
    model_cfg["init_device"] = init_device
    if init_device == "meta" and model_cfg.get("pretrained"):
        model_cfg["pretrained"] = False  # the weights come from a checkpoint: build from config
    model = build_composer_model(name=name, cfg=model_cfg, tokenizer=tokenizer)
    return RecipeModel(
        model=model,
        tokenizer=tokenizer,
        recipe=path,
        name=name,
        max_seq_len=int(cfg.get("max_seq_len", 2048)),
        precision=str(cfg.get("precision", "fp32")),
    )


def _mismatch(model_sd: dict[str, Any], ckpt_sd: dict[str, Any]) -> str:
    missing = [k for k in model_sd if k not in ckpt_sd]
    extra = [k for k in ckpt_sd if k not in model_sd]
    for k, v in model_sd.items():
        if k in ckpt_sd and tuple(v.shape) != tuple(ckpt_sd[k].shape):
            return (
                f"'{k}' is {list(ckpt_sd[k].shape)} in the checkpoint, {list(v.shape)} in the "
                "recipe's model"
            )
    if missing:
        return f"{len(missing)} weights of the recipe's model are not in it (e.g. '{missing[0]}')"
    return f"it has {len(extra)} weights the recipe's model lacks (e.g. '{extra[0]}')"


def torch_load_mmap(path: Path, weights_only: bool) -> Any:
    """``torch.load`` with ``mmap=True`` (a pre-1.6 non-zip file is read whole, with a warning)."""
    import torch

    try:
        return torch.load(path, map_location="cpu", weights_only=weights_only, mmap=True)
    except RuntimeError as e:
        if "mmap" not in str(e) and "zipfile" not in str(e):
            raise
        log.warning("%s: legacy (non-zip) torch file, cannot be memory-mapped: reading it", path)
        return torch.load(path, map_location="cpu", weights_only=weights_only)


def load_checkpoint_weights(
    model: ComposerModel, checkpoint: str | Path, recipe: Path, assign: bool = False
) -> None:
    """Load a Composer checkpoint's model weights into ``model``.

    The checkpoint is memory-mapped (``torch.load(mmap=True)``): its optimizer state is never
    read, and its weights cost file pages, not anonymous memory.

    Args:
        model: The recipe's model (built on ``meta`` when ``assign``).
        checkpoint: A Composer checkpoint: a monolithic file (FSDP ``full``, DDP, one device)
            or a sharded (DCP) folder, as FSDP1 and FSDP2 save with ``sharded``: its model
            tensors are gathered whole (allocated once, not memory-mapped).
        recipe: The recipe the model was built from (named in errors).
        assign: Make the checkpoint's (mmapped) tensors the model's parameters instead of
            copying into them: no second copy of the model; needed for a ``meta`` model.

    Raises:
        DataError: Not a Composer checkpoint, its weights do not fit the recipe's model, or it
            was saved with another tokenizer than the recipe's (:func:`csmpt.checkpoint.
            saved_tokenizer.check_saved_tokenizer`).
    """
    ckpt = Path(checkpoint)
    tokenizer = getattr(model, "tokenizer", None)
    given = f"the tokenizer of {recipe} ({getattr(tokenizer, 'name_or_path', '?')})"
    if is_sharded_checkpoint(ckpt):  # the tokenizer first: a refusal reads no tensor
        check_saved_tokenizer(sharded_saved_vocab(ckpt), tokenizer, ckpt, given)
        weights = sharded_model_weights(ckpt)
    else:
        try:
            obj = torch_load_mmap(ckpt, weights_only=False)
            state = obj["state"]
            weights = state["model"]
        except (OSError, RuntimeError, KeyError, TypeError, EOFError) as e:
            raise DataError(
                f"{ckpt}: not a readable Composer checkpoint ({type(e).__name__})"
            ) from None
        integrations = state.get("integrations") if isinstance(state, dict) else None
        check_saved_tokenizer(saved_vocab(integrations or {}), tokenizer, ckpt, given)
    target = model.state_dict()
    if set(weights) != set(target) or any(
        tuple(weights[k].shape) != tuple(v.shape) for k, v in target.items()
    ):
        raise DataError(
            f"{ckpt}: checkpoint does not match the model of {recipe}: "
            f"{_mismatch(target, weights)}; pass the recipe (and overrides) the run trained with"
        )
    model.load_state_dict(weights, strict=True, assign=assign)
    inner = getattr(model, "model", None)
    if assign and getattr(getattr(inner, "config", None), "tie_word_embeddings", False):
        inner.tie_weights()  # type: ignore[union-attr]  # assign replaced the tied Parameter


def _model_type(hf_dir: str) -> str | None:
    import json

    config = Path(hf_dir) / "config.json"
    if not config.is_file():
        return None
    return json.loads(config.read_text(encoding="utf-8")).get("model_type")


def build_hf_model(
    hf_dir: str | Path, max_seq_len: int | None = None
) -> tuple[ComposerModel, PreTrainedTokenizerBase]:
    """An HF directory (an export with its tokenizer, a base model) as ``hf_causal_lm``.

    Built by llm-foundry, with ``trust_remote_code`` (MPT exports carry their modeling code). A
    folder whose config llm-foundry 0.22 rejects (MPT-7B's ``attn_config.prefix_lm``) is loaded
    through a normalised view (:func:`csmpt.checkpoint.hf_config.normalised_hf_dir`).
    """
    from llmfoundry.utils.builders import build_composer_model, build_tokenizer

    from csmpt.checkpoint.hf_config import normalised_hf_dir

    path = str(normalised_hf_dir(hf_dir))  # a hub MPT-7B folder: its config normalised
    if not Path(path).is_dir():
        log.info("'%s' is not a local folder: loading it from the HF hub", path)
    kwargs: dict[str, Any] = {"model_max_length": max_seq_len} if max_seq_len else {}
    try:
        tokenizer = build_tokenizer(path, kwargs)
        cfg: dict[str, Any] = {
            "pretrained_model_name_or_path": path,
            "pretrained": True,
            "trust_remote_code": True,
            "init_device": "cpu",
            "use_flash_attention_2": False,
        }
        if max_seq_len and _model_type(path) == "mpt":  # ALiBi: any length up to max_seq_len
            cfg["config_overrides"] = {"max_seq_len": max_seq_len}
        model = build_composer_model(name="hf_causal_lm", cfg=cfg, tokenizer=tokenizer)
    except OSError as e:
        reason = (str(e).strip().splitlines() or [type(e).__name__])[0][:160]
        raise DataError(f"cannot load the HF model '{path}' ({reason})") from None
    return model, tokenizer
