"""The tokenizer a Composer checkpoint was saved with, and whether a given one is the same.

Composer writes the run's tokenizer files into every monolithic checkpoint
(``state.integrations.huggingface.tokenizer``). A checkpoint scored, exported or merged with
another tokenizer of the same vocabulary size loads without a shape error and gives garbage
(bits per byte of 7 where the run reached 1.3, an HF folder whose tokenizer does not match its
embeddings) with exit 0: a recipe with the wrong ``tokenizer.name`` or a ``--tokenizer`` of the
other language is the mistake. :func:`check_saved_tokenizer` compares token ids and refuses.

``csmpt train``'s preflight compares the checkpoint a run starts from (autoresume's, else a local
``load_path``) with the recipe's local tokenizer folder the same way (:func:`check_vocab_match`).
A sharded (DCP) checkpoint's saved vocabulary is read alone, a spread sample of it
(:func:`sharded_saved_vocab`). A surgery's ``model.pt`` carries its output tokenizer the way
Composer stores one (:func:`tokenizer_files`), so a run, an eval or an export that starts from it
with another tokenizer is refused the same way.
"""

from __future__ import annotations

import json
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
    "sharded_saved_vocab",
    "tokenizer_files",
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


def tokenizer_files(folder: str | Path) -> dict[str, dict[str, Any]]:
    """A ``save_pretrained`` tokenizer folder as Composer stores it in a checkpoint.

    ``state.integrations.huggingface.tokenizer``: file name -> ``{"file_extension", "content"}``
    with the content read as Composer 0.32.1's ``HuggingFaceModel.get_metadata`` reads it (JSON
    parsed, ``.txt`` as lines, ``.py`` / ``.jinja`` as text, a SentencePiece ``.model`` as its
    serialized proto), so llm-foundry's ``get_hf_tokenizer_from_composer_state_dict`` and
    :func:`saved_vocab` read it back.

    Raises:
        DataError: A file Composer would not store (its own ``ValueError``).
    """
    out: dict[str, dict[str, Any]] = {}
    for path in sorted(Path(folder).iterdir()):
        ext = path.suffix
        content: Any
        if ext == ".json":
            content = json.loads(path.read_bytes())
        elif ext == ".txt":
            content = path.read_text(encoding="utf-8").split("\n")
        elif ext in (".py", ".jinja"):
            content = path.read_text(encoding="utf-8")
        elif ext == ".model":
            import sentencepiece as spm

            content = spm.SentencePieceProcessor(model_file=str(path)).serialized_model_proto()
        else:
            kind = f"{ext} suffix" if ext else "no suffix"
            raise DataError(f"{path}: a tokenizer file Composer does not store ({kind})")
        out[path.name] = {"file_extension": ext, "content": content}
    return out


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


_VOCAB = ("huggingface", "tokenizer", "tokenizer.json", "content", "model", "vocab")
_ADDED = ("huggingface", "tokenizer", "tokenizer.json", "content", "added_tokens")


def sharded_saved_vocab(folder: str | Path, most: int = 1024) -> dict[int, str] | None:
    """Id -> token of the tokenizer a sharded (DCP) checkpoint was saved with (None: none).

    DCP stores a vocabulary as one entry per token (the token is in the entry's path, its id is
    read): a 64k vocabulary read whole took ~14 s on 2 busy cores. So at most ``most`` tokens,
    evenly spread over the vocabulary, and every added token are read (2-9 s there, mostly DCP
    reading ``.metadata``). Two different tokenizers of one size differ at most ids (3,837 of
    4,096 in the bilingual demo), so the sample finds them; the error counts the ids compared.
    """
    from csmpt.checkpoint.sharded import sharded_integrations

    def choose(paths: list[tuple[Any, ...]]) -> set[tuple[Any, ...]]:
        vocab = [p for p in paths if len(p) == len(_VOCAB) + 1 and p[: len(_VOCAB)] == _VOCAB]
        if not vocab:  # no tokenizer.json saved: nothing to compare
            return set()
        added = {p for p in paths if p[: len(_ADDED)] == _ADDED}
        return set(vocab[:: -(-len(vocab) // max(1, most))]) | added

    integrations = sharded_integrations(folder, choose)
    return saved_vocab(integrations)


def vocab_conflicts(saved: Mapping[int, str], given: Mapping[int, str]) -> list[int]:
    """The ids both vocabularies define with different tokens, in order."""
    return sorted(i for i in saved.keys() & given.keys() if saved[i] != given[i])


def check_saved_tokenizer(
    saved: Mapping[int, str] | None, tokenizer: Any, checkpoint: str | Path, given: str
) -> None:
    """Refuse ``tokenizer`` when the checkpoint was saved with another one.

    Args:
        saved: The checkpoint's saved vocabulary (:func:`saved_vocab` of its
            ``state.integrations``, :func:`sharded_saved_vocab`); None: nothing to compare.
        tokenizer: The tokenizer it is about to be used with (anything with ``get_vocab``).
        checkpoint: The checkpoint's path (named in the error).
        given: Where ``tokenizer`` came from, for the error (``tokenizer.name of RECIPE``).

    Raises:
        DataError: One line: the checkpoint, the tokenizer's origin, how many ids differ and
            the first one.
    """
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
