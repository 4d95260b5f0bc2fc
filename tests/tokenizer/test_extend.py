"""csmpt tokenizer extend: continued BPE merges, ids kept, protected text unchanged."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest
import torch
from typer.testing import CliRunner

from csmpt.errors import ConfigError
from csmpt.tokenizer.extend import ExtendConfig, continue_merges, extend_tokenizer

CS = "data/samples/cs_web.jsonl"
EN = "data/samples/en_web"


def _toy() -> tuple[dict[str, list[str]], Counter[str]]:
    words = {"abc": ["a", "b", "c"], "abd": ["a", "b", "d"], "cd": ["c", "d"]}
    return words, Counter({"abc": 5, "abd": 3, "cd": 1})


def test_merges_by_hand_on_a_toy_vocabulary() -> None:
    words, counts = _toy()
    vocab = {"a", "b", "c", "d"}
    # pairs: ab 8, bc 5, bd 3, cd 1 -> "ab"; then ab·c 5, ab·d 3, cd 1 -> "abc"
    merges, added, final = continue_merges(words, counts, vocab, 2, min_frequency=1)
    assert merges == [("a", "b"), ("ab", "c")] and added == ["ab", "abc"]
    assert final == {"abc": ["abc"], "abd": ["ab", "d"], "cd": ["c", "d"]}
    # a protected pair is never merged: bc 5 first, then a·bc 5 -> "abc"
    merges, added, final = continue_merges(words, counts, vocab, 2, 1, {("a", "b")})
    assert merges == [("b", "c"), ("a", "bc")] and added == ["bc", "abc"]
    assert final["abd"] == ["a", "b", "d"]
    # min_frequency stops early: ab 8, ab·c 5, then ab·d 3 < 4
    merges, added, _ = continue_merges(words, counts, vocab, 10, min_frequency=4)
    assert added == ["ab", "abc"]
    # a merge into an existing token is a merge, not a new token
    merges, added, _ = continue_merges(words, counts, vocab | {"ab"}, 1, min_frequency=1)
    assert merges == [("a", "b"), ("ab", "c")] and added == ["abc"]


@pytest.fixture(scope="module")
def extended(en_tokenizer_dir: Path, tmp_path_factory: pytest.TempPathFactory):  # noqa: ANN201
    out = tmp_path_factory.mktemp("ext") / "tokenizer"
    cfg = ExtendConfig(
        source=str(en_tokenizer_dir), inputs=[CS], output_dir=str(out), new_tokens=300,
        protect=[EN],
    )  # fmt: skip
    return cfg, *extend_tokenizer(cfg)


def _texts(path: str) -> list[str]:
    from csmpt.corpus.readers import expand_inputs, read_documents

    return [d.text for d in read_documents(expand_inputs([path]), "text")]


def test_ids_are_kept_and_every_added_token_is_produced(extended, en_tokenizer_dir: Path) -> None:  # noqa: ANN001
    from transformers import AutoTokenizer

    cfg, out, stats, skipped = extended
    assert not skipped and stats.added == 300 and stats.source_tokens == 2048
    src, ext = (AutoTokenizer.from_pretrained(p) for p in (en_tokenizer_dir, out))
    assert len(ext) == 2048 + 300
    vocab = ext.get_vocab()
    assert all(vocab[t] == i for t, i in src.get_vocab().items())  # every old id kept
    assert ext.eos_token_id == src.eos_token_id
    # HF's encoder applies the new merges exactly as the learning did: the added tokens the
    # learning's final splits hold are the ones encoding the corpus yields
    ids = Counter(i for t in _texts(CS) for i in ext(t, add_special_tokens=False)["input_ids"])
    produced = {i for i in ids if i >= 2048}
    assert len(produced) == stats.produced and stats.produced + stats.steps_only == 300
    assert stats.produced >= 280
    # the rest are steps of longer added tokens: each is a merge part of one
    merges = json.loads((out / "tokenizer.json").read_text())["model"]["merges"][-stats.merges :]
    parts = {p for m in merges for p in (m.split(" ") if isinstance(m, str) else m)}
    for i in set(range(2048, 2348)) - produced:
        assert ext.convert_ids_to_tokens(i) in parts
    assert stats.fertility_after < 0.8 * stats.fertility_before


def test_protected_text_keeps_its_ids(extended, en_tokenizer_dir: Path) -> None:  # noqa: ANN001
    from transformers import AutoTokenizer

    _, out, _, _ = extended
    src, ext = (AutoTokenizer.from_pretrained(p) for p in (en_tokenizer_dir, out))
    en = _texts(EN)
    assert [ext(t)["input_ids"] for t in en] == [src(t)["input_ids"] for t in en]
    cs = _texts(CS)[:20]
    assert sum(len(ext(t)["input_ids"]) for t in cs) < sum(len(src(t)["input_ids"]) for t in cs)


def test_a_rerun_is_up_to_date_and_the_cli_reports(extended, tmp_path: Path) -> None:  # noqa: ANN001
    from csmpt.cli.app import app

    cfg, out, stats, _ = extended
    mtime = (out / "tokenizer.json").stat().st_mtime_ns
    again = extend_tokenizer(cfg)
    assert again[2] and again[1].added == stats.added
    assert (out / "tokenizer.json").stat().st_mtime_ns == mtime
    spec = tmp_path / "ext.yaml"
    spec.write_text(
        f"source: {cfg.source}\ninputs: [{CS}]\noutput_dir: {tmp_path / 'tok'}\nnew_tokens: 50\n"
    )
    r = CliRunner().invoke(app, ["tokenizer", "extend", str(spec)])
    assert r.exit_code == 0, r.output
    assert "2,048 + 50 tokens" in " ".join(r.output.split())
    r = CliRunner().invoke(app, ["tokenizer", "extend", str(spec), "new_tokens=-5"])
    assert r.exit_code == 2 and "new_tokens" in r.output and "Traceback" not in r.output
    r = CliRunner().invoke(app, ["tokenizer", "extend", str(spec), "source=/no/such"])
    assert r.exit_code != 0 and "/no/such" in r.output and "Traceback" not in r.output


def test_surgery_extend_keeps_every_row_and_the_source_logits(
    extended,  # noqa: ANN001
    en_tokenizer_dir: Path,
    tokenizer_dir: Path,
) -> None:
    from transformers import AutoTokenizer

    from csmpt.surgery.io import build_model
    from csmpt.surgery.vocab_swap import VocabSwapConfig, swap_vocabulary
    from tests.surgery.test_surgery import tiny_mpt

    _, out, _, _ = extended
    src_tok, ext_tok = (AutoTokenizer.from_pretrained(p) for p in (en_tokenizer_dir, out))
    src = tiny_mpt(2048)
    res = swap_vocabulary(src, src_tok, ext_tok, VocabSwapConfig(mode="extend", init="pieces"))
    wte = res.weights.state["transformer.wte.weight"]
    assert res.vocab_size == 2368 and wte.shape == (2368, 32)
    assert torch.equal(wte[:2048], src.state["transformer.wte.weight"])  # bit for bit
    assert res.alignment.by_method() == {"kept": 2045, "special": 3}
    # an added token's row is the mean of its source pieces' rows
    new = 2048 + 5
    pieces = src_tok(ext_tok.decode([new]), add_special_tokens=False)["input_ids"]
    assert torch.allclose(wte[new], src.state["transformer.wte.weight"][pieces].mean(0))
    text = _texts(EN)[0][:400]
    ids = torch.tensor([src_tok(text, add_special_tokens=False)["input_ids"][:64]])
    with torch.no_grad():
        before = build_model(src)(input_ids=ids).logits
        after = build_model(res.weights)(input_ids=ids).logits
    assert torch.equal(after[..., :2048], before)  # the old tokens' logits, unchanged
    cs_tok = AutoTokenizer.from_pretrained(tokenizer_dir)  # a new BPE, not an extension
    with pytest.raises(ConfigError, match="extend needs target.tokenizer .* source token"):
        swap_vocabulary(src, src_tok, cs_tok, VocabSwapConfig(mode="extend"))
    with pytest.raises(ConfigError, match="'vocab_swap.mode' is 'extent'"):
        swap_vocabulary(src, src_tok, ext_tok, VocabSwapConfig(mode="extent"))
