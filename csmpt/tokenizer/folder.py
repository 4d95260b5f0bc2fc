"""An HF tokenizer folder as the stages read it: checked, sized, fingerprinted."""

from __future__ import annotations

import json
from pathlib import Path

from csmpt.corpus.fingerprint import sha256_file
from csmpt.errors import DataError

__all__ = ["check_tokenizer_dir", "same_encoding", "tokenizer_fingerprint", "tokenizer_size"]

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
