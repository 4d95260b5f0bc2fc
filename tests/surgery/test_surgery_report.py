"""The surgery report's baselines and wording: uniform, unigram, held-out split (hand-computed)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from csmpt.errors import ConfigError
from csmpt.surgery.recipe import split_held_out
from csmpt.surgery.report import (
    SurgeryReport,
    report_rows,
    set_bits_per_byte,
    uniform_loss,
    unigram_loss,
)

LN2 = math.log(2)


def test_uniform_and_unigram_baselines_match_hand_computed_values() -> None:
    # Vocabulary of 4; training counts a:3 b:1 c:0 d:0 -> add-one p = 4/8, 2/8, 1/8, 1/8.
    counts = np.array([3, 1, 0, 0])
    assert uniform_loss(4) == pytest.approx(2 * LN2)
    # Held-out ids a a c: 1 + 1 + 3 bits = 5 bits over 3 tokens.
    assert unigram_loss(counts, torch.tensor([0, 0, 2])) == pytest.approx(5 * LN2 / 3)
    # An id beyond the counts (a padding row) costs what an unseen token does: 3 bits.
    assert unigram_loss(counts, np.array([7])) == pytest.approx(3 * LN2)
    with pytest.raises(ValueError):
        uniform_loss(0)
    with pytest.raises(ValueError):
        unigram_loss(counts, np.array([], dtype=np.int64))


def test_baselines_in_bits_per_byte_count_the_predicted_tokens_bytes() -> None:
    # Row [x a a c]: x is context only; a = b"ab" (2 bytes), c = b"d" -> 5 bytes predicted.
    token_bytes = {0: b"ab", 1: b"c", 2: b"d", 9: b"xyz"}
    tokens = torch.tensor([[9, 0, 0, 2]])
    r = SurgeryReport("mpt", "src", "out", 4, 4, loss_swapped=LN2, loss_random=4 * LN2)
    r.loss_uniform = uniform_loss(4)
    r.loss_unigram = unigram_loss(np.array([3, 1, 0, 0]), tokens[:, 1:])
    set_bits_per_byte(r, tokens, token_bytes)
    assert r.eval_bytes == 5
    assert r.bpb_uniform == pytest.approx(6 / 5)  # 3 tokens x 2 bits
    assert r.bpb_unigram == pytest.approx(5 / 5)  # 1 + 1 + 3 bits
    assert r.bpb_swapped == pytest.approx(3 / 5)
    assert r.bpb_random == pytest.approx(12 / 5)


def _rows(bpb: float) -> dict[str, str]:
    r = SurgeryReport("mpt", "src", "out", 4, 4, target_tokens=4, eval_bytes=5, eval_tokens=4)
    r.loss_swapped, r.loss_random = 1.0, 2.0
    r.bpb_swapped, r.bpb_random, r.bpb_uniform, r.bpb_unigram = bpb, 2.4, 1.2, 1.0
    r.eval_text = "1 of 10 target.corpus documents held out"
    return dict(report_rows(r))


def test_report_says_when_the_swapped_model_is_worse_than_uniform() -> None:
    worse = _rows(1.3)
    assert "uniform 1.200, unigram 1.000" in worse["bits per byte"]
    assert worse["vs baselines"].startswith("WORSE THAN UNIFORM by 0.100 bpb")
    middle = _rows(1.1)["vs baselines"]
    assert "better than uniform by 0.100" in middle and "WORSE THAN A UNIGRAM" in middle
    assert "WORSE" not in _rows(0.9)["vs baselines"]
    assert _rows(0.9)["scored text"] == "1 of 10 target.corpus documents held out"


def test_held_out_split_is_seeded_disjoint_and_keeps_corpus_order() -> None:
    texts = [f"doc {i}" for i in range(20)]
    train, held, idx = split_held_out(texts, 0.1, seed=17)
    assert len(held) == 2 and len(train) == 18
    assert sorted(train + held) == sorted(texts) and not set(train) & set(held)
    assert held == [texts[i] for i in idx] and idx == sorted(idx)
    assert split_held_out(texts, 0.1, seed=17) == (train, held, idx)
    assert split_held_out(texts, 0.1, seed=18)[2] != idx  # another seed, another draw
    assert len(split_held_out(texts[:2], 0.01, seed=0)[1]) == 1  # at least one held out
    assert len(split_held_out(texts[:2], 0.99, seed=0)[0]) == 1  # at least one kept
    with pytest.raises(ConfigError, match="report.held_out"):
        split_held_out(texts[:1], 0.1, seed=0)
    with pytest.raises(ConfigError, match="report.held_out"):
        split_held_out(texts, 1.0, seed=0)


def test_random_init_draws_unaligned_rows_at_the_source_scale_seeded() -> None:
    from csmpt.surgery.embed_init import build_embedding

    # Source rows alternately all 7 and all 3: mean row 5, std around it exactly 2.
    signs = torch.tensor([1.0, -1.0]).repeat(1000)[:, None].expand(2000, 16)
    source = 5.0 + 2.0 * signs
    t_ids, s_ids = torch.tensor([0, 3]), torch.tensor([7, 8])
    out = build_embedding(source, 4096, t_ids, s_ids, init="random", seed=3)
    assert torch.equal(out[t_ids], source[s_ids])  # aligned rows copied bit for bit
    rest = out[4:]
    assert abs(float(rest.mean())) < 0.1  # centred on 0, not on the source mean 5
    assert float(rest.std()) == pytest.approx(2.0, rel=0.02)  # the source rows' scale
    assert torch.equal(out, build_embedding(source, 4096, t_ids, s_ids, init="random", seed=3))
    other = build_embedding(source, 4096, t_ids, s_ids, init="random", seed=4)
    assert not torch.equal(out[4:], other[4:])
