"""Real hub configs in and out: surgery -> csmpt train -> csmpt export -> transformers.

Each real ``config.json`` (tests/assets/, as the HF hub serves it) with only its size keys shrunk
gets tiny random weights in the hub's own layout (``.bin`` shards for MPT-7B and Llama-2,
safetensors shards for Llama 3 and Mistral) and goes through the whole path a user takes.
"""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest
import torch

from csmpt.checkpoint.hf_config import normalise_config
from csmpt.config import build_structured, load_yaml_with_overrides
from csmpt.errors import ConfigError
from csmpt.surgery.io import load_source
from csmpt.surgery.recipe import SurgeryConfig, run_surgery
from csmpt.surgery.synthetic import write_random_hf_model

pytestmark = pytest.mark.slow

ASSETS = Path("tests/assets")
YAML = Path("yamls/surgery/mpt_en_to_cs.yaml")
REAL = ["mpt-7b", "llama-2-7b", "llama-3-8b", "llama-3.1-8b", "mistral-7b-v0.1"]
FORMAT = {"mpt-7b": "bin", "llama-2-7b": "bin"}  # the others ship safetensors shards


def shrunk(name: str, vocab: int = 2048) -> dict:
    """The real config with only the size keys made tiny (yamls/tiny's widths, 3 layers)."""
    cfg = json.loads((ASSETS / name / "config.json").read_text())
    if cfg["model_type"] == "mpt":
        cfg.update(d_model=64, n_heads=4, n_layers=3, max_seq_len=128, vocab_size=vocab)
    else:
        kv = 4 * cfg["num_key_value_heads"] // cfg["num_attention_heads"]  # MHA stays MHA
        cfg.update(
            hidden_size=64,
            intermediate_size=176,
            num_attention_heads=4,
            num_key_value_heads=kv,
            num_hidden_layers=3,
            vocab_size=vocab,
        )
    return cfg


def _modes(root: Path) -> set[str]:
    return {oct(stat.S_IMODE(p.stat().st_mode)) for p in [root, *root.rglob("*")]}


def _logits(model: torch.nn.Module, ids: torch.Tensor) -> torch.Tensor:
    with torch.no_grad():
        return model(input_ids=ids).logits.float()


@pytest.mark.parametrize("name", REAL)
def test_real_config_surgery_train_export_and_transformers_logits(
    name: str,
    en_tokenizer_dir: Path,
    tokenizer_dir: Path,
    tiny_overrides,  # noqa: ANN001
    tmp_path: Path,
) -> None:
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from csmpt.export.hf import export_to_hf
    from csmpt.training.run import run_training

    old_umask = os.umask(0o022)
    try:
        cfg = shrunk(name)
        write_random_hf_model(cfg, tmp_path / "src", FORMAT.get(name, "safetensors"), 40_000)
        assert len(list((tmp_path / "src").glob("*-of-*"))) > 1  # sharded, with the hub's index
        overrides = [
            f"source.model={tmp_path / 'src'}",
            f"source.tokenizer={en_tokenizer_dir}",
            f"target.tokenizer={tokenizer_dir}",
            f"output.dir={tmp_path / 'swap'}",
            "report.eval_sequences=2",
            "report.seq_len=32",
        ]
        out, report = run_surgery(
            build_structured(SurgeryConfig, load_yaml_with_overrides(YAML, overrides), YAML)
        )
    finally:
        os.umask(old_umask)
    mpt = cfg["model_type"] == "mpt"
    # MPT-7B's hub config: a key llm-foundry rejects (dropped), one MPTConfig ignores (reported)
    want = ["attn_config.prefix_lm=False", "verbose=0 (unknown, ignored)"] if mpt else []
    assert report.normalised == want
    assert report.loss_swapped is not None and report.loss_random is not None
    hf_cfg = json.loads((out / "hf" / "config.json").read_text())
    assert hf_cfg["torch_dtype"] == cfg["torch_dtype"] and hf_cfg["vocab_size"] == 4096
    assert hf_cfg["tie_word_embeddings"] is mpt  # every real Llama/Mistral is untied
    if mpt:
        assert "prefix_lm" not in hf_cfg["attn_config"]
        assert "tokenizer_name" not in hf_cfg  # not the surgery machine's path: the folder's own
        assert hf_cfg["eos_token_id"] is not None  # from the tokenizer, not null
    else:
        assert {k: hf_cfg.get(k) for k in ("rope_scaling", "sliding_window", "rope_theta")} == {
            k: cfg.get(k) for k in ("rope_scaling", "sliding_window", "rope_theta")
        }
    assert _modes(out) <= {"0o755", "0o644"}  # group/other can read the output
    swapped = load_source(out / "hf")
    assert {str(t.dtype) for t in swapped.state.values()} == {f"torch.{cfg['torch_dtype']}"}

    # A few continual-pretraining steps from the output (MPT: the Composer checkpoint into the
    # recipe's model; Llama/Mistral: the HF folder as hf_causal_lm's pretrained model).
    run_dir = tmp_path / "run"
    if mpt:
        recipe = "yamls/tiny/mpt.yaml"
        extra = {"load_path": out / "model.pt", "load_weights_only": "true"}
    else:
        recipe = "yamls/tiny/llama.yaml"
        extra = {"model.pretrained": "true", "model.pretrained_model_name_or_path": out / "hf"}
    steps = {"max_duration": "2ba", "save_interval": "2ba", "eval_interval": "1000ba"}
    train_overrides = tiny_overrides(run_dir, **steps, **extra)
    trainer = run_training(recipe, train_overrides)
    trained = trainer.state.model.model.eval()
    if not mpt:
        assert trained.config.model_type == cfg["model_type"]
        assert trained.config.to_dict().get("rope_scaling") == cfg.get("rope_scaling")
    start = swapped.state["lm_head.weight" if not mpt else "transformer.wte.weight"].float()
    head = trained.get_output_embeddings().weight.detach()
    assert head.shape == start.shape and float((head - start).abs().max()) < 0.01  # not re-inited

    ckpt = run_dir / "ep0-ba2-rank0.pt"
    old_umask = os.umask(0o022)
    try:
        res = export_to_hf(ckpt, recipe, tmp_path / "export", train_overrides)
    finally:
        os.umask(old_umask)
    assert res.max_abs_diff <= res.tolerance

    # Surgery's hf/ and the export come from the one HF-folder writer (checkpoint/hf_folder.py):
    # the same weight, config and modeling-code files, readable by the group, configs portable.
    def model_files(folder: Path) -> list[str]:
        names = (p.name for p in folder.iterdir())
        return sorted(n for n in names if n.startswith("model") or n == "config.json")

    assert model_files(out / "hf") == model_files(tmp_path / "export")
    assert _modes(tmp_path / "export") <= {"0o755", "0o644"}
    if mpt:
        for folder in (out / "hf", tmp_path / "export"):
            exported = json.loads((folder / "config.json").read_text())
            assert exported["attn_config"]["attn_impl"] == "torch"
            assert exported["init_device"] == "cpu"
    ids = AutoTokenizer.from_pretrained(tmp_path / "export")(
        "Dobrý den, vítáme vás na stránkách obce.", return_tensors="pt"
    )["input_ids"]
    back = AutoModelForCausalLM.from_pretrained(tmp_path / "export", trust_remote_code=True)
    assert float((_logits(back.eval(), ids) - _logits(trained, ids)).abs().max()) < 1e-4


def test_untied_llama_without_the_key_keeps_its_lm_head(
    en_tokenizer_dir: Path, tokenizer_dir: Path, tmp_path: Path
) -> None:
    from transformers import AutoTokenizer

    from csmpt.surgery.alignment import exact_candidates
    from csmpt.tokenizer.vocab_bytes import vocab_bytes

    cfg = shrunk("llama-2-7b")
    del cfg["tie_word_embeddings"]  # LlamaConfig's default: untied
    write_random_hf_model(cfg, tmp_path / "src", "safetensors", 40_000)
    src = load_source(tmp_path / "src")
    assert not src.tied and src.embedding_keys() == ["model.embed_tokens.weight", "lm_head.weight"]
    overrides = [
        f"source.model={tmp_path / 'src'}",
        f"source.tokenizer={en_tokenizer_dir}",
        f"target.tokenizer={tokenizer_dir}",
        f"output.dir={tmp_path / 'swap'}",
        "report.eval_sequences=0",
        "vocab_swap.methods=[exact]",
    ]
    out, report = run_surgery(
        build_structured(SurgeryConfig, load_yaml_with_overrides(YAML, overrides), YAML)
    )
    hf = load_source(out / "hf")
    assert "lm_head.weight" in hf.state and not hf.tied
    assert json.loads((out / "hf" / "config.json").read_text())["tie_word_embeddings"] is False
    en, cs = (AutoTokenizer.from_pretrained(p) for p in (en_tokenizer_dir, tokenizer_dir))
    pairs = sorted(exact_candidates(vocab_bytes(cs), vocab_bytes(en)).items())
    t_ids = torch.tensor([t for t, _ in pairs])
    s_ids = torch.tensor([s for _, s in pairs])
    # lm_head rows come from the source lm_head, not from the input embedding
    assert torch.equal(hf.state["lm_head.weight"][t_ids], src.state["lm_head.weight"][s_ids])
    assert not torch.equal(hf.state["lm_head.weight"], hf.state["model.embed_tokens.weight"])
    assert report.aligned["exact"] == len(pairs)


def test_unhonourable_config_key_is_a_one_line_error_naming_it() -> None:
    cfg = shrunk("mpt-7b")
    assert normalise_config(cfg).dropped == ["attn_config.prefix_lm=False"]
    cfg["attn_config"] = dict(cfg["attn_config"], prefix_lm=True)
    with pytest.raises(ConfigError, match=r"'attn_config.prefix_lm' = True changes the model") as e:
        normalise_config(cfg, "mpt-7b/config.json")
    assert "\n" not in str(e.value) and "mpt-7b/config.json" in str(e.value)
    cfg["attn_config"] = dict(cfg["attn_config"], prefix_lm=False, attn_foo="bar")
    with pytest.raises(ConfigError, match="'attn_config.attn_foo'"):
        normalise_config(cfg)
    llama = shrunk("llama-3.1-8b")
    assert normalise_config(llama).config == llama and normalise_config(llama).dropped == []


def test_unknown_top_level_keys_are_reported_and_a_near_miss_is_refused() -> None:
    llama = shrunk("llama-3.1-8b")
    assert normalise_config(llama).ignored == []
    norm = normalise_config(dict(llama, my_note="cs run 3"))
    assert norm.ignored == ["my_note='cs run 3'"] and norm.config["my_note"] == "cs run 3"
    typo = {k: v for k, v in llama.items() if k != "rms_norm_eps"} | {"rms_norm_epsilon": 1e-6}
    with pytest.raises(ConfigError, match=r"'rms_norm_epsilon' \(did you mean 'rms_norm_eps'") as e:
        normalise_config(typo, "base/config.json")
    assert "\n" not in str(e.value) and str(e.value).startswith("base/config.json: ")
    mpt = shrunk("mpt-7b")
    assert normalise_config(mpt).ignored == ["verbose=0"]
    with pytest.raises(ConfigError, match="did you mean 'n_layers'"):
        normalise_config({k: v for k, v in mpt.items() if k != "n_layers"} | {"n_layer": 2})


def test_hub_mpt_folder_evaluates_and_trains_through_a_normalised_view(
    en_tokenizer_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import shutil

    from transformers import AutoModelForCausalLM

    from csmpt.checkpoint.loading import build_hf_model
    from csmpt.checkpoint.surgery_shapes import surgery_shapes
    from csmpt.surgery.io import build_model

    monkeypatch.setenv("TMPDIR", str(tmp_path / "tmp"))
    (tmp_path / "tmp").mkdir()
    src = tmp_path / "mpt-7b"  # as downloaded: raw config, .bin shards, the hub's own code
    write_random_hf_model(shrunk("mpt-7b"), src, "bin", 40_000)
    for f in Path(en_tokenizer_dir).iterdir():
        shutil.copy(f, src / f.name)
    (src / "modeling_mpt.py").write_text("raise ImportError('the hub code must not be used')\n")
    ids = torch.tensor([[5, 17, 300, 2000, 9]])
    want = _logits(build_model(load_source(src)), ids)

    cfg = surgery_shapes(
        {"model": {"name": "hf_causal_lm", "pretrained_model_name_or_path": str(src)}}
    )
    view = Path(cfg["model"]["pretrained_model_name_or_path"])
    assert (
        view != src
        and "prefix_lm" not in json.loads((view / "config.json").read_text())["attn_config"]
    )
    assert (src / "config.json").read_text() == json.dumps(shrunk("mpt-7b"), indent=2) + "\n"
    hf = AutoModelForCausalLM.from_pretrained(
        view, trust_remote_code=True, torch_dtype=torch.bfloat16
    )
    assert torch.equal(_logits(hf.eval(), ids), want)

    model, _ = build_hf_model(src)  # csmpt eval over the hub folder
    with torch.no_grad():
        got = model.model.eval()(input_ids=ids).logits.float()
    assert float((got - want).abs().max()) < 0.1  # built in float32 by llm-foundry vs bf16
    same = {"model": {"name": "hf_causal_lm", "pretrained_model_name_or_path": str(view)}}
    assert surgery_shapes(same)["model"]["pretrained_model_name_or_path"] == str(view)


@pytest.mark.parametrize(("name", "umask"), [("mpt-7b", 0o022), ("llama-3-8b", 0o027)])
def test_hf_output_is_sharded_like_save_pretrained_and_follows_the_umask(
    name: str, umask: int, tmp_path: Path
) -> None:
    from transformers import AutoModelForCausalLM

    from csmpt.checkpoint.hf_folder import write_hf_folder
    from csmpt.surgery.io import build_model, hf_state

    write_random_hf_model(shrunk(name), tmp_path / "src", "safetensors", 10**7)
    src = load_source(tmp_path / "src")
    old = os.umask(umask)
    try:
        files = write_hf_folder(tmp_path / "out", src.config, hf_state(src), max_shard_size=60_000)
    finally:
        os.umask(old)
    out = tmp_path / "out"
    n = len(files)
    assert n > 2 and files == [f"model-{i:05d}-of-{n:05d}.safetensors" for i in range(1, n + 1)]
    index = json.loads((out / "model.safetensors.index.json").read_text())
    for f in files:  # <= 60 kB (+ header), or one tensor that alone is larger
        size, keys = (out / f).stat().st_size, [k for k, v in index["weight_map"].items() if v == f]
        assert size < 60_000 + 4_000 or len(keys) == 1
    assert set(index["weight_map"]) == set(hf_state(src)) and set(
        index["weight_map"].values()
    ) == set(files)
    assert _modes(out) == {oct(0o777 & ~umask), oct(0o666 & ~umask)}
    model = AutoModelForCausalLM.from_pretrained(out, trust_remote_code=True, torch_dtype="auto")
    assert model.dtype == getattr(torch, shrunk(name)["torch_dtype"])
    ids = torch.tensor([[3, 141, 59, 26, 535]])
    assert torch.equal(_logits(model.eval(), ids), _logits(build_model(src), ids))


def test_composer_checkpoint_carrying_the_hub_mpt_config_writes_a_loadable_hf_folder(
    tmp_path: Path,
) -> None:
    from transformers import AutoModelForCausalLM

    from csmpt.surgery.io import ModelWeights, build_model, write_composer_checkpoint, write_hf_dir

    cfg = shrunk("mpt-7b")
    write_random_hf_model(cfg, tmp_path / "src", "bin", 10**7)
    state = load_source(tmp_path / "src").state
    write_composer_checkpoint(ModelWeights(cfg, state, tmp_path), tmp_path / "model.pt")
    ckpt = load_source(tmp_path / "model.pt")  # its config still has attn_config.prefix_lm
    assert ckpt.normalised == ["attn_config.prefix_lm=False", "verbose=0 (unknown, ignored)"]
    write_hf_dir(ckpt, tmp_path / "hf", None)
    hf = AutoModelForCausalLM.from_pretrained(
        tmp_path / "hf", trust_remote_code=True, torch_dtype="auto"
    )
    ids = torch.tensor([[1, 2, 3, 4]])
    assert hf.dtype == torch.bfloat16  # config.json's torch_dtype
    assert torch.equal(_logits(hf.eval(), ids), _logits(build_model(ckpt), ids))
