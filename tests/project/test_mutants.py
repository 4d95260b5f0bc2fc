"""tools/mutants.yaml stays applicable: each line is in its file once, each test target exists.

``make mutate`` runs the mutants (minutes each, not in CI); this cheap check makes a change to a
guarded line or a renamed test show up in the suite instead of as an ``error`` at release time.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest


def _mutate_module(repo: Path) -> ModuleType:
    spec = importlib.util.spec_from_file_location("csmpt_tools_mutate", repo / "tools/mutate.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look the module up
    spec.loader.exec_module(module)
    return module


def test_every_mutant_applies_and_names_existing_tests(repo: Path) -> None:
    mutate = _mutate_module(repo)
    mutants = mutate.load(repo / "tools/mutants.yaml")
    assert len(mutants) >= 17
    for m in mutants:
        text = (repo / m.file).read_text(encoding="utf-8")
        changed = mutate.mutate_text(text, m)
        assert changed != text, m.id
        assert len(changed.splitlines()) == len(text.splitlines()), f"{m.id}: not one line"
        for target in m.tests:
            path, _, name = target.partition("::")
            assert (repo / path).is_file(), f"{m.id}: {path} does not exist"
            if name:
                assert f"def {name.split('[')[0]}(" in (repo / path).read_text(), target


def test_a_line_that_is_gone_or_ambiguous_is_refused(repo: Path) -> None:
    mutate = _mutate_module(repo)
    m = mutate.Mutant("x", "f.py", "a = 1", "a = 2", ["t.py"], "b")
    assert mutate.mutate_text("def f():\n    a = 1\n", m) == "def f():\n    a = 2\n"
    with pytest.raises(mutate.MutantError, match="not in f.py"):
        mutate.mutate_text("a = 3\n", m)
    with pytest.raises(mutate.MutantError, match="occurs 2 times; add an anchor"):
        mutate.mutate_text("a = 1\na = 1\n", m)
    m.anchor = "def g("
    assert mutate.mutate_text("a = 1\ndef g():\n    a = 1\n", m) == "a = 1\ndef g():\n    a = 2\n"
