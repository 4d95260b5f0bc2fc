"""csmpt_flex_alibi equals llm-foundry's torch attention, alone and inside a tiny ALiBi MPT."""

from __future__ import annotations

import copy
import functools
from pathlib import Path
from typing import Any

import pytest
import torch
from llmfoundry.models.layers.attention import (
    build_alibi_bias,
    scaled_multihead_dot_product_attention,
)
from llmfoundry.models.mpt import ComposerMPTCausalLM
from test_alibi_attention import (
    HEADS,
    HS,
    MPT_VARIANTS,
    TOL,
    VOCAB,
    _assert_same,
    _batch,
    _mpt_cfg,
    _qkv,
)
from test_alibi_attention import _both as _both_with

from csmpt.models import flex_attention as flex_mod
from csmpt.models.flex_attention import flex_alibi_attention, visible_rows
from csmpt.models.mpt import CsmptMPTCausalLM

_both = functools.partial(_both_with, impl=flex_alibi_attention)  # reference vs flex


@pytest.mark.parametrize("alibi", [False, True], ids=["no-alibi", "alibi"])
@pytest.mark.parametrize("seq_len", [1, 7, 64, 128])
@pytest.mark.parametrize(("n_heads", "kv_n_heads"), HEADS)
def test_causal_flex_equals_torch_reference(
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


@pytest.mark.parametrize("window", [-1, 3])
def test_left_padding_with_fully_masked_rows(window: int) -> None:
    # As MPTModel passes it: padding folded into attn_bias (finfo.min) AND as key_padding_mask.
    # Rows of row 0 before its first real token see no key: the reference softmaxes a row of
    # equal minima (uniform weights), and flex's output must be that too, not zeros or NaN.
    nh, kv_nh, s = 4, 2, 12
    mask = torch.ones(3, s, dtype=torch.bool)
    mask[0, :5] = False
    mask[1, :1] = False
    bias = build_alibi_bias(nh, s).masked_fill(~mask.view(3, 1, 1, s), torch.finfo().min)
    ref, new = _both(
        qkv=_qkv(3, s, nh, kv_nh), n_heads=nh, kv_n_heads=kv_nh, attn_bias=bias,
        key_padding_mask=mask, is_causal=True, grad_rows=mask, sliding_window_size=window,
    )  # fmt: skip
    assert torch.isfinite(new[0]).all()
    assert not torch.allclose(new[0][0, :5], torch.zeros(()))  # the uniform rows, not zeros
    _assert_same(ref, new)


def test_sliding_window_equals_reference() -> None:
    ref, new = _both(
        qkv=_qkv(2, 20, 4, 2), n_heads=4, kv_n_heads=2, attn_bias=build_alibi_bias(4, 20),
        is_causal=True, sliding_window_size=5,
    )  # fmt: skip
    _assert_same(ref, new)


def test_softcapping_is_applied_before_the_bias() -> None:
    ref, new = _both(
        qkv=_qkv(2, 24, 4, 4), n_heads=4, kv_n_heads=4, attn_bias=build_alibi_bias(4, 24),
        is_causal=True, attn_logit_softcapping=0.5,  # small: caps nearly every logit
    )  # fmt: skip
    _assert_same(ref, new)


def test_weights_go_to_the_reference_path() -> None:
    ref, new = _both(
        qkv=_qkv(1, 9, 4, 4), n_heads=4, kv_n_heads=4, attn_bias=build_alibi_bias(4, 9),
        is_causal=True, needs_weights=True,
    )  # fmt: skip
    assert new[1] is not None and new[1].shape == (1, 4, 9, 9)
    _assert_same(ref, new)


@pytest.mark.parametrize(("n_heads", "kv_n_heads"), HEADS)
def test_kv_cache_prefill_and_decoding_equal_reference(n_heads: int, kv_n_heads: int) -> None:
    bias = build_alibi_bias(n_heads, 64)
    q, k, v = (t.detach() for t in _qkv(2, 10, n_heads, kv_n_heads))
    caches: dict[str, Any] = {"ref": (), "new": ()}
    fns = {"ref": scaled_multihead_dot_product_attention, "new": flex_alibi_attention}
    for lo, hi in [(0, 7), (7, 8), (8, 10)]:  # prefill 7 tokens on flex, then decode
        outs = {}
        for name, fn in fns.items():
            outs[name], _, caches[name] = fn(
                q[:, lo:hi], k[:, lo:hi], v[:, lo:hi], n_heads=n_heads, kv_n_heads=kv_n_heads,
                past_key_value=caches[name], attn_bias=bias, is_causal=True,
            )  # fmt: skip
        torch.testing.assert_close(outs["new"], outs["ref"], **TOL)
        for c_new, c_ref in zip(caches["new"], caches["ref"], strict=True):
            assert c_new.shape == c_ref.shape
            torch.testing.assert_close(c_new, c_ref)


def test_dropout_runs_through_sdpa_only_in_training() -> None:
    from csmpt.models.alibi_attention import sdpa_alibi_attention

    q, k, v = (t.detach() for t in _qkv(1, 16, 4, 4))
    args = {"n_heads": 4, "kv_n_heads": 4, "is_causal": True, "dropout_p": 0.5}
    plain = flex_alibi_attention(q, k, v, **{**args, "dropout_p": 0.0})[0]
    torch.testing.assert_close(flex_alibi_attention(q, k, v, training=False, **args)[0], plain)
    torch.manual_seed(5)
    dropped = flex_alibi_attention(q, k, v, training=True, **args)[0]
    torch.manual_seed(5)
    torch.testing.assert_close(dropped, sdpa_alibi_attention(q, k, v, training=True, **args)[0])
    assert not torch.allclose(dropped, plain)


def test_visible_rows_matches_a_dense_mask() -> None:
    g = torch.Generator().manual_seed(3)
    padding = torch.rand(5, 16, generator=g) > 0.6
    padding[0] = False  # a row with no real key at all
    for causal in (False, True):
        for window in (-1, 0, 2):
            q = torch.arange(16)[:, None]
            kv = torch.arange(16)[None, :]
            allowed = torch.ones(16, 16, dtype=torch.bool)
            if causal:
                allowed &= kv <= q
            if window != -1:
                allowed &= (q - kv).abs() <= window
            dense = (allowed[None] & padding[:, None, :]).any(-1)  # (B, S_q)
            got = visible_rows(padding, 16, is_causal=causal, sliding_window_size=window)
            assert torch.equal(got, dense), (causal, window)


# --- inside a tiny ALiBi MPT ---------------------------------------------------------------------


def _pair(**attn: Any) -> tuple[ComposerMPTCausalLM, CsmptMPTCausalLM]:
    """The same tiny MPT twice: llm-foundry's with attn_impl torch, ours with csmpt_flex_alibi."""
    torch.manual_seed(0)
    ref = ComposerMPTCausalLM(**_mpt_cfg("torch", **attn))
    new = CsmptMPTCausalLM(**_mpt_cfg("csmpt_flex_alibi", **attn))
    new.load_state_dict(ref.state_dict())
    return ref, new


@pytest.mark.parametrize("variant", MPT_VARIANTS)
@pytest.mark.parametrize("left_pad", [0, 5], ids=["unpadded", "left-padded"])
def test_mpt_logits_and_grads_equal_torch_impl(variant: str, left_pad: int) -> None:
    ref, new = _pair(**MPT_VARIANTS[variant])
    assert new.attn_impl_name == "csmpt_flex_alibi"
    assert {m.attn_fn for m in new.modules() if hasattr(m, "attn_fn")} == {flex_alibi_attention}
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


def test_the_block_mask_is_built_once_per_forward() -> None:
    _, new = _pair()
    cfg = _mpt_cfg("csmpt_flex_alibi")
    cfg["n_layers"] = 3
    model = CsmptMPTCausalLM(**cfg)
    before = flex_mod._BLOCK_MASKS.builds
    for _ in range(2):
        model(_batch())  # every batch row unpadded: one causal block mask for the 3 layers
    assert flex_mod._BLOCK_MASKS.builds - before == 2


def _recipe_model_cfg(repo: Path, recipe: str) -> dict[str, Any]:
    from csmpt.config import load_yaml_with_overrides

    model = dict(load_yaml_with_overrides(repo / f"yamls/tiny/{recipe}.yaml")["model"])
    model.pop("name"), model.pop("init_device")
    return {**model, "max_seq_len": 64, "vocab_size": VOCAB}


def test_the_flex_recipe_trains_4_steps_like_torch_attention(repo: Path) -> None:
    cfg = _recipe_model_cfg(repo, "mpt_flex")
    assert cfg["attn_config"]["attn_impl"] == "csmpt_flex_alibi"
    torch.manual_seed(0)
    torch_attn = {**cfg["attn_config"], "attn_impl": "torch"}
    ref = ComposerMPTCausalLM(**{**cfg, "attn_config": torch_attn})
    new = CsmptMPTCausalLM(**cfg)
    new.load_state_dict(ref.state_dict())
    losses: dict[str, list[float]] = {"ref": [], "new": []}
    for name, model in (("ref", ref), ("new", new)):
        model.train()
        opt = torch.optim.AdamW(model.parameters(), lr=1e-2)
        g = torch.Generator().manual_seed(4)
        for _ in range(4):
            ids = torch.randint(0, VOCAB, (4, 64), generator=g)
            batch = {"input_ids": ids, "attention_mask": torch.ones_like(ids), "labels": ids}
            loss = model.loss(model(batch), batch)
            opt.zero_grad()
            loss.backward()
            opt.step()
            losses[name].append(loss.item())
    assert losses["new"][-1] < losses["new"][0]
    assert losses["new"] == pytest.approx(losses["ref"], rel=1e-5, abs=1e-5)


def test_the_flex_recipe_differs_from_mpt_only_in_the_attention(repo: Path) -> None:
    from csmpt.config import load_yaml_with_overrides

    base = load_yaml_with_overrides(repo / "yamls/tiny/mpt.yaml")
    flex = load_yaml_with_overrides(repo / "yamls/tiny/mpt_flex.yaml")
    expected = copy.deepcopy(base)
    expected["model"]["name"] = "csmpt_mpt_causal_lm"
    expected["model"]["attn_config"]["attn_impl"] = "csmpt_flex_alibi"
    expected["variables"]["run_name"] = "tiny-mpt-flex"
    assert flex == expected, "mpt_flex.yaml must stay mpt.yaml but for model, attention, run name"


def test_registry_key_resolves_through_llm_foundry() -> None:
    from llmfoundry import registry

    assert registry.attention_implementations.get("csmpt_flex_alibi") is flex_alibi_attention


@pytest.mark.slow
def test_flex_recipe_trains_like_the_torch_recipe(tiny_overrides, tmp_path: Path) -> None:
    from csmpt.run_folder import loss_curve
    from csmpt.training import run_training

    steps, curves = 4, {}
    for recipe in ("mpt", "mpt_flex"):
        run_dir = tmp_path / recipe
        every = f"{steps}ba"
        overrides = tiny_overrides(
            run_dir, max_duration=every, eval_interval=every, save_interval=every
        )
        run_training(f"yamls/tiny/{recipe}.yaml", overrides)
        curves[recipe] = [v for _, v in loss_curve(run_dir / "metrics.jsonl")]
    assert len(curves["mpt_flex"]) == steps
    assert curves["mpt_flex"] == pytest.approx(curves["mpt"], rel=1e-5, abs=1e-5)


# --- CUDA: the compiled kernel -------------------------------------------------------------------


@pytest.mark.gpu
@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16], ids=["fp32", "bf16"])
@pytest.mark.parametrize(("n_heads", "kv_n_heads"), HEADS[:3])
def test_compiled_flex_on_cuda_equals_reference(
    n_heads: int, kv_n_heads: int, dtype: torch.dtype
) -> None:
    dev, s = torch.device("cuda"), 256
    qkv = [t.detach().to(dev, dtype).requires_grad_() for t in _qkv(2, s, n_heads, kv_n_heads)]
    bias = build_alibi_bias(n_heads, 512, device=dev, dtype=torch.float32)  # as MPTModel builds it
    args = {"n_heads": n_heads, "kv_n_heads": kv_n_heads, "attn_bias": bias, "is_causal": True}
    ref_in = [t.detach().float().requires_grad_() for t in qkv]
    ref = scaled_multihead_dot_product_attention(*ref_in, **args)[0]
    new = flex_alibi_attention(*qkv, **args)[0]
    assert "cuda" in flex_mod._compiled and new.dtype == dtype
    tol = {"rtol": 2e-2, "atol": 2e-2} if dtype == torch.bfloat16 else {"rtol": 1e-4, "atol": 1e-4}
    torch.testing.assert_close(new.float(), ref, **tol)
    upstream = torch.randn_like(ref)
    (ref * upstream).sum().backward()
    (new.float() * upstream).sum().backward()
    for g_new, g_ref in zip((t.grad for t in qkv), (t.grad for t in ref_in), strict=True):
        assert g_new is not None and g_ref is not None
        torch.testing.assert_close(g_new.float(), g_ref, **tol)


@pytest.mark.gpu
def test_compiled_flex_does_not_recompile_across_forwards() -> None:
    # Every forward hands flex new score_mod/mask_mod closures over new bias tensors: the
    # compiled kernel must be reused, not recompiled (which would end in eager fallbacks).
    dev, s, nh = torch.device("cuda"), 256, 4
    args = {"n_heads": nh, "kv_n_heads": nh, "is_causal": True}
    for step in range(3):
        q, k, v = (t.detach().to(dev, torch.bfloat16) for t in _qkv(2, s, nh, nh, seed=step))
        bias = build_alibi_bias(nh, s, device=dev).expand(2, -1, -1, -1).clone()  # a new tensor
        mask = torch.ones(2, s, dtype=torch.bool, device=dev)  # a new padding mask each forward
        if step == 0:
            flex_alibi_attention(q, k, v, attn_bias=bias, key_padding_mask=mask, **args)
            continue
        with torch._dynamo.config.patch(error_on_recompile=True):
            flex_alibi_attention(q, k, v, attn_bias=bias, key_padding_mask=mask, **args)


@pytest.mark.gpu
def test_compiled_flex_mpt_with_padding_on_cuda_equals_torch_impl() -> None:
    ref, new = _pair(attn_type="grouped_query_attention", kv_n_heads=2)
    ref, new = ref.cuda().eval(), new.cuda().eval()
    batch = {k: v.cuda() for k, v in _batch(left_pad=5).items() if k != "sequence_id"}
    with torch.no_grad():
        torch.testing.assert_close(new(batch).logits, ref(batch).logits, rtol=1e-4, atol=1e-4)
