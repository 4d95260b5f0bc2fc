"""Bilingual-dictionary alignment (Czech-GPT-2's method): source word -> target word.

The dictionary is a UTF-8 text file, one pair per line, ``source_word<TAB>target_word``; blank
lines and lines starting with ``#`` are skipped. An entry aligns a target token with a source
token when the target word is one target token and the source word one source token, with the
same leading-space convention (``" house" -> " dům"`` and ``"house" -> "dům"``; a capitalised
variant too). It is applied to the ``top_k`` most frequent target tokens.

Entries a tokenizer cannot encode as one token are counted (and a few shown) in the report.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from csmpt.errors import DataError

__all__ = ["DictEntry", "DictionaryStats", "dictionary_candidates", "read_dictionary"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class DictEntry:
    """One dictionary line: ``source`` word -> ``target`` word, at ``line`` of the file."""

    source: str
    target: str
    line: int


@dataclass
class DictionaryStats:
    """What became of the dictionary's entries.

    Attributes:
        entries: Entries read.
        unencodable_target: The target word is not one target token (any variant).
        unencodable_source: The target word is, but the source word is not one source token.
        encodable: Entries both tokenizers encode as one token.
        applied: Encodable entries whose target token is among the ``top_k`` most frequent.
        aligned: Applied entries that aligned a target token (its row comes from this entry).
        already_aligned: Applied entries whose tokens were aligned already, by an earlier
            method (``exact``) or an earlier entry: they changed nothing.
        capped: Applied entries whose tokens fell beyond ``max_aligned``.
        examples: A few unencodable entries, ``"source -> target (why)"``.
    """

    entries: int = 0
    unencodable_target: int = 0
    unencodable_source: int = 0
    encodable: int = 0
    applied: int = 0
    aligned: int = 0
    already_aligned: int = 0
    capped: int = 0
    examples: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        # (target id, source id) pairs each applied entry proposed; not a field (not reported)
        self._hits: list[list[tuple[int, int]]] = []

    def settle(self, pairs: Mapping[int, tuple[int, str]]) -> None:
        """Count what each applied entry did, from the final alignment.

        Args:
            pairs: Target id -> (source id, method), as :func:`csmpt.surgery.alignment.combine`
                made them.
        """
        self.aligned = self.already_aligned = self.capped = 0
        for hit in self._hits:
            if any(pairs.get(t) == (s, "dictionary") for t, s in hit):
                self.aligned += 1
            elif any(t in pairs for t, _ in hit):
                self.already_aligned += 1
            else:
                self.capped += 1


def read_dictionary(path: str | Path) -> list[DictEntry]:
    """Read a ``source<TAB>target`` dictionary file.

    Raises:
        DataError: The file is missing, not UTF-8, or a line is not two tab-separated words.
    """
    p = Path(path)
    if not p.is_file():
        raise DataError(f"{p}: dictionary file does not exist")
    try:
        lines = p.read_text(encoding="utf-8").splitlines()
    except UnicodeDecodeError as e:
        raise DataError(f"{p}: not valid UTF-8 ({e.reason} at byte {e.start})") from None
    out: list[DictEntry] = []
    for n, raw in enumerate(lines, start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        parts = [x.strip() for x in line.split("\t")]
        if len(parts) != 2 or not all(parts):
            raise DataError(f"{p}:{n}: expected 'source_word<TAB>target_word', got {raw!r}")
        out.append(DictEntry(parts[0], parts[1], n))
    return out


def _variants(source: str, target: str) -> list[tuple[bytes, bytes]]:
    pairs = [(source, target)]
    if target[:1].islower():
        pairs.append((source[:1].upper() + source[1:], target[:1].upper() + target[1:]))
    out = []
    for s, t in pairs:
        out += [((" " + s).encode(), (" " + t).encode()), (s.encode(), t.encode())]
    return out


def dictionary_candidates(
    entries: Sequence[DictEntry],
    target: Mapping[int, bytes],
    source: Mapping[int, bytes],
    order: Sequence[int],
    top_k: int | None,
) -> tuple[dict[int, int], DictionaryStats]:
    """Target id -> source id from the dictionary, for the ``top_k`` first ids of ``order``.

    Args:
        entries: The dictionary.
        target: Target id -> token bytes (non-special tokens).
        source: Source id -> token bytes.
        order: Target ids, most frequent first.
        top_k: Apply the dictionary to this many of the most frequent target tokens (None: all).
    """
    t_ids: dict[bytes, int] = {}
    for i, b in sorted(target.items()):
        t_ids.setdefault(b, i)
    s_ids: dict[bytes, int] = {}
    for i, b in sorted(source.items()):
        s_ids.setdefault(b, i)
    frequent = set(order[:top_k] if top_k is not None else order)
    stats = DictionaryStats(entries=len(entries))
    out: dict[int, int] = {}
    for e in entries:
        variants = _variants(e.source, e.target)
        on_target = [(s, t) for s, t in variants if t in t_ids]
        both = [(s, t) for s, t in on_target if s in s_ids]
        if not on_target:
            stats.unencodable_target += 1
            why = "target word is not one target token"
        elif not both:
            stats.unencodable_source += 1
            why = "source word is not one source token"
        else:
            stats.encodable += 1
            hit = []
            for s, t in both:
                tid = t_ids[t]
                if tid in frequent:
                    hit.append((tid, s_ids[s]))
                    out.setdefault(tid, s_ids[s])
            if hit:
                stats.applied += 1
                stats._hits.append(hit)
            continue
        if len(stats.examples) < 5:
            stats.examples.append(f"{e.source} -> {e.target} (line {e.line}: {why})")
    log.info(
        "dictionary: %d entries, %d encodable, %d applied",
        stats.entries,
        stats.encodable,
        stats.applied,
    )
    return out, stats
