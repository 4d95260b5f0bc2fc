"""Hostile corpora: every document is kept token-exact, or counted with its file:line.

Lone surrogates, byte order marks, long documents cut only where the tokenizer starts a new
pre-token (checked with tokenizers that have whitespace-run and digit tokens), and strict mode
over a corpus built without it. Kept documents are decoded from the shards and compared with
the tokenizer's own encoding of each.
"""

from __future__ import annotations

import gzip
import json
import random
import string
from pathlib import Path

import numpy as np
import pytest

from csmpt.errors import DataError
from csmpt.mds.reader import iter_samples
from csmpt.prep.config import CorpusSpec, PrepConfig
from csmpt.prep.long_docs import DocumentCutter
from csmpt.prep.run import prep_corpora

GOOD = [f"Věta číslo {i}: Brno leží na soutoku Svratky a Svitavy." for i in range(40)]
LLAMA3_REGEX = (
    r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*"
    r"|\s*[\r\n]+|\s+(?!\S)|\s+"
)


def _code_like(rng: random.Random, n: int) -> str:
    """Text with runs of spaces and newlines, digits, base64 blobs and Czech words."""
    words = ["def", "return", "Praha", "řeka", "x", "12", "2024", "==", "(", ")", ":", "'s"]
    out = []
    for _ in range(n):
        kind = rng.random()
        if kind < 0.25:
            out.append("\n" * rng.randint(1, 5) + " " * rng.randint(0, 12))
        elif kind < 0.35:
            out.append(str(rng.randint(0, 10**12)))
        elif kind < 0.42:
            alphabet = string.ascii_letters + string.digits + "+/"
            out.append("".join(rng.choice(alphabet) for _ in range(rng.randint(20, 200))))
        elif kind < 0.5:
            out.append(" " * rng.randint(2, 9) + "\t" * rng.randint(0, 2))
        else:
            out.append(rng.choice([" ", ""]) + rng.choice(words))
    return "".join(out)


def _train_tokenizer(out: Path, llama3: bool) -> Path:
    """A byte-level BPE trained on code-like text: it has whitespace-run and digit tokens."""
    from tokenizers import Regex, Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE())
    if llama3:
        tok.pre_tokenizer = pre_tokenizers.Sequence(
            [
                pre_tokenizers.Split(Regex(LLAMA3_REGEX), behavior="isolated"),
                pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
            ]
        )
    else:
        tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=700,
        min_frequency=2,
        special_tokens=["<|endoftext|>"],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    rng = random.Random(0)
    tok.train_from_iterator([_code_like(rng, 300) for _ in range(60)], trainer=trainer)
    vocab = tok.get_vocab()
    assert {"ĊĊ", "ĠĠĠ"} <= set(vocab), "the tokenizer must have whitespace-run tokens"
    PreTrainedTokenizerFast(tokenizer_object=tok, eos_token="<|endoftext|>").save_pretrained(out)
    return out


@pytest.fixture(scope="module", params=["bytelevel", "llama3"])
def ws_tokenizer(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp(f"ws_{request.param}") / "tokenizer"
    return _train_tokenizer(out, llama3=request.param == "llama3")


def _cfg(tmp_path: Path, tokenizer_dir: Path, inputs: list[str], **kw: object) -> PrepConfig:
    cfg = PrepConfig(
        tokenizer=str(tokenizer_dir),
        output_dir=str(tmp_path / "out"),
        max_seq_len=16,
        val_fraction=0.0,
        corpora=[CorpusSpec(name="c", inputs=inputs)],
    )
    for k, v in kw.items():
        setattr(cfg, k, v)
    return cfg


def _split_docs(folder: Path, eos: int) -> list[list[int]]:
    """The documents of a split folder, from its samples (the last may be cut by the tail)."""
    stream = np.concatenate([s["tokens"] for s in iter_samples(folder)]).tolist()
    docs, cur = [], []
    for t in stream:
        if t == eos:
            docs.append(cur)
            cur = []
        else:
            cur.append(t)
    return docs + [cur] if cur else docs


def _assert_docs(folder: Path, tokenizer_dir: Path, texts: list[str]) -> None:
    """The split holds exactly ``texts``' encodings, in order (the last possibly cut short)."""
    from tokenizers import Tokenizer

    tok = Tokenizer.from_file(str(tokenizer_dir / "tokenizer.json"))
    eos = tok.token_to_id("<|endoftext|>")
    got = _split_docs(folder, eos)
    want = [e.ids for e in tok.encode_batch(texts, add_special_tokens=False)]
    assert len(got) <= len(want)
    assert got[:-1] == want[: len(got) - 1]
    assert want[len(got) - 1][: len(got[-1])] == got[-1]


def _write_surrogates(path: Path) -> None:
    lines = [json.dumps({"text": t}, ensure_ascii=False) for t in GOOD]
    # Valid JSON, not encodable as UTF-8 (json.dumps escapes the lone surrogate as \ud800).
    lines.insert(2, json.dumps({"text": "osamělý \ud800 surogát", "id": "x\udc00"}))
    lines.insert(5, json.dumps({"text": "pár \ud83d\ude00 je v pořádku"}))  # a valid pair
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


@pytest.mark.parametrize(
    ("backend", "workers"), [("tiktoken", 0), ("hf", 0), ("tiktoken", 2)], ids=str
)
def test_lone_surrogate_is_counted_in_every_backend(
    tmp_path: Path, tokenizer_dir: Path, backend: str, workers: int
) -> None:
    src = tmp_path / "s.jsonl"
    _write_surrogates(src)
    cfg = _cfg(tmp_path, tokenizer_dir, [str(src)], tokenizer_backend=backend, workers=workers)
    cfg.val_fraction = 0.3  # the split hash sees every kept document
    (res,) = prep_corpora(cfg)
    m = res.manifests["train"]
    assert m.skipped_documents == {"unencodable": 1}
    assert m.bad_document_examples["unencodable"] == [f"{src}:3"]
    assert m.tokenizer.backend == backend
    from csmpt.prep.run import split_of

    kept = [t for t in [*GOOD[:2], *GOOD[2:4], "pár \U0001f600 je v pořádku", *GOOD[4:]]]
    for split in ("train", "val"):
        texts = [t for t in kept if split_of(t, cfg.val_fraction) == split]
        assert res.manifests[split].documents == len(texts)
        _assert_docs(res.path / split, tokenizer_dir, texts)


def test_lone_surrogate_repaired_or_strict(tmp_path: Path, tokenizer_dir: Path) -> None:
    src = tmp_path / "s.jsonl"
    _write_surrogates(src)
    (res,) = prep_corpora(_cfg(tmp_path, tokenizer_dir, [str(src)], repair_unicode=True))
    m = res.manifests["train"]
    assert m.skipped_documents == {} and m.repaired_documents == {"repaired_unicode": 1}
    assert m.bad_document_examples["repaired_unicode"] == [f"{src}:3"]
    texts = [*GOOD[:2], "osamělý \ufffd surogát", *GOOD[2:4], "pár \U0001f600 je v pořádku"]
    _assert_docs(res.path / "train", tokenizer_dir, [*texts, *GOOD[4:]])
    strict = _cfg(tmp_path / "strict", tokenizer_dir, [str(src)], strict=True)
    with pytest.raises(DataError, match=rf"^{src}:3: lone surrogate U\+D800 at character 8 "):
        prep_corpora(strict)
    assert not (tmp_path / "strict/out/c").exists()


def test_byte_order_marks_are_stripped_and_counted(tmp_path: Path, tokenizer_dir: Path) -> None:
    bom = b"\xef\xbb\xbf"
    body = "\n".join(json.dumps({"text": t}, ensure_ascii=False) for t in GOOD[:20]) + "\n"
    (tmp_path / "a.jsonl").write_bytes(bom + body.encode())
    with gzip.open(tmp_path / "b.jsonl.gz", "wb") as f:
        f.write(bom + body.encode())
    (tmp_path / "c.txt").write_bytes(bom + GOOD[20].encode())
    inputs = [str(tmp_path / n) for n in ("a.jsonl", "b.jsonl.gz", "c.txt")]
    (res,) = prep_corpora(_cfg(tmp_path, tokenizer_dir, inputs))
    m = res.manifests["train"]
    assert m.skipped_documents == {}
    assert m.repaired_documents == {"bom_stripped": 3}
    assert m.bad_document_examples["bom_stripped"] == [f"{p}:1" for p in inputs]
    _assert_docs(res.path / "train", tokenizer_dir, [*GOOD[:20], *GOOD[:20], GOOD[20]])


def test_strict_is_part_of_up_to_date(tmp_path: Path, tokenizer_dir: Path) -> None:
    clean, dirty = tmp_path / "clean.jsonl", tmp_path / "dirty.jsonl"
    clean.write_text("\n".join(json.dumps({"text": t}) for t in GOOD) + "\n")
    dirty.write_text(clean.read_text() + '{"text": "  "}\n')
    for src, bad in ((clean, False), (dirty, True)):
        out = tmp_path / src.stem
        (first,) = prep_corpora(_cfg(out, tokenizer_dir, [str(src)]))
        assert not first.skipped
        strict = _cfg(out, tokenizer_dir, [str(src)], strict=True)
        if bad:
            with pytest.raises(DataError, match=rf"^{src}:41: empty document \(strict: true\)"):
                prep_corpora(strict)
            assert (out / "out/c/train/index.json").is_file()  # the built corpus stays
        else:
            (again,) = prep_corpora(strict)
            assert again.skipped  # nothing strict stops at: up to date


def test_long_document_pieces_encode_like_the_whole(ws_tokenizer: Path) -> None:
    """Property: for random documents and windows, the pieces' ids are the whole's ids."""
    from tokenizers import Tokenizer

    from csmpt.prep.encoders import make_encoder

    tok = Tokenizer.from_file(str(ws_tokenizer / "tokenizer.json"))
    cutter = DocumentCutter(ws_tokenizer / "tokenizer.json")
    assert cutter.why_not is None
    tiktoken_enc, backend = make_encoder(ws_tokenizer / "tokenizer.json", "tiktoken")
    rng = random.Random(1)
    cuts = 0
    docs = [_code_like(rng, rng.randint(50, 400)) for _ in range(60)]
    docs.append("slovo" * 3000)  # one pre-token: never cut
    docs.append(("A" * 500 + "\n\n\n\n" + " " * 30) * 20)
    for doc in docs:
        whole = tok.encode(doc, add_special_tokens=False).ids
        max_chars = rng.randint(5, 400)
        pieces = cutter.pieces(doc, max_chars)
        assert "".join(pieces) == doc
        cuts += len(pieces) - 1
        ids = [i for p in pieces for i in tok.encode(p, add_special_tokens=False).ids]
        assert ids == whole, (max_chars, [p[-20:] for p in pieces])
        flat, _ = tiktoken_enc.encode_flat(pieces)
        assert flat.tolist() == whole
    assert cuts > 500
    assert cutter.pieces("slovo" * 3000, 100) == ["slovo" * 3000]


def test_naive_cuts_would_change_tokens(ws_tokenizer: Path) -> None:
    """The tokenizer really has the traps: cutting inside a whitespace run or a word changes ids."""
    from tokenizers import Tokenizer

    tok = Tokenizer.from_file(str(ws_tokenizer / "tokenizer.json"))

    def enc(t: str) -> list[int]:
        return tok.encode(t, add_special_tokens=False).ids

    text = "x\n\n\ny  12345678"
    changed = [c for c in range(1, len(text)) if enc(text[:c]) + enc(text[c:]) != enc(text)]
    assert len(changed) >= 4


def test_prep_of_long_documents_is_token_exact(tmp_path: Path, ws_tokenizer: Path) -> None:
    rng = random.Random(2)
    texts = [_code_like(rng, rng.randint(100, 600)) for _ in range(12)]
    src = tmp_path / "long.jsonl"
    src.write_text("\n".join(json.dumps({"text": t}) for t in texts) + "\n")
    for backend in ("tiktoken", "hf"):
        out = tmp_path / backend
        cfg = _cfg(out, ws_tokenizer, [str(src)], max_doc_chars=97, tokenizer_backend=backend)
        (res,) = prep_corpora(cfg)
        assert res.manifests["train"].long_documents_split == len(texts)
        _assert_docs(res.path / "train", ws_tokenizer, texts)


@pytest.mark.parametrize(
    ("backend", "workers"), [("tiktoken", 0), ("hf", 0), ("tiktoken", 2)], ids=str
)
def test_a_million_character_whitespace_run_is_token_exact_in_every_backend(
    tmp_path: Path, tokenizer_dir: Path, backend: str, workers: int
) -> None:
    """A padded web page: tiktoken's regex overflows its stack on one ~1M whitespace pre-token
    (a panic; with workers a PicklingError), so such documents are encoded by HF."""
    texts = [GOOD[0], "začátek" + " " * 1_000_000 + "\n\t konec", GOOD[1]]
    src = tmp_path / "w.jsonl"
    src.write_text("".join(json.dumps({"text": t}) + "\n" for t in texts), encoding="utf-8")
    cfg = _cfg(tmp_path, tokenizer_dir, [str(src)], tokenizer_backend=backend, workers=workers)
    cfg.max_seq_len = 4096
    (res,) = prep_corpora(cfg)
    assert res.manifests["train"].documents == 3
    _assert_docs(res.path / "train", tokenizer_dir, texts)
