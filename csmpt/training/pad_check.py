"""Preflight for training on pad-packed shards (``csmpt prep`` with ``packing: pad``).

llm-foundry's ``text`` collator (transformers' ``DataCollatorForLanguageModeling``) pads each
batch to its longest sample with the tokenizer's pad token and sets every label equal to that
token to -100. That masks exactly the padding only when the pad token is a token of its own:

* no pad token: the collator raises at the first batch with samples of different lengths;
* pad token == EOS (a common fallback): every document's EOS is masked out of the labels too, so
  the model never learns to end a document (and padding would look like more documents).

And with ``eos_token_id`` in the loader's dataset config, llm-foundry derives each sample's
sequence ids from EOS positions (``ConcatenatedSequenceCollatorWrapper``); a wrong id silently
gives wrong document boundaries. These are checked here, before llm-foundry starts.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from csmpt.errors import ConfigError
from csmpt.mds.folders import local_mds_folders
from csmpt.mds.manifest import MANIFEST_NAME, SplitManifest

__all__ = ["check_pad_shards"]

log = logging.getLogger(__name__)


def _special(tokenizer_dir: Path, role: str) -> str | None:
    path = tokenizer_dir / "special_tokens_map.json"
    if not path.is_file():
        return None
    value = json.loads(path.read_text(encoding="utf-8")).get(role)
    return value.get("content") if isinstance(value, dict) else value


def check_pad_shards(
    datasets: Iterable[tuple[str, Mapping[str, Any]]], tokenizer: str | None, where: str
) -> None:
    """Check the loaders that read pad-packed folders against the tokenizer.

    Args:
        datasets: (config key, ``dataset`` config) of each loader.
        tokenizer: The recipe's ``tokenizer.name`` (a local folder is checked; a hub name not).
        where: The recipe path, for the messages.

    Raises:
        ConfigError: A pad-packed folder with a tokenizer without a pad token of its own, or
            a loader whose ``eos_token_id`` is not the shards' EOS id.
    """
    tok_dir = Path(tokenizer) if tokenizer else None
    for key, dataset in datasets:
        for sub, folder in local_mds_folders(dataset):
            if not (folder / MANIFEST_NAME).is_file():
                continue
            manifest = SplitManifest.read(folder)
            if manifest.packing != "pad":
                continue
            eos_id = dataset.get("eos_token_id")
            if eos_id is None:
                log.warning(
                    "%s: %s.%s reads pad-packed shards without eos_token_id: the documents of "
                    "a sample attend to each other (set eos_token_id: %s for sequence ids)",
                    where,
                    key,
                    sub,
                    manifest.eos_id,
                )
            elif eos_id != manifest.eos_id:
                raise ConfigError(
                    f"{where}: {key}.eos_token_id is {eos_id} but {folder}'s shards end each "
                    f"document with {manifest.eos_id}; set it to that"
                )
            if tok_dir is None or not (tok_dir / "tokenizer.json").is_file():
                continue
            pad, eos = _special(tok_dir, "pad_token"), _special(tok_dir, "eos_token")
            if pad is None:
                raise ConfigError(
                    f"{where}: {key}.{sub} is pad-packed ({folder}) but tokenizer {tok_dir} has "
                    "no pad token; give it one of its own (not EOS) for the collator's padding"
                )
            if pad == eos:
                raise ConfigError(
                    f"{where}: {key}.{sub} is pad-packed ({folder}) but tokenizer {tok_dir}'s "
                    f"pad token is its EOS '{eos}': the collator would mask every EOS out of "
                    "the labels; give the tokenizer a pad token of its own"
                )
