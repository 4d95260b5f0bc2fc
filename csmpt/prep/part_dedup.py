"""Duplicate removal across ``--part``s: signatures per part, one pass over all of them.

Each part sees only its share of the records, so it cannot tell that a document repeats one in
another part. For a corpus whose ``filter:`` has ``near_dedup`` (or ``dedup``), a multi-node
build therefore runs three stages (``csmpt/launch/templates/prep_array.*.sh`` submits them):

1. ``csmpt prep CONFIG --part I/N --signatures`` on every node: the MinHash signature (and
   content hash) of each of part I's documents, with its input and line, into
   ``<output_dir>/<corpus>.dedup/part-III-of-NNN.npz``;
2. ``csmpt prep CONFIG --dedup`` once: all parts' signatures in corpus order (input, line),
   exact repeats then near-duplicates of earlier kept documents, exactly as a single-node build
   decides them (:class:`csmpt.filter.near_dedup.NearDedupIndex`), into ``verdicts.npz``;
3. ``csmpt prep CONFIG --part I/N`` on every node: the parts' filters take the verdicts of their
   records from that file (the classifier, if any, still scores in the part), then ``--merge``.

The one pass holds every kept document's signature and LSH entry in memory (see
:mod:`csmpt.filter.near_dedup`); the signatures on disk take 4 bytes x ``num_perm`` per document.
"""

from __future__ import annotations

import logging
import os
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

from csmpt.atomic import open_atomic
from csmpt.corpus.readers import read_documents
from csmpt.errors import DataError
from csmpt.filter.document_filter import DUPLICATE, NEAR_DUPLICATE, content_hash
from csmpt.filter.near_dedup import SCHEME, MinHashSigner, NearDedupIndex, NearDedupSpec
from csmpt.prep.config import CorpusSpec, PrepConfig

__all__ = [
    "VERDICTS_NAME",
    "dedup_corpora",
    "dedup_folder",
    "global_dedup",
    "load_verdicts",
    "part_signatures",
    "part_verdicts",
    "sign_corpora",
]

log = logging.getLogger(__name__)

VERDICTS_NAME = "verdicts.npz"
_REASONS = {1: DUPLICATE, 2: NEAR_DUPLICATE}
_BATCH = 256


def dedup_folder(cfg: PrepConfig, spec: CorpusSpec) -> Path:
    """Where a corpus' signatures and verdicts go."""
    return Path(cfg.output_dir) / f"{spec.name}.dedup"


def _sign(signer: MinHashSigner, texts: list[str]) -> np.ndarray:
    return signer.sign(texts)


def part_signatures(
    cfg: PrepConfig, spec: CorpusSpec, files: list[Path], part: tuple[int, int]
) -> Path:
    """Stage 1: write the signatures of part ``part`` (0-based, of N) of a corpus."""
    near = spec.filter.near_dedup if spec.filter is not None else None
    signer = MinHashSigner(near or NearDedupSpec())
    i, n = part
    out = dedup_folder(cfg, spec) / f"part-{i + 1:03}-of-{n:03}.npz"
    file_ids = {p: k for k, p in enumerate(files)}
    where: list[tuple[int, int]] = []
    hashes: list[bytes] = []
    texts: list[str] = []
    sigs: list[np.ndarray] = []
    workers = cfg.workers or os.cpu_count() or 1
    docs = read_documents(
        files, spec.text_field, strict=cfg.strict, repair_unicode=cfg.repair_unicode, part=part
    )
    with ProcessPoolExecutor(workers) as pool:
        pending = []
        for doc in docs:
            if doc.problem is not None or not doc.text.strip():
                continue  # the build counts these
            where.append((file_ids[doc.path], doc.line))
            hashes.append(content_hash(doc.text))
            if near is not None:
                texts.append(doc.text)
                if len(texts) == _BATCH:
                    pending.append(pool.submit(_sign, signer, texts))
                    texts = []
        if near is not None and texts:
            pending.append(pool.submit(_sign, signer, texts))
        sigs = [f.result() for f in pending]
    out.parent.mkdir(parents=True, exist_ok=True)
    loc = np.array(where, dtype=np.int64).reshape(-1, 2)
    width = near.num_perm if near is not None else 0
    sig = np.concatenate(sigs) if sigs else np.zeros((0, width), np.uint32)
    with open_atomic(out, "wb") as f:
        np.savez(
            f,
            where=loc,
            hash=np.frombuffer(b"".join(hashes), np.uint8),
            sig=sig,
            scheme=np.array(SCHEME),
        )
    log.info("%s: signatures of %d documents", out, len(loc))
    return out


def global_dedup(cfg: PrepConfig, spec: CorpusSpec, parts: int) -> Path:
    """Stage 2: verdicts for every part's documents, in corpus order; returns the file.

    Raises:
        DataError: A part's signatures are missing.
    """
    folder = dedup_folder(cfg, spec)
    paths = [folder / f"part-{i:03}-of-{parts:03}.npz" for i in range(1, parts + 1)]
    missing = [p.name for p in paths if not p.is_file()]
    if missing:
        raise DataError(
            f"{folder}: signatures {', '.join(missing)} missing; run csmpt prep CONFIG "
            f"--part I/{parts} --signatures for each part first"
        )
    loaded = [np.load(p) for p in paths]
    for p, x in zip(paths, loaded, strict=True):
        scheme = str(x["scheme"]) if "scheme" in x.files else "datasketch affine32 (SHA-1)"
        if len(x["sig"]) and scheme != SCHEME:
            raise DataError(
                f"{p}: signatures of MinHash scheme {scheme!r}, this csmpt makes {SCHEME!r} "
                f"(they cannot be compared); run csmpt prep CONFIG --part I/{parts} "
                "--signatures for each part again"
            )
    where = np.concatenate([x["where"] for x in loaded])
    hashes = np.concatenate([x["hash"] for x in loaded]).reshape(-1, 16)
    sigs = np.concatenate([x["sig"] for x in loaded])
    order = np.lexsort((where[:, 1], where[:, 0]))  # corpus order: input, then line
    filt = spec.filter
    near = NearDedupIndex(filt.near_dedup) if filt is not None and filt.near_dedup else None
    exact = filt is not None and filt.dedup
    seen: dict[bytes, int] = {}
    removed: list[tuple[int, int, int, int, int, float]] = []
    for k in order.tolist():
        f, line = int(where[k, 0]), int(where[k, 1])
        h = hashes[k].tobytes()
        if exact and h in seen:
            of = seen[h]
            removed.append((f, line, 1, int(where[of, 0]), int(where[of, 1]), 1.0))
            continue
        seen.setdefault(h, k)
        if near is not None:
            hit = near.match(sigs[k])
            if hit is not None:
                of = int(hit[0])
                removed.append((f, line, 2, int(where[of, 0]), int(where[of, 1]), hit[1]))
                continue
            near.add(sigs[k], str(k))
    arr = np.array(removed, dtype=np.float64).reshape(-1, 6)
    out = folder / VERDICTS_NAME
    with open_atomic(out, "wb") as npz:
        np.savez(
            npz,
            where=arr[:, :2].astype(np.int64),
            reason=arr[:, 2].astype(np.int8),
            of=arr[:, 3:5].astype(np.int64),
            similarity=arr[:, 5].astype(np.float32),
        )
    log.info("%s: %d of %d documents removed", out, len(arr), len(where))
    return out


def load_verdicts(path: Path, files: list[Path]) -> dict[tuple[int, int], tuple[str, str, float]]:
    """(input index, line) -> (reason, ``file:line`` of the kept document, similarity)."""
    v = np.load(path)
    out = {}
    for (f, line), r, (of, of_line), sim in zip(
        v["where"].tolist(),
        v["reason"].tolist(),
        v["of"].tolist(),
        v["similarity"].tolist(),
        strict=True,
    ):
        out[(f, line)] = (_REASONS[r], f"{files[of]}:{of_line}", float(sim))
    return out


def _deduped(spec: CorpusSpec) -> bool:
    return spec.filter is not None and (spec.filter.dedup or spec.filter.near_dedup is not None)


def sign_corpora(cfg: PrepConfig, only: list[str], part: tuple[int, int]) -> list[Path]:
    """Stage 1 for every corpus (in ``only``) with ``dedup``/``near_dedup``; the files written."""
    from csmpt.corpus.readers import expand_inputs

    return [
        part_signatures(cfg, spec, expand_inputs(spec.inputs), part)
        for spec in cfg.corpora
        if _deduped(spec) and (not only or spec.name in only)
    ]


def dedup_corpora(cfg: PrepConfig, only: list[str]) -> list[Path]:
    """Stage 2 for every corpus (in ``only``) with ``dedup``/``near_dedup``; the files written.

    Raises:
        DataError: No signatures, or of different part counts.
    """
    out = []
    for spec in cfg.corpora:
        if not _deduped(spec) or (only and spec.name not in only):
            continue
        folder = dedup_folder(cfg, spec)
        counts = {p.stem.rsplit("-of-", 1)[1] for p in folder.glob("part-*-of-*.npz")}
        if len(counts) != 1:
            raise DataError(
                f"{folder}: needs the signatures of every part of one N, found N in "
                f"{sorted(counts) or 'none'} (csmpt prep CONFIG --part I/N --signatures)"
            )
        out.append(global_dedup(cfg, spec, int(counts.pop())))
    return out


def part_verdicts(
    cfg: PrepConfig, spec: CorpusSpec, files: list[Path], part: tuple[int, int]
) -> tuple[dict[tuple[int, int], tuple[str, str, float]], str] | None:
    """Stage 3: the verdicts a part's build takes, and their file's hash (None: no dedup).

    Raises:
        DataError: The corpus deduplicates but stage 2 has not run.
    """
    from csmpt.corpus.fingerprint import sha256_file

    if part[1] <= 1 or not _deduped(spec):
        return None
    path = dedup_folder(cfg, spec) / VERDICTS_NAME
    if not path.is_file():
        raise DataError(
            f"corpus '{spec.name}' removes duplicates, which parts cannot see alone: run "
            f"csmpt prep CONFIG --part I/{part[1]} --signatures on every part, then "
            "csmpt prep CONFIG --dedup, before the parts' builds"
        )
    return load_verdicts(path, files), sha256_file(path)
