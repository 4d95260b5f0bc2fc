"""Worker processes of ``csmpt prep``'s encoder: what they run at start, where they start."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = """
import sys
from pathlib import Path

with open(sys.argv[2], "a") as f:  # every run of this file as a module leaves a line
    f.write("imported\\n")

if __name__ == "__main__":
    from csmpt.prep.encoders import BatchEncoder, make_encoder

    encoder, backend = make_encoder(Path(sys.argv[1]) / "tokenizer.json")
    texts = ["Dobrý den, jak se máte?", "Příliš žluťoučký kůň úpěl ďábelské ódy."]
    pool = BatchEncoder(encoder, workers=2)
    flat, lengths, _, _ = pool.submit(texts).result()
    pool.close()
    here, here_lengths = encoder.encode_flat(texts)
    assert flat.tolist() == here.tolist() and lengths.tolist() == here_lengths.tolist()
    print(backend)
"""


@pytest.mark.parametrize("tmpdir_length", ["short", "too long for a socket"])
def test_worker_processes_do_not_rerun_the_main_module(
    tmp_path: Path, tokenizer_dir: Path, tmpdir_length: str
) -> None:
    # Under the csmpt script a spawned worker would re-import the whole CLI as its main module.
    # Workers fork from a server listening on a Unix socket under TMPDIR; a cluster job's TMPDIR
    # can be longer than a socket path may be, and then workers are spawned instead.
    script, marker = tmp_path / "main_script.py", tmp_path / "imports.txt"
    script.write_text(SCRIPT, encoding="utf-8")
    tmp = tmp_path / "t"
    if tmpdir_length != "short":
        tmp = tmp / ("x" * 60) / ("y" * 60)
    tmp.mkdir(parents=True)
    run = subprocess.run(
        [sys.executable, str(script), str(tokenizer_dir), str(marker)],
        capture_output=True,
        text=True,
        timeout=120,
        env=os.environ | {"TMPDIR": str(tmp)},
    )
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == "tiktoken"
    assert marker.read_text().splitlines() == ["imported"]  # the parent only, no worker
