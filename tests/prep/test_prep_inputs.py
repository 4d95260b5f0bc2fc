"""csmpt prep reads every input format the same way, and counts (or, strict, rejects) bad input."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import numpy as np
import pytest

from csmpt.corpus.readers import expand_inputs, read_documents
from csmpt.errors import DataError
from csmpt.mds.reader import iter_samples
from csmpt.prep.config import CorpusSpec, PrepConfig
from csmpt.prep.long_docs import DocumentCutter
from csmpt.prep.run import prep_corpora

TEXTS = [f"Dokument {i}: Praha je hlavní město České republiky, řeka Vltava." for i in range(60)]


def _cfg(tmp_path: Path, tokenizer_dir: Path, inputs: list[str], **kw: object) -> PrepConfig:
    spec = CorpusSpec(name="c", inputs=inputs, text_field=str(kw.pop("text_field", "text")))
    cfg = PrepConfig(
        tokenizer=str(tokenizer_dir),
        output_dir=str(tmp_path / "out"),
        max_seq_len=16,
        val_fraction=0.0,
        corpora=[spec],
    )
    for k, v in kw.items():
        setattr(cfg, k, v)
    return cfg


def _tokens(tmp_path: Path) -> np.ndarray:
    return np.concatenate([s["tokens"] for s in iter_samples(tmp_path / "out/c/train")])


def _write_formats(d: Path) -> dict[str, list[str]]:
    """The same 60 documents in every format (split over two files where it makes sense)."""
    import datasets
    import pyarrow as pa
    import pyarrow.parquet as pq
    import zstandard

    lines = [
        json.dumps({"body": t, "id": f"d{i}"}, ensure_ascii=False) for i, t in enumerate(TEXTS)
    ]
    (d / "a.jsonl").write_text("\n".join(lines[:30]) + "\n")
    (d / "b.jsonl").write_text("\n".join(lines[30:]) + "\n")
    with gzip.open(d / "a.jsonl.gz", "wt") as f:
        f.write("\n".join(lines[:30]) + "\n")
    zst = zstandard.ZstdCompressor()  # two frames, as streaming/parallel compressors write
    (d / "b.jsonl.zst").write_bytes(
        zst.compress(("\n".join(lines[30:45]) + "\n").encode())
        + zst.compress(("\n".join(lines[45:]) + "\n").encode())
    )
    (d / "txt").mkdir()
    for i, t in enumerate(TEXTS):
        (d / "txt" / f"{i:03}.txt").write_text(t)
    pq.write_table(pa.table({"body": TEXTS[:30]}), d / "a.parquet")
    pq.write_table(pa.table({"body": TEXTS[30:]}), d / "b.parquet")
    datasets.Dataset.from_dict({"body": TEXTS}).save_to_disk(str(d / "hf"))
    return {
        "jsonl glob": [str(d / "*.jsonl")],
        "gz + zst": [str(d / "a.jsonl.gz"), str(d / "b.jsonl.zst")],
        "txt folder": [str(d / "txt")],
        "parquet": [str(d / "a.parquet"), str(d / "b.parquet")],
        "save_to_disk": [str(d / "hf")],
    }


def test_every_format_gives_the_same_tokens(tmp_path: Path, tokenizer_dir: Path) -> None:
    sets = _write_formats(tmp_path)
    reference = None
    for name, inputs in sets.items():
        out = tmp_path / name.replace(" ", "_")
        out.mkdir()
        cfg = _cfg(out, tokenizer_dir, inputs, text_field="body")
        (res,) = prep_corpora(cfg)
        assert res.manifests["train"].documents == 60, name
        tokens = _tokens(out)
        if reference is None:
            reference = tokens
        np.testing.assert_array_equal(tokens, reference, err_msg=name)
    docs = list(read_documents(expand_inputs(sets["jsonl glob"]), "body"))
    assert [d.doc_id for d in docs[:2]] == ["d0", "d1"]  # the id field
    rows = list(read_documents(expand_inputs(sets["parquet"]), "body", base_dir=tmp_path))
    assert rows[31].doc_id == "b.parquet:1"  # else <input relative to base_dir>:<row>


def _bad_corpus(path: Path) -> None:
    good = [json.dumps({"text": t}, ensure_ascii=False).encode() for t in TEXTS]
    path.write_bytes(
        b"\n".join(
            [
                *good[:20],
                b'{"text": "bad \xff byte"}',  # line 21: invalid UTF-8
                b'{"text": "   "}',  # 22: whitespace only
                b'{"text": ""}',  # 23: empty
                b'{"body": "no text field"}',  # 24: missing text
                json.dumps({"text": "Dlouhý dokument o Praze. " * 40}).encode(),  # 25: long
                b'{"text": "cut off',  # 26: malformed JSON
                b'["text", "a list"]',  # 27: not a JSON object
                *good[20:],
            ]
        )
        + b"\n"
    )


def test_bad_documents_are_counted(tmp_path: Path, tokenizer_dir: Path) -> None:
    src = tmp_path / "bad.jsonl"
    _bad_corpus(src)
    (res,) = prep_corpora(_cfg(tmp_path, tokenizer_dir, [str(src)], max_doc_chars=300))
    m = res.manifests["train"]
    assert m.skipped_documents == {
        "invalid_utf8": 1,
        "empty": 2,
        "missing_text": 1,
        "malformed_json": 2,
    }
    assert m.long_documents_split == 1
    assert m.bad_document_examples == {
        "invalid_utf8": [f"{src}:21"],
        "empty": [f"{src}:22", f"{src}:23"],
        "missing_text": [f"{src}:24"],
        "long_split": [f"{src}:25"],
        "malformed_json": [f"{src}:26", f"{src}:27"],
    }
    assert m.documents == 61  # 60 good + the long one, kept whole
    # The long document was tokenized in pieces, cut at pre-tokens: same tokens as whole.
    from tokenizers import Tokenizer

    tok = Tokenizer.from_file(str(tokenizer_dir / "tokenizer.json"))
    long_text = "Dlouhý dokument o Praze. " * 40
    pieces = DocumentCutter(tokenizer_dir / "tokenizer.json").pieces(long_text, 300)
    assert len(pieces) == 4 and "".join(pieces) == long_text
    whole = tok.encode(long_text, add_special_tokens=False).ids
    assert sum((tok.encode(p, add_special_tokens=False).ids for p in pieces), []) == whole
    tokens = _tokens(tmp_path).tolist()
    assert any(tokens[i : i + len(whole)] == whole for i in range(len(tokens)))


@pytest.mark.parametrize(
    ("line", "message"),
    [
        (21, "not valid UTF-8"),
        (22, "empty or whitespace-only document"),
        (24, "record has no 'text' field"),
        (25, "longer than max_doc_chars=300"),
        (26, "not valid JSON"),
        (27, "expected a JSON object, got list"),
    ],
)
def test_strict_rejects_each_kind(
    tmp_path: Path, tokenizer_dir: Path, line: int, message: str
) -> None:
    src = tmp_path / "bad.jsonl"
    _bad_corpus(src)
    lines = src.read_bytes().split(b"\n")
    keep = [ln for i, ln in enumerate(lines, 1) if i == line or not 21 <= i <= 27]
    src.write_bytes(b"\n".join(keep))
    cfg = _cfg(tmp_path, tokenizer_dir, [str(src)], max_doc_chars=300, strict=True)
    with pytest.raises(DataError, match=rf"^{src}:21: .*{message}"):
        prep_corpora(cfg)
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == []  # nothing half-written


@pytest.mark.parametrize("suffix", [".jsonl.gz", ".jsonl.zst"])
def test_cut_off_compressed_file_is_one_line_error(
    tmp_path: Path, tokenizer_dir: Path, suffix: str
) -> None:
    import gzip

    import zstandard

    data = "".join(json.dumps({"text": t}, ensure_ascii=False) + "\n" for t in TEXTS * 20)
    raw = data.encode()
    packed = gzip.compress(raw) if suffix == ".jsonl.gz" else zstandard.compress(raw)
    src = tmp_path / f"cut{suffix}"
    src.write_bytes(packed[: len(packed) // 2])  # a download that stopped half-way
    with pytest.raises(DataError, match=rf"^{src}: cannot be read after line \d+: "):
        prep_corpora(_cfg(tmp_path, tokenizer_dir, [str(src)]))
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == []  # nothing half-written


def test_unknown_input_type(tmp_path: Path) -> None:
    (tmp_path / "x.csv").write_text("a,b\n")
    with pytest.raises(DataError, match="unsupported corpus file type"):
        list(read_documents([tmp_path / "x.csv"]))
