"""``@FILE`` overrides: a file's key=value lines, each config taking its own ``[NAME.yaml]``
section, expanded the same way by every command (the loader, ``csmpt train``, ``csmpt launch``)."""

from __future__ import annotations

from pathlib import Path

import pytest
from omegaconf import OmegaConf
from typer.testing import CliRunner

from csmpt.cli.app import app
from csmpt.config import expand_overrides, load_yaml_with_overrides
from csmpt.errors import ConfigError

REPO = Path(__file__).resolve().parents[2]
RECIPE = "yamls/csmpt7b/csmpt7b.yaml"

FILE = """\
# applies to every config
seed=3

[prep.yaml]
max_seq_len=128
shard_multiple=1

[train.yaml]
max_duration=4ba
model.d_model=64
run_name=a name with spaces
"""


def test_each_config_takes_the_lines_before_any_section_and_its_own(tmp_path: Path) -> None:
    f = tmp_path / "mini.overrides"
    f.write_text(FILE)
    at = f"@{f}"
    assert expand_overrides("x/prep.yaml", [at]) == [
        "seed=3",
        "max_seq_len=128",
        "shard_multiple=1",
    ]
    assert expand_overrides("train.yaml", ["a=1", at, "b=2"]) == [
        "a=1",
        "seed=3",
        "max_duration=4ba",
        "model.d_model=64",
        "run_name=a name with spaces",
        "b=2",
    ]
    assert expand_overrides("eval.yaml", [at]) == ["seed=3"]
    # later overrides win, as on the command line
    train = tmp_path / "train.yaml"
    train.write_text("seed: 1\nmax_duration: 10ba\nmodel: {d_model: 4096, n_layers: 32}\n")
    cfg = load_yaml_with_overrides(train, [at, "seed=5"])
    assert OmegaConf.to_container(cfg) == {
        "seed": 5,
        "max_duration": "4ba",
        "model": {"d_model": 64, "n_layers": 32},
        "run_name": "a name with spaces",
    }


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("seed=1\nnot an override\n", "mini.overrides:2: 'not an override' is not of the form"),
        ("[]\nseed=1\n", "mini.overrides:1: empty section name"),
        ("@other.overrides\n", "mini.overrides:1: '@other.overrides' is not of the form"),
    ],
)
def test_a_bad_line_is_one_error_naming_file_and_line(
    tmp_path: Path, text: str, message: str
) -> None:
    f = tmp_path / "mini.overrides"
    f.write_text(text)
    with pytest.raises(ConfigError, match=message):
        expand_overrides("train.yaml", [f"@{f}"])


def test_missing_file_and_cli_error_are_one_line(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"@.*nope.overrides: overrides file does not exist"):
        expand_overrides("train.yaml", [f"@{tmp_path / 'nope.overrides'}"])
    res = CliRunner().invoke(app, ["mixture", RECIPE, f"@{tmp_path / 'nope.overrides'}"])
    assert res.exit_code == 2 and "overrides file does not exist" in res.output, res.output
    assert "Traceback" not in res.output


def test_launch_renders_the_files_lines_not_the_file(tmp_path: Path) -> None:
    """A job script must not depend on a file that may change or be missing on the nodes."""
    f = tmp_path / "cluster.overrides"
    f.write_text("[csmpt7b.yaml]\nmax_duration=1000ba\n[other.yaml]\nmax_duration=1ba\n")
    res = CliRunner().invoke(
        app,
        [
            "launch",
            "--scheduler",
            "slurm",
            "--nodes",
            "2",
            "--dry-run",
            "--no-check",
            RECIPE,
            f"@{f}",
        ],
    )
    assert res.exit_code == 0, res.output
    out = " ".join(res.output.split())
    assert "max_duration=1000ba" in out and "1ba" not in out.replace("1000ba", "")
    assert "@" + str(f) not in out and "cluster.overrides" not in out
