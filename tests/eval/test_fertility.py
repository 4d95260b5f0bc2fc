"""Fertility on a split's own shards: whole documents decoded, the cut-off one left out."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from csmpt.eval.fertility import split_fertility
from csmpt.mds.manifest import SplitManifest
from csmpt.mds.reader import iter_samples


def test_fertility_counts_whole_documents_of_the_split(
    shards_dir: Path, tokenizer_dir: Path
) -> None:
    from transformers import AutoTokenizer

    split = shards_dir / "cs_web" / "val"
    tok = AutoTokenizer.from_pretrained(tokenizer_dir)
    eos = SplitManifest.read(split).eos_id
    stream = np.concatenate([s["tokens"] for s in iter_samples(split)]).astype(np.int64)
    ends = np.flatnonzero(stream == eos)
    assert len(ends) > 3
    docs = np.split(stream, ends + 1)[:-1]  # every document ended by its EOS: whole
    texts = [tok.decode(d[:-1].tolist()) for d in docs]
    f = split_fertility(split, tok, max_tokens=10**9)
    assert f.documents == len(docs)
    assert f.tokens == sum(len(d) - 1 for d in docs)
    assert f.words == sum(len(t.split()) for t in texts)
    assert f.bytes == sum(len(t.encode()) for t in texts)
    assert 1.0 < f.tokens_per_word < 4.0 and 2.0 < f.bytes_per_token < 8.0
    # A budget that ends inside a document: the documents before it only.
    budget = int(ends[2]) + 5
    cut = split_fertility(split, tok, max_tokens=budget)
    seq = len(next(iter_samples(split))["tokens"])
    read = -(-budget // seq) * seq  # whole samples are read
    assert cut.documents == int(np.sum(ends < read))
