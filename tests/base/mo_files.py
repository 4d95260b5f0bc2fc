"""Write gettext ``.mo`` catalogs for tests (the GNU format ``gettext.GNUTranslations`` reads)."""

from __future__ import annotations

import struct
from pathlib import Path

HEADER = "Content-Type: text/plain; charset=UTF-8\n"


def write_mo(path: Path, messages: dict[str, str]) -> Path:
    """A little-endian GNU ``.mo`` file holding ``messages`` (msgid -> msgstr) and a header."""
    entries = sorted({"": HEADER, **messages}.items())
    ids = [k.encode() for k, _ in entries]
    strs = [v.encode() for _, v in entries]
    n = len(entries)
    start = 7 * 4 + 16 * n  # header, then the two tables of (length, offset)
    blob = b""
    id_table, str_table = [], []
    for data, table in [(d, id_table) for d in ids] + [(d, str_table) for d in strs]:
        table.append((len(data), start + len(blob)))
        blob += data + b"\0"
    out = struct.pack("<7I", 0x950412DE, 0, n, 28, 28 + 8 * n, 0, 28 + 16 * n)
    for length, offset in id_table + str_table:
        out += struct.pack("<2I", length, offset)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(out + blob)
    return path
