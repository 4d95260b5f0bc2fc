"""The throughput cost of ``packing: pad`` vs ``concat``: real tokens trained per second.

Builds the shipped Czech samples (``cs_web`` + ``cs_crawl``) twice with ``csmpt prep`` at one
``max_seq_len`` (``packing: concat`` and ``packing: pad``), then trains the same MPT (ALiBi,
``attn_uses_sequence_id``, fp32, LionW) on each through llm-foundry's own ``text`` loader
(``eos_token_id`` set: sequence ids; the collator pads each batch to its longest sample).
The timed steps alternate between the two in blocks, so a busy machine slows both alike. A
step's real tokens are its non-pad positions; padding costs compute but trains nothing.

Prints each packing's manifest pad share, the padding share of the batches actually trained,
the step time and the real tokens/s, and the ratio pad / concat.

    .venv/bin/python bench/pad_vs_concat.py [--max-seq-len 512] [--steps 12] [--batch 8]
        [--tokenizer artifacts/demo/tokenizer] [--d-model 128] [--layers 2]
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import tempfile
import time
from itertools import cycle
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
SOURCES = ["data/samples/cs_web.jsonl", "data/samples/cs_crawl.jsonl"]
log = logging.getLogger("bench.pad_vs_concat")


def tokenizer(path: str | None, work: Path) -> Path:
    """The given tokenizer folder, or the sample tokenizer trained into ``work``."""
    if path:
        return Path(path)
    from csmpt.config import build_structured, load_yaml_with_overrides
    from csmpt.tokenizer.train import TokenizerConfig, train_tokenizer

    yaml_path = REPO / "data_prep/tokenizer/sample.yaml"
    over = [f"output_dir={work / 'tokenizer'}"]
    cfg = build_structured(TokenizerConfig, load_yaml_with_overrides(yaml_path, over), yaml_path)
    return train_tokenizer(cfg)[0]


def build(tok: Path, out: Path, seq: int, packing: str) -> dict[str, Any]:
    """``csmpt prep`` of the samples with ``packing``; the train split's manifest."""
    from csmpt.prep.config import CorpusSpec, PrepConfig
    from csmpt.prep.run import prep_corpora

    spec = CorpusSpec(name=packing, inputs=[str(REPO / s) for s in SOURCES])
    cfg = PrepConfig(
        tokenizer=str(tok),
        output_dir=str(out),
        max_seq_len=seq,
        val_fraction=0.0,
        packing=packing,
        corpora=[spec],
    )
    (res,) = prep_corpora(cfg)
    return res.manifests["train"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--max-seq-len", type=int, default=512)
    parser.add_argument("--steps", type=int, default=12, help="timed steps per packing")
    parser.add_argument("--block", type=int, default=3, help="steps per alternating block")
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--d-model", type=int, default=128)
    parser.add_argument("--layers", type=int, default=2)
    parser.add_argument("--tokenizer", default=None)
    args = parser.parse_args()
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    logging.basicConfig(level=logging.WARNING)

    import torch
    from llmfoundry.data.dataloader import build_dataloader
    from llmfoundry.models.mpt import ComposerMPTCausalLM
    from transformers import AutoTokenizer

    from csmpt.optim import LionW

    seq = args.max_seq_len
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        tok_dir = tokenizer(args.tokenizer, work)
        tok = AutoTokenizer.from_pretrained(str(tok_dir))
        runs: dict[str, dict[str, Any]] = {}
        for packing in ("concat", "pad"):
            manifest = build(tok_dir, work / "mds", seq, packing)
            loader = {
                "name": "text",
                "dataset": {
                    "local": str(work / "mds" / packing),
                    "split": "train",
                    "shuffle": True,
                    "shuffle_seed": 17,
                    "max_seq_len": seq,
                    "eos_token_id": tok.eos_token_id,
                },
                "drop_last": True,
                "num_workers": 0,
                "prefetch_factor": None,
                "persistent_workers": False,
            }
            torch.manual_seed(0)
            model = ComposerMPTCausalLM(
                d_model=args.d_model,
                n_heads=4,
                n_layers=args.layers,
                expansion_ratio=4,
                max_seq_len=seq,
                vocab_size=4096,
                no_bias=True,
                loss_fn="torch_crossentropy",
                init_device="cpu",
                attn_config={"attn_impl": "torch", "alibi": True, "attn_uses_sequence_id": True},
            )
            batches = cycle(list(build_dataloader(loader, tok, args.batch).dataloader))
            runs[packing] = {
                "manifest": manifest,
                "model": model,
                "opt": LionW(model.parameters(), lr=1e-3, betas=(0.9, 0.95)),
                "batches": batches,
                "time": 0.0,
                "real": 0,
                "positions": 0,
                "steps": 0,
            }

        def step(r: dict[str, Any], timed: bool) -> None:
            batch = next(r["batches"])
            t0 = time.perf_counter()
            loss = r["model"].loss(r["model"](batch), batch)
            loss.backward()
            r["opt"].step()
            r["opt"].zero_grad(set_to_none=True)
            if timed:
                r["time"] += time.perf_counter() - t0
                r["real"] += int((batch["input_ids"] != tok.pad_token_id).sum())
                r["positions"] += batch["input_ids"].numel()
                r["steps"] += 1

        for r in runs.values():  # warm-up
            step(r, False)
        while any(r["steps"] < args.steps for r in runs.values()):
            for r in runs.values():
                for _ in range(min(args.block, args.steps - r["steps"])):
                    step(r, True)

    print(
        f"max_seq_len {seq}, batch {args.batch}, MPT d_model {args.d_model} x {args.layers} "
        f"layers, fp32, {torch.get_num_threads()} threads, {args.steps} timed steps each"
    )
    print("| packing | samples | manifest pad share | batch pad share | step ms | real tokens/s |")
    print("|---|---:|---:|---:|---:|---:|")
    rate = {}
    for name, r in runs.items():
        m = r["manifest"]
        rate[name] = r["real"] / r["time"]
        print(
            f"| {name} | {m.samples:,} | {m.pad_share or 0.0:.3f} | "
            f"{1 - r['real'] / r['positions']:.3f} | {1000 * r['time'] / r['steps']:.1f} | "
            f"{rate[name]:,.0f} |"
        )
    print(json.dumps({"ratio_pad_vs_concat_real_tokens_per_s": rate["pad"] / rate["concat"]}))


if __name__ == "__main__":
    main()
