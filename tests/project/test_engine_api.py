"""docs/engine.md lists the Composer and llm-foundry APIs csmpt uses; each one must import.

The list is the contract with a frozen upstream: a change of Composer/llm-foundry (or of torch
under them) that removes or moves one of these names fails here first, with the name. The test
also scans ``csmpt/`` so that a new import of either package must be added to the list.
"""

from __future__ import annotations

import ast
import importlib
import re
from pathlib import Path

DOC = Path("docs/engine.md")
_ROW = re.compile(r"^\| `((?:composer|llmfoundry)[\w.]*)` \| (.+?) \|")
_ATTR = re.compile(r"`((?:composer|llmfoundry)\.[\w.]+)`")


def documented() -> tuple[set[tuple[str, str]], set[str]]:
    """(module, name) rows of the import table, and the dotted attribute paths listed."""
    names, attrs = set(), set()
    for line in DOC.read_text(encoding="utf-8").splitlines():
        if m := _ROW.match(line):
            names |= {(m.group(1), n) for n in re.findall(r"`(\w+)`", m.group(2))}
        elif line.startswith(("- `", "  `")):  # the bullet list of attributes
            attrs |= set(_ATTR.findall(line))
    return names, attrs


def imported() -> set[tuple[str, str]]:
    """Every ``from composer... / from llmfoundry... import NAME`` in csmpt/."""
    out = set()
    for path in Path("csmpt").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.module:
                if node.module.split(".")[0] in ("composer", "llmfoundry"):
                    out |= {(node.module, a.name) for a in node.names}
    return out


def test_every_import_of_csmpt_is_listed() -> None:
    names, _ = documented()
    missing = sorted(f"{m}.{n}" for m, n in imported() - names)
    assert not missing, f"docs/engine.md does not list: {missing}"


def test_every_listed_api_imports() -> None:
    names, attrs = documented()
    assert len(names) >= 30 and len(attrs) >= 5  # the doc's tables were found
    failed = []
    for module, name in sorted(names):
        try:
            getattr(importlib.import_module(module), name)
        except (ImportError, AttributeError) as e:
            failed.append(f"{module}.{name}: {e}")
    for path in sorted(attrs):
        obj = importlib.import_module(path.split(".")[0])
        for part in path.split(".")[1:]:
            try:
                obj = getattr(obj, part)
            except AttributeError:
                try:
                    obj = importlib.import_module(f"{obj.__name__}.{part}")
                except (ImportError, AttributeError) as e:
                    failed.append(f"{path}: {e}")
                    break
    assert not failed, failed
