"""Every source path README.md and docs/ name exists: a module moved without its docs fails here."""

from __future__ import annotations

import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
# csmpt/x/y.py, bench/z.py, tests/test_w.py, tools/..., yamls/a/b.yaml, data_prep/c.yaml
PATH = re.compile(
    r"(?<![\w/.-])((?:csmpt|bench|tests|tools|yamls|data_prep|eval|launch)/[\w/-]*\w"
    r"\.(?:py|yaml|sh|overrides))\b"
)
MODULE = re.compile(r"`(csmpt(?:\.\w+)+)`")
FILE_SUFFIXES = {"log", "json", "jsonl", "yaml", "md", "txt"}


def _resolves(name: str) -> bool:
    """``csmpt.a.b[.attr[.attr]]`` names an existing module, or a name defined in one."""
    parts = name.split(".")
    for n in range(len(parts), 1, -1):
        base = REPO / Path(*parts[:n])
        source = (
            base.with_suffix(".py") if base.with_suffix(".py").is_file() else base / "__init__.py"
        )
        if source.is_file():
            rest = parts[n:]
            if not rest:
                return True
            return re.search(rf"\b{re.escape(rest[0])}\b", source.read_text("utf-8")) is not None
    return False


def _docs() -> list[Path]:
    return [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]


def test_named_files_exist() -> None:
    missing = [
        f"{doc.name}: {m}"
        for doc in _docs()
        for m in sorted(set(PATH.findall(doc.read_text(encoding="utf-8"))))
        if not (REPO / m).exists()
    ]
    assert not missing, missing


def test_named_modules_exist() -> None:
    """`csmpt.a.b` in backticks is a module or package (or a name in one) that exists."""
    missing = []
    for doc in _docs():
        for name in sorted(set(MODULE.findall(doc.read_text(encoding="utf-8")))):
            parts = name.split(".")
            if parts[-1] in FILE_SUFFIXES:  # a file name like `csmpt.log`
                continue
            if not _resolves(name):
                missing.append(f"{doc.name}: {name}")
    assert not missing, missing


def test_the_path_pattern_finds_paths_and_only_paths() -> None:
    text = "see `csmpt/prep/run.py`, bench/prep_scale.py and yamls/tiny/mpt.yaml; not a/csmpt/x.py"
    assert PATH.findall(text) == ["csmpt/prep/run.py", "bench/prep_scale.py", "yamls/tiny/mpt.yaml"]


def test_docstring_cross_references_name_modules_that_exist() -> None:
    """``:mod:`csmpt.x.y``` and ``:func:`csmpt.x.y.f``` in docstrings name what exists."""
    ref = re.compile(r":(?:mod|func|class|meth|data|attr):`~?(csmpt(?:\.\w+)+)`")
    missing = []
    for path in sorted((REPO / "csmpt").rglob("*.py")):
        for name in sorted(set(ref.findall(path.read_text(encoding="utf-8")))):
            if not _resolves(name):
                missing.append(f"{path.relative_to(REPO)}: {name}")
    assert not missing, missing


def test_a_moved_module_does_not_resolve() -> None:
    assert _resolves("csmpt.prep.run") and _resolves("csmpt.prep.run.prep_corpora")
    assert not _resolves("csmpt.data.prep") and not _resolves("csmpt.prep.models")
    assert not _resolves("csmpt.prep.run.no_such_function")
