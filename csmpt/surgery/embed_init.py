"""Build a target embedding matrix: copy aligned rows, initialise the others.

Initialisations of the target tokens no source token was aligned with (``init``):

* ``mean``: the mean of the source embedding rows;
* ``mean_noise``: that mean plus Gaussian noise of ``noise_scale`` times the source rows'
  standard deviation (so new tokens are not all alike);
* ``pieces``: the mean of the source rows of the pieces the source tokenizer splits the target
  token's text into (``mean`` for tokens it yields no piece for);
* ``focus``: weighted sums of shared tokens' source rows (:mod:`csmpt.surgery.focus`, passed as
  weighted ``pieces``) over a ``mean`` / ``mean_noise`` base;
* ``random``: a baseline that uses nothing of the source rows but their scale: every element
  drawn from N(0, sigma^2), sigma the source rows' standard deviation around their mean, from a
  generator seeded with ``seed`` (the same seed, the same matrix).

Aligned rows are copied last, bit for bit. Rows beyond the tokenizer (padding the vocabulary to a
multiple of 64) get the ``mean`` / ``mean_noise`` / ``random`` initialisation. Work is done in row
chunks, so the peak memory is the two matrices plus one chunk.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F

from csmpt.errors import ConfigError

__all__ = ["INIT_METHODS", "Pieces", "build_embedding", "padded_size", "source_pieces"]

log = logging.getLogger(__name__)

INIT_METHODS = ("mean", "mean_noise", "pieces", "random")
_CHUNK = 8192


def padded_size(n: int, multiple: int) -> int:
    """``n`` rounded up to a multiple of ``multiple`` (1 or less: ``n``)."""
    if multiple <= 1:
        return n
    return -(-n // multiple) * multiple


@dataclass
class Pieces:
    """Source pieces of target tokens, in ``embedding_bag`` form.

    Attributes:
        rows: Target ids that have pieces, shape (n,).
        flat: All their source piece ids, concatenated.
        offsets: Where each row's pieces start in ``flat``, shape (n,).
        weights: Weight of each entry of ``flat`` (``init: focus``); None: each row is the
            plain mean of its pieces.
    """

    rows: torch.Tensor
    flat: torch.Tensor
    offsets: torch.Tensor
    weights: torch.Tensor | None = None

    @classmethod
    def from_lists(cls, pieces: Mapping[int, Sequence[int]]) -> Pieces:
        """Build from target id -> source piece ids (entries without pieces are dropped)."""
        items = [(t, list(p)) for t, p in sorted(pieces.items()) if p]
        lengths = torch.tensor([len(p) for _, p in items], dtype=torch.long)
        offsets = torch.zeros(len(items), dtype=torch.long)
        if len(items) > 1:
            offsets[1:] = torch.cumsum(lengths, 0)[:-1]
        flat = [i for _, p in items for i in p]
        return cls(
            rows=torch.tensor([t for t, _ in items], dtype=torch.long),
            flat=torch.tensor(flat, dtype=torch.long),
            offsets=offsets,
        )


def _utf8_runs(data: bytes) -> list[bytes | int]:
    """``data`` as runs of valid UTF-8 (bytes) and single bytes that are not (ints)."""
    out: list[bytes | int] = []
    while data:
        try:
            data.decode("utf-8")
        except UnicodeDecodeError as e:
            if e.start:
                out.append(data[: e.start])
            out.extend(data[e.start : e.end])
            data = data[e.end :]
            continue
        out.append(data)
        break
    return out


def source_pieces(
    target_tok: Any,
    source_tok: Any,
    target_text: Mapping[int, bytes],
    skip: set[int],
    source_bytes: Mapping[int, bytes] | None = None,
) -> Pieces:
    """Split each target token's exact bytes (except ``skip``) into source tokens.

    Runs of valid UTF-8 are encoded by the source tokenizer; a byte that is not part of a whole
    UTF-8 character (a byte-level BPE token may end mid-character) becomes the source's
    single-byte token for it (byte-level BPE and SentencePiece byte fallback have all 256), so
    no byte of the token is lost.
    """
    if source_bytes is None:
        from csmpt.tokenizer.vocab_bytes import vocab_bytes

        source_bytes = vocab_bytes(source_tok)
    single = {b[0]: i for i, b in sorted(source_bytes.items(), reverse=True) if len(b) == 1}
    ids = [t for t in sorted(target_text) if t not in skip]
    runs = {t: _utf8_runs(target_text[t]) for t in ids}
    texts = sorted({r.decode("utf-8") for rs in runs.values() for r in rs if isinstance(r, bytes)})
    encoded = source_tok(texts, add_special_tokens=False)["input_ids"] if texts else []
    by_text = dict(zip(texts, encoded, strict=True))
    pieces: dict[int, list[int]] = {}
    for t, rs in runs.items():
        row: list[int] = []
        for r in rs:
            if isinstance(r, bytes):
                row += by_text[r.decode("utf-8")]
            elif r in single:
                row.append(single[r])
        pieces[t] = row
    return Pieces.from_lists(pieces)


def _mean_row(source: torch.Tensor) -> torch.Tensor:
    """(d,) mean of the rows, accumulated in float32 without copying the matrix."""
    total = torch.zeros(source.shape[1], dtype=torch.float32)
    for i in range(0, source.shape[0], _CHUNK):
        total += torch.sum(source[i : i + _CHUNK], 0, dtype=torch.float32)
    return total / source.shape[0]


def _std(source: torch.Tensor, mean: torch.Tensor) -> float:
    """Std of the rows around ``mean``: E[x^2] - E[mean^2], one pass without temporaries."""
    sq = 0.0
    for i in range(0, source.shape[0], _CHUNK):
        sq += float(torch.linalg.vector_norm(source[i : i + _CHUNK], dtype=torch.float32)) ** 2
    return max(sq / source.numel() - float((mean**2).mean()), 0.0) ** 0.5


def _weighted_rows(out: torch.Tensor, source: torch.Tensor, pieces: Pieces) -> None:
    """``out[row] = sum_i w_i * source[piece_i]`` for each row, accumulated in float32."""
    assert pieces.weights is not None
    ends = torch.cat([pieces.offsets[1:], torch.tensor([len(pieces.flat)])])
    n, i = len(pieces.rows), 0
    if source.dtype == torch.float32:  # fused and threaded: ~35x the gather below
        for i in range(0, n, _CHUNK):
            j = min(i + _CHUNK, n)
            lo, hi = int(pieces.offsets[i]), int(ends[j - 1])
            out[pieces.rows[i:j]] = F.embedding_bag(
                pieces.flat[lo:hi],
                source,
                pieces.offsets[i:j] - lo,
                mode="sum",
                per_sample_weights=pieces.weights[lo:hi],
            )  # (chunk, d)
        return
    while i < n:  # blocks of rows with at most _CHUNK entries: (_CHUNK, d) float32 at a time
        j = max(i + 1, int(torch.searchsorted(ends, int(pieces.offsets[i]) + _CHUNK, right=True)))
        j = min(j, n)
        lo, hi = int(pieces.offsets[i]), int(ends[j - 1])
        seg = torch.repeat_interleave(torch.arange(j - i), ends[i:j] - pieces.offsets[i:j])
        rows = source[pieces.flat[lo:hi]].float() * pieces.weights[lo:hi, None]  # (m, d)
        acc = torch.zeros(j - i, source.shape[1], dtype=torch.float32).index_add_(0, seg, rows)
        out[pieces.rows[i:j]] = acc.to(source.dtype)
        i = j


def build_embedding(
    source: torch.Tensor,
    n_rows: int,
    target_ids: torch.Tensor,
    source_ids: torch.Tensor,
    init: str = "mean",
    pieces: Pieces | None = None,
    noise_scale: float = 0.1,
    seed: int = 0,
) -> torch.Tensor:
    """The target embedding matrix (n_rows, d) in ``source``'s dtype.

    Args:
        source: Source embedding (or ``lm_head``) matrix, (V_source, d).
        n_rows: Rows of the result (the padded target vocabulary).
        target_ids: Aligned target ids, (n,).
        source_ids: Their source ids, (n,): row ``target_ids[i]`` becomes ``source[source_ids[i]]``.
        init: One of :data:`INIT_METHODS`, for the other rows.
        pieces: Source pieces of target tokens (``init: pieces``).
        noise_scale: Noise std as a fraction of the source rows' std (``init: mean_noise``).
        seed: Seed of the noise (``mean_noise``) or of the random rows (``random``).

    Raises:
        ConfigError: Unknown ``init``, or ``pieces`` missing for ``init: pieces``.
    """
    if init not in INIT_METHODS:
        raise ConfigError(
            f"key 'vocab_swap.init': unknown '{init}'; use one of {', '.join(INIT_METHODS)}"
        )
    if init == "pieces" and pieces is None:
        raise ConfigError("key 'vocab_swap.init': 'pieces' needs the source pieces")
    d = source.shape[1]
    mean = _mean_row(source)
    out = torch.empty(n_rows, d, dtype=source.dtype)  # (V_target, d)
    out.copy_(mean.to(source.dtype).expand(n_rows, d))
    if init == "random":
        out.zero_()  # the noise below is then the whole row: N(0, std^2)
    if (init == "mean_noise" and noise_scale > 0) or init == "random":
        std = _std(source, mean) * (noise_scale if init == "mean_noise" else 1.0)
        gen = torch.Generator().manual_seed(seed)
        buf = torch.empty(min(_CHUNK, n_rows), d, dtype=torch.float32)  # reused: no page faults
        for i in range(0, n_rows, _CHUNK):
            block = out[i : i + _CHUNK]
            noise = buf[: len(block)].normal_(generator=gen)
            if block.dtype == torch.float32:
                block.add_(noise, alpha=std)
            else:
                block.add_(noise.mul_(std).to(source.dtype))
    if pieces is not None and pieces.weights is not None and len(pieces.rows):
        _weighted_rows(out, source, pieces)  # init: focus (the fallback init is below them)
    elif init == "pieces" and pieces is not None and len(pieces.rows):
        n = len(pieces.rows)
        ends = torch.cat([pieces.offsets[1:], torch.tensor([len(pieces.flat)])])
        for i in range(0, n, _CHUNK):
            j = min(i + _CHUNK, n)
            lo, hi = int(pieces.offsets[i]), int(ends[j - 1])
            bag = F.embedding_bag(
                pieces.flat[lo:hi], source, pieces.offsets[i:j] - lo, mode="mean"
            )  # (chunk, d)
            out[pieces.rows[i:j]] = bag.to(source.dtype)
    # Copy the aligned rows last: bit-identical to the source rows.
    out[target_ids] = source[source_ids]
    return out
