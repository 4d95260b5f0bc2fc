"""Bad input gives one clear line naming the file, line or key, and loses nothing written."""

from __future__ import annotations

import importlib
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from csmpt.config import build_structured, load_yaml_with_overrides
from csmpt.errors import ConfigError, DataError
from csmpt.prep.config import CorpusSpec, PrepConfig
from csmpt.prep.run import prep_corpora
from csmpt.training import preflight

CSMPT = str(Path(sys.executable).parent / "csmpt")
MPT = Path("yamls/tiny/mpt.yaml")


def _with_line(src: Path, dst: Path, after: str, line: str) -> Path:
    """Copy ``src`` to ``dst`` with ``line`` inserted after the first line equal to ``after``."""
    lines = src.read_text().splitlines()
    lines.insert(lines.index(after) + 1, line)
    dst.write_text("\n".join(lines) + "\n")
    return dst


def _line_of(path: Path, text: str) -> int:
    return path.read_text().splitlines().index(text) + 1


# --- training YAML ---------------------------------------------------------------------------


def test_unknown_top_level_key_says_where_it_belongs(tmp_path: Path, tiny_overrides) -> None:
    bad = _with_line(MPT, tmp_path / "mpt.yaml", "seed: 17", "hot_swap_every: 100")
    line = _line_of(bad, "hot_swap_every: 100")
    with pytest.raises(ConfigError) as e:
        preflight(bad, tiny_overrides(tmp_path / "run"))
    msg = str(e.value)
    assert f"mpt.yaml:{line}: key 'hot_swap_every' is not a top-level key" in msg
    assert "`variables:`" in msg


def test_misplaced_optimizer_key(tmp_path: Path, tiny_overrides) -> None:
    bad = _with_line(MPT, tmp_path / "mpt.yaml", "seed: 17", "lr: 0.001")
    with pytest.raises(ConfigError, match=r"key 'lr' .* belongs under `optimizer:`"):
        preflight(bad, tiny_overrides(tmp_path / "run"))


def test_unknown_key_from_an_override(tiny_overrides, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"^override 'max_steps=...' is not a top-level key"):
        preflight(MPT, [*tiny_overrides(tmp_path / "run"), "max_steps=10"])


def test_missing_data_folder(tiny_overrides, tmp_path: Path) -> None:
    overrides = [*tiny_overrides(tmp_path / "run"), f"variables.data_local={tmp_path}/nowhere"]
    line = _line_of(MPT, "    local: ${variables.data_local}")
    with pytest.raises(DataError) as e:
        preflight(MPT, overrides)
    msg = str(e.value)
    assert f"mpt.yaml:{line}: key 'train_loader.dataset.local'" in msg
    assert f"'{tmp_path}/nowhere/train' does not exist" in msg and "csmpt prep" in msg


def test_missing_base_build_folder_names_the_build_that_makes_it(
    tiny_overrides, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A spec run before its `csmpt base build`: the hint is that build, not `csmpt prep`.
    checks = importlib.import_module("csmpt.training.preflight")  # not the function

    assert checks.base_build_making("artifacts/base/cs_extend/mds/train") == Path(
        "yamls/base/builds/cs_extend.yaml"
    )
    assert checks.base_build_making("artifacts/base/cs/mds/train") == Path(
        "yamls/base/builds/cs.yaml"
    )
    builds = tmp_path / "builds"
    builds.mkdir()
    (builds / "xx.yaml").write_text(f"output_dir: {tmp_path}/base/xx\n")
    (builds / "broken.yaml").write_text("output_dir: [\n")  # skipped, not an error
    monkeypatch.setattr(checks, "BASE_BUILDS_DIR", builds)
    overrides = [*tiny_overrides(tmp_path / "run"), f"variables.data_local={tmp_path}/base/xx/mds"]
    with pytest.raises(DataError) as e:
        preflight(MPT, overrides)
    msg = str(e.value)
    assert f"'{tmp_path}/base/xx/mds/train' does not exist" in msg
    assert f"build it with `csmpt base build {builds / 'xx.yaml'}`" in msg


def test_missing_load_path_is_refused_at_start_unless_the_run_resumes(
    tiny_overrides, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    run = tmp_path / "run"
    overrides = [*tiny_overrides(run), f"load_path={tmp_path}/surgery/model.pt"]
    with pytest.raises(DataError, match=r"load_path.*surgery/model.pt' does not exist"):
        preflight(MPT, overrides, deep=False)
    preflight(MPT, overrides, deep=False, starting=False)  # queued: an earlier job may write it
    assert "does not exist yet" in caplog.text
    run.mkdir()
    (run / "ep0-ba4-rank0.pt").write_bytes(b"")  # autoresume resumes: load_path is not read
    preflight(MPT, overrides, deep=False)
    with pytest.raises(DataError, match="does not exist"):
        preflight(MPT, [*overrides, "autoresume=false"], deep=False)
    (run / "ep0-ba4-rank0.pt").unlink()  # a sharded run resumes from a DCP folder, named as
    (run / "ep0-ba4").mkdir()  # the resume guard lists it (the default prefix)
    sharded = [*overrides, "fsdp_config={state_dict_type: sharded}"]
    preflight(MPT, sharded, deep=False)


def test_a_start_checkpoint_saved_with_another_tokenizer_is_refused(
    tiny_mpt_run: Path, tiny_overrides, en_tokenizer_dir: Path, tmp_path: Path
) -> None:
    """The English base where its surgery output was meant, or a save folder reused from a run
    of another language: one vocabulary size, other ids, so nothing else noticed."""
    import torch

    from csmpt.surgery.io import load_source, write_composer_checkpoint

    ours = tiny_mpt_run / "ep0-ba18-rank0.pt"
    overrides = [*tiny_overrides(tmp_path / "run"), f"load_path={ours}", "load_weights_only=true"]
    preflight(MPT, overrides)  # the run's own checkpoint: its tokenizer, accepted
    english = json.loads((en_tokenizer_dir / "tokenizer.json").read_text(encoding="utf-8"))
    base = load_source(ours)
    files = {"tokenizer.json": {"file_extension": ".json", "content": english}}
    base.integrations = {"huggingface": {"tokenizer": files}}
    other = tmp_path / "en_base.pt"
    write_composer_checkpoint(base, other)
    assert torch.load(other, weights_only=False)["state"]["integrations"]["huggingface"]
    wrong = [*tiny_overrides(tmp_path / "run"), f"load_path={other}", "load_weights_only=true"]
    with pytest.raises(DataError) as e:
        preflight(MPT, wrong)
    msg = str(e.value)
    assert f"override 'load_path={other}'" in msg and "saved with another tokenizer" in msg
    assert "the surgery's model.pt, not the base model" in msg and "\n" not in msg
    preflight(MPT, wrong, deep=False)  # the quick check (launch's first pass) reads no checkpoint
    # A save_folder reused from a run of another vocabulary: autoresume would load it.
    reused = tmp_path / "reused"
    reused.mkdir()
    shutil.copy(other, reused / "ep0-ba4-rank0.pt")
    with pytest.raises(DataError) as e:
        preflight(MPT, tiny_overrides(reused))
    msg = str(e.value)
    assert "save_folder" in msg and "its checkpoint ep0-ba4-rank0.pt" in msg
    assert "saved with another tokenizer" in msg and "csmpt train --fresh" in msg
    preflight(MPT, [*tiny_overrides(reused), "autoresume=false"])  # it will not be loaded
    # The same with the sharded (DCP) folder an FSDP run saves: its saved vocabulary is read.
    whole = torch.load(ours, weights_only=False)
    whole["state"]["integrations"]["huggingface"]["tokenizer"] = files
    torch.save(whole, tmp_path / "en_whole.pt")
    sharded = tmp_path / "reused_sharded"
    script = Path(__file__).parents[1] / "dcp_ranks.py"
    args = [sys.executable, str(script), "reshard", str(tmp_path / "en_whole.pt")]
    proc = subprocess.run([*args, str(sharded / "ep0-ba4")], capture_output=True, timeout=180)
    assert proc.returncode == 0, proc.stderr[-3000:]
    with pytest.raises(DataError) as e:
        preflight(MPT, tiny_overrides(sharded))
    msg = str(e.value)
    assert "its checkpoint ep0-ba4:" in msg and "saved with another tokenizer" in msg


_PREFLIGHT = """
import sys
from pathlib import Path
from csmpt.errors import DataError
from csmpt.training import preflight
try:
    preflight(Path("yamls/tiny/mpt.yaml"), sys.argv[1:])
except DataError as e:
    print(e)
    sys.exit(3)
"""


def _fake_hub(tmp_path: Path, cs: Path, en: Path) -> dict[str, str]:
    """An offline HF cache holding ``cs`` as csmpt-test/cs and ``en`` as csmpt-test/en."""
    import os

    cache = tmp_path / "hub"
    revision = "0123456789abcdef0123456789abcdef01234567"
    for repo, folder in (("csmpt-test/cs", cs), ("csmpt-test/en", en)):
        entry = cache / f"models--{repo.replace('/', '--')}"
        shutil.copytree(folder, entry / "snapshots" / revision)
        (entry / "refs").mkdir()
        (entry / "refs" / "main").write_text(revision)
    env = {k: v for k, v in os.environ.items() if k not in ("TRANSFORMERS_CACHE", "HF_HOME")}
    env.update(HF_HUB_CACHE=str(cache), HF_HUB_OFFLINE="1")
    return env


def _preflight_in(env: dict[str, str], args: list[str]) -> subprocess.CompletedProcess[str]:
    """``preflight`` of the tiny MPT recipe with ``args`` in a subprocess (exit 3: refused)."""
    cmd = [sys.executable, "-c", _PREFLIGHT, *args]
    return subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=300)


def test_a_hub_tokenizer_is_compared_with_the_start_checkpoint(
    tiny_mpt_run: Path, tiny_overrides, tokenizer_dir: Path, en_tokenizer_dir: Path, tmp_path: Path
) -> None:
    """tokenizer.name left at a hub id (the English base's) while the run starts from a Czech
    checkpoint: read from the HF cache, offline, and refused; the run's own one passes."""
    env = _fake_hub(tmp_path, tokenizer_dir, en_tokenizer_dir)
    ours = tiny_mpt_run / "ep0-ba18-rank0.pt"
    start = [*tiny_overrides(tmp_path / "run"), f"load_path={ours}", "load_weights_only=true"]
    own = _preflight_in(env, [*start, "variables.tokenizer_name=csmpt-test/cs"])
    assert own.returncode == 0, own.stdout + own.stderr[-3000:]
    english = _preflight_in(env, [*start, "variables.tokenizer_name=csmpt-test/en"])
    assert english.returncode == 3, english.stdout + english.stderr[-3000:]
    line = english.stdout.strip()
    assert f"override 'load_path={ours}'" in line and "saved with another tokenizer" in line
    assert "tokenizer.name (csmpt-test/en)" in line and "\n" not in line


def test_a_hub_tokenizer_is_compared_with_the_shards(
    tiny_overrides, tokenizer_dir: Path, en_tokenizer_dir: Path, tmp_path: Path
) -> None:
    """No start checkpoint, tokenizer.name left at the English hub id over shards a local
    tokenizer encoded: the data folder is refused in one line (it trained with exit 0)."""
    env = _fake_hub(tmp_path, tokenizer_dir, en_tokenizer_dir)
    base = tiny_overrides(tmp_path / "run")
    own = _preflight_in(env, [*base, "variables.tokenizer_name=csmpt-test/cs"])
    assert own.returncode == 0, own.stdout + own.stderr[-3000:]
    english = _preflight_in(env, [*base, "variables.tokenizer_name=csmpt-test/en"])
    assert english.returncode == 3, english.stdout + english.stderr[-3000:]
    line = english.stdout.strip()
    assert "key 'train_loader.dataset.local'" in line and "was encoded by the tokenizer" in line
    assert "not csmpt-test/en (" in line and "decode to other text" in line and "\n" not in line


def test_missing_tokenizer_folder(tiny_overrides, tmp_path: Path) -> None:
    overrides = [*tiny_overrides(tmp_path / "run"), f"variables.tokenizer_name={tmp_path}/tok"]
    with pytest.raises(
        DataError, match=rf"key 'tokenizer.name': tokenizer folder '{tmp_path}/tok' does not exist"
    ):
        preflight(MPT, overrides)


def test_hub_tokenizer_offline(tiny_overrides, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    overrides = [
        *tiny_overrides(tmp_path / "run"),
        "variables.tokenizer_name=csmpt-test/no-such-tok",
    ]
    with pytest.raises(
        DataError,
        match=r"cannot load tokenizer 'csmpt-test/no-such-tok' from the HF hub .*local tokenizer",
    ):
        preflight(MPT, overrides)


def test_vocab_smaller_than_tokenizer(tiny_overrides, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"vocab_size 256 is smaller than the tokenizer's"):
        preflight(MPT, [*tiny_overrides(tmp_path / "run"), "model.vocab_size=256"])


def test_cli_prints_one_line_without_traceback(tmp_path: Path, tiny_overrides) -> None:
    bad = _with_line(MPT, tmp_path / "mpt.yaml", "seed: 17", "foo: 1")
    proc = subprocess.run(
        [CSMPT, "train", str(bad), *tiny_overrides(tmp_path / "run")],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 2
    lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("error: ") and "key 'foo'" in lines[0]
    assert "Traceback" not in proc.stderr + proc.stdout


# --- data_prep ----------------------------------------------------------------------------


def _prep(tmp_path: Path, tokenizer: Path, *files: Path) -> PrepConfig:
    return PrepConfig(
        tokenizer=str(tokenizer),
        output_dir=str(tmp_path / "out"),
        max_seq_len=16,
        val_fraction=0.0,
        corpora=[CorpusSpec(name=f.stem, inputs=[str(f)]) for f in files],
    )


def _good(tmp_path: Path, name: str = "good") -> Path:
    p = tmp_path / f"{name}.jsonl"
    p.write_text("".join(json.dumps({"text": f"Dobrý den, věta {i}."}) + "\n" for i in range(30)))
    return p


def test_invalid_jsonl_names_file_and_line(tmp_path: Path, tokenizer_dir: Path) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"text": "ok"}\n{"text": "ok"}\n{"text": "unterminated\n')
    cfg = _prep(tmp_path, tokenizer_dir, bad)
    cfg.strict = True  # otherwise counted (tests/prep/test_prep_inputs.py)
    with pytest.raises(DataError, match=rf"{bad}:3: not valid JSON"):
        prep_corpora(cfg)


def test_record_without_text_field(tmp_path: Path, tokenizer_dir: Path) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"text": "ok"}\n\n{"content": "no text", "id": 7}\n')
    cfg = _prep(tmp_path, tokenizer_dir, bad)
    cfg.strict = True  # otherwise counted (tests/prep/test_prep_inputs.py)
    with pytest.raises(
        DataError, match=rf"{bad}:3: record has no 'text' field \(its fields: content, id\)"
    ):
        prep_corpora(cfg)


def test_invalid_utf8_names_file_and_line(tmp_path: Path, tokenizer_dir: Path) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_bytes(b'{"text": "ok"}\n{"text": "\xff\xfe"}\n')
    cfg = _prep(tmp_path, tokenizer_dir, bad)
    cfg.strict = True  # otherwise counted (tests/prep/test_prep_inputs.py)
    with pytest.raises(DataError, match=rf"{bad}:2: not valid UTF-8"):
        prep_corpora(cfg)


def test_prep_with_missing_tokenizer(tmp_path: Path) -> None:
    cfg = _prep(tmp_path, tmp_path / "no-tok", _good(tmp_path))
    with pytest.raises(DataError, match=rf"tokenizer folder '{tmp_path}/no-tok' does not exist"):
        prep_corpora(cfg)


def test_prep_config_unknown_key(tmp_path: Path) -> None:
    cfg = tmp_path / "prep.yaml"
    cfg.write_text("tokenizer: t\noutput_dir: o\ncorpora:\n  - name: a\n    input: [x.jsonl]\n")
    expected = (
        r"prep.yaml:5: key 'corpora.0.input' is not a CorpusSpec setting; "
        r"allowed here: name, inputs, text_field, filter"
    )
    with pytest.raises(ConfigError, match=expected):
        build_structured(PrepConfig, load_yaml_with_overrides(cfg), cfg)


def test_failed_prep_keeps_finished_and_previous_outputs(
    tmp_path: Path, tokenizer_dir: Path
) -> None:
    good, later = _good(tmp_path), _good(tmp_path, "later")
    prep_corpora(_prep(tmp_path, tokenizer_dir, later))  # an earlier, complete build of 'later'
    before = (tmp_path / "out/later/train/index.json").read_bytes()
    later.write_text(later.read_text() + "not json\n")  # now 'later' is broken
    cfg = _prep(tmp_path, tokenizer_dir, good, later)
    cfg.strict = True
    with pytest.raises(DataError, match=r"later.jsonl:31: not valid JSON"):
        prep_corpora(cfg)
    assert (tmp_path / "out/good/train/index.json").is_file()  # finished before the error
    assert (tmp_path / "out/later/train/index.json").read_bytes() == before  # old build intact
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["good", "later"]  # no temp


def test_prep_cli_error_is_one_line(tmp_path: Path, tokenizer_dir: Path) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"text": "ok"}\n[1, 2]\n')
    proc = subprocess.run(
        [
            CSMPT,
            "prep",
            "data_prep/sample.yaml",
            f"tokenizer={tokenizer_dir}",
            f"output_dir={tmp_path / 'out'}",
            f"corpora=[{{name: x, inputs: [{bad}]}}]",
            "strict=true",
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 2
    assert proc.stderr.strip() == f"error: {bad}:2: expected a JSON object, got list"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--world-size", "-2"], "--world-size -2: at least 1"),
        (["--ranks-per-node", "0"], "--ranks-per-node 0: at least 1"),
        (["--file"], "a file; give the run folder"),
    ],
)
def test_inspect_batch_rank_counts_and_a_checkpoint_for_the_run(
    tmp_path: Path, args: list[str], message: str
) -> None:
    """A negative rank count ended in torch's ValueError traceback; a checkpoint given as
    ``--run`` was read as a folder."""
    from typer.testing import CliRunner

    from csmpt.cli import app

    run = tmp_path / "run"
    run.mkdir()
    if args == ["--file"]:
        run, args = run / "latest-rank0.pt", []
        run.write_bytes(b"x")
    res = CliRunner().invoke(app, ["inspect-batch", "--run", str(run), "--step", "3", *args])
    assert res.exit_code != 0 and message in res.output, res.output
    assert "Traceback" not in res.output


def test_an_eval_loader_on_the_training_split_is_warned(
    tiny_overrides, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """train_loader copied to eval_loader with ``split: train`` left: eval = training loss."""
    preflight(MPT, tiny_overrides(tmp_path / "run"), deep=False)
    assert "training loss, not held-out" not in caplog.text
    same = [*tiny_overrides(tmp_path / "run"), "eval_loader.dataset.split=train"]
    preflight(MPT, same, deep=False)
    assert "key 'eval_loader.dataset.local'" in caplog.text
    assert "is also what train_loader trains on" in caplog.text
