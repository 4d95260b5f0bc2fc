"""``csmpt base build``: a small base model that is really a language model, from offline text.

One command, each stage reusing csmpt's own (the same code a real run uses)::

    corpus (csmpt.corpus.offline) -> held-out split by source document
      -> tokenizer (csmpt tokenizer train, on the training documents only)
      -> shards (csmpt prep: mds/train, mds/held_out, mds/NAME for ``encode``)
      -> model (csmpt train RECIPE) -> held-out bits per byte beside uniform and unigram

Everything lands in ``OUTPUT_DIR``; ``base.json`` records the figures and a content key (the
corpus' SHA-256, the config and the recipe's text). A second build with the same key does
nothing; an interrupted one resumes (the tokenizer and shards are skipped when up to date, the
run resumes from its checkpoint).

The model must be a language model: its held-out bits per byte at least ``min_gain`` below the
add-one unigram model of its own tokenizer (fitted on the training shards), or the build fails
with the figures.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
from omegaconf import OmegaConf

from csmpt import atomic
from csmpt.base.config import BaseConfig
from csmpt.corpus.fingerprint import fingerprint
from csmpt.corpus.offline import (
    SourceDocument,
    docstring_documents,
    gettext_documents,
    package_license,
)
from csmpt.errors import DataError

__all__ = [
    "BaseResult",
    "build_base",
    "held_out_names",
    "unigram_bits_per_byte",
]

log = logging.getLogger(__name__)

RECORD = "base.json"


@dataclass
class BaseResult:
    """What a build made (``OUTPUT_DIR/base.json``)."""

    key: str
    output_dir: str
    corpus: dict[str, Any]
    tokenizer: str
    vocab_size: int
    shards: dict[str, str]
    unigram_bpb: float
    uniform_bpb: float
    model: str | None = None
    parameters: int | None = None
    tokens_seen: int | None = None
    held_out_bpb: float | None = None
    gain_over_unigram: float | None = None
    extension: dict[str, Any] | None = None
    seconds: float = 0.0
    skipped: bool = False


def _unit(name: str) -> float:
    """A stable number in [0, 1) from a document's name."""
    return int.from_bytes(hashlib.sha256(name.encode()).digest()[:8], "big") / 2**64


def held_out_names(docs: Sequence[SourceDocument], share: float) -> set[str]:
    """Names of the documents held out, ``share`` of the corpus' bytes.

    In the order of a hash of their names, the first documents whose bytes reach ``share`` of
    the corpus (at least one document, never all of them).
    """
    if len(docs) < 2:
        raise DataError(f"{len(docs)} document(s): need at least two to hold one out")
    total = sum(len(d.text.encode()) for d in docs)
    out: set[str] = set()
    size = 0
    for d in sorted(docs, key=lambda d: (_unit(d.name), d.name)):
        if out and size >= share * total:
            break
        if len(out) == len(docs) - 1:
            break
        out.add(d.name)
        size += len(d.text.encode())
    return out


def _documents(cfg: BaseConfig) -> list[SourceDocument]:
    if cfg.corpus.kind == "docstrings":
        return list(docstring_documents(cfg.corpus.packages))
    return list(gettext_documents(cfg.corpus.language, cfg.corpus.roots))


def _write_if_changed(path: Path, data: bytes) -> None:
    """Keep an identical file as it is (its mtime keeps the tokenizer and shards up to date)."""
    if path.is_file() and path.read_bytes() == data:
        return
    atomic.write_bytes(path, data)


def _jsonl(records: Iterable[dict[str, Any]]) -> bytes:
    return "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records).encode()


def _write_corpus(cfg: BaseConfig, folder: Path) -> dict[str, Any]:
    docs = _documents(cfg)
    held = held_out_names(docs, cfg.held_out)
    train = [d for d in docs if d.name not in held]
    test = [d for d in docs if d.name in held]
    folder.mkdir(parents=True, exist_ok=True)
    blobs = {
        "train.jsonl": _jsonl({"text": d.text, "source": d.name} for d in train),
        "held_out.jsonl": _jsonl({"text": d.text, "source": d.name} for d in test),
    }
    licenses: dict[str, str] = {}
    for d in docs:
        if cfg.corpus.kind == "docstrings" and d.origin not in licenses:
            licenses[d.origin] = package_license(d.origin.split("==")[0])
    sources = [
        {
            "name": d.name,
            "origin": d.origin,
            "split": "held_out" if d.name in held else "train",
            "bytes": len(d.text.encode()),
        }
        for d in docs
    ]
    blobs["sources.jsonl"] = _jsonl(sources)
    for name, data in blobs.items():
        _write_if_changed(folder / name, data)
    sha = hashlib.sha256(blobs["train.jsonl"] + b"\0" + blobs["held_out.jsonl"]).hexdigest()
    return {
        "kind": cfg.corpus.kind,
        "documents": {"train": len(train), "held_out": len(test)},
        "bytes": {
            "train": sum(s["bytes"] for s in sources if s["split"] == "train"),
            "held_out": sum(s["bytes"] for s in sources if s["split"] == "held_out"),
        },
        "sha256": sha,
        "licenses": licenses,
        "origins": sorted({d.origin for d in docs}),
    }


def _extend_tokenizer(cfg: BaseConfig, out: Path) -> tuple[Path, dict[str, Any]]:
    from csmpt.tokenizer.extend import ExtendConfig, extend_tokenizer
    from csmpt.tokenizer.folder import tokenizer_size

    ext = ExtendConfig(
        source=cfg.extend,
        inputs=[str(out / "corpus" / "train.jsonl")],
        output_dir=str(out / "tokenizer"),
        new_tokens=cfg.vocab_size - tokenizer_size(cfg.extend),
        protect=list(cfg.protect),
    )
    path, stats, skipped = extend_tokenizer(ext)
    log.info("tokenizer %s (%s)", path, "up to date" if skipped else "extended")
    return path, asdict(stats) | {"new_tokens": len(stats.new_tokens)}


def _train_tokenizer(cfg: BaseConfig, out: Path) -> Path:
    from csmpt.tokenizer.train import TokenizerConfig, train_tokenizer

    tok_cfg = TokenizerConfig(
        inputs=[str(out / "corpus" / "train.jsonl")],
        output_dir=str(out / "tokenizer"),
        vocab_size=cfg.vocab_size,
        model_max_length=max(cfg.max_seq_len, 2048),
    )
    path, skipped = train_tokenizer(tok_cfg)
    log.info("tokenizer %s (%s)", path, "up to date" if skipped else "trained")
    return path


def _prep(cfg: BaseConfig, out: Path, tokenizer: Path) -> dict[str, str]:
    from csmpt.prep.config import CorpusSpec, PrepConfig
    from csmpt.prep.run import prep_corpora

    corpora = [
        CorpusSpec(name="train", inputs=[str(out / "corpus" / "train.jsonl")]),
        CorpusSpec(name="held_out", inputs=[str(out / "corpus" / "held_out.jsonl")]),
        *(CorpusSpec(name=name, inputs=[str(path)]) for name, path in cfg.encode.items()),
    ]
    prep_cfg = PrepConfig(
        tokenizer=str(tokenizer),
        output_dir=str(out / "mds"),
        max_seq_len=cfg.max_seq_len,
        corpora=corpora,
        val_fraction=0.0,  # the held-out split is by source document, made above
    )
    prep_corpora(prep_cfg)
    return {c.name: str(out / "mds" / c.name / "train") for c in corpora}


def unigram_bits_per_byte(
    train: str | Path, held_out: str | Path, tokenizer: Any
) -> tuple[float, float]:
    """(unigram, uniform) bits per byte on the ``held_out`` MDS split.

    The unigram is add-one smoothed token frequencies of the ``train`` split over the
    tokenizer's vocabulary. Both are scored like ``csmpt_eval_bpb`` scores a model: every token
    of a sample but its first is predicted, its bytes are its exact bytes in the vocabulary.
    """
    from csmpt.mds.reader import iter_samples
    from csmpt.tokenizer.vocab_bytes import byte_lengths

    vocab = len(tokenizer)
    counts = np.ones(vocab, dtype=np.float64)
    for sample in iter_samples(train):
        counts += np.bincount(np.asarray(sample["tokens"], dtype=np.int64), minlength=vocab)[:vocab]
    logp = np.log(counts / counts.sum())
    lengths = byte_lengths(tokenizer, vocab)
    nats = n_bytes = 0.0
    tokens = 0
    for sample in iter_samples(held_out):
        targets = np.asarray(sample["tokens"], dtype=np.int64)[1:]
        nats -= float(logp[targets].sum())
        n_bytes += float(lengths[targets].sum())
        tokens += len(targets)
    if n_bytes == 0:
        raise DataError(f"{held_out}: no text to score")
    return nats / (math.log(2) * n_bytes), tokens * math.log(vocab) / (math.log(2) * n_bytes)


def _key(cfg: BaseConfig, corpus_sha: str) -> str:
    # the recipe's values, not its text: a comment edited does not retrain the model
    recipe = OmegaConf.to_container(OmegaConf.load(cfg.recipe)) if cfg.recipe else None
    return fingerprint(
        {
            "config": asdict(cfg) | {"output_dir": None, "min_gain": None},  # a check, not input
            "corpus": corpus_sha,
            "recipe": recipe,
        }
    )


def _vocab_rows(n: int, multiple: int = 64) -> int:
    return -(-n // multiple) * multiple


def _vocab_key(recipe: str) -> str:
    """The recipe key that sets the model's vocabulary size.

    An ``hf_causal_lm`` (the Llama twin) takes it as a config override, llm-foundry's MPT as a
    model argument.
    """
    from omegaconf import DictConfig, OmegaConf

    cfg = OmegaConf.load(recipe)
    model = cfg.get("model") if isinstance(cfg, DictConfig) else None
    if isinstance(model, DictConfig) and model.get("name") == "hf_causal_lm":
        return "model.config_overrides.vocab_size"
    return "model.vocab_size"


def _train(
    cfg: BaseConfig, out: Path, tokenizer: Path, vocab: int, key: str, extra: Sequence[str]
) -> tuple[Path, int, int, float]:
    """Train (or resume) the model; (checkpoint, parameters, tokens seen, held-out bpb)."""
    from csmpt.run_folder import metric_series, read_metrics
    from csmpt.training.run import run_training

    run = out / "run"
    key_file = out / "run.key"
    fresh = run.exists() and (not key_file.is_file() or key_file.read_text().strip() != key)
    atomic.write_text(key_file, key + "\n")
    trainer = run_training(
        cfg.recipe,
        [
            f"variables.data_root={out / 'mds'}",
            f"variables.tokenizer_name={tokenizer}",
            f"variables.save_folder={run}",
            f"{_vocab_key(cfg.recipe)}={_vocab_rows(vocab)}",
            f"seed={cfg.seed}",
            *cfg.overrides,
            *extra,
        ],
        fresh=fresh,
    )
    params = sum(p.numel() for p in trainer.state.model.parameters())
    tokens = int(trainer.state.timestamp.token)
    series = metric_series(read_metrics(run / "metrics.jsonl"), "metrics/eval/BitsPerByte")
    if not series:
        raise DataError(
            f"{cfg.recipe}: the run logged no metrics/eval/BitsPerByte (the recipe needs "
            "callbacks.csmpt_eval_bpb and an eval at the end)"
        )
    return run / "latest-rank0.pt", params, tokens, float(series[-1][1])


def build_base(
    cfg: BaseConfig,
    train_overrides: Sequence[str] = (),
    force: bool = False,
    on_stage: Callable[[str], None] | None = None,
) -> BaseResult:
    """Build (or reuse) the corpus, tokenizer, shards and model of ``cfg``.

    Args:
        cfg: The base config.
        train_overrides: More overrides of the training run (e.g. the quiet console's); not
            part of the content key.
        force: Rebuild the model even when ``base.json`` has the same key.
        on_stage: Called with a short description as each stage starts.

    Raises:
        ConfigError: An override of the recipe that names no key of it.
        DataError: A package, catalog or text to ``encode`` is missing, too little text, or the
            model is not a language model (held-out bpb not ``min_gain`` below the unigram's).
    """
    from transformers import AutoTokenizer

    t0 = time.perf_counter()
    say = on_stage or (lambda s: log.info("%s", s))
    out = Path(cfg.output_dir)
    if cfg.recipe:  # a typo in the recipe's overrides fails now, not after the tokenizer
        from csmpt.training.preflight import check_recipe_keys

        check_recipe_keys(cfg.recipe, cfg.overrides)
    for name, text in cfg.encode.items():  # another build's text: say which build makes it
        if not Path(text).is_file():
            from csmpt.training.preflight import base_build_making

            build = base_build_making(text)
            how = f"; build it with `csmpt base build {build}`" if build else ""
            raise DataError(f"key 'encode.{name}': '{text}' does not exist{how}")
    say(f"collecting the {cfg.corpus.kind} corpus")
    corpus = _write_corpus(cfg, out / "corpus")
    key = _key(cfg, corpus["sha256"])
    record = out / RECORD
    if not force and record.is_file():
        old = json.loads(record.read_text(encoding="utf-8"))
        if old.get("key") == key:
            reused = BaseResult(**(old | {"skipped": True}))
            _check_gain(reused, cfg, record)
            return reused
    extension: dict[str, Any] | None = None
    if cfg.extend:
        say(
            f"extending {cfg.extend} to {cfg.vocab_size} tokens on "
            f"{corpus['bytes']['train']:,} bytes"
        )
        tok_path, extension = _extend_tokenizer(cfg, out)
    else:
        say(f"training the {cfg.vocab_size}-token tokenizer on {corpus['bytes']['train']:,} bytes")
        tok_path = _train_tokenizer(cfg, out)
    say("writing the shards")
    shards = _prep(cfg, out, tok_path)
    tokenizer = AutoTokenizer.from_pretrained(str(tok_path))
    unigram, uniform = unigram_bits_per_byte(shards["train"], shards["held_out"], tokenizer)
    result = BaseResult(
        key=key,
        output_dir=str(out),
        corpus=corpus,
        tokenizer=str(tok_path),
        vocab_size=len(tokenizer),
        shards=shards,
        unigram_bpb=unigram,
        uniform_bpb=uniform,
        extension=extension,
    )
    if cfg.recipe:
        say(f"training the model ({cfg.recipe})")
        model, params, tokens, bpb = _train(
            cfg, out, tok_path, len(tokenizer), key, train_overrides
        )
        result.model, result.parameters, result.tokens_seen = str(model), params, tokens
        result.held_out_bpb = bpb
        result.gain_over_unigram = 1.0 - bpb / unigram
    result.seconds = time.perf_counter() - t0
    atomic.write_json(record, asdict(result) | {"skipped": False}, indent=2)
    _check_gain(result, cfg, record)
    return result


def gain_words(gain: float) -> str:
    """A model's held-out bpb against the unigram's, in words.

    "28.6% below the unigram", or "12.0% above the unigram (worse)" rather than a negative
    share "below" it.
    """
    if gain >= 0:
        return f"{gain:.1%} below the unigram"
    return f"{-gain:.1%} above the unigram (worse)"


def _check_gain(result: BaseResult, cfg: BaseConfig, record: Path) -> None:
    gain = result.gain_over_unigram
    if gain is not None and gain < cfg.min_gain:
        raise DataError(
            f"{cfg.output_dir}: not a language model yet: held-out {result.held_out_bpb:.3f} bits "
            f"per byte vs the unigram's {result.unigram_bpb:.3f} ({gain_words(gain)}; min_gain "
            f"{cfg.min_gain:.0%}); train longer or on more text ({record})"
        )
