"""``csmpt export``: a Composer checkpoint -> an HF directory that ``transformers`` loads.

The conversion is llm-foundry's (``HuggingFaceCheckpointer``'s steps, callable without a
Trainer): the recipe's model gets the checkpoint's weights, its HF config is made portable
(``attn_impl: torch``, ``init_device: cpu`` for MPT), ``save_pretrained`` writes the weights
and the tokenizer, and for MPT ``edit_files_for_hf_compatibility`` adds the modeling code
(``trust_remote_code``). Then the export checks itself: the folder is loaded back with
``AutoModelForCausalLM`` and its logits on a fixed input are compared with the Composer model's.
The folder appears only when the check passes (written to a temporary folder, then renamed).
"""

from __future__ import annotations

import copy
import logging
import shutil
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from csmpt.atomic_dir import replace_dir
from csmpt.errors import CsmptError, DataError
from csmpt.eval.models import build_recipe_model, load_checkpoint_weights

if TYPE_CHECKING:
    import torch
    from transformers import PreTrainedTokenizerBase

__all__ = ["ExportResult", "PARITY_TEXT", "TOLERANCE", "export_to_hf", "logits_parity"]

log = logging.getLogger(__name__)

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


def _portable_config(config: Any) -> Any:
    """The HF config as ``HuggingFaceCheckpointer.transform_config`` makes it."""
    cfg = copy.deepcopy(config)
    if cfg.model_type == "mpt":
        cfg.attn_config["attn_impl"] = "torch"
        cfg.init_device = "cpu"
    return cfg


def _save(hf_model: Any, tokenizer: PreTrainedTokenizerBase, dtype: str, out: Path) -> None:
    import torch
    from accelerate import init_empty_weights
    from llmfoundry.models.mpt import MPTConfig, MPTForCausalLM
    from llmfoundry.utils.huggingface_hub_utils import edit_files_for_hf_compatibility
    from transformers.models.auto.configuration_auto import CONFIG_MAPPING

    CONFIG_MAPPING._extra_content["mpt"] = MPTConfig
    MPTConfig.register_for_auto_class()
    MPTForCausalLM.register_for_auto_class("AutoModelForCausalLM")
    torch_dtype = getattr(torch, _DTYPES[dtype])
    state = {k: v.detach().to(torch_dtype) for k, v in hf_model.state_dict().items()}
    with init_empty_weights():
        new = type(hf_model)(_portable_config(hf_model.config))
    new.load_state_dict(state, assign=True)
    new.config.torch_dtype = torch_dtype
    new.save_pretrained(out)
    tokenizer.save_pretrained(out)
    if new.config.model_type == "mpt":
        edit_files_for_hf_compatibility(str(out))


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
        checkpoint: A Composer checkpoint (``ep0-ba40-rank0.pt``).
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
    if out.exists() and not overwrite:
        raise CsmptError(f"'{out}' exists; pass --overwrite to replace it")
    ckpt = Path(checkpoint)
    if not ckpt.is_file():
        raise DataError(f"checkpoint '{ckpt}' does not exist")
    rm = build_recipe_model(train_yaml, overrides)
    load_checkpoint_weights(rm.model, ckpt, rm.recipe)
    hf_model: Any = getattr(rm.model, "model", None)
    if hf_model is None or not hasattr(hf_model, "save_pretrained"):
        raise CsmptError(f"{train_yaml}: model '{rm.name}' is not an HF-backed llm-foundry model")
    hf_model.eval()
    tmp = out.with_name(f"partial_export_{out.name.replace('.', '_')}")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.parent.mkdir(parents=True, exist_ok=True)
    try:
        _save(hf_model, rm.tokenizer, dtype, tmp)
        exported = _load_export(tmp, dtype)
        ids = rm.tokenizer(PARITY_TEXT, return_tensors="pt")["input_ids"][:, : rm.max_seq_len]
        reference = hf_model
        if dtype != "fp32":  # compare at the export's precision
            reference = copy.deepcopy(hf_model).to(getattr(torch, _DTYPES[dtype]))
        diff = logits_parity(reference, exported, ids)
        tol = TOLERANCE[dtype]
        if not diff <= tol:
            raise CsmptError(
                f"export check failed: max abs logit difference {diff:.3g} > {tol:g} between "
                f"{ckpt} and the exported model"
            )
        replace_dir(tmp, out)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    model_type = str(hf_model.config.model_type)
    log.info("exported %s to %s, max abs logit diff %.3g", ckpt, out, diff)
    return ExportResult(out, model_type, diff, tol, int(ids.shape[1]))
