"""The BPE training itself, run in a child process by :func:`csmpt.tokenizer.train.train_tokenizer`.

HF ``tokenizers`` trains in Rust for minutes without returning to Python, so no signal handler
could run in this process meanwhile; the parent waits and kills it on SIGTERM/SIGINT
(:mod:`csmpt.interruptible`). The child reads the corpus files itself (nothing big crosses the
pipe) and saves the HF tokenizer files into the temporary folder the parent gave it.

    python -m csmpt.tokenizer.bpe   # job as JSON on stdin (csmpt.interruptible.run_in_child)
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from csmpt.corpus.readers import read_documents
from csmpt.interruptible import child_main
from csmpt.tokenizer.train import TokenizerConfig

__all__ = ["train_bpe"]


def _texts(cfg: TokenizerConfig, files: Sequence[Path]) -> Iterator[str]:
    for doc in read_documents(files, cfg.text_field):
        if doc.text.strip():
            yield doc.text


def train_bpe(job: dict[str, Any]) -> dict[str, int]:
    """Train the byte-level BPE of ``job["config"]`` on ``job["files"]``, save it to ``job["out"]``.

    Args:
        job: ``config`` (a :class:`TokenizerConfig` as a dict), ``files`` (the corpus files, in
            order) and ``out`` (an existing empty folder).

    Returns:
        ``{"vocab_size": N}``: the trained tokenizer's size, special tokens included.

    Raises:
        DataError: A corpus file cannot be read.
    """
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    cfg = TokenizerConfig(**job["config"])
    files = [Path(f) for f in job["files"]]
    specials = [cfg.eos_token, cfg.pad_token, cfg.bos_token, *cfg.extra_special_tokens]
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=cfg.vocab_size,
        min_frequency=cfg.min_frequency,
        special_tokens=specials,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(_texts(cfg, files), trainer=trainer)
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok,
        eos_token=cfg.eos_token,
        bos_token=cfg.bos_token,
        pad_token=cfg.pad_token,
        unk_token=cfg.eos_token,
        model_max_length=cfg.model_max_length,
        additional_special_tokens=list(cfg.extra_special_tokens),
        clean_up_tokenization_spaces=False,
    )
    fast.save_pretrained(job["out"])  # type: ignore[attr-defined]
    return {"vocab_size": tok.get_vocab_size()}


if __name__ == "__main__":
    child_main(train_bpe)
