"""The tokenizer a Composer checkpoint was saved with, and whether a given one is the same.

Composer writes the run's tokenizer files into every monolithic checkpoint
(``state.integrations.huggingface.tokenizer``). A checkpoint scored, exported or merged with
another tokenizer of the same vocabulary size loads without a shape error and gives garbage
(bits per byte of 7 where the run reached 1.3, an HF folder whose tokenizer does not match its
embeddings) with exit 0: a recipe with the wrong ``tokenizer.name`` or a ``--tokenizer`` of the
other language is the mistake. :func:`check_saved_tokenizer` compares token ids and refuses.

``csmpt train``'s preflight compares the checkpoint a run starts from (autoresume's, else a local
``load_path``) with the recipe's local tokenizer folder the same way (:func:`check_vocab_match`).
Surgery outputs carry no tokenizer (nothing to compare); sharded (DCP) checkpoints are not read
here.
"""

from __future__ import annotations

import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from csmpt.errors import DataError

__all__ = [
    "check_saved_tokenizer",
    "check_vocab_match",
    "saved_tokenizer",
    "saved_vocab",
    "tokenizer_json_vocab",
    "vocab_conflicts",
]


def _tokenizer_state(integrations: Mapping[str, Any]) -> Mapping[str, Any] | None:
    """``huggingface.tokenizer`` of a checkpoint's ``state.integrations`` (None: absent)."""
    try:
        files = integrations["huggingface"]["tokenizer"]
    except (KeyError, TypeError):
        return None
    return files if isinstance(files, Mapping) and files else None


def tokenizer_json_vocab(content: Any) -> dict[int, str] | None:
    """Id -> token of a ``tokenizer.json``'s content: its model's vocabulary and added tokens.

    None when it has no id -> token table (a Unigram model's list, not a ``tokenizer.json``).
    """
    if not isinstance(content, Mapping):
        return None
    model = content.get("model")
    vocab = model.get("vocab") if isinstance(model, Mapping) else None
    if not isinstance(vocab, Mapping):  # not a BPE/WordPiece vocabulary (e.g. Unigram's list)
        return None
    ids = {int(i): str(t) for t, i in vocab.items()}
    for added in content.get("added_tokens") or []:
        ids[int(added["id"])] = str(added["content"])
    return ids


def saved_vocab(integrations: Mapping[str, Any]) -> dict[int, str] | None:
    """Id -> token of the ``tokenizer.json`` in a checkpoint's ``state.integrations`` (or None).

    The model's vocabulary and its added tokens, as ``tokenizer.get_vocab()`` gives them.
    """
    files = _tokenizer_state(integrations)
    entry = files.get("tokenizer.json") if files else None
    return tokenizer_json_vocab(entry.get("content") if isinstance(entry, Mapping) else None)


def vocab_conflicts(saved: Mapping[int, str], given: Mapping[int, str]) -> list[int]:
    """The ids both vocabularies define with different tokens, in order."""
    return sorted(i for i in saved.keys() & given.keys() if saved[i] != given[i])


def check_saved_tokenizer(
    integrations: Mapping[str, Any], tokenizer: Any, checkpoint: str | Path, given: str
) -> None:
    """Refuse ``tokenizer`` when the checkpoint was saved with another one.

    Args:
        integrations: The checkpoint's ``state.integrations`` (empty: nothing to compare).
        tokenizer: The tokenizer it is about to be used with (anything with ``get_vocab``).
        checkpoint: The checkpoint's path (named in the error).
        given: Where ``tokenizer`` came from, for the error (``tokenizer.name of RECIPE``).

    Raises:
        DataError: One line: the checkpoint, the tokenizer's origin, how many ids differ and
            the first one.
    """
    saved = saved_vocab(integrations)
    if saved is None or tokenizer is None or not hasattr(tokenizer, "get_vocab"):
        return
    mine = {int(i): str(t) for t, i in tokenizer.get_vocab().items()}
    check_vocab_match(saved, mine, checkpoint, given)


def check_vocab_match(
    saved: Mapping[int, str],
    mine: Mapping[int, str],
    checkpoint: str | Path,
    given: str,
    advice: str = "give the tokenizer the run trained with",
) -> None:
    """Refuse ``mine`` (id -> token) where it gives an id of ``saved`` another token.

    Raises:
        DataError: :func:`check_saved_tokenizer`'s one line.
    """
    bad = vocab_conflicts(saved, mine)
    if not bad:
        return
    first = bad[0]
    raise DataError(
        f"{checkpoint}: saved with another tokenizer than {given}: {len(bad)} of "
        f"{len(saved.keys() & mine.keys())} token ids differ (id {first} is {saved[first]!r} "
        f"in the checkpoint, {mine[first]!r} in yours); {advice}"
    )


def saved_tokenizer(integrations: Mapping[str, Any]) -> Any | None:
    """The tokenizer in a checkpoint's ``state.integrations``, loaded (None: none saved).

    llm-foundry's ``get_hf_tokenizer_from_composer_state_dict`` writes the files to a folder
    and loads them; the folder is removed after (a fast tokenizer is held in memory).
    """
    if _tokenizer_state(integrations) is None:
        return None
    from llmfoundry.utils.checkpoint_conversion_helpers import (
        get_hf_tokenizer_from_composer_state_dict,
    )

    with tempfile.TemporaryDirectory(prefix="csmpt-tokenizer-") as tmp:
        state = {"state": {"integrations": integrations}}
        return get_hf_tokenizer_from_composer_state_dict(
            state, trust_remote_code=False, tokenizer_save_dir=tmp
        )
