"""Which vocabulary-swap init adapts best? mean / pieces / focus, with and without embeddings-first.

    .venv/bin/python bench/adaptation.py [--out artifacts/bench_adaptation] [--en-steps 60]
        [--cs-steps 30] [--freeze-steps 10] [--max-samples 32] [--seed 17]

At the demo's tiny scale, on CPU: tokenizers trained on the English and Czech samples, an English
ALiBi MPT (yamls/tiny/mpt_en.yaml) trained for ``--en-steps``, its vocabulary swapped to the
Czech tokenizer (yamls/surgery/mpt_en_to_cs.yaml) with each init, then continued in Czech
(yamls/tiny/mpt.yaml, same seed and steps) with and without a ``csmpt_freeze`` stage that trains
only ``wte`` for the first ``--freeze-steps`` steps. Czech bits per byte (cs_web val) of the
swapped model before training and at the end, English bits per byte (en_web val, the same text
for every row) at the end, all by ``csmpt validate``'s scoring. Prints a Markdown table; the
anchor is the ``mean`` row without the stage (CSMPT7b's recipe).
"""

from __future__ import annotations

import argparse
import logging
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
INITS = ("mean", "pieces", "focus")


def _tokenizer(yaml_name: str, out: Path) -> Path:
    from csmpt.config import build_structured, load_yaml_with_overrides
    from csmpt.tokenizer.train import TokenizerConfig, train_tokenizer

    path = REPO / "data_prep/tokenizer" / yaml_name
    cfg = build_structured(
        TokenizerConfig, load_yaml_with_overrides(path, [f"output_dir={out}"]), path
    )
    return train_tokenizer(cfg)[0]


def _prep(yaml_name: str, tokenizer: Path, out: Path, keep: set[str]) -> Path:
    from csmpt.config import build_structured, load_yaml_with_overrides
    from csmpt.prep.config import PrepConfig
    from csmpt.prep.run import prep_corpora

    path = REPO / "data_prep" / yaml_name
    ov = [f"tokenizer={tokenizer}", f"output_dir={out}"]
    cfg = build_structured(PrepConfig, load_yaml_with_overrides(path, ov), path)
    cfg.corpora = [c for c in cfg.corpora if c.name in keep]
    prep_corpora(cfg)
    return out


def _run(recipe: str, overrides: list[str]) -> None:
    from csmpt.training import run_training

    run_training(str(REPO / recipe), overrides)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", type=Path, default=None, help="work folder (default: a temp dir)")
    p.add_argument("--en-steps", type=int, default=60)
    p.add_argument("--cs-steps", type=int, default=30)
    p.add_argument("--freeze-steps", type=int, default=10)
    p.add_argument("--max-samples", type=int, default=32)
    p.add_argument("--seed", type=int, default=17, help="every run's seed (the recipes': 17)")
    args = p.parse_args()
    logging.basicConfig(level=logging.WARNING)
    from csmpt.config import build_structured, load_yaml_with_overrides
    from csmpt.eval.validate import validate_checkpoints
    from csmpt.surgery.recipe import SurgeryConfig, run_surgery

    root = args.out or Path(tempfile.mkdtemp(prefix="csmpt-adaptation-"))
    root.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    tok_cs = _tokenizer("sample.yaml", root / "tok_cs")
    tok_en = _tokenizer("en_sample.yaml", root / "tok_en")
    mds_cs = _prep("sample.yaml", tok_cs, root / "mds_cs", {"cs_web", "en_web"})
    mds_en = _prep("en_sample.yaml", tok_en, root / "mds_en", {"en_web"})
    en_run = root / "runs/en"
    common = [
        "save_num_checkpoints_to_keep=1",
        "icl_tasks=[]",
        "eval_interval=1000ba",
        f"seed={args.seed}",
    ]
    _run(
        "yamls/tiny/mpt_en.yaml",
        [
            f"variables.tokenizer_name={tok_en}",
            f"variables.data_root={mds_en}",
            f"variables.save_folder={en_run}",
            f"max_duration={args.en_steps}ba",
            f"save_interval={args.en_steps}ba",
            *common,
        ],
    )
    corpora = {"cs_web": mds_cs / "cs_web/val", "en_web": mds_cs / "en_web/val"}
    recipe = "yamls/tiny/mpt.yaml"
    rows = []
    for init in INITS:
        surgery = REPO / "yamls/surgery/mpt_en_to_cs.yaml"
        ov = [
            f"source.model={en_run}/latest-rank0.pt",
            f"source.tokenizer={tok_en}",
            f"target.tokenizer={tok_cs}",
            f"output.dir={root}/surgery/{init}",
            f"vocab_swap.init={init}",
            "report.eval_sequences=0",
            f"seed={args.seed}",
        ]
        cfg = build_structured(SurgeryConfig, load_yaml_with_overrides(surgery, ov), surgery)
        ts = time.perf_counter()
        out, _ = run_surgery(cfg, force=True)
        swap_s = time.perf_counter() - ts
        base = [
            f"variables.tokenizer_name={tok_cs}",
            f"variables.data_local={mds_cs}/cs_web",
            f"load_path={out}/model.pt",
            "load_weights_only=true",
            f"max_duration={args.cs_steps}ba",
            f"save_interval={args.cs_steps}ba",
            *common,
        ]
        start = validate_checkpoints(
            None, REPO / recipe, root / f"val_{init}_start.csv", {"cs_web": corpora["cs_web"]},
            base, args.max_samples, models={"swapped": out / "hf"},
        )[0].bpb  # fmt: skip
        for freeze in (False, True):
            run = root / f"runs/{init}_{'freeze' if freeze else 'all'}"
            ov = [*base, f"variables.save_folder={run}"]
            if freeze:
                stage = f"{{until: {args.freeze_steps}ba, train: [wte]}}"
                ov.append(f"callbacks.csmpt_freeze={{stages: [{stage}]}}")
            _run(recipe, ov)
            got = validate_checkpoints(
                run, REPO / recipe, run / "validation.csv", corpora, ov, args.max_samples
            )
            end = {r.corpus: r.bpb for r in got}
            rows.append((init, freeze, start, end["cs_web"], end["en_web"], swap_s))
    anchor = next(r for r in rows if r[0] == "mean" and not r[1])
    print(
        f"\ntiny scale: English MPT {args.en_steps} steps; Czech {args.cs_steps} steps "
        f"(embeddings-first: wte only for {args.freeze_steps}); seed {args.seed}; "
        f"{time.perf_counter() - t0:.0f} s\n"
    )
    print(
        "| init | embeddings first | swap s | Czech bpb step 0 | Czech bpb end "
        "| vs mean end | English bpb end |"
    )
    print("|---|---|---:|---:|---:|---:|---:|")
    for init, freeze, start, cs, en, swap_s in rows:
        print(
            f"| {init} | {'yes' if freeze else 'no'} | {swap_s:.1f} | {start:.3f} | {cs:.3f} "
            f"| {cs - anchor[3]:+.3f} | {en:.3f} |"
        )
    best = min(rows, key=lambda r: r[3])
    print(f"\nlowest Czech bpb at the end: {best[0]}{' + embeddings first' if best[1] else ''}")


if __name__ == "__main__":
    main()
