"""A 7B-shaped vocabulary swap: time and peak memory against issue 4's targets.

    .venv/bin/python bench/surgery_swap.py [--source-rows 50432] [--target-rows 64000]
        [--dim 4096] [--aligned 4177] [--dtype float32] [--threads 2]
        [--init mean,mean_noise,pieces | focus] [--focus-corpus-tokens 1000000]
        [--focus-topics 256]

Synthetic weights and vocabularies of MPT-7B's shape: a source embedding (50,432 x 4,096) and a
64,000-token target vocabulary (CSMPT7b's), 4,177 aligned tokens (CSMPT7b's count). For each
initialisation of the unaligned rows (``mean``, ``mean_noise``, ``pieces`` with 1-4 source pieces
per target token) it times one swap: exact alignment of the two vocabularies (byte-string maps,
as for real tokenizers) + :func:`csmpt.surgery.embed_init.build_embedding`. Anchor, measured in
the same run: a ``copy_`` of a target-sized matrix (the memory-bandwidth floor of writing it).

``--init focus`` times FOCUS: gensim fastText (100 dims, 5 epochs, one thread) trained on a
synthetic corpus of ``--focus-corpus-tokens`` tokens (sentences on ``--focus-topics`` topics,
Zipf-distributed tokens within each), then sparsemax weights of every fastText-placed new
token over the aligned tokens and the weighted sums of their source rows. Its "of which"
column is the fastText training.

Peak memory: the process's resident set is sampled every 2 ms on a thread; the peak delta is
counted from before the source matrix exists, so it includes the source and the target matrix
(the "two embedding matrices") and every temporary. Targets: <= 30 s, <= 3x the two matrices.
Prints a Markdown table and PASS/FAIL lines; always exits 0.
"""

from __future__ import annotations

import argparse
import os
import random
import threading
import time

import numpy as np
import torch

from csmpt.surgery.alignment import exact_candidates
from csmpt.surgery.embed_init import Pieces, build_embedding, padded_size

TIME_TARGET_S = 30.0
MEMORY_TARGET = 3.0
_PAGE = os.sysconf("SC_PAGE_SIZE")


def rss() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * _PAGE


class PeakRSS:
    """Samples the resident set size on a thread; ``peak`` is the largest seen since ``reset``."""

    def __init__(self, every_s: float = 0.002) -> None:
        self.every_s, self.peak, self._stop = every_s, rss(), threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, rss())
            time.sleep(self.every_s)

    def reset(self) -> None:
        self.peak = rss()

    def read(self) -> int:
        time.sleep(self.every_s * 3)
        return max(self.peak, rss())

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()


def synthetic_vocab(
    n: int, rng: random.Random, shared: list[bytes], letters: bytes
) -> dict[int, bytes]:
    """``n`` distinct token byte strings: ``shared``, then random words of ``letters``."""
    out = {i: b for i, b in enumerate(shared)}
    seen = set(shared)
    while len(out) < n:
        b = (" " if rng.random() < 0.5 else "").encode() + bytes(
            rng.choice(letters) for _ in range(rng.randint(2, 9))
        )
        if b not in seen:
            seen.add(b)
            out[len(out)] = b
    return out


def focus_row(
    source: torch.Tensor,
    t_vocab: dict[int, bytes],
    s_vocab: dict[int, bytes],
    n_rows: int,
    args: argparse.Namespace,
    meter: PeakRSS,
    base: int,
) -> tuple[str, float, float, int]:
    """One FOCUS swap: fastText on a synthetic corpus, sparsemax weights, weighted sums."""
    from csmpt.surgery.focus import (
        FocusConfig,
        focus_combinations,
        train_fasttext,
        weighted_pieces,
    )

    gen = np.random.default_rng(1)
    names = {i: b.decode() for i, b in t_vocab.items()}
    # Text has topics: each 200-token sentence draws Zipf-distributed tokens from one of
    # `--focus-topics` groups (with 0 topics: from the whole vocabulary, so fastText learns
    # nothing and every similarity is alike: FOCUS's worst case, a near-uniform sparsemax).
    topics = max(args.focus_topics, 1)
    by_topic = np.array_split(gen.permutation(args.target_rows), topics)
    sentences = []
    for _ in range(0, args.focus_corpus_tokens, 200):
        group = by_topic[int(gen.integers(topics))]
        ranks = np.minimum(gen.zipf(1.2, size=200), len(group)) - 1
        sentences.append([names[int(i)] for i in group[ranks]])
    meter.reset()
    t0 = time.perf_counter()
    cand = exact_candidates(t_vocab, s_vocab)
    model = train_fasttext(sentences, FocusConfig(), seed=0)
    t_fasttext = time.perf_counter() - t0
    kv = model.wv
    known = [t for t in range(args.target_rows) if names[t] in kv.key_to_index]
    shared = [t for t in known if t in cand]
    new = [t for t in known if t not in cand]
    combos = focus_combinations(
        new,
        torch.from_numpy(np.stack([kv[names[t]] for t in new])),
        [cand[t] for t in shared],
        torch.from_numpy(np.stack([kv[names[t]] for t in shared])),
    )
    t_ids = torch.tensor(sorted(cand))
    s_ids = torch.tensor([cand[t] for t in sorted(cand)])
    out = build_embedding(source, n_rows, t_ids, s_ids, "mean", weighted_pieces(combos))
    seconds = time.perf_counter() - t0
    peak = meter.read() - base
    assert torch.equal(out[t_ids], source[s_ids])
    print(
        f"focus: fastText vocabulary {len(kv.key_to_index):,} of {args.target_rows:,} tokens; "
        f"{len(new):,} rows combined from {len(shared):,} shared tokens "
        f"({sum(len(c[0]) for c in combos.values()) / max(len(new), 1):.1f} each); "
        f"{args.target_rows - len(known) - len(set(cand) - set(known)):,} left to the mean"
    )
    return "focus", seconds, t_fasttext, peak


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--source-rows", type=int, default=50432)
    p.add_argument("--target-rows", type=int, default=64000)
    p.add_argument("--dim", type=int, default=4096)
    p.add_argument("--aligned", type=int, default=4177)
    p.add_argument("--dtype", default="float32", choices=["float32", "bfloat16"])
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--init", default="mean,mean_noise,pieces", help="comma-separated; or focus")
    p.add_argument("--focus-corpus-tokens", type=int, default=1_000_000)
    p.add_argument("--focus-topics", type=int, default=256, help="0: no structure (worst case)")
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    dtype = getattr(torch, args.dtype)
    rng = random.Random(0)
    meter = PeakRSS()
    base = rss()

    # Vocabularies sharing `aligned` token strings, shuffled into different ids.
    shared = [b" w%05d" % i for i in range(args.aligned)]
    t_vocab = synthetic_vocab(args.target_rows, rng, shared, b"abcdefghijklm")
    s_vocab = synthetic_vocab(args.source_rows, rng, shared, b"nopqrstuvwxyz")
    perm_t, perm_s = list(range(args.target_rows)), list(range(args.source_rows))
    rng.shuffle(perm_t)
    rng.shuffle(perm_s)
    t_vocab = {perm_t[i]: b for i, b in t_vocab.items()}
    s_vocab = {perm_s[i]: b for i, b in s_vocab.items()}
    gen = np.random.default_rng(0)
    lengths = gen.integers(1, 5, size=args.target_rows)
    pieces = Pieces(
        rows=torch.arange(args.target_rows),
        flat=torch.from_numpy(gen.integers(0, args.source_rows, size=int(lengths.sum()))),
        offsets=torch.from_numpy(np.concatenate([[0], np.cumsum(lengths)[:-1]])),
    )

    base = rss()
    meter.reset()
    source = torch.randn(args.source_rows, args.dim, dtype=torch.float32).to(dtype)
    n_rows = padded_size(args.target_rows, 64)
    two = (source.numel() + n_rows * args.dim) * source.element_size()
    print(
        f"source {args.source_rows:,} x {args.dim}, target {args.target_rows:,} (padded "
        f"{n_rows:,}) x {args.dim}, {args.dtype}; two matrices {two / 2**30:.2f} GiB; "
        f"{args.aligned:,} aligned; {torch.get_num_threads()} threads"
    )

    # Anchor: writing a target-sized matrix once (copy_ from an existing one).
    dst = torch.empty(n_rows, args.dim, dtype=dtype)
    t0 = time.perf_counter()
    dst.copy_(torch.zeros(1, args.dim, dtype=dtype).expand(n_rows, args.dim))
    floor = time.perf_counter() - t0
    del dst

    rows = []
    for init in args.init.split(","):
        if init == "focus":
            rows.append(focus_row(source, t_vocab, s_vocab, n_rows, args, meter, base))
            continue
        meter.reset()
        t0 = time.perf_counter()
        cand = exact_candidates(t_vocab, s_vocab)
        t_ids = torch.tensor(sorted(cand))
        s_ids = torch.tensor([cand[t] for t in sorted(cand)])
        t_align = time.perf_counter() - t0
        out = build_embedding(
            source, n_rows, t_ids, s_ids, init, pieces if init == "pieces" else None
        )
        seconds = time.perf_counter() - t0
        peak = meter.read() - base
        assert len(cand) == args.aligned and torch.equal(out[t_ids], source[s_ids])
        rows.append((init, seconds, t_align, peak))
        del out
    meter.stop()

    print(f"\nanchor: copy_ into a {n_rows:,} x {args.dim} matrix: {floor:.3f} s\n")
    print(
        "| init | swap s | of which alignment (focus: fastText) s | vs copy_ floor "
        "| vs 30 s target | peak RSS delta GiB | vs two matrices |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|")
    for init, seconds, t_align, peak in rows:
        print(
            f"| {init} | {seconds:.2f} | {t_align:.2f} | {seconds / floor:.1f}x | "
            f"{seconds / TIME_TARGET_S:.2f}x | {peak / 2**30:.2f} | {peak / two:.2f}x |"
        )
    worst_t = max(r[1] for r in rows)
    worst_m = max(r[3] for r in rows) / two
    print(
        f"\ntime: worst {worst_t:.2f} s vs target {TIME_TARGET_S:.0f} s: "
        f"{'PASS' if worst_t <= TIME_TARGET_S else 'FAIL'}"
    )
    print(
        f"memory: worst peak {worst_m:.2f}x the two matrices vs target {MEMORY_TARGET:.0f}x: "
        f"{'PASS' if worst_m <= MEMORY_TARGET else 'FAIL'}"
    )


if __name__ == "__main__":
    main()
