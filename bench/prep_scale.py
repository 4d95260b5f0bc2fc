"""``csmpt prep`` at size: tokens/s and peak RSS as the corpus grows, parts, near-dedup.

Each contender runs in its own subprocess (its peak RSS is its own ``ru_maxrss``), on corpora
generated like ``bench/data_prep.py``'s (the Czech samples replicated, every copy distinct),
with the same tokenizer, in one run:

* raw tiktoken (csmpt's exact encoder over the texts in memory): the anchor;
* ``csmpt prep`` on ``--mb`` sizes (e.g. 100 and 300): tokens/s, peak RSS, RSS growth;
* ``csmpt prep --part 1/2`` and ``2/2`` one after the other, then ``--merge`` (on one machine
  this measures the overhead of parts; on two nodes the parts run at once);
* ``csmpt prep`` with ``filter: {near_dedup: {}}`` (``--dedup-mb``), and the near-dedup index's
  memory per kept document (RSS growth over ``--index-docs`` inserted signatures);
* optionally the same prep from another source tree (``--baseline-src``, e.g. an older commit
  unpacked with ``git archive``) to compare throughput and shards byte for byte.

    .venv/bin/python bench/prep_scale.py --mb 100 300 [--dedup-mb 20] [--baseline-src DIR]
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

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "bench"))

from data_prep import make_corpus, tokenizer_dir  # noqa: E402


def child(code: str, pythonpath: str | None = None) -> dict[str, float]:
    """Run ``code`` in a fresh interpreter; it prints one JSON line; add wall s and peak RSS.

    Peak RSS is the child's own ``VmHWM`` (``ru_maxrss`` would carry this process's, which it
    keeps across exec).
    """
    env = dict(os.environ)
    if pythonpath:
        env["PYTHONPATH"] = pythonpath
    wrapped = (
        "import json, time\nt0 = time.perf_counter()\n"
        + code
        + "\nout['wall'] = time.perf_counter() - t0\n"
        "hwm = [ln for ln in open('/proc/self/status') if ln.startswith('VmHWM:')]\n"
        "out['rss_mb'] = int(hwm[0].split()[1]) / 1024\n"
        "print(json.dumps(out))\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", wrapped], capture_output=True, text=True, env=env, cwd=REPO
    )
    if proc.returncode != 0:
        raise SystemExit(proc.stderr[-3000:])
    return dict(json.loads(proc.stdout.strip().splitlines()[-1]))


def prep_code(tok: Path, jsonl: Path, out: Path, seq: int, extra: str = "", part: str = "") -> str:
    filt = "FilterSpec(near_dedup=NearDedupSpec())" if extra == "near" else "None"
    return f"""
from csmpt.prep.config import CorpusSpec, PrepConfig
from csmpt.prep.run import prep_corpora
from csmpt.filter.document_filter import FilterSpec
try:
    from csmpt.filter.near_dedup import NearDedupSpec
except ImportError:
    pass
cfg = PrepConfig(tokenizer={str(tok)!r}, output_dir={str(out)!r}, max_seq_len={seq},
                 val_fraction=0.0, compression="zstd",
                 corpora=[CorpusSpec(name="bench", inputs=[{str(jsonl)!r}], filter={filt})])
t0 = time.perf_counter()
kw = {{"part": {part or "(0, 1)"}}} if {bool(part)} else {{}}
(r,) = prep_corpora(cfg, **kw)
out = {{"tokens": r.manifests["train"].tokens, "prep_s": time.perf_counter() - t0}}
"""


def raw_code(tok: Path, jsonl: Path) -> str:
    return f"""
import os
from concurrent.futures import ThreadPoolExecutor
from csmpt.prep.tiktoken_bpe import build_exact_tiktoken
texts = [json.loads(l)["text"] for l in open({str(jsonl)!r}, encoding="utf-8")]
t0 = time.perf_counter()
exact = build_exact_tiktoken({str(tok / "tokenizer.json")!r})
batches = [texts[i : i + 512] for i in range(0, len(texts), 512)]
with ThreadPoolExecutor(os.cpu_count()) as pool:
    n = sum(len(f) + len(k) for f, k in pool.map(exact.encode_flat, batches))
out = {{"tokens": n, "prep_s": time.perf_counter() - t0}}
"""


def index_code(n: int) -> str:
    return f"""
import tracemalloc
import numpy as np
from csmpt.filter.near_dedup import NearDedupIndex, NearDedupSpec
rng = np.random.default_rng(0)
sigs = rng.integers(0, 2**32, size=({n}, 128), dtype=np.uint64).astype(np.uint32)
tracemalloc.start()
idx = NearDedupIndex(NearDedupSpec())
for k in range({n}):
    idx.add(sigs[k], str(k))
used = tracemalloc.get_traced_memory()[0]
out = {{"bytes_per_doc": used / {n}, "docs": {n}}}
"""


def main() -> None:
    """Generate the corpora, run every contender, print a table."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--mb", type=float, nargs="+", default=[100.0, 300.0])
    ap.add_argument("--dedup-mb", type=float, default=20.0)
    ap.add_argument("--index-docs", type=int, default=200_000)
    ap.add_argument("--max-seq-len", type=int, default=2048)
    ap.add_argument("--tokenizer", default=None)
    ap.add_argument("--baseline-src", default=None, help="another csmpt source tree to compare")
    ap.add_argument("--baseline-max-mb", type=float, default=300.0)
    args = ap.parse_args()
    seq = args.max_seq_len
    rows: list[tuple[str, float, dict[str, float]]] = []
    with tempfile.TemporaryDirectory(prefix="csmpt-bench-scale-") as tmp:
        work = Path(tmp)
        tok = tokenizer_dir(work, args.tokenizer)
        print(f"tokenizer {tok}, max_seq_len {seq}, {os.cpu_count()} cores")
        for mb in sorted(set(args.mb) | {args.dedup_mb}):
            d = work / f"c{mb:g}"
            d.mkdir()
            jsonl, _, texts = make_corpus(d, mb, txt=False)
            del texts  # the children read the file
            raw = child(raw_code(tok, jsonl))
            rows.append((f"raw tiktoken, {mb:g} MB", mb, raw))
            if mb in args.mb:
                rows.append(
                    (f"csmpt prep, {mb:g} MB", mb, child(prep_code(tok, jsonl, d / "a", seq)))
                )
                if args.baseline_src and mb <= args.baseline_max_mb:
                    base = child(prep_code(tok, jsonl, d / "base", seq), args.baseline_src)
                    rows.append((f"baseline prep, {mb:g} MB", mb, base))
                    files = sorted(p.relative_to(d / "a") for p in (d / "a").rglob("*.mds*"))
                    same = all(
                        (d / "a" / f).read_bytes() == (d / "base" / f).read_bytes() for f in files
                    )
                    print(f"{mb:g} MB: shards byte-identical to the baseline's: {same}")
            if mb == min(args.mb):
                t0 = time.perf_counter()
                p1 = child(prep_code(tok, jsonl, d / "p", seq, part="(0, 2)"))
                p2 = child(prep_code(tok, jsonl, d / "p", seq, part="(1, 2)"))
                merge = child(
                    f"""
from csmpt.prep.merge import merge_parts
from csmpt.prep.config import CorpusSpec, PrepConfig
cfg = PrepConfig(tokenizer={str(tok)!r}, output_dir={str(d / "p")!r}, max_seq_len={seq},
                 val_fraction=0.0, compression="zstd",
                 corpora=[CorpusSpec(name="bench", inputs=[{str(jsonl)!r}])])
(r,) = merge_parts(cfg)
out = {{"tokens": r.manifests["train"].tokens}}
"""
                )
                total = {
                    "tokens": merge["tokens"],
                    "prep_s": time.perf_counter() - t0,
                    "rss_mb": max(p1["rss_mb"], p2["rss_mb"], merge["rss_mb"]),
                    "wall": time.perf_counter() - t0,
                }
                print(
                    f"parts: 1/2 {p1['prep_s']:.1f} s, 2/2 {p2['prep_s']:.1f} s, merge "
                    f"{merge['wall']:.1f} s (its own process, imports included)"
                )
                rows.append((f"csmpt prep --part 1/2 + 2/2 + --merge, {mb:g} MB", mb, total))
            if mb == args.dedup_mb:
                near = child(prep_code(tok, jsonl, d / "n", seq, extra="near"))
                kept = near["tokens"] / raw["tokens"]
                print(f"near_dedup kept {kept:.1%} of the tokens (the copies differ by a number)")
                near["tokens"] = raw["tokens"]  # the rate counts every input token
                rows.append((f"csmpt prep + near_dedup, {mb:g} MB", mb, near))
        index = child(index_code(args.index_docs))
    print("\n| contender | MB | tokens | seconds | tokens/s | vs raw tiktoken | peak RSS MB |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    raw_rate = {mb: r["tokens"] / r["prep_s"] for n, mb, r in rows if n.startswith("raw")}
    for name, mb, r in rows:
        rate = r["tokens"] / r["prep_s"]
        print(
            f"| {name} | {mb:g} | {int(r['tokens']):,} | {r['prep_s']:.1f} | {rate:,.0f} "
            f"| {rate / raw_rate[mb]:.1%} | {r['rss_mb']:,.0f} |"
        )
    per_doc = index["bytes_per_doc"]
    print(
        f"\nnear-dedup index: {per_doc:,.0f} bytes per kept document (signature 512 B, LSH "
        f"tables, id; traced over {index['docs']:,} documents); 90% of a 256 GB node holds "
        f"~{256e9 * 0.9 / per_doc / 1e6:,.0f}M kept documents"
    )


if __name__ == "__main__":
    main()
