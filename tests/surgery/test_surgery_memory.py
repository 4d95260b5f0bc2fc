"""A surgery's peak anonymous memory stays under 1.5x its weights, from .bin, .pt and safetensors;
so does ``csmpt export`` of the resulting Composer checkpoint, logits parity check included.

The source: MPT-7B's real config with the size keys shrunk to ~51M parameters (d_model 512,
16 layers; 102 MB in bf16), as the hub lays it out (``pytorch_model-*.bin`` shards), as a
Composer checkpoint and as safetensors shards. Each surgery (the shipped recipe's settings:
exact + dictionary alignment, the report's loss check) runs in a subprocess that first warms up
on a tiny model of the same config (imports, kernels, tokenizers), then operates on each source
in turn, printing a baseline mark before each (after ``gc.collect()`` and ``malloc_trim``, so
memory the previous surgery freed is back with the system and cannot hide this one's). The
parent samples the child's ``RssAnon`` every 2 ms from ``/proc/PID/status``
(:mod:`csmpt.perf.memory`); the figure is each surgery's peak above its baseline.
Reading a ``.bin`` plainly, or building the loss check's model in float32, costs 1-4x the
weights: such code fails here.

Why 51M and not 200M parameters: at 200M (406 MB) the three surgeries took 95 s on the 2-core
machine, over this issue's test budget, and measured 0.10x the weights (41 MB above the
baseline: the new embedding matrices, logits, allocator slack; nothing that grows with the
body). At 51M the same fixed part is far under 1.5x, while the old code's costs, all
proportional to the weights (a plainly read ``.bin``: 1x; two float32 models for the loss
check: 4x), are still over it.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from csmpt.perf.memory import BASELINE_MARK, run_measured
from csmpt.surgery.io import load_source, write_composer_checkpoint
from csmpt.surgery.synthetic import write_random_hf_model

pytestmark = pytest.mark.slow

LIMIT = 1.5
CHILD = f"""
import ctypes, gc, sys, time
from csmpt.config import build_structured, load_yaml_with_overrides
from csmpt.export.hf import export_to_hf
from csmpt.surgery.recipe import SurgeryConfig, run_surgery

YAML = "yamls/surgery/mpt_en_to_cs.yaml"
en, cs, tiny, out = sys.argv[1:5]

def surgery(src, dest):
    ov = [f"source.model={{src}}", f"source.tokenizer={{en}}", f"target.tokenizer={{cs}}",
          f"output.dir={{dest}}", "report.eval_sequences=2", "report.seq_len=32"]
    cfg = build_structured(SurgeryConfig, load_yaml_with_overrides(YAML, ov), YAML)
    run_surgery(cfg, force=True)

def export(ckpt, dest, d_model):
    ov = [f"variables.tokenizer_name={{cs}}", f"load_path={{ckpt}}", f"model.d_model={{d_model}}",
          "model.n_heads=16"]
    export_to_hf(ckpt, "yamls/tiny/mpt.yaml", dest, ov, dtype="bf16", overwrite=True)

def mark():
    gc.collect()
    ctypes.CDLL("libc.so.6").malloc_trim(0)
    print("{BASELINE_MARK}", flush=True)
    time.sleep(0.2)

surgery(tiny, out + "-warm")
export(out + "-warm/model.pt", out + "-warm-export", 64)
for i, src in enumerate(sys.argv[5:]):
    mark()
    surgery(src, out + str(i))
mark()  # csmpt export of a surgery output: a monolithic Composer checkpoint, bf16, parity check
export(out + "0/model.pt", out + "-export", 512)
"""


def _config(d_model: int, n_layers: int) -> dict:
    cfg = json.loads(Path("tests/assets/mpt-7b/config.json").read_text())
    cfg.update(d_model=d_model, n_heads=16, n_layers=n_layers, max_seq_len=128, vocab_size=2048)
    return cfg


@pytest.fixture(scope="module")
def sources(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("mem_sources")
    write_random_hf_model(_config(64, 2), root / "tiny", "bin", 10**6)
    n = write_random_hf_model(_config(512, 16), root / "bin", "bin", 4 * 10**7)
    assert 50e6 < n < 52e6
    write_random_hf_model(_config(512, 16), root / "safetensors", "safetensors", 4 * 10**7)
    write_composer_checkpoint(load_source(root / "safetensors"), root / "model.pt")
    return {"tiny": root / "tiny", "bin": root / "bin", "safetensors": root / "safetensors",
            "pt": root / "model.pt", "root": root}  # fmt: skip


def test_surgery_and_export_peak_anonymous_memory_is_under_1_5x_the_weights(
    sources: dict[str, Path], en_tokenizer_dir: Path, tokenizer_dir: Path
) -> None:
    weights = sum(f.stat().st_size for f in sources["bin"].glob("*.bin"))
    fmts = ["bin", "pt", "safetensors"]
    out = sources["root"] / "out"
    args = [en_tokenizer_dir, tokenizer_dir, sources["tiny"], out, *(sources[f] for f in fmts)]
    res = run_measured([sys.executable, "-c", CHILD, *args], timeout=600)
    assert res.returncode == 0, res.stderr[-3000:]
    assert len(res.phases) == 4 and all(b > 0 for b, _ in res.phases)
    assert all((sources["root"] / f"out{i}" / "hf" / "config.json").is_file() for i in range(3))
    assert (sources["root"] / "out-export" / "config.json").is_file()
    ckpt = (sources["root"] / "out0" / "model.pt").stat().st_size
    ratios = {f: anon / weights for f, anon in zip(fmts, res.work_anon, strict=False)}
    ratios["export"] = res.work_anon[3] / ckpt
    print({f: f"{r:.2f}x of {weights / 1e6:.0f} MB" for f, r in ratios.items()})
    assert max(ratios.values()) <= LIMIT, ratios
