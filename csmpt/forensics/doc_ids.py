"""Source documents of an MDS sample: ``file:line`` from the document map, ids from the inputs.

:func:`document_map` gives, in O(1) for any corpus size and without reading the inputs, the
``file:line`` of every document a sample holds, from the map ``csmpt prep`` writes beside the
shards (:mod:`csmpt.mds.doc_map`). The rest of this module recovers document *ids* (the
records' ``id`` field) for small corpora by re-reading the inputs:

``csmpt prep`` joins the documents of a split, each followed by EOS, into one token stream and
cuts it into ``max_seq_len`` samples. So the documents a sample holds follow from the EOS counts
of the samples before it: the first document of sample ``i`` is document number
``sum(EOS in samples < i)`` of the split, in input order (empty documents skipped, the split
chosen by the same text hash, documents a ``filter:`` removed left out, as its
``removed_file`` lists them). :class:`DocumentIndex` rebuilds that mapping from
``csmpt_manifest.json`` (inputs, text field, val fraction, EOS id) and checks it against the
manifest's document count; when anything does not add up (inputs moved or changed, a folder not
written by ``csmpt prep``) it gives no ids rather than wrong ones.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import numpy as np

from csmpt.errors import DataError
from csmpt.mds.doc_map import DocumentMap
from csmpt.mds.manifest import MANIFEST_NAME, SplitManifest

__all__ = ["DocumentIndex", "document_index", "document_map"]

log = logging.getLogger(__name__)


class DocumentIndex:
    """Map sample indices of one MDS split folder to the ids of the documents they contain.

    Args:
        folder: The split folder (``.../CORPUS/train``) with ``csmpt_manifest.json``.

    Raises:
        ValueError: No manifest, inputs missing, or the documents do not match the samples.
    """

    def __init__(self, folder: str | Path) -> None:
        from csmpt.corpus.readers import read_documents
        from csmpt.mds.reader import iter_samples
        from csmpt.prep.run import split_of

        self.folder = Path(folder)
        if not (self.folder / MANIFEST_NAME).is_file():
            raise ValueError(f"{self.folder}: no {MANIFEST_NAME}")
        try:
            manifest = SplitManifest.read(self.folder)
        except DataError as e:
            raise ValueError(str(e)) from None
        if manifest.merged_from is not None or manifest.part is not None:
            raise ValueError(f"{self.folder}: built in --parts; its documents are in the map only")
        if manifest.eos_id is None:
            raise ValueError(f"{self.folder}: the manifest has no eos_id")
        eos = manifest.eos_id
        split = manifest.split
        val_fraction = float(manifest.config["val_fraction"])
        text_field = manifest.config["corpora"][0].get("text_field", "text")
        repair = bool(manifest.config.get("repair_unicode", False))
        files = [Path(i.path) for i in manifest.inputs]
        missing = [str(f) for f in files if not f.exists()]
        if missing:
            raise ValueError(f"{self.folder}: input {missing[0]} of the manifest is gone")
        counts, last_is_eos = [], []
        for sample in iter_samples(self.folder):
            tokens = np.asarray(sample["tokens"])
            counts.append(int((tokens == eos).sum()))
            last_is_eos.append(bool(tokens[-1] == eos))
        self._start = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
        self._counts = np.asarray(counts, np.int64)
        self._last_is_eos = np.asarray(last_is_eos, bool)
        removed = _removed_ids(manifest.config["corpora"][0].get("filter"))
        self.doc_ids = [
            d.doc_id
            for d in read_documents(files, text_field, strict=False, repair_unicode=repair)
            if getattr(d, "problem", None) is None
            and d.text.strip()
            and d.doc_id not in removed
            and split_of(d.text, val_fraction) == split
        ]
        if len(self.doc_ids) != manifest.documents or self._start[-1] > len(self.doc_ids):
            raise ValueError(
                f"{self.folder}: the inputs now hold {len(self.doc_ids)} documents, the manifest "
                f"{manifest.documents}; they changed since the shards were written"
            )

    def __call__(self, index: int) -> list[str]:
        """Ids of the documents sample ``index`` (its index in the folder) holds, in order."""
        first = int(self._start[index])
        last = first + int(self._counts[index]) - (1 if self._last_is_eos[index] else 0)
        return self.doc_ids[first : min(last, len(self.doc_ids) - 1) + 1]


def _removed_ids(spec: dict[str, object] | None) -> set[str]:
    """Ids of the documents a data_prep ``filter:`` removed, from its ``removed_file``."""
    if not spec or not (spec.get("classifier") or spec.get("dedup") or spec.get("near_dedup")):
        return set()
    removed_file = spec.get("removed_file")
    if not removed_file or not Path(str(removed_file)).is_file():
        raise ValueError("the corpus was filtered and its removed_file is not available")
    with Path(str(removed_file)).open(encoding="utf-8") as f:
        return {str(json.loads(line)["id"]) for line in f if line.strip()}


_INDEXES: dict[str, DocumentIndex | None] = {}


def document_index(folder: str | Path, max_samples: int | None = None) -> DocumentIndex | None:
    """The cached :class:`DocumentIndex` of ``folder``, or None where ids are not available.

    Args:
        folder: The split folder.
        max_samples: Give up (None) for folders with more samples than this, since the index
            reads every sample once; None means no limit.
    """
    key = str(Path(folder).resolve())
    if key not in _INDEXES:
        try:
            if max_samples is not None:
                samples = SplitManifest.read(Path(folder)).samples
                if samples > max_samples:
                    raise ValueError(f"{samples} samples > {max_samples}")
            _INDEXES[key] = DocumentIndex(folder)
        except (OSError, ValueError, KeyError, DataError) as e:
            log.info("no document ids for %s: %s", folder, e)
            _INDEXES[key] = None
    return _INDEXES[key]


_MAPS: dict[str, DocumentMap | None] = {}


def document_map(folder: str | Path) -> DocumentMap | None:
    """The cached document map of a split folder (None when ``csmpt prep`` wrote none)."""
    key = str(Path(folder).resolve())
    if key not in _MAPS:
        try:
            inputs = SplitManifest.read(Path(folder)).inputs
            _MAPS[key] = DocumentMap(folder, [i.path for i in inputs])
        except (OSError, ValueError, KeyError, DataError) as e:
            log.info("no document map for %s: %s", folder, e)
            _MAPS[key] = None
    return _MAPS[key]
