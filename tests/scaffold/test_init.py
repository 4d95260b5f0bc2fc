"""`csmpt init`: a project folder for each base model (shapes from the real hub configs, the
CSMPT7b recipe, a batch plan for the GPU count), and its six commands run end to end in
miniature from the generated folder."""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path
from typing import Any

import pytest
from omegaconf import OmegaConf
from typer.testing import CliRunner

from csmpt.cli.app import app
from csmpt.config import build_structured, load_yaml_with_overrides
from csmpt.errors import ConfigError
from csmpt.scaffold import BASES, batch_plan, write_project

REPO = Path(__file__).resolve().parents[2]
FIXTURES = Path("/work/shared/fixtures")
FIXTURE_DIR = {"mistral-7b": "mistral-7b-v0.1"}


def _hub_config(base: str) -> dict[str, Any]:
    shipped = REPO / "csmpt/scaffold/configs" / base / "config.json"
    fixture = FIXTURES / FIXTURE_DIR.get(base, base) / "config.json"
    if fixture.is_file():  # the package's copy holds the hub's values
        assert json.loads(shipped.read_text()) == json.loads(fixture.read_text())
    return dict(json.loads(shipped.read_text()))


def _yaml(path: Path) -> dict[str, Any]:
    cfg = OmegaConf.to_container(load_yaml_with_overrides(path), resolve=True)
    assert isinstance(cfg, dict)
    return cfg  # type: ignore[return-value]


@pytest.mark.parametrize("base", BASES)
def test_init_fills_the_configs_for_the_base(base: str, tmp_path: Path) -> None:
    from csmpt.prep.config import PrepConfig
    from csmpt.surgery.recipe import SurgeryConfig
    from csmpt.tokenizer.train import TokenizerConfig

    folder = tmp_path / "proj"
    res = CliRunner().invoke(
        app, ["init", str(folder), "--base", base, "--language", "sk", "--gpus", "32"]
    )
    assert res.exit_code == 0, res.output
    hub = _hub_config(base)
    train = _yaml(folder / "train.yaml")
    model = train["model"]
    seq = min(hub.get("max_seq_len") or hub["max_position_embeddings"], 8192)
    assert train["max_seq_len"] == seq
    if base == "mpt-7b":
        for key in ("d_model", "n_heads", "n_layers", "expansion_ratio"):
            assert model[key] == hub[key], key
        assert model["vocab_size"] == 64000 and model["attn_config"]["alibi"] is True
    else:
        assert model["name"] == "hf_causal_lm"
        assert model["pretrained_model_name_or_path"] == "artifacts/surgery/hf"
        text = (folder / "train.yaml").read_text()
        assert f"FFN {hub['intermediate_size']}" in text
        assert f"({hub['num_key_value_heads']} KV)" in text
    # The CSMPT7b recipe.
    assert train["optimizer"] == {
        "name": "csmpt_lionw",
        "lr": 1e-4,
        "betas": [0.9, 0.95],
        "weight_decay": 0.0,
    }
    assert train["scheduler"]["name"] == "cosine_with_warmup"
    assert (train["scheduler"]["t_warmup"], train["scheduler"]["alpha_f"]) == ("100ba", 0.1)
    assert train["fsdp_config"]["sharding_strategy"] == "FULL_SHARD"
    assert train["precision"] == "amp_bf16"
    # Batch from 32 GPUs: ~2.1M tokens per step, whole microbatches on every GPU.
    g, m = train["global_train_batch_size"], train["device_train_microbatch_size"]
    assert g % (32 * m) == 0 and m * seq == 8192
    assert abs(g * seq - 2**21) <= 32 * m * seq / 2
    # The other configs build through their commands' schemas.
    tok = build_structured(
        TokenizerConfig, load_yaml_with_overrides(folder / "tokenizer.yaml"), "tokenizer.yaml"
    )
    assert tok.vocab_size == 64000 and tok.model_max_length == seq
    prep = build_structured(PrepConfig, load_yaml_with_overrides(folder / "prep.yaml"), "prep")
    assert prep.max_seq_len == seq and prep.corpora[0].name == "web"
    surgery = build_structured(
        SurgeryConfig, load_yaml_with_overrides(folder / "surgery.yaml"), "surgery.yaml"
    )
    assert surgery.output.composer is (base == "mpt-7b")
    assert _yaml(folder / "eval.yaml")["train_yaml"] == f"artifacts/runs/{base}-sk/config.yaml"
    # README: the six commands in order, and a row for each value marked # SET:.
    readme = (folder / "README.md").read_text()
    block = readme.split("```bash\n")[1].split("```")[0].strip().split("\n")
    assert [x.split()[1] for x in block] == ["tokenizer", "prep", "surgery", "launch", "eval"] + [
        "export"
    ]
    assert "--scheduler slurm --nodes 4 --gpus-per-node 8 train.yaml" in block[3]
    marked = {
        (f.name, line.split(":")[0].strip().lstrip("- "))
        for f in folder.glob("*.yaml")
        for line in f.read_text().split("\n")
        if "# SET:" in line
    }
    rows = readme.split("## Values you must set")[1]
    for name, _ in marked:
        assert f"`{name}`" in rows, name
    assert len(marked) >= 8


def test_the_recipes_hyperparameters_have_one_source(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """csmpt init takes CSMPT7b's hyperparameters from yamls/csmpt7b/csmpt7b.yaml (shipped)."""
    import copy

    from csmpt.scaffold import templates

    recipe = _yaml(Path(__file__).resolve().parents[2] / "yamls/csmpt7b/csmpt7b.yaml")
    assert templates.csmpt7b_recipe()["optimizer"] == recipe["optimizer"]
    write_project(tmp_path / "a", "mpt-7b", "cs")
    train = _yaml(tmp_path / "a" / "train.yaml")
    assert train["optimizer"] == recipe["optimizer"]
    assert train["algorithms"] == recipe["algorithms"]
    assert train["precision"] == recipe["precision"] and train["seed"] == recipe["seed"]
    sched = {k: v for k, v in train["scheduler"].items() if k != "t_max"}
    assert sched == {k: v for k, v in recipe["scheduler"].items() if k != "t_max"}
    # A change to the recipe is a change to every new project.
    changed = copy.deepcopy(templates.csmpt7b_recipe())
    changed["optimizer"]["lr"] = 3e-4
    changed["scheduler"]["t_warmup"] = "250ba"
    monkeypatch.setattr(templates, "csmpt7b_recipe", lambda: changed)
    write_project(tmp_path / "b", "mpt-7b", "cs")
    text = (tmp_path / "b" / "train.yaml").read_text()
    train = _yaml(tmp_path / "b" / "train.yaml")
    assert train["optimizer"]["lr"] == 3e-4 and train["scheduler"]["t_warmup"] == "250ba"
    assert "LionW lr 0.0003" in text and "250ba warmup" in text


def test_batch_plan_and_bad_input(tmp_path: Path) -> None:
    assert batch_plan(16, 2048).global_batch == 1024  # CSMPT7b: 1,024 x 2,048
    assert (batch_plan(1, 8192).global_batch, batch_plan(1, 8192).microbatch) == (256, 1)
    assert batch_plan(24, 2048).global_batch % (24 * 4) == 0
    for kwargs, match in [
        ({"base": "gpt-2"}, "choose one of mpt-7b"),
        ({"scheduler": "lsf"}, "--scheduler 'lsf'"),
        ({"gpus": 12}, "whole nodes"),
        ({"language": "Czech"}, "ISO 639"),
        ({"language": "cz"}, "a country code; the language code is 'cs'"),
        ({"language": "xx"}, "not an ISO 639-1 code"),
        ({"language": "ces"}, "csmpt names this language 'cs'"),
        ({"replay": 1.5}, "--replay 1.5"),
        ({"replay": -0.1}, "--replay -0.1"),
    ]:
        args: dict[str, Any] = {"base": "mpt-7b", "language": "cs"} | kwargs
        with pytest.raises(ConfigError, match=match):
            write_project(tmp_path / "p", **args)
    write_project(tmp_path / "p", "mpt-7b", "cs")
    with pytest.raises(ConfigError, match="--force"):
        write_project(tmp_path / "p", "mpt-7b", "cs")


def _tiny_base(base: str, folder: Path, en_tokenizer: Path) -> None:
    """The base's real hub config, size keys shrunk, random weights, an English tokenizer."""
    from transformers import AutoTokenizer

    cfg = _hub_config(base)
    tok = AutoTokenizer.from_pretrained(en_tokenizer)
    vocab = -(-len(tok) // 64) * 64
    if base == "mpt-7b":
        from llmfoundry.models.mpt import MPTConfig, MPTForCausalLM

        size = {"d_model": 64, "n_heads": 4, "n_layers": 2, "max_seq_len": 128}
        cfg |= size | {"vocab_size": vocab, "init_device": "cpu"}
        for key in ("prefix_lm", "attn_uses_sequence_id"):  # llm-foundry 0.22 rejects these
            cfg["attn_config"].pop(key)
        cfg.pop("architectures"), cfg.pop("auto_map"), cfg.pop("model_type")
        MPTForCausalLM(MPTConfig(**cfg)).save_pretrained(folder)
    else:
        from transformers import AutoConfig, AutoModelForCausalLM

        size = {"hidden_size": 64, "intermediate_size": 128, "num_attention_heads": 4}
        size |= {"num_key_value_heads": 2, "num_hidden_layers": 2, "vocab_size": vocab}
        size |= {"max_position_embeddings": 256}
        cfg |= size | {"bos_token_id": tok.bos_token_id or 0, "eos_token_id": tok.eos_token_id}
        model_type = cfg.pop("model_type")
        config = AutoConfig.for_model(model_type, **cfg)
        AutoModelForCausalLM.from_config(config).save_pretrained(folder)
    tok.save_pretrained(folder)


@pytest.mark.slow
@pytest.mark.parametrize("base", ["mpt-7b", "llama-3-8b", "mistral-7b"])
def test_init_then_the_six_commands_in_miniature(
    base: str, en_tokenizer_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / "proj"
    runner = CliRunner()

    def csmpt(*args: str) -> str:
        res = runner.invoke(app, list(args))
        assert res.exit_code == 0, f"csmpt {' '.join(args)}:\n{res.output}"
        return res.output

    csmpt("init", str(folder), "--base", base, "--language", "sk", "--vocab", "1024")
    readme = (folder / "README.md").read_text()
    commands = [
        x.split("   #")[0] for x in readme.split("```bash\n")[1].split("```")[0].split("\n")
    ]
    # The values marked # SET:, where the configs expect them: corpus, base model, benchmark.
    (folder / "corpus").mkdir()
    shutil.copy(REPO / "data/samples/cs_web.jsonl", folder / "corpus/web.jsonl")
    shutil.copytree(REPO / "data/samples/en_web", folder / "replay")  # English replay (5%)
    _tiny_base(base, folder / "base-model", en_tokenizer_dir)
    shutil.copy(REPO / "data/samples/cs_hellaswag.jsonl", folder / "benchmark.jsonl")
    shutil.copy(REPO / "data/samples/cs_crawl.jsonl", folder / "heldout.jsonl")
    monkeypatch.chdir(folder)
    mini = "@miniature.overrides"  # the one overrides file: each YAML takes its section

    csmpt(*commands[0].split()[1:], mini)  # tokenizer (no section: nothing changes)
    csmpt(*commands[1].split()[1:], mini)  # prep: short samples, one shard
    assert (
        json.loads(Path("artifacts/mds/web/train/csmpt_manifest.json").read_text())["max_seq_len"]
        == 128
    )
    out = csmpt(*commands[2].split()[1:], mini)  # surgery
    assert "artifacts/surgery" in out
    assert commands[3].startswith("csmpt launch --scheduler slurm")
    out = csmpt("train", "train.yaml", mini)  # step 4, in miniature on this machine
    assert f"trained {base}-sk: steps 0 -> 4" in out
    run = Path(f"artifacts/runs/{base}-sk")
    # the embeddings-first stage (1 step in miniature), then every parameter
    events = [json.loads(x) for x in (run / "events.jsonl").read_text().splitlines() if x]
    frozen = [e for e in events if e["event"] in ("freeze_stage", "unfreeze")]
    assert [(e["event"], e["step"]) for e in frozen] == [("freeze_stage", 0), ("unfreeze", 1)]
    # only the embeddings train: 1,024 rows x d_model 64, untied models' two matrices
    assert frozen[0]["trainable_params"] == (1 if base == "mpt-7b" else 2) * 1024 * 64
    assert frozen[0]["frozen_params"] > 0
    streams = OmegaConf.load(run / "config.yaml").train_loader.dataset.streams
    assert (streams.target.proportion, streams.replay.proportion) == (0.95, 0.05)
    assert Path("artifacts/mds/replay/train/csmpt_manifest.json").is_file()
    assert sorted(p.name for p in run.glob("ep*-ba*-rank0.pt")) == [
        "ep0-ba2-rank0.pt",
        "ep0-ba4-rank0.pt",
    ]
    config = OmegaConf.load(run / "config.yaml")
    if base == "mpt-7b":
        assert config.model.n_layers == 2 and config.model.vocab_size == 1024  # the surgery's
    else:  # hf_causal_lm from the surgery's HF folder
        hf = json.loads(Path(config.model.pretrained_model_name_or_path, "config.json").read_text())
        assert (hf["num_hidden_layers"], hf["vocab_size"]) == (2, 1024), hf
    out = csmpt(*commands[4].split()[1:], mini)  # eval: fp32, short, two batches a task
    table = (run / "eval" / "table.md").read_text()
    assert "benchmark/0-shot" in table and "benchmark/3-shot" in table, table
    steps = [line.split("|")[2].strip() for line in table.strip().split("\n")[2:]]
    assert sorted(steps) == ["", "2", "4"], table  # both checkpoints and the base model
    assert f"| {base} |" in table, table
    # bits per byte on the held-out text: every row, the base model with its own tokenizer
    rows = list(csv.DictReader((run / "eval" / "table.csv").open()))
    assert all(float(r["sk/bpb"]) > 0 for r in rows), rows
    out = csmpt(*commands[5].split()[1:])  # export
    assert (Path("artifacts/hf") / "config.json").is_file()


def test_init_writes_the_languages_lm_eval_task_pack(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import sys

    from csmpt.eval.series import load_eval_recipe

    write_project(tmp_path / "cs", "mpt-7b", "cs")
    tasks = sorted(p.name for p in (tmp_path / "cs" / "tasks").iterdir())
    assert tasks == ["belebele_ces_latn.yaml", "cs_hellaswag.yaml", "global_mmlu_cs.yaml"]
    for name in tasks:  # the pack's own files, copied
        assert (tmp_path / "cs/tasks" / name).read_text() == (
            REPO / "eval/tasks/cs" / name
        ).read_text()
    text = (tmp_path / "cs" / "eval.yaml").read_text()
    assert (
        "# lm_eval_tasks:" in text
        and "#   - {name: cs_hellaswag_local, include_path: tasks}" in text
    )
    # Uncommented, the entries are the recipe's lm_eval_tasks (refused without lm-eval, by name).
    on = text.replace("# lm_eval_tasks:", "lm_eval_tasks:").replace("#   - {name", "  - {name")
    (tmp_path / "cs" / "eval_on.yaml").write_text(on)
    monkeypatch.setitem(sys.modules, "lm_eval", None)
    with pytest.raises(ConfigError, match="lm_eval_tasks need lm-evaluation-harness"):
        load_eval_recipe(tmp_path / "cs" / "eval_on.yaml")
    monkeypatch.setitem(sys.modules, "lm_eval", sys)  # importable: the entries load
    recipe = load_eval_recipe(tmp_path / "cs" / "eval_on.yaml")
    assert [t.name for t in recipe.lm_eval_tasks] == [
        "belebele_ces_latn_local",
        "cs_hellaswag_local",
        "global_mmlu_cs_local",
    ]
    assert {t.include_path for t in recipe.lm_eval_tasks} == {"tasks"}
    write_project(tmp_path / "sk", "mpt-7b", "sk")  # no pack for Slovak yet: nothing written
    assert not (tmp_path / "sk" / "tasks").exists()
    assert "lm_eval_tasks" not in (tmp_path / "sk" / "eval.yaml").read_text()


def test_replay_and_embeddings_first_follow_the_evidence(tmp_path: Path) -> None:
    """English replay 5% and an embeddings-first stage by default; --replay 0 drops the stream."""
    from csmpt.prep.config import PrepConfig

    for base, train_names in (("mpt-7b", ["wte"]), ("llama-3-8b", ["embed_tokens", "lm_head"])):
        write_project(tmp_path / base, base, "cs")
        train = _yaml(tmp_path / base / "train.yaml")
        streams = train["train_loader"]["dataset"]["streams"]
        assert streams["target"]["proportion"] == 0.95 and streams["replay"]["proportion"] == 0.05
        assert streams["replay"]["local"] == "artifacts/mds/replay"
        stage = train["callbacks"]["csmpt_freeze"]["stages"]
        assert stage == [{"until": "10000ba", "train": train_names}]
        prep = build_structured(
            PrepConfig, load_yaml_with_overrides(tmp_path / base / "prep.yaml"), "prep"
        )
        assert [c.name for c in prep.corpora] == ["web", "replay"]
    write_project(tmp_path / "none", "mpt-7b", "cs", replay=0.0)
    loader = _yaml(tmp_path / "none" / "train.yaml")["train_loader"]["dataset"]
    assert "streams" not in loader and loader["local"] == "artifacts/mds/web"
    assert "replay" not in (tmp_path / "none" / "prep.yaml").read_text()
    res = CliRunner().invoke(
        app,
        ["init", str(tmp_path / "cli"), "--base", "mpt-7b", "--language", "cs", "--replay", "0.25"],
    )
    assert res.exit_code == 0, res.output
    streams = _yaml(tmp_path / "cli" / "train.yaml")["train_loader"]["dataset"]["streams"]
    assert streams["replay"]["proportion"] == 0.25 and streams["target"]["proportion"] == 0.75
