"""Quiet by default (csmpt/quiet.py): the story on the console, the libraries' output in the run
folder's csmpt.log; ``-v`` prints everything."""

from __future__ import annotations

import logging
import re
import warnings
from pathlib import Path

import pytest
from rich.console import Console
from typer.testing import CliRunner

from csmpt.cli.app import app
from csmpt.quiet import KNOWN_WARNINGS, explain_warning, quiet_session


def test_session_sends_library_output_to_the_log(tmp_path: Path) -> None:
    console = Console(record=True, width=200)
    log_file = tmp_path / "run" / "csmpt.log"
    root_handlers = logging.getLogger().handlers[:]
    own = logging.getLogger("fakelib")
    own_handler = logging.StreamHandler()  # a library that prints by itself (transformers)
    own.addHandler(own_handler)
    own.propagate = False
    try:
        with quiet_session(console, log_file, title="csmpt test") as q:
            print("model:\n  d_model: 64")  # noqa: T201 - llm-foundry's config dump
            # Composer's and llm-foundry's trainers reconfigure logging; the session survives it.
            logging.basicConfig(format="%(message)s", force=True)
            warnings.warn("alibi or rope is turned on, setting `learned_pos_emb`", stacklevel=1)
            warnings.warn("something nobody has seen before", UserWarning, stacklevel=1)
            own.warning("Token indices sequence length is longer than the specified maximum 9")
            logging.getLogger("composer.trainer").warning("a Composer warning")
            logging.getLogger("csmpt.callbacks.hot_swap").info("hot swap at step 4: a -> b")
            logging.getLogger("csmpt.prep.run").info("a csmpt detail")
            assert q.train_overrides()[-1] == "loggers.csmpt_console={}"
        # Everything restored: logging, the library's own handler.
        assert logging.getLogger().handlers == root_handlers
        assert own.handlers == [own_handler] and own.propagate is False
    finally:
        own.removeHandler(own_handler)
        own.propagate = True
    text = console.export_text()
    logged = log_file.read_text(encoding="utf-8")
    assert text.count(str(log_file)) == 1
    assert "hot swap at step 4: a -> b" in text  # the story
    kinds = [x for x in text.split("\n") if re.match(r"  \d+x ", x)]
    story = "\n".join(x for x in text.split("\n") if x not in kinds)
    for noise in (
        "d_model",
        "learned_pos_emb",
        "Token indices",
        "a Composer warning",
        "csmpt detail",
    ):
        assert noise not in story, noise
        assert noise in logged, noise
    assert "===== csmpt test" in logged
    assert len(kinds) in (4, 5), kinds  # 5: llm-foundry's import warned (pkg_resources)
    assert "  1x unexplained: UserWarning: something nobody has seen before" in kinds
    assert "  1x unexplained: a Composer warning" in kinds
    assert "  1x ICL items are tokenized whole, then cut to icl_seq_len" in kinds
    assert all(len(x) <= 80 for x in kinds if "unexplained" not in x)


def test_verbose_session_changes_nothing(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    with quiet_session(Console(), tmp_path / "csmpt.log", verbose=True) as q:
        print("model:\n  d_model: 64")  # noqa: T201
        assert q.train_overrides() == []
    assert "d_model: 64" in capsys.readouterr().out
    assert not (tmp_path / "csmpt.log").exists()


def test_known_warnings_match_what_they_explain() -> None:
    assert len({why for _, why in KNOWN_WARNINGS}) == len(KNOWN_WARNINGS)
    assert explain_warning("UserWarning: Cannot split list of length 7 into batches of size 8.")
    assert explain_warning("an unknown warning") is None


@pytest.mark.slow
@pytest.mark.parametrize(
    ("model", "verbose"),
    [("mpt", False), ("mpt", True), ("llama", False)],
    ids=["quiet", "verbose", "quiet-llama"],
)
def test_csmpt_train_is_quiet_unless_verbose(
    tiny_overrides,
    tmp_path: Path,
    model: str,
    verbose: bool,  # noqa: ANN001
) -> None:
    run_dir = tmp_path / "run"
    args = ["train", f"yamls/tiny/{model}.yaml", *tiny_overrides(run_dir, max_duration="3ba")]
    result = CliRunner().invoke(app, [*args, "-v"] if verbose else args)
    assert result.exit_code == 0, result.output
    out = result.output
    log_file = run_dir / "csmpt.log"
    if verbose:  # everything, as llm-foundry and Composer print it
        assert "[batch=3/3]" in out and "python_log_level" in out and not log_file.exists()
        return
    assert out.count(str(log_file)) == 1
    assert f"trained tiny-{model}: steps 0 -> 3, train loss" in out and "3/3 steps" in out
    assert "[batch=" not in out and "python_log_level" not in out
    assert "unexplained" not in out and "library warnings by kind" in out
    assert len(out.strip().split("\n")) < 15, out
    assert "python_log_level" in log_file.read_text(encoding="utf-8")


def test_the_rotary_mpt_warning_is_explained() -> None:
    """llm-foundry's MPT with rope_impl hf (the rotary bases) makes transformers log this."""
    import logging

    from llmfoundry.models.mpt.modeling_mpt import gen_rotary_embedding

    seen: list[str] = []
    handler = logging.Handler()
    handler.emit = lambda record: seen.append(record.getMessage())  # type: ignore[method-assign]
    rope_log = logging.getLogger("transformers.modeling_rope_utils")
    rope_log.addHandler(handler)
    try:
        hf = {"type": "no_scaling", "factor": 1.0}
        gen_rotary_embedding("hf", 10000, {}, hf, max_seq_len=64, d_model=64, n_heads=4)
    finally:
        rope_log.removeHandler(handler)
    assert seen and all(explain_warning(m) for m in seen), seen
