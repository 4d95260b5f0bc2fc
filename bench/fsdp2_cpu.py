"""FSDP2 through Composer on CPU: the tiny MPT recipe on 2 gloo processes vs DDP, and a resume.

Runs ``csmpt launch --scheduler local --nproc 2 yamls/tiny/mpt.yaml`` three times in a scratch
folder (needs ``make demo``'s tokenizer and shards under artifacts/demo/):

1. DDP (no ``fsdp_config``), 6 steps;
2. FSDP2 (``fsdp_config: {version: 2, state_dict_type: sharded}``), 6 steps, sharded
   (DCP) checkpoints at steps 3 and 6;
3. the FSDP2 run's folder with its step-6 checkpoint removed (a save lost to a crash), rerun: the
   resume guard points ``latest-sharded-rank0`` back at step 3 and Composer resumes there.

Prints each run's losses and whether FSDP2 equals DDP and the resumed run the uninterrupted one
(bit for bit, and the largest difference).

``--freeze N`` adds an embeddings-first stage to every run (``csmpt_freeze``: only ``wte`` trains
for the first N steps; the callback drops the other gradients after each backward pass), so the
comparison covers csmpt's freeze under FSDP2's sharded gradients; the FSDP2 run's
``events.jsonl`` must then hold the stage's start and the unfreeze.

``--recipe yamls/tiny/mpt_hot_swap.yaml --steps 30`` runs the hot-swap recipe instead (corpora
swapped at steps 14 and 27; the resumed run restarts at step 15, after the first swap, and must
replay the second): the script then also compares each run's hot-swap events.

``--override KEY=VALUE`` (repeatable) adds recipe overrides to every run: e.g. an AdamW
optimizer (is the FSDP2-vs-DDP drift Lion's?), a spike injected and rolled back
(``callbacks.csmpt_loss_spike`` with ``action: rollback``), or ``callbacks.csmpt_batch_ramp``;
the script then prints each run's events (spikes, rollbacks) and ramped batch sizes. ``--data DIR``
takes the tokenizer and shards from ``DIR/tokenizer`` and ``DIR/mds`` (e.g. the folder
``bench/gpu_wheels.sh`` makes) instead of the demo's.

    python bench/fsdp2_cpu.py [--steps 6] [--freeze 3] [--recipe R] [--data DIR] \
        [--save-interval N] [--override KEY=VALUE ...]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
FSDP = (  # version: 2 -> csmpt_fsdp_version sets FSDP_VERSION=2 in each rank
    "fsdp_config={version: 2, sharding_strategy: FULL_SHARD, state_dict_type: sharded, "
    "mixed_precision: FULL}"
)


def _launch(
    work: Path,
    run: Path,
    steps: int,
    port: int,
    fsdp2: bool,
    extra: list[str],
    recipe: str = "yamls/tiny/mpt.yaml",
    save_interval: int = 0,
) -> None:
    env = dict(os.environ, TMPDIR=str(work / "tmp"))
    env.pop("FSDP_VERSION", None)  # the recipe key chooses
    cmd = [
        str(Path(sys.executable).with_name("csmpt")),
        "launch",
        "--scheduler",
        "local",
        "--nproc",
        "2",
        "--master-port",
        str(port),
        recipe,
        f"variables.save_folder={run}",
        f"max_duration={steps}ba",
        f"eval_interval={steps}ba",
        f"save_interval={save_interval or steps // 2}ba",
        *([FSDP] if fsdp2 else []),
        *extra,
    ]
    proc = subprocess.run(cmd, cwd=work, env=env, capture_output=True, text=True)
    if proc.returncode != 0:
        raise SystemExit(f"{run.name} failed ({proc.returncode}):\n{proc.stderr[-3000:]}")


def _losses(run: Path) -> dict[int, float]:
    out = {}
    for line in (run / "metrics.jsonl").read_text().splitlines():
        r = json.loads(line)
        if "loss/train/total" in r:
            out[int(r["step"])] = float(r["loss/train/total"])
    return out


def _swaps(run: Path) -> list[tuple[str, int, str]]:
    """(event, step, corpus) of the run's hot-swap events, in order."""
    events = [json.loads(x) for x in (run / "events.jsonl").read_text().splitlines()]
    return [
        (e["event"], int(e["step"]), str(e.get("to") or e.get("corpus") or e.get("name", "")))
        for e in events
        if "swap" in e["event"]
    ]


def _events(run: Path) -> list[tuple[str, int] | tuple[str, int, int]]:
    """(event, step[, to]) of the run's events file (spikes, rollbacks with the step they went
    back to, swaps, stages), in order."""
    path = run / "events.jsonl"
    if not path.is_file():
        return []
    events = [json.loads(x) for x in path.read_text().splitlines()]
    return [
        (e["event"], int(e["step"]), int(e["to"]))
        if isinstance(e.get("to"), int)
        else (e["event"], int(e["step"]))
        for e in events
    ]


def _batch_sizes(run: Path) -> dict[int, int]:
    """Step -> the batch ramp's global batch size, where the run logged it."""
    out = {}
    for line in (run / "metrics.jsonl").read_text().splitlines():
        r = json.loads(line)
        if "batch_ramp/global_batch_size" in r:
            out[int(r["step"])] = int(r["batch_ramp/global_batch_size"])
    return out


def _compare(name: str, a: dict[int, float], b: dict[int, float]) -> None:
    steps = sorted(set(a) & set(b))
    diff = max(abs(a[s] - b[s]) for s in steps)
    same = all(a[s] == b[s] for s in steps)
    print(f"{name}: steps {steps[0]}-{steps[-1]}, bit-identical {same}, max |diff| {diff:.3g}")


def main() -> None:
    """Run the three launches and print the comparisons."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--steps", type=int, default=6)
    ap.add_argument("--freeze", type=int, default=0, help="embeddings-first steps (0: none)")
    ap.add_argument("--recipe", default="yamls/tiny/mpt.yaml")
    ap.add_argument("--data", type=Path, help="folder with tokenizer/ and mds/ (default: demo's)")
    ap.add_argument("--save-interval", type=int, default=0, help="steps (default: steps / 2)")
    ap.add_argument("--override", action="append", default=[], help="KEY=VALUE, repeatable")
    args = ap.parse_args()
    data = (
        [
            f"variables.tokenizer_name={args.data.resolve() / 'tokenizer'}",
            f"variables.data_root={args.data.resolve() / 'mds'}",
            f"variables.data_local={args.data.resolve() / 'mds' / 'cs_web'}",
        ]
        if args.data
        else []
    )
    extra = (
        data
        + (
            [f'callbacks.csmpt_freeze={{"stages":[{{"until":"{args.freeze}ba","train":["wte"]}}]}}']
            if args.freeze
            else []
        )
        + args.override
    )
    with tempfile.TemporaryDirectory(prefix="fsdp2-") as tmp:
        work = Path(tmp)
        (work / "tmp").mkdir()
        for name in ("artifacts", "yamls", "data"):
            (work / name).symlink_to(REPO / name)
        ddp, fsdp2, resumed = work / "ddp", work / "fsdp2", work / "fsdp2-resumed"
        every = args.save_interval
        launch = dict(extra=extra, recipe=args.recipe, save_interval=every)
        _launch(work, ddp, args.steps, 29631, fsdp2=False, **launch)  # type: ignore[arg-type]
        _launch(work, fsdp2, args.steps, 29632, fsdp2=True, **launch)  # type: ignore[arg-type]
        print("fsdp2 folder:", sorted(p.name for p in fsdp2.iterdir()))
        shutil.copytree(fsdp2, resumed, symlinks=True)
        shutil.rmtree(resumed / f"ep0-ba{args.steps}")
        _launch(work, resumed, args.steps, 29633, fsdp2=True, **launch)  # type: ignore[arg-type]
        history = [json.loads(x) for x in (resumed / "runs.jsonl").read_text().splitlines()]
        print("resumed run's history:", [(h["event"], h["step"]) for h in history])
        if args.freeze:
            events = [json.loads(x) for x in (fsdp2 / "events.jsonl").read_text().splitlines()]
            print("fsdp2 freeze events:", [(e["event"], e["step"]) for e in events])
        if "hot_swap" in args.recipe:
            swaps = {name: _swaps(run) for name, run in (("ddp", ddp), ("fsdp2", fsdp2))}
            swaps["fsdp2-resumed"] = _swaps(resumed)
            for name, rows in swaps.items():
                print(f"{name} hot-swap events:", rows)
            print("hot-swap events FSDP2 == DDP:", swaps["fsdp2"] == swaps["ddp"])
        runs = (("ddp", ddp), ("fsdp2", fsdp2), ("fsdp2-resumed", resumed))
        if args.override:
            for name, run in runs:
                print(f"{name} events:", _events(run))
            for name, run in runs:
                sizes = _batch_sizes(run)
                if sizes:
                    print(f"{name} batch sizes:", [sizes[s] for s in sorted(sizes)])
        for name, run in (("ddp", ddp), ("fsdp2", fsdp2)):
            print(f"{name} losses:", [round(v, 6) for _, v in sorted(_losses(run).items())])
        _compare("FSDP2 vs DDP", _losses(fsdp2), _losses(ddp))
        half = args.steps // 2
        tail = {s: v for s, v in _losses(resumed).items() if s > half}
        _compare("FSDP2 resumed vs uninterrupted", tail, _losses(fsdp2))


if __name__ == "__main__":
    main()
