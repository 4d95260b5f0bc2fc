"""lm-eval's acc/acc_norm and llm-foundry's per-token accuracy, with standard errors, by hand."""

from __future__ import annotations

import csv
import io
import json
import math
from pathlib import Path

import pytest

from csmpt.eval.mc_metrics import ChoiceScores, aggregate, item_correct, mean_stderr

# Three items where the metrics disagree. Item 2's choices are Czech: "čáp" is 3 characters but
# 5 UTF-8 bytes, so dividing by bytes (not lm-eval's len(str)) picks the other choice.
ITEMS = [
    # acc: -4 > -9 -> 0 (gold); acc_norm: -4/2 = -2 < -9/6 = -1.5 -> 1; per token: -4 < -3 -> 1
    ChoiceScores((-4.0, -9.0), n_tokens=(1, 3), n_chars=(2, 6), gold=0),
    # acc: -3.3 > -4.2 -> 0; acc_norm: -1.1 < -1.05 -> 1 (gold); per token: -1.65 > -4.2 -> 0
    ChoiceScores((-3.3, -4.2), n_tokens=(2, 1), n_chars=(len("čáp"), len("abcd")), gold=1),
    # every metric picks choice 0 (gold)
    ChoiceScores((-1.0, -5.0), n_tokens=(1, 1), n_chars=(3, 3), gold=0),
]


def test_acc_acc_norm_per_token_and_stderr_match_hand_computation() -> None:
    per_item = [item_correct(i) for i in ITEMS]
    assert [x["acc"] for x in per_item] == [1.0, 0.0, 1.0]
    assert [x["acc_norm"] for x in per_item] == [0.0, 1.0, 1.0]
    assert [x["acc_per_token"] for x in per_item] == [0.0, 0.0, 1.0]
    scores, stderr = aggregate(per_item)
    assert list(scores) == ["acc_norm", "acc", "acc_per_token"]  # the default first
    assert scores == pytest.approx({"acc_norm": 2 / 3, "acc": 2 / 3, "acc_per_token": 1 / 3})
    # sample variance of (1, 0, 1): ((1/3)^2 * 2 + (2/3)^2) / (3 - 1) = 1/3; stderr sqrt(1/3 / 3)
    assert stderr == pytest.approx({"acc_norm": 1 / 3, "acc": 1 / 3, "acc_per_token": 1 / 3})
    assert mean_stderr([1.0, 0.0, 0.0, 0.0]) == pytest.approx(math.sqrt(0.25 / 4))
    assert math.isnan(mean_stderr([1.0]))


def test_ties_go_to_the_first_choice_as_numpy_argmax() -> None:
    tie = ChoiceScores((-2.0, -2.0), n_tokens=(1, 1), n_chars=(4, 4), gold=1)
    assert item_correct(tie) == {"acc_norm": 0.0, "acc": 0.0, "acc_per_token": 0.0}


def _hand_loglikelihood(model, tok, query: str, choice: str) -> tuple[float, int]:  # noqa: ANN001
    """sum log p(continuation | query) with the continuation ' ' + choice, tokenized apart."""
    import torch

    ctx = tok(query, add_special_tokens=False)["input_ids"]
    cont = tok(" " + choice, add_special_tokens=False)["input_ids"]
    ids = torch.tensor([ctx + cont])
    with torch.no_grad():
        logp = torch.log_softmax(model(input_ids=ids).logits[0].float(), dim=-1)
    return sum(float(logp[len(ctx) + i - 1, t]) for i, t in enumerate(cont)), len(cont)


@pytest.mark.slow
def test_evaluate_icl_scores_equal_a_hand_computation_on_a_three_item_file(
    tokenizer_dir: Path, tmp_path: Path
) -> None:
    """One pass of ``evaluate_icl`` on a tiny model: each choice's log-likelihood, its token
    and character counts, the three accuracies and their errors, and the table's columns."""
    import torch

    from csmpt.checkpoint.loading import build_recipe_model
    from csmpt.eval.icl import build_evaluators, evaluate_icl
    from csmpt.eval.table import EvalRow, to_csv, to_markdown

    items = [
        {"query": "Kočka sedí na", "choices": ["střeše.", "ok", "žluťoučký kůň úpěl"], "gold": 0},
        {"query": "Praha je hlavní", "choices": ["město.", "řeka", "a"], "gold": 1},
        {"query": "Ráno vyšlo", "choices": ["slunce nad lesem.", "čáp", "xyz"], "gold": 2},
    ]
    data = tmp_path / "three.jsonl"
    data.write_text("".join(json.dumps(x, ensure_ascii=False) + "\n" for x in items), "utf-8")
    torch.manual_seed(0)
    rm = build_recipe_model("yamls/tiny/mpt.yaml", [f"variables.tokenizer_name={tokenizer_dir}"])
    task = {
        "label": "three",
        "dataset_uri": str(data),
        "icl_task_type": "multiple_choice",
        "num_fewshot": [0],
        "continuation_delimiter": " ",
    }
    # batch 6 = 2 items per batch: the second batch holds the third item alone
    (res,) = evaluate_icl(rm.model, build_evaluators([task], rm.tokenizer, 64, 6))
    inner = rm.model.model.eval()
    hand = []
    for x, got in zip(items, res.details, strict=True):
        scored = [_hand_loglikelihood(inner, rm.tokenizer, x["query"], c) for c in x["choices"]]
        assert list(got.loglikelihoods) == pytest.approx([s[0] for s in scored], abs=1e-4)
        assert list(got.n_tokens) == [s[1] for s in scored]
        assert list(got.n_chars) == [len(c) for c in x["choices"]]  # characters, not bytes
        lls = [s[0] for s in scored]
        acc = float(max(range(3), key=lambda j: (lls[j], -j)) == x["gold"])
        norm = [ll / len(c) for ll, c in zip(lls, x["choices"], strict=True)]
        acc_norm = float(max(range(3), key=lambda j: (norm[j], -j)) == x["gold"])
        tok = [ll / s[1] for ll, s in zip(lls, scored, strict=True)]
        per_token = float(max(range(3), key=lambda j: (tok[j], -j)) == x["gold"])
        hand.append({"acc_norm": acc_norm, "acc": acc, "acc_per_token": per_token})
    assert res.items == 3
    for m in ("acc_norm", "acc", "acc_per_token"):
        col = [h[m] for h in hand]
        mean = sum(col) / 3
        sd = math.sqrt(sum((v - mean) ** 2 for v in col) / 2)
        assert res.scores[m] == pytest.approx(mean), m
        assert (math.isnan(res.stderr[m]) and sd == 0) or res.stderr[m] == pytest.approx(
            sd / math.sqrt(3)
        ), m
    assert res.accuracy == res.scores["acc_norm"]
    # the table names every metric; acc_norm comes first
    row = EvalRow("tiny", 0, [res])
    header = next(csv.reader(io.StringIO(to_csv([row]))))
    assert header[2:8] == [
        "three/0-shot/acc_norm",
        "three/0-shot/acc_norm_stderr",
        "three/0-shot/acc",
        "three/0-shot/acc_stderr",
        "three/0-shot/acc_per_token",
        "three/0-shot/acc_per_token_stderr",
    ]
    md = to_markdown([row])
    assert "| three/0-shot acc_norm | three/0-shot acc | three/0-shot acc_per_token |" in md
    assert md.count("\n") == 3 and "± " in md.split("\n")[2]  # the table alone, value ± error
