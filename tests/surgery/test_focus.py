"""FOCUS init: sparsemax and the combination by hand, and a real swap on the Czech sample."""

from __future__ import annotations

import math

import pytest
import torch

from csmpt.errors import DataError
from csmpt.surgery.embed_init import build_embedding
from csmpt.surgery.focus import (
    FocusConfig,
    focus_pieces,
    focus_weights,
    sparsemax,
    train_fasttext,
    weighted_pieces,
)


def test_sparsemax_against_hand_computed_values() -> None:
    z = torch.tensor(
        [
            [1.0, 0.5, -1.0],  # support {1, .5}: tau = (1.5 - 1) / 2 = .25
            [0.2, 0.1, 0.15],  # all three: tau = (.45 - 1) / 3
            [3.0, 0.0, 0.0],  # one winner: tau = 2
            [0.0, 0.0, 0.0],  # a tie: uniform
        ]
    )
    want = torch.tensor(
        [
            [0.75, 0.25, 0.0],
            [0.2 + 0.55 / 3, 0.1 + 0.55 / 3, 0.15 + 0.55 / 3],
            [1.0, 0.0, 0.0],
            [1 / 3, 1 / 3, 1 / 3],
        ]
    )
    got = sparsemax(z)
    assert torch.allclose(got, want, atol=1e-6)
    assert torch.allclose(got.sum(-1), torch.ones(4), atol=1e-6)
    perm = torch.tensor([2, 0, 1])  # the order of the entries does not matter
    assert torch.allclose(sparsemax(z[:, perm]), want[:, perm], atol=1e-6)


def test_focus_weights_are_sparsemax_of_cosine_similarity() -> None:
    new = torch.tensor([[2.0, 0.0], [0.0, 0.0]])  # a zero vector is like nothing: uniform
    shared = torch.tensor([[1.0, 0.0], [0.0, 3.0], [1.0, 1.0]])
    # cos = [1, 0, 1/sqrt2]: support {1, 1/sqrt2}, tau = (1 + 1/sqrt2 - 1) / 2
    tau = (1 / math.sqrt(2)) / 2
    want = torch.tensor([[1 - tau, 0.0, 1 / math.sqrt(2) - tau], [1 / 3, 1 / 3, 1 / 3]])
    assert torch.allclose(focus_weights(new, shared), want.double(), atol=1e-12)


def test_combination_rows_are_weighted_sums_and_copied_rows_stay_exact() -> None:
    torch.manual_seed(0)
    source = torch.randn(6, 4)  # (V_source, d)
    pieces = weighted_pieces({3: ([0, 2], [0.25, 0.75]), 1: ([5], [1.0])})
    out = build_embedding(
        source, 8, torch.tensor([0, 2]), torch.tensor([4, 1]), "mean", pieces=pieces
    )
    assert torch.allclose(out[3], 0.25 * source[0] + 0.75 * source[2])
    assert torch.equal(out[1], source[5])
    assert torch.equal(out[0], source[4]) and torch.equal(out[2], source[1])  # copied exactly
    mean = source.mean(0)
    assert all(torch.allclose(out[i], mean) for i in (4, 5, 6, 7))  # the fallback rows
    # a bf16 model: the sums are accumulated in float32, then rounded once
    half = build_embedding(
        source.bfloat16(), 8, torch.tensor([0, 2]), torch.tensor([4, 1]), "mean", pieces=pieces
    )
    b = source.bfloat16().float()
    assert torch.equal(half[3], (0.25 * b[0] + 0.75 * b[2]).bfloat16())
    assert torch.equal(half[0], source[4].bfloat16())


def test_a_corpus_too_small_for_min_count_is_a_one_line_error() -> None:
    sentences = [["Ġpes", "Ġa"], ["Ġkůň"]]
    with pytest.raises(DataError, match=r"min_count=3 times \(the most frequent occurs 1") as e:
        train_fasttext(sentences, FocusConfig(min_count=3), seed=0)
    assert "\n" not in str(e.value) and "give at least 3 occurrences" in str(e.value)


def test_focus_swap_rows_combine_shared_rows_and_runs_are_identical(
    swap_inputs: dict[str, object],
) -> None:
    from csmpt.surgery.vocab_swap import VocabSwapConfig, swap_vocabulary

    en, cs, weights, texts = (swap_inputs[k] for k in ("en", "cs", "weights", "texts"))
    focus = FocusConfig(dim=32, epochs=3)
    cfg = VocabSwapConfig(methods=["exact"], init="focus", focus=focus)
    res = swap_vocabulary(weights, en, cs, cfg, seed=5, texts=texts)  # type: ignore[arg-type]
    again = swap_vocabulary(weights, en, cs, cfg, seed=5, texts=texts)  # type: ignore[arg-type]
    key = "transformer.wte.weight"
    src, out = weights.state[key], res.weights.state[key]  # type: ignore[attr-defined]
    assert torch.equal(out, again.weights.state[key])  # deterministic given the seed

    pairs = res.alignment.pairs
    for t, (s, _) in pairs.items():  # shared (and special) rows: bit-identical
        assert torch.equal(out[t], src[s])
    shared = {t: s for t, (s, m) in pairs.items() if m != "special"}
    combos, stats = focus_pieces(cs, texts, shared, set(pairs), len(cs), focus, 5)  # type: ignore[arg-type]
    assert res.focus == stats
    assert stats.combined > 500 and stats.fallback > 0 and stats.shared > 50
    assert stats.combined + stats.fallback + len(pairs) == len(cs)  # type: ignore[arg-type]
    for t, (ids, w) in list(combos.items())[::50]:
        assert sum(w) == pytest.approx(1.0, abs=1e-9) and all(x > 0 for x in w)
        assert set(ids) <= set(shared.values())
        want = (torch.tensor(w)[:, None] * src[ids].float()).sum(0)
        assert torch.allclose(out[t].float(), want, atol=1e-6)
    # the tokens fastText could not place keep the fallback init (the mean row)
    mean = src.float().mean(0)
    rest = [t for t in range(len(cs)) if t not in pairs and t not in combos]  # type: ignore[arg-type]
    assert len(rest) == stats.fallback
    assert all(torch.allclose(out[t].float(), mean, atol=1e-6) for t in rest[:20])
    # FOCUS rows differ from one another (mean init would make them all alike)
    rows = out[list(combos)[:100]]
    assert torch.unique(rows, dim=0).shape[0] == 100
