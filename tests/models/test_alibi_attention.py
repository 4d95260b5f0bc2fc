"""csmpt_sdpa_alibi equals llm-foundry's torch attention, alone and inside a tiny ALiBi MPT."""

from __future__ import annotations

import contextlib
import copy
import json
from pathlib import Path
from typing import Any

import pytest
import torch
from llmfoundry.models.layers.attention import (
    build_alibi_bias,
    scaled_multihead_dot_product_attention,
)
from llmfoundry.models.mpt import ComposerMPTCausalLM

from csmpt.errors import ConfigError
from csmpt.models import alibi_attention
from csmpt.models.alibi_attention import (
    additive_attention_mask,
    sdpa_alibi_attention,
    shared_additive_mask,
)
from csmpt.models.forward_cache import per_layer_masks
from csmpt.models.mpt import CsmptMPTCausalLM

TOL = {"rtol": 1e-5, "atol": 1e-5}
HEADS = [(4, 4), (4, 2), (4, 1), (6, 3)]  # (n_heads, kv_n_heads): MHA, GQA, MQA, non-power-of-2
HS = 16


def _qkv(b: int, s: int, nh: int, kv_nh: int, seed: int = 0) -> list[torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    shapes = [(b, s, nh * HS), (b, s, kv_nh * HS), (b, s, kv_nh * HS)]
    return [torch.randn(*shape, generator=g).requires_grad_() for shape in shapes]


def _both(
    qkv: list[torch.Tensor],
    grad_rows: torch.Tensor | None = None,
    impl: Any = sdpa_alibi_attention,
    **args: Any,
) -> tuple:
    """Run reference and ``impl`` on the same inputs; return (out, weights, cache, grads) of each.

    The output's upstream gradient is random, and zero on queries where ``grad_rows`` is False.
    """
    results = []
    for fn in (scaled_multihead_dot_product_attention, impl):
        q, k, v = (t.detach().clone().requires_grad_() for t in qkv)
        out, weights, cache = fn(q, k, v, **args)
        upstream = torch.randn(out.shape, generator=torch.Generator().manual_seed(1))
        if grad_rows is not None:
            upstream = upstream * grad_rows[..., None]
        (out * upstream).sum().backward()
        results.append((out.detach(), weights, cache, (q.grad, k.grad, v.grad)))
    return results[0], results[1]


def _assert_same(ref: tuple, new: tuple) -> None:
    torch.testing.assert_close(new[0], ref[0], **TOL)
    for g_new, g_ref in zip(new[3], ref[3], strict=True):
        torch.testing.assert_close(g_new, g_ref, **TOL)


@pytest.mark.parametrize("alibi", [False, True], ids=["no-alibi", "alibi"])
@pytest.mark.parametrize("seq_len", [1, 7, 64, 128])
@pytest.mark.parametrize(("n_heads", "kv_n_heads"), HEADS)
def test_causal_attention_equals_torch_reference(
    n_heads: int, kv_n_heads: int, seq_len: int, alibi: bool
) -> None:
    # MPTModel passes a causal ALiBi bias of shape (1, nh, 1, max_seq_len), longer than the input.
    bias = build_alibi_bias(n_heads, 128, full=False) if alibi else None
    ref, new = _both(
        qkv=_qkv(2, seq_len, n_heads, kv_n_heads),
        n_heads=n_heads,
        kv_n_heads=kv_n_heads,
        softmax_scale=1 / HS**0.5,
        attn_bias=bias,
        is_causal=True,
    )
    assert new[1] is None and new[2] is None
    _assert_same(ref, new)


@pytest.mark.parametrize(("n_heads", "kv_n_heads"), HEADS)
def test_full_alibi_without_causal_mask(n_heads: int, kv_n_heads: int) -> None:
    bias = build_alibi_bias(n_heads, 32, full=True)  # (1, nh, 32, 32), as for a non-causal MPT
    ref, new = _both(
        qkv=_qkv(3, 32, n_heads, kv_n_heads), n_heads=n_heads, kv_n_heads=kv_n_heads,
        attn_bias=bias, is_causal=False,
    )  # fmt: skip
    _assert_same(ref, new)


def test_left_padding_with_fully_masked_rows() -> None:
    # As MPTModel does for attn_impl torch: padding folded into attn_bias with finfo.min AND
    # passed again as key_padding_mask; the padded rows are fully masked (uniform, not NaN).
    # Their outputs match; gradients are compared as a loss sees them (none from padded rows,
    # where the reference's masked_fill gives zero and SDPA's softmax a nonzero gradient).
    nh, s = 4, 12
    mask = torch.ones(2, s, dtype=torch.bool)
    mask[0, :5] = False
    bias = build_alibi_bias(nh, s).masked_fill(~mask.view(2, 1, 1, s), torch.finfo().min)
    ref, new = _both(
        qkv=_qkv(2, s, nh, nh), n_heads=nh, kv_n_heads=nh, attn_bias=bias,
        key_padding_mask=mask, is_causal=True, grad_rows=mask,
    )  # fmt: skip
    assert torch.isfinite(new[0]).all()
    _assert_same(ref, new)


@pytest.mark.parametrize(("n_heads", "kv_n_heads"), HEADS)
def test_kv_cache_decoding_equals_reference(n_heads: int, kv_n_heads: int) -> None:
    bias = build_alibi_bias(n_heads, 64)
    q, k, v = (t.detach() for t in _qkv(2, 10, n_heads, kv_n_heads))
    caches: dict[str, Any] = {"ref": (), "new": ()}
    fns = {"ref": scaled_multihead_dot_product_attention, "new": sdpa_alibi_attention}
    for lo, hi in [(0, 7), (7, 8), (8, 9), (9, 10)]:  # prefill 7 tokens, then one at a time
        outs = {}
        for name, fn in fns.items():
            outs[name], _, caches[name] = fn(
                q[:, lo:hi], k[:, lo:hi], v[:, lo:hi], n_heads=n_heads, kv_n_heads=kv_n_heads,
                past_key_value=caches[name], attn_bias=bias, is_causal=True,
            )  # fmt: skip
        torch.testing.assert_close(outs["new"], outs["ref"], **TOL)
        for c_new, c_ref in zip(caches["new"], caches["ref"], strict=True):
            assert c_new.shape == c_ref.shape  # keys (B, kv_nh, hs, S), values (B, kv_nh, S, hs)
            torch.testing.assert_close(c_new, c_ref)


def test_sliding_window_equals_reference() -> None:
    ref, new = _both(
        qkv=_qkv(2, 20, 4, 2), n_heads=4, kv_n_heads=2, attn_bias=build_alibi_bias(4, 20),
        is_causal=True, sliding_window_size=5,
    )  # fmt: skip
    _assert_same(ref, new)


def test_weights_and_softcapping_go_to_the_reference_path() -> None:
    ref, new = _both(
        qkv=_qkv(1, 9, 4, 4), n_heads=4, kv_n_heads=4, attn_bias=build_alibi_bias(4, 9),
        is_causal=True, needs_weights=True, attn_logit_softcapping=30.0,
    )  # fmt: skip
    assert new[1] is not None and new[1].shape == (1, 4, 9, 9)
    torch.testing.assert_close(new[1], ref[1])
    _assert_same(ref, new)


def test_dropout_only_in_training() -> None:
    q, k, v = (t.detach() for t in _qkv(1, 16, 4, 4))
    args = {"n_heads": 4, "kv_n_heads": 4, "is_causal": True, "dropout_p": 0.5}
    evaluated = sdpa_alibi_attention(q, k, v, training=False, **args)[0]
    plain = sdpa_alibi_attention(q, k, v, **{**args, "dropout_p": 0.0})[0]
    torch.testing.assert_close(evaluated, plain)
    assert not torch.allclose(sdpa_alibi_attention(q, k, v, training=True, **args)[0], plain)


# --- the attention inside a tiny ALiBi MPT -------------------------------------------------------

VOCAB = 128


def _mpt_cfg(attn_impl: str, **attn: Any) -> dict[str, Any]:
    return {
        "d_model": 64,
        "n_heads": 4,
        "n_layers": 2,
        "expansion_ratio": 2,
        "max_seq_len": 64,
        "vocab_size": VOCAB,
        "no_bias": True,
        "learned_pos_emb": False,
        "loss_fn": "torch_crossentropy",
        "attn_config": {"attn_impl": attn_impl, "alibi": True, **attn},
    }


def _pair(**attn: Any) -> tuple[ComposerMPTCausalLM, CsmptMPTCausalLM]:
    """The same tiny MPT twice: llm-foundry's with attn_impl torch, ours with csmpt_sdpa_alibi."""
    torch.manual_seed(0)
    ref = ComposerMPTCausalLM(**_mpt_cfg("torch", **attn))
    new = CsmptMPTCausalLM(**_mpt_cfg("csmpt_sdpa_alibi", **attn))
    new.load_state_dict(ref.state_dict())
    return ref, new


def _batch(seq_len: int = 48, left_pad: int = 0) -> dict[str, torch.Tensor]:
    ids = torch.randint(0, VOCAB, (3, seq_len), generator=torch.Generator().manual_seed(2))
    mask = torch.ones_like(ids, dtype=torch.bool)
    mask[0, :left_pad] = False
    sequence_id = (torch.arange(seq_len) >= seq_len // 3).long().expand(3, -1)  # 2 docs a row
    return {
        "input_ids": ids,
        "attention_mask": mask,
        "labels": ids.masked_fill(~mask, -100),
        "sequence_id": sequence_id,
    }


def test_layers_call_the_new_function_and_config_stays_torch() -> None:
    ref, new = _pair()
    fns = {type(m).__name__: m.attn_fn for m in new.modules() if hasattr(m, "attn_fn")}
    assert fns and set(fns.values()) == {sdpa_alibi_attention}
    # By name: an exported MPT's modeling code (loaded by other tests with trust_remote_code)
    # registers its own copy of llm-foundry's torch attention under the same registry key.
    torch_fn = scaled_multihead_dot_product_attention.__name__
    ref_fns = {m.attn_fn.__name__ for m in ref.modules() if hasattr(m, "attn_fn")}
    assert ref_fns == {torch_fn}
    assert new.attn_impl_name == "csmpt_sdpa_alibi"
    assert CsmptMPTCausalLM(**_mpt_cfg("torch")).attn_impl_name == "torch"
    assert new.model.config.attn_config["attn_impl"] == "torch"


MPT_VARIANTS = {
    "mha": {},
    "gqa": {"attn_type": "grouped_query_attention", "kv_n_heads": 2},
    "sequence-id": {"attn_uses_sequence_id": True},
}


@pytest.mark.parametrize("variant", MPT_VARIANTS)
@pytest.mark.parametrize("left_pad", [0, 5], ids=["unpadded", "left-padded"])
def test_mpt_logits_and_grads_equal_torch_impl(variant: str, left_pad: int) -> None:
    ref, new = _pair(**MPT_VARIANTS[variant])
    batch = _batch(left_pad=left_pad)
    if variant != "sequence-id":
        del batch["sequence_id"]
    ref.eval(), new.eval()
    with torch.no_grad():
        torch.testing.assert_close(new(batch).logits, ref(batch).logits, **TOL)
    if left_pad:
        return  # llm-foundry's MPT refuses to train on left padding
    ref.train(), new.train()
    for model in (ref, new):
        model.loss(model(batch), batch).backward()
    for (name, p_ref), p_new in zip(ref.named_parameters(), new.parameters(), strict=True):
        torch.testing.assert_close(p_new.grad, p_ref.grad, **TOL, msg=name)


@pytest.mark.parametrize("variant", MPT_VARIANTS)
@pytest.mark.parametrize("left_pad", [0, 5], ids=["unpadded", "left-padded"])
def test_shared_mask_equals_per_layer_masks(variant: str, left_pad: int) -> None:
    cfg = _mpt_cfg("csmpt_sdpa_alibi", **MPT_VARIANTS[variant])
    cfg["n_layers"] = 3
    torch.manual_seed(0)
    model = CsmptMPTCausalLM(**cfg).train(left_pad == 0)  # MPT refuses to train on left padding
    batch = _batch(left_pad=left_pad)
    if variant != "sequence-id":
        del batch["sequence_id"]
    results, builds = [], []
    for sharing in (False, True):
        start = alibi_attention._MASKS.builds
        with contextlib.nullcontext() if sharing else per_layer_masks():
            out = model(batch)
            model.zero_grad()
            model.loss(out, batch).backward()
        builds.append(alibi_attention._MASKS.builds - start)
        results.append((out.logits.detach(), [p.grad.clone() for p in model.parameters()]))
    assert builds == [3, 1]  # one mask a layer before; one a forward, shared, now
    torch.testing.assert_close(results[1][0], results[0][0], **TOL)
    for g_shared, g_layer in zip(results[1][1], results[0][1], strict=True):
        torch.testing.assert_close(g_shared, g_layer, **TOL)


def test_unpadded_batch_gets_one_mask_without_batch_dimension() -> None:
    nh, s, b = 4, 16, 3

    def mask_of(padding: torch.Tensor, bias: torch.Tensor) -> torch.Tensor | None:
        bias = bias.masked_fill(~padding.view(b, 1, 1, s), torch.finfo().min)  # as MPTModel does
        args = {"is_causal": True, "sliding_window_size": -1, "dtype": torch.float32}
        return shared_additive_mask(
            bias, s, s, key_padding_mask=padding, device=torch.device("cpu"), **args
        )

    alibi = build_alibi_bias(nh, s, full=False)  # (1, nh, 1, S)
    ones = torch.ones(b, s, dtype=torch.bool)
    unpadded = mask_of(ones, alibi)
    assert unpadded is not None and unpadded.shape == (1, nh, s, s)
    padded = ones.clone()
    padded[1, :2] = False
    assert (m := mask_of(padded, alibi)) is not None and m.shape == (b, nh, s, s)
    per_row = alibi.expand(b, -1, s, -1) + torch.arange(b).view(b, 1, 1, 1)  # rows differ
    assert (m := mask_of(ones, per_row)) is not None and m.shape == (b, nh, s, s)
    expected = additive_attention_mask(alibi, s, s, is_causal=True, key_padding_mask=ones)
    assert expected is not None and expected.shape == (b, nh, s, s)
    torch.testing.assert_close(unpadded.expand(b, -1, -1, -1), expected, rtol=0, atol=0)


def test_mask_memory_benchmark_runs_and_sharing_saves_memory() -> None:
    from procs import run_bench

    out = run_bench(
        "sdpa_mask_memory.py", "--batch", "2", "--seq", "96", "--layers", "3", "--heads", "4",
        "--d-model", "32", "--no-anchor",
    )  # fmt: skip
    ratio = out.split("saved for backward ")[-1].split("x")[0]
    assert 0 < float(ratio) < 1, out  # the shared mask holds less for backward


def test_mpt_kv_cache_decoding_equals_torch_impl() -> None:
    ref, new = _pair()
    ids = _batch()["input_ids"]
    logits = {}
    for name, model in (("ref", ref), ("new", new)):
        hf = model.model.eval()
        with torch.no_grad():
            past = hf(ids[:, :-2], use_cache=True).past_key_values
            step = hf(ids[:, -2:-1], past_key_values=past, use_cache=True)
            last = hf(ids[:, -1:], past_key_values=step.past_key_values, use_cache=True)
        logits[name] = torch.cat([step.logits, last.logits], dim=1)
    torch.testing.assert_close(logits["new"], logits["ref"], **TOL)


def test_training_steps_run_and_match_torch_impl() -> None:
    ref, new = _pair()
    losses: dict[str, list[float]] = {"ref": [], "new": []}
    for name, model in (("ref", ref), ("new", new)):
        model.train()
        opt = torch.optim.AdamW(model.parameters(), lr=1e-2)
        for _ in range(3):
            batch = _batch()
            loss = model.loss(model(batch), batch)
            opt.zero_grad()
            loss.backward()
            opt.step()
            losses[name].append(loss.item())
    assert all(torch.isfinite(torch.tensor(losses["new"])))
    assert losses["new"][-1] < losses["new"][0]
    assert losses["new"] == pytest.approx(losses["ref"], rel=1e-5)


def test_export_is_a_plain_torch_mpt_that_transformers_loads(tmp_path: Path) -> None:
    from llmfoundry.models.mpt import MPTConfig, MPTForCausalLM
    from llmfoundry.utils.huggingface_hub_utils import edit_files_for_hf_compatibility
    from transformers import AutoModelForCausalLM

    _, model = _pair()
    meta = model.get_metadata()["model"]  # what a Composer checkpoint records
    assert meta["config"]["content"]["attn_config"]["attn_impl"] == "torch"
    assert meta["config"]["class"] == "llmfoundry.models.mpt.modeling_mpt.MPTForCausalLM"
    assert type(model.model) is MPTForCausalLM and type(model.model.config) is MPTConfig

    # As llm-foundry's hf_checkpointer callback writes it.
    MPTConfig.register_for_auto_class()
    MPTForCausalLM.register_for_auto_class("AutoModelForCausalLM")
    out = tmp_path / "hf"
    model.model.save_pretrained(out)
    edit_files_for_hf_compatibility(str(out))
    config = json.loads((out / "config.json").read_text())
    assert config["attn_config"]["attn_impl"] == "torch" and "csmpt" not in json.dumps(config)
    hf = AutoModelForCausalLM.from_pretrained(out, trust_remote_code=True).eval()
    ids = _batch()["input_ids"]
    model.eval()
    with torch.no_grad():
        torch.testing.assert_close(hf(ids).logits, model.model(ids).logits, **TOL)


def test_unknown_attn_impl_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match=r"attn_impl: 'sdpa_typo' is not a registered"):
        CsmptMPTCausalLM(**_mpt_cfg("sdpa_typo"))


def test_registry_keys_resolve_through_llm_foundry() -> None:
    from llmfoundry import registry

    assert registry.attention_implementations.get("csmpt_sdpa_alibi") is sdpa_alibi_attention
    assert registry.models.get("csmpt_mpt_causal_lm") is CsmptMPTCausalLM


def test_the_sdpa_recipe_differs_from_mpt_only_in_the_attention(repo: Path) -> None:
    from csmpt.config import load_yaml_with_overrides

    base = load_yaml_with_overrides(repo / "yamls/tiny/mpt.yaml")
    sdpa = load_yaml_with_overrides(repo / "yamls/tiny/mpt_sdpa.yaml")
    assert sdpa["model"]["name"] == "csmpt_mpt_causal_lm"
    assert sdpa["model"]["attn_config"]["attn_impl"] == "csmpt_sdpa_alibi"
    expected = copy.deepcopy(base)
    expected["model"]["name"] = "csmpt_mpt_causal_lm"
    expected["model"]["attn_config"]["attn_impl"] = "csmpt_sdpa_alibi"
    expected["variables"]["run_name"] = "tiny-mpt-sdpa"  # its own run folder
    assert sdpa == expected, "mpt_sdpa.yaml must stay mpt.yaml but for model, attention, run name"


@pytest.mark.gpu
@pytest.mark.parametrize(("n_heads", "kv_n_heads"), HEADS)
def test_bf16_on_cuda_equals_reference_and_uses_the_efficient_kernel(
    n_heads: int, kv_n_heads: int
) -> None:
    from torch.nn.attention import SDPBackend, sdpa_kernel

    dev, s = torch.device("cuda"), 256
    q, k, v = (t.detach().to(dev, torch.bfloat16) for t in _qkv(4, s, n_heads, kv_n_heads))
    bias = build_alibi_bias(n_heads, 512, device=dev, dtype=torch.float32)  # as MPTModel builds it
    args = {"n_heads": n_heads, "kv_n_heads": kv_n_heads, "attn_bias": bias, "is_causal": True}
    ref = scaled_multihead_dot_product_attention(q.float(), k.float(), v.float(), **args)[0]
    with sdpa_kernel([SDPBackend.EFFICIENT_ATTENTION]):  # raises if the bias rules it out
        new = sdpa_alibi_attention(q, k, v, **args)[0]
    assert new.dtype == torch.bfloat16
    torch.testing.assert_close(new.float(), ref, rtol=2e-2, atol=2e-2)


@pytest.mark.slow
def test_sdpa_recipe_trains_like_the_torch_recipe(tiny_overrides, tmp_path: Path) -> None:
    from csmpt.run_folder import loss_curve
    from csmpt.training import run_training

    steps, curves = 4, {}
    for recipe in ("mpt", "mpt_sdpa"):
        run_dir = tmp_path / recipe
        every = f"{steps}ba"
        overrides = tiny_overrides(
            run_dir, max_duration=every, eval_interval=every, save_interval=every
        )
        run_training(f"yamls/tiny/{recipe}.yaml", overrides)
        curves[recipe] = [v for _, v in loss_curve(run_dir / "metrics.jsonl")]
    assert len(curves["mpt_sdpa"]) == steps
    assert curves["mpt_sdpa"] == pytest.approx(curves["mpt"], rel=1e-4)
