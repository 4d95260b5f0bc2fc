"""Bits per byte: a loss that compares models whatever their tokenizers.

A loss in nats per token depends on how the tokenizer cuts the text: an English tokenizer cuts
Czech into more, easier tokens than a Czech one. Bits per UTF-8 byte of the text scored does
not::

    bpb = sum of the per-token losses (nats) / (ln 2 * UTF-8 bytes of the text scored)

The text is what counts, not the tokens: :func:`score_documents` scores a list of documents
(each followed by the tokenizer's EOS, the whole preceded by a start token that is context
only), so two models with different tokenizers score exactly the same bytes, and every byte of
every document (and each document's end) is predicted. Long texts are scored in windows of
``window`` tokens that overlap by one token, so no token is left unpredicted at a window
boundary.

A validation split written by ``csmpt prep`` is one EOS-separated token stream cut into
samples; :func:`stream_documents` joins the samples again (a character cut at a sample boundary
is whole again) and decodes each document separately, dropping the unfinished document after
the last EOS — so the scored text is whole documents and no multi-byte character is ever cut.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from csmpt.errors import DataError

__all__ = [
    "BpbScore",
    "bits_per_byte",
    "document_ids",
    "lossless_failures",
    "score_documents",
    "score_ids",
    "score_window",
    "start_token",
    "stream_documents",
    "utf8_bytes",
]

log = logging.getLogger(__name__)

LN2 = math.log(2.0)


def utf8_bytes(text: str) -> int:
    """UTF-8 bytes of ``text`` (a lone surrogate counts as the 3 bytes it would be escaped to)."""
    return len(text.encode("utf-8", errors="surrogatepass"))


def bits_per_byte(nats: float, n_bytes: int) -> float:
    """``nats`` (summed per-token losses) / (ln 2 x ``n_bytes``).

    Raises:
        DataError: ``n_bytes`` is not positive (no text was scored).
    """
    if n_bytes <= 0:
        raise DataError(f"bits per byte of {n_bytes} bytes: no text was scored")
    return nats / (LN2 * n_bytes)


@dataclass(frozen=True)
class BpbScore:
    """Summed loss of a model on a text, with the token and byte counts behind it."""

    nats: float
    tokens: int
    bytes: int

    @property
    def loss(self) -> float:
        """Mean nats per predicted token."""
        return self.nats / self.tokens if self.tokens else float("nan")

    @property
    def bpb(self) -> float:
        """Bits per UTF-8 byte of the text scored."""
        return bits_per_byte(self.nats, self.bytes)


def _decode(tokenizer: Any, ids: Sequence[int]) -> str:
    return str(
        tokenizer.decode(list(ids), skip_special_tokens=False, clean_up_tokenization_spaces=False)
    )


def stream_documents(tokenizer: Any, stream: Sequence[int]) -> list[str]:
    """The documents of an EOS-separated token stream, decoded one by one.

    The part after the last EOS (a document cut by the end of what was read) is dropped, so
    no character is cut; EOS tokens themselves are not text.

    Raises:
        DataError: The tokenizer has no EOS, or the stream holds no complete document.
    """
    eos = getattr(tokenizer, "eos_token_id", None)
    if eos is None:
        raise DataError(f"tokenizer '{tokenizer.name_or_path}' has no EOS token to split on")
    docs, start = [], 0
    for i, t in enumerate(stream):
        if int(t) == eos:
            docs.append(_decode(tokenizer, stream[start:i]))
            start = i + 1
    if not docs:
        raise DataError(
            f"no complete document (no EOS) in the {len(stream)} tokens read; read more samples"
        )
    return docs


def start_token(tokenizer: Any) -> int:
    """The context-only token a scored text starts with.

    BOS when the tokenizer puts one before every text (Llama: the models trained so), else EOS:
    a model trained on EOS-separated documents (``csmpt prep``, llm-foundry's Concat) has seen
    EOS before every document.
    """
    bos = getattr(tokenizer, "bos_token_id", None)
    if isinstance(bos, int) and tokenizer("a")["input_ids"][:1] == [bos]:
        return bos
    eos = getattr(tokenizer, "eos_token_id", None)
    if isinstance(eos, int):
        return eos
    if isinstance(bos, int):
        return bos
    raise DataError(f"tokenizer '{tokenizer.name_or_path}' has neither a BOS nor an EOS token")


def document_ids(tokenizer: Any, docs: Iterable[str]) -> list[int]:
    """Start token, then each document's ids followed by EOS (the stream a model scores)."""
    eos = getattr(tokenizer, "eos_token_id", None)
    if eos is None:
        raise DataError(f"tokenizer '{tokenizer.name_or_path}' has no EOS token")
    docs = list(docs)
    ids = [start_token(tokenizer)]
    encoded = tokenizer(docs, add_special_tokens=False)["input_ids"] if docs else []
    for doc_ids in encoded:
        ids += list(doc_ids) + [eos]
    return ids


def lossless_failures(tokenizer: Any, docs: Sequence[str]) -> list[int]:
    """Indices of the documents that do not decode back to themselves after encoding."""
    encoded = tokenizer(list(docs), add_special_tokens=False)["input_ids"] if docs else []
    return [
        i
        for i, (d, ids) in enumerate(zip(docs, encoded, strict=True))
        if _decode(tokenizer, ids) != d
    ]


def score_ids(
    model: Any, ids: Sequence[int], window: int, batch_size: int = 8
) -> tuple[float, int]:
    """Summed next-token loss (nats) of every token of ``ids`` but the first; (nats, tokens).

    Windows of ``window`` tokens overlap by one token, so each token but the first is
    predicted exactly once. ``model(input_ids=...)`` must return ``.logits``.
    """
    import torch
    import torch.nn.functional as F  # noqa: N812

    if window < 2:
        raise DataError(f"window of {window} tokens: need at least 2")
    starts = list(range(0, max(len(ids) - 1, 0), window - 1))
    device = next(model.parameters()).device
    total, count = 0.0, 0
    was_training = model.training
    model.eval()
    with torch.no_grad():
        full = [s for s in starts if s + window <= len(ids)]
        for i in range(0, len(full), batch_size):
            rows = [ids[s : s + window] for s in full[i : i + batch_size]]
            n, c = _batch_loss(model, torch.tensor(rows, dtype=torch.long, device=device), F)
            total, count = total + n, count + c
        for s in starts[len(full) :]:  # the last, shorter window
            row = torch.tensor([list(ids[s:])], dtype=torch.long, device=device)
            n, c = _batch_loss(model, row, F)
            total, count = total + n, count + c
    model.train(was_training)
    return total, count


def _batch_loss(model: Any, ids: Any, F: Any) -> tuple[float, int]:  # noqa: N803
    logits = model(input_ids=ids).logits.float()  # (B, T, V)
    loss = F.cross_entropy(
        logits[:, :-1].reshape(-1, logits.shape[-1]), ids[:, 1:].reshape(-1), reduction="sum"
    )
    return float(loss), int(ids[:, 1:].numel())


def score_documents(
    model: Any, tokenizer: Any, docs: Sequence[str], window: int, batch_size: int = 8
) -> BpbScore:
    """Score ``docs`` with ``model`` and its own ``tokenizer``: nats, tokens and bytes.

    The bytes are those of the documents' text, whatever the tokenizer; each document's end
    (EOS) is predicted too, and has no bytes.
    """
    ids = document_ids(tokenizer, docs)
    nats, tokens = score_ids(model, ids, window, batch_size)
    return BpbScore(nats, tokens, sum(utf8_bytes(d) for d in docs))


def score_window(model: Any, want: int) -> int:
    """``want`` tokens, capped by the model's position limit (ALiBi models have none)."""
    config = getattr(model, "config", None)
    limit = getattr(config, "max_position_embeddings", None) or getattr(config, "max_seq_len", None)
    return min(want, int(limit)) if isinstance(limit, int) and limit > 1 else want
