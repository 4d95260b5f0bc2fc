"""Check csmpt's tiktoken backend against HF tokenizers on every Unicode code point.

For each code point (every ``--step``-th; 1 = all 1,112,064 outside the surrogates) and each of
six contexts (letters, spaces, digits, newlines, contractions, tabs around it), it encodes the
string with ``tokenizers`` and with :func:`csmpt.prep.tiktoken_bpe.build_exact_tiktoken` and
counts the code points where the ids differ. It checks the regex engines (onig in tokenizers,
fancy-regex in tiktoken) agree on every character class, which the unit tests only sample.

    .venv/bin/python bench/tiktoken_equivalence.py [--tokenizer DIR] [--step 1]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
CONTEXTS = ["a{0}b", " {0}{0} ", "1{0}1", "{0}\n x", "' {0}'s", "\t{0}a "]


def main() -> None:
    """Encode every context of every code point both ways and print the differences."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--tokenizer", default=str(REPO / "artifacts/demo/tokenizer"))
    ap.add_argument("--step", type=int, default=1, help="every N-th code point")
    args = ap.parse_args()
    from tokenizers import Tokenizer

    from csmpt.prep.tiktoken_bpe import build_exact_tiktoken

    path = Path(args.tokenizer) / "tokenizer.json"
    hf, exact = Tokenizer.from_file(str(path)), build_exact_tiktoken(path)
    points = [c for c in range(0, 0x110000, args.step) if not 0xD800 <= c < 0xE000]
    bad: set[int] = set()
    t0 = time.perf_counter()
    for form in CONTEXTS:
        for i in range(0, len(points), 20_000):
            chunk = points[i : i + 20_000]
            texts = [form.format(chr(c)) for c in chunk]
            flat, lengths = exact.encode_flat(texts)
            ours = np.split(flat, np.cumsum(lengths)[:-1])
            theirs = hf.encode_batch_fast(texts, add_special_tokens=False)
            bad.update(
                c for c, a, b in zip(chunk, ours, theirs, strict=True) if a.tolist() != b.ids
            )
        took = time.perf_counter() - t0
        print(f"context {form!r}: {len(bad)} code points differ so far ({took:.0f} s)")
    print(f"{len(points):,} code points x {len(CONTEXTS)} contexts: {len(bad)} differ")
    if bad:
        print("first:", [hex(c) for c in sorted(bad)[:20]])


if __name__ == "__main__":
    main()
