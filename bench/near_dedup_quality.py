"""What near-dedup catches: edited copies found, distinct documents kept, and signing speed.

Every document of the Czech samples (``data/samples/cs_web.jsonl`` and ``cs_crawl_clean.jsonl``,
300+ words apart from the shortest) is followed by an edited copy: ``p%`` of its words replaced
by random words (exact copies at 0%). A setting "catches" a copy when the index, holding the
originals, returns it as a near-duplicate; "false" counts originals removed as near-duplicates of
other originals. Both MinHash implementations run on the same documents at the same settings:

* ``csmpt`` (:class:`csmpt.filter.near_dedup.MinHashSigner`, numpy over a batch, the default);
* ``datasketch`` (its MinHash, SHA-1 per shingle: what csmpt used before issue 29), through the
  same :class:`~csmpt.filter.near_dedup.NearDedupIndex`.

It also times the signing of the samples replicated to ``--mb`` MB (one core).

    .venv/bin/python bench/near_dedup_quality.py [--mb 5] [--trials 3] [--docs N]
"""

from __future__ import annotations

import argparse
import json
import random
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from csmpt.filter.near_dedup import MinHashSigner, NearDedupIndex, NearDedupSpec, shingles

REPO = Path(__file__).resolve().parents[1]
SOURCES = ("data/samples/cs_web.jsonl", "data/samples/cs_crawl_clean.jsonl")
SETTINGS = [(0.8, 5), (0.7, 5), (0.8, 3), (0.7, 3), (0.6, 5), (0.6, 3), (0.5, 5)]
RATES = [0.0, 0.01, 0.03, 0.05, 0.10]
Signer = Callable[[NearDedupSpec, list[str]], np.ndarray]


def sample_docs(min_words: int = 50) -> list[str]:
    """The distinct sample documents of at least ``min_words`` words."""
    seen: dict[str, None] = {}
    for src in SOURCES:
        for line in (REPO / src).read_text(encoding="utf-8").splitlines():
            if line.strip():
                text = json.loads(line)["text"]
                if len(text.split()) >= min_words:
                    seen.setdefault(text, None)
    return list(seen)


def edit(text: str, rate: float, rng: random.Random) -> str:
    """``text`` with ``rate`` of its words (at least one if rate > 0) replaced."""
    words = text.split()
    k = 0 if rate == 0 else max(1, round(rate * len(words)))
    for i in rng.sample(range(len(words)), k):
        words[i] = f"slovo{rng.randrange(10**6)}"
    return " ".join(words)


def csmpt_sign(spec: NearDedupSpec, texts: list[str]) -> np.ndarray:
    """csmpt's signatures (a batch per call)."""
    return MinHashSigner(spec).sign(texts)


def datasketch_sign(spec: NearDedupSpec, texts: list[str]) -> np.ndarray:
    """datasketch 2's ``affine32`` MinHash of the same shingles (csmpt before issue 29)."""
    from datasketch import MinHash

    out = np.empty((len(texts), spec.num_perm), dtype=np.uint32)
    for i, text in enumerate(texts):
        m = MinHash(spec.num_perm, spec.seed, scheme="affine32")
        m.update_batch(shingles(text, spec.ngram))
        out[i] = m.hashvalues
    return out


def caught(
    sign: Signer, spec: NearDedupSpec, docs: list[str], copies: list[str]
) -> tuple[int, int]:
    """(copies caught, originals wrongly removed) with the originals indexed first."""
    sigs = sign(spec, docs + copies)
    index = NearDedupIndex(spec)
    false = 0
    for i in range(len(docs)):
        if index.match(sigs[i]) is not None:
            false += 1
        else:
            index.add(sigs[i], str(i))
    found = sum(index.match(sigs[len(docs) + i]) is not None for i in range(len(copies)))
    return found, false


def main() -> None:
    """Print the catch rates per setting and implementation, then the signing speeds."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--mb", type=float, default=5.0, help="MB of text to time the signing on")
    ap.add_argument("--trials", type=int, default=3, help="edited copies per document and rate")
    ap.add_argument("--docs", type=int, default=0, help="use only the first N documents (0: all)")
    args = ap.parse_args()
    docs = sample_docs()[: args.docs or None]
    print(f"{len(docs)} documents, {args.trials} edited copies each per rate")
    head = " | ".join(f"{r:.0%} edited" if r else "exact" for r in RATES)
    print(f"\n| threshold, ngram | MinHash | {head} | originals removed |")
    print("|---|---|" + "---:|" * (len(RATES) + 1))
    for threshold, ngram in SETTINGS:
        spec = NearDedupSpec(threshold=threshold, ngram=ngram)
        for name, sign in (("csmpt", csmpt_sign), ("datasketch", datasketch_sign)):
            if name == "datasketch" and (threshold, ngram) not in [(0.8, 5), (0.7, 3)]:
                continue  # the slow reference: at the default and the suggested setting only
            cells, false = [], 0
            for rate in RATES:
                rng = random.Random(f"{rate}")  # the same edits for every setting
                copies = [edit(d, rate, rng) for d in docs for _ in range(args.trials)]
                found, false = caught(sign, spec, docs, copies)
                cells.append(f"{found / len(copies):.1%}")
            print(f"| {threshold}, {ngram} | {name} | {' | '.join(cells)} | {false} |")
    texts: list[str] = []
    size, i = 0, 0
    while size < args.mb * 1e6:
        texts.append(f"{docs[i % len(docs)]} ({i // len(docs)})")
        size += len(texts[-1].encode("utf-8"))
        i += 1
    spec = NearDedupSpec()
    print()
    for name, sign in (("csmpt", csmpt_sign), ("datasketch", datasketch_sign)):
        signer = MinHashSigner(spec)
        t0 = time.perf_counter()
        for k in range(0, len(texts), 512):
            if name == "csmpt":
                signer.sign(texts[k : k + 512])
            else:
                sign(spec, texts[k : k + 512])
        dt = time.perf_counter() - t0
        print(f"{name} signing: {size / 1e6 / dt:.1f} MB/s ({size / 1e6:.1f} MB in {dt:.2f} s)")


if __name__ == "__main__":
    main()
