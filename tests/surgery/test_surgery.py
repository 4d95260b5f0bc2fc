"""csmpt surgery: vocabulary swap (tied MPT, untied Llama), report counts, downcycling, errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from typer.testing import CliRunner

from csmpt.checkpoint.surgery_shapes import surgery_shapes
from csmpt.errors import ConfigError, DataError
from csmpt.surgery.downcycle import DowncycleConfig, choose_layers, downcycle
from csmpt.surgery.io import ModelWeights, build_model, load_source, write_hf_dir
from csmpt.surgery.recipe import (
    OutputConfig,
    ReportConfig,
    SourceConfig,
    SurgeryConfig,
    TargetConfig,
    run_surgery,
)
from csmpt.surgery.vocab_swap import VocabSwapConfig, swap_vocabulary

EN_VOCAB = 2048


def tiny_mpt(vocab: int, n_layers: int = 4) -> ModelWeights:
    from llmfoundry.models.mpt import MPTConfig, MPTForCausalLM

    torch.manual_seed(0)
    cfg = MPTConfig(
        d_model=32,
        n_heads=2,
        n_layers=n_layers,
        expansion_ratio=2,
        max_seq_len=64,
        vocab_size=vocab,
        no_bias=True,
        init_device="cpu",
        attn_config={"attn_impl": "torch", "alibi": True},
    )
    model = MPTForCausalLM(cfg)
    return ModelWeights(cfg.to_dict(), dict(model.state_dict()), Path("tiny-mpt"))


def tiny_llama(vocab: int, n_layers: int = 4) -> ModelWeights:
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(0)
    cfg = LlamaConfig(
        hidden_size=32,
        intermediate_size=64,
        num_attention_heads=2,
        num_key_value_heads=1,
        num_hidden_layers=n_layers,
        vocab_size=vocab,
        max_position_embeddings=64,
        tie_word_embeddings=False,
    )
    model = LlamaForCausalLM(cfg)
    return ModelWeights(cfg.to_dict(), dict(model.state_dict()), Path("tiny-llama"))


BUILDERS = {"mpt": tiny_mpt, "llama": tiny_llama}


@pytest.fixture(scope="module")
def tokenizers(en_tokenizer_dir: Path, tokenizer_dir: Path):  # noqa: ANN201
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(en_tokenizer_dir), AutoTokenizer.from_pretrained(
        tokenizer_dir
    )


def greedy(model: torch.nn.Module, ids: torch.Tensor, n: int) -> torch.Tensor:
    with torch.no_grad():
        for _ in range(n):
            nxt = model(input_ids=ids).logits[:, -1].argmax(-1, keepdim=True)
            ids = torch.cat([ids, nxt], 1)
    return ids


@pytest.mark.parametrize("family", ["mpt", "llama"])
def test_copied_rows_are_bit_identical(family: str, tokenizers) -> None:  # noqa: ANN001
    en, cs = tokenizers
    src = BUILDERS[family](EN_VOCAB)
    cfg = VocabSwapConfig(
        methods=["exact", "dictionary"], dictionary="data/dictionaries/en_cs.tsv", init="mean_noise"
    )
    res = swap_vocabulary(src, en, cs, cfg)
    keys = (
        ["transformer.wte.weight"]
        if family == "mpt"
        else ["model.embed_tokens.weight", "lm_head.weight"]
    )
    assert src.embedding_keys() == keys and src.tied == (family == "mpt")
    t_ids, s_ids = (torch.from_numpy(a) for a in res.alignment.arrays())
    assert len(t_ids) > 300 and res.alignment.by_method()["dictionary"] > 5
    for key in keys:
        new, old = res.weights.state[key], src.state[key]
        assert new.shape == (4096, 32) and res.weights.config["vocab_size"] == 4096
        assert torch.equal(new[t_ids], old[s_ids])  # bit for bit
        unaligned = torch.ones(len(new), dtype=torch.bool)
        unaligned[t_ids] = False
        assert not torch.equal(new[unaligned][0], new[unaligned][1])  # noise: not all alike
    rest = [k for k in src.state if k not in keys]
    assert all(res.weights.state[k] is src.state[k] for k in rest)


def test_vocabulary_is_padded_to_a_multiple_of_64(tokenizers) -> None:  # noqa: ANN001
    en, cs = tokenizers
    src = tiny_mpt(4096, 1)  # a Czech model swapped to the English vocabulary (2048 tokens)
    res = swap_vocabulary(src, cs, en, VocabSwapConfig(methods=["exact"], pad_to_multiple_of=64))
    assert res.target_tokens == EN_VOCAB and res.vocab_size == EN_VOCAB
    res = swap_vocabulary(src, cs, en, VocabSwapConfig(methods=["exact"], pad_to_multiple_of=100))
    assert res.vocab_size == 2100 and res.weights.state["transformer.wte.weight"].shape[0] == 2100


@pytest.mark.parametrize("family", ["mpt", "llama"])
def test_logits_over_aligned_tokens_equal_the_source_models(
    family: str,
    tokenizers,  # noqa: ANN001
) -> None:
    en, cs = tokenizers
    src = BUILDERS[family](EN_VOCAB)
    res = swap_vocabulary(src, en, cs, VocabSwapConfig(methods=["exact"]))
    pairs = {t: s for t, (s, m) in res.alignment.pairs.items() if m == "exact"}
    t_all = torch.tensor(sorted(pairs))
    s_all = torch.tensor([pairs[t] for t in sorted(pairs)])
    assert len(set(s_all.tolist())) == len(s_all)  # one-to-one
    words = [cs.decode([t]) for t in sorted(pairs)]
    words = [w for w in words if w[:1] == " " and w[1:].isalpha()]
    order = torch.randperm(len(words), generator=torch.Generator().manual_seed(1))
    text = "".join(words[i] for i in order[:30])  # a Czech "text" of whole aligned words
    t_ids = torch.tensor([cs(text, add_special_tokens=False)["input_ids"]])
    assert t_ids.shape[1] == 30 and all(int(t) in pairs for t in t_ids[0])  # all aligned
    s_ids = torch.tensor([[pairs[int(t)] for t in t_ids[0]]])
    with torch.no_grad():
        swapped = build_model(res.weights)(input_ids=t_ids).logits  # (1, T, 4096)
        source = build_model(src)(input_ids=s_ids).logits  # (1, T, 2048)
    assert torch.equal(swapped[..., t_all], source[..., s_all])


def test_mpt_hf_output_loads_with_transformers(tokenizers, tmp_path: Path) -> None:  # noqa: ANN001
    from transformers import AutoModelForCausalLM, AutoTokenizer

    en, cs = tokenizers
    res = swap_vocabulary(tiny_mpt(EN_VOCAB, 2), en, cs, VocabSwapConfig(methods=["exact"]))
    write_hf_dir(res.weights, tmp_path / "hf", cs)
    model = AutoModelForCausalLM.from_pretrained(tmp_path / "hf", trust_remote_code=True)
    ids = AutoTokenizer.from_pretrained(tmp_path / "hf")("Praha a Brno", return_tensors="pt")
    with torch.no_grad():
        got = model(input_ids=ids["input_ids"]).logits
        want = build_model(res.weights)(input_ids=ids["input_ids"]).logits
    assert torch.equal(got, want)
    back = load_source(tmp_path / "hf")
    assert torch.equal(
        back.state["transformer.wte.weight"], res.weights.state["transformer.wte.weight"]
    )


def _word_level(vocab: list[str], scheme: str, path: Path) -> Path:
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.WordLevel({t: i for i, t in enumerate(vocab)}, unk_token="<unk>"))
    if scheme == "byte_level":
        tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=True)
        tok.decoder = decoders.ByteLevel()
    else:
        tok.pre_tokenizer = pre_tokenizers.Metaspace()
        tok.decoder = decoders.Metaspace()
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok, eos_token="<eos>", pad_token="<pad>", unk_token="<unk>"
    )
    fast.save_pretrained(str(path))
    return path


@pytest.fixture(scope="module")
def fixture_dirs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Hand-built: an 'English' byte-level (Ġ) and a 'Czech' SentencePiece-style (▁) vocabulary,
    a dictionary, a corpus, and an untied Llama with the English vocabulary."""
    root = tmp_path_factory.mktemp("fixture")
    specials = ["<eos>", "<pad>", "<unk>"]
    en = specials + [
        "Ġthe",
        "Ġhouse",
        "Ġa",
        "Ġv",
        "Ġcity",
        "Ġtown",
        "Ġ.",
        "Ġdog",
        "Ġriver",
        "Ġ2024",
    ]
    cs = specials + ["▁a", "▁v", "▁dům", "▁město", "▁.", "▁pes", "▁2024", "▁řeka", "▁x", "▁the"]
    (root / "dict.tsv").write_text(
        "# en\tcs\nhouse\tdům\ncity\tměsto\ntown\tměsto\ndog\tpes\nriver\třeka\n"
        "cat\tkočka\nhorse\tx\nv\tv\n",
        encoding="utf-8",
    )
    (root / "corpus.txt").write_text("a v dům . a město . pes a v 2024 . kočka a", "utf-8")
    write_hf_dir(tiny_llama(len(en), 2), root / "model", None)
    return {
        "en": _word_level(en, "byte_level", root / "tok_en"),
        "cs": _word_level(cs, "metaspace", root / "tok_cs"),
        "root": root,
    }


@pytest.mark.parametrize(
    ("cap", "expected", "coverage"),
    [
        (None, {"special": 3, "exact": 5, "dictionary": 3}, 13 / 14),
        (4, {"special": 3, "exact": 3, "dictionary": 1}, 10 / 14),
    ],
)
def test_report_counts_match_a_hand_built_fixture(
    fixture_dirs: dict[str, Path],
    tmp_path: Path,
    cap: int | None,
    expected: dict[str, int],
    coverage: float,
) -> None:
    d = fixture_dirs
    cfg = SurgeryConfig(
        source=SourceConfig(model=str(d["root"] / "model"), tokenizer=str(d["en"])),
        target=TargetConfig(tokenizer=str(d["cs"]), corpus=[str(d["root"] / "corpus.txt")]),
        vocab_swap=VocabSwapConfig(
            dictionary=str(d["root"] / "dict.tsv"), dictionary_top_k=6, max_aligned=cap
        ),
        output=OutputConfig(dir=str(tmp_path / "out")),
        report=ReportConfig(eval_sequences=0),
    )
    out, report = run_surgery(cfg)
    assert report.aligned == expected
    # Frequency order: a(4) .(3) v(2) dům město pes 2024 (1 each) | řeka x the (0): top 6 ends
    # at pes, so river -> řeka is encodable but not applied; town -> město is applied but city
    # had aligned město already, and v -> v was aligned already by the exact match. With the
    # cap of 4 (a . v exact, then dům), only house aligns; city, town, dog fall beyond it.
    assert report.dictionary == {
        "entries": 8,
        "unencodable_target": 1,
        "unencodable_source": 1,
        "encodable": 6,
        "applied": 5,
        "aligned": 3 if cap is None else 1,
        "already_aligned": 2 if cap is None else 1,
        "capped": 0 if cap is None else 3,
        "examples": [
            "cat -> kočka (line 7: target word is not one target token)",
            "horse -> x (line 8: source word is not one source token)",
        ],
    }
    assert report.corpus_tokens == 14 and report.coverage == pytest.approx(coverage)
    if cap is None:
        assert report.examples["dictionary"] == [
            "' dům' <- ' house'",
            "' město' <- ' city'",
            "' pes' <- ' dog'",
        ]
    saved = json.loads((out / "report.json").read_text())
    assert saved["aligned"] == expected
    shapes = json.loads((out / "csmpt_surgery.json").read_text())
    assert shapes == {
        "family": "llama",
        "vocab_size": 64,
        "n_layers": 2,
        "layers_key": "num_hidden_layers",
        "tokenizer": "tokenizer",
    }
    hf = load_source(out / "hf")
    ck = load_source(out / "model.pt")
    for key in ("model.embed_tokens.weight", "lm_head.weight"):
        assert torch.equal(hf.state[key], ck.state[key]) and hf.state[key].shape == (64, 32)


@pytest.mark.parametrize("family", ["mpt", "llama"])
def test_downcycled_model_holds_exactly_the_chosen_layers_and_generates(family: str) -> None:
    src = BUILDERS[family](64, n_layers=4)
    keep = choose_layers(4, DowncycleConfig(n_layers=3))
    assert keep == [0, 2, 3]
    small = downcycle(src, keep)
    prefix = src.layer_prefix
    assert small.config[src.layers_key] == 3
    for new, old in enumerate(keep):
        names = [k for k in src.state if k.startswith(f"{prefix}{old}.")]
        assert names
        for k in names:
            assert small.state[k.replace(f"{prefix}{old}.", f"{prefix}{new}.", 1)] is src.state[k]
    assert not any(k.startswith(f"{prefix}3.") for k in small.state)
    model = build_model(small)
    assert len(list(model.modules())) < len(list(build_model(src).modules()))
    out = greedy(model, torch.tensor([[1, 2, 3]]), 5)
    assert out.shape == (1, 8) and int(out.max()) < 64


def test_layer_patterns() -> None:
    keep = choose_layers(32, DowncycleConfig(n_layers=24))
    assert len(keep) == 24 and keep[0] == 0 and keep[-1] == 31 and keep == sorted(set(keep))
    gaps = [b - a for a, b in zip(keep, keep[1:], strict=False)]
    assert set(gaps) == {1, 2} and gaps.count(2) == 8  # 8 layers dropped, spread out
    assert choose_layers(4, DowncycleConfig()) == [0, 1, 2, 3]
    assert choose_layers(4, DowncycleConfig(keep_layers=[0, 3])) == [0, 3]
    with pytest.raises(ConfigError, match="increasing"):
        choose_layers(4, DowncycleConfig(keep_layers=[3, 0]))
    with pytest.raises(ConfigError, match="within 1..4"):
        choose_layers(4, DowncycleConfig(n_layers=5))


def test_bad_inputs_fail_in_one_line(
    fixture_dirs: dict[str, Path], tokenizer_dir: Path, tmp_path: Path
) -> None:
    d = fixture_dirs
    cfg = SurgeryConfig(
        source=SourceConfig(model=str(d["root"] / "model"), tokenizer=str(tokenizer_dir)),
        target=TargetConfig(tokenizer=str(d["cs"])),
        output=OutputConfig(dir=str(tmp_path / "out")),
    )
    with pytest.raises(DataError, match="has 4096 tokens but the model .* has 13 embedding rows"):
        run_surgery(cfg)
    (tmp_path / "no_weights").mkdir()
    (tmp_path / "no_weights" / "config.json").write_text("{}")
    with pytest.raises(DataError, match="no model weights"):
        load_source(tmp_path / "no_weights")
    with pytest.raises(DataError, match="does not exist"):
        load_source(tmp_path / "nothing.pt")
    run = tmp_path / "run"  # a run's save_folder where one of its checkpoints was meant
    run.mkdir()
    (run / "ep0-ba4-rank0.pt").write_bytes(b"")
    with pytest.raises(DataError, match="a run folder: give one of its checkpoints, e.g. .*ba4"):
        load_source(run)
    bad_dict = tmp_path / "bad.tsv"
    bad_dict.write_text("house\tdům\nno tab here\n", encoding="utf-8")
    cfg.source.tokenizer = str(d["en"])
    cfg.vocab_swap.dictionary = str(bad_dict)
    with pytest.raises(DataError, match=r"bad.tsv:2: expected 'source_word<TAB>target_word'"):
        run_surgery(cfg)
    cfg.vocab_swap.dictionary = None
    with pytest.raises(ConfigError, match="'dictionary' method needs a dictionary file"):
        run_surgery(cfg)
    cfg.vocab_swap.methods = ["exact"]
    (tmp_path / "out").mkdir()
    with pytest.raises(ConfigError, match="already exists; pass --force"):
        run_surgery(cfg)
    assert not any((tmp_path / "out").iterdir())
    out, _ = run_surgery(cfg, force=True)
    assert (out / "model.pt").is_file() and not list(tmp_path.glob(".out.*"))


def test_cli_help_has_a_full_example_and_errors_are_one_line(tmp_path: Path) -> None:
    from csmpt.cli.app import app

    runner = CliRunner()
    res = runner.invoke(app, ["surgery", "--help"], env={"COLUMNS": "200"})
    assert res.exit_code == 0 and "Example" in res.output
    assert "csmpt surgery yamls/surgery/mpt_en_to_cs.yaml" in res.output
    assert "load_weights_only=true" in res.output
    res = runner.invoke(
        app,
        [
            "surgery",
            "yamls/surgery/mpt_en_to_cs.yaml",
            f"source.model={tmp_path / 'missing'}",
            f"output.dir={tmp_path / 'out'}",
        ],
    )
    assert res.exit_code == 2
    assert "source model does not exist" in res.output


def test_config_transform_follows_the_surgery_output(tmp_path: Path) -> None:
    (tmp_path / "csmpt_surgery.json").write_text(json.dumps({"vocab_size": 4160, "n_layers": 3}))
    ckpt = str(tmp_path / "model.pt")
    cfg = surgery_shapes(
        {"load_path": ckpt, "model": {"name": "mpt_causal_lm", "vocab_size": 50432, "n_layers": 32}}
    )
    assert cfg["model"]["vocab_size"] == 4160 and cfg["model"]["n_layers"] == 3
    cfg = surgery_shapes({"load_path": ckpt, "model": {"name": "hf_causal_lm"}})
    assert cfg["model"]["config_overrides"] == {"vocab_size": 4160, "num_hidden_layers": 3}
    other = {"load_path": str(tmp_path / "x" / "ep1.pt"), "model": {"vocab_size": 7}}
    assert surgery_shapes(other)["model"] == {"vocab_size": 7}
    assert surgery_shapes({"model": {"vocab_size": 7}})["model"] == {"vocab_size": 7}


def test_surgery_yamls_parse() -> None:
    from csmpt.config import build_structured, load_yaml_with_overrides

    paths = sorted(Path("yamls/surgery").glob("*.yaml"))
    assert len(paths) >= 2
    for p in paths:
        cfg = build_structured(SurgeryConfig, load_yaml_with_overrides(p), p)
        assert cfg.output.dir and cfg.source.model


def test_pieces_split_each_target_tokens_exact_bytes(tokenizers) -> None:  # noqa: ANN001
    from csmpt.surgery.embed_init import source_pieces
    from csmpt.tokenizer.vocab_bytes import vocab_bytes

    en, cs = tokenizers
    t_bytes, s_bytes = vocab_bytes(cs), vocab_bytes(en)
    partial = [t for t, b in t_bytes.items() if not _is_utf8(b)]
    assert len(partial) > 50  # byte-level BPE tokens that end mid-character (b"\xc5", ...)
    pieces = source_pieces(cs, en, t_bytes, skip=set())
    ends = [*pieces.offsets[1:].tolist(), len(pieces.flat)]
    rows = {
        int(t): b"".join(s_bytes[int(i)] for i in pieces.flat[lo:hi])
        for t, lo, hi in zip(pieces.rows, pieces.offsets.tolist(), ends, strict=True)
    }
    assert rows.keys() == t_bytes.keys()
    assert all(rows[t] == b for t, b in t_bytes.items())  # every byte, none lost


def _is_utf8(b: bytes) -> bool:
    try:
        b.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


@pytest.mark.parametrize("where", ["held_out", "eval_corpus"])
def test_report_scores_held_out_text_beside_uniform_and_unigram(
    fixture_dirs: dict[str, Path], tmp_path: Path, where: str
) -> None:
    """The unigram baseline counts only training documents; the scored row is held-out text."""
    import math

    d = fixture_dirs
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "1.txt").write_text("a a a .", "utf-8")
    if where == "held_out":  # one of two documents held out, whichever: they mirror each other
        (corpus / "2.txt").write_text("v v v .", "utf-8")
        evals: list[str] = []
    else:
        (tmp_path / "eval.txt").write_text("a pes .", "utf-8")
        evals = [str(tmp_path / "eval.txt")]
    cfg = SurgeryConfig(
        source=SourceConfig(model=str(d["root"] / "model"), tokenizer=str(d["en"])),
        target=TargetConfig(tokenizer=str(d["cs"]), corpus=[str(corpus)]),
        vocab_swap=VocabSwapConfig(methods=["exact"]),
        output=OutputConfig(dir=str(tmp_path / "out")),
        report=ReportConfig(eval_sequences=1, seq_len=4, held_out=0.5, eval_corpus=evals),
    )
    _, report = run_surgery(cfg)
    # Training text: 3 of one word, '.', EOS -> N = 5 over V = 13: add-one p = (c + 1) / 18.
    if where == "held_out":  # row [x x x .] predicts x x . (unseen, unseen, seen once)
        nats = 2 * math.log(18) + math.log(9)
        assert report.eval_text is not None and "1 of 2" in report.eval_text
    else:  # row [a pes . EOS] predicts pes . EOS (unseen, seen once, seen once)
        nats = math.log(18) + 2 * math.log(9)
    assert report.eval_tokens == 4 and report.eval_bytes == 6  # ' x' ' x' ' .' / ' pes' ' .'
    assert report.loss_uniform == pytest.approx(math.log(13))
    assert report.loss_unigram == pytest.approx(nats / 3)
    assert report.bpb_uniform == pytest.approx(3 * math.log(13) / (math.log(2) * 6))
    assert report.bpb_unigram == pytest.approx(nats / (math.log(2) * 6))


def test_head_init_gives_an_untied_head_its_own_init(tokenizers) -> None:  # noqa: ANN001
    """``head_init: mean``: the input embedding's new rows are the pieces' means, the head's the
    mean row; aligned rows stay bit-identical in both. Refused on a tied model, one line."""
    en, cs = tokenizers
    src = tiny_llama(EN_VOCAB)
    base = {"methods": ["exact"], "init": "pieces"}
    both = swap_vocabulary(src, en, cs, VocabSwapConfig(**base)).weights.state
    split = swap_vocabulary(src, en, cs, VocabSwapConfig(**base, head_init="mean"))
    t_ids, s_ids = (torch.from_numpy(a) for a in split.alignment.arrays())
    n_target = split.target_tokens
    unaligned = torch.ones(n_target, dtype=torch.bool)
    unaligned[t_ids] = False
    embed, head = (
        split.weights.state["model.embed_tokens.weight"],
        split.weights.state["lm_head.weight"],
    )
    assert torch.equal(embed, both["model.embed_tokens.weight"])  # the input keeps pieces
    assert torch.equal(head[t_ids], src.state["lm_head.weight"][s_ids])
    new_head = head[:n_target][unaligned]
    assert torch.equal(new_head, new_head[:1].expand_as(new_head))  # one row: the mean
    assert not torch.equal(new_head, both["lm_head.weight"][:n_target][unaligned])

    with pytest.raises(ConfigError, match="head_init.*tied"):
        swap_vocabulary(tiny_mpt(EN_VOCAB), en, cs, VocabSwapConfig(**base, head_init="mean"))
    with pytest.raises(ConfigError, match="'vocab_swap.head_init' is 'pieces'"):
        swap_vocabulary(src, en, cs, VocabSwapConfig(**base, head_init="pieces"))
