"""Shared fixtures: a tokenizer and MDS shards built once per session by the code under test."""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest

# Tests never reach the hub: everything they load is made here or shipped in the repo.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "true")


def _share_the_cores_between_workers() -> None:
    """Under pytest-xdist (``make test`` runs ``-n 2``), each worker's torch, and the children it
    starts, get their share of the cores: two workers with a thread per core each would put
    twice as many busy OpenMP threads on the machine as it has cores."""
    workers = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))
    if workers <= 1:
        return
    share = str(max(1, (os.cpu_count() or 1) // workers))
    for name in ("OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ.setdefault(name, share)


_share_the_cores_between_workers()

REPO = Path(__file__).resolve().parents[1]


def _raise_open_file_limit() -> None:
    """Let this one process hold the shared-memory handles of every run it trains.

    Composer frees a trainer only at interpreter exit (an ``atexit`` hook holds its state), and
    each of its StreamingDatasets keeps 7 shared-memory handles open: the suite's few dozen
    in-process runs hold a few thousand, more than a 1,024 soft limit.
    """
    import resource

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = 65536 if hard == resource.RLIM_INFINITY else min(hard, 65536)
    if soft != resource.RLIM_INFINITY and soft < want:
        resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))


_raise_open_file_limit()


@pytest.fixture(autouse=True)
def _restore_signal_dispositions() -> Iterator[None]:
    """Give back SIGTERM/SIGUSR1/SIGUSR2 as they were before each test.

    A run stopped by ``csmpt_signal_checkpoint`` ignores them from the moment it exits with the
    requeue status (its process is ending); a test that catches that SystemExit and goes on must
    not leave them ignored: every later subprocess would inherit the ignored signals, and a shell
    cannot trap a signal ignored when it starts.
    """
    import signal

    sigs = (signal.SIGTERM, signal.SIGUSR1, signal.SIGUSR2)
    before = {s: signal.getsignal(s) for s in sigs}
    try:
        yield
    finally:
        for s, handler in before.items():
            if signal.getsignal(s) is not handler and handler is not None:
                signal.signal(s, handler)


@pytest.fixture(autouse=True)
def _release_streaming_shared_memory() -> Iterator[None]:
    """After each test, close (and unlink) the shared memory its StreamingDatasets opened.

    streaming 0.12 keeps every SharedMemory it creates or opens alive until interpreter exit
    (an ``atexit`` hook each), and each new dataset opens the blocks of every earlier one while
    it looks for a free name: over the suite's hundreds of in-process datasets the handles grow
    quadratically, past any open-file limit. A test's datasets are done when it ends.
    """
    import atexit

    from streaming.base.shared import memory

    made: list[Any] = []
    init = memory.SharedMemory.__init__

    def recording_init(self: Any, *args: Any, **kwargs: Any) -> None:
        init(self, *args, **kwargs)
        made.append(self)

    memory.SharedMemory.__init__ = recording_init  # type: ignore[method-assign]
    try:
        yield
    finally:
        memory.SharedMemory.__init__ = init  # type: ignore[method-assign]
        for shm in made:
            atexit.unregister(shm.cleanup)
            shm.cleanup()


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    import torch

    if torch.cuda.is_available():
        return
    skip = pytest.mark.skip(reason="needs a CUDA GPU")
    for item in items:
        if "gpu" in item.keywords:
            item.add_marker(skip)


@pytest.fixture
def gloo_default_group(tmp_path: Path) -> Iterator[int]:
    """A gloo default process group in this process (1 rank, made and destroyed here unless one is
    already up); yields its world size. Skips when a non-gloo default group is up."""
    import torch.distributed as dist

    created = not dist.is_initialized()
    if created:
        store = dist.FileStore(str(tmp_path / "gloo_store"), 1)
        dist.init_process_group("gloo", store=store, rank=0, world_size=1)
    try:
        if dist.get_backend() != "gloo":
            pytest.skip("a non-gloo default group is up in this process")
        yield dist.get_world_size()
    finally:
        if created:
            dist.destroy_process_group()


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
    from csmpt.tokenizer.train import TokenizerConfig, train_tokenizer

    out = tmp_path_factory.mktemp("tok") / "tokenizer"
    yaml_path = REPO / "data_prep/tokenizer/sample.yaml"
    cfg = build_structured(
        TokenizerConfig, load_yaml_with_overrides(yaml_path, [f"output_dir={out}"]), yaml_path
    )
    path, _ = train_tokenizer(cfg)
    return path


@pytest.fixture(scope="session")
def classifier_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The filter classifier of data_prep/filter/sample.yaml (it makes cs_crawl_clean)."""
    from csmpt.filter.classifier import train_from_yaml

    out = tmp_path_factory.mktemp("filter") / "classifier"
    return train_from_yaml(REPO / "data_prep/filter/sample.yaml", [f"output_dir={out}"]).path


@pytest.fixture(scope="session")
def en_tokenizer_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The English tokenizer (data_prep/tokenizer/en_sample.yaml): the vocabulary-swap source."""
    from csmpt.config import build_structured, load_yaml_with_overrides
    from csmpt.tokenizer.train import TokenizerConfig, train_tokenizer

    out = tmp_path_factory.mktemp("tok_en") / "tokenizer"
    yaml_path = REPO / "data_prep/tokenizer/en_sample.yaml"
    cfg = build_structured(
        TokenizerConfig, load_yaml_with_overrides(yaml_path, [f"output_dir={out}"]), yaml_path
    )
    path, _ = train_tokenizer(cfg)
    return path


@pytest.fixture(scope="session")
def prep_config_path() -> Path:
    return REPO / "data_prep/sample.yaml"


@pytest.fixture(scope="session")
def shards_dir(
    tokenizer_dir: Path, classifier_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> Path:
    from csmpt.config import build_structured, load_yaml_with_overrides
    from csmpt.prep.config import PrepConfig
    from csmpt.prep.run import prep_corpora

    out = tmp_path_factory.mktemp("mds")
    yaml_path = REPO / "data_prep/sample.yaml"
    cfg = build_structured(
        PrepConfig,
        load_yaml_with_overrides(yaml_path, [f"tokenizer={tokenizer_dir}", f"output_dir={out}"]),
        yaml_path,
    )
    for corpus in cfg.corpora:  # cs_crawl_clean = cs_crawl through the session's classifier
        if corpus.filter is not None and corpus.filter.classifier is not None:
            corpus.filter.classifier = str(classifier_dir)
    prep_corpora(cfg)
    return out


@pytest.fixture(scope="session")
def export_with_english_refused(tiny_overrides, en_tokenizer_dir: Path):  # noqa: ANN001, ANN201
    """Run ``csmpt export CKPT`` of the tiny recipe named at the English tokenizer; assert the
    one-line refusal (exit 2, no folder written) and return its output."""
    from typer.testing import CliRunner

    from csmpt.cli.app import app

    def run(ckpt: Path, tmp_path: Path) -> str:
        english = f"variables.tokenizer_name={en_tokenizer_dir}"
        wrong = [*tiny_overrides(tmp_path / "unused"), english]
        out = tmp_path / "hf"
        args = ["export", str(ckpt), str(out), "--train-yaml", "yamls/tiny/mpt.yaml", *wrong]
        r = CliRunner().invoke(app, args)
        assert r.exit_code == 2, r.output
        assert f"{ckpt}: saved with another tokenizer than the tokenizer of" in r.output
        assert str(en_tokenizer_dir) in r.output and "Traceback" not in r.output
        assert not out.exists()
        return str(r.output)

    return run


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


@pytest.fixture(scope="session")
def tiny_mpt_run(tiny_overrides, tmp_path_factory: pytest.TempPathFactory) -> Path:  # noqa: ANN001
    """yamls/tiny/mpt.yaml trained 18 steps, checkpoints at 6, 12, 18 (eval/export/report tests)."""
    from csmpt.training import run_training

    run_dir = tmp_path_factory.mktemp("tiny_mpt_run") / "run"
    every = {"save_interval": "6ba", "save_num_checkpoints_to_keep": -1, "eval_interval": "18ba"}
    run_training("yamls/tiny/mpt.yaml", tiny_overrides(run_dir, max_duration="18ba", **every))
    return run_dir


@pytest.fixture
def llm_foundry_reads(tokenizer_dir: Path, tmp_path: Path):  # noqa: ANN201
    """Read samples of an MDS corpus's train split with llm-foundry's StreamingTextDataset.

    ``read(folder, max_seq_len, indices)`` -> (the dataset's length, {index: token ids}); the
    corpus is copied first (streaming writes next to the shards).
    """
    import shutil

    from llmfoundry.data.text_data import StreamingTextDataset
    from transformers import AutoTokenizer

    from csmpt.mds.streaming_threads import stop_all_streaming_threads

    def read(folder: Path, max_seq_len: int, indices: Sequence[int]) -> tuple[int, dict]:
        copy = tmp_path / "llm_foundry_copy"
        shutil.copytree(folder, copy)
        ds = StreamingTextDataset(
            tokenizer=AutoTokenizer.from_pretrained(str(tokenizer_dir)),
            max_seq_len=max_seq_len,
            local=str(copy),
            split="train",
            shuffle=False,
            batch_size=1,
        )
        out = len(ds), {i: ds[i].tolist() for i in indices}
        stop_all_streaming_threads()
        return out

    return read
