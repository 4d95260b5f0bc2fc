"""``csmpt export``: a Composer checkpoint -> an HF directory that ``transformers`` loads.

The recipe's model is built on the meta device and given the checkpoint's tensors, memory-mapped
(a monolithic 7B checkpoint, as FSDP ``full`` state dicts are saved, costs file pages; its
optimizer state is never read). The weights are cast to the export dtype, the reference logits on
a fixed input are computed, and the shared HF-folder writer (:mod:`csmpt.checkpoint.hf_folder`:
``save_pretrained``'s sharding and index, normalised portable config, MPT's modeling code for
``trust_remote_code``, the user's umask) writes the folder. Then the export checks itself: the
reference model is dropped, the folder is loaded back with ``AutoModelForCausalLM`` and its
logits are compared with the reference's. One model is in memory at a time; the folder appears
only when the check passes (written to a temporary folder, then renamed).
"""

from __future__ import annotations

import gc
import logging
import shutil
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from csmpt.atomic import check_replaceable, recover_dir, replace_dir
from csmpt.checkpoint.hf_folder import write_hf_folder
from csmpt.checkpoint.loading import (
    build_recipe_model,
    find_checkpoints,
    load_checkpoint_weights,
    recipe_config,
)
from csmpt.checkpoint.sharded import is_sharded_checkpoint
from csmpt.errors import CsmptError, DataError
from csmpt.export.card import model_card

if TYPE_CHECKING:
    import torch
    from transformers import PreTrainedTokenizerBase

__all__ = [
    "EXPORT_MARKS",
    "ExportResult",
    "PARITY_TEXT",
    "TOLERANCE",
    "export_to_hf",
    "logits_parity",
    "not_a_checkpoint",
]

log = logging.getLogger(__name__)

EXPORT_MARKS = ("config.json",)  # what every HF export folder holds

# The fixed input of the parity check (Czech, as the models are).
PARITY_TEXT = "Nejznámějším českým spisovatelem je Karel Čapek, který napsal hru R.U.R."

# Max abs logit difference allowed per export dtype.
TOLERANCE = {"fp32": 1e-4, "bf16": 5e-2, "fp16": 1e-2}
_DTYPES = {"fp32": "float32", "bf16": "bfloat16", "fp16": "float16"}


@dataclass
class ExportResult:
    """Where the export went and how closely it reproduces the Composer model."""

    path: Path
    model_type: str
    max_abs_diff: float
    tolerance: float
    n_tokens: int


def _cast_(model: torch.nn.Module, dtype: torch.dtype) -> None:
    """Cast ``model``'s floating-point parameters to ``dtype`` in place, one tensor at a time."""
    for p in model.parameters():
        if p.is_floating_point() and p.dtype != dtype:
            p.data = p.data.to(dtype)


def _hf_config(hf_model: Any) -> dict[str, Any]:
    config = hf_model.config.to_dict()
    config["architectures"] = [type(hf_model).__name__]
    for key in ("_name_or_path", "transformers_version", "_attn_implementation_autoset"):
        config.pop(key, None)
    return config


def _save(hf_model: Any, tokenizer: PreTrainedTokenizerBase, out: Path) -> None:
    state = dict(hf_model.state_dict())
    if getattr(hf_model.config, "tie_word_embeddings", False):
        state.pop("lm_head.weight", None)  # transformers re-ties it
    write_hf_folder(out, _hf_config(hf_model), state, tokenizer)


def _logits(model: torch.nn.Module, input_ids: torch.Tensor) -> torch.Tensor:
    import torch

    with torch.no_grad():
        return model(input_ids=input_ids).logits.float()


def logits_parity(
    reference: torch.nn.Module, exported: torch.nn.Module, input_ids: torch.Tensor
) -> float:
    """Max abs difference of the two models' logits on ``input_ids`` (B, T), in fp32."""
    import torch

    with torch.no_grad():
        a = reference(input_ids=input_ids).logits.float()
        b = exported(input_ids=input_ids).logits.float()
    return float((a - b).abs().max())


def _load_export(out: Path, dtype: str) -> torch.nn.Module:
    import torch
    from transformers import AutoModelForCausalLM

    try:
        model = AutoModelForCausalLM.from_pretrained(
            out, trust_remote_code=True, torch_dtype=getattr(torch, _DTYPES[dtype])
        )
    except (OSError, ValueError, ImportError) as e:
        raise CsmptError(f"transformers cannot load the export in {out}: {e}") from None
    return model.eval()


def not_a_checkpoint(path: Path) -> str:
    """Why ``path`` is no checkpoint to export, and the one the user likely meant."""
    if not path.is_dir():
        return f"checkpoint '{path}' does not exist"
    try:
        newest = find_checkpoints(path)[-1].path
    except DataError:
        return (
            f"'{path}' is a folder but not a checkpoint (a sharded one holds a .metadata); "
            "name a checkpoint: ep*-ba*-rank0.pt or a sharded ep*-ba*/"
        )
    return f"'{path}' is a run folder, not a checkpoint; its newest checkpoint is {newest}"


def export_to_hf(
    checkpoint: str | Path,
    train_yaml: str | Path,
    out_dir: str | Path,
    overrides: Sequence[str] = (),
    dtype: str = "fp32",
    overwrite: bool = False,
) -> ExportResult:
    """Export a Composer checkpoint of a recipe's model to an HF folder and check its logits.

    Args:
        checkpoint: A Composer checkpoint: ``ep0-ba40-rank0.pt``, or a sharded (DCP) folder
            ``ep0-ba40/`` as FSDP1 and FSDP2 save it.
        train_yaml: The training recipe the run trained with (builds the model and tokenizer).
        out_dir: The HF folder to write (must not exist unless ``overwrite``).
        overrides: ``key=value`` overrides of the recipe.
        dtype: Weights dtype of the export: ``fp32``, ``bf16`` or ``fp16``.
        overwrite: Replace an existing ``out_dir``.

    Raises:
        CsmptError: Bad checkpoint or dtype, existing output, or logits that disagree.
    """
    import torch

    if dtype not in TOLERANCE:
        raise CsmptError(f"unknown dtype '{dtype}'; use one of {', '.join(TOLERANCE)}")
    out = Path(out_dir)
    for line in recover_dir(out):  # a killed earlier export's hidden copies
        log.warning("%s", line)
    check_replaceable(out, EXPORT_MARKS, "output", "HF export")
    if out.exists() and not overwrite:
        raise CsmptError(f"'{out}' exists; pass --overwrite to replace it")
    ckpt = Path(checkpoint)
    if not (ckpt.is_file() or is_sharded_checkpoint(ckpt)):
        raise DataError(not_a_checkpoint(ckpt))
    rm = build_recipe_model(train_yaml, overrides, init_device="meta")
    recipe = recipe_config(train_yaml, overrides)
    load_checkpoint_weights(rm.model, ckpt, rm.recipe, assign=True)
    hf_model: Any = getattr(rm.model, "model", None)
    if hf_model is None or not hasattr(hf_model, "save_pretrained"):
        raise CsmptError(f"{train_yaml}: model '{rm.name}' is not an HF-backed llm-foundry model")
    hf_model.eval()
    model_type = str(hf_model.config.model_type)
    # Not hidden: transformers names the remote-code module after the folder (no leading dot).
    tmp = out.with_name(f"partial_export_{out.name.replace('.', '_')}")
    shutil.rmtree(tmp, ignore_errors=True)  # a killed earlier export's
    tmp.parent.mkdir(parents=True, exist_ok=True)
    try:
        _cast_(hf_model, getattr(torch, _DTYPES[dtype]))  # compare at the export's precision
        ids = rm.tokenizer(PARITY_TEXT, return_tensors="pt")["input_ids"][:, : rm.max_seq_len]
        want = _logits(hf_model, ids)
        _save(hf_model, rm.tokenizer, tmp)
        tokenizer = rm.tokenizer
        del hf_model, rm  # one model in memory at a time
        gc.collect()
        got = _logits(_load_export(tmp, dtype), ids)
        diff = float((want - got).abs().max())
        tol = TOLERANCE[dtype]
        if not diff <= tol:
            raise CsmptError(
                f"export check failed: max abs logit difference {diff:.3g} > {tol:g} between "
                f"{ckpt} and the exported model"
            )
        card = model_card(out, ckpt, recipe, model_type, len(tokenizer), diff, tokenizer)
        (tmp / "README.md").write_text(card, encoding="utf-8")
        replace_dir(tmp, out, EXPORT_MARKS, "HF export")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    log.info("exported %s to %s, max abs logit diff %.3g", ckpt, out, diff)
    return ExportResult(out, model_type, diff, tol, int(ids.shape[1]))
