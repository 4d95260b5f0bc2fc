"""``csmpt ablate`` comparing vocabulary-swap inits: each run starts from its own surgery.

A random 3-layer "English" MPT is swapped to the session's Czech tokenizer (mean init), and a
second variant trains from scratch (the tiny recipe's own 2 layers): the runs that started from a
surgery carry its 3 layers, the scratch run does not; the surgery run's merge path scores its
surgery at α 0 and its trained model at α 1 exactly as they score alone; a rerun redoes
nothing, and a damaged merge record is redone; a mistake in a variant's surgery overrides fails
before anything runs.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
import yaml
from transformers import AutoTokenizer
from typer.testing import CliRunner

from csmpt.checkpoint.loading import find_checkpoints
from csmpt.cli import app
from csmpt.surgery.io import ModelWeights, load_source, write_hf_dir
from csmpt.surgery.merge import read_texts, score_texts

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]


def _english_mpt(folder: Path) -> Path:
    from llmfoundry.models.mpt import MPTConfig, MPTForCausalLM

    torch.manual_seed(0)
    cfg = MPTConfig(
        d_model=64,
        n_heads=4,
        n_layers=3,
        expansion_ratio=4,
        max_seq_len=128,
        vocab_size=2048,
        no_bias=True,
        init_device="cpu",
        attn_config={"attn_impl": "torch", "alibi": True},
    )
    model = MPTForCausalLM(cfg)
    write_hf_dir(ModelWeights(cfg.to_dict(), dict(model.state_dict()), folder), folder, None)
    return folder


def _spec(
    path: Path,
    out: Path,
    tiny_overrides,  # noqa: ANN001
    surgery: list[str],
    variants: list[dict[str, object]],
    merge: dict[str, object] | None = None,
) -> Path:
    spec = {
        "recipe": str(REPO / "yamls/tiny/mpt.yaml"),
        "output_dir": str(out),
        "seeds": [1],
        "metrics": ["metrics/eval/LanguageCrossEntropy"],
        "overrides": [
            *tiny_overrides(out / "unused")[:2],
            "max_duration=2ba",
            "scheduler.t_warmup=0ba",  # Composer trains its first 2 warm-up steps at lr 0
            "eval_interval=2ba",
            "save_interval=2ba",
            "eval_first=true",
            "eval_subset_num_batches=1",
            "icl_subset_num_batches=1",
            "icl_tasks.0.num_fewshot=[0]",
        ],
        "surgery": {"recipe": str(REPO / "yamls/surgery/mpt_en_to_cs.yaml"), "overrides": surgery},
        "variants": variants,
    }
    if merge:
        spec["merge"] = merge
    path.write_text(yaml.safe_dump(spec, sort_keys=False))
    return path


def _ablate(*args: str) -> tuple[int, str]:
    res = CliRunner().invoke(app, ["ablate", *args], terminal_width=200)
    return res.exit_code, res.output


def _last(run: Path) -> Path:
    return find_checkpoints(run)[-1].path


def _layers(run: Path) -> int:
    state = torch.load(run / "latest-rank0.pt", map_location="cpu", weights_only=False)
    return len({k.split(".")[3] for k in state["state"]["model"] if ".blocks." in k})


def test_a_surgery_variant_trains_from_its_own_surgery_and_a_rerun_redoes_nothing(
    en_tokenizer_dir: Path,
    tokenizer_dir: Path,
    tiny_overrides,  # noqa: ANN001
    tmp_path: Path,
) -> None:
    en = _english_mpt(tmp_path / "en")
    surgery = [
        f"source.model={en}",
        f"source.tokenizer={en_tokenizer_dir}",
        f"target.tokenizer={tokenizer_dir}",
        "report.eval_sequences=2",
        "output.hf=false",
    ]
    variants = [
        {"name": "mean", "surgery": ["vocab_swap.init=mean"]},
        {"name": "scratch", "scratch": True},
    ]
    out = tmp_path / "out"
    held = tmp_path / "held.jsonl"
    lines = (REPO / "data/samples/cs_web.jsonl").read_text(encoding="utf-8").splitlines()
    held.write_text("\n".join(lines[:4]) + "\n", encoding="utf-8")
    merge = {"texts": {"cs": str(held)}, "alphas": [0, 0.5], "window": 64}
    spec = _spec(tmp_path / "spec.yaml", out, tiny_overrides, surgery, variants, merge)
    code, text = _ablate(str(spec))
    assert code == 0, text
    assert text.count(": surgery in ") == 1
    assert text.count("merge path (α 0, 0.5, 1)") == 1, text  # the scratch run has no surgery
    assert (out / "mean" / "surgery-1" / "model.pt").is_file()
    assert _layers(out / "mean" / "seed-1") == 3  # the surgery output's shapes
    assert not (out / "scratch" / "surgery-1").exists()
    assert _layers(out / "scratch" / "seed-1") == 2  # the recipe's own
    rows = (out / "ablation.csv").read_text().splitlines()
    assert len(rows) == 3 and {r.split(",")[0] for r in rows[1:]} == {"mean", "scratch"}

    record = out / "mean" / "merge-1" / "merge.json"
    path = {p["alpha"]: p["bpb"]["cs"] for p in json.loads(record.read_text())["points"]}
    assert sorted(path) == [0.0, 0.5, 1.0] and not list(record.parent.glob("**/*.pt"))
    tok = AutoTokenizer.from_pretrained(str(tokenizer_dir))
    docs = read_texts({"cs": held})
    alone = {
        a: score_texts(load_source(model), tok, docs, 64)["cs"]
        for a, model in ((0.0, out / "mean/surgery-1/model.pt"), (1.0, _last(out / "mean/seed-1")))
    }
    assert path[0.0] == pytest.approx(alone[0.0], rel=1e-6)
    assert path[1.0] == pytest.approx(alone[1.0], rel=1e-6)
    assert path[0.0] != pytest.approx(path[1.0], rel=1e-3)  # training moved the model
    verdict = (out / "verdict.md").read_text()
    assert "## Merge paths" in verdict and "| mean | cs | 0.5 |" in verdict, verdict
    assert len((out / "merge.csv").read_text().splitlines()) == 1 + 3

    stamps = {p: p.stat().st_mtime_ns for p in [*out.rglob("*.pt"), record]}
    code, text = _ablate(str(spec))
    assert code == 0 and "surgery in" not in text and text.count("done, skipped") == 2, text
    assert "merge path" not in text.split("done, skipped")[-1].split("\n")[0]
    assert text.count("merge path (") == 0, text
    assert {p: p.stat().st_mtime_ns for p in [*out.rglob("*.pt"), record]} == stamps

    record.write_text('{"inputs": [], "points": [{"alpha": 0')  # a flipped disk, a bad copy
    code, text = _ablate(str(spec))
    assert code == 0 and text.count("merge path (") == 1, text
    again = {p["alpha"]: p["bpb"]["cs"] for p in json.loads(record.read_text())["points"]}
    assert again == path


@pytest.mark.parametrize(
    ("variant", "says"),
    [
        ({"name": "typo", "surgery": ["vocab_swap.inti=mean"]}, "variant 'typo'"),
        ({"name": "both", "scratch": True, "surgery": ["vocab_swap.init=mean"]}, "from scratch"),
    ],
)
def test_a_bad_surgery_variant_fails_before_anything_runs(
    variant: dict[str, object],
    says: str,
    tiny_overrides,  # noqa: ANN001
    tmp_path: Path,
) -> None:
    out = tmp_path / "out"
    good = {"name": "mean", "surgery": ["vocab_swap.init=mean"]}
    spec = _spec(tmp_path / "spec.yaml", out, tiny_overrides, [], [good, variant])
    code, text = _ablate(str(spec))
    assert code == 2 and says in text and "Traceback" not in text, text
    assert not out.exists() or not any(out.rglob("*.pt"))
