"""``packing: pad``: whole documents in variable-length samples, sequence ids, padding masked."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from csmpt.corpus.readers import expand_inputs, read_documents
from csmpt.errors import ConfigError
from csmpt.mds.doc_map import DOCMAP_DIR, DocumentMap, split_texts
from csmpt.mds.reader import iter_samples
from csmpt.prep.config import CorpusSpec, PrepConfig
from csmpt.prep.corpus_build import PROGRESS_NAME
from csmpt.prep.pad_packing import PadPacker
from csmpt.prep.run import MANIFEST_NAME, prep_corpora, split_of

REPO = Path(__file__).resolve().parents[2]
SEQ = 128


def _corpus(path: Path) -> Path:
    """The shipped Czech web sample, each document followed by a short one (its start)."""
    with path.open("w", encoding="utf-8") as f:
        for line in (REPO / "data/samples/cs_web.jsonl").read_text(encoding="utf-8").split("\n"):
            if line.strip():
                text = json.loads(line)["text"]
                for t in (text, text[: 20 + len(text) % 60]):
                    f.write(json.dumps({"text": t}, ensure_ascii=False) + "\n")
    return path


@pytest.fixture(scope="module")
def inputs(tmp_path_factory: pytest.TempPathFactory) -> list[str]:
    return [str(_corpus(tmp_path_factory.mktemp("corpus") / "docs.jsonl"))]


def _cfg(tokenizer_dir: Path, out: Path, inputs: list[str], **kw: Any) -> PrepConfig:
    settings: dict[str, Any] = {
        "tokenizer": str(tokenizer_dir),
        "output_dir": str(out),
        "max_seq_len": SEQ,
        "val_fraction": 0.1,
        "size_limit": 4096,  # 7 samples of 128 tokens per shard: many shards to resume between
        "packing": "pad",
        "corpora": [CorpusSpec(name="c", inputs=inputs)],
    }
    return PrepConfig(**(settings | kw))


def _documents(tokenizer_dir: Path, inputs: list[str], split: str) -> list[tuple[np.ndarray, int]]:
    """Each document of ``split`` (tokenizer's ids + EOS) and its line, in corpus order."""
    from tokenizers import Tokenizer

    tok = Tokenizer.from_file(str(tokenizer_dir / "tokenizer.json"))
    eos = tok.token_to_id("<|endoftext|>")
    out = []
    for doc in read_documents(expand_inputs(inputs)):
        if doc.text.strip() and split_of(doc.text, 0.1) == split:
            ids = tok.encode(doc.text, add_special_tokens=False).ids + [eos]
            out.append((np.asarray(ids, np.int64), doc.line))
    return out


def _samples(folder: Path) -> list[np.ndarray]:
    return [s["tokens"].astype(np.int64) for s in iter_samples(folder)]


@pytest.fixture(scope="module")
def pad_dir(
    tokenizer_dir: Path, inputs: list[str], tmp_path_factory: pytest.TempPathFactory
) -> Path:
    out = tmp_path_factory.mktemp("pad")
    prep_corpora(_cfg(tokenizer_dir, out, inputs))
    return out / "c"


@pytest.mark.parametrize(
    "lengths",
    [[10, 20, 34, 1], [64, 64], [1, 64], [63, 2, 130, 5, 59, 1], [200], [128, 3, 61, 64]],
)
def test_packer_next_fit(lengths: list[int]) -> None:
    """Whole documents in order, a new sample when the next does not fit, long ones chunked."""
    packer = PadPacker(SEQ)
    samples: list[np.ndarray] = []
    starts = []
    for d, n in enumerate(lengths):
        starts.append(packer.start_of(n))
        samples += packer.add_tokens(np.full(n, d, np.int32))
    samples += packer.close()
    assert all(0 < len(s) <= SEQ for s in samples)
    np.testing.assert_array_equal(np.concatenate(samples), np.repeat(range(len(lengths)), lengths))
    padded = np.concatenate([np.pad(s, (0, SEQ - len(s)), constant_values=-1) for s in samples])
    for d, (n, at) in enumerate(zip(lengths, starts, strict=True)):  # contiguous, padded stream
        np.testing.assert_array_equal(padded[at : at + n], d)
        if n > SEQ:
            assert at % SEQ == 0
    for a, b in zip(samples, samples[1:], strict=False):  # next-fit: b's first document did not fit
        if b[0] != a[-1]:
            assert len(a) + lengths[b[0]] > SEQ
        else:
            assert len(a) == SEQ and lengths[a[-1]] > SEQ  # a chunk of a long document
    assert packer.tokens_out == sum(lengths) and packer.samples_out == len(samples)


@pytest.mark.parametrize("split", ["train", "val"])
def test_pad_samples_hold_whole_documents(
    pad_dir: Path, tokenizer_dir: Path, inputs: list[str], split: str
) -> None:
    docs = _documents(tokenizer_dir, inputs, split)
    samples = _samples(pad_dir / split)
    lengths = np.array([len(t) for t, _ in docs])
    assert (lengths > SEQ).any() and (lengths < SEQ // 2).any(), "the fixture needs both kinds"
    assert all(0 < len(s) <= SEQ for s in samples)
    # The decoded tokens are the tokenizer's encoding of the documents, in order, none dropped.
    np.testing.assert_array_equal(np.concatenate(samples), np.concatenate([t for t, _ in docs]))
    doc_starts = np.concatenate([[0], np.cumsum(lengths)])
    bounds = np.cumsum([len(s) for s in samples])[:-1]
    for i, b in enumerate(bounds):
        d = int(np.searchsorted(doc_starts, b, side="right")) - 1
        if doc_starts[d] == b:  # a document boundary: next-fit, the next document did not fit
            assert len(samples[i]) + min(lengths[d], SEQ + 1) > SEQ
        else:  # inside a document: only a long one, cut every max_seq_len from its start
            assert lengths[d] > SEQ and (b - doc_starts[d]) % SEQ == 0, f"sample {i} cuts doc {d}"
    starts_set = set(np.concatenate([[0], bounds]).tolist())
    assert all(doc_starts[d] in starts_set for d in np.flatnonzero(lengths > SEQ))

    manifest = json.loads((pad_dir / split / MANIFEST_NAME).read_text())
    total = int(lengths.sum())
    assert manifest["packing"] == "pad" and manifest["dropped_tail_tokens"] == 0
    assert manifest["tokens"] == manifest["real_tokens_in_samples"] == total
    assert manifest["samples"] == len(samples) and manifest["documents"] == len(docs)
    assert math.isclose(manifest["pad_share"], 1 - total / (len(samples) * SEQ))
    assert 0 < manifest["pad_share"] < 0.5

    # The document map names each sample's documents, offsets and positions.
    dmap = DocumentMap(pad_dir / split, [str(p) for p in expand_inputs(inputs)])
    assert dmap.num_samples == len(samples)
    at = 0
    for i, s in enumerate(samples):
        want, pos = [], 0
        while pos < len(s):
            d = int(np.searchsorted(doc_starts, at + pos, side="right")) - 1
            off = at + pos - int(doc_starts[d])
            want.append((docs[d][1], off, pos))
            pos += min(int(lengths[d]) - off, len(s) - pos)
        got = [(p["line"], p["offset"], p["pos"]) for p in dmap.pieces(i)]
        assert got == want, f"sample {i}"
        at += len(s)


@pytest.mark.parametrize("split", ["train", "val"])
def test_a_splits_texts_are_its_own_documents(
    pad_dir: Path, tokenizer_dir: Path, inputs: list[str], split: str
) -> None:
    """``split_texts`` reads back exactly the documents the split holds (held-out text for
    ``csmpt merge --text``): their encodings are the split's documents, in order."""
    from tokenizers import Tokenizer

    tok = Tokenizer.from_file(str(tokenizer_dir / "tokenizer.json"))
    eos = tok.token_to_id("<|endoftext|>")
    texts = split_texts(pad_dir / split)
    want = [t.tolist() for t, _ in _documents(tokenizer_dir, inputs, split)]
    assert [tok.encode(t, add_special_tokens=False).ids + [eos] for t in texts] == want
    other = split_texts(pad_dir / ("val" if split == "train" else "train"))
    assert texts and other and not set(texts) & set(other)


def _snapshot(corpus: Path) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for split in ("train", "val"):
        out[split] = [s.tolist() for s in _samples(corpus / split)]
        for f in sorted((corpus / split / DOCMAP_DIR).glob("*.npy")):
            out[f"{split}/{f.name}"] = np.load(f).tolist()
        m = json.loads((corpus / split / MANIFEST_NAME).read_text())
        out[f"{split}/manifest"] = {k: m[k] for k in ("tokens", "samples", "pad_share", "shards")}
    return out


@pytest.mark.parametrize("stop_after", [1, 4])
def test_pad_build_interrupted_resumes_to_the_same_corpus(
    pad_dir: Path,
    tokenizer_dir: Path,
    inputs: list[str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    stop_after: int,
) -> None:
    from csmpt.mds.writer import ShardFormat

    write = ShardFormat.write
    calls = [0]

    def dying_write(self: ShardFormat, folder: Path, stem: str, samples: list[bytes]) -> Any:
        if calls[0] == stop_after:
            raise KeyboardInterrupt  # a kill after `stop_after` finished shards
        calls[0] += 1
        return write(self, folder, stem, samples)

    monkeypatch.setattr(ShardFormat, "write", dying_write)
    cfg = _cfg(tokenizer_dir, tmp_path, inputs, batch_size=8)
    with pytest.raises(KeyboardInterrupt):
        prep_corpora(cfg)
    progress = json.loads((tmp_path / ".c.partial" / PROGRESS_NAME).read_text())
    assert progress["splits"]["train"]["shards"] and "real_tokens" in progress["splits"]["train"]
    monkeypatch.setattr(ShardFormat, "write", write)
    (res,) = prep_corpora(cfg)
    assert res.resumed_shards >= 1
    assert _snapshot(tmp_path / "c") == _snapshot(pad_dir)


def test_packing_per_corpus_and_bad_values(
    tokenizer_dir: Path, inputs: list[str], tmp_path: Path
) -> None:
    spec = CorpusSpec(name="c", inputs=inputs, packing="pad")
    (res,) = prep_corpora(_cfg(tokenizer_dir, tmp_path, inputs, packing="concat", corpora=[spec]))
    assert res.manifests["train"].packing == "pad"
    bad = CorpusSpec(name="c", inputs=inputs, packing="padded")
    with pytest.raises(ConfigError, match=r"corpora\.c\.packing 'padded'"):
        prep_corpora(_cfg(tokenizer_dir, tmp_path, inputs, corpora=[bad]))


def test_concat_default_keeps_its_fingerprint(tokenizer_dir: Path) -> None:
    """Adding ``packing`` changed nothing for concat builds: they are not rebuilt."""
    from csmpt.prep.config import output_settings

    cfg = _cfg(tokenizer_dir, Path("x"), [], packing="concat")
    assert "packing" not in output_settings(cfg)
    assert output_settings(_cfg(tokenizer_dir, Path("x"), []))["packing"] == "pad"


def _tiny_mpt(seed: int = 0) -> Any:
    import torch
    from llmfoundry.models.mpt import ComposerMPTCausalLM

    torch.manual_seed(seed)
    cfg = {
        "d_model": 32,
        "n_heads": 4,
        "n_layers": 2,
        "expansion_ratio": 2,
        "max_seq_len": SEQ,
        "vocab_size": 4096,
        "no_bias": True,
        "loss_fn": "torch_crossentropy",
        "init_device": "cpu",
        "attn_config": {"attn_impl": "torch", "alibi": True, "attn_uses_sequence_id": True},
    }
    return ComposerMPTCausalLM(**cfg).eval()


def _collator(tokenizer_dir: Path) -> Any:
    """llm-foundry's text collator as the ``text`` loader builds it, with ``eos_token_id``."""
    from llmfoundry.data.utils import get_text_collator
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(str(tokenizer_dir))
    loader = {"dataset": {"eos_token_id": tok.eos_token_id, "max_seq_len": SEQ}}
    return get_text_collator(loader, tok, 2)[0], tok


def test_document_logits_do_not_depend_on_its_neighbours(
    tokenizer_dir: Path, inputs: list[str]
) -> None:
    import torch

    collate, tok = _collator(tokenizer_dir)
    docs = _documents(tokenizer_dir, inputs, "train")
    short = [torch.as_tensor(t) for t, _ in docs if 4 <= len(t) <= 30][:3]
    a, b, c = short
    model = _tiny_mpt()
    with torch.no_grad():
        alone = model(collate([a]))
        packed_batch = collate([torch.cat([b, a, c]), a[:3]])  # padded: the second is short
        assert (packed_batch["input_ids"][1, 3:] == tok.pad_token_id).all()
        packed = model(packed_batch)
        packed_no_ids = model({k: v for k, v in packed_batch.items() if k != "sequence_id"})
    got = packed.logits[0, len(b) : len(b) + len(a)]
    torch.testing.assert_close(got, alone.logits[0], rtol=1e-5, atol=1e-5)
    # Without sequence ids, a attends to b: its logits differ (the test can fail).
    leaked = packed_no_ids.logits[0, len(b) : len(b) + len(a)]
    assert (leaked - alone.logits[0]).abs().max() > 1e-3
    # Padding does not reach the real tokens of the short sample either.
    torch.testing.assert_close(packed.logits[1, :3], alone.logits[0, :3], rtol=1e-5, atol=1e-5)


def test_loss_on_pad_shards_counts_only_real_tokens(pad_dir: Path, tokenizer_dir: Path) -> None:
    """A batch of the ``text`` loader on pad shards: the model's loss is the mean over the
    real tokens' next-token targets (EOS included), each sample computed alone."""
    import torch
    import torch.nn.functional as F
    from llmfoundry.data.dataloader import build_dataloader
    from omegaconf import OmegaConf

    from csmpt.config import load_yaml_with_overrides

    recipe = OmegaConf.to_container(
        load_yaml_with_overrides(REPO / "yamls/tiny/mpt_pad.yaml"), resolve=True
    )
    assert isinstance(recipe, dict)
    loader_cfg = recipe["train_loader"]  # the recipe's own loader
    loader_cfg["dataset"] |= {"local": str(pad_dir), "max_seq_len": SEQ, "shuffle": False}
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(str(tokenizer_dir))
    manifest = json.loads((pad_dir / "train" / MANIFEST_NAME).read_text())
    assert loader_cfg["dataset"]["eos_token_id"] == manifest["eos_id"] == tok.eos_token_id
    assert tok.pad_token_id != tok.eos_token_id
    spec = build_dataloader(loader_cfg, tok, 8)  # as train_from_yaml builds it
    batch = next(iter(spec.dataloader))
    real = batch["input_ids"] != tok.pad_token_id
    assert not real.all(), "the batch has no padding"
    model = _tiny_mpt(seed=3)
    with torch.no_grad():
        loss = model.loss(model(batch), batch)
        total, count = torch.zeros(()), 0
        for row, keep in zip(batch["input_ids"], real, strict=True):
            ids = row[keep]  # the sample as stored, alone, unpadded
            assert keep[: len(ids)].all()  # padding only at the end
            seq_id = torch.cumsum(ids == tok.eos_token_id, 0)
            seq_id = torch.cat([seq_id.new_zeros(1), seq_id[:-1]])
            logits = model({"input_ids": ids[None], "sequence_id": seq_id[None]}).logits[0]
            total += F.cross_entropy(logits[:-1], ids[1:], reduction="sum")
            count += len(ids) - 1
    torch.testing.assert_close(loss, total / count, rtol=1e-5, atol=1e-6)


def test_tiny_recipe_trains_on_pad_shards(pad_dir: Path, tokenizer_dir: Path, tmp_path: Path):
    from csmpt.training import run_training

    run_dir = tmp_path / "run"
    run_training(
        "yamls/tiny/mpt_pad.yaml",
        [
            f"variables.tokenizer_name={tokenizer_dir}",
            f"variables.data_local={pad_dir}",
            f"variables.save_folder={run_dir}",
            f"max_seq_len={SEQ}",
            "max_duration=4ba",
            "eval_interval=4ba",
            "eval_subset_num_batches=1",
            "save_interval=4ba",
            "icl_tasks=[]",
        ],
    )
    rows = [json.loads(x) for x in (run_dir / "metrics.jsonl").read_text().splitlines() if x]
    losses = [r["loss/train/total"] for r in rows if "loss/train/total" in r]
    assert len(losses) == 4 and all(math.isfinite(x) for x in losses)
    assert any("metrics/eval/LanguageCrossEntropy" in r for r in rows)


def test_preflight_refuses_pad_shards_that_would_mask_eos(
    pad_dir: Path, tokenizer_dir: Path, tmp_path: Path
) -> None:
    """A tokenizer whose pad token is EOS would mask every EOS label; a wrong eos_token_id
    would give wrong sequence ids: both stop before llm-foundry starts."""
    import shutil

    from csmpt.training import preflight

    tok = tmp_path / "tok"
    shutil.copytree(tokenizer_dir, tok)
    specials = json.loads((tok / "special_tokens_map.json").read_text())
    specials["pad_token"] = specials["eos_token"]
    (tok / "special_tokens_map.json").write_text(json.dumps(specials))
    over = [f"variables.data_local={pad_dir}", f"variables.save_folder={tmp_path / 'run'}"]
    preflight(
        REPO / "yamls/tiny/mpt_pad.yaml", [*over, f"variables.tokenizer_name={tokenizer_dir}"]
    )
    with pytest.raises(ConfigError, match="mask every EOS out of the labels"):
        preflight(REPO / "yamls/tiny/mpt_pad.yaml", [*over, f"variables.tokenizer_name={tok}"])
    bad_eos = [
        *over,
        f"variables.tokenizer_name={tokenizer_dir}",
        "train_loader.dataset.eos_token_id=1",
    ]
    with pytest.raises(ConfigError, match=r"train_loader\.dataset\.eos_token_id is 1"):
        preflight(REPO / "yamls/tiny/mpt_pad.yaml", bad_eos)


@pytest.mark.slow
def test_bench_pad_vs_concat_prints_the_ratio(tokenizer_dir: Path) -> None:
    from procs import run_bench

    out = run_bench(
        "pad_vs_concat.py",
        *("--max-seq-len", "128", "--steps", "1", "--block", "1", "--batch", "2"),
        *("--d-model", "32", "--tokenizer", str(tokenizer_dir)),
    )
    rows = {ln.split("|")[1].strip(): ln for ln in out.splitlines() if ln.startswith("| ")}
    assert {"concat", "pad"} <= set(rows)
    pad_share = float(rows["pad"].split("|")[3])
    assert 0 < pad_share < 1 and float(rows["concat"].split("|")[3]) == 0
    ratio = json.loads(out.strip().splitlines()[-1])["ratio_pad_vs_concat_real_tokens_per_s"]
    assert ratio > 0
