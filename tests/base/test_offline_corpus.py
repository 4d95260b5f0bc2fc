"""The offline corpora of ``csmpt base build``: prose from docstrings, translations from catalogs,
a held-out split by source document, and the unigram baseline, against hand-made inputs."""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path

import numpy as np
import pytest

from csmpt.base.build import held_out_names, unigram_bits_per_byte
from csmpt.corpus.offline import (
    SourceDocument,
    docstring_documents,
    gettext_documents,
    prose_paragraphs,
)
from csmpt.errors import DataError

sys.path.insert(0, str(Path(__file__).parent))
from mo_files import write_mo  # noqa: E402

DOC = """Compute the weighted mean of an array along the given axis.

    The weights are normalised so that they sum to one, and :func:`numpy.mean` is
    used when no weights are given at all.

    Parameters
    ----------
    a : array_like
        Input.

    Examples
    --------
    >>> average([1, 2, 3])
    2.0

    Short line here.

    Use it like this::

        x = average(a, weights=w)
"""


def test_prose_paragraphs_keep_sentences_and_drop_code_tables_and_fragments() -> None:
    assert prose_paragraphs(DOC) == [
        "Compute the weighted mean of an array along the given axis.",
        "The weights are normalised so that they sum to one, and numpy.mean is used when no "
        "weights are given at all.",
    ]


def _package(root: Path) -> None:
    pkg = root / "toypkg"
    (pkg / "sub").mkdir(parents=True)
    (pkg / "tests").mkdir()
    (pkg / "__init__.py").write_text(f'"""{DOC}"""\n')
    (pkg / "sub" / "__init__.py").write_text("")
    (pkg / "sub" / "mod.py").write_text(
        'def f():\n    """Return the answer to the question that nobody has ever asked here."""\n'
        'def g():\n    """Compute the weighted mean of an array along the given axis."""\n'
    )
    (pkg / "sub" / "empty.py").write_text('"""x = 1"""\n')
    (pkg / "tests" / "test_it.py").write_text(
        '"""This sentence sits in a test module and is never part of the corpus."""\n'
    )


def test_docstring_documents_one_per_module_repeats_and_tests_dropped(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _package(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    docs = list(docstring_documents(["toypkg"]))
    assert [d.name for d in docs] == ["toypkg/__init__.py", "toypkg/sub/mod.py"]
    # mod.py's second docstring repeats __init__'s first paragraph: kept once, where first seen
    assert docs[1].text == "Return the answer to the question that nobody has ever asked here."
    assert docs[0].origin == "toypkg"
    with pytest.raises(DataError, match="'no_such_pkg_xyz' is not installed"):
        list(docstring_documents(["no_such_pkg_xyz"]))


def test_gettext_documents_take_translations_once_and_name_a_missing_language(
    tmp_path: Path,
) -> None:
    write_mo(tmp_path / "cs/LC_MESSAGES/b.mo", {"Open": "Otevřít", "Quit": "Ukončit", "OK": "OK"})
    write_mo(tmp_path / "cs/LC_MESSAGES/a.mo", {"Save": "Uložit", "Close": "Zavřít"})
    write_mo(tmp_path / "pl/LC_MESSAGES/a.mo", {"Save": "Zapisz"})
    docs = list(gettext_documents("cs", [tmp_path]))
    assert docs == [
        SourceDocument("cs/a.mo", "Uložit\nZavřít", "a"),
        SourceDocument("cs/b.mo", "Otevřít\nUkončit", "b"),  # "OK" is untranslated
    ]
    write_mo(tmp_path / "cs/LC_MESSAGES/c.mo", {"Close window": "Zavřít", "Help": "Nápověda"})
    assert list(gettext_documents("cs", [tmp_path]))[-1].text == "Nápověda"  # Zavřít seen in a
    with pytest.raises(DataError, match=r"no gettext catalogs for 'sk' under .*sk/LC_MESSAGES"):
        list(gettext_documents("sk", [tmp_path]))


def test_held_out_split_is_by_document_name_reaches_its_share_and_never_takes_all() -> None:
    docs = [SourceDocument(f"doc{i}", "x" * (10 + i), "o") for i in range(40)]
    held = held_out_names(docs, 0.2)
    assert held == held_out_names(list(reversed(docs)), 0.2)  # order does not matter
    total = sum(len(d.text) for d in docs)
    size = sum(len(d.text) for d in docs if d.name in held)
    assert size >= 0.2 * total
    assert size - max(len(d.text) for d in docs if d.name in held) < 0.2 * total  # no extra doc
    assert len(held_out_names(docs[:2], 0.9)) == 1
    with pytest.raises(DataError, match="need at least two"):
        held_out_names(docs[:1], 0.1)


def _mds(folder: Path, samples: list[list[int]]) -> Path:
    from streaming import MDSWriter

    with MDSWriter(out=str(folder), columns={"tokens": "ndarray:int32"}) as w:
        for s in samples:
            w.write({"tokens": np.asarray(s, dtype=np.int32)})
    return folder


def test_unigram_and_uniform_bits_per_byte_equal_a_hand_computation(
    tokenizer_dir: Path, tmp_path: Path
) -> None:
    from transformers import AutoTokenizer

    from csmpt.tokenizer.vocab_bytes import vocab_bytes

    tok = AutoTokenizer.from_pretrained(str(tokenizer_dir))
    ids = tok("Dobrý den, jak se máte? Dobrý večer.")["input_ids"]
    eos = tok.eos_token_id
    train = _mds(tmp_path / "train", [ids[:6], ids[6:] + [eos]])
    held = _mds(tmp_path / "held", [[ids[0], ids[1], ids[0], eos]])
    got = unigram_bits_per_byte(train, held, tok)

    vocab = len(tok)
    count = {i: 1 for i in range(vocab)}
    for i in ids + [eos]:
        count[i] += 1
    total = sum(count.values())
    size = {i: len(b) for i, b in vocab_bytes(tok).items()}
    targets = [ids[1], ids[0], eos]  # a sample's first token is context only
    nats = -sum(math.log(count[t] / total) for t in targets)
    n_bytes = sum(size.get(t, 0) for t in targets)
    assert got[0] == pytest.approx(nats / (math.log(2) * n_bytes), rel=1e-12)
    assert got[1] == pytest.approx(3 * math.log(vocab) / (math.log(2) * n_bytes), rel=1e-12)
    assert json.dumps(got)  # plain floats
