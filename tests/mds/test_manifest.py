"""SplitManifest: the manifests ``csmpt prep`` wrote read back and written byte for byte, older
manifests read, parts merged, bad manifests refused naming the file and key."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest

from csmpt.errors import DataError
from csmpt.mds.manifest import (
    MANIFEST_NAME,
    MAX_EXAMPLES,
    InputFile,
    SplitManifest,
    TokenizerStamp,
    find_manifests,
)

ASSETS = Path(__file__).resolve().parents[1] / "assets" / "manifests"
WRITTEN = sorted(ASSETS.glob("*.json"))  # as csmpt prep wrote them before SplitManifest existed

# The first manifest csmpt prep wrote (2026-11-22): no shards, fingerprint, tokenizer, config.
FIRST_VERSION = {
    "corpus": "cs_web",
    "split": "train",
    "documents": 40,
    "tokens": 1900,
    "samples": 29,
    "tokens_in_samples": 1856,
    "dropped_tail_tokens": 44,
    "skipped_documents": {"empty": 2},
    "eos_id": 0,
    "inputs": [{"path": "/data/cs_web.jsonl", "bytes": 9000, "sha256": "ab" * 32}],
}


def _load(path: Path) -> SplitManifest:
    return SplitManifest.from_json(json.loads(path.read_text(encoding="utf-8")), str(path))


@pytest.mark.parametrize("path", WRITTEN, ids=[p.stem for p in WRITTEN])
def test_written_manifests_read_back_and_write_the_same_bytes(path: Path, tmp_path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    m = SplitManifest.from_json(json.loads(text), str(path))
    assert m.extra == {}, "every key of a current manifest is a field"
    folder = tmp_path / "train"
    folder.mkdir()
    assert m.write(folder) == folder / MANIFEST_NAME
    assert (folder / MANIFEST_NAME).read_text(encoding="utf-8") == text
    assert SplitManifest.read(folder) == m


def test_the_first_version_and_unknown_keys_are_read(tmp_path: Path) -> None:
    m = SplitManifest.from_json(FIRST_VERSION | {"added_later": {"x": 1}})
    assert (m.documents, m.samples, m.eos_id) == (40, 29, 0)
    assert m.inputs == [InputFile("/data/cs_web.jsonl", 9000, "ab" * 32)]
    assert (m.shards, m.strict, m.repaired_documents, m.long_documents_split) == (0, False, {}, 0)
    assert m.fingerprint is None and m.tokenizer is None and m.max_seq_len is None
    assert m.extra == {"added_later": {"x": 1}}
    out = m.to_json()
    assert out["added_later"] == {"x": 1} and "fingerprint" not in out and "packing" not in out
    old = SplitManifest.from_json({**FIRST_VERSION, "tokenizer": {"path": "t", "sha256": "h"}})
    assert old.tokenizer == TokenizerStamp("t", "h") and old.to_json()["tokenizer"] == {
        "path": "t",
        "sha256": "h",
    }


def test_merge_of_the_parts_is_what_prep_merge_wrote() -> None:
    parts = [_load(ASSETS / f"concat_part{i}_train.json") for i in (1, 2, 3)]
    want = _load(ASSETS / "concat_merged_train.json")
    seq = 24
    tail_samples = want.samples - sum(p.samples for p in parts)
    merged = SplitManifest.merge(parts, tail_samples, want.dropped_tail_tokens + tail_samples * seq)
    merged.shards, merged.fingerprint = want.shards, want.fingerprint  # the merger's to set
    assert merged.to_json() == want.to_json()
    assert list(merged.to_json()) == list(want.to_json()), "same key order"


def test_merge_sums_counts_and_keeps_a_few_examples() -> None:
    def part(i: int, skipped: dict[str, int], strict: bool = True) -> SplitManifest:
        examples = {r: [f"f{i}.jsonl:{k}" for k in range(n)] for r, n in skipped.items()}
        return SplitManifest(
            corpus="c",
            split="train",
            documents=10 * i,
            tokens=100 * i,
            samples=4 * i,
            skipped_documents=skipped,
            bad_document_examples=examples,
            repaired_documents={"bom_stripped": i},
            long_documents_split=i,
            strict=strict,
            max_seq_len=20,
            part=[i, 3],
        )

    parts = [part(1, {"empty": 4}), part(2, {"malformed_json": 1, "empty": 3}, False), part(3, {})]
    m = SplitManifest.merge(parts, tail_samples=2, tail_tokens=45)
    assert (m.documents, m.tokens, m.samples, m.long_documents_split) == (60, 600, 26, 6)
    assert (m.tokens_in_samples, m.dropped_tail_tokens) == (26 * 20, 5)
    assert m.skipped_documents == {"empty": 7, "malformed_json": 1}
    assert m.repaired_documents == {"bom_stripped": 6}
    assert len(m.bad_document_examples["empty"]) == MAX_EXAMPLES
    assert m.bad_document_examples["empty"][-1] == "f2.jsonl:0"
    assert m.strict is False and m.part is None
    assert [(p.part, p.samples, p.tokens) for p in m.merged_from or []] == [
        ([1, 3], 4, 100),
        ([2, 3], 8, 200),
        ([3, 3], 12, 300),
    ]
    with pytest.raises(DataError, match="not a --part manifest"):
        SplitManifest.merge([dataclasses.replace(parts[0], part=None)])


def test_bad_manifests_name_the_file_and_the_key(tmp_path: Path) -> None:
    with pytest.raises(DataError, match=r"^m\.json: no 'samples'; not a csmpt prep manifest$"):
        SplitManifest.from_json(
            {k: v for k, v in FIRST_VERSION.items() if k != "samples"}, "m.json"
        )
    with pytest.raises(DataError, match=r"^m\.json: 'documents' is '40', expected int$"):
        SplitManifest.from_json(FIRST_VERSION | {"documents": "40"}, "m.json")
    with pytest.raises(DataError, match=r"'skipped_documents\.empty' is 'two', expected int"):
        SplitManifest.from_json(FIRST_VERSION | {"skipped_documents": {"empty": "two"}})
    (tmp_path / MANIFEST_NAME).write_text('{\n  "corpus": "c",\n  oops\n}\n')
    with pytest.raises(DataError, match=rf"^{tmp_path / MANIFEST_NAME}:3: not valid JSON"):
        SplitManifest.read(tmp_path)
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match="no csmpt_manifest.json here or below"):
        find_manifests(tmp_path / "empty")
