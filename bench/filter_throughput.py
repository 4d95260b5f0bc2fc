"""Benchmark the corpus filter (``DocumentFilter.check_batch``) against raw ``encode_batch``.

``csmpt prep`` asks the filter about every document before tokenizing it, in one thread, so the
filter's rate bounds a filtered prep's rate. On the shipped Czech samples replicated to ``--mb``
MB (copies differ, so dedup removes nothing), in one run, it times:

* the anchor: ``tokenizers.Tokenizer.encode_batch`` over the texts in memory (batches of 512,
  the tokenizer's threads on every core) with a tokenizer trained now on the samples;
* ``check_batch`` with exact-duplicate removal only;
* ``check_batch`` with the classifier of ``data_prep/filter/sample.yaml`` (word 1-2-grams);
* the same classifier with character 3-5-grams added (``char_ngrams=[3,5]``).

It prints MB/s and documents/s for each and the ratio to the anchor (> 1: faster than
tokenizing).

    .venv/bin/python bench/filter_throughput.py [--mb 5] [--repeats 2] [--tokenizer DIR]
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SOURCES = ["data/samples/cs_web.jsonl", "data/samples/cs_crawl.jsonl"]


def make_texts(mb: float) -> list[str]:
    """The sample documents replicated to ``mb`` MB of UTF-8 text; every copy is distinct."""
    docs = []
    for src in SOURCES:
        for line in (REPO / src).read_text(encoding="utf-8").splitlines():
            docs.append(json.loads(line)["text"])
    texts: list[str] = []
    size = 0
    while size < mb * 1e6:
        text = f"{docs[len(texts) % len(docs)]} ({len(texts) // len(docs)})"
        texts.append(text)
        size += len(text.encode("utf-8"))
    return texts


def best_time(fn: Callable[[], object], repeats: int) -> float:
    """Fastest of ``repeats`` wall times of ``fn()``."""
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mb", type=float, default=5.0, help="Corpus size in MB of text.")
    parser.add_argument("--repeats", type=int, default=2, help="Timed runs; the best counts.")
    parser.add_argument("--tokenizer", help="HF tokenizer folder (default: train one now).")
    args = parser.parse_args()

    from tokenizers import Tokenizer

    from csmpt.config import build_structured, load_yaml_with_overrides
    from csmpt.filter.classifier import train_from_yaml
    from csmpt.filter.document_filter import DocumentFilter, FilterSpec
    from csmpt.tokenizer.train import TokenizerConfig, train_tokenizer

    texts = make_texts(args.mb)
    ids = [str(i) for i in range(len(texts))]
    mb = sum(len(t.encode("utf-8")) for t in texts) / 1e6
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        if args.tokenizer:
            tok_dir = Path(args.tokenizer)
        else:
            tok_yaml = REPO / "data_prep/tokenizer/sample.yaml"
            tok_cfg = build_structured(
                TokenizerConfig,
                load_yaml_with_overrides(tok_yaml, [f"output_dir={work / 'tok'}"]),
                tok_yaml,
            )
            tok_dir, _ = train_tokenizer(tok_cfg, base_dir=REPO)
        tok = Tokenizer.from_file(str(tok_dir / "tokenizer.json"))
        clf_yaml = REPO / "data_prep/filter/sample.yaml"
        word = train_from_yaml(clf_yaml, [f"output_dir={work / 'word'}"], base_dir=REPO).path
        char = train_from_yaml(
            clf_yaml, [f"output_dir={work / 'char'}", "char_ngrams=[3,5]"], base_dir=REPO
        ).path

        def encode() -> None:
            for i in range(0, len(texts), 512):
                tok.encode_batch(texts[i : i + 512], add_special_tokens=False)

        def run_filter(spec: FilterSpec) -> Callable[[], None]:
            def go() -> None:
                f = DocumentFilter(spec)
                for i in range(0, len(texts), 512):
                    f.check_batch(ids[i : i + 512], texts[i : i + 512])

            return go

        cases = [
            ("encode_batch (anchor)", encode),
            ("filter: dedup only", run_filter(FilterSpec(dedup=True))),
            ("filter: classifier, word 1-2", run_filter(FilterSpec(str(word), dedup=True))),
            ("filter: classifier, word 1-2 + char 3-5", run_filter(FilterSpec(str(char)))),
        ]
        print(f"{len(texts)} documents, {mb:.1f} MB of text\n")
        print("| what | MB/s | docs/s | x anchor |")
        print("|---|---:|---:|---:|")
        anchor = None
        for name, fn in cases:
            seconds = best_time(fn, args.repeats)
            anchor = anchor or seconds
            print(
                f"| {name} | {mb / seconds:.2f} | {len(texts) / seconds:,.0f} "
                f"| {anchor / seconds:.2f} |"
            )


if __name__ == "__main__":
    main()
