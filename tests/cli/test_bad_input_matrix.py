"""Ordinary mistakes over every command: exit 2, one short message, no traceback, nothing written.

The cases run in-process (typer's CliRunner, the app imported once), each in an empty working
folder whose files are compared before and after.
"""

from __future__ import annotations

import zipfile
from pathlib import Path

import pytest
from typer.testing import CliRunner

from csmpt.cli import app

REPO = Path(__file__).resolve().parents[2]
MPT = str(REPO / "yamls/tiny/mpt.yaml")
PREP = str(REPO / "data_prep/sample.yaml")
TOK = str(REPO / "data_prep/tokenizer/sample.yaml")
TOK_INPUT = f"inputs=[{REPO / 'data/samples/cs_web.jsonl'}]"  # trains in a second if let through
SURGERY = str(REPO / "yamls/surgery/mpt_en_to_cs.yaml")
EVAL = str(REPO / "eval/cs_hellaswag_tiny.yaml")
MIXTURE = str(REPO / "yamls/tiny/mpt_mixture.yaml")
FILTER = str(REPO / "data_prep/filter/sample.yaml")
ABLATE = str(REPO / "yamls/ablate/tiny.yaml")

# (id, argv with {T} = the working folder, {TRAIN} = the tiny recipe's data overrides, {EN} =
# the English tokenizer, words the message must hold)
CASES: list[tuple[str, list[str], list[str]]] = [
    ("prep-seq-0", ["prep", PREP, "max_seq_len=0"], ["max_seq_len", ">= 1"]),
    ("prep-seq-neg", ["prep", PREP, "max_seq_len=-1"], ["max_seq_len", ">= 1"]),
    ("prep-seq-abc", ["prep", PREP, "max_seq_len=abc"], ["max_seq_len"]),
    ("prep-val-frac", ["prep", PREP, "val_fraction=1.5"], ["val_fraction", "[0, 1)"]),
    ("prep-index-past-end", ["prep", PREP, "corpora.9.inputs=[a]"], ["corpora", "index 0.."]),
    ("prep-unknown-key", ["prep", PREP, "max_seq_lenn=8"], ["max_seq_lenn", "allowed here"]),
    # a bad codec or shard size once failed after the output folder was made
    ("prep-codec", ["prep", PREP, "output_dir={T}/mds", "compression=zstd2"], ["zstd2"]),
    ("prep-size", ["prep", PREP, "output_dir={T}/mds", "size_limit=64XB"], ["64XB"]),
    ("prep-missing-yaml", ["prep", "{T}/nope.yaml"], ["does not exist"]),
    ("prep-empty-yaml", ["prep", "{T}/empty.yaml"], ["expected a mapping"]),
    ("prep-missing-at-file", ["prep", PREP, "@{T}/nope.overrides"], ["does not exist"]),
    ("prep-bad-at-file", ["prep", PREP, "@{T}/bad.overrides"], ["[config.yaml]", ":2:"]),
    ("prep-not-key-value", ["prep", PREP, "max_seq_len"], ["key=value"]),
    ("tokenizer-vocab-neg", ["tokenizer", "train", TOK, "vocab_size=-5"], ["vocab_size"]),
    (
        "tokenizer-onto-file",
        ["tokenizer", "train", TOK, TOK_INPUT, "vocab_size=300", "output_dir={T}/notes.txt"],
        ["output_dir", "notes.txt", "is a file"],
    ),
    (
        "tokenizer-onto-other-folder",
        ["tokenizer", "train", TOK, TOK_INPUT, "vocab_size=300", "output_dir={T}"],
        ["output_dir", "no tokenizer"],
    ),
    (
        "surgery-pad-neg",
        ["surgery", SURGERY, "vocab_swap.pad_to_multiple_of=-64"],
        ["vocab_swap.pad_to_multiple_of", ">= 1"],
    ),
    ("surgery-seed-neg", ["surgery", SURGERY, "seed=-1"], ["seed", ">= 0"]),  # a traceback
    (
        "eval-batch-neg",
        ["eval", EVAL, "device_eval_batch_size=-1"],
        ["device_eval_batch_size", ">= 1"],
    ),
    ("eval-seq-0", ["eval", EVAL, "max_seq_len=0"], ["max_seq_len", ">= 1"]),
    (
        "train-batch-neg",
        ["train", MPT, "{TRAIN}", "global_train_batch_size=-4"],
        ["global_train_batch_size", "positive integer"],
    ),
    ("train-seq-abc", ["train", MPT, "{TRAIN}", "max_seq_len=abc"], ["max_seq_len", "'abc'"]),
    ("train-duration", ["train", MPT, "{TRAIN}", "max_duration=10steps"], ["max_duration", "1ep"]),
    (  # a bare number is epochs to Composer: 100 meant as batches trained 100 epochs
        "train-duration-bare",
        ["train", MPT, "{TRAIN}", "max_duration=100"],
        ["max_duration", "100ba", "100 epochs"],
    ),
    ("train-precision", ["train", MPT, "{TRAIN}", "precision=bf17"], ["precision", "amp_bf16"]),
    ("train-lr-neg", ["train", MPT, "{TRAIN}", "optimizer.lr=-1"], ["optimizer.lr", "positive"]),
    (
        "train-fsdp-version",
        ["train", MPT, "{TRAIN}", "fsdp_config={version: 3}"],
        ["fsdp_config.version", "2 (FSDP2"],
    ),
    ("train-unknown-top", ["train", MPT, "{TRAIN}", "max_steps=10"], ["max_steps", "variables"]),
    (
        "train-optimizer-kwarg",
        ["train", MPT, "{TRAIN}", "optimizer.betaz=[0.9,0.95]"],
        ["optimizer.betaz", "allowed: "],
    ),
    (
        "train-scheduler-kwarg",
        ["train", MPT, "{TRAIN}", "scheduler.t_warmpu=1ba"],
        ["scheduler.t_warmpu"],
    ),
    (
        "train-optimizer-name",
        ["train", MPT, "{TRAIN}", "optimizer.name=lionw_typo"],
        ["optimizer.name", "unknown optimizer", "decoupled_lionw"],
    ),
    ("train-model-key", ["train", MPT, "{TRAIN}", "model.d_modle=8"], ["model.d_modle"]),
    # these three trained with exit 0: no checkpoint ever, or a negative warmup
    ("train-save-0", ["train", MPT, "{TRAIN}", "save_interval=0ba"], ["save_interval", "10ba"]),
    (
        "train-warmup-neg",
        ["train", MPT, "{TRAIN}", "scheduler.t_warmup=-5ba"],
        ["scheduler.t_warmup", "a time >= 0"],
    ),
    (
        "train-save-folder-file",
        ["train", MPT, "{TRAIN}", "save_folder={T}/notes.txt/run"],
        ["save_folder", "notes.txt' is a file"],
    ),
    (
        "train-load-path-text",
        ["train", MPT, "{TRAIN}", "load_path={T}/notes.txt"],
        ["load_path", "not a Composer checkpoint"],
    ),
    (
        "train-corpus-of-another-tokenizer",
        ["train", MPT, "{TRAIN}", "variables.tokenizer_name={EN}"],
        ["train_loader.dataset.local", "was encoded by the tokenizer", "decode to other text"],
    ),
    (
        "train-load-path-missing",
        ["train", MPT, "{TRAIN}", "load_path={T}/surgery/model.pt"],
        ["load_path", "does not exist", "csmpt surgery"],
    ),
    (
        "train-icl-index",
        ["train", MPT, "{TRAIN}", "icl_tasks.7.dataset_uri=x.jsonl"],
        ["icl_tasks", "index 0.."],
    ),
    (
        "launch-dry-run-preflight",
        ["launch", "--scheduler", "slurm", "--dry-run", MPT, "{TRAIN}", "max_seq_len=-1"],
        ["max_seq_len", "positive integer"],
    ),
    ("launch-scheduler", ["launch", "--scheduler", "lsf", MPT], ["choose one of"]),
    # --nproc 0 once meant "unset": a dry run printed 8 processes and exited 0
    ("launch-nproc-0", ["launch", "--dry-run", "--nproc", "0", MPT], ["--nproc 0", "at least 1"]),
    ("launch-nodes-0", ["launch", "--scheduler", "pbs", "--nodes", "0", MPT], ["--nodes 0"]),
    (
        "launch-gpus-0",
        ["launch", "--scheduler", "slurm", "--gpus-per-node", "0", MPT],
        ["--gpus-per-node 0", "--nproc"],
    ),
    ("launch-port", ["launch", "--master-port", "99999", MPT], ["--master-port 99999", "65535"]),
    ("ablate-unknown-key", ["ablate", ABLATE, "seedz=[1,2]"], ["seedz", "allowed here"]),
    ("ablate-no-variants", ["ablate", ABLATE, "variants=[]"], ["variants", "at least one"]),
    ("ablate-seed-not-int", ["ablate", ABLATE, "seeds=[1,x]"], ["seeds.1", "Integer"]),
    ("ablate-seeds-not-list", ["ablate", ABLATE, "seeds=17"], ["seeds"]),
    (
        "ablate-duplicate-variant",
        ["ablate", ABLATE, "variants.1.name=lr-2e-3"],
        ["variants.1.name", "named twice"],
    ),
    (
        "ablate-missing-recipe",
        ["ablate", ABLATE, "recipe={T}/nope.yaml", "--dry-run"],
        ["lr-2e-3", "does not exist"],
    ),
    (
        "export-missing-ckpt",
        ["export", "{T}/nope.pt", "{T}/hf", "--train-yaml", MPT],
        ["does not exist"],
    ),
    (
        "export-not-ckpt",
        ["export", "{T}/notes.txt", "{T}/hf", "--train-yaml", MPT],
        ["not a Composer checkpoint"],
    ),
    (
        "export-unknown-override",
        ["export", "{T}/ckpt.pt", "{T}/hf", "--train-yaml", MPT, "model.d_modle=8"],
        ["model.d_modle"],
    ),
    (
        "export-unknown-top",
        ["export", "{T}/ckpt.pt", "{T}/hf", "--train-yaml", MPT, "max_steps=8"],
        ["max_steps"],
    ),
    (
        "validate-unknown-override",
        ["validate", "{T}/ckpt.pt", "--train-yaml", MPT, "model.d_modle=8"],
        ["model.d_modle"],
    ),
    ("validate-missing", ["validate", "{T}/nope", "--train-yaml", MPT], ["no such checkpoint"]),
    (  # 0 scored an empty text as a row, a negative number nothing: exit 0 both
        "validate-max-samples-0",
        ["validate", "{T}/ckpt.pt", "--train-yaml", MPT, "--max-samples", "0"],
        ["--max-samples 0", ">= 1"],
    ),
    (  # a mistyped local folder went to the hub's repo-id check: a traceback
        "validate-model-missing",
        ["validate", "--train-yaml", MPT, "--model", "hf={T}/nope", "--csv", "{T}/v.csv"],
        ["--model hf=", "no config.json"],
    ),
    (
        "mixture-typo-override",
        ["mixture", MIXTURE, "train_loadr.x=1"],
        ["train_loadr", "not a top-level key"],
    ),
    (
        "eval-negative-shots",
        ["eval", EVAL, "icl_tasks.0.num_fewshot=[-1]", "output_dir={T}/ev"],
        ["icl_tasks.0.num_fewshot"],
    ),
    (  # run from another folder: the recipe's relative tokenizer path is not there
        "validate-tokenizer-elsewhere",
        ["validate", "{T}/ckpt.pt", "--train-yaml", MPT],
        ["tokenizer.name", "does not exist", "relative to"],
    ),
    (
        "eval-checkpoints-missing",
        ["eval", EVAL, "checkpoints={T}/nope"],
        ["checkpoint folder", "nope' does not exist"],
    ),
    ("init-onto-file", ["init", "{T}/notes.txt", "--base", "mpt-7b", "--language", "sk"], ["file"]),
    ("mixture-missing", ["mixture", "{T}/nope.yaml"], ["does not exist"]),
    ("filter-unknown-key", ["filter", "train", FILTER, "cc=1.0"], ["cc"]),
    ("filter-seed-neg", ["filter", "train", FILTER, "seed=-1"], ["seed", ">= 0"]),
    # An output folder named after a file, or the project folder itself: replacing it whole
    # once deleted the file (and would have deleted the folder), exit 0.
    (
        "filter-out-file",
        ["filter", "train", FILTER, "output_dir={T}/notes.txt"],
        ["output_dir", "notes.txt", "is a file"],
    ),
    (
        "filter-out-project",
        ["filter", "train", FILTER, "output_dir={T}"],
        ["output_dir", "other files and no classifier", "new folder"],
    ),
    (
        "export-overwrite-project",
        ["export", "{T}/ckpt.pt", "{T}", "--train-yaml", MPT, "--overwrite"],
        ["other files and no HF export"],
    ),
    ("prep-out-file", ["prep", PREP, "output_dir={T}/notes.txt"], ["output_dir", "is a file"]),
    (
        "eval-out-file",
        ["eval", EVAL, "output_dir={T}/notes.txt"],
        ["output_dir", "notes.txt' is a file"],
    ),
    ("report-missing", ["report", "{T}/nope"], ["nope"]),
    ("inspect-missing", ["inspect-batch", "--run", "{T}/nope", "--step", "1"], ["nope"]),
]


def _tree(root: Path) -> set[str]:
    return {str(p.relative_to(root)) for p in root.rglob("*")}


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty working folder with the few files the cases point at."""
    (tmp_path / "empty.yaml").write_text("")
    (tmp_path / "notes.txt").write_text("not a checkpoint\n")
    (tmp_path / "bad.overrides").write_text("max_seq_len=8\nnot a key value line\n")
    with zipfile.ZipFile(tmp_path / "ckpt.pt", "w") as z:  # passes the zip check only
        z.writestr("ckpt/data.pkl", b"")
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.mark.parametrize(("argv", "words"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_mistake_costs_one_line(
    argv: list[str], words: list[str], workdir: Path, tiny_overrides, en_tokenizer_dir: Path
) -> None:
    icl = f"icl_tasks.0.dataset_uri={REPO / 'data/samples/cs_hellaswag.jsonl'}"  # a list item
    train = [*tiny_overrides(workdir / "run"), icl] if "{TRAIN}" in argv else []
    args: list[str] = []
    for a in argv:
        a = a.replace("{EN}", str(en_tokenizer_dir))
        args += train if a == "{TRAIN}" else [a.replace("{T}", str(workdir))]
    before = _tree(workdir)
    res = CliRunner().invoke(app, args)
    out = res.output.strip()
    assert res.exit_code == 2, f"exit {res.exit_code}: {out}\n{res.exception!r}"
    assert len(out.splitlines()) <= 3, out
    assert "Traceback" not in out
    for w in words:
        assert w in out, out
    assert _tree(workdir) == before, "the mistake left files behind"
