"""GPU check, training part: a ~350M ALiBi MPT in bf16 under FSDP FULL_SHARD on one GPU.

Two modes, each appending its rows (JSON lines, ``"part": "train"`` or ``"resume"``) to ``--out`` as
they are measured, so a part stopped by its time cap keeps what it had measured; a subprocess that
runs past its share of ``--timeout`` is killed and leaves a row that says so:

* ``throughput``: for each attention implementation (``csmpt_flex_alibi``, ``csmpt_sdpa_alibi``,
  ``torch``), in its own subprocess, Composer trains the model (d_model 1024, 24 layers, 16 heads,
  seq 2048, batch 4, ``csmpt_lionw``, ``amp_bf16``, FSDP FULL_SHARD) on random tokens for
  ``--steps`` steps: tokens/s (median step after the first 3), MFU against the bf16 matmul rate
  measured in the same check (``--matmul-tflops``), peak memory.
* ``resume``: ``yamls/tiny/mpt_hot_swap.yaml`` scaled to the same model (sharded FSDP checkpoints
  every 10 steps, 30 steps, corpora swapped at steps 14 and 27) runs once uninterrupted and once
  SIGKILLed after step 21 and resumed by autoresume; per-step losses must agree within bf16 noise
  and the hot-swap events must be identical.

    python bench/gpu_check_train.py throughput --out OUT/rows.jsonl --matmul-tflops 750
    python bench/gpu_check_train.py resume --out OUT/rows.jsonl --data WHEELS/data
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
# The compiled flex kernel last: its compile time cannot cost the other two their rows.
# "@fsdp2": the same model under Composer's FSDP2 path (issue 29's GPU row with MFU).
IMPLS = ("csmpt_sdpa_alibi", "torch", "csmpt_sdpa_alibi@fsdp2", "csmpt_flex_alibi")
MODEL = {"d_model": 1024, "n_layers": 24, "n_heads": 16, "expansion_ratio": 4}
FSDP = {
    "sharding_strategy": "FULL_SHARD",
    "mixed_precision": "PURE",
    "activation_checkpointing": False,
    "limit_all_gathers": True,
}


TINY = {"d_model": 64, "n_layers": 2, "n_heads": 4, "expansion_ratio": 2}


def _model(impl: str, seq: int, vocab: int, cpu: bool = False) -> Any:
    from csmpt.models.mpt import CsmptMPTCausalLM

    return CsmptMPTCausalLM(
        **(TINY if cpu else MODEL),
        max_seq_len=seq,
        vocab_size=vocab,
        no_bias=True,
        init_device="cpu" if cpu else "meta",
        loss_fn="torch_crossentropy",
        attn_config={"attn_impl": impl, "alibi": True},
    )


def throughput_child(
    impl: str,
    steps: int,
    batch: int,
    seq: int,
    matmul_tflops: float,
    cpu: bool = False,
    fsdp_version: int = 1,
) -> dict:
    """Train ``steps`` steps in this process; return tokens/s, MFU, peak memory, losses.

    ``fsdp_version`` 2 is Composer's FSDP2 path (``fully_shard``), chosen as the recipe key
    ``fsdp_config.version: 2`` chooses it: ``FSDP_VERSION=2`` before the ``Trainer`` is built.
    With ``cpu``, a tiny model in fp32 without FSDP: checks this code on a CPU machine.
    """
    os.environ["FSDP_VERSION"] = str(fsdp_version)
    import torch
    from composer import Callback, Event, State, Trainer
    from composer.loggers import Logger
    from torch.utils.data import DataLoader

    from csmpt.optim.lionw import LionW

    vocab = 512 if cpu else 50368
    torch.manual_seed(0)  # the same initial weights for every implementation
    model = _model(impl, seq, vocab, cpu)

    def sync() -> None:
        if not cpu:
            torch.cuda.synchronize()

    n_params = sum(p.numel() for p in model.parameters())
    g = torch.Generator().manual_seed(0)
    ids = torch.randint(0, vocab, (batch * (steps + 1), seq), generator=g)
    samples = [{"input_ids": r, "labels": r, "attention_mask": torch.ones_like(r)} for r in ids]

    class Timer(Callback):
        """Wall time of each batch (synchronised) and the loss."""

        def __init__(self) -> None:
            self.start = 0.0
            self.times: list[float] = []
            self.losses: list[float] = []

        def run_event(self, event: Event, state: State, logger: Logger) -> None:
            if event == Event.BATCH_START:
                sync()
                self.start = time.perf_counter()
            elif event == Event.BATCH_END:
                sync()
                self.times.append(time.perf_counter() - self.start)
                loss = state.loss
                self.losses.append(float(loss.item() if hasattr(loss, "item") else loss))

    timer = Timer()
    trainer = Trainer(
        model=model,
        train_dataloader=DataLoader(samples, batch_size=batch),
        optimizers=LionW(model.parameters(), lr=1e-4, betas=(0.9, 0.95), weight_decay=0.0),
        max_duration=f"{steps}ba",
        precision="fp32" if cpu else "amp_bf16",
        parallelism_config=None if cpu else {"fsdp": FSDP},
        device="cpu" if cpu else "gpu",
        device_train_microbatch_size=batch,
        callbacks=[timer],
        progress_bar=False,
        log_to_console=False,
    )
    if not cpu:
        torch.cuda.reset_peak_memory_stats()
    trainer.fit()
    step_s = statistics.median(timer.times[3:]) if len(timer.times) > 3 else float("nan")
    flops = model.flops_per_batch({"input_ids": ids[:batch]})
    return {
        "impl": impl,
        "fsdp_version": None if cpu else fsdp_version,
        "n_params": n_params,
        "tokens_per_step": batch * seq,
        "step_ms": step_s * 1e3,
        "first_step_s": timer.times[0] if timer.times else None,
        "tokens_per_s": batch * seq / step_s,
        "model_tflops": flops / step_s / 1e12,
        "mfu": flops / step_s / (matmul_tflops * 1e12) if matmul_tflops else None,
        "peak_mem_gib": None if cpu else torch.cuda.max_memory_allocated() / 2**30,
        "losses": timer.losses,
    }


def append_row(out: Path, row: dict[str, Any]) -> None:
    """Append one row to the JSONL file ``out`` (flushed: a later kill cannot lose it)."""
    with open(out, "a", encoding="utf-8") as f:
        f.write(json.dumps(row) + "\n")


def throughput(args: argparse.Namespace) -> dict[str, Any]:
    """Each implementation in its own subprocess (own FSDP process group and memory peak).

    Each gets an equal share of what is left of ``--timeout`` (time one leaves unused goes to
    the next); its row is appended to ``--out`` as soon as it is measured.
    """
    model = TINY if args.cpu else MODEL
    results: dict[str, Any] = {"batch": args.batch, "seq": args.seq, "model": model}
    # Each run is an attention implementation under FSDP1, or one under FSDP2 ("impl@fsdp2").
    runs = args.impls.split(",")
    deadline = time.monotonic() + args.timeout
    for i, run in enumerate(runs):
        impl, _, fsdp = run.partition("@")
        share = max(1.0, (deadline - time.monotonic()) / (len(runs) - i))
        cmd = [sys.executable, __file__, "throughput-child", "--impl", impl]
        cmd += ["--fsdp-version", "2" if fsdp == "fsdp2" else "1"]
        cmd += ["--steps", str(args.steps), "--batch", str(args.batch), "--seq", str(args.seq)]
        cmd += ["--matmul-tflops", str(args.matmul_tflops or 0)] + (["--cpu"] if args.cpu else [])
        try:
            proc = subprocess.run(cmd, capture_output=True, text=True, timeout=share)
        except subprocess.TimeoutExpired as e:
            results[run] = {"error": f"timed out after {share:.0f}s", "timeout_s": share}
            tail = e.stderr or ""
            sys.stderr.write(tail.decode(errors="replace") if isinstance(tail, bytes) else tail)
        else:
            if proc.returncode == 0:
                results[run] = json.loads(proc.stdout.strip().split("\n")[-1])
            else:
                last = proc.stderr.strip().split("\n")[-1:]
                results[run] = {"error": f"exit {proc.returncode}: {' '.join(last)}"[:500]}
                sys.stderr.write(proc.stderr[-4000:])
        if args.out:
            append_row(Path(args.out), {"part": "train", "model": model, **results[run],
                                        "impl": run})  # fmt: skip
    # Same weights and batches: the first losses differ only by the attention kernels' rounding.
    first = {
        k: v["losses"][0] for k, v in results.items() if isinstance(v, dict) and v.get("losses")
    }
    if "torch" in first:
        results["first_loss_rel_diff_vs_torch"] = {
            k: abs(v - first["torch"]) / abs(first["torch"]) for k, v in first.items()
        }
        if args.out:
            append_row(Path(args.out), {"part": "train", "first_loss_rel_diff_vs_torch":
                                        results["first_loss_rel_diff_vs_torch"]})  # fmt: skip
    return results


def _resume_overrides(data: Path, run_dir: Path, impl: str, cpu: bool = False) -> list[str]:
    mds = data / "mds"
    common = [
        f"variables.tokenizer_name={data / 'tokenizer'}",
        f"variables.data_root={mds}",
        f"variables.data_local={mds / 'cs_web'}",
        f"variables.save_folder={run_dir}",
        "model.name=csmpt_mpt_causal_lm",
        f"model.attn_config.attn_impl={impl}",
        "max_duration=30ba",
        "save_interval=10ba",
        "eval_interval=30ba",
        "icl_subset_num_batches=1",
        "console_log_interval=1ba",
    ]
    if cpu:  # the recipe's tiny model in fp32: checks this orchestration on a CPU machine
        return common
    return [
        *common,
        "model.init_device=meta",
        *[f"model.{k}={v}" for k, v in MODEL.items()],
        "precision=amp_bf16",
        *[f"fsdp_config.{k}={v}" for k, v in FSDP.items()],
        "fsdp_config.state_dict_type=sharded",
    ]


def _train_cmd(
    data: Path, run_dir: Path, impl: str, cpu: bool, recipe: str = "yamls/tiny/mpt_hot_swap.yaml"
) -> list[str]:
    code = (
        "import sys; from csmpt.training import run_training; "
        "run_training(sys.argv[1], sys.argv[2:])"
    )
    overrides = _resume_overrides(data, run_dir, impl, cpu)
    return [sys.executable, "-c", code, recipe, *overrides]


def _losses(run_dir: Path) -> dict[int, float]:
    """Step -> loss from the run's metrics.jsonl (the last value logged for a step wins)."""
    from csmpt.run_folder import metric_series, read_metrics

    return dict(metric_series(read_metrics(run_dir / "metrics.jsonl"), "loss/train/total"))


def _events(run_dir: Path) -> list[dict[str, Any]]:
    from csmpt.run_folder import read_events

    return [
        {k: v for k, v in e.items() if k != "time"} for e in read_events(run_dir / "events.jsonl")
    ]


def resume(args: argparse.Namespace) -> dict[str, Any]:
    """Uninterrupted vs SIGKILLed-at-step-21-and-resumed: losses and events.

    One row per phase (``reference``, ``killed``, ``resumed``) as it ends, then the comparison.
    A phase that runs past what is left of ``--timeout`` is killed and recorded as timed out; the
    comparison then says which phase is missing. The verdict needs the kill to have landed.
    """
    base = Path(args.work)
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "TOKENIZERS_PARALLELISM": "false"}
    ref_dir, run_dir = base / "reference", base / "killed"
    deadline = time.monotonic() + args.timeout

    def row(**fields: Any) -> dict[str, Any]:
        r = {"part": "resume", "impl": args.impl, **fields}
        if args.out:
            append_row(Path(args.out), r)
        return r

    def run(phase: str, run_folder: Path) -> bool:
        left = deadline - time.monotonic()
        t0 = time.perf_counter()
        try:
            cmd = _train_cmd(args.data, run_folder, args.impl, args.cpu)
            proc = subprocess.run(cmd, cwd=REPO, env=env, timeout=max(1.0, left))
        except subprocess.TimeoutExpired:
            row(phase=phase, error=f"timed out after {left:.0f}s")
            return False
        seconds = time.perf_counter() - t0
        if proc.returncode != 0:
            row(phase=phase, error=f"exit {proc.returncode}", seconds=seconds)
            return False
        row(phase=phase, seconds=seconds, steps=len(_losses(run_folder)))
        return True

    ok = run("reference", ref_dir)
    killed_at = None
    if ok:
        t0 = time.perf_counter()
        proc = subprocess.Popen(
            _train_cmd(args.data, run_dir, args.impl, args.cpu), cwd=REPO, env=env
        )
        while time.monotonic() < deadline and proc.poll() is None:
            done = _losses(run_dir)
            if done and max(done) >= args.kill_after:
                proc.send_signal(signal.SIGKILL)
                killed_at = max(done)
                break
            time.sleep(0.2)
        if proc.poll() is None and killed_at is None:
            proc.kill()
        proc.wait()
        why = None if killed_at is not None else (
            "the run ended before the kill step" if proc.returncode == 0
            else f"timed out or failed before step {args.kill_after} (exit {proc.returncode})"
        )  # fmt: skip
        row(phase="killed", killed_after_step=killed_at, seconds=time.perf_counter() - t0,
            **({"error": why} if why else {}))  # fmt: skip
        ok = killed_at is not None and run("resumed", run_dir)
    ref, got = _losses(ref_dir), _losses(run_dir)
    steps = sorted(ref)
    worst = max((abs(got.get(s, float("inf")) - ref[s]) / abs(ref[s]) for s in steps), default=0)
    events_ref, events_got = _events(ref_dir), _events(run_dir)
    return row(
        phase="compare",
        complete=ok,
        killed_after_step=killed_at,
        steps_reference=len(ref),
        steps_resumed=len(got),
        max_rel_loss_diff=worst if ok else None,
        losses_equal_within_bf16_noise=ok and steps == sorted(got) and worst <= args.rel_tol,
        rel_tol=args.rel_tol,
        events_identical=ok and events_ref == events_got,
        events=events_got,
        losses_reference=[ref[s] for s in steps],
        losses_resumed=[got.get(s) for s in steps],
    )


FIXTURE_MODEL = {**TINY, "vocab": 512, "seq": 64, "batch": 4, "steps": 4}


def fsdp1_fixture(out: Path, cpu: bool = False) -> dict[str, Any]:
    """A real FSDP1 sharded checkpoint, small enough to keep as a CPU test's fixture.

    FSDP1 cannot run on CPU (Composer calls ``torch.cuda.current_device()``) and llm-foundry's
    ``train`` drops ``fsdp_config`` on one GPU ("not applicable for single-GPU training"), so
    this builds Composer's ``Trainer`` itself, as :func:`throughput_child` does: a tiny ALiBi MPT
    (d_model 64, 2 layers, vocab 512), fp32, FSDP1 FULL_SHARD, ``csmpt_lionw``, 4 steps,
    ``state_dict_type: sharded``: the DCP folder ``ep0-ba4/`` with optimizer state. Then the
    trained model's logits on fixed ids (fp32, TF32 off) - what a reader of that folder must
    reproduce on CPU. Writes ``out/ep0-ba4/``, ``out/reference.pt`` (ids, logits, losses) and
    ``out/fixture.json`` (model kwargs, versions). With ``cpu``: no FSDP, a monolithic
    checkpoint (checks this code on a CPU machine).
    """
    import shutil

    import composer
    import torch
    from composer import Trainer
    from torch.utils.data import DataLoader

    from csmpt.optim.lionw import LionW

    os.environ["FSDP_VERSION"] = "1"
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    spec = FIXTURE_MODEL
    torch.manual_seed(0)
    model = _model("torch", spec["seq"], spec["vocab"], cpu=True)
    g = torch.Generator().manual_seed(0)
    ids = torch.randint(0, spec["vocab"], (spec["batch"] * spec["steps"], spec["seq"]), generator=g)
    samples = [{"input_ids": r, "labels": r, "attention_mask": torch.ones_like(r)} for r in ids]
    work = out / "run"
    shutil.rmtree(work, ignore_errors=True)
    fsdp = {"sharding_strategy": "FULL_SHARD", "state_dict_type": "sharded"}
    trainer = Trainer(
        model=model,
        train_dataloader=DataLoader(samples, batch_size=spec["batch"]),
        optimizers=LionW(model.parameters(), lr=1e-3, betas=(0.9, 0.95), weight_decay=0.0),
        max_duration=f"{spec['steps']}ba",
        precision="fp32",
        parallelism_config=None if cpu else {"fsdp": fsdp},
        device="cpu" if cpu else "gpu",
        save_folder=str(work),
        save_interval=f"{spec['steps']}ba",
        save_filename="ep{epoch}-ba{batch}-rank{rank}.pt",
        progress_bar=False,
        log_to_console=False,
        seed=17,
    )
    trainer.fit()
    probe = torch.arange(2 * spec["seq"]).reshape(2, spec["seq"]) % spec["vocab"]
    device = "cpu" if cpu else "cuda"
    trainer.state.model.eval()
    with torch.no_grad():
        logits = trainer.state.model({"input_ids": probe.to(device)}).logits.float().cpu()
    saved = sorted(work.iterdir())
    for path in saved:
        dest = out / path.name
        if path.is_dir():
            shutil.rmtree(dest, ignore_errors=True)
            shutil.copytree(path, dest)
        elif path.is_file() and not path.is_symlink():
            shutil.copy2(path, dest)
    shutil.rmtree(work, ignore_errors=True)
    torch.save({"ids": probe, "logits": logits}, out / "reference.pt")
    meta = {
        "model": {k: v for k, v in spec.items() if k in TINY},
        "vocab_size": spec["vocab"],
        "max_seq_len": spec["seq"],
        "attn_config": {"attn_impl": "torch", "alibi": True},
        "fsdp": None if cpu else {"version": 1, **fsdp},
        "saved": [p.name for p in saved],
        "torch": torch.__version__,
        "composer": composer.__version__,
        "device": torch.cuda.get_device_name() if not cpu else "cpu",
    }
    (out / "fixture.json").write_text(json.dumps(meta, indent=1) + "\n")
    return meta


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "mode", choices=["throughput", "throughput-child", "resume", "fsdp1-fixture"]
    )
    parser.add_argument("--fixture-out", type=Path, default=Path("artifacts/gpu_check/fsdp1"))
    parser.add_argument("--out", help="JSONL file to append the rows to")
    parser.add_argument("--impl", default="csmpt_sdpa_alibi")
    parser.add_argument("--impls", default=",".join(IMPLS))
    parser.add_argument("--fsdp-version", type=int, choices=(1, 2), default=1)
    parser.add_argument("--steps", type=int, default=12)
    parser.add_argument("--batch", type=int, default=4)
    parser.add_argument("--seq", type=int, default=2048)
    parser.add_argument("--matmul-tflops", type=float, default=0.0)
    parser.add_argument("--data", type=Path, help="folder with tokenizer/ and mds/ (gpu_wheels)")
    parser.add_argument("--work", default="artifacts/gpu_check/runs")
    parser.add_argument("--kill-after", type=int, default=21)
    parser.add_argument("--rel-tol", type=float, default=2e-2, help="bf16 noise, relative")
    parser.add_argument(
        "--timeout",
        type=int,
        default=int(os.environ.get("CAP_S", "245")) - 5,
        help="seconds for the whole mode (default: 5 s less than $CAP_S, gpu_check.sh's cap)",
    )
    parser.add_argument("--cpu", action="store_true", help="a tiny model on CPU, fp32, no FSDP")
    args = parser.parse_args()
    if args.mode == "throughput-child":
        result = throughput_child(
            args.impl,
            args.steps,
            args.batch,
            args.seq,
            args.matmul_tflops,
            args.cpu,
            args.fsdp_version,
        )
        print(json.dumps(result))
        return
    if args.mode == "throughput":
        throughput(args)
    elif args.mode == "fsdp1-fixture":
        meta = fsdp1_fixture(args.fixture_out, args.cpu)
        if args.out:
            append_row(Path(args.out), {"part": "fsdp1_fixture", **meta})
    else:
        resume(args)


if __name__ == "__main__":
    main()
