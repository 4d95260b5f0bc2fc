"""The surgery report's held-out bpb per init, beside uniform and unigram baselines.

    .venv/bin/python bench/surgery_baselines.py [--out DIR] [--en-steps 40] [--seeds 17,18,19]
        [--inits mean,focus,pieces,random] [--eval-sequences 64]

The demo's setup: tokenizers trained on the English and Czech samples, the tiny English ALiBi
MPT (yamls/tiny/mpt_en.yaml) trained for ``--en-steps`` (the demo's 40), its vocabulary swapped
to the Czech tokenizer (yamls/surgery/mpt_en_to_cs.yaml) with each init, once per seed (the
seed of the English run, of the held-out draw and of the init). Each surgery report scores a
held-out 10% of data/samples/cs_web.jsonl's documents (report.held_out), which FOCUS's fastText
and the unigram baseline never saw. Prints a Markdown table of bits per byte, mean ± 95% CI
over the seeds (:mod:`csmpt.ablate.stats`): the swapped model, random embeddings, the uniform
model over the Czech vocabulary, the add-one unigram of the training documents, the swapped
model minus uniform, and each init minus the first one per seed (paired: the same English run
and held-out text, so the seed-to-seed spread of the text cancels).
"""

from __future__ import annotations

import argparse
import logging
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def main() -> None:
    """Train the English base, swap it with each init, print the report's bpb table."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", type=Path, default=None, help="work folder (default: a temp dir)")
    p.add_argument("--en-steps", type=int, default=40)
    p.add_argument("--seeds", default="17,18,19")
    p.add_argument("--inits", default="mean,focus,pieces,random")
    p.add_argument("--eval-sequences", type=int, default=64, help="rows of 128 held-out tokens")
    args = p.parse_args()
    logging.basicConfig(level=logging.WARNING)
    from csmpt.ablate.stats import mean_ci
    from csmpt.config import build_structured, load_yaml_with_overrides
    from csmpt.prep.config import PrepConfig
    from csmpt.prep.run import prep_corpora
    from csmpt.surgery.recipe import SurgeryConfig, run_surgery
    from csmpt.tokenizer.train import TokenizerConfig, train_tokenizer
    from csmpt.training import run_training

    root = args.out or Path(tempfile.mkdtemp(prefix="csmpt-surgery-baselines-"))
    t0 = time.perf_counter()
    toks = {}
    for name, yaml_name in (("cs", "sample.yaml"), ("en", "en_sample.yaml")):
        path = REPO / "data_prep/tokenizer" / yaml_name
        ov = [f"output_dir={root / ('tok_' + name)}"]
        cfg = build_structured(TokenizerConfig, load_yaml_with_overrides(path, ov), path)
        toks[name] = train_tokenizer(cfg)[0]
    path = REPO / "data_prep/en_sample.yaml"
    ov = [f"tokenizer={toks['en']}", f"output_dir={root / 'mds_en'}"]
    prep_corpora(build_structured(PrepConfig, load_yaml_with_overrides(path, ov), path))
    inits = args.inits.split(",")
    got: dict[str, list[list[float]]] = {init: [] for init in inits}
    texts = []
    for seed in (int(x) for x in args.seeds.split(",")):
        en_run = root / f"runs/en_{seed}"
        run_training(
            str(REPO / "yamls/tiny/mpt_en.yaml"),
            [
                f"variables.tokenizer_name={toks['en']}",
                f"variables.data_root={root / 'mds_en'}",
                f"variables.save_folder={en_run}",
                f"max_duration={args.en_steps}ba",
                f"save_interval={args.en_steps}ba",
                "eval_interval=1000ba",
                f"seed={seed}",
            ],
        )
        surgery = REPO / "yamls/surgery/mpt_en_to_cs.yaml"
        for init in inits:
            ov = [
                f"source.model={en_run}/latest-rank0.pt",
                f"source.tokenizer={toks['en']}",
                f"target.tokenizer={toks['cs']}",
                f"output.dir={root}/surgery/{init}_{seed}",
                f"vocab_swap.init={init}",
                f"report.eval_sequences={args.eval_sequences}",
                f"seed={seed}",
            ]
            cfg = build_structured(SurgeryConfig, load_yaml_with_overrides(surgery, ov), surgery)
            _, r = run_surgery(cfg, force=True)
            values = [r.bpb_swapped, r.bpb_random, r.bpb_uniform, r.bpb_unigram]
            if any(v is None for v in values):
                raise SystemExit(f"seed {seed}, init {init}: the report has no bits per byte")
            vals = [float(v) for v in values if v is not None]
            got[init].append([*vals, vals[0] - vals[2]])
            texts.append(f"seed {seed}: {r.eval_tokens} tokens, {r.eval_bytes} bytes")
    print(
        f"\nEnglish MPT {args.en_steps} steps; seeds {args.seeds}; held-out "
        f"{'; '.join(sorted(set(texts)))}; {time.perf_counter() - t0:.0f} s\n"
    )
    base = inits[0]
    print(
        "| init | swapped bpb | random embeddings | uniform | unigram | swapped - uniform "
        f"| swapped - {base} (paired by seed) |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|")
    for init in inits:
        cols = [str(mean_ci([row[i] for row in got[init]])) for i in range(5)]
        paired = [a[0] - b[0] for a, b in zip(got[init], got[base], strict=True)]
        cols.append(str(mean_ci(paired)) if init != base else "")
        print(f"| {init} | " + " | ".join(cols) + " |")


if __name__ == "__main__":
    main()
