"""Document filters of ``csmpt prep``: a linear classifier, exact and near-duplicate removal.

A corpus in a data_prep YAML may carry a ``filter:`` key (:class:`FilterSpec`)::

    filter:
      classifier: artifacts/demo/filter/classifier   # from `csmpt filter train`
      threshold: 0.5                                 # remove documents scoring above it
      dedup: true                                    # drop exact repeats, keep the first
      near_dedup: {threshold: 0.8, ngram: 5}         # drop near-copies of kept documents
      removed_file: artifacts/demo/removed.jsonl     # what was removed, for inspection

:class:`DocumentFilter` sees the documents in corpus order and says for each whether to keep it
(``None``) or why it goes (``"duplicate"``, ``"classifier"``, ``"near_duplicate"``). A repeat is
a duplicate even if its first occurrence was removed by the classifier; the classifier only
scores first occurrences. A near-duplicate (:mod:`csmpt.filter.near_dedup`) is a document the
classifier kept that is similar to an earlier document kept by every filter; the side file names
that document (``duplicate_of``). The verdicts do not depend on how the documents are batched.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from dataclasses import asdict, dataclass
from pathlib import Path
from types import TracebackType
from typing import IO

import numpy as np

from csmpt.atomic import commit, copy_file, temp_path
from csmpt.corpus.fingerprint import fingerprint as hash_obj
from csmpt.errors import DataError
from csmpt.filter.classifier import LinearTextClassifier
from csmpt.filter.near_dedup import SCHEME, MinHashSigner, NearDedupIndex, NearDedupSpec

__all__ = [
    "CLASSIFIER",
    "DUPLICATE",
    "NEAR_DUPLICATE",
    "WORK_SIDE_FILE",
    "DocumentFilter",
    "FilterSpec",
    "content_hash",
]

log = logging.getLogger(__name__)

CLASSIFIER = "classifier"
DUPLICATE = "duplicate"
NEAR_DUPLICATE = "near_duplicate"
WORK_SIDE_FILE = "filter_removed.jsonl"


@dataclass
class FilterSpec:
    """A corpus' optional ``filter:`` key in a data_prep YAML.

    Attributes:
        classifier: Model folder written by ``csmpt filter train`` (null: no classifier).
        threshold: Documents whose score (P(remove)) is above it are removed.
        dedup: Remove exact duplicates (same text bytes), keeping the first occurrence.
        near_dedup: Remove near-duplicates of earlier kept documents (MinHash LSH).
        removed_file: jsonl side file listing removed documents (id, reason, score, text;
            ``duplicate_of`` and ``similarity`` for near-duplicates).
    """

    classifier: str | None = None
    threshold: float = 0.5
    dedup: bool = False
    near_dedup: NearDedupSpec | None = None
    removed_file: str | None = None


def content_hash(text: str) -> bytes:
    """16-byte BLAKE2b digest of a document's UTF-8 text (the exact-duplicate key)."""
    return hashlib.blake2b(text.encode("utf-8"), digest_size=16).digest()


def _resolve(path: str, base_dir: Path | None) -> Path:
    p = Path(path).expanduser()
    return base_dir / p if base_dir is not None and not p.is_absolute() else p


class DocumentFilter:
    """Apply a :class:`FilterSpec` to a corpus' documents, in order.

    Args:
        spec: What to remove.
        base_dir: Folder that relative ``classifier``/``removed_file`` paths are taken from
            (default: the working directory).

    Raises:
        DataError: The classifier folder is missing or corrupt; threshold outside [0, 1].
    """

    def __init__(self, spec: FilterSpec, base_dir: Path | None = None) -> None:
        if not 0.0 <= spec.threshold <= 1.0:
            raise DataError(f"filter.threshold must be in [0, 1], got {spec.threshold}")
        self.spec = spec
        self.model: LinearTextClassifier | None = None
        if spec.classifier is not None:
            self.model = LinearTextClassifier(_resolve(spec.classifier, base_dir))
        self.signer: MinHashSigner | None = None
        self.near: NearDedupIndex | None = None
        if spec.near_dedup is not None:
            try:
                self.near = NearDedupIndex(spec.near_dedup)
            except ValueError as e:
                raise DataError(f"filter.{e}") from None
            self.signer = MinHashSigner(spec.near_dedup)
        self.preset: dict[tuple[int, int], tuple[str, str, float]] | None = None
        self._seen: set[bytes] = set()
        self._counts = {reason: 0 for reason in self._reasons()}
        self.removed_path = (
            _resolve(spec.removed_file, base_dir) if spec.removed_file is not None else None
        )
        self._side: IO[str] | None = None
        self._side_tmp: Path | None = None
        self._closed = False
        self._in_work = False  # the side file lives in a build's work folder (begin)
        self._resume = 0
        self._earlier: dict[int, str] = {}

    def begin(self, work_dir: Path, resume_record: int) -> None:
        """Keep the removed documents in ``work_dir`` (a resumable build), resuming after a kill.

        Records before ``resume_record`` (their stream position) keep the verdicts the file
        has for them, and are neither scored nor written again; the file is cut back to them.
        """
        self._side_tmp = work_dir / WORK_SIDE_FILE
        self._in_work = True
        self._resume = max(resume_record, 0) if self._side_tmp.is_file() else 0
        keep = 0
        if self._resume > 0:
            with self._side_tmp.open("rb") as f:
                for line in f:
                    try:
                        rec = json.loads(line)
                        n, reason = int(rec["record"]), str(rec["reason"])
                    except (ValueError, KeyError, TypeError):
                        break  # a line cut off by the kill: after the resume point
                    if n >= self._resume:
                        break
                    self._earlier[n] = reason
                    self._counts[reason] += 1
                    keep += len(line)
        with self._side_tmp.open("ab") as f:
            f.truncate(keep)
        self._side = self._side_tmp.open("a", encoding="utf-8", newline="\n")

    def use_verdicts(self, preset: dict[tuple[int, int], tuple[str, str, float]]) -> None:
        """Take duplicate verdicts from a pass over every part (:mod:`csmpt.prep.part_dedup`).

        ``preset`` maps (input index, line) of each removed record to (reason, ``file:line`` of
        the kept document, similarity); :meth:`record` then needs ``where``.
        """
        self.preset = preset
        self.signer = None
        self.near = None

    @property
    def resume_record(self) -> int:
        """Records before this one have their verdicts from an interrupted run's file."""
        return self._resume

    def sync(self) -> None:
        """Put the side file's lines on disk (before a build records its progress)."""
        if self._side is not None:
            self._side.flush()
            os.fsync(self._side.fileno())

    def _open_side_file(self) -> None:
        """Start the side file as a temporary sibling (on the first ``check_batch``)."""
        assert self.removed_path is not None
        self.removed_path.parent.mkdir(parents=True, exist_ok=True)
        self._side_tmp = temp_path(self.removed_path)
        self._side = self._side_tmp.open("x", encoding="utf-8", newline="\n")  # umask mode

    def _reasons(self) -> list[str]:
        near = [NEAR_DUPLICATE] if self.near is not None else []
        return (
            ([DUPLICATE] if self.spec.dedup else []) + ([CLASSIFIER] if self.model else []) + near
        )

    def fingerprint(self) -> str:
        """Identifies what this filter removes: model files, threshold, dedup (and side file)."""
        return hash_obj(
            {
                "classifier": self.model.fingerprint if self.model is not None else None,
                "threshold": self.spec.threshold,
                "dedup": self.spec.dedup,
                "removed_file": str(self.removed_path) if self.removed_path else None,
            }
            | (
                {"near_dedup": asdict(self.spec.near_dedup) | {"scheme": SCHEME}}
                if self.spec.near_dedup
                else {}
            )
        )

    def check_batch(self, ids: list[str], texts: list[str]) -> list[str | None]:
        """Verdicts for the next documents of the corpus: ``None`` = keep, else the reason.

        Call it with the documents in corpus order; any batching gives the same verdicts. It is
        :meth:`duplicates`, then the classifier's scores of the rest, then :meth:`record`
        (which ``csmpt prep`` calls apart, scoring in its worker processes).
        """
        dups = self.duplicates(texts)
        scores: list[float | None] = [None] * len(texts)
        if self.model is not None:
            todo = [i for i, d in enumerate(dups) if not d]
            for i, s in zip(todo, self.model.score([texts[i] for i in todo]), strict=True):
                scores[i] = float(s)
        sigs = self.signer.sign(texts) if self.signer is not None else None
        return self.record(ids, texts, dups, scores, signatures=sigs)

    def duplicates(self, texts: list[str]) -> list[bool]:
        """Which of the next documents (in corpus order) repeat an earlier one; remembers them."""
        if not self.spec.dedup or self.preset is not None:
            return [False] * len(texts)
        seen = self._seen
        out = []
        for text in texts:
            h = content_hash(text)
            out.append(h in seen)
            seen.add(h)
        return out

    def record(
        self,
        ids: list[str],
        texts: list[str],
        duplicate: list[bool],
        scores: list[float | None],
        records: list[int] | None = None,
        signatures: np.ndarray | None = None,
        where: list[tuple[int, int]] | None = None,
    ) -> list[str | None]:
        """Verdicts from :meth:`duplicates` and the classifier's scores (None: not scored).

        Counts the removed documents and writes them to the side file; call it in corpus order.
        ``records`` (stream positions) go into the side file; those before :attr:`resume_record`
        get their earlier verdicts instead (and, kept, join the near-duplicate index again).
        ``signatures`` (one MinHash row per document; rows of exact duplicates are not read)
        are needed with ``near_dedup``; ``where`` (input index, line) with :meth:`use_verdicts`.
        """
        if not len(ids) == len(texts) == len(duplicate) == len(scores):
            raise ValueError(f"record: {len(ids)} ids, {len(texts)} texts, {len(scores)} scores")
        if self._closed:
            raise RuntimeError("record called after close()/abort()")
        if self.removed_path is not None and self._side is None:
            self._open_side_file()
        near = self.near
        if near is not None and signatures is None:
            raise ValueError("record: near_dedup needs the documents' signatures")
        preset = self.preset
        if preset is not None and where is None:
            raise ValueError("record: verdicts from all parts need the documents' places")
        verdicts: list[str | None] = [None] * len(texts)
        for i, (dup, score) in enumerate(zip(duplicate, scores, strict=True)):
            n = records[i] if records is not None else -1
            if 0 <= n < self._resume:
                verdicts[i] = self._earlier.get(n)
                if verdicts[i] is None and near is not None:
                    near.add(signatures[i], ids[i])  # type: ignore[index]
                continue
            similar: tuple[str, float] | None = None
            given = preset.get(where[i]) if preset is not None and where is not None else None
            if given is not None and given[0] == DUPLICATE:
                verdicts[i], similar = DUPLICATE, (given[1], given[2])
            elif given is not None and not (score is not None and score > self.spec.threshold):
                verdicts[i], similar = given[0], (given[1], given[2])
            elif dup:
                verdicts[i] = DUPLICATE
            elif score is not None and score > self.spec.threshold:
                verdicts[i] = CLASSIFIER
            elif near is not None:
                sig = signatures[i]  # type: ignore[index]
                similar = near.match(sig)
                if similar is None:
                    near.add(sig, ids[i])
                    continue
                verdicts[i] = NEAR_DUPLICATE
            else:
                continue
            reason = verdicts[i]
            assert reason is not None
            self._counts[reason] += 1
            if self._side is not None:
                rec = {"id": ids[i], "reason": reason, "score": score, "text": texts[i]}
                if similar is not None:
                    rec["duplicate_of"], rec["similarity"] = similar
                if n >= 0:
                    rec["record"] = n
                self._side.write(json.dumps(rec, ensure_ascii=False) + "\n")
        return verdicts

    @property
    def removed(self) -> dict[str, int]:
        """Documents removed so far, by reason (every enabled reason listed, zeros included)."""
        return dict(self._counts)

    def close(self) -> None:
        """Finish the side file: flush it and rename it into place (idempotent).

        Does nothing when ``check_batch`` was never called (e.g. the corpus was up to date).
        """
        self._closed = True
        if self._side is None or self._side_tmp is None:
            return
        self._side.close()
        if self.removed_path is None:
            self._side_tmp.unlink()  # only kept for resuming
        elif self._in_work:  # copy next to its destination, then rename: never half-written
            copy_file(self._side_tmp, self.removed_path)
            self._side_tmp.unlink()
        else:
            commit(self._side_tmp, self.removed_path)
        self._side = self._side_tmp = None
        log.info("removed documents %s -> %s", self.removed, self.removed_path)

    def abort(self) -> None:
        """Stop after an error; the previous side file stays as it was.

        The unfinished one is dropped, except in a build's work folder: a rerun resumes it.
        """
        self._closed = True
        if self._side is not None and self._side_tmp is not None:
            self._side.close()
            if not self._in_work:
                self._side_tmp.unlink(missing_ok=True)
            self._side = self._side_tmp = None

    def __enter__(self) -> DocumentFilter:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort()
