"""Text a user can rebuild offline: installed packages' docstrings and gettext catalogs.

A small base model needs real prose, and a test of adaptation needs held-out text it never saw.
Neither may come from the hub at run time, so both come from files every user of the pinned
stack already has:

- **English**: the docstrings of installed PyPI packages (``requirements/constraints.txt`` pins
  their versions, so the same text everywhere), prose paragraphs only: code examples, parameter
  tables and reST markup are dropped, repeated paragraphs kept once;
- **other languages**: the translated messages (``msgstr``) of gettext catalogs, e.g.
  ``/usr/share/locale/cs/LC_MESSAGES/*.mo`` (Debian packages' translations).

One source file (a module, a catalog) is one document, so a held-out split by document
(:func:`csmpt.prep.corpus_build.split_of`, the split ``csmpt prep`` makes) never shares a file
with the training text.
"""

from __future__ import annotations

import ast
import functools
import gettext
import importlib.metadata
import logging
import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from csmpt.errors import DataError

__all__ = [
    "SourceDocument",
    "docstring_documents",
    "gettext_documents",
    "package_license",
    "prose_paragraphs",
]

log = logging.getLogger(__name__)

_ROLE = re.compile(r":[a-zA-Z:]+:`~?([^`<]*?)(?:\s*<[^>]*>)?`")  # :func:`x` -> x
_LITERAL = re.compile(r"``([^`]*)``|`([^`]*)`_{0,2}")
_SPACE = re.compile(r"\s+")
_MIN_WORDS = 8
_MIN_LETTER_SHARE = 0.85


@dataclass(frozen=True)
class SourceDocument:
    """One document of an offline corpus.

    Attributes:
        name: Where it came from, as a stable name (``numpy/linalg/_linalg.py``,
            ``cs/coreutils.mo``).
        text: Its text.
        origin: The package or catalog it belongs to (for the license).
    """

    name: str
    text: str
    origin: str


def _plain(paragraph: str) -> str:
    """One line of plain text: reST roles and literals unwrapped, whitespace collapsed."""
    text = _ROLE.sub(lambda m: m.group(1), paragraph)
    text = _LITERAL.sub(lambda m: m.group(1) if m.group(1) is not None else m.group(2), text)
    return _SPACE.sub(" ", text).strip()


def _is_prose(paragraph: str) -> bool:
    """Sentences, not code, tables, parameter lists or headings."""
    starts = (">>>", "...", "$ ", "|", "+--", "===", "---")
    if any(line.lstrip().startswith(starts) for line in paragraph.splitlines()):
        return False
    if paragraph.rstrip().endswith("::") or re.search(r"^\s*\.\. ", paragraph, re.M):
        return False
    text = _plain(paragraph)
    if len(text.split()) < _MIN_WORDS or not text[0].isupper():
        return False
    letters = sum(c.isalpha() or c in " ,.;'-()" for c in text)
    return letters / len(text) >= _MIN_LETTER_SHARE and text.rstrip()[-1] in ".!?:"


def prose_paragraphs(docstring: str) -> list[str]:
    """The prose paragraphs of a docstring, each as one line of plain text.

    Paragraphs are split at blank lines; a paragraph is prose when it has at least eight words,
    starts with a capital letter, ends a sentence, is mostly letters and punctuation and holds
    no doctest, literal block or table.
    """
    return [_plain(p) for p in re.split(r"\n\s*\n", docstring) if p.strip() and _is_prose(p)]


def _module_docstrings(path: Path) -> list[str]:
    try:
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    except (SyntaxError, UnicodeDecodeError, ValueError):
        return []
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
            doc = ast.get_docstring(node)
            if doc:
                out.append(doc)
    return out


@functools.cache
def _distributions() -> dict[str, list[str]]:
    """Import name -> distributions (a scan of every installed distribution: once a process)."""
    return dict(importlib.metadata.packages_distributions())


def _package_dir(package: str) -> tuple[Path, str]:
    """The import folder of ``package`` and its distribution name, without importing it."""
    import importlib.util

    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise DataError(f"package '{package}' is not installed here (pip install it, or drop it)")
    dists = _distributions().get(package, [package])
    return Path(next(iter(spec.submodule_search_locations))), dists[0]


def package_license(distribution: str) -> str:
    """The license a distribution declares (``License-Expression``, ``License``, classifiers)."""
    try:
        meta = importlib.metadata.metadata(distribution)
    except importlib.metadata.PackageNotFoundError:
        return "unknown"
    for key in ("License-Expression", "License"):
        value = (meta.get(key, None) or "").strip()  # type: ignore[attr-defined]
        if value and len(value) < 80 and "\n" not in value:
            return value
    classifiers = [
        c.split("::")[-1].strip()
        for c in meta.get_all("Classifier") or []
        if c.startswith("License ::")
    ]
    return "; ".join(classifiers) or "unknown"


def docstring_documents(packages: Sequence[str]) -> Iterator[SourceDocument]:
    """One document per module of ``packages`` with prose in its docstrings, in a fixed order.

    Tests (``tests``/``test_*`` folders and files) are skipped; a paragraph seen before (in this
    or an earlier package) is dropped, so copied docstrings count once.

    Raises:
        DataError: A package is not installed.
    """
    seen: set[str] = set()
    for package in packages:
        folder, dist = _package_dir(package)
        try:
            origin = f"{dist}=={importlib.metadata.version(dist)}"
        except importlib.metadata.PackageNotFoundError:  # a folder on sys.path, not installed
            origin = package
        for path in sorted(folder.rglob("*.py")):
            rel = path.relative_to(folder.parent)
            if any(p in ("tests", "test", "testing") or p.startswith("test_") for p in rel.parts):
                continue
            kept = []
            for doc in _module_docstrings(path):
                for para in prose_paragraphs(doc):
                    if para not in seen:
                        seen.add(para)
                        kept.append(para)
            if kept:
                yield SourceDocument(rel.as_posix(), "\n\n".join(kept), origin)


def _catalog_messages(path: Path) -> list[str]:
    with path.open("rb") as f:
        try:
            catalog = gettext.GNUTranslations(f)
        except (OSError, UnicodeDecodeError, ValueError) as e:
            log.warning("skipping %s: %s", path, e)
            return []
    out = []
    # the public API only looks single ids up; the catalog dict is the whole file
    for key, value in catalog._catalog.items():  # type: ignore[attr-defined]
        msgid = key[0] if isinstance(key, tuple) else key
        if msgid and isinstance(value, str) and value.strip() and value != msgid:
            out.append(value.strip())
    return sorted(set(out))


def gettext_documents(
    language: str, roots: Iterable[str | Path] = ("/usr/share/locale",)
) -> Iterator[SourceDocument]:
    """One document per gettext catalog ``ROOT/LANGUAGE/LC_MESSAGES/*.mo``: its translations.

    Each catalog's translated messages (``msgstr``; untranslated or empty ones dropped) are its
    lines, sorted and each kept once; a message seen in an earlier catalog is dropped.

    Raises:
        DataError: No catalog of ``language`` under any root.
    """
    paths = sorted(
        p for root in roots for p in Path(root).glob(f"{language}/LC_MESSAGES/*.mo") if p.is_file()
    )
    if not paths:
        where = ", ".join(str(r) for r in roots)
        raise DataError(
            f"no gettext catalogs for '{language}' under {where} "
            f"(looked for {language}/LC_MESSAGES/*.mo; on Debian/Ubuntu they come with the "
            "packages' translations)"
        )
    seen: set[str] = set()
    for path in paths:
        kept = [m for m in _catalog_messages(path) if m not in seen]
        seen.update(kept)
        if kept:
            yield SourceDocument(f"{language}/{path.name}", "\n".join(kept), path.stem)
