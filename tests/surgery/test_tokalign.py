"""Alignment (TokAlign) init: the relative-representation math by hand, and a real swap."""

from __future__ import annotations

import math
from typing import Any

import pytest
import torch

from csmpt.errors import ConfigError
from csmpt.surgery.focus import sparsemax
from csmpt.surgery.report import SurgeryReport, report_rows
from csmpt.surgery.tokalign import (
    AlignConfig,
    align_combinations,
    align_pieces,
    align_weights,
    relative_representations,
)
from tests.surgery.conftest import cs_texts
from tests.surgery.test_surgery import tiny_mpt


def test_relative_representations_against_hand_computed_values() -> None:
    anchors = torch.tensor([[2.0, 0.0], [0.0, 2.0], [-2.0, -2.0]])  # their mean is 0
    vecs = torch.tensor([[3.0, 0.0], [1.0, 1.0]])
    # cosines: [1, 0, -1/sqrt2] and [1/sqrt2, 1/sqrt2, -1]; then each row L2-normalised
    r = 1 / math.sqrt(2)
    want = torch.tensor([[1.0, 0.0, -r], [r, r, -1.0]])
    want = want / want.norm(dim=-1, keepdim=True)
    assert torch.allclose(relative_representations(vecs, anchors), want.double(), atol=1e-12)
    # centred at the anchors' mean (2, 2): anchors (1, -1), (-1, 1); (4, 2) -> (2, 0)
    got = relative_representations(
        torch.tensor([[4.0, 2.0]]), torch.tensor([[3.0, 1.0], [1.0, 3.0]])
    )
    assert torch.allclose(got, torch.tensor([[r, -r]]).double(), atol=1e-12)


def test_align_weights_pick_the_most_alike_and_sparsemax_the_top_k() -> None:
    t = torch.nn.functional.normalize(torch.tensor([[1.0, 0.0], [0.6, 0.8]]).double(), dim=-1)
    s = torch.nn.functional.normalize(
        torch.tensor([[0.0, 1.0], [1.0, 0.0], [-0.6, 0.8], [1.0, 0.0]]).double(), dim=-1
    )
    idx, w, best = align_weights(t, s, top_k=1)
    # row 0: similarities [0, 1, -.6, 1]: a tie between 1 and 3 goes to the lower index
    assert idx.tolist() == [[1], [0]] and w.tolist() == [[1.0], [1.0]]
    assert best.tolist() == pytest.approx([1.0, 0.8])  # row 1: [.8, .6, .28, .6]
    idx, w, _ = align_weights(t, s, top_k=3)
    assert idx.tolist() == [[1, 3, 0], [0, 1, 3]]
    # sparsemax([1, 1, 0]): support {1, 1}, tau = (2 - 1) / 2 -> [.5, .5, 0]
    assert torch.allclose(w[0], sparsemax(torch.tensor([1.0, 1.0, 0.0]).double()))
    assert w[0].tolist() == pytest.approx([0.5, 0.5, 0.0])
    # sparsemax([.8, .6, .6]): all three, tau = (2 - 1) / 3
    assert w[1].tolist() == pytest.approx([0.8 - 1 / 3, 0.6 - 1 / 3, 0.6 - 1 / 3])
    # the zero weight is dropped from the combination; ids map through the candidates
    combos, mean_best = align_combinations([7, 9], t, [40, 41, 42, 43], s, top_k=3)
    assert combos[7] == ([41, 43], pytest.approx([0.5, 0.5]))
    assert combos[9][0] == [40, 41, 43] and sum(combos[9][1]) == pytest.approx(1.0)
    assert mean_best == pytest.approx((1.0 + 0.8) / 2)


def test_relative_representations_align_two_spaces_a_rotation_and_shift_apart() -> None:
    """The point of anchors: two fastText spaces differ by more than a relabelling, but a token's
    centred cosines to the anchors do not change under a rotation and a shift, so each token
    finds its twin."""
    g = torch.Generator().manual_seed(0)
    x = torch.randn(60, 16, generator=g, dtype=torch.float64)  # 60 tokens, one space
    q, _ = torch.linalg.qr(torch.randn(16, 16, generator=g, dtype=torch.float64))
    y = x @ q + 3.0  # the other space: rotated and shifted
    perm = torch.randperm(60, generator=g)  # the source ids are in another order
    anchors = list(range(20))
    t_rel = relative_representations(x[20:], x[anchors])
    s_rel = relative_representations(y[perm], y[anchors])
    idx, _, best = align_weights(t_rel, s_rel, top_k=1)
    assert perm[idx[:, 0]].tolist() == list(range(20, 60))  # every new token finds its twin
    assert torch.allclose(best, torch.ones(40, dtype=torch.float64))
    # without the anchors (raw vectors across the two spaces) the twins are mostly not found
    raw = (
        torch.nn.functional.normalize(x[20:], dim=-1)
        @ torch.nn.functional.normalize(y[perm], dim=-1).T
    )
    assert (perm[raw.argmax(-1)] == torch.arange(20, 60)).sum() < 10


def test_align_swap_rows_are_their_aligned_source_rows_and_runs_are_identical(
    swap_inputs: dict[str, object],
) -> None:
    from csmpt.surgery.alignment import token_frequencies
    from csmpt.surgery.vocab_swap import VocabSwapConfig, swap_vocabulary

    en, cs, weights, texts = (swap_inputs[k] for k in ("en", "cs", "weights", "texts"))
    align = AlignConfig(dim=32, epochs=3, max_anchors=300)
    cfg = VocabSwapConfig(methods=["exact"], init="align", align=align)
    counts = token_frequencies(cs, texts, len(cs))  # type: ignore[arg-type]
    res = swap_vocabulary(weights, en, cs, cfg, counts, seed=5, texts=texts)  # type: ignore[arg-type]
    again = swap_vocabulary(weights, en, cs, cfg, counts, seed=5, texts=texts)  # type: ignore[arg-type]
    key = "transformer.wte.weight"
    src, out = weights.state[key], res.weights.state[key]  # type: ignore[attr-defined]
    assert torch.equal(out, again.weights.state[key])  # deterministic given the seed
    assert res.focus is None and res.align is not None

    pairs = res.alignment.pairs
    for t, (s, _) in pairs.items():  # shared (and special) rows: bit-identical
        assert torch.equal(out[t], src[s])
    shared = {t: s for t, (s, m) in pairs.items() if m != "special"}
    combos, stats = align_pieces(cs, en, texts, shared, set(pairs), counts, align, 5)  # type: ignore[arg-type]
    assert res.align == stats
    assert stats.top_k == 1 and 0 < stats.anchors <= 300 and stats.check_pairs > 10
    assert stats.aligned > 500 and stats.fallback > 0
    assert stats.aligned + stats.fallback + len(pairs) == len(cs)  # type: ignore[arg-type]
    specials = set(en.all_special_ids)  # type: ignore[attr-defined]
    for ids, w in combos.values():  # top_k 1: each new row is one source row, copied
        assert len(ids) == 1 and w == [1.0] and ids[0] not in specials
    for t, (ids, _) in list(combos.items())[::25]:
        assert torch.equal(out[t], src[ids[0]])
    assert stats.copied_shared == sum(1 for ids, _ in combos.values() if ids[0] in shared.values())
    mean = src.float().mean(0)
    rest = [t for t in range(len(cs)) if t not in pairs and t not in combos]  # type: ignore[arg-type]
    assert len(rest) == stats.fallback
    assert all(torch.allclose(out[t].float(), mean, atol=1e-6) for t in rest[:20])

    # top_k 3: sparsemax weights over the three most alike source tokens
    cfg3 = VocabSwapConfig(
        methods=["exact"], init="align", align=AlignConfig(dim=32, epochs=3, top_k=3)
    )
    res3 = swap_vocabulary(weights, en, cs, cfg3, counts, seed=5, texts=texts)  # type: ignore[arg-type]
    combos3, _ = align_pieces(cs, en, texts, shared, set(pairs), counts, cfg3.align, 5)  # type: ignore[arg-type]
    out3 = res3.weights.state[key]
    assert any(len(ids) > 1 for ids, _ in combos3.values())
    for t, (ids, w) in list(combos3.items())[::40]:
        assert 1 <= len(ids) <= 3 and sum(w) == pytest.approx(1.0, abs=1e-9)
        want = (torch.tensor(w)[:, None] * src[ids].float()).sum(0)
        assert torch.allclose(out3[t].float(), want, atol=1e-6)

    rep = SurgeryReport("mpt", "en", "out", len(en), res.vocab_size, target_tokens=len(cs))  # type: ignore[arg-type]
    rep.align = vars(stats)
    rows = dict(report_rows(rep))
    row = rows["alignment"]  # the report's line
    assert f"{stats.aligned:,} tokens aligned" in row and f"{stats.anchors:,} anchors" in row
    rep.align = {**vars(stats), "check_top1": 0.1, "check_pairs": 67}
    assert dict(report_rows(rep))["alignment check"].startswith("WEAK: 10% of held-out")
    rep.align = {**vars(stats), "check_top1": 0.9, "check_pairs": 67}
    assert "alignment check" not in dict(report_rows(rep))


def test_bad_alignment_settings_are_one_line_errors(swap_inputs: dict[str, object]) -> None:
    from csmpt.surgery.vocab_swap import VocabSwapConfig, swap_vocabulary

    en, cs, weights, texts = (swap_inputs[k] for k in ("en", "cs", "weights", "texts"))
    cases = [
        (VocabSwapConfig(init="alignn"), r"'vocab_swap.init' is 'alignn'; use one of .*align"),
        (
            VocabSwapConfig(methods=["exact"], init="align", align=AlignConfig(top_k=0)),
            r"'vocab_swap.align.top_k' is 0; use 1 or more",
        ),
        (
            VocabSwapConfig(methods=["exact"], init="align", align=AlignConfig(fallback="focus")),
            r"'vocab_swap.align.fallback': unknown 'focus'",
        ),
    ]
    for cfg, match in cases:
        with pytest.raises(ConfigError, match=match) as e:
            swap_vocabulary(weights, en, cs, cfg, seed=0, texts=texts)  # type: ignore[arg-type]
        assert "\n" not in str(e.value)
    with pytest.raises(ConfigError, match="init 'align' trains fastText on it; it is empty"):
        empty = VocabSwapConfig(methods=["exact"], init="align")
        swap_vocabulary(weights, en, cs, empty, seed=0, texts=[])  # type: ignore[arg-type]


def test_a_token_aligns_with_itself_when_both_tokenizers_are_one(
    swap_inputs: dict[str, object],
) -> None:
    """End to end with a known answer: the Czech tokenizer swapped to itself with only the 300
    most frequent tokens aligned (``max_aligned``). The two fastText spaces differ (seeds
    5 and 6), so every other token's right alignment is itself, found through the anchors."""
    from csmpt.surgery.alignment import token_frequencies
    from csmpt.surgery.vocab_swap import VocabSwapConfig, swap_vocabulary

    cs: Any = swap_inputs["cs"]
    texts = cs_texts()  # 300 documents
    weights = tiny_mpt(len(cs), 1)
    counts = token_frequencies(cs, texts, len(cs))
    cfg = VocabSwapConfig(methods=["exact"], max_aligned=300, init="align")
    res = swap_vocabulary(weights, cs, cs, cfg, counts, seed=5, texts=texts)
    stats = res.align
    assert stats is not None and stats.aligned > 1500
    key = "transformer.wte.weight"
    src, out = weights.state[key], res.weights.state[key]
    new = [t for t in range(len(cs)) if t not in res.alignment.pairs]
    itself = sum(torch.equal(out[t], src[t]) for t in new)  # its own row, copied bit for bit
    # measured 2,022 of 2,159 (93.7%); chance is 1 in 2,459; the mean init gets none
    assert itself > 0.85 * stats.aligned, (itself, stats)
    assert stats.check_top1 > 0.85
