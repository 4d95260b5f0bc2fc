"""``csmpt base build`` on a tiny corpus: deterministic given the seed, reused when current, and
refusing a model that is no better than the unigram."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
import torch
from typer.testing import CliRunner

from csmpt.base.build import build_base
from csmpt.base.config import load_base_config
from csmpt.cli import app
from csmpt.errors import DataError

sys.path.insert(0, str(Path(__file__).parent))
from mo_files import write_mo  # noqa: E402

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]
TINY = [
    "model.d_model=32",
    "model.n_heads=2",
    "model.n_layers=1",
    "max_seq_len=64",
    "max_duration=6ba",
    "eval_interval=6ba",
    "save_interval=3ba",
    "global_train_batch_size=4",
    "device_train_microbatch_size=4",
    "device_eval_batch_size=8",
    "scheduler.t_warmup=1ba",
]


@pytest.fixture(scope="module")
def catalogs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Eight Czech catalogs: the lines of the shipped Czech sample as their messages."""
    root = tmp_path_factory.mktemp("locale")
    lines = [
        line.strip()
        for rec in (REPO / "data/samples/cs_web.jsonl").read_text(encoding="utf-8").splitlines()
        for line in json.loads(rec)["text"].split("\n")
        if len(line.strip()) > 20
    ][:400]
    for i in range(8):
        part = lines[i::8]
        write_mo(root / f"cs/LC_MESSAGES/pkg{i}.mo", {f"msg {j}": m for j, m in enumerate(part)})
    return root


def _config(tmp: Path, catalogs: Path, out: str, *more: str):  # noqa: ANN202
    yaml = tmp / "base.yaml"
    yaml.write_text(
        "output_dir: OUT\ncorpus: {kind: gettext, language: cs}\nheld_out: 0.2\n"
        f"vocab_size: 400\nmax_seq_len: 64\nrecipe: {REPO / 'yamls/base/mpt.yaml'}\n"
    )
    return load_base_config(
        yaml,
        [
            f"output_dir={tmp / out}",
            f"corpus.roots=[{catalogs}]",
            f"overrides=[{','.join(TINY)}]",
            "min_gain=-10",
            *more,
        ],
    )


def _weights(result_model: str) -> dict[str, torch.Tensor]:
    state = torch.load(result_model, map_location="cpu", weights_only=False)
    return state["state"]["model"]


def test_a_build_is_deterministic_reused_and_checked(catalogs: Path, tmp_path: Path) -> None:
    a = build_base(_config(tmp_path, catalogs, "a"))
    b = build_base(_config(tmp_path, catalogs, "b"))
    assert a.key == b.key and not a.skipped
    for field in ("corpus", "vocab_size", "unigram_bpb", "uniform_bpb", "parameters"):
        assert getattr(a, field) == getattr(b, field), field
    assert a.held_out_bpb == b.held_out_bpb and a.tokens_seen == 6 * 4 * 64
    wa, wb = _weights(a.model), _weights(b.model)
    assert wa.keys() == wb.keys() and all(torch.equal(wa[k], wb[k]) for k in wa)
    assert a.uniform_bpb > a.unigram_bpb > 0  # the unigram knows the token frequencies
    held = [json.loads(x) for x in (tmp_path / "a/corpus/sources.jsonl").read_text().splitlines()]
    assert {h["split"] for h in held} == {"train", "held_out"}

    model = Path(a.model)
    before = model.stat().st_mtime_ns
    again = build_base(_config(tmp_path, catalogs, "a"))
    assert again.skipped and again.held_out_bpb == a.held_out_bpb
    assert model.stat().st_mtime_ns == before  # nothing retrained

    with pytest.raises(DataError, match="not a language model yet: held-out .* min_gain 99%"):
        build_base(_config(tmp_path, catalogs, "a", "min_gain=0.99"))
    other = build_base(_config(tmp_path, catalogs, "a", "seed=5"))  # another key: retrained
    assert not other.skipped and other.key != a.key
    assert not all(torch.equal(wa[k], _weights(other.model)[k]) for k in wa)


def test_a_bad_base_config_is_one_line(tmp_path: Path) -> None:
    yaml = tmp_path / "b.yaml"
    yaml.write_text("output_dir: x\ncorpus: {kind: web}\n")
    res = CliRunner().invoke(app, ["base", "build", str(yaml)])
    assert res.exit_code == 2
    assert "corpus.kind" in res.output and "'web'" in res.output and "Traceback" not in res.output


@pytest.mark.parametrize("name", ["en", "en_llama", "cs", "pl"])
def test_the_shipped_builds_load(name: str) -> None:
    cfg = load_base_config(REPO / f"yamls/base/builds/{name}.yaml")
    assert cfg.output_dir == f"artifacts/base/{name}"
    assert (cfg.recipe == "yamls/base/mpt.yaml") == (name == "en")
    assert (cfg.recipe == "yamls/base/llama.yaml") == (name == "en_llama")


def test_the_llama_twin_builds_with_its_vocabulary_as_a_config_override(
    catalogs: Path, tmp_path: Path
) -> None:
    """The Llama recipe (``hf_causal_lm``) takes the BPE's vocabulary size through
    ``model.config_overrides``: the built model's embedding and head have those rows."""
    tiny = [
        f"model.pretrained_model_name_or_path={REPO / 'yamls/base/llama-base'}",
        "model.config_overrides.hidden_size=32",
        "model.config_overrides.intermediate_size=64",
        "model.config_overrides.num_attention_heads=2",
        "model.config_overrides.num_key_value_heads=2",
        "model.config_overrides.num_hidden_layers=1",
        *TINY[3:],
    ]
    cfg = load_base_config(
        (tmp_path / "l.yaml").write_text(
            "output_dir: OUT\ncorpus: {kind: gettext, language: cs}\nheld_out: 0.2\n"
            f"vocab_size: 400\nmax_seq_len: 64\nrecipe: {REPO / 'yamls/base/llama.yaml'}\n"
        )
        and tmp_path / "l.yaml",
        [
            f"output_dir={tmp_path / 'llama'}",
            f"corpus.roots=[{catalogs}]",
            f"overrides=[{','.join(tiny)}]",
            "min_gain=-10",
        ],
    )
    result = build_base(cfg)
    weights = _weights(result.model)
    rows = {
        k: v.shape[0]
        for k, v in weights.items()
        if k.endswith(("embed_tokens.weight", "lm_head.weight"))
    }
    assert len(rows) == 2 and set(rows.values()) == {448}, rows  # 400 rounded up to 64s
    assert result.parameters == sum(v.numel() for v in weights.values())


def test_a_missing_recipe_is_one_line_naming_the_key(tmp_path: Path) -> None:
    res = CliRunner().invoke(
        app,
        ["base", "build", str(REPO / "yamls/base/builds/en.yaml"), "recipe=yamls/base/nope.yaml"],
    )
    assert res.exit_code == 2, res.output
    assert "recipe" in res.output and "nope.yaml" in res.output and "does not exist" in res.output
    assert "Traceback" not in res.output


def test_a_build_checks_its_inputs_before_the_corpus(catalogs: Path, tmp_path: Path) -> None:
    """A typo in the recipe's overrides, or another build's text not built yet, fails before
    the corpus, tokenizer and shards (minutes on the real builds), naming the key."""
    res = CliRunner().invoke(
        app,
        [
            "base",
            "build",
            str(REPO / "yamls/base/builds/cs.yaml"),
            f"output_dir={tmp_path / 'cs'}",
            f"encode.en_held_out={tmp_path / 'nope.jsonl'}",
        ],
    )
    assert res.exit_code == 2, res.output  # data missing: exit 2, as every DataError
    assert "key 'encode.en_held_out'" in res.output and "nope.jsonl' does not exist" in res.output
    assert "Traceback" not in res.output and not (tmp_path / "cs/corpus").exists()

    from csmpt.errors import ConfigError

    with pytest.raises(ConfigError, match="'model.d_modl' is not a setting"):
        build_base(_config(tmp_path, catalogs, "typo", "overrides=[model.d_modl=3]"))
    assert not (tmp_path / "typo/corpus").exists()


def test_a_model_worse_than_the_unigram_is_said_to_be_above_it() -> None:
    """A smoke build (min_gain < 0) used to print "-28.6% below the unigram"."""
    from csmpt.base.build import gain_words

    assert gain_words(0.286) == "28.6% below the unigram"
    assert gain_words(-0.286) == "28.6% above the unigram (worse)"
