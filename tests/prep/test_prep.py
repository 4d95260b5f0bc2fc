from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from csmpt.config import build_structured, load_yaml_with_overrides
from csmpt.corpus.readers import expand_inputs, read_documents
from csmpt.mds.reader import iter_samples
from csmpt.prep.config import CorpusSpec, PrepConfig
from csmpt.prep.run import MANIFEST_NAME, prep_corpora, split_of


def _decode_split(folder: Path) -> np.ndarray:
    """All samples of an MDS folder in stored order, as one (n, max_seq_len) array."""
    return np.stack([sample["tokens"] for sample in iter_samples(folder)])


def _expected_stream(tokenizer_dir: Path, inputs: list[str], split: str, val_fraction: float):
    from tokenizers import Tokenizer

    tok = Tokenizer.from_file(str(tokenizer_dir / "tokenizer.json"))
    eos = tok.token_to_id("<|endoftext|>")
    stream: list[int] = []
    n_docs = 0
    for doc in read_documents(expand_inputs(inputs)):
        if not doc.text.strip() or split_of(doc.text, val_fraction) != split:
            continue
        stream += tok.encode(doc.text, add_special_tokens=False).ids + [eos]
        n_docs += 1
    return np.asarray(stream, dtype=np.int64), n_docs, eos


@pytest.mark.parametrize("corpus", ["cs_web", "en_web"])
@pytest.mark.parametrize("split", ["train", "val"])
def test_shards_decode_to_every_document_in_order(
    shards_dir: Path, tokenizer_dir: Path, prep_config_path: Path, corpus: str, split: str
) -> None:
    cfg = build_structured(PrepConfig, load_yaml_with_overrides(prep_config_path), None)
    spec = next(c for c in cfg.corpora if c.name == corpus)
    samples = _decode_split(shards_dir / corpus / split)
    assert samples.dtype == np.int32 and samples.shape[1] == cfg.max_seq_len
    expected, n_docs, eos = _expected_stream(tokenizer_dir, spec.inputs, split, cfg.val_fraction)
    got = samples.reshape(-1).astype(np.int64)
    dropped = len(expected) - len(got)
    # Only the final partial sample is dropped: fewer than max_seq_len tokens.
    assert 0 <= dropped < cfg.max_seq_len, f"{dropped} tokens dropped"
    np.testing.assert_array_equal(got, expected[: len(got)])
    assert (expected == eos).sum() == n_docs  # one EOS after every document
    manifest = json.loads((shards_dir / corpus / split / MANIFEST_NAME).read_text())
    assert manifest["documents"] == n_docs
    assert manifest["tokens"] == len(expected)
    assert manifest["samples"] == len(samples)
    assert manifest["dropped_tail_tokens"] == dropped
    print(f"{corpus}/{split}: {n_docs} docs, {len(expected)} tokens, {dropped} tail tokens dropped")


def test_val_split_is_small_and_disjoint(shards_dir: Path) -> None:
    train = json.loads((shards_dir / "cs_web/train" / MANIFEST_NAME).read_text())
    val = json.loads((shards_dir / "cs_web/val" / MANIFEST_NAME).read_text())
    share = val["documents"] / (train["documents"] + val["documents"])
    assert 0.01 < share < 0.15


def test_text_dataloader_of_llm_foundry_reads_the_shards(
    shards_dir: Path, tokenizer_dir: Path, tmp_path: Path
) -> None:
    import shutil

    from llmfoundry.data.text_data import StreamingTextDataset
    from transformers import AutoTokenizer

    # A copy: streaming decompresses shards next to them, which other tests would then see.
    shutil.copytree(shards_dir / "cs_crawl_clean/val", tmp_path / "cs_crawl_clean/val")
    ds = StreamingTextDataset(
        tokenizer=AutoTokenizer.from_pretrained(str(tokenizer_dir)),
        max_seq_len=128,
        local=str(tmp_path / "cs_crawl_clean"),
        split="val",
        shuffle=False,
        batch_size=1,
    )
    first = ds[0]
    expected = _decode_split(shards_dir / "cs_crawl_clean/val")[0]
    assert first.tolist() == expected.tolist()


def _one_corpus(tmp_path: Path, tokenizer_dir: Path, lines: list[str], seq: int) -> PrepConfig:
    """A config with one corpus 'c' made of the given jsonl lines, without a val split."""
    src = tmp_path / "docs.jsonl"
    src.write_text("\n".join(lines) + "\n")
    return PrepConfig(
        tokenizer=str(tokenizer_dir),
        output_dir=str(tmp_path / "out"),
        max_seq_len=seq,
        val_fraction=0.0,
        corpora=[CorpusSpec(name="c", inputs=[str(src)])],
    )


def test_rerun_skips_and_changed_config_rebuilds(tmp_path: Path, tokenizer_dir: Path) -> None:
    lines = [json.dumps({"text": f"Dokument {i}: Praha je hlavní město."}) for i in range(200)]
    cfg = _one_corpus(tmp_path, tokenizer_dir, lines, 32)
    (first,) = prep_corpora(cfg)
    assert not first.skipped and not (tmp_path / "out/c/val").exists()
    index = tmp_path / "out/c/train/index.json"
    mtime = index.stat().st_mtime_ns
    (again,) = prep_corpora(cfg)
    assert again.skipped and index.stat().st_mtime_ns == mtime
    assert again.manifests["train"].samples == first.manifests["train"].samples
    cfg.max_seq_len = 64
    (rebuilt,) = prep_corpora(cfg)
    assert not rebuilt.skipped
    assert rebuilt.manifests["train"].max_seq_len == 64
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["c"]  # no temp folders


def test_empty_documents_are_counted(tmp_path: Path, tokenizer_dir: Path) -> None:
    lines = [json.dumps({"text": "Ahoj světe, tohle je dokument."})] * 40
    lines += [json.dumps({"text": "   "}), json.dumps({"text": ""}), ""]
    (res,) = prep_corpora(_one_corpus(tmp_path, tokenizer_dir, lines, 16))
    assert res.manifests["train"].documents == 40
    assert res.manifests["train"].skipped_documents == {"empty": 2}
