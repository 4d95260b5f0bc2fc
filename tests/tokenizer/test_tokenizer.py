from __future__ import annotations

import json
from pathlib import Path

import pytest

from csmpt.config import build_structured, load_yaml_with_overrides
from csmpt.errors import DataError
from csmpt.tokenizer.folder import tokenizer_size
from csmpt.tokenizer.train import TokenizerConfig, train_tokenizer

CZECH = [
    "Příliš žluťoučký kůň úpěl ďábelské ódy.",
    "PŘÍLIŠ ŽLUŤOUČKÝ KŮŇ ÚPĚL ĎÁBELSKÉ ÓDY — „uvozovky“ a ‚jednoduché‘ … 😀",
    "Ťuk, ťuk!\n\n  Dvě mezery,\ttabulátor a nový řádek.\n",
    "Řeřicha, čtyřicet čtyři ňader, ďolíček, Úvaly, Ústí nad Labem, Ó, ó!",
]


def test_round_trips_czech_exactly(tokenizer_dir: Path) -> None:
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(str(tokenizer_dir))
    for text in CZECH:
        ids = tok(text, add_special_tokens=False)["input_ids"]
        assert tok.decode(ids) == text
    # Common Czech words with diacritics are learned as merges, not left as bytes.
    assert len(tok("kůň", add_special_tokens=False)["input_ids"]) < len("kůň".encode())


def test_special_tokens_and_size(tokenizer_dir: Path) -> None:
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(str(tokenizer_dir))
    assert tok.eos_token == "<|endoftext|>" and tok.eos_token_id == 0
    assert tok.pad_token == "<|padding|>" and tok.bos_token == "<|startoftext|>"
    assert tokenizer_size(tokenizer_dir) == len(tok) <= 4096
    assert len(tok) > 3000  # the samples are large enough to fill most of the vocabulary
    record = json.loads((tokenizer_dir / "csmpt_tokenizer.json").read_text())
    assert record["config"]["vocab_size"] == 4096 and record["inputs"]


def test_rerun_is_a_no_op_and_change_retrains(tmp_path: Path, repo: Path) -> None:
    src = tmp_path / "c.jsonl"
    src.write_text(
        "\n".join(json.dumps({"text": f"Věta číslo {i}: kočka leží na okně."}) for i in range(50))
    )
    cfg = TokenizerConfig(inputs=[str(src)], output_dir=str(tmp_path / "tok"), vocab_size=300)
    out, skipped = train_tokenizer(cfg)
    assert not skipped
    mtime = (out / "tokenizer.json").stat().st_mtime_ns
    _, skipped = train_tokenizer(cfg)
    assert skipped and (out / "tokenizer.json").stat().st_mtime_ns == mtime
    cfg.vocab_size = 320
    _, skipped = train_tokenizer(cfg)
    assert not skipped
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c.jsonl", "tok"]  # no temp folder left


def test_yaml_config_and_bad_key(tmp_path: Path) -> None:
    bad = tmp_path / "tok.yaml"
    bad.write_text("inputs: [a.jsonl]\noutput_dir: x\nvocab: 100\n")
    with pytest.raises(Exception, match=r"tok.yaml:3: key 'vocab' is not a TokenizerConfig"):
        build_structured(TokenizerConfig, load_yaml_with_overrides(bad), bad)


def test_missing_input_is_named(tmp_path: Path) -> None:
    cfg = TokenizerConfig(inputs=["nope/missing.jsonl"], output_dir=str(tmp_path / "t"))
    with pytest.raises(DataError, match="nope/missing.jsonl: corpus input does not exist"):
        train_tokenizer(cfg)


def test_a_vocab_size_the_text_cannot_fill_is_said(tmp_path: Path) -> None:
    """``vocab_size=1000000`` on a little text gave ~10k tokens and only the count said so."""
    from typer.testing import CliRunner

    from csmpt.cli.app import app

    src = tmp_path / "c.jsonl"
    src.write_text("\n".join(json.dumps({"text": f"Věta {i}: kočka leží."}) for i in range(40)))
    args = ["tokenizer", "train", "data_prep/tokenizer/sample.yaml", f"inputs=[{src}]"]
    args.append(f"output_dir={tmp_path / 'tok'}")
    res = CliRunner().invoke(app, [*args, "vocab_size=5000"])
    assert res.exit_code == 0, res.output
    size = tokenizer_size(tmp_path / "tok")
    said = " ".join(res.output.split())
    assert size < 5000 and f"warning: {size:,} tokens, not the 5,000 asked for" in said
    res = CliRunner().invoke(app, [*args, f"vocab_size={size}"])
    assert res.exit_code == 0 and "warning" not in res.output, res.output
