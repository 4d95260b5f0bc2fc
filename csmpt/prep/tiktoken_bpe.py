"""Exactly the ids of a byte-level BPE ``tokenizer.json``, computed by tiktoken's faster BPE.

HF ``tokenizers`` and tiktoken run the same algorithm on byte-level BPE vocabularies (GPT-2,
GPT-NeoX/MPT, CSMPT7b, Llama 3): split the text with one regex, map bytes to symbols, and
repeatedly merge the adjacent pair of lowest rank. tiktoken does it with about a third of the CPU
time (no offsets, token strings or ``Encoding`` objects). They differ in one rule: tiktoken
merges any adjacent pair whose bytes form a vocabulary token, HF only pairs in its merge list.
So :func:`build_exact_tiktoken` accepts a tokenizer only if the two cannot disagree:

* the model is a plain byte-level BPE (no dropout, unknown token, byte fallback, suffixes);
* the normalizer is none, NFC or NFKC (documents not already in that form go to HF);
* the pre-tokenizer is ``ByteLevel`` with its regex, or ``Split`` (isolated regex) + ``ByteLevel``
  without one: the regex is handed to tiktoken as it is;
* every byte is a token, every merge makes a new token, and each merge result, encoded by
  tiktoken's rule with only the lower merges, comes out as exactly that merge's pair. Then every
  merge tiktoken makes is an HF merge taken in HF's order, which is what makes the ids equal;
* a probe of strings over every Unicode category encodes to the same ids with both.

Documents containing an added token (``<|endoftext|>`` ...) are encoded by HF, which splits on
them, and so are documents holding a whitespace run of :data:`LONG_RUN` characters or more
(tiktoken's regex engine overflows its stack on one of ~1M: a padded web page).
``bench/tiktoken_equivalence.py`` compares the two on every code point.
"""

from __future__ import annotations

import json
import logging
import re
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np

from csmpt.errors import DataError
from csmpt.prep.concat import flatten_ids
from csmpt.tokenizer.byte_level import byte_decoder

__all__ = [
    "BYTE_LEVEL_PATTERN",
    "ExactTiktoken",
    "NotEquivalentError",
    "build_exact_tiktoken",
    "byte_level_ranks",
    "pretokenizer_pattern",
]

log = logging.getLogger(__name__)

# The regex of tokenizers' ByteLevel pre-tokenizer (use_regex=true), which is GPT-2's.
BYTE_LEVEL_PATTERN = (
    r"""'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"""
)


class NotEquivalentError(DataError):
    """The tokenizer is one tiktoken could encode differently; the message says why."""


def pretokenizer_pattern(spec: dict[str, Any]) -> str:
    """The regex a ``tokenizer.json``'s pre-tokenizer splits with, if it is one regex only.

    Raises:
        NotEquivalentError: The pre-tokenizer is not ``ByteLevel`` with its regex (no prefix
            space) nor an isolating ``Split`` followed by a regex-less ``ByteLevel``.
    """
    pre = spec.get("pre_tokenizer") or {}
    parts = pre.get("pretokenizers", []) if pre.get("type") == "Sequence" else [pre]
    if len(parts) == 1 and parts[0].get("type") == "ByteLevel":
        level = parts[0]
        if level.get("add_prefix_space") or not level.get("use_regex", True):
            raise NotEquivalentError("ByteLevel pre-tokenizer with add_prefix_space or no regex")
        return BYTE_LEVEL_PATTERN
    if len(parts) == 2 and [p.get("type") for p in parts] == ["Split", "ByteLevel"]:
        split, level = parts
        regex = (split.get("pattern") or {}).get("Regex")
        if regex is None or split.get("behavior") != "Isolated" or split.get("invert"):
            raise NotEquivalentError("Split pre-tokenizer that is not an isolating regex")
        if level.get("add_prefix_space") or level.get("use_regex", True):
            raise NotEquivalentError("ByteLevel after Split must have no regex and no prefix space")
        return str(regex)
    raise NotEquivalentError(f"pre-tokenizer {json.dumps(pre)[:80]} is not byte-level BPE's")


def _check_model(model: dict[str, Any]) -> None:
    if model.get("type") != "BPE":
        raise NotEquivalentError(f"model type {model.get('type')} is not BPE")
    for key in ("dropout", "unk_token", "continuing_subword_prefix", "end_of_word_suffix"):
        if model.get(key):
            raise NotEquivalentError(f"BPE {key}={model[key]!r}")
    if model.get("byte_fallback"):
        raise NotEquivalentError("BPE byte_fallback")


def _merge_pairs(model: dict[str, Any]) -> list[tuple[str, str]]:
    pairs = []
    for m in model.get("merges", []):
        a, b = m.split(" ", 1) if isinstance(m, str) else m
        pairs.append((a, b))
    return pairs


def _bpe(piece: bytes, ranks: dict[bytes, int], below: int) -> list[bytes]:
    """Split ``piece`` by tiktoken's rule with ranks < ``below``: lowest pair first, leftmost."""
    parts = [piece[i : i + 1] for i in range(len(piece))]
    while len(parts) > 1:
        best, at = below, -1
        for i in range(len(parts) - 1):
            r = ranks.get(parts[i] + parts[i + 1], below)
            if r < best:
                best, at = r, i
        if at < 0:
            break
        parts[at : at + 2] = [parts[at] + parts[at + 1]]
    return parts


def byte_level_ranks(spec: dict[str, Any]) -> tuple[dict[bytes, int], np.ndarray]:
    """The tiktoken ranks of a byte-level BPE model, and the HF id of each rank.

    Bytes take ranks 0-255, merge results 256 on in merge order.

    Raises:
        NotEquivalentError: A byte is missing, a merge is not new, or a merge would not come out
            of tiktoken's rule as its own pair.
    """
    model = spec["model"]
    _check_model(model)
    vocab: dict[str, int] = model["vocab"]
    to_byte = byte_decoder()

    def raw(symbols: str) -> bytes:
        try:
            return bytes(to_byte[c] for c in symbols)
        except KeyError as e:
            raise NotEquivalentError(f"token {symbols!r} is not byte-level") from e

    byte_ids = {raw(s): i for s, i in vocab.items() if len(s) == 1 and s in to_byte}
    if len(byte_ids) != 256:
        raise NotEquivalentError(f"only {len(byte_ids)} of the 256 bytes are tokens")
    ranks = {bytes([b]): b for b in range(256)}
    ids = [byte_ids[bytes([b])] for b in range(256)]
    for n, (a, b) in enumerate(_merge_pairs(model)):
        merged = a + b
        if merged not in vocab or a not in vocab or b not in vocab:
            raise NotEquivalentError(f"merge {n} ({a!r}, {b!r}) uses or makes a non-token")
        key = raw(merged)
        if key in ranks:
            raise NotEquivalentError(f"merge {n} ({a!r}, {b!r}) makes a token made before")
        rank = len(ranks)
        if _bpe(key, ranks, rank) != [raw(a), raw(b)]:
            raise NotEquivalentError(f"merge {n} ({a!r}, {b!r}) is not what lower merges give")
        ranks[key] = rank
        ids.append(vocab[merged])
    specials = {t["content"] for t in spec.get("added_tokens", [])}
    made = set(ranks)
    unreachable = [s for s in vocab if s not in specials and len(s) > 1 and raw(s) not in made]
    if unreachable and model.get("ignore_merges"):
        raise NotEquivalentError(f"ignore_merges with tokens no merge makes: {unreachable[:3]}")
    return ranks, np.asarray(ids, dtype=np.int32)


def _probe_texts() -> list[str]:
    """Strings over every Unicode category, whitespace and contraction, in several contexts."""
    chars = [chr(c) for c in range(0x20, 0x3000, 7) if not 0xD800 <= c < 0xE000]
    chars += [chr(c) for c in (0x1F600, 0x1F1E8, 0x20000, 0xE0001, 0x10FFFD, 0xFEFF, 0x200B)]
    chars += ["\t", "\n", "\r", "\x0b", "\x0c", "\x85", "\xa0", "\u2028", "\u3000"]
    texts = ["Dobrý den, jak se máte?\n\nŘekl: 'I'll've done it' -- 1234567 kč.  \t ok\r\n"]
    for i in range(0, len(chars), 16):
        run = "".join(chars[i : i + 16])
        texts += [f"a{run}b", f" {run} 12{run}'s", f"{run}\n\n  x{run}", f"'{run}'ll  "]
    return texts


# tiktoken's regex engine panics (RuntimeError(StackOverflow)) on one whitespace pre-token of
# about 1M characters (600k is fine); documents holding a run this long are encoded by HF.
LONG_RUN = 250_000
_LONG_SPACE = re.compile(rf"\s{{{LONG_RUN},}}")


@dataclass
class ExactTiktoken:
    """Encode texts to a byte-level BPE tokenizer's ids with tiktoken (picklable to workers).

    Args:
        tokenizer_file: The ``tokenizer.json`` (loaded by HF for the documents it must encode).
        pattern: The pre-tokenizer's regex.
        ranks: tiktoken's mergeable ranks (bytes -> rank).
        rank_to_id: The HF id of each rank.
        added: Added-token contents: a document containing one is encoded by HF.
        normal_form: ``NFC``/``NFKC`` if the tokenizer normalizes so: a document not already in
            that form is encoded by HF.
    """

    tokenizer_file: str
    pattern: str
    ranks: dict[bytes, int]
    rank_to_id: np.ndarray
    added: list[str]
    normal_form: str | None
    _encoding: Any = field(default=None, init=False, repr=False, compare=False)
    _hf: Any = field(default=None, init=False, repr=False, compare=False)
    _added_re: Any = field(default=None, init=False, repr=False, compare=False)
    _identity: bool = field(default=False, init=False, repr=False, compare=False)

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state.update(_encoding=None, _hf=None, _added_re=None, _identity=False)
        return state

    def _setup(self) -> None:
        import tiktoken

        self._encoding = tiktoken.Encoding(
            "csmpt-exact", pat_str=self.pattern, mergeable_ranks=self.ranks, special_tokens={}
        )
        alts = sorted(self.added, key=len, reverse=True)
        self._added_re = re.compile("|".join(map(re.escape, alts))) if alts else None
        self._identity = bool(np.array_equal(self.rank_to_id, np.arange(len(self.rank_to_id))))

    def _hf_ids(self, text: str) -> list[int]:
        if self._hf is None:
            from tokenizers import Tokenizer

            self._hf = Tokenizer.from_file(self.tokenizer_file)
        return list(self._hf.encode(text, add_special_tokens=False).ids)

    def encode(self, text: str) -> list[int]:
        """The ids HF ``encode(text, add_special_tokens=False)`` gives."""
        return self.encode_flat([text])[0].tolist()

    def encode_flat(self, texts: list[str]) -> tuple[np.ndarray, np.ndarray]:
        """Ids of ``texts`` as one flat int32 array and the number of ids of each text."""
        if self._encoding is None:
            self._setup()
        core = self._encoding._core_bpe  # the Rust encoder; releases the GIL while it works
        special = self._added_re
        form: Literal["NFC", "NFKC"] | None = self.normal_form  # type: ignore[assignment]
        lists: list[list[int]] = []
        from_hf = np.zeros(len(texts), dtype=bool)
        for i, text in enumerate(texts):
            if (
                (special is not None and special.search(text))
                or (form is not None and not unicodedata.is_normalized(form, text))
                or (len(text) >= LONG_RUN and _LONG_SPACE.search(text) is not None)
            ):
                # An added token, text the normalizer would change, or a whitespace run that
                # overflows tiktoken's regex stack (a panic at ~1M characters): HF's own ids.
                from_hf[i] = True
                lists.append(self._hf_ids(text))
            else:
                lists.append(core.encode_ordinary(text))
        flat, lengths = flatten_ids(lists)
        if not self._identity:  # map tiktoken's ranks to ids (HF's ids already are)
            if from_hf.any():
                ranked = ~np.repeat(from_hf, lengths)
                flat[ranked] = self.rank_to_id[flat[ranked]]
            else:
                flat = self.rank_to_id[flat]
        return flat, lengths


def build_exact_tiktoken(tokenizer_file: Path) -> ExactTiktoken:
    """An :class:`ExactTiktoken` for ``tokenizer_file``, checked to give HF's ids.

    Raises:
        NotEquivalentError: The tokenizer is not one tiktoken provably reproduces (or the probe
            texts disagree); the message names the reason.
    """
    try:
        import tiktoken  # noqa: F401
    except ImportError as e:
        raise NotEquivalentError("tiktoken is not installed (pip install tiktoken)") from e
    spec = json.loads(Path(tokenizer_file).read_text(encoding="utf-8"))
    norm = spec.get("normalizer")
    form = None if norm is None else str(norm.get("type"))
    if form not in (None, "NFC", "NFKC"):
        raise NotEquivalentError(f"normalizer {form} (only none, NFC or NFKC)")
    pattern = pretokenizer_pattern(spec)
    ranks, rank_to_id = byte_level_ranks(spec)
    added = [t["content"] for t in spec.get("added_tokens", [])]
    exact = ExactTiktoken(str(tokenizer_file), pattern, ranks, rank_to_id, added, form)
    from tokenizers import Tokenizer

    hf = Tokenizer.from_file(str(tokenizer_file))
    exact._hf = hf  # the fallback for added tokens: no second load in this process
    probes = _probe_texts()
    flat, lengths = exact.encode_flat(probes)
    ours = np.split(flat, np.cumsum(lengths)[:-1])
    theirs = hf.encode_batch(probes, add_special_tokens=False)
    for text, enc, mine in zip(probes, theirs, ours, strict=True):
        if list(enc.ids) != mine.tolist():
            raise NotEquivalentError(f"tiktoken and HF disagree on the probe {text[:40]!r}")
    return exact
