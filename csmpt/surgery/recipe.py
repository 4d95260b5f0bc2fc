"""``csmpt surgery``: a surgery YAML (``yamls/surgery/``) -> an output folder a training run loads.

Output folder (written to a temporary sibling and renamed into place; an existing folder is
replaced only with ``force``)::

    OUT/model.pt            Composer checkpoint, model weights only: train with
                            load_path: OUT/model.pt, load_weights_only: true
    OUT/hf/                 HF folder: config.json, model.safetensors, tokenizer
    OUT/tokenizer/          the tokenizer the model now speaks
    OUT/csmpt_surgery.json  shapes (vocab_size, n_layers) read by the csmpt_surgery_shapes
                            config transform, so the training YAML needs no hand edits
    OUT/report.json         aligned tokens, coverage, held-out loss and bits per byte of the
                            swapped model beside random embeddings, uniform and unigram
"""

from __future__ import annotations

import dataclasses
import json
import logging
import shutil
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from csmpt.atomic import check_replaceable, make_temp_dir, recover_dir, replace_dir
from csmpt.checkpoint.saved_tokenizer import check_saved_tokenizer, saved_vocab, tokenizer_files
from csmpt.checkpoint.surgery_shapes import SHAPES_NAME
from csmpt.config.schema import at_least
from csmpt.corpus.readers import expand_inputs, read_documents
from csmpt.errors import ConfigError, DataError
from csmpt.surgery.alignment import frequency_order, token_frequencies
from csmpt.surgery.downcycle import DowncycleConfig, choose_layers, downcycle
from csmpt.surgery.io import ModelWeights, load_source, write_composer_checkpoint, write_hf_dir
from csmpt.surgery.report import (
    SurgeryReport,
    coverage,
    example_pairs,
    set_bits_per_byte,
    swap_losses,
    uniform_loss,
    unigram_loss,
)
from csmpt.surgery.vocab_swap import VocabSwapConfig, check_tokenizer_fits, swap_vocabulary
from csmpt.tokenizer.folder import check_tokenizer_dir
from csmpt.tokenizer.vocab_bytes import vocab_bytes

__all__ = ["OUTPUT_MARKS", "SHAPES_NAME", "SurgeryConfig", "run_surgery", "split_held_out"]

log = logging.getLogger(__name__)

OUTPUT_MARKS = ("report.json",)  # what every surgery output folder holds


@dataclass
class SourceConfig:
    """The ``source:`` section: the model to operate on and its tokenizer."""

    model: str = "???"
    tokenizer: str = "???"


@dataclass
class TargetConfig:
    """The ``target:`` section: the new tokenizer and a sample of the new language.

    Attributes:
        tokenizer: The target tokenizer folder (needed when ``vocab_swap.enabled``).
        corpus: Target-language files/folders/globs: token frequencies (dictionary order, cap),
            coverage and the report's loss.
        text_field: The text field of ``.jsonl`` corpus files.
        max_documents: Read at most this many documents.
    """

    tokenizer: str | None = None
    corpus: list[str] = field(default_factory=list)
    text_field: str = "text"
    max_documents: int = 20000


@dataclass
class OutputConfig:
    """The ``output:`` section: where to write, and which formats."""

    dir: str = "???"
    hf: bool = True
    composer: bool = True


@dataclass
class ReportConfig:
    """The ``report:`` section: the held-out loss comparison (``eval_sequences: 0`` skips it).

    Attributes:
        eval_sequences: Score this many rows of ``seq_len`` held-out tokens (fewer when the
            held-out text is shorter).
        seq_len: Tokens per row (at most the model's ``max_seq_len``).
        examples: Example pairs per alignment method.
        held_out: Share of ``target.corpus``'s documents (a seeded draw, at least one) kept out
            of everything the surgery learns from (FOCUS's fastText, the dictionary's frequency
            order, coverage, the unigram baseline) and scored instead. Ignored when
            ``eval_corpus`` is set.
        eval_corpus: Held-out target-language files/folders/globs to score instead; then all
            of ``target.corpus`` is training text.
    """

    eval_sequences: int = 8
    seq_len: int = 128
    examples: int = 5
    held_out: float = 0.1
    eval_corpus: list[str] = field(default_factory=list)


@dataclass
class SurgeryConfig:
    """A surgery YAML (``yamls/surgery/*.yaml``)."""

    source: SourceConfig = field(default_factory=SourceConfig)
    target: TargetConfig = field(default_factory=TargetConfig)
    vocab_swap: VocabSwapConfig = field(default_factory=VocabSwapConfig)
    downcycle: DowncycleConfig = field(default_factory=DowncycleConfig)
    output: OutputConfig = field(default_factory=OutputConfig)
    report: ReportConfig = field(default_factory=ReportConfig)
    seed: int = field(default=17, metadata=at_least(0))


def _load_tokenizer(path: str, key: str) -> Any:
    from transformers import AutoTokenizer

    try:
        check_tokenizer_dir(path, what=f"{key}")
    except DataError as e:
        raise DataError(f"key '{key}': {e}") from None
    return AutoTokenizer.from_pretrained(path)


def _corpus_texts(inputs: list[str], text_field: str, max_documents: int) -> list[str]:
    if not inputs:
        return []
    texts = []
    for doc in read_documents(expand_inputs(inputs), text_field):
        texts.append(doc.text)
        if len(texts) >= max_documents:
            break
    return texts


def split_held_out(
    texts: list[str], fraction: float, seed: int
) -> tuple[list[str], list[str], list[int]]:
    """Split documents into training and held-out ones: a seeded draw of ``fraction`` of them.

    At least one document is held out and at least one kept; the order of each part is the
    corpus order.

    Returns:
        (training texts, held-out texts, held-out document indices).

    Raises:
        ConfigError: ``fraction`` outside (0, 1), or fewer than two documents.
    """
    if not 0.0 < fraction < 1.0:
        raise ConfigError(f"key 'report.held_out': {fraction} is not a share in (0, 1)")
    if len(texts) < 2:
        raise ConfigError(
            f"key 'report.held_out': target.corpus has {len(texts)} document(s), nothing to "
            "hold out; set report.eval_corpus to held-out files or report.eval_sequences: 0"
        )
    n_held = min(max(1, round(fraction * len(texts))), len(texts) - 1)
    perm = np.random.default_rng(seed).permutation(len(texts))
    held = sorted(int(i) for i in perm[:n_held])
    chosen = set(held)
    train = [t for i, t in enumerate(texts) if i not in chosen]
    return train, [texts[i] for i in held], held


def _eval_tokens(tok: Any, texts: list[str], n: int, seq_len: int) -> torch.Tensor | None:
    """Up to (n, seq_len) tokens of ``texts``, EOS-separated: the whole rows there are.

    None when the texts do not fill one row.
    """
    need, ids = n * seq_len, []
    for text in texts:
        ids += tok(text, add_special_tokens=False)["input_ids"] + [tok.eos_token_id]
        if len(ids) >= need:
            break
    rows = min(n, len(ids) // seq_len)
    if rows < 1:
        return None
    if rows < n:
        log.warning("held-out text fills %d of report.eval_sequences=%d rows", rows, n)
    return torch.tensor(ids[: rows * seq_len], dtype=torch.long).view(rows, seq_len)


def _unigram_counts(tok: Any, texts: list[str], size: int) -> np.ndarray:
    """Token counts of ``texts`` as the report scores text: each document followed by EOS."""
    counts = token_frequencies(tok, texts, size)
    if tok.eos_token_id is not None and tok.eos_token_id < size:
        counts[tok.eos_token_id] += len(texts)
    return counts


def _special_names(tok: Any) -> dict[int, bytes]:
    return {i: str(tok.convert_ids_to_tokens(i)).encode() for i in tok.all_special_ids}


def _max_len(config: dict[str, Any]) -> int:
    return int(config.get("max_seq_len") or config.get("max_position_embeddings") or 2048)


def _name_tokenizer(weights: ModelWeights, tokenizer: str) -> ModelWeights:
    """MPT's ``tokenizer_name`` names the target tokenizer (not the source's)."""
    if "tokenizer_name" not in weights.config:
        return weights
    return dataclasses.replace(weights, config=dict(weights.config, tokenizer_name=tokenizer))


def _write(out: Path, weights: ModelWeights, tokenizer: Any, cfg: SurgeryConfig) -> None:
    tokenizer.save_pretrained(str(out / "tokenizer"))  # tokenizer files only, never weights
    if cfg.output.hf:
        write_hf_dir(weights, out / "hf", tokenizer)
    if cfg.output.composer:  # with its tokenizer, as Composer saves one: later uses compare it
        saved = {"huggingface": {"tokenizer": tokenizer_files(out / "tokenizer")}}
        with_tok = dataclasses.replace(weights, integrations=saved)
        write_composer_checkpoint(with_tok, out / "model.pt")
    shapes = {
        "family": weights.family,
        "vocab_size": int(weights.state[weights.embed_key].shape[0]),
        "n_layers": int(weights.config[weights.layers_key]),
        "layers_key": weights.layers_key,
        "tokenizer": str((out / "tokenizer").name),
    }
    (out / SHAPES_NAME).write_text(json.dumps(shapes, indent=2) + "\n", encoding="utf-8")


def run_surgery(
    cfg: SurgeryConfig,
    force: bool = False,
    on_stage: Callable[[str], None] | None = None,
) -> tuple[Path, SurgeryReport]:
    """Run the surgery ``cfg`` describes; return the output folder and the report.

    Raises:
        ConfigError: Invalid settings, or the output exists and ``force`` is not set.
        DataError: Missing or mismatched model, tokenizer, dictionary or corpus.
    """
    stage = on_stage or (lambda s: log.info(s))
    out = Path(cfg.output.dir)
    for line in recover_dir(out):  # a killed earlier surgery's hidden copies
        log.warning("%s", line)
    check_replaceable(out, OUTPUT_MARKS, "key 'output.dir':", "surgery output")
    if out.exists() and not force:
        raise ConfigError(f"key 'output.dir': '{out}' already exists; pass --force to replace it")
    if not (cfg.output.hf or cfg.output.composer):
        raise ConfigError("keys 'output.hf' and 'output.composer' are both false: nothing to write")
    stage(f"reading {cfg.source.model}")
    weights = load_source(cfg.source.model)
    source_tok = _load_tokenizer(cfg.source.tokenizer, "source.tokenizer")
    check_tokenizer_fits(weights, source_tok, cfg.source.tokenizer)
    check_saved_tokenizer(
        saved_vocab(weights.integrations),
        source_tok,
        cfg.source.model,
        f"key 'source.tokenizer' ({cfg.source.tokenizer})",
    )
    total = int(weights.config[weights.layers_key])
    keep = choose_layers(total, cfg.downcycle)
    if len(keep) != total:
        stage(f"downcycling {total} -> {len(keep)} layers")
        weights = downcycle(weights, keep)
    report = SurgeryReport(
        family=weights.family,
        source=cfg.source.model,
        output=str(out),
        source_vocab=int(weights.state[weights.embed_key].shape[0]),
        vocab_size=int(weights.state[weights.embed_key].shape[0]),
        source_layers=total,
        layers=keep,
        normalised=weights.normalised,
    )
    out_tok = source_tok
    if cfg.vocab_swap.enabled:
        if not cfg.target.tokenizer:
            raise ConfigError("key 'target.tokenizer' is missing (needed by vocab_swap)")
        target_tok = _load_tokenizer(cfg.target.tokenizer, "target.tokenizer")
        out_tok = target_tok
        texts = _corpus_texts(cfg.target.corpus, cfg.target.text_field, cfg.target.max_documents)
        held: list[str] = []
        if cfg.report.eval_sequences > 0 and cfg.report.eval_corpus:
            held = _corpus_texts(
                cfg.report.eval_corpus, cfg.target.text_field, cfg.target.max_documents
            )
            report.eval_text = f"report.eval_corpus: {len(held):,} documents"
        elif cfg.report.eval_sequences > 0 and texts:
            n_docs = len(texts)
            texts, held, _ = split_held_out(texts, cfg.report.held_out, cfg.seed)
            report.eval_text = (
                f"{len(held):,} of {n_docs:,} target.corpus documents held out "
                f"(report.held_out={cfg.report.held_out}); the rest trained FOCUS, ordered the "
                "dictionary and the unigram baseline"
            )
        counts = token_frequencies(target_tok, texts, len(target_tok)) if texts else None
        stage(f"aligning {len(source_tok):,} source and {len(target_tok):,} target tokens")
        swap = swap_vocabulary(
            weights, source_tok, target_tok, cfg.vocab_swap, counts, seed=cfg.seed, texts=texts
        )
        report.focus = asdict(swap.focus) if swap.focus else None
        report.align = asdict(swap.align) if swap.align else None
        t_bytes, s_bytes = vocab_bytes(target_tok), vocab_bytes(source_tok)
        t_show = {**_special_names(target_tok), **t_bytes}
        s_show = {**_special_names(source_tok), **s_bytes}
        report.target_tokens = swap.target_tokens
        report.vocab_size = swap.vocab_size
        report.aligned = swap.alignment.by_method()
        report.examples = example_pairs(
            swap.alignment,
            t_show,
            s_show,
            frequency_order(counts, t_bytes),
            cfg.report.examples,
        )
        report.dictionary = asdict(swap.dictionary) if swap.dictionary else None
        if counts is not None:
            report.corpus_tokens = int(counts.sum())
            ordinary = [t for t, (_, m) in swap.alignment.pairs.items() if m != "special"]
            report.coverage = coverage(counts, np.array(ordinary, dtype=np.int64))
        seq_len = min(cfg.report.seq_len, _max_len(weights.config))
        tokens = (
            _eval_tokens(target_tok, held, cfg.report.eval_sequences, seq_len)
            if cfg.report.eval_sequences > 0
            else None
        )
        if tokens is not None:
            stage(f"held-out loss on {tokens.numel():,} tokens: swapped vs random")
            report.loss_swapped, report.loss_random = swap_losses(swap.weights, tokens, cfg.seed)
            report.eval_tokens = int(tokens.numel())
            report.loss_uniform = uniform_loss(len(target_tok))
            unigram = _unigram_counts(target_tok, texts, len(target_tok))
            report.loss_unigram = unigram_loss(unigram, tokens[:, 1:])
            set_bits_per_byte(report, tokens, t_bytes)
        elif cfg.report.eval_sequences > 0:
            log.warning("no held-out text to score: the report has no loss")
        weights = _name_tokenizer(swap.weights, cfg.target.tokenizer)
    stage(f"writing {out}")
    tmp = make_temp_dir(out)  # mode from the umask
    try:
        _write(tmp, weights, out_tok, cfg)
        report.write(tmp / "report.json")
        replace_dir(tmp, out, OUTPUT_MARKS, "surgery output")
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return out, report
