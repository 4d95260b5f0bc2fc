"""Bits per byte: the hand computation, whole documents from cut samples, one table of models."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch

from csmpt.errors import DataError
from csmpt.eval.bpb import (
    bits_per_byte,
    document_ids,
    lossless_failures,
    score_documents,
    stream_documents,
    utf8_bytes,
)

CZECH = "Příliš žluťoučký kůň úpěl ďábelské ódy."


class Bigram(torch.nn.Module):
    """Logits depend on the current token only: windowing cannot change the figures."""

    def __init__(self, vocab: int) -> None:
        super().__init__()
        torch.manual_seed(3)
        self.table = torch.nn.Embedding(vocab, vocab)

    def forward(self, input_ids: torch.Tensor) -> object:  # noqa: D102
        class Out:
            logits = self.table(input_ids)  # (B, T, V)

        return Out()


def test_bytes_are_those_of_the_text_not_of_the_pieces(tokenizer_dir: Path) -> None:
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(tokenizer_dir)
    # 39 characters, 15 of them with a diacritic (2 bytes each in UTF-8)
    assert len(CZECH) == 39 and utf8_bytes(CZECH) == 39 + 15
    pieces = tok.convert_ids_to_tokens(tok(CZECH, add_special_tokens=False)["input_ids"])
    # the tokenizer's byte-level pieces spell each diacritic byte as one character: more bytes
    assert sum(len(p.encode()) for p in pieces) > utf8_bytes(CZECH)
    assert bits_per_byte(54 * math.log(2), 54) == pytest.approx(1.0)
    with pytest.raises(DataError, match="no text was scored"):
        bits_per_byte(1.0, 0)


@pytest.mark.parametrize("window", [4, 7, 1000])
def test_bpb_equals_a_hand_computation_on_czech_text(tokenizer_dir: Path, window: int) -> None:
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(tokenizer_dir)
    model = Bigram(len(tok))
    docs = [CZECH, "Čeština má háčky a čárky."]
    ids = document_ids(tok, docs)
    assert ids[0] == tok.eos_token_id and ids.count(tok.eos_token_id) == 3  # start + 2 ends
    with torch.no_grad():
        logp = torch.log_softmax(model.table.weight, -1)  # (V, V)
    nats = -sum(float(logp[a, b]) for a, b in zip(ids[:-1], ids[1:], strict=True))
    n_bytes = len(CZECH.encode("utf-8")) + len(docs[1].encode("utf-8"))
    score = score_documents(model, tok, docs, window=window)
    assert score.tokens == len(ids) - 1  # every token but the start, each once
    assert score.bytes == n_bytes == 54 + 32
    assert score.nats == pytest.approx(nats, rel=1e-6)
    assert score.bpb == pytest.approx(nats / (math.log(2) * n_bytes), rel=1e-6)


def test_documents_come_back_whole_from_samples_that_cut_characters(tokenizer_dir: Path) -> None:
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(tokenizer_dir)
    docs = ["Žluťoučký kůň 🙂 pěl.", "Ďábelské ódy ß∑ 𝄞."]
    stream = document_ids(tok, docs)[1:] + tok("Nedokonč", add_special_tokens=False)["input_ids"]
    # Cut into 3-token "samples" as prep does, some of them mid-character: each sample alone
    # decodes to replacement characters, the joined stream to the documents exactly.
    samples = [stream[i : i + 3] for i in range(0, len(stream), 3)]
    assert any("\ufffd" in tok.decode(s) for s in samples)
    joined = [t for s in samples for t in s]
    assert stream_documents(tok, joined) == docs  # the unfinished document is dropped
    with pytest.raises(DataError, match="no complete document"):
        stream_documents(tok, tok("bez konce", add_special_tokens=False)["input_ids"])


def test_lossless_check_names_the_documents_a_tokenizer_loses(tmp_path: Path) -> None:
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    from csmpt.tokenizer.byte_level import byte_decoder

    enc = {b: c for c, b in byte_decoder().items()}

    def spell(word: str) -> str:  # a word in the byte-level alphabet
        return "".join(enc[b] for b in word.encode())

    vocab = {"<unk>": 0, "<eos>": 1, spell(" pes"): 2, spell(" a"): 3, spell(" kůň"): 4}
    core = Tokenizer(models.WordLevel(vocab, unk_token="<unk>"))
    core.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=True)
    core.decoder = decoders.ByteLevel()
    tok = PreTrainedTokenizerFast(tokenizer_object=core, eos_token="<eos>", unk_token="<unk>")
    assert lossless_failures(tok, [" pes a kůň", " pes a kočka", " kůň"]) == [1]


@pytest.mark.slow
def test_own_tokenizer_and_swapped_tokenizer_in_one_table(
    tiny_mpt_run: Path,
    tiny_overrides,  # noqa: ANN001
    shards_dir: Path,
    en_tokenizer_dir: Path,
    tmp_path: Path,
) -> None:
    """The run's checkpoint, its HF export (same model, re-encoded text) and an English-tokenizer
    model score the same Czech validation text: same bytes, bpb side by side."""
    from llmfoundry.models.mpt import MPTConfig, MPTForCausalLM
    from transformers import AutoTokenizer

    from csmpt.eval.validate import read_validation, validate_checkpoints
    from csmpt.export.hf import export_to_hf
    from csmpt.surgery.io import ModelWeights, write_hf_dir

    ckpt = tiny_mpt_run / "ep0-ba18-rank0.pt"
    overrides = tiny_overrides(tmp_path)
    export_to_hf(ckpt, "yamls/tiny/mpt.yaml", tmp_path / "export", overrides)
    en_tok = AutoTokenizer.from_pretrained(en_tokenizer_dir)
    torch.manual_seed(0)
    cfg = MPTConfig(
        d_model=32, n_heads=2, n_layers=2, expansion_ratio=2, max_seq_len=128,
        vocab_size=len(en_tok), no_bias=True, init_device="cpu",
        attn_config={"attn_impl": "torch", "alibi": True},
    )  # fmt: skip
    english = ModelWeights(cfg.to_dict(), dict(MPTForCausalLM(cfg).state_dict()), Path("en"))
    write_hf_dir(english, tmp_path / "english", en_tok)

    out = tmp_path / "validation.csv"
    rows = validate_checkpoints(
        ckpt,
        "yamls/tiny/mpt.yaml",
        out,
        {"cs_web": shards_dir / "cs_web" / "val"},
        overrides,
        max_samples=6,
        models={"export": tmp_path / "export", "english": tmp_path / "english"},
    )
    back = read_validation(out)
    assert [(r.checkpoint, r.tokens, r.bytes) for r in back] == [
        (r.checkpoint, r.tokens, r.bytes) for r in rows
    ]
    assert [r.bpb for r in back] == pytest.approx([r.bpb for r in rows], abs=1e-6)
    step, export, eng = rows
    assert (step.step, export.step, eng.step) == (18, None, None)
    assert [r.checkpoint for r in rows] == ["ep0-ba18-rank0.pt", "export", "english"]
    assert step.bytes == export.bytes == eng.bytes > 1000  # the same text for every model
    # the shards' ids and the decoded documents re-encoded are the same tokens: same figures
    assert export.tokens == step.tokens
    assert export.bpb == pytest.approx(step.bpb, rel=1e-4)
    # the English tokenizer cuts Czech finer: more tokens, so nats/token are not comparable...
    assert eng.tokens > step.tokens
    # ...bits per byte are: the same definition over the same bytes
    for r in rows:
        assert r.bpb == pytest.approx(r.loss * r.tokens / (math.log(2) * r.bytes), rel=1e-5)
    # an untrained English model is far worse per byte than the trained Czech one
    assert eng.bpb > step.bpb
    text = out.read_text()
    assert text.splitlines()[0] == "step,checkpoint,corpus,loss,perplexity,tokens,bytes,bpb"
    assert validate_checkpoints(
        ckpt, "yamls/tiny/mpt.yaml", out, {"cs_web": shards_dir / "cs_web" / "val"}, overrides,
        max_samples=6, models={"export": tmp_path / "export"},
    ) == []  # fmt: skip


def test_surgery_report_bpb_counts_the_bytes_of_the_predicted_text(tokenizer_dir: Path) -> None:
    from transformers import AutoTokenizer

    from csmpt.surgery.report import SurgeryReport, set_bits_per_byte
    from csmpt.tokenizer.vocab_bytes import vocab_bytes

    tok = AutoTokenizer.from_pretrained(tokenizer_dir)
    ids = tok(CZECH + " " + CZECH, add_special_tokens=False)["input_ids"]
    n = (len(ids) // 2) * 2
    tokens = torch.tensor(ids[:n]).view(2, n // 2)  # rows as the report cuts them
    r = SurgeryReport("mpt", "src", "out", 10, 10, loss_swapped=2.0, loss_random=8.0)
    set_bits_per_byte(r, tokens, vocab_bytes(tok))
    predicted = tokens[:, 1:].reshape(-1).tolist()
    text = tok.decode(tokens[0, 1:].tolist()) + tok.decode(tokens[1, 1:].tolist())
    assert r.eval_bytes == utf8_bytes(text)
    assert r.bpb_swapped == pytest.approx(2.0 * len(predicted) / (math.log(2) * r.eval_bytes))
    assert r.bpb_random == pytest.approx(4 * r.bpb_swapped)


@pytest.mark.slow
def test_in_loop_bits_per_byte_matches_the_loss_and_the_val_splits_bytes(
    tiny_overrides,  # noqa: ANN001
    tokenizer_dir: Path,
    shards_dir: Path,
    tmp_path: Path,
) -> None:
    import numpy as np
    from transformers import AutoTokenizer

    from csmpt.mds.reader import iter_samples
    from csmpt.run_folder import read_metrics
    from csmpt.tokenizer.vocab_bytes import vocab_bytes
    from csmpt.training import run_training

    run = tmp_path / "run"
    # eval_first: llm-foundry evaluates before fit() starts (before FIT_START): step 0 too
    extra = {
        "max_duration": "4ba",
        "eval_interval": "2ba",
        "save_interval": "100ba",
        "eval_first": "true",
    }
    overrides = tiny_overrides(run, icl_tasks="[]", **extra)
    run_training("yamls/tiny/mpt.yaml", [*overrides, "callbacks.csmpt_eval_bpb={}"])
    rows = read_metrics(run / "metrics.jsonl")
    bpb = [
        (r["step"], r["metrics/eval/BitsPerByte"]) for r in rows if "metrics/eval/BitsPerByte" in r
    ]
    ce = {r["step"]: r["metrics/eval/LanguageCrossEntropy"] for r in rows
          if "metrics/eval/LanguageCrossEntropy" in r}  # fmt: skip
    assert [s for s, _ in bpb] == [0, 2, 4]
    # the same eval set, counted here from the val shards: every sample's tokens but the first
    sizes = vocab_bytes(AutoTokenizer.from_pretrained(tokenizer_dir))
    n_tok = n_bytes = 0
    for sample in iter_samples(shards_dir / "cs_web" / "val"):
        ids = np.asarray(sample["tokens"])[1:128].tolist()
        n_tok += len(ids)
        n_bytes += sum(len(sizes.get(int(t), b"")) for t in ids)
    for step, value in bpb:
        assert value == pytest.approx(ce[step] * n_tok / (math.log(2) * n_bytes), rel=1e-4)


def test_validate_cli_without_checkpoints_or_models_is_a_one_line_error() -> None:
    from typer.testing import CliRunner

    from csmpt.cli.app import app

    r = CliRunner().invoke(app, ["validate", "--train-yaml", "yamls/tiny/mpt.yaml", "seed=3"])
    assert r.exit_code != 0
    assert "nothing to validate: give a checkpoint or run folder, or --model" in r.output
    r = CliRunner().invoke(
        app, ["validate", "--train-yaml", "yamls/tiny/mpt.yaml", "--model", "base=some/dir"]
    )
    assert r.exit_code != 0 and "--csv is needed" in r.output


def test_validation_text_reads_past_max_samples_to_finish_one_long_document(
    tokenizer_dir: Path, tmp_path: Path
) -> None:
    import numpy as np
    from streaming import MDSWriter
    from transformers import AutoTokenizer

    from csmpt.eval.validate import validation_documents

    tok = AutoTokenizer.from_pretrained(tokenizer_dir)
    long_doc = " ".join([CZECH] * 12)
    stream = document_ids(tok, [long_doc, CZECH, CZECH])[1:]  # EOS-separated, as prep writes
    with MDSWriter(out=str(tmp_path / "val"), columns={"tokens": "ndarray:int32"}) as w:
        for i in range(0, len(stream) - 15, 16):  # 16-token samples; the tail is dropped
            w.write({"tokens": np.asarray(stream[i : i + 16], dtype=np.int32)})
    ids, docs = validation_documents(tmp_path / "val", tok, max_samples=2)
    assert docs[0] == long_doc and len(ids) > 2 * 16  # read on until the document's EOS
    assert ids[-1] == tok.eos_token_id
