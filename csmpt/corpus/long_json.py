r"""Parse a very long JSON Lines record holding its text in a fraction of ``json.loads``'s memory.

``json.loads(raw.decode())`` on a 200 MB line holds the line's bytes, the decoded line and the
parsed text at once, and the json module builds a long string with ~2x its size in overallocated
buffers: about 10x the line. :func:`parse_long_record` finds the text field's string in the
bytes, parses the rest of the record (the text replaced by ``""``) with ``json.loads``, and
decodes the string a chunk at a time into UTF-8 bytes that the caller decodes once, after it has
dropped the line: the line, then a UTF-8 copy of the text, then the text, at most two at a time.

Each chunk is decoded as ``json.loads('"' + chunk + '"')`` after a strict UTF-8 decode, so it
takes exactly what ``json.loads(raw.decode("utf-8"))`` takes, escapes and lone surrogates
included (they travel as ``surrogatepass`` bytes). Chunks are cut where no escape can span the
cut: no backslash among the 5 bytes before it nor at it (``\uD83D\uDE00`` stays whole) and not
inside a UTF-8 sequence. Anything unusual (a syntax error, invalid UTF-8, a text that is not a
string) returns None, and the caller parses the line as before: same records, same messages.
"""

from __future__ import annotations

import json
import re
from typing import Any

__all__ = ["LONG_LINE", "parse_long_record"]

LONG_LINE = 1 << 20  # lines longer than this (bytes) are parsed by parse_long_record
_CHUNK = 1 << 20  # bytes of the text decoded at a time
_WS = re.compile(rb"[ \t\n\r]*")
_STRUCT = re.compile(rb'["{}\[\]]')
_SCALAR = re.compile(rb"[^,}\]\s]+")
_SAFE_CUT = re.compile(rb"[^\\]{5}[^\\\x80-\xbf]")  # a cut before the last byte is safe


def _ws(raw: bytes, i: int) -> int:
    m = _WS.match(raw, i)
    return m.end() if m else i


def _string_end(raw: bytes, i: int) -> int:
    """The position after the JSON string starting at ``raw[i] == '"'``; -1 if it never ends."""
    at = i + 1
    while True:
        q = raw.find(b'"', at)
        if q < 0:
            return -1
        k = q - 1
        while raw[k] == 0x5C:  # backslash; raw[i] is a quote, so this stops
            k -= 1
        if (q - 1 - k) % 2 == 0:
            return q + 1
        at = q + 1


def _value_end(raw: bytes, i: int) -> int:
    """The position after the JSON value starting at ``i``; -1 if it does not look like one."""
    if i >= len(raw):
        return -1
    c = raw[i : i + 1]
    if c == b'"':
        return _string_end(raw, i)
    if c in (b"{", b"["):
        depth = 0
        while (m := _STRUCT.search(raw, i)) is not None:
            ch = m.group()
            if ch == b'"':
                i = _string_end(raw, m.start())
                if i < 0:
                    return -1
                continue
            depth += 1 if ch in (b"{", b"[") else -1
            i = m.end()
            if depth == 0:
                return i
        return -1
    m = _SCALAR.match(raw, i)
    return m.end() if m else -1


def _text_span(raw: bytes, text_field: str) -> tuple[int, int] | None:
    """Where the last top-level ``text_field`` string (quotes included) is in an object."""
    i = _ws(raw, 0)
    if raw[i : i + 1] != b"{":
        return None
    i = _ws(raw, i + 1)
    span: tuple[int, int] | None = None
    while raw[i : i + 1] == b'"':
        key_end = _string_end(raw, i)
        if key_end < 0:
            return None
        try:
            key = json.loads(raw[i:key_end].decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError):
            return None
        i = _ws(raw, key_end)
        if raw[i : i + 1] != b":":
            return None
        i = _ws(raw, i + 1)
        end = _value_end(raw, i)
        if end < 0:
            return None
        if key == text_field:
            span = (i, end) if raw[i : i + 1] == b'"' else None
        i = _ws(raw, end)
        if raw[i : i + 1] == b",":
            i = _ws(raw, i + 1)
            continue
        if raw[i : i + 1] == b"}" and _ws(raw, i + 1) == len(raw):
            return span
        return None
    return None


def _decode_string(raw: bytes, start: int, end: int) -> bytearray | None:
    """The JSON string body ``raw[start:end]`` as UTF-8 (``surrogatepass``); None if invalid."""
    out = bytearray()
    i = start
    while i < end:
        j = end
        if end - i > _CHUNK:
            m = _SAFE_CUT.search(raw, i + _CHUNK - 5, end)
            j = m.start() + 5 if m is not None else end
        try:
            piece = json.loads('"' + raw[i:j].decode("utf-8") + '"')
        except (UnicodeDecodeError, json.JSONDecodeError):
            return None
        out += piece.encode("utf-8", "surrogatepass")
        i = j
    return out


def parse_long_record(raw: bytes, text_field: str) -> tuple[dict[str, Any], bytearray] | None:
    """``json.loads(raw.decode("utf-8"))`` for an object whose ``text_field`` is a long string.

    Returns:
        The record without its text (``""`` in its place) and the text as UTF-8 bytes
        (``surrogatepass``): the caller drops ``raw``, then decodes them with
        ``decode("utf-8", "surrogatepass")``. None when the line is not a JSON object with that
        string field that this parser can take (then parse it the usual way, for the usual
        error).
    """
    span = _text_span(raw, text_field)
    if span is None:
        return None
    a, b = span
    try:
        record = json.loads((raw[:a] + b'""' + raw[b:]).decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError):
        return None
    if not isinstance(record, dict):
        return None
    text = _decode_string(raw, a + 1, b - 1)
    return None if text is None else (record, text)
