"""build_embedding over vocabularies of several 8,192-row chunks: every chunk counts.

MPT-7B has 50,432 embedding rows (7 chunks); the other surgery tests use at most 4,096 rows
(one chunk). Here the source has 20,000 rows in three chunks of different scale, so a result
built from one chunk only is far from the whole-matrix reference computed in one go.
"""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from csmpt.surgery.embed_init import Pieces, build_embedding
from csmpt.surgery.focus import weighted_pieces

V_SOURCE, N_ROWS, D = 20_000, 20_032, 8


@pytest.fixture(scope="module")
def source() -> torch.Tensor:
    g = torch.Generator().manual_seed(0)
    rows = torch.randn(V_SOURCE, D, generator=g)  # (V_source, d)
    rows[8192:16384] = rows[8192:16384] * 3 + 2  # each chunk its own scale and offset
    rows[16384:] = rows[16384:] * 0.5 - 4
    return rows


@pytest.fixture(scope="module")
def combos() -> dict[int, tuple[list[int], list[float]]]:
    """Pieces for 19,000 target rows (three chunks of rows), 1-3 source pieces each."""
    g = torch.Generator().manual_seed(1)
    out = {}
    for t in range(0, 19_000):
        n = int(torch.randint(1, 4, (1,), generator=g))
        ids = torch.randint(0, V_SOURCE, (n,), generator=g).tolist()
        weights = torch.rand(n, generator=g).tolist()
        out[t] = (ids, weights)
    return out


ALIGNED_T = torch.tensor([5, 9000, 17000, 19500])  # copied rows in every chunk
ALIGNED_S = torch.tensor([19999, 3, 8200, 16400])


def test_mean_rows_are_the_mean_of_every_source_row(source: torch.Tensor) -> None:
    out = build_embedding(source, N_ROWS, ALIGNED_T, ALIGNED_S, "mean")
    mean = source.double().mean(0).float()
    untouched = torch.ones(N_ROWS, dtype=torch.bool)
    untouched[ALIGNED_T] = False
    torch.testing.assert_close(out[untouched], mean.expand(int(untouched.sum()), D))
    assert torch.equal(out[ALIGNED_T], source[ALIGNED_S])


def test_mean_noise_has_the_whole_matrix_std_in_every_chunk(source: torch.Tensor) -> None:
    out = build_embedding(source, N_ROWS, ALIGNED_T, ALIGNED_S, "mean_noise", noise_scale=1.0)
    mean = source.double().mean(0)
    std = float(((source.double() - mean) ** 2).mean().sqrt())
    noise = out.double() - mean
    untouched = torch.ones(N_ROWS, dtype=torch.bool)
    untouched[ALIGNED_T] = False
    for lo in range(0, N_ROWS, 8192):  # the noise is in every chunk of rows, at that std
        block = noise[lo : lo + 8192][untouched[lo : lo + 8192]]
        assert float(block.std()) == pytest.approx(std, rel=0.05), f"rows {lo}.."
    assert float(noise[untouched].mean(0).abs().max()) < 0.05 * std


def test_pieces_rows_are_the_mean_of_their_pieces(source: torch.Tensor, combos: dict) -> None:
    pieces = Pieces.from_lists({t: ids for t, (ids, _) in combos.items()})
    out = build_embedding(source, N_ROWS, ALIGNED_T, ALIGNED_S, "pieces", pieces=pieces)
    rows = pieces.rows[~torch.isin(pieces.rows, ALIGNED_T)]
    want = torch.stack([source[combos[int(t)][0]].mean(0) for t in rows])
    torch.testing.assert_close(out[rows], want)
    assert torch.equal(out[ALIGNED_T], source[ALIGNED_S])


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16], ids=["fp32", "bf16"])
def test_focus_rows_are_weighted_sums_in_every_chunk(
    source: torch.Tensor, combos: dict, dtype: torch.dtype
) -> None:
    pieces = weighted_pieces(combos)
    src = source.to(dtype)
    out = build_embedding(src, N_ROWS, ALIGNED_T, ALIGNED_S, "mean", pieces=pieces)
    rows = pieces.rows[~torch.isin(pieces.rows, ALIGNED_T)]
    want_all = F.embedding_bag(
        pieces.flat, src.float(), pieces.offsets, mode="sum", per_sample_weights=pieces.weights
    )  # (n, d): every row at once, in float32
    keep = ~torch.isin(pieces.rows, ALIGNED_T)
    tol = {"rtol": 1e-5, "atol": 1e-5} if dtype == torch.float32 else {"rtol": 1e-2, "atol": 3e-2}
    torch.testing.assert_close(out[rows].float(), want_all[keep].to(dtype).float(), **tol)
