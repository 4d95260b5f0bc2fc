"""``packing: pad`` built with ``--part I/N`` on 3 parts and ``--merge`` vs a single pad build.

Every document is whole in the merged corpus (an over-long one as its ``max_seq_len`` chunks),
once, in part order (each part's documents in corpus order); documents, tokens and real tokens
equal the single build's; the sample count differs by at most the manifest's ``part_switches``
and lies in its ``single_build_samples``. Tokens are checked against the tokenizer's own
encoding of each input line; llm-foundry's text dataset reads the merged folder.
"""

from __future__ import annotations

import functools
import json
import random
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from test_prep_parts import SEQ, _corpus, _text_of

from csmpt.corpus.readers import part_of
from csmpt.mds.doc_map import DOCMAP_DIR, DocumentMap
from csmpt.mds.reader import iter_samples
from csmpt.prep.config import CorpusSpec, PrepConfig, part_folder
from csmpt.prep.merge import merge_parts
from csmpt.prep.run import MANIFEST_NAME, prep_corpora

N = 3


def _cfg(tokenizer_dir: Path, out: Path, inputs: list[str], batch_size: int = 1024) -> PrepConfig:
    # pad set on the corpus (the config's default stays concat): parts and merge both use it.
    return PrepConfig(
        tokenizer=str(tokenizer_dir),
        output_dir=str(out),
        max_seq_len=SEQ,
        val_fraction=0.1,
        size_limit="2kb",
        batch_size=batch_size,
        corpora=[CorpusSpec(name="c", inputs=inputs, packing="pad")],
    )


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory, tokenizer_dir: Path) -> dict[str, Any]:
    d = tmp_path_factory.mktemp("pad_parts")
    inputs = _corpus(d)
    prep_corpora(_cfg(tokenizer_dir, d / "single", inputs))
    multi = _cfg(tokenizer_dir, d / "multi", inputs)
    for i in range(N):
        prep_corpora(multi, part=(i, N))
    merge_parts(multi)
    return {"single": d / "single/c", "merged": d / "multi/c", "multi": d / "multi", "in": inputs}


def _encodings(tokenizer_dir: Path) -> Any:
    """``encode(path, line)``: the tokenizer's ids of that input line's text, and EOS."""
    from tokenizers import Tokenizer

    tok = Tokenizer.from_file(str(tokenizer_dir / "tokenizer.json"))
    eos = tok.token_to_id("<|endoftext|>")

    @functools.cache
    def lines(path: str) -> list[str]:
        if path.endswith(".txt"):
            return [_text_of(path, 1)]
        return [json.loads(raw)["text"] for raw in Path(path).read_text("utf-8").splitlines()]

    def encode(path: str, line: int) -> list[int]:
        return list(tok.encode(lines(path)[line - 1], add_special_tokens=False).ids) + [eos]

    return encode


def _whole_documents(split: Path) -> tuple[list[tuple[str, int]], dict[tuple[str, int], list[int]]]:
    """The split's documents in sample order and their tokens; asserts each is whole and once.

    Whole: a document of at most SEQ tokens is one piece of one sample, from its first token to
    its last; a longer one is its SEQ-token chunks, each starting a sample, in consecutive ones.
    """
    manifest = json.loads((split / MANIFEST_NAME).read_text())
    dmap = DocumentMap(split, [i["path"] for i in manifest["inputs"]])
    samples = [s["tokens"].tolist() for s in iter_samples(split)]
    assert dmap.num_samples == len(samples) == manifest["samples"]
    order: list[tuple[str, int]] = []
    tokens: dict[tuple[str, int], list[int]] = {}
    for i, sample in enumerate(samples):
        assert 0 < len(sample) <= SEQ, f"sample {i} has {len(sample)} tokens"
        pieces = dmap.pieces(i)
        assert pieces[0]["pos"] == 0
        ends = [p["pos"] for p in pieces[1:]] + [len(sample)]
        for k, (p, end) in enumerate(zip(pieces, ends, strict=True)):
            key = (p["file"], p["line"])
            chunk = sample[p["pos"] : end]
            if p["offset"] == 0:
                assert key not in tokens, f"{key} appears twice (sample {i})"
                order.append(key)
                tokens[key] = []
            else:  # the next chunk of an over-long document: it starts the next sample
                assert (k, p["pos"]) == (0, 0) and order[-1] == key, f"{key} cut in sample {i}"
                assert p["offset"] == len(tokens[key]) and p["offset"] % SEQ == 0, key
                assert len(samples[i - 1]) == SEQ, f"{key}: a short chunk before sample {i}"
            tokens[key] += chunk
    return order, tokens


def _part_of(inputs: list[str], key: tuple[str, int]) -> int:
    """The part that reads document ``key`` (its record is line - 1: jsonl line, .txt 1)."""
    return part_of(inputs.index(key[0]), key[1] - 1, N)


@pytest.mark.parametrize("split", ["train", "val"])
def test_pad_parts_merge_has_every_document_whole_once_in_part_order(
    built: dict[str, Any], tokenizer_dir: Path, split: str
) -> None:
    single, merged = built["single"] / split, built["merged"] / split
    ms, mm = (json.loads((f / MANIFEST_NAME).read_text()) for f in (single, merged))
    inputs = [i["path"] for i in mm["inputs"]]
    order_s, docs_s = _whole_documents(single)
    order_m, docs_m = _whole_documents(merged)
    encode = _encodings(tokenizer_dir)
    assert docs_m == docs_s  # the same documents, token for token
    for key, tokens in docs_m.items():
        assert tokens == encode(*key), key  # nothing cut off, nothing added
    assert any(len(t) > SEQ for t in docs_m.values()), "no over-long document to chunk"
    # Order: a single build's is the corpus's; the merge's part 1's documents, then 2's, 3's.
    assert order_s == sorted(order_s, key=lambda k: (inputs.index(k[0]), k[1]))
    assert order_m == sorted(order_s, key=lambda k: (_part_of(inputs, k), inputs.index(k[0])))
    assert [p["part"] for p in mm["merged_from"]] == [[1, N], [2, N], [3, N]]
    assert all(p["samples"] > 0 for p in mm["merged_from"])
    real = sum(len(t) for t in docs_m.values())
    samples = [len(s["tokens"]) for s in iter_samples(merged)]
    assert mm["packing"] == ms["packing"] == "pad"
    for key in ("documents", "tokens", "real_tokens_in_samples", "skipped_documents"):
        assert mm[key] == ms[key], key
    assert mm["tokens"] == mm["real_tokens_in_samples"] == real == sum(samples)
    assert mm["samples"] == len(samples) == sum(p["samples"] for p in mm["merged_from"])
    assert mm["tokens_in_samples"] == mm["samples"] * SEQ and mm["dropped_tail_tokens"] == 0
    assert mm["pad_share"] == pytest.approx(1 - real / (mm["samples"] * SEQ))
    # The sample count: switches counted here from the single build's corpus order.
    parts = [_part_of(inputs, k) for k in order_s]
    switches = sum(a != b for a, b in zip(parts, parts[1:], strict=False))
    assert switches >= N - 1 and mm["part_switches"] == switches
    low, high = mm["single_build_samples"]
    assert low <= ms["samples"] <= high
    assert abs(mm["samples"] - ms["samples"]) <= switches
    assert high - low <= 2 * switches


def test_documents_are_not_cut_at_part_boundaries(
    built: dict[str, Any], tokenizer_dir: Path
) -> None:
    """Each part's last sample ends its last document; the next part's starts its first."""
    split = built["merged"] / "train"
    mm = json.loads((split / MANIFEST_NAME).read_text())
    dmap = DocumentMap(split, [i["path"] for i in mm["inputs"]])
    samples = [s["tokens"].tolist() for s in iter_samples(split)]
    encode = _encodings(tokenizer_dir)
    ends = np.cumsum([p["samples"] for p in mm["merged_from"]])[:-1]
    for b in ends:
        last, first = dmap.pieces(int(b) - 1)[-1], dmap.pieces(int(b))[0]
        want = encode(last["file"], last["line"])
        assert samples[b - 1][last["pos"] :] == want[last["offset"] :]  # to its EOS
        assert (first["pos"], first["offset"]) == (0, 0)
        want = encode(first["file"], first["line"])
        assert samples[b][: len(want)] == want[:SEQ]
        # The part's own last sample, as the part built it (not re-packed by the merge).
        part = built["multi"] / part_folder("c", (len(ends[ends < b]), N)) / "train"
        assert [s["tokens"].tolist() for s in iter_samples(part)][-1] == samples[b - 1]


def test_pad_merged_map_lookup_and_llm_foundry_reads_it(
    built: dict[str, Any], tokenizer_dir: Path, llm_foundry_reads
) -> None:
    split = built["merged"] / "train"
    mm = json.loads((split / MANIFEST_NAME).read_text())
    dmap = DocumentMap(split, [i["path"] for i in mm["inputs"]])
    ours = [s["tokens"] for s in iter_samples(split)]
    encode = _encodings(tokenizer_dir)
    for i in random.Random(0).sample(range(len(ours)), 20):
        pieces = dmap.pieces(i)
        assert dmap(i) == [f"{p['file']}:{p['line']}" for p in pieces]
        ends = [p["pos"] for p in pieces[1:]] + [len(ours[i])]
        for p, end in zip(pieces, ends, strict=True):
            want = encode(p["file"], p["line"])[p["offset"] : p["offset"] + end - p["pos"]]
            assert ours[i][p["pos"] : end].tolist() == want, (i, p)
    boundary = mm["merged_from"][0]["samples"]
    picks = (0, boundary - 1, boundary, len(ours) - 1)
    n, got = llm_foundry_reads(built["merged"], SEQ, picks)
    assert n == len(ours)
    for i in picks:
        assert got[i] == ours[i].tolist()


def _snapshot(split: Path) -> dict[str, Any]:
    out: dict[str, Any] = {"samples": [s["tokens"].tolist() for s in iter_samples(split)]}
    for f in sorted((split / DOCMAP_DIR).glob("*.npy")):
        out[f.name] = np.load(f).tolist()
    m = json.loads((split / MANIFEST_NAME).read_text())
    return out | {k: m[k] for k in ("documents", "tokens", "samples", "pad_share", "fingerprint")}


def test_killed_pad_part_resumes_to_the_same_part(
    built: dict[str, Any], tokenizer_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from csmpt.mds.writer import ShardFormat

    write = ShardFormat.write
    calls = [0]

    def dying_write(self: ShardFormat, folder: Path, stem: str, samples: list[bytes]) -> Any:
        if calls[0] == 5:
            raise KeyboardInterrupt  # a kill after 5 finished shards
        calls[0] += 1
        return write(self, folder, stem, samples)

    monkeypatch.setattr(ShardFormat, "write", dying_write)
    cfg = _cfg(tokenizer_dir, tmp_path, built["in"], batch_size=8)  # saved between batches
    with pytest.raises(KeyboardInterrupt):
        prep_corpora(cfg, part=(1, N))
    monkeypatch.setattr(ShardFormat, "write", write)
    (res,) = prep_corpora(cfg, part=(1, N))
    assert res.resumed_shards >= 1
    name = part_folder("c", (1, N))
    for split in ("train", "val"):
        assert _snapshot(tmp_path / name / split) == _snapshot(built["multi"] / name / split)


def test_single_build_sample_range_holds_for_random_dealings() -> None:
    """The merge's range, against next-fit run on the whole corpus and on each part (brute force).

    Random lengths (over-long and exactly filling ones too) dealt to parts in runs of random
    length: a single build's count always lies in the merged manifest's range, and a single build
    is seen with more and with fewer samples than the merge, and at each end of the range.
    """
    from csmpt.prep.merge import _pad_fields
    from csmpt.prep.pad_packing import PadPacker

    def count(lengths: list[int], seq: int) -> int:
        packer = PadPacker(seq)
        n = sum(1 for x in lengths for _ in packer.add_tokens(np.ones(x, np.int32)))
        return n + sum(1 for _ in packer.close())

    rng = random.Random(1)
    seen: set[int] = set()
    ends: set[str] = set()
    for _ in range(400):
        seq, parts, size = rng.randint(2, 12), rng.randint(2, 4), rng.randint(2, 40)
        docs: list[tuple[int, int]] = []  # (tokens, part)
        while len(docs) < size:
            part = rng.randrange(parts)
            docs += [(rng.randint(1, 2 * seq + 1), part) for _ in range(rng.randint(1, 6))]
        single = count([x for x, _ in docs], seq)
        line = np.arange(1, len(docs) + 1)
        of = np.array([p for _, p in docs])
        per = [[x for x, p in docs if p == k] for k in range(parts)]
        merged = sum(count(d, seq) for d in per if d)
        fields = _pad_fields(
            sum(sum(d) for d in per),
            merged,
            seq,
            [np.zeros(len(d), np.int32) for d in per],
            [line[of == k] for k in range(parts)],
        )
        low, high = fields["single_build_samples"]
        assert low <= single <= high, (seq, docs)
        assert fields["part_switches"] == int(np.count_nonzero(of[1:] != of[:-1]))
        seen.add((single > merged) - (single < merged))
        ends |= {"low"} if single == low else set()
        ends |= {"high"} if single == high else set()
    assert seen == {-1, 0, 1} and ends == {"low", "high"}  # both ways, and no looser than seen
