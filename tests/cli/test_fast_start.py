"""``--help``, ``--version``, ``init`` and a recipe mistake answer without torch or llm-foundry.

One fresh interpreter runs every case (typer's CliRunner) and then reports which heavy
libraries it imported; the help pages themselves are checked for the conventional style.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from typer.testing import CliRunner

from csmpt import __version__
from csmpt.cli import app
from csmpt.cli.help_style import PIPELINE_ORDER

HEAVY = ("torch", "composer", "llmfoundry", "transformers", "streaming", "tokenizers")
COMMANDS = [
    [],
    ["init"],
    ["tokenizer"],
    ["tokenizer", "train"],
    ["filter"],
    ["filter", "train"],
    ["filter", "score"],
    ["prep"],
    ["mixture"],
    ["surgery"],
    ["train"],
    ["launch"],
    ["ablate"],
    ["eval"],
    ["validate"],
    ["export"],
    ["report"],
    ["inspect-batch"],
    ["demo"],
]

_PROBE = textwrap.dedent(
    """
    import json, sys
    from typer.testing import CliRunner
    from csmpt.cli import app

    cases = json.loads(sys.argv[1])
    codes = [CliRunner().invoke(app, args).exit_code for args in cases]
    heavy = sorted(m for m in json.loads(sys.argv[2]) if m in sys.modules)
    print(json.dumps({"codes": codes, "heavy": heavy}))
    """
)


def test_help_version_init_and_a_mistake_import_no_heavy_library(tmp_path: Path) -> None:
    cases = [[*c, "--help"] for c in COMMANDS]
    cases += [
        ["--version"],
        ["init", str(tmp_path / "proj"), "--base", "mpt-7b", "--language", "sk"],
        ["train", "yamls/tiny/mpt.yaml", "max_seq_len=abc"],  # refused before llm-foundry
    ]
    out = subprocess.run(
        [sys.executable, "-c", _PROBE, json.dumps(cases), json.dumps(HEAVY)],
        capture_output=True,
        text=True,
        check=True,
    )
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result["codes"] == [0] * (len(cases) - 1) + [2], result
    assert result["heavy"] == [], f"imported for --help/--version/init: {result['heavy']}"
    assert (tmp_path / "proj" / "train.yaml").is_file()


def test_version() -> None:
    res = CliRunner().invoke(app, ["--version"])
    assert res.exit_code == 0 and res.output.strip() == f"csmpt {__version__}", res.output


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: " ".join(c) or "csmpt")
def test_help_is_in_the_conventional_style(command: list[str]) -> None:
    res = CliRunner().invoke(app, [*command, "--help"], terminal_width=200)
    assert res.exit_code == 0, res.output
    for typer_label in ("<bool>", "<int>", "<str>", "<path>", "<float>", "list[str]"):
        assert typer_label not in res.output, f"{typer_label!r} in:\n{res.output}"
    assert not re.search(r"\{[a-z_]+\}", res.output), res.output  # typer's {yaml_path}
    usage = next(line for line in res.output.splitlines() if "Usage:" in line)
    assert re.fullmatch(r"[A-Za-z0-9_.\[\]\- ]+", usage.split("Usage:")[1].strip()), usage


def test_commands_listed_in_pipeline_order() -> None:
    res = CliRunner().invoke(app, ["--help"], terminal_width=200)
    listed = [n for n in PIPELINE_ORDER if re.search(rf"│ {re.escape(n)} ", res.output)]
    positions = [res.output.index(f"│ {n} ") for n in listed]
    assert listed == list(PIPELINE_ORDER) and positions == sorted(positions), res.output


def test_launch_nproc_shows_one_default() -> None:
    res = CliRunner().invoke(app, ["launch", "--help"], terminal_width=200)
    block = res.output.split("--nproc", 1)[1].split("│ --", 1)[0]  # the option's wrapped rows
    text = " ".join(x.strip("│ ") for x in block.splitlines())
    assert text.count("default") == 1 and "[default: (--gpus-per-node)]" in text, text


def test_train_keys_match_llm_foundry() -> None:
    """The key list that spares ``csmpt train``'s check an llm-foundry import is llm-foundry's."""
    from dataclasses import fields

    from llmfoundry.utils.config_utils import TrainConfig

    from csmpt.config.train_config import TRAIN_KEYS

    filled_in_by_llm_foundry = {"n_gpus", "device_train_grad_accum"}
    assert {f.name for f in fields(TrainConfig)} - filled_in_by_llm_foundry == TRAIN_KEYS
