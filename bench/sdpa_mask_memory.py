"""Memory of csmpt_sdpa_alibi's attention mask: one per layer vs one per forward, shared.

An ALiBi MPT (``csmpt_mpt_causal_lm``, ``attn_impl: csmpt_sdpa_alibi``) runs one forward and
backward on an unpadded batch (as every packed pretraining batch is), in a fresh subprocess per
mode so each has its own high-water mark:

* ``per-layer``: every layer builds its own ``(B, H, T, T)`` float mask (the behaviour before the
  shared mask; ``csmpt.models.forward_cache.per_layer_masks``);
* ``shared``: the mask is built once per forward at ``(1, H, T, T)`` and shared by the layers.

For each it reports the bytes autograd holds for backward (unique storages of the saved tensors)
and the peak resident memory of forward + backward above the resident memory before it, and the
ratio of the two modes. A third mode, ``torch``, runs llm-foundry's reference attention as an
anchor.

    .venv/bin/python bench/sdpa_mask_memory.py [--batch 4] [--seq 512] [--layers 8] [--no-anchor]
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
from typing import Any

MODES = ("torch", "per-layer", "shared")


def _rss_bytes() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * resource.getpagesize()


def measure(mode: str, batch: int, seq: int, layers: int, heads: int, d_model: int) -> dict:
    """One forward + backward of the model in this process; bytes saved for backward and peak."""
    import contextlib

    import torch

    from csmpt.models.forward_cache import per_layer_masks
    from csmpt.models.mpt import CsmptMPTCausalLM

    torch.manual_seed(0)
    impl = "torch" if mode == "torch" else "csmpt_sdpa_alibi"
    model = CsmptMPTCausalLM(
        d_model=d_model,
        n_heads=heads,
        n_layers=layers,
        expansion_ratio=2,
        max_seq_len=seq,
        vocab_size=256,
        no_bias=True,
        loss_fn="torch_crossentropy",
        attn_config={"attn_impl": impl, "alibi": True},
    )
    ids = torch.randint(0, 256, (batch, seq), generator=torch.Generator().manual_seed(1))
    data = {"input_ids": ids, "attention_mask": torch.ones_like(ids), "labels": ids}
    storages: dict[int, int] = {}

    def pack(t: torch.Tensor) -> torch.Tensor:
        s = t.untyped_storage()
        storages[s.data_ptr()] = max(storages.get(s.data_ptr(), 0), s.nbytes())
        return t

    before = _rss_bytes()
    sharing = per_layer_masks() if mode == "per-layer" else contextlib.nullcontext()
    with sharing, torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        loss = model.loss(model(data), data)
    loss.backward()
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    return {"saved": sum(storages.values()), "peak": max(0, peak - before), "loss": loss.item()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=4)
    parser.add_argument("--seq", type=int, default=512)
    parser.add_argument("--layers", type=int, default=8)
    parser.add_argument("--heads", type=int, default=8)
    parser.add_argument("--d-model", type=int, default=128)
    parser.add_argument(
        "--no-anchor", action="store_true", help="skip the torch reference (quicker smoke runs)"
    )
    parser.add_argument("--child", choices=MODES, help=argparse.SUPPRESS)
    args = parser.parse_args()
    shape = (args.batch, args.seq, args.layers, args.heads, args.d_model)
    if args.child:
        print(json.dumps(measure(args.child, *shape)))
        return

    results: dict[str, dict[str, Any]] = {}
    for mode in MODES[1:] if args.no_anchor else MODES:
        cmd = [sys.executable, __file__, "--child", mode, "--batch", str(args.batch)]
        cmd += ["--seq", str(args.seq), "--layers", str(args.layers), "--heads", str(args.heads)]
        cmd += ["--d-model", str(args.d_model)]
        out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
        results[mode] = json.loads(out.strip().splitlines()[-1])
    mask_mib = args.batch * args.heads * args.seq**2 * 4 / 2**20
    print(
        f"ALiBi MPT d_model {args.d_model}, {args.layers} layers, {args.heads} heads, "
        f"batch {args.batch}, seq {args.seq}, fp32, unpadded; one (B, H, T, T) mask = "
        f"{mask_mib:.1f} MiB"
    )
    header = ("mode", "saved for backward MiB", "peak above start MiB", "loss")
    print(f"{header[0]:10s} {header[1]:>22s} {header[2]:>21s} {header[3]:>9s}")
    for mode, r in results.items():
        print(f"{mode:10s} {r['saved'] / 2**20:22.1f} {r['peak'] / 2**20:21.1f} {r['loss']:9.5f}")
    per, shared = results["per-layer"], results["shared"]
    print(
        f"shared / per-layer: saved for backward {shared['saved'] / per['saved']:.2f}x, "
        f"peak {shared['peak'] / max(per['peak'], 1):.2f}x"
    )
    if abs(per["loss"] - shared["loss"]) > 1e-5 * abs(per["loss"]):
        raise SystemExit(f"losses differ: per-layer {per['loss']} vs shared {shared['loss']}")


if __name__ == "__main__":
    main()
