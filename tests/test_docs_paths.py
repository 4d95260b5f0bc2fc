"""Every source path README.md and docs/ name exists: a module moved without its docs fails here."""

from __future__ import annotations

import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
# csmpt/x/y.py, bench/z.py, tests/test_w.py, tools/..., yamls/a/b.yaml, data_prep/c.yaml
PATH = re.compile(
    r"(?<![\w/.-])((?:csmpt|bench|tests|tools|yamls|data_prep|eval|launch)/[\w/-]*\w"
    r"\.(?:py|yaml|sh|overrides))\b"
)
MODULE = re.compile(r"`(csmpt(?:\.\w+)+)`")
FILE_SUFFIXES = {"log", "json", "jsonl", "yaml", "md", "txt"}


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
            found = any(
                (REPO / Path(*parts[:n])).with_suffix(".py").is_file()
                or (REPO / Path(*parts[:n]) / "__init__.py").is_file()
                for n in range(len(parts), 1, -1)
            )
            if not found:
                missing.append(f"{doc.name}: {name}")
    assert not missing, missing


def test_the_path_pattern_finds_paths_and_only_paths() -> None:
    text = "see `csmpt/prep/run.py`, bench/prep_scale.py and yamls/tiny/mpt.yaml; not a/csmpt/x.py"
    assert PATH.findall(text) == ["csmpt/prep/run.py", "bench/prep_scale.py", "yamls/tiny/mpt.yaml"]
