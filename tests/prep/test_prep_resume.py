"""csmpt prep survives being killed, does not depend on the worker count, and lays out shards."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from csmpt.errors import DataError
from csmpt.filter.classifier import LinearTextClassifier
from csmpt.filter.document_filter import FilterSpec
from csmpt.mds.reader import iter_samples
from csmpt.mds.writer import plan_last_shards
from csmpt.prep.config import PrepConfig
from csmpt.prep.corpus_build import PROGRESS_NAME
from csmpt.prep.run import prep_corpora

REPO = Path(__file__).resolve().parents[2]
CSMPT = str(Path(sys.executable).parent / "csmpt")


def _corpus(path: Path, copies: int) -> Path:
    """The shipped Czech samples ``copies`` times; each copy's first 5 documents repeat the
    first copy's (exact duplicates for the filter), the rest are made unique."""
    docs = []
    for src in ("data/samples/cs_web.jsonl", "data/samples/cs_crawl.jsonl"):
        docs += [json.loads(ln)["text"] for ln in (REPO / src).read_text().splitlines() if ln]
    with path.open("w") as f:
        for c in range(copies):
            for i, text in enumerate(docs):
                text = text if c == 0 or i < 5 else f"{text} (kopie {c})"
                f.write(json.dumps({"text": text}, ensure_ascii=False) + "\n")
    return path


def _yaml(
    tmp: Path,
    tokenizer_dir: Path,
    src: Path,
    out: Path,
    classifier: Path | None = None,
    **kw: object,
) -> Path:
    filt = {"dedup": True, "removed_file": str(out / "removed.jsonl")}
    if classifier is not None:
        filt["classifier"] = str(classifier)
    settings = {
        "tokenizer": str(tokenizer_dir),
        "output_dir": str(out),
        "max_seq_len": 32,
        "val_fraction": 0.1,
        "size_limit": 4096,  # 31 samples of 32 tokens per shard
        "batch_size": 16,
        "corpora": [
            {
                "name": "c",
                "inputs": [str(src)],
                "filter": filt,
            }
        ],
    } | kw
    path = tmp / f"prep-{out.name}.yaml"
    path.write_text(json.dumps(settings))
    return path


def _cfg(path: Path) -> PrepConfig:
    from csmpt.config import build_structured, load_yaml_with_overrides

    return build_structured(PrepConfig, load_yaml_with_overrides(path), path)


def _decode(folder: Path) -> np.ndarray:
    return np.stack([s["tokens"] for s in iter_samples(folder)])


def test_killed_run_resumes_to_the_same_shards(
    tmp_path: Path, tokenizer_dir: Path, classifier_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    src = _corpus(tmp_path / "corpus.jsonl", copies=2)
    ref_yaml = _yaml(tmp_path, tokenizer_dir, src, tmp_path / "ref", classifier_dir)
    prep_corpora(_cfg(ref_yaml))  # uninterrupted
    yaml_path = _yaml(tmp_path, tokenizer_dir, src, tmp_path / "out", classifier_dir)
    work = tmp_path / "out/.c.partial"
    proc = subprocess.Popen([CSMPT, "prep", str(yaml_path)], stdout=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    progress: dict = {}
    while time.monotonic() < deadline and proc.poll() is None:
        if (work / PROGRESS_NAME).is_file():
            progress = json.loads((work / PROGRESS_NAME).read_text())
            if len(progress["splits"]["train"]["shards"]) >= 5:
                proc.send_signal(signal.SIGKILL)
                break
        time.sleep(0.01)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL, "the run ended before it could be killed"
    # Killed: no corpus folder, no index in the work folder, only whole shards.
    assert not (tmp_path / "out/c").exists() and not (work / "train/index.json").exists()
    done = json.loads((work / PROGRESS_NAME).read_text())["splits"]["train"]["shards"]
    kept = {
        s["zip_data"]["basename"]: (work / "train" / s["zip_data"]["basename"]).stat() for s in done
    }
    # Documents whose verdicts the work folder's side file holds are not scored again.
    resume = json.loads((work / PROGRESS_NAME).read_text())["filter_records"]
    texts = [json.loads(line)["text"] for line in src.read_text().splitlines()]
    first = {t: i for i, t in reversed(list(enumerate(texts)))}
    expected = sum(1 for i, t in enumerate(texts) if first[t] == i and i >= resume)
    scored: list[int] = []
    real_score = LinearTextClassifier.score
    monkeypatch.setattr(
        LinearTextClassifier,
        "score",
        lambda self, batch: scored.append(len(batch)) or real_score(self, batch),
    )
    (res,) = prep_corpora(_cfg(yaml_path))  # the rerun resumes
    assert resume > 0 and sum(scored) == expected
    assert res.resumed_shards >= len(kept)
    for name, st in kept.items():  # finished shards were not rewritten
        assert (tmp_path / "out/c/train" / name).stat().st_mtime_ns == st.st_mtime_ns
    for split in ("train", "val"):
        np.testing.assert_array_equal(
            _decode(tmp_path / "out/c" / split), _decode(tmp_path / "ref/c" / split)
        )
        got = json.loads((tmp_path / f"out/c/{split}/csmpt_manifest.json").read_text())
        ref = json.loads((tmp_path / f"ref/c/{split}/csmpt_manifest.json").read_text())
        for key in ("documents", "tokens", "samples", "shards", "skipped_documents"):
            assert got[key] == ref[key], key
    assert got["shards"] > 1
    for split in ("train", "val"):  # the document map resumed too
        maps = [tmp_path / d / "c" / split / "csmpt_docmap" for d in ("out", "ref")]
        names = sorted(f.name for f in maps[0].iterdir())
        assert names == sorted(f.name for f in maps[1].iterdir()) and "seg_doc.npy" in names
        for name in names:
            np.testing.assert_array_equal(np.load(maps[0] / name), np.load(maps[1] / name))
    # The filter saw the whole stream again: same duplicates removed, same side file.
    assert got["split"] == "val" and got["skipped_documents"] == {}  # counted in train
    train = json.loads((tmp_path / "out/c/train/csmpt_manifest.json").read_text())
    assert train["skipped_documents"] == {"duplicate": 5, "classifier": 44}
    removed = (tmp_path / "out/removed.jsonl").read_text().splitlines()
    assert removed == (tmp_path / "ref/removed.jsonl").read_text().splitlines()
    assert len(removed) == 49
    # A finished job, rerun, does nothing and says so.
    rerun = subprocess.run([CSMPT, "prep", str(yaml_path)], capture_output=True, text=True)
    assert rerun.returncode == 0 and "up to date" in rerun.stdout
    assert not work.exists()


def test_output_does_not_depend_on_workers_or_backend(
    tmp_path: Path, tokenizer_dir: Path, classifier_dir: Path
) -> None:
    src = _corpus(tmp_path / "corpus.jsonl", copies=1)
    outs = []
    runs = [(0, 16, "hf"), (2, 7, "hf"), (0, 5, "auto"), (2, 16, "tiktoken")]
    for workers, batch, backend in runs:
        out = tmp_path / f"w{workers}-{batch}-{backend}"
        kw = {"workers": workers, "batch_size": batch, "tokenizer_backend": backend}
        cfg = _cfg(_yaml(tmp_path, tokenizer_dir, src, out, **kw))
        assert cfg.corpora[0].filter is not None
        cfg.corpora[0].filter.classifier = str(classifier_dir)  # scored in the workers
        prep_corpora(cfg)
        outs.append(out / "c")
        manifest = json.loads((out / "c/train/csmpt_manifest.json").read_text())
        assert manifest["tokenizer"]["backend"] == ("hf" if backend == "hf" else "tiktoken")
        assert manifest["skipped_documents"] == {"duplicate": 0, "classifier": 22}
        removed = (out / "removed.jsonl").read_text()
        assert removed == (tmp_path / "w0-16-hf/removed.jsonl").read_text()
    for split in ("train", "val"):
        a = outs[0] / split
        names = sorted(p.name for p in a.iterdir() if p.name.startswith("shard."))
        assert len(names) > 2
        for b in outs[1:]:
            assert names == sorted(p.name for p in (b / split).iterdir() if p.name[:6] == "shard.")
            for name in [*names, "index.json"]:
                assert (a / name).read_bytes() == (b / split / name).read_bytes(), (b, name)


def test_shard_count_is_a_multiple(tmp_path: Path, tokenizer_dir: Path) -> None:
    src = _corpus(tmp_path / "corpus.jsonl", copies=1)
    one = _cfg(_yaml(tmp_path, tokenizer_dir, src, tmp_path / "m1", val_fraction=0.0))
    eight = _cfg(
        _yaml(tmp_path, tokenizer_dir, src, tmp_path / "m8", val_fraction=0.0, shard_multiple=8)
    )
    for cfg in (one, eight):
        cfg.corpora[0].filter = FilterSpec()
        prep_corpora(cfg)
    index1 = json.loads((tmp_path / "m1/c/train/index.json").read_text())
    index8 = json.loads((tmp_path / "m8/c/train/index.json").read_text())
    assert len(index1["shards"]) % 8 != 0 and len(index8["shards"]) % 8 == 0
    assert all(s["samples"] <= 31 and s["raw_data"]["bytes"] <= 4096 for s in index8["shards"])
    np.testing.assert_array_equal(
        _decode(tmp_path / "m8/c/train"), _decode(tmp_path / "m1/c/train")
    )
    listed = {s["zip_data"]["basename"] for s in index8["shards"]}
    assert {p.name for p in (tmp_path / "m8/c/train").glob("shard.*")} == listed


def test_plan_last_shards() -> None:
    assert plan_last_shards(full=10, tail=5, per_shard=31, multiple=1) == (0, 1)
    assert plan_last_shards(full=10, tail=0, per_shard=31, multiple=1) == (0, 0)
    assert plan_last_shards(full=10, tail=20, per_shard=31, multiple=4) == (0, 2)
    # 1 tail sample cannot make 3 shards: the last full shard is re-cut with it into 4 (12 + 4).
    assert plan_last_shards(full=13, tail=1, per_shard=31, multiple=8) == (1, 4)
    with pytest.raises(DataError, match="cannot fill a multiple of 8 shards"):
        plan_last_shards(full=0, tail=5, per_shard=31, multiple=8)


def test_stats_prints_the_manifests(shards_dir: Path) -> None:
    proc = subprocess.run(
        [CSMPT, "prep", "--stats", str(shards_dir)],
        capture_output=True,
        text=True,
        env=os.environ | {"COLUMNS": "160"},
    )
    assert proc.returncode == 0, proc.stderr
    for corpus in ("cs_web", "cs_crawl", "en_web"):
        assert corpus in proc.stdout
    manifest = json.loads((shards_dir / "cs_web/train/csmpt_manifest.json").read_text())
    assert f"{manifest['tokens']:,}" in proc.stdout
