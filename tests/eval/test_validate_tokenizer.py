"""validate refuses a corpus encoded by another tokenizer than the model's (a silent wrong bpb)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from csmpt.errors import DataError
from csmpt.eval.validate import check_same_tokenizer, validation_documents


def test_a_corpus_of_another_tokenizer_is_refused_naming_both(
    shards_dir: Path, tokenizer_dir: Path, en_tokenizer_dir: Path, tmp_path: Path
) -> None:
    from transformers import AutoTokenizer

    split = shards_dir / "cs_web" / "val"
    czech, english = (AutoTokenizer.from_pretrained(d) for d in (tokenizer_dir, en_tokenizer_dir))
    check_same_tokenizer(split, czech)  # the tokenizer that built it: fine
    with pytest.raises(DataError, match=f"give its split, '{split}'"):  # the corpus folder
        validation_documents(split.parent, czech, 4)
    stream, docs = validation_documents(split, czech, 4)
    assert stream and docs
    with pytest.raises(DataError) as e:
        validation_documents(split, english, 4)
    msg = str(e.value)
    assert "\n" not in msg and str(split) in msg and str(en_tokenizer_dir) in msg
    # The same tokenizer files in another folder are the same tokenizer.
    copy = tmp_path / "copy"
    shutil.copytree(tokenizer_dir, copy)
    check_same_tokenizer(split, AutoTokenizer.from_pretrained(copy))


def test_the_same_tokenizer_saved_again_is_accepted_and_a_gone_one_only_warned(
    shards_dir: Path, tokenizer_dir: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    import json

    from csmpt.mds.manifest import MANIFEST_NAME, tokenizer_mismatch

    split = shards_dir / "cs_web" / "val"
    resaved = tmp_path / "resaved"
    shutil.copytree(tokenizer_dir, resaved)
    data = json.loads((resaved / "tokenizer.json").read_text())
    data["decoder"] = None  # another decoder: the same ids for every text
    (resaved / "tokenizer.json").write_text(json.dumps(data, indent=4))
    assert tokenizer_mismatch(split, resaved) is None
    data["model"]["merges"] = data["model"]["merges"][:-1]  # one merge fewer: other ids
    (resaved / "tokenizer.json").write_text(json.dumps(data))
    assert "was encoded by the tokenizer" in (tokenizer_mismatch(split, resaved) or "")
    # The tokenizer that built the split is gone: nothing can be proved, a warning says so.
    moved = tmp_path / "split"
    shutil.copytree(split, moved)
    manifest = json.loads((moved / MANIFEST_NAME).read_text())
    manifest["tokenizer"]["path"] = str(tmp_path / "gone")
    (moved / MANIFEST_NAME).write_text(json.dumps(manifest))
    assert tokenizer_mismatch(moved, resaved) is None
    assert "which is gone" in caplog.text
