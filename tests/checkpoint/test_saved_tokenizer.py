"""A checkpoint used with another tokenizer than it was saved with is refused, not scored.

The mistake: a recipe (or ``--tokenizer``, or ``source.tokenizer``) naming the other language's
tokenizer, of a size the recipe's ``model.vocab_size`` covers. Shapes match, so without the
check validate, export, merge and surgery all ran to exit 0 with garbage.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from csmpt.checkpoint.saved_tokenizer import check_saved_tokenizer, saved_vocab, vocab_conflicts
from csmpt.cli.app import app
from csmpt.errors import DataError

pytestmark = pytest.mark.slow


def _integrations(vocab: dict[str, int], added: dict[str, int]) -> dict:
    content = {
        "model": {"type": "BPE", "vocab": vocab, "merges": []},
        "added_tokens": [{"id": i, "content": t, "special": True} for t, i in added.items()],
    }
    files = {"tokenizer.json": {"file_extension": ".json", "content": content}}
    return {"huggingface": {"tokenizer": files}}


class _Tok:
    def __init__(self, vocab: dict[str, int]) -> None:
        self.vocab = vocab

    def get_vocab(self) -> dict[str, int]:
        return dict(self.vocab)


def test_saved_vocab_and_conflicts_on_a_toy_vocabulary() -> None:
    saved = _integrations({"a": 1, "b": 2, "ab": 3}, {"<eos>": 0})
    assert saved_vocab(saved) == {0: "<eos>", 1: "a", 2: "b", 3: "ab"}
    assert saved_vocab({}) is None  # an HF-only checkpoint: nothing saved, nothing compared
    assert vocab_conflicts({0: "x", 1: "a", 2: "b"}, {0: "x", 1: "b", 2: "a", 9: "z"}) == [1, 2]
    same = _Tok({"<eos>": 0, "a": 1, "b": 2, "ab": 3, "extra": 4})  # a superset agrees
    check_saved_tokenizer(saved_vocab(saved), same, "ck.pt", "--tokenizer")
    check_saved_tokenizer(None, _Tok({"q": 1}), "ck.pt", "--tokenizer")
    with pytest.raises(DataError) as e:
        check_saved_tokenizer(
            saved_vocab(saved), _Tok({"<eos>": 0, "b": 1, "a": 2, "ab": 3}), "ck.pt", "X"
        )
    msg = str(e.value)
    assert "\n" not in msg and msg.startswith("ck.pt: saved with another tokenizer than X")
    assert "2 of 4 token ids differ (id 1 is 'a' in the checkpoint, 'b' in yours)" in msg


def test_export_and_validate_refuse_a_recipe_with_the_other_tokenizer(
    tiny_mpt_run: Path,
    tiny_overrides,
    en_tokenizer_dir: Path,
    export_with_english_refused,
    tmp_path: Path,
) -> None:
    from transformers import AutoTokenizer

    from csmpt.checkpoint.loading import build_recipe_model, find_checkpoints
    from csmpt.eval.validate import validate_checkpoints

    # 2048 tokens: the recipe's model keeps its 4096 rows (model.vocab_size), so shapes fit.
    assert len(AutoTokenizer.from_pretrained(en_tokenizer_dir)) < 4096
    ckpt = find_checkpoints(tiny_mpt_run)[-1].path
    export_with_english_refused(ckpt, tmp_path)
    wrong = [*tiny_overrides(tmp_path / "unused"), f"variables.tokenizer_name={en_tokenizer_dir}"]
    rm = build_recipe_model("yamls/tiny/mpt.yaml", wrong)
    assert rm.tokenizer.name_or_path == str(en_tokenizer_dir)
    # validate: its corpus (encoded by the run's tokenizer) is refused first, then the
    # checkpoint itself; either way no row is written.
    with pytest.raises(DataError, match="tokenizer"):
        validate_checkpoints(tiny_mpt_run, "yamls/tiny/mpt.yaml", tmp_path / "v.csv", None, wrong)
    assert not (tmp_path / "v.csv").exists()


def test_merge_scores_with_the_saved_tokenizer_and_refuses_another(
    tiny_mpt_run: Path, tokenizer_dir: Path, en_tokenizer_dir: Path, tmp_path: Path
) -> None:
    from csmpt.checkpoint.loading import find_checkpoints
    from csmpt.surgery.io import ModelWeights, load_source, write_composer_checkpoint

    a, b = (c.path for c in find_checkpoints(tiny_mpt_run)[-2:])
    text = tmp_path / "t.jsonl"
    text.write_text(json.dumps({"text": "Dobrý den, vítáme vás na stránkách obce."}) + "\n")
    runner = CliRunner()

    def merge(out: str, *extra: str) -> tuple[int, str]:
        args = ["merge", str(a), str(b), str(tmp_path / out), "--text", f"cs={text}", *extra]
        r = runner.invoke(app, args)
        return r.exit_code, r.output

    code, output = merge("wrong", "--tokenizer", str(en_tokenizer_dir))
    assert code == 2 and "saved with another tokenizer than --tokenizer" in output, output
    assert not (tmp_path / "wrong").exists()
    code, output = merge("saved")  # no --tokenizer: the one the checkpoints hold
    assert code == 0, output
    code, output = merge("given", "--tokenizer", str(tokenizer_dir))
    assert code == 0, output
    bpb = [
        json.loads((tmp_path / d / "merge.json").read_text())["points"][0]["bpb"]["cs"]
        for d in ("saved", "given")
    ]
    assert bpb[0] == bpb[1] > 0
    # The merged checkpoint keeps the tokenizer, so export and validate check it too.
    assert saved_vocab(load_source(tmp_path / "saved" / "model.pt").integrations)
    # Two checkpoints saved with different tokenizers (the base instead of its surgery output).
    other = load_source(b)
    foreign = _integrations({"\u2603snowman": 5}, {})
    fake = tmp_path / "other.pt"
    write_composer_checkpoint(
        ModelWeights(other.config, other.state, fake, integrations=foreign), fake
    )
    r = runner.invoke(app, ["merge", str(a), str(fake), str(tmp_path / "mixed")])
    assert r.exit_code == 2 and f"{fake}: saved with another tokenizer than {a}" in r.output
