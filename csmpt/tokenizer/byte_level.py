"""GPT-2's byte-level alphabet: the printable character that stands for each of the 256 bytes.

Byte-level BPE tokenizers (GPT-2, GPT-NeoX/MPT, CSMPT7b, Llama 3) write every token as these
characters; :func:`byte_decoder` turns a token's characters back into its bytes.
"""

from __future__ import annotations

from functools import lru_cache

__all__ = ["byte_decoder"]


@lru_cache(maxsize=1)
def byte_decoder() -> dict[str, int]:
    """Printable stand-in character -> the byte it stands for (``bytes_to_unicode`` reversed)."""
    keep = list(range(ord("!"), ord("~") + 1)) + list(range(0xA1, 0xAD)) + list(range(0xAE, 0x100))
    chars = keep[:]
    n = 0
    for b in range(256):
        if b not in keep:
            keep.append(b)
            chars.append(256 + n)
            n += 1
    return {chr(c): b for b, c in zip(keep, chars, strict=True)}
