"""Near-dedup's MinHash and LSH index: what the signatures estimate, and the threshold's edge.

The signer hashes words in numpy instead of building shingle strings; these tests pin what it
must still mean: the Jaccard similarity of the lower-cased word n-gram sets of
:func:`~csmpt.filter.near_dedup.shingles`, whatever the batching; the index removes a document
exactly AT the threshold (">=", issue 30), and thresholds up to 1.0 work.
"""

from __future__ import annotations

import json
import random
import re
from pathlib import Path

import numpy as np
import pytest

from csmpt.errors import DataError
from csmpt.filter.document_filter import DocumentFilter, FilterSpec
from csmpt.filter.near_dedup import MinHashSigner, NearDedupIndex, NearDedupSpec, shingles

SAMPLES = Path("data/samples/cs_web.jsonl")
_WORD = re.compile(r"\w+")


def _texts() -> list[str]:
    return [json.loads(x)["text"] for x in SAMPLES.read_text(encoding="utf-8").splitlines()]


def _edit(text: str, k: int, rng: random.Random) -> str:
    words = text.split()
    for i in rng.sample(range(len(words)), min(k, len(words))):
        words[i] = f"jiné{rng.randrange(10**6)}"
    return " ".join(words)


def test_signatures_estimate_the_shingle_jaccard() -> None:
    """Estimated similarity of edited copies tracks the exact n-gram Jaccard, unbiased."""
    rng = random.Random(0)
    spec = NearDedupSpec(ngram=5, num_perm=128)
    signer = MinHashSigner(spec)
    errors = []
    for text in _texts()[:200]:
        copy = _edit(text, rng.randint(1, 12), rng)
        a, b = set(shingles(text, spec.ngram)), set(shingles(copy, spec.ngram))
        exact = len(a & b) / len(a | b)
        sig = signer.sign([text, copy])
        errors.append(float(np.mean(sig[0] == sig[1])) - exact)
    err = np.array(errors)
    # 128 permutations: a standard error of at most 0.044 per pair; 200 pairs.
    assert abs(err.mean()) < 0.012, err.mean()
    assert np.abs(err).mean() < 0.045 and np.abs(err).max() < 0.2


def test_words_as_the_regex_splits_them_and_any_batching() -> None:
    """Case, punctuation, non-BMP and NUL characters: the same words give the same signature."""
    odd = [
        "Ahoj, SVĚTE!! co-je_to 3.14 ½ 𝔘nicode 😀 ｆｕｌｌ ΣΑΣ",
        "",
        " ,,, ",
        "x\x00y z",
        "İstanbul straße ǅ a b c d e f",
        "slovo",
    ]
    texts = _texts()[:60] + odd
    signer = MinHashSigner(NearDedupSpec(ngram=3))
    whole = signer.sign(texts)
    canon = signer.sign([" ".join(_WORD.findall(t.lower())) for t in texts])
    assert (whole == canon).all()
    parts = np.concatenate([signer.sign(texts[i : i + 7]) for i in range(0, len(texts), 7)])
    assert (whole == parts).all()
    # Distinct word sets give distinct signatures (the empty text too).
    assert len({row.tobytes() for row in whole}) == len(
        {tuple(_WORD.findall(t.lower())) for t in texts}
    )
    # Word order matters inside a shingle.
    a, b = signer.sign(["jedna dva tři", "tři dva jedna"])
    assert not (a == b).all()


def _with_equal(sig: np.ndarray, equal: int) -> np.ndarray:
    """``sig`` with its last ``len(sig) - equal`` values changed (the first band kept)."""
    out = sig.copy()
    out[equal:] ^= np.uint32(0x5A5A5A5A)
    return out


@pytest.mark.parametrize("threshold", [0.5, 0.75, 0.875])
def test_a_document_exactly_at_the_threshold_is_removed(threshold: float) -> None:
    spec = NearDedupSpec(threshold=threshold, num_perm=128)
    index = NearDedupIndex(spec)
    sig = np.random.default_rng(1).integers(0, 2**32, 128, dtype=np.uint64).astype(np.uint32)
    index.add(sig, "orig")
    on = round(threshold * 128)
    assert on / 128 == threshold
    assert index.match(_with_equal(sig, on)) == ("orig", threshold)
    assert index.match(_with_equal(sig, on - 1)) is None


@pytest.mark.parametrize("threshold", [0.99, 1.0])
def test_thresholds_up_to_one_work(threshold: float) -> None:
    f = DocumentFilter(FilterSpec(near_dedup=NearDedupSpec(threshold=threshold, ngram=3)))
    base = " ".join(f"slovo{i}" for i in range(60))
    edited = base.replace("slovo30", "jiné")
    verdicts = f.check_batch(list("abcd"), [base, base.upper(), edited, "jiný text"])
    assert verdicts == [None, "near_duplicate", None, None]


@pytest.mark.parametrize("bad", [0.0, -0.1, 1.5])
def test_a_threshold_outside_the_range_names_the_key_and_value(bad: float) -> None:
    with pytest.raises(DataError) as e:
        DocumentFilter(FilterSpec(near_dedup=NearDedupSpec(threshold=bad)))
    assert str(e.value) == f"filter.near_dedup.threshold must be in (0, 1], got {bad}"


def test_same_verdicts_as_datasketch_on_planted_copies() -> None:
    """The fixture's verdicts equal those of datasketch's MinHash (csmpt's before issue 29).

    Exact copies, copies with 1-2 words edited (far above 0.7) and heavily edited copies (a
    third of the words: far below) after 100 distinct documents, at threshold 0.7 / 3-grams.
    """
    from datasketch import MinHash

    spec = NearDedupSpec(threshold=0.7, ngram=3)
    rng = random.Random(5)
    docs = [t for t in dict.fromkeys(_texts()) if len(t.split()) >= 80][:100]
    copies = [d for d in rng.sample(docs, 10)]
    copies += [_edit(d, rng.randint(1, 2), rng) for d in rng.sample(docs, 20)]
    copies += [_edit(d, len(d.split()) // 3, rng) for d in rng.sample(docs, 20)]
    texts = docs + copies

    def reference(text: str) -> np.ndarray:
        m = MinHash(spec.num_perm, spec.seed, scheme="affine32")
        m.update_batch(shingles(text, spec.ngram))
        return np.asarray(m.hashvalues, dtype=np.uint32)

    verdicts = []
    for sigs in (MinHashSigner(spec).sign(texts), np.stack([reference(t) for t in texts])):
        index = NearDedupIndex(spec)
        got = []
        for i, sig in enumerate(sigs):
            hit = index.match(sig)
            got.append(None if hit is None else hit[0])
            if hit is None:
                index.add(sig, str(i))
        verdicts.append(got)
    assert verdicts[0] == verdicts[1]
    assert sum(v is not None for v in verdicts[0]) == 30  # exact and lightly edited copies


def test_signature_files_of_another_scheme_are_refused(tmp_path: Path) -> None:
    """A part's --signatures file from csmpt before the numpy MinHash cannot be mixed in."""
    from csmpt.prep.config import CorpusSpec, PrepConfig
    from csmpt.prep.part_dedup import dedup_folder, global_dedup

    spec = CorpusSpec(name="c", inputs=["c.jsonl"], filter=FilterSpec(near_dedup=NearDedupSpec()))
    cfg = PrepConfig(tokenizer="tok", output_dir=str(tmp_path), corpora=[spec])
    folder = dedup_folder(cfg, spec)
    folder.mkdir(parents=True)
    old = folder / "part-001-of-001.npz"  # as written before: no scheme
    sig = np.zeros((2, 128), np.uint32)
    np.savez(old, where=np.zeros((2, 2), np.int64), hash=np.zeros(32, np.uint8), sig=sig)
    with pytest.raises(DataError, match=r"part-001-of-001.npz: signatures of MinHash scheme"):
        global_dedup(cfg, spec, 1)


@pytest.mark.parametrize("seed", [-2, 2**32])
def test_a_seed_numpy_refuses_names_the_key(seed: int) -> None:
    """A negative seed ended in numpy's traceback inside the prep worker."""
    with pytest.raises(DataError) as e:
        DocumentFilter(FilterSpec(near_dedup=NearDedupSpec(seed=seed)))
    assert str(e.value) == f"filter.near_dedup.seed must be in [0, 2**32), got {seed}"
