"""``csmpt validate``: loss and bits per byte of checkpoints and HF models on validation text.

Lit-Claire's offline validation: while training goes on, evaluate the checkpoints already
written on every corpus (not only the one the run trains on now) and append the figures to a
CSV (``step, checkpoint, corpus, loss, perplexity, tokens, bytes, bpb``). It is safe next to a
running trainer: shards are read by csmpt's MDS reader into scratch copies (no
StreamingDataset, no shared memory), a checkpoint that cannot be read yet (still being written)
is skipped with a warning, rows are appended under a file lock, and (step, corpus) pairs
already in the CSV are not evaluated again, so the same command can be rerun as new checkpoints
appear.

``loss`` is nats per token of the recipe's tokenizer; ``bpb`` is bits per UTF-8 byte of the
validation text (:mod:`csmpt.eval.bpb`), the unit that compares models with different
tokenizers. HF models (``models``: the English base model, an export, a competitor) are scored
with their own tokenizer on the same text: the validation split decoded back into its
documents. Their rows have an empty ``step`` and their name in ``checkpoint``.
"""

from __future__ import annotations

import csv
import fcntl
import logging
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from csmpt.checkpoint.loading import (
    Checkpoint,
    build_hf_model,
    build_recipe_model,
    find_checkpoints,
    load_checkpoint_weights,
)
from csmpt.checkpoint.sharded import is_sharded_checkpoint
from csmpt.errors import ConfigError, DataError
from csmpt.eval.bpb import (
    BpbScore,
    lossless_failures,
    score_documents,
    score_ids,
    score_window,
    start_token,
    stream_documents,
    utf8_bytes,
)
from csmpt.recipe.swap_schedule import hot_swap_spec

__all__ = [
    "FIELDS",
    "ValRow",
    "check_validation_csv",
    "corpora_of_recipe",
    "read_validation",
    "validate_checkpoints",
    "validation_documents",
]

log = logging.getLogger(__name__)

FIELDS = ["step", "checkpoint", "corpus", "loss", "perplexity", "tokens", "bytes", "bpb"]


@dataclass
class ValRow:
    """Loss of one checkpoint (``step`` set) or HF model (``step`` None) on one corpus."""

    step: int | None
    checkpoint: str
    corpus: str
    loss: float
    perplexity: float
    tokens: int
    bytes: int = 0
    bpb: float = float("nan")

    @classmethod
    def of(cls, step: int | None, name: str, corpus: str, score: BpbScore) -> ValRow:
        """A row from a :class:`~csmpt.eval.bpb.BpbScore`."""
        loss = score.loss
        return cls(
            step,
            name,
            corpus,
            loss,
            math.exp(min(loss, 50.0)),
            score.tokens,
            score.bytes,
            score.bpb,
        )


def corpora_of_recipe(recipe: str | Path, overrides: Sequence[str] = ()) -> dict[str, Path]:
    """Validation folders a recipe names, each once.

    Its eval loader(s), its hot-swap corpora and the sources of its mixtures (``streams``).
    """
    from omegaconf import OmegaConf

    from csmpt.config.loading import load_yaml_with_overrides

    cfg: Any = OmegaConf.to_container(load_yaml_with_overrides(recipe, overrides), resolve=True)
    out: dict[str, Path] = {}
    loaders = cfg.get("eval_loader") or []
    for i, loader in enumerate(loaders if isinstance(loaders, list) else [loaders]):
        ds = loader.get("dataset", {}) if isinstance(loader, dict) else {}
        if "local" in ds:
            folder = Path(ds["local"]) / str(ds.get("split") or "")
            out[str(loader.get("label") or Path(ds["local"]).name or f"eval{i}")] = folder
    swap = hot_swap_spec(cfg) or {}
    for s in swap.get("swaps") or []:
        local = (s.get("dataset") or {}).get("local")
        if local and (Path(local) / "val").is_dir():
            out.setdefault(str(s.get("name") or Path(local).name), Path(local) / "val")
    # Mixtures (streaming `streams`, e.g. English replay): every source's val split, once.
    datasets = [((cfg.get("train_loader") or {}).get("dataset") or {})]
    datasets += [s.get("dataset") or {} for s in swap.get("swaps") or []]
    for ds in datasets:
        for stream in (ds.get("streams") or {}).values():
            src = (stream or {}).get("local")
            if not src:
                continue
            val = Path(src) / "val"
            if val.is_dir() and val not in out.values():
                out.setdefault(Path(src).name, val)
    return out


def check_same_tokenizer(folder: Path, tokenizer: Any) -> None:
    """Refuse a split encoded by another tokenizer than the model's (its ids would be garbage).

    The model's tokenizer folder (``name_or_path``) against the tokenizer the split's manifest
    names (:func:`csmpt.mds.manifest.tokenizer_mismatch`).

    Raises:
        DataError: One line naming the folder and both tokenizers.
    """
    from csmpt.mds.manifest import tokenizer_mismatch

    why = tokenizer_mismatch(folder, str(getattr(tokenizer, "name_or_path", "") or ""))
    if why:
        raise DataError(
            f"corpus '{folder}' {why}; build it with the run's tokenizer (csmpt prep) or give "
            "the recipe that matches it"
        )


def validation_documents(
    folder: Path, tokenizer: Any, max_samples: int
) -> tuple[list[int], list[str]]:
    """The first ``max_samples`` samples of an MDS split as (token stream, documents).

    The samples are consecutive pieces of one EOS-separated stream (``csmpt prep``), so they
    are joined again; the stream is cut after its last EOS and each document decoded
    separately (see :func:`csmpt.eval.bpb.stream_documents`): the scored text is whole
    documents and no character is cut.
    """
    import numpy as np

    from csmpt.mds.reader import iter_samples

    if not (folder / "index.json").is_file():
        splits = [d.name for d in (folder / "val", folder / "train") if (d / "index.json").exists()]
        hint = f"give its split, '{folder / splits[0]}'" if splits else "build it with csmpt prep"
        raise DataError(f"validation folder '{folder}' has no index.json; {hint}")
    check_same_tokenizer(folder, tokenizer)
    stream: list[int] = []
    eos, seen_eos = tokenizer.eos_token_id, False
    for i, sample in enumerate(iter_samples(folder)):
        if i >= max_samples and seen_eos:  # past max_samples only to finish a document
            break
        tokens = np.asarray(sample["tokens"])
        seen_eos = seen_eos or bool((tokens == eos).any())
        stream += tokens.tolist()
    if not stream:
        raise DataError(f"validation folder '{folder}' has no samples")
    docs = stream_documents(tokenizer, stream)
    last = len(stream) - 1 - stream[::-1].index(eos)
    return stream[: last + 1], docs


def _key(step: int | None, checkpoint: str, corpus: str) -> tuple[str, str]:
    return (str(step) if step is not None else f"model:{checkpoint}", corpus)


def read_validation(csv_path: str | Path) -> list[ValRow]:
    """The rows of a validation CSV (older files without ``bytes``/``bpb`` read as NaN)."""
    path = Path(csv_path)
    if not path.is_file():
        return []
    out = []
    with path.open(encoding="utf-8") as f:
        for r in csv.DictReader(f):
            try:
                out.append(
                    ValRow(
                        int(r["step"]) if r.get("step") else None,
                        r["checkpoint"],
                        r["corpus"],
                        float(r["loss"]),
                        float(r["perplexity"]),
                        int(r["tokens"]),
                        int(r.get("bytes") or 0),
                        float(r.get("bpb") or "nan"),
                    )
                )
            except (KeyError, ValueError, TypeError):
                continue
    return out


def check_validation_csv(csv_path: Path) -> None:
    """Refuse a CSV path that holds something else: appending would rewrite it.

    An existing non-empty file must start with a validation header (this csmpt's, or an older
    one without ``bytes``/``bpb``); ``--csv README.md`` used to replace the README by a table.

    Raises:
        ConfigError: ``csv_path`` is a folder, or a file that is not a validation CSV.
    """
    if csv_path.is_dir():
        raise ConfigError(f"--csv '{csv_path}' is a folder; give a file (e.g. validation.csv)")
    if not csv_path.is_file() or csv_path.stat().st_size == 0:
        return
    with csv_path.open(encoding="utf-8", errors="replace") as f:
        header = f.readline().strip().split(",")
    if header[:6] != FIELDS[:6]:
        raise ConfigError(
            f"--csv '{csv_path}' exists and is not a validation CSV (its first line is not "
            f"'{','.join(FIELDS)}'); rows are appended to a validation CSV: give another file"
        )


def _done(csv_path: Path) -> set[tuple[str, str]]:
    return {_key(r.step, r.checkpoint, r.corpus) for r in read_validation(csv_path)}


def _line(r: ValRow) -> list[object]:
    return [
        "" if r.step is None else r.step,
        r.checkpoint,
        r.corpus,
        f"{r.loss:.6f}",
        f"{r.perplexity:.4f}",
        r.tokens,
        r.bytes or "",
        "" if math.isnan(r.bpb) else f"{r.bpb:.6f}",
    ]


def _append(csv_path: Path, rows: list[ValRow]) -> None:
    """Append under a lock; a CSV of an older csmpt (no bpb columns) is rewritten first."""
    csv_path.parent.mkdir(parents=True, exist_ok=True)
    with csv_path.open("a+", encoding="utf-8", newline="") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        f.seek(0)
        header = f.readline().strip().split(",")
        if f.tell() and header != FIELDS:
            old = read_validation(csv_path)
            f.seek(0)
            f.truncate()
            csv.writer(f).writerows([FIELDS, *(_line(r) for r in old)])
        f.seek(0, 2)
        w = csv.writer(f)
        if f.tell() == 0:
            w.writerow(FIELDS)
        w.writerows(_line(r) for r in rows)
        f.flush()


def _describe(r: ValRow) -> str:
    who = f"step {r.step}" if r.step is not None else r.checkpoint
    return (
        f"{who} {r.corpus}: loss {r.loss:.4f} nats/token, {r.bpb:.4f} bits/byte "
        f"({r.tokens:,} tokens, {r.bytes:,} bytes)"
    )


def validate_checkpoints(
    checkpoints: str | Path | None,
    train_yaml: str | Path,
    csv_path: str | Path,
    corpora: dict[str, Path] | None = None,
    overrides: Sequence[str] = (),
    max_samples: int = 256,
    progress: Callable[[str], None] | None = None,
    models: Mapping[str, str | Path] | None = None,
) -> list[ValRow]:
    """Evaluate new checkpoints (a file or a run folder) and HF models on every corpus.

    Args:
        checkpoints: A Composer checkpoint or a run folder (None: only ``models``).
        train_yaml: The recipe the run trained with (its model, tokenizer and corpora).
        csv_path: The CSV to append to.
        corpora: Name -> MDS split folder (default: the recipe's eval and hot-swap corpora).
        overrides: ``key=value`` overrides of the recipe.
        max_samples: Samples read per corpus (the text ends after the last complete document).
        progress: Called with one line per row.
        models: Name -> HF folder, each scored with its own tokenizer on the same text.

    Returns:
        The rows appended now (pairs already in the CSV are skipped).
    """
    say = progress or (lambda msg: log.info("%s", msg))
    ckpts: list[Checkpoint] = []
    if checkpoints is not None:
        src = Path(checkpoints)
        one = src.is_file() or is_sharded_checkpoint(src)
        ckpts = [Checkpoint(_step_of(src), src)] if one else find_checkpoints(src)
    corpora = corpora or corpora_of_recipe(train_yaml, overrides)
    if not corpora:
        raise ConfigError(f"{train_yaml}: no eval_loader corpora; name them with --corpus NAME=DIR")
    out = Path(csv_path)
    check_validation_csv(out)
    done = _done(out)
    rm = build_recipe_model(train_yaml, overrides)
    texts = {n: validation_documents(corpora[n], rm.tokenizer, max_samples) for n in corpora}
    new: list[ValRow] = []
    for c in ckpts:
        todo = [n for n in corpora if _key(c.step, c.path.name, n) not in done]
        if not todo:
            continue
        try:
            load_checkpoint_weights(rm.model, c.path, rm.recipe)
        except DataError as e:
            if "not a readable" in str(e):  # still being written by the trainer
                log.warning("skipping %s for now: %s", c.path, e)
                continue
            raise
        rows = []
        for name in todo:
            stream, docs = texts[name]
            ids = [start_token(rm.tokenizer), *stream]
            nats, tokens = score_ids(rm.model.model, ids, rm.max_seq_len)
            score = BpbScore(nats, tokens, sum(utf8_bytes(d) for d in docs))
            rows.append(ValRow.of(c.step, c.path.name, name, score))
            say(_describe(rows[-1]))
        _append(out, rows)
        new += rows
    for model_name, hf_dir in (models or {}).items():
        todo = [n for n in corpora if _key(None, model_name, n) not in done]
        if not todo:
            continue
        model, tokenizer = build_hf_model(hf_dir, rm.max_seq_len)
        window = score_window(model.model, rm.max_seq_len)
        rows = []
        for name in todo:
            docs = texts[name][1]
            bad = lossless_failures(tokenizer, docs)
            if bad:
                log.warning(
                    "tokenizer of '%s' (%s) does not encode %d of %d documents of %s losslessly "
                    "(first: document %d); its bits per byte are not exact",
                    model_name,
                    hf_dir,
                    len(bad),
                    len(docs),
                    name,
                    bad[0],
                )
            score = score_documents(model.model, tokenizer, docs, window)
            rows.append(ValRow.of(None, model_name, name, score))
            say(_describe(rows[-1]))
        _append(out, rows)
        new += rows
    return new


def _step_of(path: Path) -> int:
    import re

    m = re.search(r"-ba(\d+)(?:-|$)", path.name)
    if not m:
        raise DataError(
            f"'{path}': cannot tell the step from the name (expected ep*-ba*-rank0.pt or ep*-ba*/)"
        )
    return int(m.group(1))
