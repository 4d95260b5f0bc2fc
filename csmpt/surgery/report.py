"""The surgery report: what was aligned, what it covers, and whether the swap helps.

* aligned tokens by method (``special``, ``exact``, ``dictionary``) and example pairs;
* coverage: the share of the target corpus's tokens (encoded with the target tokenizer) whose
  embedding was copied from an aligned (non-special) source token;
* loss: mean next-token cross-entropy on HELD-OUT target text (documents of ``target.corpus``
  that FOCUS, the dictionary order and the coverage never saw, or ``report.eval_corpus``) of
  the swapped model before any training, beside three baselines scored on the same tokens:

  - *random embeddings*: the same model whose embedding matrices are all drawn at random
    (normal with the config's init std, as a freshly built model would have them);
  - *uniform*: every token of the target vocabulary equally likely, ``ln V`` nats per token;
  - *unigram*: each token's frequency on the training documents (each followed by EOS), with
    add-one smoothing so an unseen token costs ``ln(N + V)`` nats, not infinity.

  All four are also given in bits per byte of the held-out text, converted the same way
  (summed nats over the predicted tokens / (ln 2 x their UTF-8 bytes)). A model worse than
  uniform has learnt nothing usable about the text yet; the report says so.
"""

from __future__ import annotations

import json
import logging
import math
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from csmpt.surgery.alignment import Alignment
from csmpt.surgery.io import ModelWeights, build_model

__all__ = [
    "SurgeryReport",
    "corpus_loss",
    "coverage",
    "example_pairs",
    "random_embeddings",
    "report_rows",
    "set_bits_per_byte",
    "swap_losses",
    "uniform_loss",
    "unigram_loss",
]

log = logging.getLogger(__name__)

# Below this share of held-out anchors finding their own pair, the report calls the alignment
# init weak (csmpt's small base: 10% ended worse than init mean; docs/adaptation.md).
WEAK_ALIGNMENT = 0.5

_CHUNK = 8192


@dataclass
class SurgeryReport:
    """Everything ``report.json`` holds (and the CLI and the demo print)."""

    family: str
    source: str
    output: str
    source_vocab: int
    vocab_size: int
    target_tokens: int | None = None
    aligned: dict[str, int] = field(default_factory=dict)
    examples: dict[str, list[str]] = field(default_factory=dict)
    dictionary: dict[str, Any] | None = None
    corpus_tokens: int | None = None
    coverage: float | None = None
    loss_swapped: float | None = None
    loss_random: float | None = None
    eval_tokens: int | None = None
    eval_bytes: int | None = None
    bpb_swapped: float | None = None
    bpb_random: float | None = None
    eval_text: str | None = None
    loss_uniform: float | None = None
    loss_unigram: float | None = None
    bpb_uniform: float | None = None
    bpb_unigram: float | None = None
    focus: dict[str, Any] | None = None
    align: dict[str, Any] | None = None
    source_layers: int = 0
    layers: list[int] = field(default_factory=list)
    normalised: list[str] = field(default_factory=list)

    @property
    def aligned_total(self) -> int:
        """All aligned target tokens (special ones included)."""
        return sum(self.aligned.values())

    def write(self, path: Path) -> None:
        """Write as JSON."""
        path.write_text(json.dumps(asdict(self), indent=2, ensure_ascii=False) + "\n", "utf-8")

    @classmethod
    def read(cls, path: Path) -> SurgeryReport:
        """Read a ``report.json``."""
        return cls(**json.loads(path.read_text(encoding="utf-8")))


def coverage(counts: np.ndarray, aligned_ids: np.ndarray) -> float:
    """Share of the corpus's tokens (``counts`` by id) that are among ``aligned_ids``."""
    total = int(counts.sum())
    ids = aligned_ids[aligned_ids < len(counts)]
    return float(counts[ids].sum()) / total if total else 0.0


def example_pairs(
    alignment: Alignment,
    target_text: dict[int, bytes],
    source_text: dict[int, bytes],
    order: list[int],
    per_method: int = 5,
) -> dict[str, list[str]]:
    """A few ``'target' <- 'source'`` pairs per method, most frequent target tokens first."""

    def show(b: bytes | None, i: int) -> str:
        return repr(b.decode("utf-8", errors="replace")) if b is not None else f"<special {i}>"

    out: dict[str, list[str]] = {}
    for t in order + sorted(set(alignment.pairs) - set(order)):
        if t not in alignment.pairs:
            continue
        s, method = alignment.pairs[t]
        rows = out.setdefault(method, [])
        if len(rows) < per_method:
            rows.append(f"{show(target_text.get(t), t)} <- {show(source_text.get(s), s)}")
    return out


def _init_std(config: dict[str, Any]) -> float:
    init = config.get("init_config") or {}
    std = init.get("init_std") if isinstance(init, dict) else None
    return float(std or config.get("initializer_range") or 0.02)


def _random_rows(shape: torch.Size, dtype: torch.dtype, std: float, seed: int) -> torch.Tensor:
    """(V, d) N(0, std) rows in ``dtype``, drawn in row chunks (no float32 copy of the matrix)."""
    gen = torch.Generator().manual_seed(seed)
    out = torch.empty(shape, dtype=dtype)
    for i in range(0, shape[0], _CHUNK):
        block = out[i : i + _CHUNK]
        block.copy_(torch.randn(block.shape, generator=gen).mul_(std))
    return out


def random_embeddings(weights: ModelWeights, seed: int = 0) -> ModelWeights:
    """``weights`` with every embedding matrix drawn from N(0, init std): the report's baseline."""
    state = dict(weights.state)
    std = _init_std(weights.config)
    for n, key in enumerate(weights.embedding_keys()):
        w = weights.state[key]
        state[key] = _random_rows(w.shape, w.dtype, std, seed + n)
    if weights.tied and "lm_head.weight" in state:
        state["lm_head.weight"] = state[weights.embed_key]
    return ModelWeights(weights.config, state, weights.source, weights.code_files)


@torch.no_grad()
def _model_loss(model: torch.nn.Module, tokens: torch.Tensor) -> float:
    total, n = 0.0, 0
    for row in tokens.split(4):
        logits = model(input_ids=row).logits  # (B, L, V), the weights' dtype
        loss = F.cross_entropy(
            logits[:, :-1].reshape(-1, logits.shape[-1]).float(),
            row[:, 1:].reshape(-1),
            reduction="sum",
        )
        total += float(loss)
        n += row[:, 1:].numel()
        del logits
    return total / max(n, 1)


def corpus_loss(weights: ModelWeights, tokens: torch.Tensor) -> float:
    """Mean next-token cross-entropy of the model on ``tokens`` (N, L), in the weights' dtype."""
    return _model_loss(build_model(weights), tokens)


def swap_losses(weights: ModelWeights, tokens: torch.Tensor, seed: int = 0) -> tuple[float, float]:
    """Loss of the swapped model and of the same body with random embeddings, one model built.

    The model runs on ``weights``' own tensors in their dtype (an mmapped body stays in file
    pages); for the baseline only its embedding matrices are replaced by random ones (as
    :func:`random_embeddings` draws them), so the memory is one model plus one embedding.

    Returns:
        (swapped loss, random-embeddings loss), mean nats per token.
    """
    model = build_model(weights)
    swapped = _model_loss(model, tokens)
    params = dict(model.named_parameters(remove_duplicate=False))
    std = _init_std(weights.config)
    for n, key in enumerate(weights.embedding_keys()):
        p = params[key]
        p.data = _random_rows(p.shape, p.dtype, std, seed + n)  # tied: lm_head is this Parameter
    random = _model_loss(model, tokens)
    del model, params
    return swapped, random


def uniform_loss(vocab_size: int) -> float:
    """Mean nats per token of the uniform model over ``vocab_size`` tokens: ``ln V``.

    Raises:
        ValueError: ``vocab_size`` is not positive.
    """
    if vocab_size < 1:
        raise ValueError(f"vocab_size must be positive, got {vocab_size}")
    return math.log(vocab_size)


def unigram_loss(counts: np.ndarray, predicted: torch.Tensor | np.ndarray) -> float:
    """Mean nats per token of the add-one unigram model of ``counts`` on ``predicted`` ids.

    ``p(t) = (counts[t] + 1) / (counts.sum() + V)`` with ``V = len(counts)``: estimated on
    training text, scored on held-out ids (an id beyond ``counts`` is a padding row no text
    produces; it gets the unseen-token probability).

    Args:
        counts: Token id -> occurrences in the training text, length V (the vocabulary).
        predicted: The held-out ids scored (any shape).

    Raises:
        ValueError: No ids to score, or an empty vocabulary.
    """
    ids = np.asarray(predicted, dtype=np.int64).reshape(-1)
    if not len(ids) or not len(counts):
        raise ValueError("unigram_loss needs a vocabulary and at least one id to score")
    total = float(counts.sum()) + len(counts)
    seen = np.zeros(len(ids), dtype=np.float64)
    inside = ids < len(counts)
    seen[inside] = counts[ids[inside]]
    return float(np.mean(np.log(total) - np.log(seen + 1.0)))


def set_bits_per_byte(
    report: SurgeryReport, tokens: torch.Tensor, token_bytes: dict[int, bytes]
) -> None:
    """Fill ``eval_bytes`` and the ``bpb_*`` fields from the losses the report holds.

    ``bpb_swapped`` / ``bpb_random`` from ``loss_swapped`` / ``loss_random``, and
    ``bpb_uniform`` / ``bpb_unigram`` from the baselines' losses where they are set.

    ``tokens`` (N, L) are the report's eval tokens; the predicted ones are ``tokens[:, 1:]``.
    Their text's UTF-8 bytes are the sum of the tokens' raw bytes (``token_bytes``: the
    vocabulary's bytes, specials none), exact even where a row cuts a character.
    """
    from csmpt.eval.bpb import bits_per_byte

    predicted = tokens[:, 1:].reshape(-1).tolist()
    n_bytes = sum(len(token_bytes.get(int(t), b"")) for t in predicted)
    report.eval_bytes = n_bytes
    if report.loss_swapped is not None and report.loss_random is not None and n_bytes:
        report.bpb_swapped = bits_per_byte(report.loss_swapped * len(predicted), n_bytes)
        report.bpb_random = bits_per_byte(report.loss_random * len(predicted), n_bytes)
    if n_bytes and report.loss_uniform is not None:
        report.bpb_uniform = bits_per_byte(report.loss_uniform * len(predicted), n_bytes)
    if n_bytes and report.loss_unigram is not None:
        report.bpb_unigram = bits_per_byte(report.loss_unigram * len(predicted), n_bytes)


def _baseline_verdict(r: SurgeryReport) -> str | None:
    """One sentence comparing the swapped model's bpb with the uniform and unigram baselines."""
    if r.bpb_swapped is None or r.bpb_uniform is None:
        return None
    if r.bpb_swapped >= r.bpb_uniform:
        return (
            f"WORSE THAN UNIFORM by {r.bpb_swapped - r.bpb_uniform:.3f} bpb: before training the "
            "swapped model predicts held-out text worse than guessing every token equally "
            "likely; its step-0 score says nothing about the swap's quality yet"
        )
    if r.bpb_unigram is not None and r.bpb_swapped >= r.bpb_unigram:
        return (
            f"better than uniform by {r.bpb_uniform - r.bpb_swapped:.3f} bpb but WORSE THAN A "
            f"UNIGRAM model of the training text by {r.bpb_swapped - r.bpb_unigram:.3f} bpb"
        )
    gap = f"uniform by {r.bpb_uniform - r.bpb_swapped:.3f} bpb"
    if r.bpb_unigram is not None:
        gap += f" and unigram by {r.bpb_unigram - r.bpb_swapped:.3f} bpb"
    return f"better than {gap}"


def report_rows(r: SurgeryReport) -> list[tuple[str, str]]:
    """(label, value) rows summarising the report, for a rich table."""
    rows = [("surgery", f"{r.family}: {r.source} -> {r.output}")]
    if r.normalised:
        rows.append(("config", "normalised: " + ", ".join(r.normalised)))
    if r.target_tokens is not None:
        by = ", ".join(f"{m} {n:,}" for m, n in sorted(r.aligned.items()))
        rows.append(
            (
                "vocab swap",
                f"{r.source_vocab:,} -> {r.vocab_size:,} rows ({r.target_tokens:,} tokens); "
                f"aligned {r.aligned_total:,} ({by})",
            )
        )
        for method, ex in r.examples.items():
            rows.append((f"  e.g. {method}", ", ".join(ex[:3])))
        if r.dictionary:
            d = r.dictionary
            rows.append(
                (
                    "dictionary",
                    f"{d['entries']} entries, {d['encodable']} encodable, {d['applied']} on a "
                    f"top-k token: {d.get('aligned', 0)} aligned a token, "
                    f"{d.get('already_aligned', 0)} were already aligned (exact or an earlier "
                    f"entry), {d.get('capped', 0)} beyond max_aligned; "
                    f"{d['unencodable_target']} not one target token, "
                    f"{d['unencodable_source']} not one source token",
                )
            )
        if r.focus:
            f = r.focus
            rows.append(
                (
                    "FOCUS",
                    f"{f['combined']:,} tokens combined from {f['shared']:,} shared tokens "
                    f"({f['mean_support']:.1f} each on average); {f['fallback']:,} too rare for "
                    f"fastText -> {f['fallback_init']}",
                )
            )
        if r.align:
            a = r.align
            rows.append(
                (
                    "alignment",
                    f"{a['aligned']:,} tokens aligned with their top {a['top_k']} source "
                    f"token(s) through {a['anchors']:,} anchors (mean similarity "
                    f"{a['mean_similarity']:.3f}; {a['copied_shared']:,} copy a shared "
                    f"token's row); {a['check_top1']:.1%} of {a['check_pairs']} held-out "
                    f"anchors found their own pair; {a['fallback']:,} too rare for fastText "
                    f"-> {a['fallback_init']}",
                )
            )
            if a["check_pairs"] and a["check_top1"] < WEAK_ALIGNMENT:
                rows.append(
                    (
                        "alignment check",
                        f"WEAK: {a['check_top1']:.0%} of held-out shared tokens found their own "
                        f"pair (below {WEAK_ALIGNMENT:.0%}); on csmpt's small base an alignment "
                        "this weak (10%) trained to worse Czech than init mean "
                        "(docs/adaptation.md): use focus, or give target.corpus more text",
                    )
                )
        if r.coverage is not None:
            rows.append(
                ("coverage", f"{r.coverage:.1%} of {r.corpus_tokens:,} target-corpus tokens")
            )
        if r.eval_text:
            rows.append(("scored text", r.eval_text))
        if r.loss_swapped is not None and r.loss_random is not None:
            better = r.loss_random - r.loss_swapped
            rows.append(
                (
                    "loss before training",
                    f"swapped {r.loss_swapped:.3f} vs random embeddings {r.loss_random:.3f} "
                    f"({'better' if better > 0 else 'WORSE'} by {abs(better):.3f} nats, "
                    f"ppl x{math.exp(better):.2f}; {r.eval_tokens:,} tokens)",
                )
            )
        if r.bpb_swapped is not None and r.bpb_random is not None:
            base = "".join(
                f", {name} {v:.3f}"
                for name, v in (("uniform", r.bpb_uniform), ("unigram", r.bpb_unigram))
                if v is not None
            )
            rows.append(
                (
                    "bits per byte",
                    f"swapped {r.bpb_swapped:.3f} vs random embeddings {r.bpb_random:.3f}{base} "
                    f"({r.eval_bytes:,} bytes of held-out target text)",
                )
            )
            verdict = _baseline_verdict(r)
            if verdict:
                rows.append(("vs baselines", verdict))
    if r.layers and len(r.layers) != r.source_layers:
        rows.append(("downcycle", f"{r.source_layers} -> {len(r.layers)} layers: kept {r.layers}"))
    return rows
