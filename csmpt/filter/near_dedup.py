r"""Near-duplicate removal: MinHash signatures of word n-grams, banded LSH.

A corpus' ``filter: {near_dedup: {threshold: 0.8, ngram: 5, num_perm: 128, seed: 1}}`` removes
each document whose estimated Jaccard similarity (of its sets of lower-cased word ``ngram``-grams)
to an earlier kept document is at least ``threshold``. The bands and rows of the LSH are the ones
``datasketch``'s ``MinHashLSH`` would pick for the threshold (9 bands of 13 rows at 0.8; one band
of all rows at 0.99 and 1.0); each candidate a band collision returns is checked against the
stored signature, so the verdict is the estimate, not just a band collision. Documents are taken
in corpus order, so the verdicts depend neither on batching nor on worker counts.

Signatures are computed where documents are tokenized (worker threads or processes,
:class:`MinHashSigner`), a batch at a time in numpy (scheme :data:`SCHEME`): the words (the
``\w+`` runs of the lower-cased text, as :func:`shingles` splits it) are found over the batch's
code points, each word's hash is a sum of per-position products (one ``np.add.reduceat``), a
shingle's hash is a random linear combination of its words' hashes, and the 32-bit affine
permutations and the minimum per document are datasketch's ``affine32`` ones, applied to
thousands of shingles per numpy call (datasketch's own path hashed each shingle with SHA-1 in
Python: ~6x the tokenizer's CPU, issue 29). :class:`NearDedupIndex` decides in corpus order.

Memory per kept document: its signature (4 bytes x ``num_perm``: 512 B at 128) plus a ``bytes``
key and a list entry per band; ``bench/prep_scale.py`` measures it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

__all__ = [
    "SCHEME",
    "MinHashSigner",
    "NearDedupIndex",
    "NearDedupSpec",
    "affine32_permutations",
    "lsh_bands",
    "shingles",
]

_WORD = re.compile(r"\w+")
SCHEME = "words64-affine32"
"""How signatures are made; signatures of another scheme cannot be compared with these."""

_TABLE_SEED = 0x63736D7074  # fixed: the word hash must not change between runs or machines
_POSITIONS = 32  # byte positions with their own table row (longer words wrap around)
_CHUNK = 4096  # shingle rows per permutation block (4096 x 128 x 4 B = 2 MB)


@dataclass
class NearDedupSpec:
    """A corpus filter's ``near_dedup:`` key.

    Attributes:
        threshold: Remove a document whose estimated Jaccard similarity to an earlier kept one
            is at least this.
        ngram: Words per shingle.
        num_perm: MinHash permutations (signature length).
        seed: MinHash seed (the same seed gives the same signatures).
    """

    threshold: float = 0.8
    ngram: int = 5
    num_perm: int = 128
    seed: int = 1


def shingles(text: str, ngram: int) -> list[bytes]:
    """The distinct lower-cased word ``ngram``-grams of ``text`` (one shingle if it is shorter).

    The sets whose Jaccard similarity the signatures estimate (the signer hashes the same
    n-grams without building these strings).
    """
    words = _WORD.findall(text.lower())
    if len(words) <= ngram:
        return [" ".join(words).encode("utf-8")]
    grams = {" ".join(words[i : i + ngram]) for i in range(len(words) - ngram + 1)}
    return [g.encode("utf-8") for g in grams]


def _fmix32(h: np.ndarray) -> np.ndarray:
    """MurmurHash3's 32-bit finalizer (a bijection), as datasketch's ``affine32`` pre-mix."""
    h = h ^ (h >> np.uint32(16))
    h = h * np.uint32(0x85EBCA6B)
    h = h ^ (h >> np.uint32(13))
    h = h * np.uint32(0xC2B2AE35)
    return h ^ (h >> np.uint32(16))


def _fmix64(h: np.ndarray) -> np.ndarray:
    """MurmurHash3's 64-bit finalizer (a bijection that spreads every input bit)."""
    h = h ^ (h >> np.uint64(33))
    h = h * np.uint64(0xFF51AFD7ED558CCD)
    h = h ^ (h >> np.uint64(33))
    h = h * np.uint64(0xC4CEB9FE1A85EC53)
    return h ^ (h >> np.uint64(33))


_BMP_WORD: np.ndarray | None = None


def _word_chars(cps: np.ndarray) -> np.ndarray:
    r"""Which code points ``\w`` matches (Python's ``re``, Unicode): a bool per code point."""
    global _BMP_WORD
    if _BMP_WORD is None:
        bmp = "".join(map(chr, range(0x10000)))
        table = np.zeros(0x10000, dtype=bool)
        for m in _WORD.finditer(bmp):
            table[m.start() : m.end()] = True
        _BMP_WORD = table
    out = _BMP_WORD[np.minimum(cps, 0xFFFF)]
    high = cps > 0xFFFF
    if high.any():  # beyond the BMP (rare): ask the regex about each distinct one
        for c in np.unique(cps[high]).tolist():
            out[cps == c] = _WORD.fullmatch(chr(c)) is not None
    return out


def affine32_permutations(num_perm: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """The ``affine32`` permutations of datasketch 2, ``h -> a * h + b mod 2**32`` (``a`` odd)."""
    gen = np.random.RandomState(seed)
    a = gen.randint(0, 1 << 31, num_perm, dtype=np.uint32) * np.uint32(2) + np.uint32(1)
    b = gen.randint(0, 1 << 32, num_perm, dtype=np.uint32)
    return a, b


class MinHashSigner:
    """MinHash signatures of texts, a batch per numpy pass (picklable to worker processes).

    Args:
        spec: The near-dedup settings.
    """

    def __init__(self, spec: NearDedupSpec) -> None:
        self.spec = spec
        rng = np.random.default_rng(_TABLE_SEED)
        top = np.iinfo(np.uint64).max
        self._pos_mult = rng.integers(0, top, size=_POSITIONS, dtype=np.uint64, endpoint=True) | 1
        # Odd multipliers, one per word of a shingle: a shingle's hash depends on word order.
        self._mult = rng.integers(0, top, size=spec.ngram, dtype=np.uint64, endpoint=True) | 1
        self._a, self._b = affine32_permutations(spec.num_perm, spec.seed)

    def _word_hashes(self, texts: list[str]) -> tuple[np.ndarray, np.ndarray]:
        r"""64-bit hashes of every text's lower-cased words (concatenated) and words per text.

        The words are the ``\w+`` runs of :func:`shingles`, found in numpy over the batch's
        code points; a word's hash is the sum of (code point + 1) x a random odd multiplier
        per position, then MurmurHash3's 64-bit finalizer.
        """
        lowered = [t.lower() for t in texts]
        sizes = np.fromiter(map(len, lowered), dtype=np.int64, count=len(lowered))
        text_at = np.cumsum(sizes + 1) - sizes - 1  # each text's first code point
        # "\x00" (not a word character) ends every text, so no word spans two texts.
        joined = "\x00".join(lowered).encode("utf-32-le", errors="surrogatepass")
        cps = np.frombuffer(joined, dtype=np.uint32)
        is_word = _word_chars(cps)
        edge = np.diff(is_word.view(np.int8), prepend=np.int8(0), append=np.int8(0))
        starts = np.flatnonzero(edge == 1)
        lens = np.flatnonzero(edge == -1) - starts
        counts = np.bincount(
            np.searchsorted(text_at, starts, side="right") - 1, minlength=len(texts)
        ).astype(np.int64)
        if not len(starts):
            return np.zeros(0, np.uint64), counts
        first = np.cumsum(lens) - lens  # each word's offset among the word characters
        pos = np.arange(int(lens.sum())) - np.repeat(first, lens)
        pos &= _POSITIONS - 1
        vals = cps[is_word].astype(np.uint64)
        vals += np.uint64(1)
        vals *= self._pos_mult[pos]
        return _fmix64(np.add.reduceat(vals, first)), counts

    def sign(self, texts: list[str]) -> np.ndarray:
        """One uint32 signature row (``num_perm``) per text.

        Row ``i`` is the minimum over the text's shingles of each permuted shingle hash; a text
        of at most ``ngram`` words is one shingle (an empty one: the hash of nothing).
        """
        n, num_perm = self.spec.ngram, self.spec.num_perm
        out = np.full((len(texts), num_perm), np.iinfo(np.uint32).max, dtype=np.uint32)
        if not texts:
            return out
        words, counts = self._word_hashes(texts)
        # Each text's words, then n zero hashes, so a shingle never reaches the next text and a
        # short (or empty) text's one shingle is the sum over its own words.
        padded_at = np.concatenate(([0], np.cumsum(counts + n)))[:-1]
        padded = np.zeros(int(counts.sum()) + len(texts) * n, dtype=np.uint64)
        word_starts = np.concatenate(([0], np.cumsum(counts)))[:-1]
        padded[np.repeat(padded_at - word_starts, counts) + np.arange(len(words))] = words
        total = len(padded) - n + 1
        mixed = np.zeros(total, dtype=np.uint64)
        for k in range(n):
            mixed += padded[k : k + total] * self._mult[k]
        per_text = np.maximum(counts - n + 1, 1)  # shingles of each text
        first = np.concatenate(([0], np.cumsum(per_text)))[:-1]
        rows = np.repeat(padded_at - first, per_text) + np.arange(int(per_text.sum()))
        hashes = _fmix32((mixed[rows] >> np.uint64(32)).astype(np.uint32))
        text_of = np.repeat(np.arange(len(texts)), per_text)
        a, b = self._a, self._b
        for c0 in range(0, len(hashes), _CHUNK):
            h = hashes[c0 : c0 + _CHUNK]
            t = text_of[c0 : c0 + _CHUNK]
            perm = a[:, None] * h[None, :]  # (num_perm, shingles): each min runs along a row
            perm += b[:, None]
            seg = np.flatnonzero(np.concatenate(([True], t[1:] != t[:-1])))
            mins = np.minimum.reduceat(perm, seg, axis=1).T  # (texts in the chunk, num_perm)
            docs = t[seg]  # each text once per chunk: its rows are contiguous
            out[docs] = np.minimum(out[docs], mins)
        return out


def lsh_bands(threshold: float, num_perm: int) -> tuple[int, int]:
    """Bands and rows per band for ``threshold`` (datasketch's choice: equal FP/FN weights)."""
    from datasketch.lsh import _optimal_param

    bands, rows = _optimal_param(threshold, num_perm, 0.5, 0.5)
    return int(bands), int(rows)


class NearDedupIndex:
    """Kept documents' signatures in a banded LSH; finds the kept document a new one repeats.

    Args:
        spec: The near-dedup settings.

    Raises:
        ValueError: ``threshold`` outside (0, 1], ``num_perm`` or ``ngram`` below 1, ``seed``
            outside [0, 2**32) (the message names the key and the value).
    """

    def __init__(self, spec: NearDedupSpec) -> None:
        if not 0.0 < spec.threshold <= 1.0:
            raise ValueError(f"near_dedup.threshold must be in (0, 1], got {spec.threshold}")
        if spec.num_perm < 1 or spec.ngram < 1:
            raise ValueError(
                f"near_dedup.num_perm and near_dedup.ngram must be >= 1, got "
                f"{spec.num_perm} and {spec.ngram}"
            )
        if not 0 <= spec.seed < 2**32:  # numpy's RandomState: a traceback in the prep worker
            raise ValueError(f"near_dedup.seed must be in [0, 2**32), got {spec.seed}")
        self.spec = spec
        self.bands, self.rows = lsh_bands(spec.threshold, spec.num_perm)
        self._tables: list[dict[bytes, list[int]]] = [{} for _ in range(self.bands)]
        self._sigs = np.empty((1024, spec.num_perm), dtype=np.uint32)
        self.ids: list[str] = []

    def __len__(self) -> int:
        return len(self.ids)

    def _keys(self, sig: np.ndarray) -> list[bytes]:
        r = self.rows
        raw = np.ascontiguousarray(sig[: self.bands * r], dtype=np.uint32).tobytes()
        return [raw[4 * r * i : 4 * r * (i + 1)] for i in range(self.bands)]

    def match(self, sig: np.ndarray) -> tuple[str, float] | None:
        """The earliest kept document at least ``threshold`` similar to ``sig``, if any."""
        found: set[int] = set()
        for table, key in zip(self._tables, self._keys(sig), strict=True):
            hit = table.get(key)
            if hit is not None:
                found.update(hit)
        if not found:
            return None
        cand = np.fromiter(sorted(found), dtype=np.int64, count=len(found))
        sims = np.mean(self._sigs[cand] == sig, axis=1)
        ok = np.flatnonzero(sims >= self.spec.threshold)
        if not len(ok):
            return None
        return self.ids[int(cand[ok[0]])], float(sims[ok[0]])

    def add(self, sig: np.ndarray, doc_id: str) -> None:
        """Keep a document: later ones are checked against it."""
        key = len(self.ids)
        if key == len(self._sigs):
            self._sigs = np.concatenate([self._sigs, np.empty_like(self._sigs)])
        self._sigs[key] = sig
        self.ids.append(doc_id)
        for table, k in zip(self._tables, self._keys(sig), strict=True):
            table.setdefault(k, []).append(key)
