"""Vocabulary extension: continue a BPE tokenizer's merges on target-language text.

The source tokenizer keeps every token and id; ``new_tokens`` tokens are appended (ids from the
first free id on) by continuing its byte-pair merges on the target corpus: the corpus is
pre-tokenized with the source's own pre-tokenizer, each word is split by the source's merges,
and the most frequent adjacent pair is merged, again and again, into a new token, its merge
ranked after all of the source's. Because the new merges come last and are learned on words
the source merges had already split, applying the merged tokenizer to a word gives exactly the
split the learning saw: every added token is produced on the corpus it was learned from, or is
a step of a longer added token that is (:class:`ExtendStats` counts both).

``protect``: texts whose tokenization must not change (the source language): a pair that
occurs in their source-tokenized words is never merged, so every protected word keeps its ids
and the source model's rows see exactly what they saw before.
"""

from __future__ import annotations

import heapq
import json
import logging
import shutil
from collections import Counter
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from omegaconf import MISSING

from csmpt.atomic import check_replaceable, make_temp_dir, replace_dir
from csmpt.config.schema import at_least
from csmpt.corpus.fingerprint import fingerprint, input_stats, sha256_file
from csmpt.corpus.readers import expand_inputs, read_documents
from csmpt.errors import DataError
from csmpt.tokenizer.folder import check_tokenizer_dir

__all__ = ["ExtendConfig", "ExtendStats", "continue_merges", "extend_tokenizer", "word_counts"]

log = logging.getLogger(__name__)

Pair = tuple[str, str]
# the model (rewritten), a slow tokenizer's vocabulary (stale), the source's training record
_NOT_COPIED = ("tokenizer.json", "vocab.json", "merges.txt", "csmpt_tokenizer.json")
RECORD = "csmpt_extend.json"  # settings, input fingerprint and what was added
_MARKS = (RECORD, "tokenizer.json")  # what a tokenizer folder this replaces holds


@dataclass
class ExtendStats:
    """What an extension added.

    Attributes:
        source_tokens: Tokens of the source tokenizer (ids ``0 .. source_tokens - 1`` kept).
        added: New tokens appended.
        merges: New merges (``added`` plus merges whose result was already a source token).
        protected_pairs: Pairs never merged because a protected word has them.
        produced: Added tokens that occur when the extended tokenizer encodes the corpus.
        steps_only: Added tokens that occur only as a step of a longer added token.
        fertility_before: Tokens per whitespace word on the corpus, source tokenizer.
        fertility_after: The same with the extended tokenizer.
    """

    source_tokens: int = 0
    added: int = 0
    merges: int = 0
    protected_pairs: int = 0
    produced: int = 0
    steps_only: int = 0
    fertility_before: float = 0.0
    fertility_after: float = 0.0
    new_tokens: list[str] = field(default_factory=list)


def word_counts(backend: Any, texts: Iterable[str]) -> Counter[str]:
    """How often each pre-tokenized word of ``texts`` occurs (the tokenizer's normaliser first)."""
    counts: Counter[str] = Counter()
    for text in texts:
        if backend.normalizer is not None:
            text = backend.normalizer.normalize_str(text)
        counts.update(w for w, _ in backend.pre_tokenizer.pre_tokenize_str(text))
    return counts


def _base_split(backend: Any, word: str) -> list[str]:
    """``word``'s tokens under the tokenizer's own merges."""
    return [t.value for t in backend.model.tokenize(word)]


def _pairs(word: list[str]) -> Iterable[Pair]:
    return zip(word, word[1:], strict=False)


def _merge_word(word: list[str], pair: Pair, new: str) -> list[str]:
    """``word`` with every occurrence of ``pair`` merged, left to right (as BPE applies it)."""
    out: list[str] = []
    i = 0
    while i < len(word):
        if i + 1 < len(word) and word[i] == pair[0] and word[i + 1] == pair[1]:
            out.append(new)
            i += 2
        else:
            out.append(word[i])
            i += 1
    return out


def continue_merges(
    words: dict[str, list[str]],
    counts: Counter[str],
    vocab: set[str],
    new_tokens: int,
    min_frequency: int = 2,
    protected: set[Pair] | frozenset[Pair] = frozenset(),
) -> tuple[list[Pair], list[str], dict[str, list[str]]]:
    """Learn merges on already-split words until ``new_tokens`` new tokens exist.

    Args:
        words: Each distinct word -> its tokens under the existing merges.
        counts: How often each word occurs.
        vocab: The existing tokens (a merge into one of them adds a merge, not a token).
        new_tokens: How many new tokens to add (fewer when no pair is frequent enough).
        min_frequency: A pair must occur this often to be merged.
        protected: Pairs never merged.

    Returns:
        (the new merges in rank order, the new tokens in id order, each word's final split).
        The most frequent pair wins; ties go to the pair that sorts first.
    """
    split = {w: list(t) for w, t in words.items()}
    names = sorted(split)
    freq = [counts[w] for w in names]
    toks = [split[w] for w in names]
    pair_count: Counter[Pair] = Counter()
    where: dict[Pair, set[int]] = {}
    for i, word in enumerate(toks):
        for p in _pairs(word):
            pair_count[p] += freq[i]
            where.setdefault(p, set()).add(i)
    heap = [(-c, p) for p, c in pair_count.items() if p not in protected]
    heapq.heapify(heap)
    merges: list[Pair] = []
    added: list[str] = []
    known = set(vocab)
    while len(added) < new_tokens and heap:
        neg, pair = heapq.heappop(heap)
        if -neg != pair_count.get(pair, 0):  # stale: its count changed since it was pushed
            continue
        if -neg < min_frequency:
            break
        new = pair[0] + pair[1]
        merges.append(pair)
        if new not in known:
            known.add(new)
            added.append(new)
        changed: set[Pair] = set()
        for i in sorted(where.pop(pair, ())):
            old = toks[i]
            if not any(p == pair for p in _pairs(old)):
                continue
            for p in _pairs(old):
                pair_count[p] -= freq[i]
                changed.add(p)
            toks[i] = _merge_word(old, pair, new)
            for p in _pairs(toks[i]):
                pair_count[p] += freq[i]
                where.setdefault(p, set()).add(i)
                changed.add(p)
        pair_count.pop(pair, None)
        for p in changed:
            c = pair_count.get(p, 0)
            if c <= 0:
                pair_count.pop(p, None)
            elif p not in protected and p != pair:
                heapq.heappush(heap, (-c, p))
    return merges, added, dict(zip(names, toks, strict=True))


def _fertility(tokenizer: Any, texts: list[str]) -> float:
    words = sum(len(t.split()) for t in texts)
    ids = tokenizer(texts, add_special_tokens=False)["input_ids"] if texts else []
    return sum(len(i) for i in ids) / max(words, 1)


@dataclass
class ExtendConfig:
    """A tokenizer-extension YAML (``csmpt tokenizer extend``).

    Attributes:
        source: The tokenizer folder to extend (the base model's, a byte-pair ``tokenizer.json``).
        inputs: Target-language files/folders/globs the new merges are learned on.
        output_dir: The extended tokenizer folder (replaced whole, atomically).
        new_tokens: Tokens to add after the source's.
        min_frequency: A pair must occur this often in ``inputs`` to be merged.
        protect: Source-language files whose tokenization must not change (no merge of a pair
            their words have); empty: any pair may be merged, so source-language words may get
            the new tokens too.
        text_field: The text field of ``.jsonl`` inputs.
    """

    source: str = MISSING
    inputs: list[str] = MISSING
    output_dir: str = MISSING
    new_tokens: int = field(default=2048, metadata=at_least(1))
    min_frequency: int = field(default=2, metadata=at_least(1))
    protect: list[str] = field(default_factory=list)
    text_field: str = "text"


def _texts(files: list[Path], text_field: str) -> list[str]:
    return [d.text for d in read_documents(files, text_field)] if files else []


def extend_tokenizer(cfg: ExtendConfig, force: bool = False) -> tuple[Path, ExtendStats, bool]:
    """Write ``cfg.source``'s tokenizer with ``cfg.new_tokens`` tokens learned on ``cfg.inputs``.

    The folder is built beside ``output_dir`` and renamed into place; when it already holds an
    extension with the same settings of unchanged inputs, nothing is done (unless ``force``).

    Returns:
        (the folder, what was added, whether it was up to date and left alone).

    Raises:
        DataError: ``source`` is not a byte-pair tokenizer folder, an input is missing, or there
            is no text to learn from.
    """
    src = check_tokenizer_dir(cfg.source, "source tokenizer")
    out = Path(cfg.output_dir)
    files = expand_inputs(cfg.inputs) if cfg.inputs else []
    protect = expand_inputs(cfg.protect) if cfg.protect else []
    stamp = fingerprint(
        {
            "config": asdict(cfg) | {"output_dir": None},
            "source": sha256_file(src / "tokenizer.json"),
            "inputs": input_stats(files),
            "protect": input_stats(protect),
        }
    )
    check_replaceable(out, _MARKS, "extend config: output_dir", "tokenizer")
    record = out / RECORD
    if not force and record.is_file():
        old = json.loads(record.read_text(encoding="utf-8"))
        if old.get("fingerprint") == stamp:
            log.info("%s is up to date, not extended again", out)
            return out, ExtendStats(**old["stats"]), True
    texts = _texts(files, cfg.text_field)
    tmp = make_temp_dir(out)
    try:
        stats = _extend(
            src, texts, cfg.new_tokens, tmp, cfg.min_frequency, _texts(protect, cfg.text_field)
        )
        body = {"fingerprint": stamp, "config": asdict(cfg), "stats": asdict(stats)}
        (tmp / RECORD).write_text(json.dumps(body, indent=2, ensure_ascii=False) + "\n", "utf-8")
        replace_dir(tmp, out, _MARKS, "tokenizer")
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return out, stats, False


def _extend(
    src: Path,
    texts: list[str],
    new_tokens: int,
    out: Path,
    min_frequency: int,
    protect: list[str],
) -> ExtendStats:
    """Build the extended tokenizer in the (existing, empty) folder ``out``."""
    from tokenizers import Tokenizer
    from transformers import AutoTokenizer

    path = src / "tokenizer.json"
    if not path.is_file():
        raise DataError(f"source tokenizer '{src}' has no tokenizer.json (a fast BPE tokenizer)")
    data = json.loads(path.read_text(encoding="utf-8"))
    model = data.get("model", {})
    if model.get("type") != "BPE":
        raise DataError(f"{path}: a {model.get('type')} model; extension continues BPE merges")
    if not texts:
        raise DataError("vocabulary extension: no target text to learn merges on")
    backend = Tokenizer.from_file(str(path))
    counts = word_counts(backend, texts)
    split = {w: _base_split(backend, w) for w in counts}
    protected: set[Pair] = set()
    for word in word_counts(backend, protect):
        protected.update(_pairs(_base_split(backend, word)))
    vocab: dict[str, int] = dict(model["vocab"])
    merges, added, final = continue_merges(
        split, counts, set(vocab), new_tokens, min_frequency, protected
    )
    if len(added) < new_tokens:
        log.warning(
            "vocabulary extension: %d of %d tokens added (no pair occurs %d times more)",
            len(added), new_tokens, min_frequency,
        )  # fmt: skip
    taken = set(vocab.values()) | {t["id"] for t in data.get("added_tokens", [])}
    next_id = max(taken) + 1
    for i, token in enumerate(added):
        vocab[token] = next_id + i
    model["vocab"] = vocab
    as_strings = bool(model["merges"]) and isinstance(model["merges"][0], str)
    model["merges"] = list(model["merges"]) + [
        f"{a} {b}" if as_strings else [a, b] for a, b in merges
    ]
    for f in src.iterdir():  # the config and special-token files
        if f.is_file() and f.name not in _NOT_COPIED:
            shutil.copy2(f, out / f.name)
    (out / "tokenizer.json").write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    source_tok = AutoTokenizer.from_pretrained(str(src))
    extended = AutoTokenizer.from_pretrained(str(out))
    extended.save_pretrained(str(out))
    present = {t for toks in final.values() for t in toks}
    produced = sum(1 for t in added if t in present)
    return ExtendStats(
        source_tokens=next_id,
        added=len(added),
        merges=len(merges),
        protected_pairs=len(protected),
        produced=produced,
        steps_only=len(added) - produced,
        fertility_before=_fertility(source_tok, texts),
        fertility_after=_fertility(extended, texts),
        new_tokens=added,
    )
