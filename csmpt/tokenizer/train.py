"""Train a byte-level BPE tokenizer with HF ``tokenizers`` and save it as an HF tokenizer folder.

The folder loads offline with ``transformers.AutoTokenizer.from_pretrained(folder)``. Byte-level
BPE without a normalizer round-trips any UTF-8 text exactly, Czech diacritics included.

The training runs in a child process (:mod:`csmpt.tokenizer.bpe`) so that SIGTERM or Ctrl-C
stops it within a second: the Rust trainer never returns to Python for a handler to run.
"""

from __future__ import annotations

import json
import logging
import shutil
from dataclasses import asdict, dataclass, field
from pathlib import Path

from csmpt.atomic import check_replaceable, make_temp_dir, replace_dir
from csmpt.config.schema import at_least
from csmpt.corpus.fingerprint import fingerprint, input_stats, sha256_file
from csmpt.corpus.readers import expand_inputs
from csmpt.errors import DataError, Interrupted
from csmpt.interruptible import StopSignals, run_in_child

__all__ = [
    "RECORD_NAME",
    "TokenizerConfig",
    "train_tokenizer",
]

log = logging.getLogger(__name__)

RECORD_NAME = "csmpt_tokenizer.json"
_BYTES = 256  # byte-level BPE's initial alphabet: one symbol per byte


@dataclass
class TokenizerConfig:
    """How to train a tokenizer (the keys of ``data_prep/tokenizer/*.yaml``).

    Attributes:
        inputs: Corpus files, folders or glob patterns to train on.
        output_dir: The HF tokenizer folder to write.
        vocab_size: Vocabulary size, special tokens and the 256 byte symbols included
            (64000 for real runs).
        min_frequency: A merge must occur at least this often.
        text_field: The JSON field holding the text in ``.jsonl`` inputs.
        eos_token: End-of-document token (separates documents in the shards).
        bos_token: Beginning-of-sequence token.
        pad_token: Padding token.
        model_max_length: Saved as the tokenizer's ``model_max_length``.
        extra_special_tokens: More special tokens to reserve.
    """

    inputs: list[str] = field(default_factory=list)
    output_dir: str = "???"
    vocab_size: int = field(default=64000, metadata=at_least(1))
    min_frequency: int = field(default=2, metadata=at_least(1))
    text_field: str = "text"
    eos_token: str = "<|endoftext|>"
    bos_token: str = "<|startoftext|>"
    pad_token: str = "<|padding|>"
    model_max_length: int = field(default=2048, metadata=at_least(1))
    extra_special_tokens: list[str] = field(default_factory=list)


_MARKS = (RECORD_NAME, "tokenizer.json")  # what a tokenizer folder this replaces holds


def train_tokenizer(
    cfg: TokenizerConfig, base_dir: Path | None = None, force: bool = False
) -> tuple[Path, bool]:
    """Train the tokenizer described by ``cfg`` and save it to ``cfg.output_dir``.

    The folder is written to a temporary sibling and renamed into place, so an interrupted run
    never leaves a half-written tokenizer. When the folder already holds a tokenizer trained with
    the same settings on unchanged inputs, nothing is done (unless ``force``).

    Returns:
        The output folder, and whether training was skipped because it was up to date.

    SIGTERM or SIGINT stops the training within a second (it runs in a child process, which is
    killed); the temporary folder is removed and ``cfg.output_dir`` is left as it was.

    Raises:
        DataError: No input, unreadable input, a vocabulary too small for the byte alphabet, or
            an ``output_dir`` that is a file or a folder of something else.
        Interrupted: SIGTERM or SIGINT arrived before the new folder was put in place.
    """
    if not cfg.inputs:
        raise DataError("tokenizer config: 'inputs' is empty; list at least one corpus file")
    specials = [cfg.eos_token, cfg.pad_token, cfg.bos_token, *cfg.extra_special_tokens]
    if cfg.vocab_size < _BYTES + len(specials) + 1:
        raise DataError(
            f"tokenizer config: vocab_size {cfg.vocab_size} is too small; byte-level BPE needs "
            f"at least {_BYTES + len(specials) + 1}"
        )
    out = Path(cfg.output_dir)
    # the new folder replaces it whole: a file, or a folder of other things, would be lost
    check_replaceable(out, _MARKS, "tokenizer config: output_dir", "tokenizer")
    files = expand_inputs(cfg.inputs, base_dir)
    stamp = fingerprint(
        {"config": asdict(cfg) | {"output_dir": None}, "inputs": input_stats(files)}
    )
    record = out / RECORD_NAME
    if not force and record.is_file():
        if json.loads(record.read_text(encoding="utf-8")).get("fingerprint") == stamp:
            log.info("%s is up to date, not retrained", out)
            return out, True
    had_tokenizer = record.is_file() or (out / "tokenizer.json").is_file()
    with StopSignals() as stop:
        tmp = make_temp_dir(out)  # mode from the umask (mkdtemp: 0700)
        try:
            job = {"config": asdict(cfg), "files": [str(p) for p in files], "out": str(tmp)}
            trained = run_in_child("csmpt.tokenizer.bpe", job, "tokenizer training")
            vocab_size = int(trained["vocab_size"])
            (tmp / RECORD_NAME).write_text(
                json.dumps(
                    {
                        "fingerprint": stamp,
                        "config": asdict(cfg),
                        "vocab_size": vocab_size,
                        "inputs": [
                            {"path": str(p), "bytes": p.stat().st_size, "sha256": sha256_file(p)}
                            for p in files
                        ],
                    },
                    indent=2,
                    ensure_ascii=False,
                )
                + "\n",
                encoding="utf-8",
            )
            stop.finishing()  # a signal from here on lets the rename complete
            replace_dir(tmp, out, _MARKS, "tokenizer")
        except Interrupted as e:
            kept = "keeps the previous tokenizer" if had_tokenizer else "was not written"
            raise Interrupted(e.signum, f"tokenizer not trained; {out} {kept}") from None
        finally:
            if tmp.exists():
                shutil.rmtree(tmp, ignore_errors=True)
    if stop.received is not None:
        log.warning("%s arrived as %s was put in place; it is complete", stop.received.name, out)
    log.info("Trained tokenizer with %d tokens -> %s", vocab_size, out)
    return out, False
