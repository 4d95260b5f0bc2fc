"""Tests for the shipped sample corpora in ``data/samples`` and their generator."""

from __future__ import annotations

import json
import re
from collections import Counter
from pathlib import Path

import pytest
from sample_corpora.docs_cs import gender_form
from sample_corpora.generator import (
    INAPPROPRIATE_SOURCES,
    MAX_DOC_CHARS,
    MIN_DOC_CHARS,
    build_cs_hellaswag,
    write_samples,
)

REPO_ROOT = Path(__file__).resolve().parents[2]
SAMPLES = REPO_ROOT / "data" / "samples"
JSONL_FILES = (
    "cs_web.jsonl",
    "cs_crawl.jsonl",
    "cs_crawl_clean.jsonl",
    "cs_hellaswag.jsonl",
    "filter_train.jsonl",
)
CZECH_DIACRITICS = frozenset("áčďéěíňóřšťúůýžÁČĎÉĚÍŇÓŘŠŤÚŮÝŽ")
KB = 1024


def _read_jsonl(path: Path) -> list[dict]:
    with path.open(encoding="utf-8") as handle:
        return [json.loads(line) for line in handle]


def _has_diacritics(text: str) -> bool:
    return any(ch in CZECH_DIACRITICS for ch in text)


def _generated_files(root: Path) -> dict[str, bytes]:
    files = {name: (root / name).read_bytes() for name in JSONL_FILES}
    for path in sorted((root / "en_web").glob("*.txt")):
        files[f"en_web/{path.name}"] = path.read_bytes()
    return files


@pytest.fixture(scope="module")
def regenerated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("samples")
    paths = write_samples(out)
    assert set(paths) == {
        "cs_web",
        "cs_crawl",
        "cs_crawl_clean",
        "en_web",
        "cs_hellaswag",
        "filter_train",
    }
    assert all(path.exists() for path in paths.values())
    return out


@pytest.fixture(scope="module")
def web() -> list[dict]:
    return _read_jsonl(SAMPLES / "cs_web.jsonl")


@pytest.fixture(scope="module")
def crawl() -> list[dict]:
    return _read_jsonl(SAMPLES / "cs_crawl.jsonl")


@pytest.fixture(scope="module")
def clean() -> list[dict]:
    return _read_jsonl(SAMPLES / "cs_crawl_clean.jsonl")


def test_regeneration_is_byte_identical(regenerated: Path) -> None:
    shipped = _generated_files(SAMPLES)
    fresh = _generated_files(regenerated)
    assert sorted(fresh) == sorted(shipped)
    differing = [name for name in fresh if fresh[name] != shipped[name]]
    assert differing == [], f"regenerated files differ from data/samples: {differing[:10]}"


def test_regeneration_is_stable_on_rewrite(regenerated: Path) -> None:
    before = _generated_files(regenerated)
    write_samples(regenerated)
    assert _generated_files(regenerated) == before


def test_seed_changes_output() -> None:
    assert build_cs_hellaswag(1) != build_cs_hellaswag(2)


def test_files_are_utf8_with_unix_newlines() -> None:
    for name in JSONL_FILES:
        raw = (SAMPLES / name).read_bytes()
        raw.decode("utf-8")
        assert b"\r" not in raw, name
        assert raw.endswith(b"\n"), name


@pytest.mark.parametrize("name", ["cs_web", "cs_crawl", "cs_crawl_clean"])
def test_corpus_record_format(name: str) -> None:
    records = _read_jsonl(SAMPLES / f"{name}.jsonl")
    id_re = re.compile(rf"^{name.removesuffix('_clean')}-\d{{5}}$")
    for record in records:
        assert set(record) == {"id", "source", "text"}
        assert id_re.match(record["id"]), record["id"]
        assert isinstance(record["source"], str) and record["source"]
        text = record["text"]
        assert isinstance(text, str)
        assert MIN_DOC_CHARS <= len(text) <= MAX_DOC_CHARS, record["id"]
        assert _has_diacritics(text), record["id"]
        assert text.count(". ") + text.count("\n") >= 2, record["id"]
    ids = [r["id"] for r in records]
    assert len(ids) == len(set(ids))
    assert len({r["text"] for r in records}) == len(records)


def test_web_corpus_contents(web: list[dict]) -> None:
    assert 250 * KB <= (SAMPLES / "cs_web.jsonl").stat().st_size <= 400 * KB
    sources = Counter(r["source"] for r in web)
    assert {"news", "encyclopedia", "announcement", "travel", "guide"} <= set(sources)
    assert not set(sources) & INAPPROPRIATE_SOURCES
    lengths = [len(r["text"]) for r in web]
    assert min(lengths) < 600 and max(lengths) > 2000
    assert sum("\n\n" in r["text"] for r in web) > len(web) // 2


def test_crawl_corpus_contents(crawl: list[dict]) -> None:
    assert 250 * KB <= (SAMPLES / "cs_crawl.jsonl").stat().st_size <= 400 * KB
    sources = Counter(r["source"] for r in crawl)
    assert {"forum", "review", "recipe", "ad", "blog", "spam", "toxic"} <= set(sources)
    bad = sum(sources[s] for s in INAPPROPRIATE_SOURCES)
    assert 0.05 <= bad / len(crawl) <= 0.08
    assert sources["spam"] > 0 and sources["toxic"] > 0


def test_crawl_contains_odd_but_valid_records(crawl: list[dict]) -> None:
    texts = [r["text"] for r in crawl]
    assert any(any(ord(ch) >= 0x1F300 for ch in t) and "„" in t and "“" in t for t in texts)
    assert any(max(len(line) for line in t.split("\n")) >= 2000 for t in texts)
    assert any("\u00a0" in t for t in texts)


def test_inappropriate_docs_are_not_marked_by_one_string(crawl: list[dict]) -> None:
    bad = [r["text"].lower() for r in crawl if r["source"] in INAPPROPRIATE_SOURCES]
    words = [set(re.findall(r"\w+", t)) for t in bad]
    shared = set.intersection(*words)
    assert not shared - {"a", "se", "na", "v", "i", "je", "to", "jsi", "ty", "za"}


def test_clean_is_crawl_without_inappropriate(crawl: list[dict], clean: list[dict]) -> None:
    expected = [r for r in crawl if r["source"] not in INAPPROPRIATE_SOURCES]
    assert clean == expected
    assert len(clean) < len(crawl)
    removed = {r["id"] for r in crawl} - {r["id"] for r in clean}
    assert removed == {r["id"] for r in crawl if r["source"] in INAPPROPRIATE_SOURCES}


def test_hellaswag_format() -> None:
    items = _read_jsonl(SAMPLES / "cs_hellaswag.jsonl")
    assert len(items) >= 150
    for item in items:
        assert set(item) == {"query", "choices", "gold"}
        assert isinstance(item["query"], str) and ": " in item["query"]
        choices = item["choices"]
        assert isinstance(choices, list) and len(choices) == 4
        assert all(isinstance(c, str) and c for c in choices)
        assert len(set(choices)) == 4
        assert isinstance(item["gold"], int) and not isinstance(item["gold"], bool)
        assert 0 <= item["gold"] < 4
        assert _has_diacritics(item["query"] + " ".join(choices))
    assert len({i["query"] for i in items}) == len(items)
    golds = Counter(i["gold"] for i in items)
    assert set(golds) == {0, 1, 2, 3}
    assert max(golds.values()) - min(golds.values()) <= 1


def test_hellaswag_gold_endings_occur_in_corpora(web: list[dict], crawl: list[dict]) -> None:
    corpus = "\n".join(r["text"] for r in web + crawl)
    items = _read_jsonl(SAMPLES / "cs_hellaswag.jsonl")
    found = sum(item["choices"][item["gold"]] in corpus for item in items)
    assert found >= 0.9 * len(items)


def test_filter_train_format(crawl: list[dict]) -> None:
    records = _read_jsonl(SAMPLES / "filter_train.jsonl")
    assert 300 <= len(records) <= 600
    for record in records:
        assert set(record) == {"text", "label"}
        assert isinstance(record["text"], str) and record["text"]
        assert record["label"] in (0, 1) and not isinstance(record["label"], bool)
        assert _has_diacritics(record["text"])
    labels = Counter(r["label"] for r in records)
    assert min(labels.values()) / len(records) >= 0.35
    texts = [r["text"] for r in records]
    assert len(set(texts)) == len(texts)
    assert not set(texts) & {r["text"] for r in crawl}


def test_en_web_folder() -> None:
    files = sorted((SAMPLES / "en_web").iterdir())
    names = [f.name for f in files]
    assert names == [f"doc_{i:04d}.txt" for i in range(len(names))]
    assert len(names) >= 50
    total = sum(f.stat().st_size for f in files)
    assert 100 * KB <= total <= 200 * KB
    for path in files:
        text = path.read_text(encoding="utf-8")
        assert text.endswith("\n") and text.strip()
        assert not _has_diacritics(text), path.name


def test_total_size_is_small() -> None:
    total = sum(p.stat().st_size for p in SAMPLES.rglob("*") if p.is_file())
    assert total <= 2 * KB * KB


def test_gender_form() -> None:
    assert gender_form("Byl[|a] jsem [rád|ráda].", "m") == "Byl jsem rád."
    assert gender_form("Byl[|a] jsem [rád|ráda].", "f") == "Byla jsem ráda."
