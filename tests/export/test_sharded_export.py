"""csmpt export / validate of sharded (DCP) checkpoints, the folders FSDP1 and FSDP2 save.

The sharded folder is the tiny run's last monolithic checkpoint saved again over 2 gloo ranks with
its model and optimizer tensors as dim-0-sharded DTensors (``tests/dcp_ranks.py reshard``): the
same state, so the export of either must be the same model, bit for bit.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from csmpt.errors import DataError

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def sharded(tiny_mpt_run: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A run folder holding the tiny run's last checkpoint as a sharded ``ep0-ba18/``."""
    run = tmp_path_factory.mktemp("sharded_export") / "run"
    run.mkdir()
    ckpt = tiny_mpt_run / "ep0-ba18-rank0.pt"
    script = Path(__file__).parents[1] / "dcp_ranks.py"
    proc = subprocess.run(
        [sys.executable, str(script), "reshard", str(ckpt), str(run / "ep0-ba18")],
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return run


def _weights(folder: Path) -> dict:
    from safetensors.torch import load_file

    out: dict = {}
    for f in sorted(folder.glob("*.safetensors")):
        out.update(load_file(f))
    return out


def test_a_sharded_checkpoint_exports_to_the_same_model_as_the_monolithic_one(
    tiny_mpt_run: Path, sharded: Path, tiny_overrides, tmp_path: Path
) -> None:
    import torch

    from csmpt.checkpoint.loading import find_checkpoints
    from csmpt.export.hf import export_to_hf

    folder = sharded / "ep0-ba18"
    assert sorted(p.name for p in folder.iterdir()) == [".metadata", "__0_0.distcp", "__1_0.distcp"]
    assert [(c.step, c.path) for c in find_checkpoints(sharded)] == [(18, folder)]
    overrides = tiny_overrides(tmp_path / "unused")
    a = export_to_hf(folder, "yamls/tiny/mpt.yaml", tmp_path / "from_sharded", overrides)
    b = export_to_hf(
        tiny_mpt_run / "ep0-ba18-rank0.pt", "yamls/tiny/mpt.yaml", tmp_path / "mono", overrides
    )
    assert a.max_abs_diff <= a.tolerance and b.max_abs_diff <= b.tolerance
    got, want = _weights(tmp_path / "from_sharded"), _weights(tmp_path / "mono")
    assert set(got) == set(want) and all(torch.equal(got[k], want[k]) for k in want)
    # The card reads the step and tokens from the sharded folder as from the file.
    meta = [
        json.loads(line.split("<!-- csmpt: ")[1].split(" -->")[0])
        for line in (tmp_path / "from_sharded" / "README.md").read_text().splitlines()
        if line.startswith("<!-- csmpt: ")
    ]
    assert meta and meta[0]["checkpoint"] == "ep0-ba18" and meta[0]["batch"] == 18
    assert meta[0]["token"] > 0


def test_a_torn_sharded_checkpoint_is_left_out_or_named(
    sharded: Path, tiny_overrides, tmp_path: Path
) -> None:
    from csmpt.checkpoint.loading import find_checkpoints
    from csmpt.checkpoint.sharded import sharded_model_weights
    from csmpt.export.hf import export_to_hf

    run = tmp_path / "run"
    shutil.copytree(sharded, run)
    # A save killed before DCP wrote its .metadata (the last file) is no checkpoint yet.
    shutil.copytree(run / "ep0-ba18", run / "ep0-ba24")
    (run / "ep0-ba24" / ".metadata").unlink()
    assert [c.step for c in find_checkpoints(run)] == [18]
    # A rank's part lost: one line naming the folder, not a DCP traceback.
    (run / "ep0-ba18" / "__1_0.distcp").unlink()
    with pytest.raises(DataError, match=r"ep0-ba18: a sharded checkpoint with a missing"):
        sharded_model_weights(run / "ep0-ba18")
    # The run folder given where a checkpoint belongs: which checkpoint to name instead.
    newest = r"is a run folder, not a checkpoint; its newest .*ep0-ba18"
    with pytest.raises(DataError, match=newest):
        export_to_hf(run, "yamls/tiny/mpt.yaml", tmp_path / "hf", tiny_overrides(tmp_path / "u"))
    assert not (tmp_path / "hf").exists()


def test_a_sharded_checkpoint_keeps_its_tokenizer_and_refuses_another(
    tiny_mpt_run: Path, sharded: Path, export_with_english_refused, tmp_path: Path
) -> None:
    """The sharded folder's ``state.integrations`` (HF config, the run's tokenizer files) read
    alone equal the monolithic checkpoint's, its vocabulary's sample agrees with the whole, and
    exporting it with the other language's tokenizer is refused before a tensor is read, as for
    a monolithic file."""
    import torch

    from csmpt.checkpoint.saved_tokenizer import saved_vocab, sharded_saved_vocab
    from csmpt.checkpoint.sharded import sharded_integrations

    folder = sharded / "ep0-ba18"
    whole = torch.load(tiny_mpt_run / "ep0-ba18-rank0.pt", weights_only=False)
    want = whole["state"]["integrations"]
    got = sharded_integrations(folder)
    # DCP keeps no empty container: tokenizer_config.json's "extra_special_tokens": {} is absent.
    config = want["huggingface"]["tokenizer"]["tokenizer_config.json"]["content"]
    assert config.pop("extra_special_tokens") == {}
    assert got == want
    vocab = saved_vocab(want)
    assert vocab is not None and len(vocab) > 1024
    sample = sharded_saved_vocab(folder)
    assert sample is not None and 1024 <= len(sample) < len(vocab)
    assert all(vocab[i] == t for i, t in sample.items())
    assert max(sample) > len(vocab) - 10 and min(sample) == 0  # spread, added tokens in
    assert sharded_saved_vocab(folder, most=len(vocab)) == vocab
    export_with_english_refused(folder, tmp_path)
