"""A 7B surgery and export as a user runs them: wall time, peak RSS, peak anonymous memory.

    .venv/bin/python bench/surgery_7b.py [--model mpt-7b|llama-3-8b] [--format bin|safetensors]
        [--work /tmp/csmpt-bench-7b] [--shrink] [--keep]

1. Writes a random bf16 HF folder of the model's exact shape from its real hub config
   (tests/assets/<model>/config.json, unchanged): MPT-7B as ``pytorch_model-*.bin`` shards
   (6,649,286,656 parameters, 13.3 GB), Llama-3-8B as safetensors shards.
2. ``csmpt surgery`` in a subprocess with the shipped recipe's settings: MPT-7B
   ``yamls/surgery/mpt_en_to_cs.yaml`` (exact + dictionary alignment to a 64,000-token target
   tokenizer, the report's loss check on 8 x 128 tokens), Llama-3-8B
   ``yamls/surgery/llama_downcycle.yaml`` (32 -> 24 layers).
3. MPT-7B: the output's ``model.pt`` is checked against the CSMPT7b recipe's model built on the
   meta device (``yamls/csmpt7b/csmpt7b.yaml``: same keys, same shapes), then ``csmpt export``
   (bf16, with its logits parity check) runs on it in a subprocess.

Tokenizers: no hub access here, so the source (50,277 tokens for MPT-7B's 50,432 rows; 128,000 for
Llama-3's 128,256) and target (64,000) tokenizers are the shipped sample BPEs padded with added
tokens to the real sizes; alignment counts are therefore not the real ones (the timing and
memory of the weights are). Memory is sampled from outside every 5 ms (``RssAnon`` and
``VmHWM`` of ``/proc/PID/status``, :mod:`csmpt.perf.memory`) and printed against the model's
bf16 size (anchor: the target is 1.5x). Big files are deleted at the end unless ``--keep``.
``--shrink`` runs the same steps on a 2-layer, d_model 64 model (a smoke test).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import time
from pathlib import Path

from csmpt.perf.memory import ProcessMemory, run_measured
from csmpt.surgery.synthetic import write_random_hf_model

REPO = Path(__file__).resolve().parent.parent
CSMPT = [str(Path(sys.executable).parent / "csmpt")]  # the console script a user runs
MODELS = {
    "mpt-7b": {
        "recipe": "yamls/surgery/mpt_en_to_cs.yaml",
        "format": "bin",
        "source_tokens": 50277,
    },
    "llama-3-8b": {
        "recipe": "yamls/surgery/llama_downcycle.yaml",
        "format": "safetensors",
        "source_tokens": 128000,
    },
}
TARGET_TOKENS = 64000
GB = 1e9


def padded_tokenizer(yaml: str, out: Path, n_tokens: int, prefix: str) -> Path:
    """The sample BPE of ``yaml`` padded with added tokens to ``n_tokens`` (no hub here)."""
    from transformers import AutoTokenizer

    from csmpt.config import build_structured, load_yaml_with_overrides
    from csmpt.tokenizer.train import TokenizerConfig, train_tokenizer

    raw = out.with_name(out.name + "-base")
    cfg = build_structured(
        TokenizerConfig, load_yaml_with_overrides(REPO / yaml, [f"output_dir={raw}"]), yaml
    )
    train_tokenizer(cfg)
    tok = AutoTokenizer.from_pretrained(raw)
    tok.add_tokens([f"{prefix}{i}" for i in range(n_tokens - len(tok))])
    tok.save_pretrained(out)
    return out


def shrunk_config(config: dict) -> dict:
    """Only the size keys made tiny (the smoke test)."""
    if config["model_type"] == "mpt":
        return dict(config, d_model=64, n_heads=4, n_layers=2)
    return dict(
        config,
        hidden_size=64,
        intermediate_size=176,
        num_attention_heads=4,
        num_key_value_heads=1,
        num_hidden_layers=4,
    )


def row(name: str, m: ProcessMemory, size: int) -> str:
    """A Markdown row: wall time, peak RSS, peak anonymous memory and its ratio to the model."""
    return (
        f"| {name} | {m.wall_s:.0f} | {m.peak_rss / GB:.2f} | {m.peak_anon / GB:.2f} | "
        f"{m.peak_anon / size:.2f}x |"
    )


def check_recipe_accepts(model_pt: Path, tok: Path, shrink: bool) -> str:
    """Build the CSMPT7b recipe's model on meta and compare keys/shapes with ``model_pt``."""
    import torch

    from csmpt.checkpoint.loading import build_recipe_model

    overrides = [
        f"variables.tokenizer_name={tok}",
        f"variables.init_checkpoint={model_pt}",
        "model.attn_config.attn_impl=torch",
    ]
    if shrink:
        overrides += ["model.d_model=64", "model.n_heads=4"]
    rm = build_recipe_model(REPO / "yamls/csmpt7b/csmpt7b.yaml", overrides, init_device="meta")
    want = {k: tuple(v.shape) for k, v in rm.model.state_dict().items()}
    ckpt = torch.load(model_pt, mmap=True, weights_only=False, map_location="cpu")
    got = {k: tuple(v.shape) for k, v in ckpt["state"]["model"].items()}
    if want != got:
        diff = sorted(set(want) ^ set(got)) or [k for k in want if want[k] != got[k]]
        raise SystemExit(f"CSMPT7b recipe model does not match {model_pt}: {diff[:3]}")
    return f"CSMPT7b recipe model on meta: {len(want)} tensors, keys and shapes match model.pt"


def main() -> None:
    """Run the benchmark and print its figures."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", choices=sorted(MODELS), default="mpt-7b")
    p.add_argument("--format", choices=["bin", "safetensors"], default=None)
    p.add_argument("--work", type=Path, default=Path("/tmp/csmpt-bench-7b"))
    p.add_argument("--shrink", action="store_true", help="2-layer d_model 64 smoke run")
    p.add_argument("--keep", action="store_true", help="keep the big files")
    args = p.parse_args()
    spec = MODELS[args.model]
    fmt = args.format or spec["format"]
    config = json.loads((REPO / "tests/assets" / args.model / "config.json").read_text())
    if args.shrink:
        config = shrunk_config(config)
    work = args.work
    work.mkdir(parents=True, exist_ok=True)
    free = shutil.disk_usage(work).free
    print(f"work folder {work}: {free / GB:.0f} GB free; load average {os.getloadavg()}")

    t0 = time.perf_counter()
    src = work / args.model
    n = write_random_hf_model(config, src, fmt, 2 * 10**9)
    size = n * 2  # bf16
    need = 3.2 * size
    print(f"wrote {src}: {n:,} parameters, {size / GB:.2f} GB bf16 ({fmt}), "
          f"{time.perf_counter() - t0:.0f} s")  # fmt: skip
    if free < need:
        shutil.rmtree(work, ignore_errors=True)
        raise SystemExit(f"needs ~{need / GB:.0f} GB free in {work}, has {free / GB:.0f} GB")
    en = padded_tokenizer(
        "data_prep/tokenizer/en_sample.yaml", work / "tok_en", spec["source_tokens"], "⟨en"
    )
    out = work / "out"
    overrides = [f"source.model={src}", f"source.tokenizer={en}", f"output.dir={out}"]
    cs = None
    if config["model_type"] == "mpt":
        cs = padded_tokenizer(
            "data_prep/tokenizer/sample.yaml", work / "tok_cs", TARGET_TOKENS, "⟨cs"
        )
        overrides.append(f"target.tokenizer={cs}")  # corpus, dictionary: the recipe's own
    rows = [
        "| step | wall s | peak RSS GB | peak anon GB | anon / model |",
        "|---|---|---|---|---|",
    ]
    cmd = [*CSMPT, "surgery", REPO / spec["recipe"], *overrides, "--force"]
    surgery = run_measured(cmd, every_s=0.005, cwd=REPO)
    if surgery.returncode != 0:
        raise SystemExit(f"csmpt surgery failed:\n{surgery.stderr[-3000:]}")
    rows.append(row(f"csmpt surgery ({spec['recipe']}, {fmt})", surgery, size))
    report = json.loads((out / "report.json").read_text())
    print("surgery report:", {k: report.get(k) for k in ("aligned", "loss_swapped", "loss_random",
          "normalised", "vocab_size", "layers")})  # fmt: skip
    if cs is not None:
        print(check_recipe_accepts(out / "model.pt", cs, args.shrink))
        if not args.keep:  # disk: the export needs only model.pt
            shutil.rmtree(src, ignore_errors=True)
            shutil.rmtree(out / "hf", ignore_errors=True)
        exp = [
            *CSMPT,
            "export",
            out / "model.pt",
            work / "export",
            "--train-yaml",
            REPO / "yamls/csmpt7b/csmpt7b.yaml",
            f"variables.tokenizer_name={cs}",
            f"variables.init_checkpoint={out / 'model.pt'}",
            "model.attn_config.attn_impl=torch",
            *(["model.d_model=64", "model.n_heads=4"] if args.shrink else []),
            "--dtype",
            "bf16",
            "--overwrite",
        ]
        export = run_measured(exp, every_s=0.005, cwd=REPO)
        if export.returncode != 0:
            raise SystemExit(f"csmpt export failed:\n{export.stderr[-3000:]}")
        rows.append(row("csmpt export (Composer model.pt -> HF bf16, parity check)", export, size))
        shards = sorted(p.name for p in (work / "export").glob("model*.safetensors"))
        print(f"export: {len(shards)} shard(s): {shards[:2]}...; {export.stdout.strip()[-200:]}")
    print(f"\nmodel: {args.model}, {n:,} parameters, {size / GB:.2f} GB in bf16; "
          f"target: peak anon <= 1.5x; load average after: {os.getloadavg()}")  # fmt: skip
    print("\n".join(rows))
    worst = max(surgery.peak_anon, export.peak_anon if cs is not None else 0) / size
    print(f"\nworst peak anon / model size: {worst:.2f}x ({'PASS' if worst <= 1.5 else 'FAIL'})")
    if not args.keep:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
