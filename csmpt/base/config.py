"""What ``csmpt base build`` reads: an offline corpus, a tokenizer size, a training recipe.

``yamls/base/builds/en.yaml`` builds the small English base model; ``yamls/base/builds/cs.yaml``
its Czech twin (corpus, tokenizer and shards, no model: the target of an adaptation).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from omegaconf import MISSING

from csmpt.config import build_structured, describe_key, in_range, load_yaml_with_overrides
from csmpt.config.schema import at_least
from csmpt.errors import ConfigError, DataError

__all__ = ["BaseConfig", "CorpusSource", "load_base_config"]

SOURCES = ("docstrings", "gettext")


@dataclass
class CorpusSource:
    """Where the text comes from (:mod:`csmpt.corpus.offline`).

    Attributes:
        kind: ``docstrings`` (prose of installed packages' docstrings) or ``gettext``
            (translations in gettext catalogs).
        packages: ``docstrings``: import names of the packages, in order.
        language: ``gettext``: the catalogs' language folder (``cs``, ``pl``, ``sk``).
        roots: ``gettext``: folders holding ``LANGUAGE/LC_MESSAGES/*.mo``.
    """

    kind: str = "docstrings"
    packages: list[str] = field(default_factory=list)
    language: str = "en"
    roots: list[str] = field(default_factory=lambda: ["/usr/share/locale"])


@dataclass
class BaseConfig:
    """A small base model (or a target-language twin without one), built by one command.

    Attributes:
        output_dir: Where everything goes (``corpus/``, ``tokenizer/``, ``mds/``, ``run/``,
            ``base.json``).
        corpus: The offline text.
        held_out: Share of the corpus' bytes held out (whole source documents, chosen by a hash
            of their names): never seen by the tokenizer or the model.
        vocab_size: The byte-level BPE's vocabulary, trained on the training documents (with
            ``extend``: the extended tokenizer's size, the base's tokens included).
        extend: A tokenizer folder to extend instead (``csmpt tokenizer extend``): its merges
            continued on the training documents up to ``vocab_size`` tokens, its ids kept.
        protect: With ``extend``: files whose tokenization must not change (the base's own
            language).
        max_seq_len: Tokens per MDS sample.
        recipe: The training recipe (``yamls/base/mpt.yaml``); empty: no model, only corpus,
            tokenizer and shards.
        overrides: Overrides of the recipe.
        encode: Other held-out corpora (``NAME: JSONL``) to encode with this tokenizer into
            ``mds/NAME`` (a Czech twin scores English retention on the English held-out text).
        min_gain: The model's held-out bits per byte must be at least this share below the
            unigram model of its own tokenizer, or the build fails (a negative value accepts a
            model worse than the unigram: a smoke test's few steps).
        seed: The training seed.
    """

    output_dir: str = MISSING
    corpus: CorpusSource = field(default_factory=CorpusSource)
    held_out: float = field(default=0.1, metadata=in_range(0.0, 0.9))
    vocab_size: int = field(default=4096, metadata=at_least(300))
    extend: str = ""
    protect: list[str] = field(default_factory=list)
    max_seq_len: int = field(default=256, metadata=at_least(8))
    recipe: str = ""
    overrides: list[str] = field(default_factory=list)
    encode: dict[str, str] = field(default_factory=dict)
    min_gain: float = field(default=0.25, metadata=in_range(-100.0, 1.0))
    seed: int = field(default=17, metadata=at_least(0))


def load_base_config(path: str | Path, overrides: list[str] | tuple[str, ...] = ()) -> BaseConfig:
    """Read and check a base-model config (``key=value`` overrides applied first).

    Raises:
        ConfigError: Missing file, unknown key, a value out of range, an unknown corpus kind,
            ``docstrings`` without packages, a recipe that does not exist.
    """
    path = Path(path)
    cfg = build_structured(BaseConfig, load_yaml_with_overrides(path, overrides), path)
    if cfg.corpus.kind not in SOURCES:
        raise ConfigError(
            f"{describe_key(path, 'corpus.kind')} is {cfg.corpus.kind!r}; use one of {SOURCES}"
        )
    if cfg.corpus.kind == "docstrings" and not cfg.corpus.packages:
        raise ConfigError(f"{describe_key(path, 'corpus.packages')}: list at least one package")
    if cfg.recipe and not Path(cfg.recipe).is_file():
        raise ConfigError(
            f"{describe_key(path, 'recipe')}: training recipe '{cfg.recipe}' does not exist"
        )
    if cfg.extend:
        from csmpt.tokenizer.folder import check_tokenizer_dir, tokenizer_size

        try:
            size = tokenizer_size(check_tokenizer_dir(cfg.extend, "tokenizer"))
        except (DataError, OSError, ValueError, KeyError) as e:
            raise ConfigError(f"{describe_key(path, 'extend')}: {e}") from None
        if cfg.vocab_size <= size:
            raise ConfigError(
                f"{describe_key(path, 'vocab_size')} is {cfg.vocab_size}, but the tokenizer to "
                f"extend ({cfg.extend}) has {size} tokens already: give the size after extension"
            )
    if cfg.held_out <= 0:
        raise ConfigError(f"{describe_key(path, 'held_out')}: hold out some text (e.g. 0.1)")
    return cfg
