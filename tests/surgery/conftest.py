"""Shared inputs of the vocabulary-swap init tests (FOCUS, alignment)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

CS_SAMPLE = "data/samples/cs_web.jsonl"


def cs_texts(n: int | None = None) -> list[str]:
    """The first ``n`` documents of the Czech web sample (all 300 with None)."""
    with open(CS_SAMPLE, encoding="utf-8") as f:
        return [json.loads(line)["text"] for line in f][:n]


@pytest.fixture(scope="module")
def swap_inputs(en_tokenizer_dir: Path, tokenizer_dir: Path) -> dict[str, object]:
    """The English and Czech sample tokenizers, a tiny English MPT, 120 Czech documents."""
    from transformers import AutoTokenizer

    from tests.surgery.test_surgery import tiny_mpt

    en = AutoTokenizer.from_pretrained(en_tokenizer_dir)
    cs = AutoTokenizer.from_pretrained(tokenizer_dir)
    return {"en": en, "cs": cs, "weights": tiny_mpt(len(en), 1), "texts": cs_texts(120)}
