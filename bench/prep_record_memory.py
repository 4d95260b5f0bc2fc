"""``csmpt prep`` on one huge record: peak RSS per byte of the record (ASCII and Czech text).

Each run is a fresh interpreter that calls ``prep_corpora`` on a corpus of one record and
reports its own peak RSS (``VmHWM``; the encoder's threads are in it, ``workers: 0``). The
anchor is the same run on a tiny record (~``--tiny-kb`` KB), so the figure is

    (peak RSS on the big record - peak RSS on the tiny one) / the record's bytes on disk

i.e. what the record itself costs, interpreter, imports and tokenizer excluded. The text is the
shipped Czech samples joined with blank lines until ``--mb`` MB (every copy numbered, so the
tokens differ): ``ascii`` (diacritics stripped: 1 byte a character in a Python str), ``cs``
(``ř`` and friends, astral characters dropped: 2 bytes a character) and ``cs-emoji`` (as
shipped: its few emoji make the whole str 4 bytes a character). Formats: ``jsonl`` (one
line, the text JSON-escaped) and ``txt`` (one plain-text file). ``--baseline-src DIR`` (another
csmpt source tree, e.g. ``git archive`` of an older commit) runs every case there too and
compares the shards byte for byte. Wall seconds are printed too (the big run's).

    .venv/bin/python bench/prep_record_memory.py [--mb 200] [--texts ascii cs] [--formats jsonl]
        [--backend tiktoken] [--workers 0] [--baseline-src DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import unicodedata
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "bench"))

from data_prep import SOURCES, tokenizer_dir  # noqa: E402

TEXTS = {"ascii": 0x80, "cs": 0x10000, "cs-emoji": 0x110000}  # kind -> code points below


def sample_text(mb: float, kind: str) -> str:
    """The shipped Czech samples, numbered copies joined by blank lines, to ``mb`` MB (UTF-8).

    ``ascii``: diacritics stripped; ``cs``: emoji and other astral characters dropped (2 bytes
    a character in a Python str); ``cs-emoji``: as shipped (a few emoji: 4 bytes a character).
    """
    docs = []
    for src in SOURCES:
        for line in (REPO / src).read_text(encoding="utf-8").splitlines():
            if line.strip():
                docs.append(json.loads(line)["text"])
    below = TEXTS[kind]
    if kind == "ascii":
        docs = [unicodedata.normalize("NFKD", d) for d in docs]
    docs = ["".join(c for c in d if ord(c) < below) for d in docs]
    unit = "\n\n".join(docs)
    per = len(unit.encode("utf-8"))
    copies = max(1, int(mb * 1e6 / per) + 1)
    text = "\n\n".join(f"{unit} ({i})" for i in range(copies))
    return text[: int(mb * 1e6 / (per / len(unit)))]


def write_record(folder: Path, text: str, fmt: str) -> Path:
    """One record holding ``text``: a one-line jsonl file or a .txt file."""
    folder.mkdir(parents=True)
    if fmt == "txt":
        path = folder / "doc.txt"
        path.write_text(text, encoding="utf-8")
    else:
        path = folder / "doc.jsonl"
        path.write_text(json.dumps({"text": text}, ensure_ascii=False) + "\n", encoding="utf-8")
    return path


def run_prep(
    tok: Path, src: Path, out: Path, backend: str, workers: int, pythonpath: str | None
) -> dict:
    """``prep_corpora`` on ``src`` in a fresh interpreter; its peak RSS (MB) and tokens.

    With ``workers`` > 0 the peak is the main process's (each worker encodes one piece at a
    time; their own peaks are not in it).
    """
    code = f"""
import json, time
from csmpt.prep.config import CorpusSpec, PrepConfig
from csmpt.prep.run import prep_corpora
cfg = PrepConfig(tokenizer={str(tok)!r}, output_dir={str(out)!r}, max_seq_len=2048,
                 val_fraction=0.0, compression="zstd", tokenizer_backend={backend!r},
                 workers={workers},
                 corpora=[CorpusSpec(name="bench", inputs=[{str(src)!r}])])
t0 = time.perf_counter()
(r,) = prep_corpora(cfg)
wall = time.perf_counter() - t0
import csmpt
hwm = [ln for ln in open("/proc/self/status") if ln.startswith("VmHWM:")]
print(json.dumps({{"tokens": r.manifests["train"].tokens, "wall": wall,
                  "rss_mb": int(hwm[0].split()[1]) / 1024, "src": csmpt.__file__}}))
"""
    env = dict(os.environ)
    if pythonpath:
        env["PYTHONPATH"] = pythonpath
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd=out.parent
    )  # not cwd=REPO: sys.path[0] ("") would import this tree's csmpt before PYTHONPATH's
    if proc.returncode != 0:
        raise SystemExit(proc.stderr[-3000:])
    return dict(json.loads(proc.stdout.strip().splitlines()[-1]))


def same_shards(a: Path, b: Path) -> bool:
    """The two outputs' shard files are byte-identical (so their tokens are)."""
    files = sorted(p.relative_to(a) for p in a.rglob("*.mds*"))
    return bool(files) and all((a / f).read_bytes() == (b / f).read_bytes() for f in files)


def main() -> None:
    """Build the records, run every case (and the baseline's), print a table of ratios."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--mb", type=float, default=200.0, help="the big record's size")
    ap.add_argument("--tiny-kb", type=float, default=100.0, help="the anchor record's size")
    ap.add_argument("--texts", nargs="+", default=list(TEXTS), choices=list(TEXTS))
    ap.add_argument("--formats", nargs="+", default=["jsonl"], choices=["jsonl", "txt"])
    ap.add_argument("--backend", default="tiktoken", choices=["tiktoken", "hf"])
    ap.add_argument("--workers", type=int, default=0)
    ap.add_argument("--tokenizer", default=None)
    ap.add_argument("--baseline-src", default=None, help="another csmpt source tree to compare")
    args = ap.parse_args()
    trees = [("now", None)] + ([("baseline", args.baseline_src)] if args.baseline_src else [])
    rows = []
    with tempfile.TemporaryDirectory(prefix="csmpt-bench-record-") as tmp:
        work = Path(tmp)
        tok = tokenizer_dir(work, args.tokenizer)
        print(f"tokenizer {tok}, backend {args.backend}, {os.cpu_count()} cores")
        for kind in args.texts:
            for fmt in args.formats:
                case = f"{kind}-{fmt}"
                tiny_text = sample_text(args.tiny_kb / 1e3, kind)
                tiny = write_record(work / case / "tiny", tiny_text, fmt)
                big = write_record(work / case / "big", sample_text(args.mb, kind), fmt)
                size = big.stat().st_size
                for name, src in trees:
                    tiny_out = work / case / f"{name}-tiny"
                    anchor = run_prep(tok, tiny, tiny_out, args.backend, args.workers, src)
                    res = run_prep(tok, big, work / case / name, args.backend, args.workers, src)
                    extra = (res["rss_mb"] - anchor["rss_mb"]) * 2**20
                    rows.append((case, name, size, anchor, res, extra / size))
                    print(
                        f"{case} {name}: record {size / 1e6:.1f} MB, {res['tokens']:,} tokens, "
                        f"peak {res['rss_mb']:.0f} MB (tiny {anchor['rss_mb']:.0f} MB): "
                        f"{extra / size:.2f}x the record, {res['wall']:.1f} s ({res['src']})",
                        flush=True,
                    )
                if args.baseline_src:
                    same = same_shards(work / case / "now", work / case / "baseline")
                    print(f"{case}: shards byte-identical to the baseline's: {same}")
                big.unlink()
    print("\n| record | tree | MB on disk | tokens | peak RSS MB | tiny-run MB | x record | s |")
    print("|---|---|---:|---:|---:|---:|---:|---:|")
    for case, name, size, anchor, res, ratio in rows:
        print(
            f"| {case} | {name} | {size / 1e6:.1f} | {res['tokens']:,} | {res['rss_mb']:.0f} "
            f"| {anchor['rss_mb']:.0f} | {ratio:.2f}x | {res['wall']:.1f} |"
        )


if __name__ == "__main__":
    main()
