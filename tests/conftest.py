"""Shared fixtures: a tokenizer and MDS shards built once per session by the code under test."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

# Tests never reach the hub: everything they load is made here or shipped in the repo.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "true")

REPO = Path(__file__).resolve().parents[1]


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    import torch

    if torch.cuda.is_available():
        return
    skip = pytest.mark.skip(reason="needs a CUDA GPU")
    for item in items:
        if "gpu" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(scope="session")
def repo() -> Path:
    return REPO


@pytest.fixture(scope="session", autouse=True)
def _run_from_repo_root() -> None:
    # Recipes name their files relative to the repository root, as the README's commands do.
    os.chdir(REPO)


@pytest.fixture(scope="session")
def tokenizer_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from csmpt.config import build_structured, load_yaml_with_overrides
    from csmpt.data.tokenizer_train import TokenizerConfig, train_tokenizer

    out = tmp_path_factory.mktemp("tok") / "tokenizer"
    yaml_path = REPO / "data_prep/tokenizer/sample.yaml"
    cfg = build_structured(
        TokenizerConfig, load_yaml_with_overrides(yaml_path, [f"output_dir={out}"]), yaml_path
    )
    path, _ = train_tokenizer(cfg)
    return path


@pytest.fixture(scope="session")
def prep_config_path() -> Path:
    return REPO / "data_prep/sample.yaml"


@pytest.fixture(scope="session")
def shards_dir(tokenizer_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    from csmpt.config import build_structured, load_yaml_with_overrides
    from csmpt.data.prep import PrepConfig, prep_corpora

    out = tmp_path_factory.mktemp("mds")
    yaml_path = REPO / "data_prep/sample.yaml"
    cfg = build_structured(
        PrepConfig,
        load_yaml_with_overrides(yaml_path, [f"tokenizer={tokenizer_dir}", f"output_dir={out}"]),
        yaml_path,
    )
    prep_corpora(cfg)
    return out


@pytest.fixture(scope="session")
def tiny_overrides(tokenizer_dir: Path, shards_dir: Path):  # noqa: ANN201
    """Overrides that point a tiny recipe at the session's tokenizer, shards and a run folder."""

    def make(run_dir: Path, **extra: object) -> list[str]:
        out = [
            f"variables.tokenizer_name={tokenizer_dir}",
            f"variables.data_local={shards_dir / 'cs_web'}",
            f"variables.save_folder={run_dir}",
        ]
        return out + [f"{k}={v}" for k, v in extra.items()]

    return make
