"""Training throughput of a recipe: tokens/s, step time by phase, MFU, for variants in one run.

    .venv/bin/python bench/train_throughput.py yamls/tiny/mpt.yaml \
        --variant "decoupled_lionw:optimizer.name=decoupled_lionw" \
        --variant "csmpt_lionw:optimizer.name=csmpt_lionw" \
        --steps 20 [--peak-tflops 989] [key=value ...]

Each ``--variant NAME:key=value,key=value`` adds overrides to the common ones; the first variant
is the anchor the others are compared with. Prints a Markdown table (paste it into the docs).
"""

from __future__ import annotations

import argparse
import os

from csmpt.perf import measure_recipe
from csmpt.perf.flops import device_peak_flops


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("yaml")
    parser.add_argument("overrides", nargs="*", help="key=value overrides for every variant")
    parser.add_argument("--variant", action="append", default=[], help="NAME:k=v,k=v")
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--device", default=None, help="cpu or cuda (default: cuda if any)")
    parser.add_argument(
        "--peak-tflops",
        type=float,
        default=None,
        help="device peak for MFU (default: Composer's table for the CUDA GPU; none on CPU)",
    )
    args = parser.parse_args()
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

    variants = args.variant or ["recipe:"]
    results = []
    for spec in variants:
        name, _, extra = spec.partition(":")
        overrides = [*args.overrides, *[o for o in extra.split(",") if o]]
        results.append(
            measure_recipe(args.yaml, overrides, args.steps, args.warmup, name, args.device)
        )
    peak = args.peak_tflops * 1e12 if args.peak_tflops else device_peak_flops(results[0].precision)
    anchor = results[0]
    print(
        f"{args.yaml}: {args.steps} timed steps after {args.warmup} warm-up, "
        f"{anchor.tokens_per_step} tokens/step"
    )
    print(
        "| variant | tokens/s | step ms | data | forward | backward | optimizer "
        "| model TFLOP/s | MFU | vs first |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for r in results:
        ms = {k: f"{v * 1e3:.1f}" for k, v in r.seconds.items()}
        util = r.mfu(peak)
        mfu_s = f"{util:.1%}" if util is not None else "n/a"
        tflops = f"{r.flops_per_step / r.step_s / 1e12:.3f}" if r.flops_per_step else "n/a"
        print(
            f"| {r.variant} | {r.tokens_per_s:,.0f} | {r.step_s * 1e3:.1f} | {ms['data']} | "
            f"{ms['forward']} | {ms['backward']} | {ms['optimizer']} | {tflops} | {mfu_s} | "
            f"{anchor.step_s / r.step_s:.2f}x |"
        )


if __name__ == "__main__":
    main()
