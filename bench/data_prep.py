"""Benchmark data prep: ``csmpt prep`` vs llm-foundry's converters vs raw ``encode_batch``.

On one corpus (the shipped Czech samples replicated to ``--mb`` MB of jsonl, plus the same
documents as a folder of .txt files) and one tokenizer, in one run, it times:

* the ceiling: ``tokenizers.Tokenizer.encode_batch`` over the texts already in memory (batches
  of 512, the tokenizer's threads on every core), nothing read or written;
* ``csmpt prep`` (``prep_corpora``: read jsonl, tokenize, concatenate, write zstd MDS shards);
* llm-foundry 0.22's ``convert_dataset_json`` (the same jsonl) and ``convert_text_to_mds``
  (the .txt folder, ``processes`` = cores), with the same tokenizer, max_seq_len, EOS, codec.

Each is timed from the call to its return, in this process, after imports; every rate is the
corpus's token count (EOS included) divided by that wall time. It prints the ratios to
llm-foundry and to the ceiling.

    .venv/bin/python bench/data_prep.py [--mb 20] [--max-seq-len 2048] [--repeat 4]
        [--skip-text-to-mds] [--fresh ROUNDS]
        [--classifier artifacts/demo/filter/classifier]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SOURCES = ["data/samples/cs_web.jsonl", "data/samples/cs_crawl.jsonl"]
CSMPT = "csmpt prep, defaults (tokenizer_backend auto: tiktoken; workers unset: chosen)"
TIKTOKEN = "raw tiktoken (exact, one batch per core)"


def make_corpus(work: Path, mb: float, txt: bool = True) -> tuple[Path, Path, list[str]]:
    """Replicate the sample documents to ``mb`` MB: one jsonl file and a folder of .txt files."""
    docs = []
    for src in SOURCES:
        for line in (REPO / src).read_text(encoding="utf-8").splitlines():
            if line.strip():
                docs.append(json.loads(line)["text"])
    texts: list[str] = []
    size, i = 0, 0
    while size < mb * 1e6:
        text = f"{docs[i % len(docs)]} ({i // len(docs)})"  # copies differ: no duplicates
        texts.append(text)
        size += len(text.encode("utf-8"))
        i += 1
    jsonl = work / "corpus.jsonl"
    with jsonl.open("w", encoding="utf-8") as f:
        for t in texts:
            f.write(json.dumps({"text": t}, ensure_ascii=False) + "\n")
    txt_dir = work / "txt"
    txt_dir.mkdir()
    for n, t in enumerate(texts if txt else []):
        (txt_dir / f"{n:07}.txt").write_text(t, encoding="utf-8")
    return jsonl, txt_dir, texts


def tokenizer_dir(work: Path, given: str | None) -> Path:
    """The given tokenizer folder, the demo's, or one trained now on the samples."""
    if given:
        return Path(given)
    demo = REPO / "artifacts/demo/tokenizer"
    if (demo / "tokenizer.json").is_file():
        return demo
    from csmpt.config import build_structured, load_yaml_with_overrides
    from csmpt.tokenizer.train import TokenizerConfig, train_tokenizer

    yaml_path = REPO / "data_prep/tokenizer/sample.yaml"
    cfg = build_structured(
        TokenizerConfig,
        load_yaml_with_overrides(yaml_path, [f"output_dir={work / 'tokenizer'}"]),
        yaml_path,
    )
    cfg.inputs = [str(REPO / p) for p in cfg.inputs]
    return train_tokenizer(cfg)[0]


def ceiling(tok_dir: Path, texts: list[str], method: str) -> int:
    """Tokens (EOS included) of ``method`` (encode_batch or encode_batch_fast, which the
    hf backend calls) over ``texts`` in batches of 512, the ids read as Python lists."""
    from tokenizers import Tokenizer

    tok = Tokenizer.from_file(str(tok_dir / "tokenizer.json"))
    encode = getattr(tok, method)
    tokens = 0
    for i in range(0, len(texts), 512):
        for enc in encode(texts[i : i + 512], add_special_tokens=False):
            tokens += len(enc.ids) + 1
    return tokens


def run_csmpt(
    tok_dir: Path,
    jsonl: Path,
    out: Path,
    seq: int,
    workers: int | None,
    backend: str = "auto",
    classifier: str | None = None,
) -> None:
    """Run prep_corpora on the jsonl (val_fraction 0, zstd, one corpus)."""
    from csmpt.filter.document_filter import FilterSpec
    from csmpt.prep.config import CorpusSpec, PrepConfig
    from csmpt.prep.run import prep_corpora

    filt = FilterSpec(classifier=classifier, dedup=True) if classifier else None

    cfg = PrepConfig(
        tokenizer=str(tok_dir),
        output_dir=str(out),
        max_seq_len=seq,
        val_fraction=0.0,
        compression="zstd",
        workers=workers,
        tokenizer_backend=backend,
        corpora=[CorpusSpec(name="bench", inputs=[str(jsonl)], filter=filt)],
    )
    prep_corpora(cfg)


def run_dataset_json(tok_dir: Path, jsonl: Path, out: Path, seq: int) -> None:
    """Run llm-foundry's convert_dataset_json (HF datasets cache in a fresh folder)."""
    from llmfoundry.command_utils import convert_dataset_json

    convert_dataset_json(
        path=str(jsonl),
        out_root=str(out),
        compression="zstd",
        concat_tokens=seq,
        split="train",
        tokenizer=str(tok_dir),
        eos_text="<|endoftext|>",
    )


def run_text_to_mds(tok_dir: Path, txt_dir: Path, out: Path, seq: int) -> None:
    """Run llm-foundry's convert_text_to_mds on the .txt folder, one process per core."""
    from llmfoundry.command_utils import convert_text_to_mds

    convert_text_to_mds(
        tokenizer_name=str(tok_dir),
        output_folder=str(out),
        input_folder=str(txt_dir),
        concat_tokens=seq,
        eos_text="<|endoftext|>",
        bos_text="",
        no_wrap=False,
        compression="zstd",
        processes=os.cpu_count() or 1,
        args_str="bench",
        reprocess=True,
        trust_remote_code=False,
    )


def main() -> None:
    """Build the corpus, time each contender, print a table and the ratios."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--mb", type=float, default=20.0, help="corpus size in MB of text")
    ap.add_argument("--max-seq-len", type=int, default=2048)
    ap.add_argument("--tokenizer", default=None, help="HF tokenizer folder (default: demo's)")
    ap.add_argument(
        "--workers", type=int, default=None, help="csmpt prep's workers setting (default: unset)"
    )
    ap.add_argument(
        "--repeat", type=int, default=4, help="runs of each tiktoken row (median reported)"
    )
    ap.add_argument("--skip-text-to-mds", action="store_true", help="skip convert_text_to_mds")
    ap.add_argument(
        "--classifier",
        default=None,
        help="also time csmpt prep with this corpus-filter classifier (+ dedup), threads and "
        "worker processes (e.g. artifacts/demo/filter/classifier)",
    )
    ap.add_argument(
        "--fresh",
        type=int,
        default=0,
        help="also time ROUNDS single builds, each in a fresh interpreter (raw tiktoken and "
        "csmpt prep's defaults alternated; startup and the worker server's start included)",
    )
    ap.add_argument("--one", choices=["raw", "prep"], help=argparse.SUPPRESS)  # --fresh's child
    ap.add_argument("--corpus", help=argparse.SUPPRESS)
    args = ap.parse_args()
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "true")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
    if args.one:
        one_build(args.one, Path(args.corpus), Path(args.tokenizer), args.max_seq_len)
        return
    os.environ["TQDM_DISABLE"] = "1"  # llm-foundry's progress bars would flood the output
    with tempfile.TemporaryDirectory(prefix="csmpt-bench-prep-") as tmp:
        work = Path(tmp)
        os.environ["HF_DATASETS_CACHE"] = str(work / "hf_cache")  # no cache from earlier runs
        jsonl, txt_dir, texts = make_corpus(work, args.mb)
        tok_dir = tokenizer_dir(work, args.tokenizer)
        import datasets
        import llmfoundry.command_utils  # noqa: F401  (import time is not measured)

        datasets.disable_progress_bars()

        cores = os.cpu_count()
        mb = jsonl.stat().st_size / 1e6
        print(f"corpus: {len(texts):,} documents, {mb:.1f} MB jsonl; tokenizer {tok_dir}")
        print(f"max_seq_len {args.max_seq_len}, zstd shards, {cores} cores, load {_load()}")
        seq = args.max_seq_len
        tokens = 0
        outs = {
            CSMPT: "csmpt",
            f"csmpt prep, workers={cores}": "csmpt_workers",
            "csmpt prep, workers=0 (threads)": "csmpt_threads",
        }

        def raw(method: str) -> None:
            nonlocal tokens
            tokens = ceiling(tok_dir, texts, method)

        def prep(name: str, workers: int | None, backend: str) -> Callable[[], object]:
            return lambda: run_csmpt(tok_dir, jsonl, work / name, seq, workers, backend)

        contenders: list[tuple[str, Callable[[], object]]] = [
            ("raw encode_batch_fast", lambda: raw("encode_batch_fast")),
            ("raw encode_batch", lambda: raw("encode_batch")),
            (TIKTOKEN, lambda: raw_tiktoken(tok_dir, texts)),
            (CSMPT, prep("csmpt", args.workers, "auto")),
            (f"csmpt prep, workers={cores}", prep("csmpt_workers", cores or 1, "auto")),
            ("csmpt prep, workers=0 (threads)", prep("csmpt_threads", 0, "auto")),
            ("csmpt prep, tokenizer_backend=hf", prep("csmpt_hf", args.workers, "hf")),
            (
                "llm-foundry convert_dataset_json",
                lambda: run_dataset_json(tok_dir, jsonl, work / "foundry_json", seq),
            ),
        ]
        for w in [0, cores or 1] if args.classifier else []:
            contenders.append(
                (
                    f"csmpt prep + classifier filter, workers={w}",
                    lambda w=w: run_csmpt(  # type: ignore[misc]
                        tok_dir, jsonl, work / f"filtered{w}", seq, w, "auto", args.classifier
                    ),
                )
            )
        if not args.skip_text_to_mds:
            contenders.append(
                (
                    f"llm-foundry convert_text_to_mds ({cores} processes)",
                    lambda: run_text_to_mds(tok_dir, txt_dir, work / "foundry_txt", seq),
                )
            )
        # convert_text_to_mds last: once it forks, HF tokenizers here stop using threads.
        # The tiktoken rows run --repeat times, alternated round by round, and report medians:
        # a single run pays whatever the row before it left (warm-up, garbage, freed memory).
        # Round r starts the repeated rows' order at its r-th: each row follows each other
        # one (--repeat 4: raw tiktoken's garbage, the allocator's state) once.
        times: dict[str, list[tuple[float, float]]] = {name: [] for name, _ in contenders}
        repeated = [(name, fn) for name, fn in contenders if name == TIKTOKEN or name in outs]
        for rnd in range(args.repeat):
            first = rnd % len(repeated)
            for name, fn in repeated[first:] + repeated[:first] if rnd else contenders:
                if rnd and name in outs:  # a fresh build, not "up to date"
                    shutil.rmtree(work / outs[name])
                times[name].append(measure(fn))
        rows = [(name, *_median(times[name])) for name, _ in contenders]
        for name, _ in repeated:
            print(f"{name}: " + ", ".join(f"{w:.2f} s" for w, _ in times[name]))
        same = all(
            same_shards(work / "csmpt", work / other)
            for other in ("csmpt_workers", "csmpt_threads", "csmpt_hf")
        )
        fresh = fresh_builds(jsonl, tok_dir, seq, args.fresh) if args.fresh else None
    rate = {name: tokens / wall for name, wall, _ in rows}
    best_foundry = max(r for n, r in rate.items() if n.startswith("llm-foundry"))
    top = max(r for n, r in rate.items() if n.startswith("raw encode"))  # the ceiling
    print(f"\n{tokens:,} tokens\n")
    print("| contender | seconds | tokens/s | vs best llm-foundry | vs ceiling | CPU s |")
    print("|---|---:|---:|---:|---:|---:|")
    for name, wall, c in rows:
        r = rate[name]
        print(
            f"| {name} | {wall:.2f} | {r:,.0f} | {r / best_foundry:.2f}x | {r / top:.1%} "
            f"| {c:.1f} |"
        )
    csmpt = rate[CSMPT]
    tik = rate[TIKTOKEN]
    print(f"\ncsmpt prep vs best llm-foundry: {csmpt / best_foundry:.2f}x (target >= 2x)")
    print(f"csmpt prep vs the faster raw encode_batch (ceiling): {csmpt / top:.1%} (target >= 85%)")
    print(f"csmpt prep vs raw tiktoken (its own backend's ceiling): {csmpt / tik:.1%}")
    print(f"shards byte-identical across backends and worker counts: {same}")
    if fresh is not None:
        (raw_s, prep_s) = fresh
        print(
            f"one build in a fresh interpreter ({args.fresh} rounds, medians): raw tiktoken "
            f"{statistics.median(raw_s):.2f} s, csmpt prep {statistics.median(prep_s):.2f} s: "
            f"{statistics.median(raw_s) / statistics.median(prep_s):.1%} of raw tiktoken"
        )
    print(f"load after: {_load()}")


def raw_tiktoken(tok_dir: Path, texts: list[str]) -> int:
    """Tokens (EOS included) of csmpt's exact tiktoken encoder over ``texts``: batches of 512,
    one per core at a time, ids as numpy arrays (what ``csmpt prep`` gets)."""
    from concurrent.futures import ThreadPoolExecutor

    from csmpt.prep.tiktoken_bpe import build_exact_tiktoken

    exact = build_exact_tiktoken(tok_dir / "tokenizer.json")  # timed: prep pays it too
    batches = [texts[i : i + 512] for i in range(0, len(texts), 512)]
    with ThreadPoolExecutor(os.cpu_count()) as pool:
        return sum(len(flat) + len(n) for flat, n in pool.map(exact.encode_flat, batches))


def one_build(kind: str, jsonl: Path, tok_dir: Path, seq: int) -> None:
    """``--fresh``'s child: time one raw tiktoken pass or one ``csmpt prep`` build; print it.

    The clock starts after the imports and, for raw tiktoken, after the texts are in memory
    (``csmpt prep`` reads them inside its time).
    """
    import csmpt.prep.run  # noqa: F401  (import time is not measured)

    if kind == "raw":
        with jsonl.open(encoding="utf-8") as f:
            texts = [json.loads(line)["text"] for line in f]
        start = time.perf_counter()
        raw_tiktoken(tok_dir, texts)
    else:
        out = Path(tempfile.mkdtemp(prefix="fresh-", dir=jsonl.parent))
        start = time.perf_counter()
        run_csmpt(tok_dir, jsonl, out, seq, None)
    print(f"seconds {time.perf_counter() - start:.4f}")


def fresh_builds(
    jsonl: Path, tok_dir: Path, seq: int, rounds: int
) -> tuple[list[float], list[float]]:
    """Seconds of ``rounds`` raw tiktoken passes and ``csmpt prep`` builds, each in a fresh
    interpreter, alternated (raw first in even rounds, prep first in odd ones)."""
    import subprocess
    import sys

    def one(kind: str) -> float:
        cmd = [sys.executable, __file__, "--one", kind, "--corpus", str(jsonl)]
        cmd += ["--tokenizer", str(tok_dir), "--max-seq-len", str(seq)]
        out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
        return float(out.split("seconds ")[-1])

    raw: list[float] = []
    prep: list[float] = []
    for r in range(rounds):
        for kind in ("raw", "prep") if r % 2 == 0 else ("prep", "raw"):
            (raw if kind == "raw" else prep).append(one(kind))
    print("fresh raw tiktoken: " + ", ".join(f"{x:.2f} s" for x in raw))
    print("fresh csmpt prep: " + ", ".join(f"{x:.2f} s" for x in prep))
    return raw, prep


def same_shards(a: Path, b: Path) -> bool:
    """Whether two prep outputs hold the same shard files, byte for byte."""
    files = sorted(p.relative_to(a) for p in a.rglob("*.mds*"))
    return bool(files) and all((a / f).read_bytes() == (b / f).read_bytes() for f in files)


def _server_children_cpu() -> float:
    """CPU seconds of the finished processes forked from this process's worker server.

    ``csmpt prep``'s workers are the server's children, not this process's: the server reaps
    them, so their time is in its children's times (the server's own start is not counted).
    """
    from multiprocessing import forkserver

    import psutil

    pid = getattr(forkserver._forkserver, "_forkserver_pid", None)
    if not pid:
        return 0.0
    try:
        t = psutil.Process(pid).cpu_times()
    except psutil.Error:
        return 0.0
    return float(t.children_user + t.children_system)


def measure(fn: Callable[[], object]) -> tuple[float, float]:
    """Wall seconds and CPU seconds (this process and its finished workers) of ``fn()``."""

    def cpu() -> float:
        own, kids = (
            resource.getrusage(resource.RUSAGE_SELF),
            resource.getrusage(resource.RUSAGE_CHILDREN),
        )
        return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime + _server_children_cpu()

    c0, t0 = cpu(), time.perf_counter()
    fn()
    return time.perf_counter() - t0, cpu() - c0


def _median(runs: list[tuple[float, float]]) -> tuple[float, float]:
    """The median wall time and the median CPU time of ``runs`` ((wall, CPU) each)."""
    return statistics.median(w for w, _ in runs), statistics.median(c for _, c in runs)


def _load() -> str:
    one, five, _ = os.getloadavg()
    return f"{one:.2f} (1 min), {five:.2f} (5 min)"


if __name__ == "__main__":
    main()
