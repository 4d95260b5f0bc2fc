"""``csmpt prep --part I/N`` on N "nodes" (subprocesses) + ``--merge`` = a single-node build.

The merged corpus and a single build hold the same documents, token for token (reassembled
through the document maps and compared with the tokenizer's own encoding of each input line),
the same numbers of documents, tokens and samples; streaming's ``merge_index`` wrote the index
and llm-foundry's text dataset reads it. Random samples' ``file:line`` come from the map.
"""

from __future__ import annotations

import json
import random
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

import pytest
import yaml

from csmpt.mds.doc_map import DocumentMap
from csmpt.mds.reader import iter_samples
from csmpt.prep.config import CorpusSpec, PrepConfig
from csmpt.prep.run import prep_corpora

CSMPT = str(Path(sys.executable).parent / "csmpt")
WORDS = "Praha Brno řeka Vltava hrad most město lidé rok škola 1993 2024 data text".split()
SEQ = 24


def _corpus(d: Path) -> list[str]:
    """A big jsonl (records split over parts by range), a small one and a folder of .txt."""
    rng = random.Random(5)

    def doc() -> str:
        return " ".join(rng.choice(WORDS) for _ in range(rng.randint(1, 25)))

    (d / "big.jsonl").write_text(
        "\n".join(json.dumps({"text": doc()}, ensure_ascii=False) for _ in range(9000)) + "\n"
    )
    lines = [json.dumps({"text": doc()}, ensure_ascii=False) for _ in range(50)]
    lines[7] = '{"text": ""}'  # counted in exactly one part
    (d / "small.jsonl").write_text("\n".join(lines) + "\n")
    (d / "txt").mkdir()
    for i in range(5):
        (d / "txt" / f"{i}.txt").write_text(doc() + "\n\n" + doc())
    return [str(d / "big.jsonl"), str(d / "small.jsonl"), str(d / "txt")]


def _text_of(path: str, line: int) -> str:
    if path.endswith(".txt"):
        return Path(path).read_text()
    with open(path, encoding="utf-8") as f:
        for i, raw in enumerate(f, start=1):
            if i == line:
                return str(json.loads(raw)["text"])
    raise AssertionError(f"{path} has no line {line}")


def _documents(split: Path) -> dict[tuple[str, int], list[int]]:
    """Each document's tokens, reassembled from the samples with the split's document map."""
    manifest = json.loads((split / "csmpt_manifest.json").read_text())
    dmap = DocumentMap(split, [i["path"] for i in manifest["inputs"]])
    pieces: dict[tuple[str, int], list[tuple[int, list[int]]]] = defaultdict(list)
    samples = [s["tokens"].tolist() for s in iter_samples(split)]
    assert dmap.num_samples == len(samples) == manifest["samples"]
    for i, sample in enumerate(samples):
        segs = dmap.pieces(i)
        ends = [s["pos"] for s in segs[1:]] + [SEQ]
        for seg, end in zip(segs, ends, strict=True):
            pieces[(seg["file"], seg["line"])].append((seg["offset"], sample[seg["pos"] : end]))
    docs = {}
    for key, parts in pieces.items():
        parts.sort()
        tokens: list[int] = []
        for offset, toks in parts:
            assert offset == len(tokens), f"{key}: a gap or overlap in the document"
            tokens += toks
        docs[key] = tokens
    return docs


def _run(*args: str) -> None:
    proc = subprocess.run([CSMPT, "prep", *args], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-3000:]


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory, tokenizer_dir: Path) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("parts")
    inputs = _corpus(d)
    single = PrepConfig(
        tokenizer=str(tokenizer_dir),
        output_dir=str(d / "single"),
        max_seq_len=SEQ,
        val_fraction=0.1,
        size_limit="4kb",
        corpora=[CorpusSpec(name="c", inputs=inputs)],
    )
    prep_corpora(single)
    cfg = {
        "tokenizer": str(tokenizer_dir),
        "output_dir": str(d / "multi"),
        "max_seq_len": SEQ,
        "val_fraction": 0.1,
        "size_limit": "4kb",
        "corpora": [{"name": "c", "inputs": inputs}],
    }
    (d / "prep.yaml").write_text(yaml.safe_dump(cfg))
    for i in (1, 2, 3):
        _run(str(d / "prep.yaml"), "--part", f"{i}/3")
    _run(str(d / "prep.yaml"), "--merge")
    return {"single": d / "single/c", "merged": d / "multi/c", "multi": d / "multi", "yaml": d}


@pytest.mark.parametrize("split", ["train", "val"])
def test_merged_parts_equal_a_single_build(
    built: dict[str, Path], tokenizer_dir: Path, split: str
) -> None:
    from tokenizers import Tokenizer

    single, merged = built["single"] / split, built["merged"] / split
    ms, mm = (json.loads((f / "csmpt_manifest.json").read_text()) for f in (single, merged))
    for key in ("documents", "tokens", "samples", "skipped_documents"):
        assert ms[key] == mm[key], key
    assert [p["part"] for p in mm["merged_from"]] == [[1, 3], [2, 3], [3, 3]]
    assert all(p["samples"] > 0 for p in mm["merged_from"])  # every part got records
    index = json.loads((merged / "index.json").read_text())
    names = [s["raw_data"]["basename"].split("/")[0] for s in index["shards"]]
    assert names[0] == "part-001" and "part-003" in names  # streaming's merge_index
    a, b = _documents(single), _documents(merged)
    tok = Tokenizer.from_file(str(tokenizer_dir / "tokenizer.json"))
    eos = tok.token_to_id("<|endoftext|>")
    complete = 0
    for docs in (a, b):
        for (path, line), tokens in docs.items():
            want = tok.encode(_text_of(path, line), add_special_tokens=False).ids + [eos]
            assert want[: len(tokens)] == tokens, (path, line)
            complete += tokens == want
    # Same documents; only those the final dropped tail cut short differ in length.
    assert set(a) == set(b)
    differ = [k for k in a if a[k] != b[k]]
    assert len(differ) <= 2 * SEQ
    assert complete >= 2 * len(a) - len(differ) - 2


def test_llm_foundry_reads_the_merged_corpus(built: dict[str, Path], llm_foundry_reads) -> None:
    ours = [s["tokens"] for s in iter_samples(built["merged"] / "train")]
    picks = (0, len(ours) // 2, len(ours) - 1)  # a part's sample, and a tail sample
    n, got = llm_foundry_reads(built["merged"], SEQ, picks)
    assert n == len(ours)
    for i in picks:
        assert got[i] == ours[i].tolist()


def test_parts_rerun_and_document_map_lookup(built: dict[str, Path]) -> None:
    proc = subprocess.run(
        [CSMPT, "prep", str(built["yaml"] / "prep.yaml"), "--part", "2/3"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0 and "up to date" in proc.stdout
    split = built["merged"] / "train"
    manifest = json.loads((split / "csmpt_manifest.json").read_text())
    dmap = DocumentMap(split, [i["path"] for i in manifest["inputs"]])
    samples = [s["tokens"] for s in iter_samples(split)]
    from tokenizers import Tokenizer

    tok = Tokenizer.from_file(str(Path(manifest["tokenizer"]["path"]) / "tokenizer.json"))
    rng = random.Random(0)
    for i in rng.sample(range(len(samples)), 20):
        pieces = dmap.pieces(i)
        assert dmap(i) == [f"{p['file']}:{p['line']}" for p in pieces]
        for seg, end in zip(pieces, [p["pos"] for p in pieces[1:]] + [SEQ], strict=True):
            text = _text_of(seg["file"], seg["line"])
            ids = tok.encode(text, add_special_tokens=False).ids + [manifest["eos_id"]]
            n = end - seg["pos"]
            assert samples[i][seg["pos"] : end].tolist() == ids[seg["offset"] : seg["offset"] + n]


def test_prep_array_templates_submit_parts_then_merge(tmp_path: Path, repo: Path) -> None:
    from tests.procs import run_with_fake_schedulers

    calls = []
    for script in ("prep_array.slurm.sh", "prep_array.pbs.sh"):
        path = repo / "csmpt/launch/templates" / script
        logged = run_with_fake_schedulers(path, ["data_prep/x.yaml", "8"], tmp_path)
        calls += [c for c in logged if not c.startswith("cd ")]  # qsub's job scripts
    assert len(calls) == 8  # per scheduler: signatures, dedup, builds, merge
    assert "--array=1-8" in calls[0] and "--part $SLURM_ARRAY_TASK_ID/8 --signatures" in calls[0]
    assert "--dependency=afterok:4242" in calls[1] and "x.yaml --dedup" in calls[1]
    assert "--array=1-8" in calls[2] and calls[2].endswith("--part $SLURM_ARRAY_TASK_ID/8")
    assert "--dependency=afterok:4242" in calls[2]
    assert "--dependency=afterok:4242" in calls[3] and "prep data_prep/x.yaml --merge" in calls[3]
    # One failed task must not leave the later jobs pending forever (DependencyNeverSatisfied).
    assert all("--kill-on-invalid-dep=yes" in c for c in calls[1:4])
    assert "-J 1-8" in calls[4] and "-J 1-8" in calls[6]
    assert all("depend=afterok:4242[].pbs" in c for c in calls[5:])


def test_forensics_lookup_uses_the_map(built: dict[str, Path], tmp_path: Path) -> None:
    """inspect-batch and spike events call document_map: file:line without the inputs."""
    import shutil

    from csmpt.forensics.doc_ids import document_index, document_map

    split = tmp_path / "train"
    shutil.copytree(built["merged"] / "train", split)
    for f in built["yaml"].glob("*.jsonl"):  # inputs gone: the map still answers
        f.rename(f.with_suffix(".moved"))
    try:
        dmap = document_map(split)
        assert dmap is not None and dmap.num_samples > 1
        last = dmap(dmap.num_samples - 1)  # a tail sample: documents of several parts
        assert last and all(w.rsplit(":", 1)[1].isdigit() for w in last)
        shutil.rmtree(split / "csmpt_docmap")
        assert document_map(tmp_path / "train") is not None  # cached
        assert document_map(built["single"] / "nowhere") is None
        # Ids rebuilt by re-reading inputs in corpus order would be wrong for merged parts.
        assert document_index(built["merged"] / "train") is None
    finally:
        for f in built["yaml"].glob("*.moved"):
            f.rename(f.with_suffix(".jsonl"))
