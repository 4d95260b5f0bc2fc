"""Near-duplicate removal in csmpt prep: planted near-copies go, distinct documents stay.

Near-copies (a few words edited) of documents of a fixture are planted later in the corpus;
``filter: {near_dedup: ...}`` removes exactly those, names the kept document each repeats, and
gives the same verdicts with other batch sizes, worker processes, and after an interrupted build.
"""

from __future__ import annotations

import json
import random
from pathlib import Path

import numpy as np
import pytest

from csmpt.filter.document_filter import DocumentFilter, FilterSpec
from csmpt.filter.near_dedup import NearDedupSpec, shingles
from csmpt.mds.reader import iter_samples
from csmpt.prep.config import CorpusSpec, PrepConfig
from csmpt.prep.run import prep_corpora

SAMPLES = Path("data/samples")
NEAR = NearDedupSpec(threshold=0.7, ngram=3, num_perm=128, seed=1)


def _corpus(path: Path) -> tuple[list[dict[str, str]], dict[str, str]]:
    """Distinct documents of the fixture, then near-copies of 12 of them (2 words changed)."""
    rng = random.Random(3)
    rows = [json.loads(x) for x in (SAMPLES / "cs_web.jsonl").read_text().splitlines()]
    docs, seen = [], set()
    for r in rows:
        words = r["text"].split()
        if len(words) >= 80 and r["text"] not in seen:
            seen.add(r["text"])
            docs.append({"id": f"orig{len(docs)}", "text": r["text"]})
    assert len(docs) >= 80
    docs = docs[:80]
    planted = {}
    for k, d in enumerate(rng.sample(docs, 12)):
        words = d["text"].split()
        for i in rng.sample(range(len(words)), 2):
            words[i] = rng.choice(["pes", "kočka", "strom", "auto"])
        copy_id = f"copy{k}"
        planted[copy_id] = d["id"]
        docs.append({"id": copy_id, "text": " ".join(words)})
        a, b = (set(shingles(t, NEAR.ngram)) for t in (d["text"], docs[-1]["text"]))
        assert len(a & b) / len(a | b) > 0.8  # a true near-copy (threshold 0.7)
    path.write_text("\n".join(json.dumps(d, ensure_ascii=False) for d in docs) + "\n")
    return docs, planted


def _cfg(tmp: Path, tok: Path, src: Path, **kw: object) -> PrepConfig:
    filt = FilterSpec(near_dedup=NEAR, removed_file=str(tmp / "removed.jsonl"))
    cfg = PrepConfig(
        tokenizer=str(tok),
        output_dir=str(tmp / "out"),
        max_seq_len=32,
        val_fraction=0.0,
        size_limit="2kb",
        corpora=[CorpusSpec(name="c", inputs=[str(src)], filter=filt)],
    )
    for k, v in kw.items():
        setattr(cfg, k, v)
    return cfg


def _side(tmp: Path) -> list[tuple[str, str, str]]:
    lines = (tmp / "removed.jsonl").read_text().splitlines()
    return [(r["id"], r["reason"], r["duplicate_of"]) for r in map(json.loads, lines)]


def test_near_copies_removed_distinct_kept(tmp_path: Path, tokenizer_dir: Path) -> None:
    from tokenizers import Tokenizer

    src = tmp_path / "c.jsonl"
    docs, planted = _corpus(src)
    (res,) = prep_corpora(_cfg(tmp_path, tokenizer_dir, src))
    m = res.manifests["train"]
    assert m.skipped_documents == {"near_duplicate": len(planted)}
    side = _side(tmp_path)
    assert {(i, of) for i, _, of in side} == set(planted.items())
    kept = [d["text"] for d in docs if d["id"] not in planted]
    assert m.documents == len(kept)
    tok = Tokenizer.from_file(str(tokenizer_dir / "tokenizer.json"))
    eos = tok.token_to_id("<|endoftext|>")
    want = [i for e in tok.encode_batch(kept, add_special_tokens=False) for i in [*e.ids, eos]]
    got = np.concatenate([s["tokens"] for s in iter_samples(res.path / "train")]).tolist()
    assert got == want[: len(got)] and len(want) - len(got) < 32
    # Same verdicts with other batching and worker processes.
    again = tmp_path / "again"
    prep_corpora(_cfg(again, tokenizer_dir, src, batch_size=7, workers=2))
    assert _side(again) == side


def test_interrupted_build_resumes_to_the_same_verdicts(
    tmp_path: Path, tokenizer_dir: Path
) -> None:
    src = tmp_path / "c.jsonl"
    _corpus(src)
    ref = tmp_path / "ref"
    prep_corpora(_cfg(ref, tokenizer_dir, src, batch_size=8))
    out = tmp_path / "out1"
    calls = [0]

    def stop(docs: int, tokens: int) -> None:
        calls[0] += 1
        if calls[0] == 8:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        prep_corpora(_cfg(out, tokenizer_dir, src, batch_size=8), on_progress=stop)
    progress = json.loads((out / "out/.c.partial/csmpt_progress.json").read_text())
    assert progress["filter_records"] > 0 and progress["splits"]["train"]["shards"]
    (res,) = prep_corpora(_cfg(out, tokenizer_dir, src, batch_size=8))
    assert res.resumed_shards > 0
    assert _side(out) == _side(ref)
    a = [s["tokens"].tolist() for s in iter_samples(out / "out/c/train")]
    b = [s["tokens"].tolist() for s in iter_samples(ref / "out/c/train")]
    assert a == b


def test_filter_api_and_bad_threshold(tmp_path: Path) -> None:
    from csmpt.errors import DataError

    f = DocumentFilter(FilterSpec(near_dedup=NEAR))
    base = " ".join(f"slovo{i}" for i in range(50))
    edited = base.replace("slovo10", "jiné")
    other = " ".join(f"jiny{i}" for i in range(50))
    assert f.check_batch(["a", "b", "c"], [base, edited, other]) == [None, "near_duplicate", None]
    with pytest.raises(DataError, match=r"near_dedup.threshold must be in \(0, 1\]"):
        DocumentFilter(FilterSpec(near_dedup=NearDedupSpec(threshold=1.5)))


@pytest.mark.parametrize("packing", ["concat", "pad"])
def test_duplicates_across_parts_match_a_single_build(
    tmp_path: Path, tokenizer_dir: Path, packing: str
) -> None:
    """Originals and their near-copies in different parts: one pass over all signatures."""
    from csmpt.errors import DataError
    from csmpt.prep.merge import merge_parts
    from csmpt.prep.part_dedup import dedup_corpora, sign_corpora

    src = tmp_path / "c.jsonl"
    docs, planted = _corpus(src)
    exact = dict(docs[5])  # an exact repeat too
    docs = [*docs, {"id": "again5", "text": exact["text"]}]
    files = [tmp_path / f"{k}.jsonl" for k in "abc"]  # input k goes to part k
    for f, chunk in zip(files, (docs[:40], docs[40:80], docs[80:]), strict=True):
        f.write_text("\n".join(json.dumps(d, ensure_ascii=False) for d in chunk) + "\n")
    single = _cfg(tmp_path / "single", tokenizer_dir, src, packing=packing)
    single.corpora[0].inputs = [str(f) for f in files]
    single.corpora[0].filter.dedup = True  # type: ignore[union-attr]
    (one,) = prep_corpora(single)
    cfg = _cfg(tmp_path / "multi", tokenizer_dir, src, packing=packing)
    cfg.corpora[0].inputs = single.corpora[0].inputs
    cfg.corpora[0].filter.dedup = True  # type: ignore[union-attr]
    with pytest.raises(DataError, match="run csmpt prep CONFIG --part I/3 --signatures"):
        prep_corpora(cfg, part=(0, 3))
    for i in range(3):
        sign_corpora(cfg, [], (i, 3))
    dedup_corpora(cfg, [])
    for i in range(3):
        prep_corpora(cfg, part=(i, 3))
    (merged,) = merge_parts(cfg)
    m, m1 = merged.manifests["train"], one.manifests["train"]
    for key in ("skipped_documents", "documents", "tokens", "samples"):
        if key == "samples" and packing == "pad":  # each part packs its own range of records
            low, high = m.single_build_samples
            filled = sum(p.samples > 0 for p in m.merged_from)  # c.jsonl: all removed
            assert m.part_switches == filled - 1 and low <= m1.samples <= high == m.samples
            continue
        assert getattr(m, key) == getattr(m1, key), key
    ids = [
        {r["id"] for r in map(json.loads, (d / "removed.jsonl").read_text().splitlines())}
        for d in (tmp_path / "single", tmp_path / "multi")
    ]
    assert ids[0] == ids[1] == {*planted, "again5"}  # the side files, joined by --merge
    assert one.manifests["train"].skipped_documents == {
        "duplicate": 1,
        "near_duplicate": len(planted),
    }
