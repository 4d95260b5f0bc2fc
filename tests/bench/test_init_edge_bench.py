"""bench/init_edge.py against values computed by hand on a toy ablation folder.

The tables come from the script's ``main`` in this process (a subprocess per table cost ~8 s of
imports each); the mistakes run it as a user does, in a subprocess, for the exit code and the
one line on stderr.
"""

from __future__ import annotations

import contextlib
import importlib.util
import io
import json
import sys
from pathlib import Path

import pytest
import torch

_SPEC = importlib.util.spec_from_file_location(
    "init_edge_bench", Path(__file__).parents[2] / "bench" / "init_edge.py"
)
assert _SPEC is not None and _SPEC.loader is not None
INIT_EDGE = importlib.util.module_from_spec(_SPEC)
_SPEC.loader.exec_module(INIT_EDGE)


def init_edge(*args: str) -> str:
    """``bench/init_edge.py ARGS``'s stdout, run in this process."""
    out = io.StringIO()
    argv = sys.argv
    sys.argv = ["init_edge.py", *args]
    try:
        with contextlib.redirect_stdout(out):
            INIT_EDGE.main()
    finally:
        sys.argv = argv
    return out.getvalue()


# 4 tokens x 2 dims; rows 2 and 3 are the ones the two inits set differently
START = {
    "mean": [[1.0, 0.0], [0.0, 1.0], [0.5, 0.5], [0.5, 0.5]],
    "focus": [[1.0, 0.0], [0.0, 1.0], [1.0, 1.0], [0.0, 0.0]],
}
END = {  # mean: row 2 moves 0.5, row 3 moves 1.0; focus: row 2 moves 1.0, row 3 stays
    "mean": [[1.0, 0.0], [0.0, 1.0], [0.8, 0.9], [0.5, 1.5]],
    "focus": [[1.0, 0.0], [0.0, 1.0], [1.6, 1.8], [0.0, 0.0]],
}
LOSS = {  # train loss at steps 1-4; focus's seed 18 is 0.5 lower over steps 1-2
    ("mean", 17): [5.0, 4.0, 3.0, 2.0],
    ("mean", 18): [5.0, 4.0, 3.0, 2.0],
    ("focus", 17): [4.5, 3.5, 3.0, 2.5],
    ("focus", 18): [4.0, 3.0, 3.0, 2.5],
}

EVAL = {  # held-out bpb: focus starts 0.2 lower; seed 18's edge widens to 0.4, seed 17's closes
    ("mean", 17): {0: 4.0, 2: 3.0, 4: 2.5},
    ("mean", 18): {0: 4.0, 2: 3.0, 4: 2.5},
    ("focus", 17): {0: 3.8, 2: 2.9, 3: 2.7, 4: 2.5},
    ("focus", 18): {0: 3.8, 2: 2.7, 3: 2.4, 4: 2.1},
}


def _save(path: Path, embedding: list[list[float]], block: list[float]) -> None:
    """A Composer checkpoint as a surgery or a run writes it: weights and their HF config."""
    from csmpt.surgery.io import ModelWeights, write_composer_checkpoint

    path.parent.mkdir(parents=True, exist_ok=True)
    state = {
        "transformer.wte.weight": torch.tensor(embedding),
        "transformer.blocks.0.ffn.up_proj.weight": torch.tensor(block),
    }
    config = {"model_type": "mpt", "tie_word_embeddings": True}
    write_composer_checkpoint(ModelWeights(config=config, state=state, source=path), path)


def _toy_ablation(root: Path) -> Path:
    for variant in ("mean", "focus"):
        for seed in (17, 18):
            _save(root / variant / f"surgery-{seed}" / "model.pt", START[variant], [1.0] * 4)
            run = root / variant / f"seed-{seed}"
            _save(run / "ep1-ba4-rank0.pt", END[variant], [1.0, 1.0, 1.0, 2.0])
            lines = [
                {"step": step, "loss/train/total": value}
                for step, value in enumerate(LOSS[variant, seed], 1)
            ]
            lines += [  # held-out bpb at steps 0, 2 and 4 (the baseline's never at 3)
                {"step": step, "metrics/eval/cs/BitsPerByte": value}
                for step, value in EVAL[variant, seed].items()
            ]
            (run / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in lines))
    return root


def _table(out: str) -> dict[str, dict[str, str]]:
    lines = [ln for ln in out.splitlines() if ln.startswith("|")]
    head = [c.strip() for c in lines[0].split("|")[1:-1]]
    rows = [[c.strip() for c in ln.split("|")[1:-1]] for ln in lines[2:]]
    return {r[0]: dict(zip(head, r, strict=True)) for r in rows}


def _word_tokenizer(folder: Path) -> Path:
    from tokenizers import Tokenizer
    from tokenizers.models import WordLevel
    from tokenizers.pre_tokenizers import WhitespaceSplit

    tok = Tokenizer(WordLevel({"a": 0, "b": 1, "c": 2, "d": 3}, unk_token="a"))
    tok.pre_tokenizer = WhitespaceSplit()
    folder.mkdir()
    tok.save(str(folder / "tokenizer.json"))
    return folder


@pytest.mark.parametrize("weighted", [False, True], ids=["plain", "by-corpus"])
def test_rows_body_gap_and_loss_windows_are_the_hand_computed_values(
    tmp_path: Path, weighted: bool
) -> None:
    folder = _toy_ablation(tmp_path / "abl")
    args = [str(folder), "--windows", "1-2,3-4"]
    if weighted:  # rows 2 and 3 are 3/4 and 1/4 of the corpus's tokens
        corpus = tmp_path / "corpus.jsonl"
        corpus.write_text(json.dumps({"text": "c c c d"}) + "\n")
        args += ["--corpus", str(corpus), "--tokenizer", str(_word_tokenizer(tmp_path / "tok"))]
    table = _table(init_edge(*args))
    w2, w3 = (0.75, 0.25) if weighted else (0.5, 0.5)
    mean, focus = table["mean"], table["focus"]
    assert mean["rows moved"] == f"{w2 * 0.5 + w3 * 1.0:.3f} ± 0.000"
    assert focus["rows moved"] == f"{w2 * 1.0 + w3 * 0.0:.3f} ± 0.000"
    assert mean["body moved"] == focus["body moved"] == "0.500 ± 0.000"  # |(0,0,0,1)| / 2
    gap0 = 0.5**0.5  # both new rows start sqrt(0.5) from mean's
    gap1 = w2 * 1.45**0.5 + w3 * 2.5**0.5  # (0.8, 0.9) and (0.5, 1.5) apart at the end
    assert focus["gap at 0"] == f"{gap0:.3f} ± 0.000"
    assert focus["gap at end"] == f"{gap1:.3f} ± 0.000"
    assert focus["gap ratio"] == f"{gap1 / gap0:.3f} ± 0.000"
    # steps 1-2: -0.5 and -1.0 by seed: mean -0.75, half-width t(0.975, 1) * 0.3536 / sqrt(2)
    assert focus["loss 1-2"] == f"-0.750 ± {12.706204736 * 0.5**0.5 * 0.5 / 2**0.5:.3f}"
    assert focus["loss 3-4"] == "+0.250 ± 0.000"  # (0 + 0.5) / 2 on both seeds
    assert mean["loss 1-2"] == mean["gap at 0"] == ""  # the baseline has no gap to itself


def test_a_folder_without_the_baseline_is_one_line(tmp_path: Path) -> None:
    import subprocess

    folder = _toy_ablation(tmp_path / "abl")
    proc = subprocess.run(
        [sys.executable, "bench/init_edge.py", str(folder), "--baseline", "random"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 1
    assert proc.stderr.strip() == (
        f"{folder}: no variant 'random' with a surgery (found ['focus', 'mean'])"
    )


def test_variants_picks_the_pairs_compared(tmp_path: Path) -> None:
    import shutil

    folder = _toy_ablation(tmp_path / "abl")
    shutil.copytree(folder / "focus", folder / "focus-wte")  # a third variant, left out below
    table = _table(init_edge(str(folder), "--variants", "focus"))
    assert sorted(table) == ["focus", "mean"]
    assert table["focus"]["gap at 0"] == f"{0.5**0.5:.3f} ± 0.000"
    swapped = _table(
        init_edge(
            *(str(folder), "--baseline", "focus", "--variants", "mean", "--windows", "3-4"),
        )
    )
    assert sorted(swapped) == ["focus", "mean"]
    assert swapped["mean"]["loss 3-4"] == "-0.250 ± 0.000"  # mean minus focus now


def test_eval_metric_gap_at_every_step_both_runs_evaluated(tmp_path: Path) -> None:
    folder = _toy_ablation(tmp_path / "abl")
    metric = "metrics/eval/cs/BitsPerByte"
    focus = _table(init_edge(str(folder), "--eval-metric", metric))["focus"]
    assert focus["Δ @0"] == "-0.200 ± 0.000"
    # step 2: -0.1 and -0.3 by seed: mean -0.2, sd 0.1414, half-width t(0.975, 1) * sd / sqrt(2)
    assert focus["Δ @2"] == f"-0.200 ± {12.706204736 * 0.1:.3f}"
    # step 4: 0.0 and -0.4: mean -0.2, sd 0.2828, half-width t * 0.2
    assert focus["Δ @4"] == f"-0.200 ± {12.706204736 * 0.2:.3f}"
    assert "Δ @3" not in focus  # the baseline did not evaluate there
    without = _table(init_edge(str(folder)))["focus"]
    assert not any(k.startswith("Δ") for k in without)


def test_a_variant_on_the_baselines_own_surgery_gets_its_loss_and_eval_gaps(
    tmp_path: Path,
) -> None:
    import shutil

    folder = _toy_ablation(tmp_path / "abl")
    shutil.copytree(folder / "focus", folder / "focus-embfirst")  # same surgery, other training
    for seed in (17, 18):  # 0.1 lower held-out bpb at step 4, 0.2 lower train loss at step 1
        metrics = folder / "focus-embfirst" / f"seed-{seed}" / "metrics.jsonl"
        rows = [json.loads(line) for line in metrics.read_text().splitlines()]
        for r in rows:
            if r["step"] == 4 and "metrics/eval/cs/BitsPerByte" in r:
                r["metrics/eval/cs/BitsPerByte"] -= 0.1
            if r["step"] == 1 and "loss/train/total" in r:
                r["loss/train/total"] -= 0.2
        metrics.write_text("".join(json.dumps(r) + "\n" for r in rows))
    args = ["--baseline", "focus", "--variants", "focus-embfirst", "--windows", "1-1"]
    out = init_edge(
        *(str(folder), *args, "--eval-metric", "metrics/eval/cs/BitsPerByte"),
    )
    row = _table(out)["focus-embfirst"]
    assert row["loss 1-1"] == "-0.200 ± 0.000"
    assert row["Δ @4"] == "-0.100 ± 0.000" and row["Δ @0"] == "+0.000 ± 0.000"
    assert "rows moved" not in row and "gap at 0" not in row  # no row differs: no columns
    assert row["body moved"] == "0.500 ± 0.000"


@pytest.mark.parametrize(
    ("mistake", "code", "says"),
    [
        ("corpus-without-tokenizer", 2, "--corpus and --tokenizer go together"),
        ("bad-window", 2, "'10-1' is not a step window FIRST-LAST (1-10)"),
        ("wrong-folder", 1, "no such ablation folder"),
        ("run-without-checkpoint", 1, "holds no Composer checkpoints"),
        ("metric-typo", 1, "never logged metrics/eval/cs/BitsPerbyte (logged: ["),
    ],
)
def test_a_users_mistake_is_one_line_and_no_table(
    tmp_path: Path, mistake: str, code: int, says: str
) -> None:
    import subprocess

    folder = _toy_ablation(tmp_path / "abl")
    args = {
        "corpus-without-tokenizer": [str(folder), "--corpus", str(tmp_path / "c.jsonl")],
        "bad-window": [str(folder), "--windows", "1-2,10-1"],
        "wrong-folder": [str(tmp_path / "ablx")],
        "run-without-checkpoint": [str(folder)],
        "metric-typo": [str(folder), "--eval-metric", "metrics/eval/cs/BitsPerbyte"],
    }[mistake]
    if mistake == "run-without-checkpoint":  # a run killed before its first save
        (folder / "focus" / "seed-18" / "ep1-ba4-rank0.pt").unlink()
    proc = subprocess.run(
        [sys.executable, "bench/init_edge.py", *args],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == code, proc.stderr
    assert says in proc.stderr and "Traceback" not in proc.stderr
    assert "|" not in proc.stdout
