"""The one HF-folder writer of csmpt: ``csmpt surgery`` and ``csmpt export`` both write through it.

An HF folder as ``save_pretrained`` lays it out, without building a model:

* ``config.json``: normalised for llm-foundry 0.22 (:mod:`csmpt.checkpoint.hf_config`), portable
  (MPT: ``attn_impl: torch``, ``init_device: cpu``), ``torch_dtype`` the weights' dtype;
* ``model.safetensors``, or ``model-0000N-of-0000M.safetensors`` shards of at most
  ``max_shard_size`` (5 GB, as ``save_pretrained``) plus ``model.safetensors.index.json``,
  split by ``huggingface_hub``'s sharding helper;
* for MPT, llm-foundry's modeling code (``trust_remote_code``), as ``HuggingFaceCheckpointer``
  writes it; the tokenizer when given.

Weights are streamed tensor by tensor into the safetensors files (converted to ``dtype`` one
tensor at a time), so writing an mmapped 7B model costs no anonymous memory beyond one tensor.
Files and folders get the user's umask (``0644`` / ``0755`` under umask 022): safetensors' own
writer makes files ``0600`` and ``tempfile.mkdtemp`` folders ``0700``, unreadable to a project
group on shared storage.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import struct
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import torch

from csmpt.checkpoint.hf_config import normalise_config

__all__ = [
    "MAX_SHARD_SIZE",
    "apply_umask",
    "current_umask",
    "portable_config",
    "with_tokenizer",
    "write_generation_config",
    "write_hf_config",
    "write_hf_folder",
    "write_safetensors",
]

log = logging.getLogger(__name__)

MAX_SHARD_SIZE = "5GB"
SAFE_INDEX = "model.safetensors.index.json"

_ST_DTYPES = {
    torch.float64: "F64",
    torch.float32: "F32",
    torch.float16: "F16",
    torch.bfloat16: "BF16",
    torch.int64: "I64",
    torch.int32: "I32",
    torch.int16: "I16",
    torch.int8: "I8",
    torch.uint8: "U8",
    torch.bool: "BOOL",
}


def current_umask() -> int:
    """The process's umask (read from ``/proc/self/status``; set-and-restore elsewhere)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    except OSError:
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def apply_umask(root: Path) -> None:
    """Give ``root`` and everything under it the modes a plain ``mkdir``/``open`` would have.

    Folders ``0o777 & ~umask``, files ``0o666 & ~umask`` (``0755`` / ``0644`` under umask 022).
    """
    mask = current_umask()
    dir_mode, file_mode = 0o777 & ~mask, 0o666 & ~mask
    paths = [root] if root.is_file() else [root, *root.rglob("*")]
    for p in paths:
        if p.is_symlink():
            continue
        os.chmod(p, dir_mode if p.is_dir() else file_mode)


def portable_config(config: dict[str, Any]) -> dict[str, Any]:
    """``config`` runnable on any machine: MPT with ``attn_impl: torch`` on ``init_device: cpu``."""
    cfg = dict(config)
    if cfg.get("model_type") == "mpt":
        cfg["attn_config"] = dict(cfg.get("attn_config") or {}, attn_impl="torch")
        cfg["init_device"] = "cpu"
    return cfg


def _target(t: torch.Tensor, dtype: torch.dtype | None) -> torch.dtype:
    return dtype if dtype is not None and t.is_floating_point() else t.dtype


def write_safetensors(
    path: Path,
    tensors: Mapping[str, torch.Tensor],
    dtype: torch.dtype | None = None,
    metadata: Mapping[str, str] | None = None,
) -> int:
    """Write ``tensors`` as one safetensors file, streamed tensor by tensor; return its data bytes.

    Args:
        path: The file to write (mode from the umask).
        tensors: Name -> tensor (mmapped tensors are read, never copied whole).
        dtype: Convert floating-point tensors to this dtype (one tensor at a time).
        metadata: The header's ``__metadata__`` (``{"format": "pt"}`` by default).
    """
    header: dict[str, Any] = {"__metadata__": dict(metadata or {"format": "pt"})}
    offset = 0
    for name, t in tensors.items():
        target = _target(t, dtype)
        n = t.numel() * target.itemsize
        header[name] = {
            "dtype": _ST_DTYPES[target],
            "shape": list(t.shape),
            "data_offsets": [offset, offset + n],
        }
        offset += n
    raw = json.dumps(header, separators=(",", ":")).encode("utf-8")
    raw += b" " * (-len(raw) % 8)  # the data starts 8-byte aligned
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(raw)))
        f.write(raw)
        for t in tensors.values():
            if t.numel() == 0:
                continue
            out = t.detach().to(_target(t, dtype)).contiguous().reshape(-1)
            f.write(out.view(torch.uint8).numpy().data)
            del out
    return offset


def _shards(
    state: Mapping[str, torch.Tensor], dtype: torch.dtype | None, max_shard_size: int | str
) -> tuple[dict[str, list[str]], int]:
    """Shard file name -> tensor names (``save_pretrained``'s names and order), total bytes."""
    from huggingface_hub import split_state_dict_into_shards_factory

    split = split_state_dict_into_shards_factory(
        dict(state),
        get_storage_size=lambda t: t.numel() * _target(t, dtype).itemsize,
        filename_pattern="model{suffix}.safetensors",
        max_shard_size=max_shard_size,
    )
    total = int(split.metadata["total_size"])
    return {f: list(names) for f, names in split.filename_to_tensors.items()}, total


def _write_mpt_code(out: Path, config: dict[str, Any]) -> dict[str, Any]:
    """Copy llm-foundry's MPT modeling code into ``out``; return ``config`` with its auto_map."""
    from accelerate import init_empty_weights
    from llmfoundry.models.mpt import MPTConfig, MPTForCausalLM
    from transformers.dynamic_module_utils import custom_object_save

    MPTConfig.register_for_auto_class()
    MPTForCausalLM.register_for_auto_class("AutoModelForCausalLM")
    cfg = dict(config)
    cfg["auto_map"] = {}
    hf_config = MPTConfig.from_dict(dict(cfg, init_device="meta"))
    hf_log = logging.getLogger("transformers.modeling_utils")
    level = hf_log.level
    hf_log.setLevel(logging.ERROR)  # MPT lacks GenerationMixin: a warning per build
    try:
        with init_empty_weights():
            model = MPTForCausalLM(hf_config)  # on meta: only its class and module are used
    finally:
        hf_log.setLevel(level)
    custom_object_save(hf_config, out, config=cfg)
    custom_object_save(model, out, config=cfg)
    return cfg


def with_tokenizer(config: dict[str, Any], tokenizer: Any) -> dict[str, Any]:
    """``config`` made to agree with the tokenizer saved beside it.

    The EOS/BOS/PAD ids MPT configs leave null come from the tokenizer, and ``tokenizer_name``
    no longer names a folder on the machine that wrote it (the tokenizer is the folder's own:
    ``AutoTokenizer.from_pretrained(folder)``); a hub name is kept.
    """
    cfg = dict(config)
    for key in ("eos_token_id", "bos_token_id", "pad_token_id"):
        value = getattr(tokenizer, key, None)
        if cfg.get(key) is None and value is not None:
            cfg[key] = int(value)
    name = cfg.get("tokenizer_name")
    if isinstance(name, str) and (Path(name).is_absolute() or Path(name).exists()):
        del cfg["tokenizer_name"]
    return cfg


def write_generation_config(out: Path, config: dict[str, Any]) -> None:
    """``generation_config.json`` with the model's EOS/BOS/PAD ids (``generate`` stops at EOS)."""
    from transformers import GenerationConfig

    ids = {k: config[k] for k in ("eos_token_id", "bos_token_id", "pad_token_id") if k in config}
    GenerationConfig(**{k: v for k, v in ids.items() if v is not None}).save_pretrained(str(out))


def write_hf_config(out: Path, config: dict[str, Any], code_files: Sequence[Path] = ()) -> None:
    """Write ``config.json`` (normalised) and the modeling code into the existing folder ``out``.

    MPT gets llm-foundry 0.22's code (``trust_remote_code``), which the normalised config is
    written for; another model type gets ``code_files`` copied.
    """
    cfg = normalise_config(config, out / "config.json").config
    if cfg.get("model_type") == "mpt":
        cfg = _write_mpt_code(out, cfg)
    else:
        for f in code_files:
            shutil.copyfile(f, out / f.name)
    (out / "config.json").write_text(json.dumps(cfg, indent=2) + "\n", encoding="utf-8")
    if cfg.get("model_type") == "mpt":
        from llmfoundry.utils.huggingface_hub_utils import edit_files_for_hf_compatibility

        edit_files_for_hf_compatibility(str(out))


def write_hf_folder(
    out: Path,
    config: dict[str, Any],
    state: Mapping[str, torch.Tensor],
    tokenizer: Any | None = None,
    code_files: Sequence[Path] = (),
    dtype: torch.dtype | None = None,
    max_shard_size: int | str = MAX_SHARD_SIZE,
) -> list[str]:
    """Write an HF folder ``transformers`` loads (MPT with ``trust_remote_code=True``).

    Args:
        out: The folder (created; files in it are overwritten).
        config: The HF config (normalised and made portable here).
        state: The weights under HF names; a tied model's ``lm_head.weight`` must be left out.
        tokenizer: Saved into the folder when given.
        code_files: Custom-code ``*.py`` files of a non-MPT source folder to copy along (MPT
            always gets llm-foundry 0.22's code, which the normalised config is written for).
        dtype: Weights dtype of the output (floating-point tensors converted while writing);
            None keeps each tensor's dtype.
        max_shard_size: Largest shard (bytes or ``"5GB"``).

    Returns:
        The weight files written, in order.

    Raises:
        ConfigError: The config has a key that changes the computation and cannot be honoured.
    """
    cfg = portable_config(normalise_config(config, out / "config.json").config)
    if tokenizer is not None:
        cfg = with_tokenizer(cfg, tokenizer)
    floats = [t for t in state.values() if t.is_floating_point()]
    weights_dtype = dtype or (floats[0].dtype if floats else None)
    if weights_dtype is not None:
        cfg["torch_dtype"] = str(weights_dtype).removeprefix("torch.")
    out.mkdir(parents=True, exist_ok=True)
    for old in [*out.glob("model*.safetensors"), out / SAFE_INDEX]:
        old.unlink(missing_ok=True)
    write_hf_config(out, cfg, code_files)
    shards, total = _shards(state, dtype, max_shard_size)
    for name, keys in shards.items():
        write_safetensors(out / name, {k: state[k] for k in keys}, dtype)
    if len(shards) > 1:
        weight_map = {k: name for name, keys in shards.items() for k in keys}
        index = {"metadata": {"total_size": total}, "weight_map": weight_map}
        (out / SAFE_INDEX).write_text(json.dumps(index, indent=2) + "\n", encoding="utf-8")
    if tokenizer is not None:
        tokenizer.save_pretrained(str(out))
        write_generation_config(out, cfg)
    apply_umask(out)
    log.info("wrote %s: %d weight file(s), %.2f GB", out, len(shards), total / 1e9)
    return list(shards)
