r"""Cut long documents into pieces whose tokens, joined, are exactly the whole document's tokens.

A byte-level BPE (and any model applied per pre-token) never merges across a pre-token boundary,
so a document cut where its tokenizer's pre-tokenizer starts a new pre-token encodes to the same
ids piece by piece as whole. :class:`DocumentCutter` finds such a place with the tokenizer's own
pre-tokenizer (``pre_tokenize_str``) on the window ``text[start:start + max_chars]``, where
``start`` is the document's start or the previous cut (a true boundary, so the regex runs in step
with the whole text). Every pre-token of the window but the last one ends where it ends in the
whole text; the last can still grow past the window (a word, a run of spaces or newlines, a digit
group). So the cut goes at the end of a pre-token before the last one. The piece before the cut
must also end in the same pre-tokens on its own: at the end of a string ``\s+(?!\S)`` takes a
whole run of spaces that the text after it splits in two. So each candidate cut, latest first, is
checked by pre-tokenizing the piece's last few pre-tokens alone (from a boundary, where the regex
restarts in step). A window without such a cut (a 3 MB word, a base64 blob) is doubled until it
has one, or the document ends.

:func:`stream_ids` encodes a long document's pieces a few at a time (``PIECE_CHARS`` each, a
window the pre-tokenizer searches in ~10 MB): its ids are never held whole, as Python ints
(~36 bytes each) or as one array, and the text is held once.

Cutting is provably exact only for a sequential regex pre-tokenizer (``ByteLevel`` with its
regex, or ``Split`` + ``ByteLevel`` as in Llama 3) and no normalizer; other tokenizers, and
documents holding an added token's text, are encoded whole.
"""

from __future__ import annotations

import json
import logging
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from csmpt.prep.tiktoken_bpe import NotEquivalentError, pretokenizer_pattern

if TYPE_CHECKING:
    from csmpt.prep.encoders import Result

__all__ = ["PIECE_CHARS", "DocumentCutter", "stream_ids"]

log = logging.getLogger(__name__)

# Characters a streamed long document is cut into (stream_ids): the tokenizer's pre-tokenizer
# holds ~170 bytes per character of a window while it looks for a cut.
PIECE_CHARS = 1 << 16
_TRIES = 64  # candidate cuts to check in a window before doubling it
_CONTEXT = 4  # pre-tokens before a cut that are pre-tokenized again to check it


class DocumentCutter:
    """Cut documents at pre-token boundaries of a tokenizer (picklable).

    Args:
        tokenizer_file: The tokenizer's ``tokenizer.json``.

    Attributes:
        why_not: None when the tokenizer's documents can be cut; else why they are encoded
            whole.
    """

    def __init__(self, tokenizer_file: str | Path) -> None:
        self.tokenizer_file = str(tokenizer_file)
        spec = json.loads(Path(tokenizer_file).read_text(encoding="utf-8"))
        self.added = [str(t["content"]) for t in spec.get("added_tokens", [])]
        self.why_not: str | None = None
        if spec.get("normalizer") is not None:
            self.why_not = f"normalizer {spec['normalizer'].get('type')}"
        else:
            try:
                pretokenizer_pattern(spec)
            except NotEquivalentError as e:
                self.why_not = str(e)
        self._pre: Any = None

    def __getstate__(self) -> dict[str, Any]:
        return self.__dict__ | {"_pre": None}

    def _spans(self, text: str) -> list[tuple[int, int]]:
        if self._pre is None:
            from tokenizers import Tokenizer

            self._pre = Tokenizer.from_file(self.tokenizer_file).pre_tokenizer
        return [(int(a), int(b)) for _, (a, b) in self._pre.pre_tokenize_str(text)]

    def _boundary(self, window: str) -> int:
        """The latest safe cut in ``window`` (which starts at a boundary); 0 if none."""
        spans = self._spans(window)
        for j in range(len(spans) - 2, max(len(spans) - 2 - _TRIES, -1), -1):
            cut = spans[j][1]
            first = max(j - _CONTEXT, 0)
            base = spans[first][0]
            alone = self._spans(window[base:cut])
            if alone == [(a - base, b - base) for a, b in spans[first : j + 1]]:
                return cut
        return 0

    def pieces(self, text: str, max_chars: int) -> list[str]:
        """``text`` in pieces of about ``max_chars`` characters (longer where it must be).

        ``"".join(pieces) == text`` and the pieces' ids, concatenated, are ``text``'s ids.
        """
        return list(self.iter_pieces(text, max_chars))

    def iter_pieces(self, text: str, max_chars: int) -> Iterator[str]:
        """The pieces of :meth:`pieces`, one at a time (a long document is never copied whole)."""
        if len(text) <= max_chars:
            yield text
            return
        if self.why_not is not None or any(t in text for t in self.added):
            yield text
            return
        start = 0
        while len(text) - start > max_chars:
            span = max_chars
            cut = 0
            while start + span < len(text):
                cut = self._boundary(text[start : start + span])
                if cut > 0:
                    break
                span *= 2  # one pre-token fills the window: look further
            if cut <= 0:
                break  # the rest is one pre-token
            yield text[start : start + cut]
            start += cut
        yield text[start:]


def stream_ids(
    pieces: Iterable[str], submit: Callable[[list[str]], Future[Result]], depth: int
) -> Iterator[np.ndarray]:
    """The ids of each piece, in order, with at most ``depth`` pieces being encoded at once.

    Args:
        pieces: A document's pieces (:meth:`DocumentCutter.iter_pieces`).
        submit: Starts encoding a batch of texts (``BatchEncoder.submit``).
        depth: Pieces in flight: enough to keep every core busy, few enough that a long
            document's text is held only once (plus ``depth`` pieces) and its ids never whole.
    """
    inflight: deque[Future[Result]] = deque()
    for piece in pieces:
        inflight.append(submit([piece]))
        if len(inflight) >= max(depth, 1):
            yield inflight.popleft().result()[0]
    while inflight:
        yield inflight.popleft().result()[0]
