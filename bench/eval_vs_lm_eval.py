"""csmpt eval (llm-foundry's ICL machinery) vs lm-evaluation-harness: items/s and accuracy.

Both score the same exported HF model on the same multiple-choice items with the same prompts,
by mean per-token log-likelihood (the choice with the highest sum(log p) / n_tokens wins):

* csmpt: ``build_evaluators`` + ``evaluate_icl`` (llm-foundry's prompts and
  ``InContextLearningMultipleChoiceAccuracy``, which takes the lowest mean per-token
  cross-entropy).
* lm-eval: a custom task (``output_type: multiple_choice``, ``target_delimiter: " "``) whose
  docs are the exact prompts llm-foundry built (few-shot examples included, so both see the
  same shots), with ``num_fewshot: 0`` and ``process_results`` set to a function that divides
  each choice's log-likelihood by its token count (lm-eval's own split: tokens of
  context+continuation minus tokens of context). lm-eval's built-in ``acc_norm`` divides by
  characters, not tokens, so it is not BenCzechMark's setting.

A second lm-eval task on the same docs uses lm-eval's built-in ``acc`` and ``acc_norm`` (summed
log-likelihood; the same divided by ``len(choice)`` in characters) with their standard errors,
and logs every choice's log-likelihood: the bench prints the largest difference between those
and csmpt's (:mod:`csmpt.eval.mc_metrics`, from the same pass as the per-token accuracy).

The bench checks first that lm-eval's tokenization of every prompt + choice gives the very ids
llm-foundry scored, then asserts that the per-token accuracies are identical and that acc,
acc_norm and their standard errors agree to 1e-6. lm-evaluation-harness
lives in its own environment (``CSMPT_LM_EVAL_PYTHON``, default /work/lmeval-venv/bin/python)
reusing this venv's torch/transformers (docs/eval.md: a scratch venv whose ``.pth`` adds this
one's site-packages, then ``pip install lm_eval==0.4.9.1``); without it the bench says so and
prints csmpt's items/s.

    python bench/eval_vs_lm_eval.py --hf artifacts/demo/hf
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

LM_EVAL_PYTHON = os.environ.get("CSMPT_LM_EVAL_PYTHON", "/work/lmeval-venv/bin/python")

TASK_YAML = """task: csmpt_mc
dataset_path: json
dataset_kwargs:
  data_files: {test: DOCS}
test_split: test
output_type: multiple_choice
doc_to_text: "{{context}}"
doc_to_choice: "{{choices}}"
doc_to_target: "{{gold}}"
target_delimiter: " "
num_fewshot: 0
process_results: !function utils.process_results
metric_list:
  - metric: acc_tok
    aggregation: mean
    higher_is_better: true
"""

UTILS_PY = '''"""Mean per-token log-likelihood scoring for lm-eval (its own token split)."""
import os

import numpy as np
from transformers import AutoTokenizer

_TOK = AutoTokenizer.from_pretrained(os.environ["CSMPT_BENCH_TOKENIZER"])


def _n_tokens(context, continuation):
    whole = _TOK(context + continuation, add_special_tokens=False)["input_ids"]
    return len(whole) - len(_TOK(context, add_special_tokens=False)["input_ids"])


def process_results(doc, results):
    lls = np.array([ll for ll, _ in results])
    n = np.array([_n_tokens(doc["context"], " " + c) for c in doc["choices"]], dtype=float)
    return {"acc_tok": float(np.argmax(lls / n) == int(doc["gold"]))}
'''

BUILTIN_YAML = """task: csmpt_mc_builtin
dataset_path: json
dataset_kwargs:
  data_files: {test: DOCS}
test_split: test
output_type: multiple_choice
doc_to_text: "{{context}}"
doc_to_choice: "{{choices}}"
doc_to_target: "{{gold}}"
target_delimiter: " "
num_fewshot: 0
metric_list:
  - {metric: acc, aggregation: mean, higher_is_better: true}
  - {metric: acc_norm, aggregation: mean, higher_is_better: true}
"""

DRIVER_PY = """import json, sys, time
from lm_eval import simple_evaluate
from lm_eval.models.huggingface import HFLM
from lm_eval.tasks import TaskManager
hf, task_dir, max_len, batch = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
lm = HFLM(pretrained=hf, trust_remote_code=True, max_length=max_len, batch_size=batch,
          device="cpu", dtype="float32", max_seq_len=max_len)
t0 = time.perf_counter()
out = simple_evaluate(model=lm, tasks=["csmpt_mc"], task_manager=TaskManager(include_path=task_dir),
                      log_samples=False, bootstrap_iters=0)
seconds = time.perf_counter() - t0
res = out["results"]["csmpt_mc"]
b = simple_evaluate(model=lm, tasks=["csmpt_mc_builtin"],
                    task_manager=TaskManager(include_path=task_dir), log_samples=True)
br = b["results"]["csmpt_mc_builtin"]
lls = {s["doc_id"]: [r[0] for r in s["filtered_resps"]] for s in b["samples"]["csmpt_mc_builtin"]}
print("RESULT " + json.dumps({"acc": res["acc_tok,none"], "seconds": seconds,
                              "n": out["n-samples"]["csmpt_mc"]["effective"],
                              "builtin": {k.split(",")[0]: v for k, v in br.items() if "," in k},
                              "lls": [lls[i] for i in sorted(lls)]}))
"""


def csmpt_side(hf: Path, items: Path, shots: int, max_len: int, batch: int, docs: Path) -> dict:
    """Score with csmpt; write the prompts llm-foundry built (decoded) as lm-eval docs."""
    from csmpt.checkpoint.loading import build_hf_model
    from csmpt.eval.icl import build_evaluators, evaluate_icl

    model, tok = build_hf_model(hf, max_seq_len=max_len)
    task = {
        "label": "cs_hellaswag",
        "dataset_uri": str(items),
        "icl_task_type": "multiple_choice",
        "num_fewshot": [shots],
        "continuation_delimiter": " ",
        "example_delimiter": "\n",
    }
    (ev,) = build_evaluators([task], tok, max_len, batch)
    (res,) = evaluate_icl(model, [ev])
    records = [json.loads(line) for line in items.read_text("utf-8").splitlines() if line.strip()]
    dataset = ev.dataloader.dataloader.dataset  # prepared during the eval: token ids per choice
    mismatches, out = 0, []
    for i, rec in enumerate(records):
        ex = dataset[i]
        start = ex["continuation_indices"][0][0]
        ctx_ids = ex["query"][0][:start]
        if start + len(ex["answer"][0]) >= max_len or ctx_ids[0] == tok.pad_token_id:
            raise SystemExit(f"item {i}: prompt cut at {max_len} tokens; raise --max-seq-len")
        context = tok.decode(ctx_ids)
        for j, choice in enumerate(rec["choices"]):
            whole = tok(context + " " + choice.strip(), add_special_tokens=False)["input_ids"]
            scored = ctx_ids + ex["answer"][j]
            mismatches += whole != scored
        out.append(
            {
                "context": context,
                "choices": [c.strip() for c in rec["choices"]],
                "gold": rec["gold"],
            }
        )
    docs.write_text("".join(json.dumps(o, ensure_ascii=False) + "\n" for o in out), "utf-8")
    return {
        "acc": res.scores["acc_per_token"],
        "items": res.items,
        "seconds": res.seconds,
        "mismatch": mismatches,
        "scores": res.scores,
        "stderr": res.stderr,
        "lls": [list(d.loglikelihoods) for d in res.details],
    }


def lm_eval_side(hf: Path, docs: Path, max_len: int, batch: int, work: Path) -> dict | None:
    """Score the docs with lm-evaluation-harness in its own environment (None if missing)."""
    if not Path(LM_EVAL_PYTHON).is_file():
        return None
    probe = subprocess.run([LM_EVAL_PYTHON, "-c", "import lm_eval"], capture_output=True)
    if probe.returncode != 0:
        return None
    task_dir = work / "task"
    task_dir.mkdir(exist_ok=True)
    (task_dir / "csmpt_mc.yaml").write_text(TASK_YAML.replace("DOCS", str(docs)))
    (task_dir / "csmpt_mc_builtin.yaml").write_text(BUILTIN_YAML.replace("DOCS", str(docs)))
    (task_dir / "utils.py").write_text(UTILS_PY)
    (work / "driver.py").write_text(DRIVER_PY)
    env = {
        **os.environ,
        "CSMPT_BENCH_TOKENIZER": str(hf),
        "HF_DATASETS_OFFLINE": "1",
        "HF_HUB_OFFLINE": "1",
        "TRANSFORMERS_OFFLINE": "1",
    }
    cmd = [
        LM_EVAL_PYTHON,
        str(work / "driver.py"),
        str(hf),
        str(task_dir),
        str(max_len),
        str(batch),
    ]
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=work)
    line = next((ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT ")), None)
    if proc.returncode != 0 or line is None:
        raise SystemExit(f"lm-eval failed:\n{proc.stderr[-3000:]}")
    return json.loads(line[len("RESULT ") :])


def main() -> None:
    """Run both on every shot count, print items/s and the ratio, check equal accuracy."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--hf", type=Path, default=Path("artifacts/demo/hf"), help="HF export folder")
    ap.add_argument("--items", type=Path, default=Path("data/samples/cs_hellaswag.jsonl"))
    ap.add_argument("--shots", type=int, nargs="+", default=[0, 3])
    ap.add_argument("--max-seq-len", type=int, default=512)
    ap.add_argument("--batch-size", type=int, default=16, help="sequences per batch (both)")
    args = ap.parse_args()
    args.hf, args.items = args.hf.resolve(), args.items.resolve()
    if not (args.hf / "config.json").is_file():
        raise SystemExit(f"{args.hf}: no HF export; run `make demo` (it exports artifacts/demo/hf)")
    print(
        f"model {args.hf}, {args.items}, scoring: mean per-token log-likelihood, fp32, CPU "
        f"{os.cpu_count()} cores, torch threads {__import__('torch').get_num_threads()}"
    )
    failed = False
    with tempfile.TemporaryDirectory(prefix="csmpt-bench-lmeval-") as tmp:
        for shots in args.shots:
            work = Path(tmp) / f"{shots}shot"
            work.mkdir()
            t0 = time.perf_counter()
            ours = csmpt_side(
                args.hf, args.items, shots, args.max_seq_len, args.batch_size, work / "docs.jsonl"
            )
            ours_ips = ours["items"] / ours["seconds"]
            line = (
                f"{shots}-shot: csmpt {ours['items']} items, acc {ours['acc']:.4f}, "
                f"{ours_ips:.1f} items/s"
            )
            if ours["mismatch"]:
                print(
                    f"{line}; {ours['mismatch']} prompt+choice token sequences differ between "
                    "lm-eval's and llm-foundry's tokenization: accuracies may differ"
                )
            theirs = lm_eval_side(
                args.hf, work / "docs.jsonl", args.max_seq_len, args.batch_size, work
            )
            if theirs is None:
                print(f"{line}; lm-evaluation-harness not available ({LM_EVAL_PYTHON}): csmpt only")
                continue
            their_ips = theirs["n"] / theirs["seconds"]
            same = round(ours["acc"] * ours["items"]) == round(theirs["acc"] * theirs["n"])
            failed |= not same
            bi = theirs["builtin"]
            diffs = {m: abs(ours["scores"][m] - bi[m]) for m in ("acc", "acc_norm")} | {
                f"{m}_stderr": abs(ours["stderr"][m] - bi[f"{m}_stderr"])
                for m in ("acc", "acc_norm")
            }
            ll_diff = max(
                abs(a - b)
                for mine, their in zip(ours["lls"], theirs["lls"], strict=True)
                for a, b in zip(mine, their, strict=True)
            )
            failed |= max(diffs.values()) > 1e-6
            print(
                f"{shots}-shot: csmpt acc {ours['scores']['acc']:.4f} ± {ours['stderr']['acc']:.4f}"
                f" acc_norm {ours['scores']['acc_norm']:.4f} ± {ours['stderr']['acc_norm']:.4f} | "
                f"lm-eval acc {bi['acc']:.4f} ± {bi['acc_stderr']:.4f} acc_norm "
                f"{bi['acc_norm']:.4f} ± {bi['acc_norm_stderr']:.4f} | max |diff| "
                + ", ".join(f"{k} {v:.1e}" for k, v in diffs.items())
                + f", per-choice log-likelihood {ll_diff:.1e}"
            )
            print(
                f"{line} | lm-eval {theirs['n']} items, acc {theirs['acc']:.4f}, "
                f"{their_ips:.1f} items/s | csmpt/lm-eval {ours_ips / their_ips:.2f}x | "
                f"accuracy {'identical' if same else 'DIFFERENT'} "
                f"({time.perf_counter() - t0:.0f}s)"
            )
    if failed:
        sys.exit(1)


if __name__ == "__main__":
    main()
