"""An HF tokenizer folder as the stages read it: checked, sized, fingerprinted."""

from __future__ import annotations

import json
from pathlib import Path

from csmpt.corpus.fingerprint import sha256_file
from csmpt.errors import DataError

__all__ = [
    "check_named_tokenizer",
    "check_tokenizer_dir",
    "looks_local",
    "same_encoding",
    "tokenizer_fingerprint",
    "tokenizer_size",
]

# The parts of tokenizer.json that decide which ids a text gets (not its decoder or templates).
_ENCODING_PARTS = ("model", "added_tokens", "normalizer", "pre_tokenizer")


def check_tokenizer_dir(path: str | Path, what: str = "tokenizer") -> Path:
    """Return ``path`` if it is an HF tokenizer folder, else raise a one-line DataError."""
    p = Path(path)
    if not p.is_dir():
        raise DataError(f"{what} folder '{path}' does not exist (train one: csmpt tokenizer train)")
    if not (p / "tokenizer.json").is_file() and not (p / "tokenizer_config.json").is_file():
        raise DataError(f"{what} folder '{path}' has no tokenizer.json or tokenizer_config.json")
    return p


def looks_local(name: str) -> bool:
    """Whether a recipe's ``tokenizer.name`` means a local folder rather than a hub id.

    It does when it starts with ``.``, ``/`` or ``~``, exists, has more than two parts, or has
    two and its first is a folder here (``artifacts/tokenizer``; ``org/name`` is a hub id).
    """
    p = Path(name).expanduser()
    return (
        name.startswith((".", "/", "~"))
        or p.exists()
        or (len(p.parts) > 2 or (len(p.parts) == 2 and Path(p.parts[0]).is_dir()))
    )


def check_named_tokenizer(name: str, where: str) -> None:
    """A recipe's local ``tokenizer.name`` that is no tokenizer folder here: one DataError.

    A hub id is not checked. A relative path starts where the command runs, which the message
    says (a recipe run from another folder than the project's).

    Args:
        name: ``tokenizer.name``, resolved.
        where: Where it was read (``recipe.yaml:35: key 'tokenizer.name'``), for the message.
    """
    if not looks_local(name):
        return
    p = Path(name).expanduser()
    try:
        check_tokenizer_dir(p)
    except DataError as e:
        here = "" if p.is_absolute() else f" (relative to {Path.cwd()})"
        raise DataError(f"{where}: {e}{here}") from None


def tokenizer_size(path: str | Path) -> int:
    """Number of tokens (specials included) of the tokenizer saved in ``path``."""
    data = json.loads((Path(path) / "tokenizer.json").read_text(encoding="utf-8"))
    ids = set(data["model"]["vocab"].values()) | {t["id"] for t in data.get("added_tokens", [])}
    return max(ids) + 1


def tokenizer_fingerprint(path: str | Path) -> str:
    """SHA-256 of the tokenizer's ``tokenizer.json`` (identifies it in manifests)."""
    return sha256_file(Path(path) / "tokenizer.json")


def same_encoding(a: str | Path, b: str | Path) -> bool:
    """Whether two tokenizer folders give every text the same ids.

    Equal ``tokenizer.json`` files, or files that differ only outside the model, added tokens,
    normaliser and pre-tokeniser (a tokenizer saved again, pretty-printed or with another
    decoder).
    """
    fa, fb = Path(a) / "tokenizer.json", Path(b) / "tokenizer.json"
    if sha256_file(fa) == sha256_file(fb):
        return True
    ja, jb = (json.loads(f.read_text(encoding="utf-8")) for f in (fa, fb))
    return all(ja.get(k) == jb.get(k) for k in _ENCODING_PARTS)
