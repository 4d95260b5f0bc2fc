"""The tiktoken backend gives exactly HF's ids, and refuses tokenizers where it would not."""

from __future__ import annotations

import json
import random
from pathlib import Path

import numpy as np
import pytest
import tiktoken
from procs import run_bench
from tokenizers import Regex, Tokenizer, pre_tokenizers
from tokenizers.models import BPE
from tokenizers.trainers import BpeTrainer

from csmpt.errors import DataError
from csmpt.prep.encoders import HFEncoder, make_encoder
from csmpt.prep.tiktoken_bpe import (
    NotEquivalentError,
    build_exact_tiktoken,
    byte_level_ranks,
)

REPO = Path(__file__).resolve().parents[2]
# Llama 3's (and cl100k's) pre-tokenizer regex.
LLAMA3_PATTERN = (
    r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*"
    r"|\s*[\r\n]+|\s+(?!\S)|\s+"
)


def _sample_docs() -> list[str]:
    docs = []
    for src in sorted((REPO / "data/samples").glob("*.jsonl")):
        for line in src.read_text(encoding="utf-8").splitlines():
            if line.strip():
                rec = json.loads(line)
                docs += [rec["text"]] if "text" in rec else [rec["query"], *rec["choices"]]
    return docs


def _fuzz(n: int, seed: int = 0) -> list[str]:
    """Random strings over letters, digits, marks, symbols, emoji, CJK, odd whitespace."""
    rng = random.Random(seed)
    pool = list("aábcčdďeéěiíoórřsštťuúůyýzž AZ09'’\"-–—.,;:!?()[]{}<>|/\\@#$%^&*_=+~`")
    pool += ["'s", "'ll", "'VE", " ", "  ", "\n", "\n\n", "\r\n", "\t", "\xa0", "\u3000", "\u2028"]
    pool += ["e\u0301", "\u200b", "\ufeff", "😀", "🇨🇿", "👍🏽", "中文", "日本語", "١٢٣", "ß", "ﬁ"]
    pool += ["Ⅻ", "²", "½", "\U00020000", "\U0010fffd", "\x00", "\x7f", "<|endoftext|>", "<|"]
    return ["".join(rng.choice(pool) for _ in range(rng.randint(1, 60))) for _ in range(n)]


def _hf_ids(path: Path, texts: list[str]) -> list[list[int]]:
    tok = Tokenizer.from_file(str(path))
    return [list(e.ids) for e in tok.encode_batch(texts, add_special_tokens=False)]


def _ours(path: Path, texts: list[str]) -> list[list[int]]:
    flat, lengths = build_exact_tiktoken(path).encode_flat(texts)
    return [a.tolist() for a in np.split(flat, np.cumsum(lengths)[:-1])]


def test_same_ids_as_hf(tokenizer_dir: Path) -> None:
    path = tokenizer_dir / "tokenizer.json"
    texts = _sample_docs() + _fuzz(3000)
    ours, theirs = _ours(path, texts), _hf_ids(path, texts)
    assert sum(map(len, theirs)) > 50_000
    bad = [t for t, a, b in zip(texts, ours, theirs, strict=True) if a != b]
    assert not bad, bad[:3]
    # Documents with an added token went to HF, which emits its id.
    eos = Tokenizer.from_file(str(path)).token_to_id("<|endoftext|>")
    assert any(eos in ids for ids in ours)


def _train(tmp: Path, pre: pre_tokenizers.PreTokenizer, name: str) -> Path:
    tok = Tokenizer(BPE())
    tok.pre_tokenizer = pre
    trainer = BpeTrainer(
        vocab_size=700,
        special_tokens=["<|endoftext|>"],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(_sample_docs(), trainer)
    path = tmp / f"{name}.json"
    tok.save(str(path))
    return path


def test_llama3_style_split_pretokenizer(tmp_path: Path) -> None:
    pre = pre_tokenizers.Sequence(
        [
            pre_tokenizers.Split(Regex(LLAMA3_PATTERN), behavior="isolated"),
            pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
        ]
    )
    path = _train(tmp_path, pre, "llama3")
    spec = json.loads(path.read_text())
    spec["model"]["ignore_merges"] = True  # as Llama 3's tokenizer.json has it
    path.write_text(json.dumps(spec))
    exact = build_exact_tiktoken(path)
    assert exact.pattern == LLAMA3_PATTERN
    texts = _sample_docs() + _fuzz(2000, seed=1)
    assert _ours(path, texts) == _hf_ids(path, texts)


def test_normalizer_nfc_documents_not_nfc_go_to_hf(tmp_path: Path, tokenizer_dir: Path) -> None:
    spec = json.loads((tokenizer_dir / "tokenizer.json").read_text())
    spec["normalizer"] = {"type": "NFC"}
    path = tmp_path / "nfc.json"
    path.write_text(json.dumps(spec))
    texts = ["Příliš žluťoučký kůň", "Pr\u030ci\u0301lis\u030c", "cafe\u0301 ok"] + _fuzz(500, 2)
    assert _ours(path, texts) == _hf_ids(path, texts)
    spec["normalizer"] = {"type": "Lowercase"}
    path.write_text(json.dumps(spec))
    with pytest.raises(NotEquivalentError, match="normalizer Lowercase"):
        build_exact_tiktoken(path)


def _handmade(tmp: Path, merges: list[tuple[str, str]]) -> Path:
    """A byte-level BPE whose merges we choose."""
    alphabet = sorted(pre_tokenizers.ByteLevel.alphabet())
    vocab = {c: i for i, c in enumerate(alphabet)}
    for a, b in merges:
        vocab.setdefault(a + b, len(vocab))
    tok = Tokenizer(BPE(vocab=vocab, merges=merges))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    path = tmp / "handmade.json"
    tok.save(str(path))
    return path


def test_refuses_merges_tiktoken_would_apply_differently(tmp_path: Path) -> None:
    # "abc" is made from ("ab", "c"), but "bc" merges first, so HF leaves "a" + "bc"; tiktoken's
    # rule (merge any pair that forms a token) would make "abc". The check must see that.
    path = _handmade(tmp_path, [("b", "c"), ("a", "b"), ("ab", "c")])
    hf = Tokenizer.from_file(str(path))
    assert hf.encode("abc").tokens == ["a", "bc"]
    spec = json.loads(path.read_text())
    with pytest.raises(NotEquivalentError, match=r"merge 2 \('ab', 'c'\)"):
        byte_level_ranks(spec)
    # ... and the naive conversion really disagrees with HF on it.
    ranks = {bytes([b]): b for b in range(256)} | {b"bc": 256, b"ab": 257, b"abc": 258}
    naive = tiktoken.Encoding("naive", pat_str=r"\S+|\s+", mergeable_ranks=ranks, special_tokens={})
    assert naive.encode_ordinary("abc") == [258]
    # auto falls back to HF; asking for tiktoken is a one-line error naming the file.
    encoder, backend = make_encoder(path, "auto")
    assert backend == "hf" and isinstance(encoder, HFEncoder)
    with pytest.raises(DataError, match=r"handmade\.json: tokenizer_backend tiktoken: merge 2"):
        make_encoder(path, "tiktoken")
    with pytest.raises(DataError, match="tokenizer_backend 'fast' is not one of auto, hf"):
        make_encoder(path, "fast")


def test_consistent_handmade_merges_are_accepted(tmp_path: Path) -> None:
    path = _handmade(tmp_path, [("a", "b"), ("b", "c"), ("ab", "c"), ("Ġ", "abc")])
    texts = ["abc abcabc bcab", "aabbcc abc", "xabcx"]
    assert _ours(path, texts) == _hf_ids(path, texts)


def test_code_point_check_runs(tokenizer_dir: Path) -> None:
    out = run_bench(
        "tiktoken_equivalence.py", "--tokenizer", str(tokenizer_dir), "--step", "499", timeout=300
    )
    assert "2,229 code points x 6 contexts: 0 differ" in out
