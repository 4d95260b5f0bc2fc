"""docs/formats.md against the code: each table lists exactly the fields of its dataclass
(``fields:``) or the keys its writer functions put into the record (``keys:``)."""

from __future__ import annotations

import ast
import dataclasses
import importlib
import re
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
DOC = REPO / "docs" / "formats.md"
MARKER = re.compile(r"^<!-- (fields|keys): (.+?) -->$")
ROW = re.compile(r"^\| `([^`]+)` \|")
RECORDS = ("event", "record", "rec")  # the names the writers give the dict they build


def _tables() -> list[tuple[str, str, set[str]]]:
    """(kind, target, names in the table) for each marked table of the page."""
    out: list[tuple[str, str, set[str]]] = []
    current: tuple[str, str, set[str]] | None = None
    for line in DOC.read_text(encoding="utf-8").split("\n"):
        m = MARKER.match(line)
        if m:
            current = (m.group(1), m.group(2), set())
            out.append(current)
        elif current is not None and line.startswith("|"):
            row = ROW.match(line)
            if row and not row.group(1).startswith("<"):
                current[2].add(row.group(1))
        elif current is not None and current[2]:
            current = None  # the table ended
    return out


def _dataclass_fields(target: str) -> set[str]:
    module, _, name = target.rpartition(".")
    cls = getattr(importlib.import_module(module), name)
    return {f.name for f in dataclasses.fields(cls) if f.metadata.get("json_key", True)}


def _str_keys(node: ast.Dict) -> list[str] | None:
    keys = [k.value for k in node.keys if isinstance(k, ast.Constant)]
    return keys if len(keys) == len(node.keys) and all(isinstance(k, str) for k in keys) else None


def _written_keys(target: str) -> set[str]:
    """Keys of the records the named functions build (``file.py:function`` ...).

    The dict literals with an ``event`` key (all string-keyed ones where none has it), the
    ``event["key"] = ...`` assignments and ``event.update(key=...)`` calls on the record.
    """
    literals: list[list[str]] = []
    added: set[str] = set()
    for spec in target.split():
        path, _, name = spec.partition(":")
        tree = ast.parse((REPO / path).read_text(encoding="utf-8"))
        (func,) = [
            n
            for n in ast.walk(tree)
            if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef) and n.name == name
        ]
        for node in ast.walk(func):
            if isinstance(node, ast.Dict) and (keys := _str_keys(node)):
                literals.append(keys)
            elif isinstance(node, ast.Subscript) and isinstance(node.ctx, ast.Store):
                if isinstance(node.value, ast.Name) and node.value.id in RECORDS:
                    if isinstance(node.slice, ast.Constant) and isinstance(node.slice.value, str):
                        added.add(node.slice.value)
            elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
                owner = node.func.value
                if node.func.attr == "update" and isinstance(owner, ast.Name):
                    if owner.id in RECORDS:
                        added |= {k.arg for k in node.keywords if k.arg}
    events = [k for k in literals if "event" in k]
    return {k for keys in (events or literals) for k in keys} | added


TABLES = _tables()


def test_the_page_has_the_tables() -> None:
    targets = {t for _, t, _ in TABLES}
    assert "csmpt.mds.manifest.SplitManifest" in targets
    assert "csmpt/callbacks/freeze.py:batch_start" in targets
    assert "csmpt.surgery.report.SurgeryReport" in targets
    assert len(TABLES) >= 15 and all(names for _, _, names in TABLES)


@pytest.mark.parametrize(("kind", "target", "names"), TABLES, ids=[t for _, t, _ in TABLES])
def test_each_table_lists_exactly_the_fields(kind: str, target: str, names: set[str]) -> None:
    code = _dataclass_fields(target) if kind == "fields" else _written_keys(target)
    assert not code - names, f"{target}: missing from docs/formats.md: {sorted(code - names)}"
    assert not names - code, (
        f"{target}: in docs/formats.md, not in the code: {sorted(names - code)}"
    )
