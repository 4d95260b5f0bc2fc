"""csmpt merge: interpolation and averaging against hand-computed weights, errors, export."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from typer.testing import CliRunner

from csmpt.cli.app import app
from csmpt.surgery.io import ModelWeights, load_source, write_composer_checkpoint
from csmpt.surgery.merge import merge_states


def test_merge_states_match_hand_computed_interpolation_and_average() -> None:
    a = {"w": torch.tensor([[0.0, 2.0], [4.0, 6.0]]), "h": torch.tensor([0.0, 4.0]).bfloat16()}
    b = {"w": torch.tensor([[4.0, 6.0], [8.0, 10.0]]), "h": torch.tensor([8.0, 8.0]).bfloat16()}
    c = {"w": torch.tensor([[2.0, 1.0], [0.0, 5.0]]), "h": torch.tensor([1.0, 0.0]).bfloat16()}
    for s, step in ((a, 3), (b, 7), (c, 9)):
        s["step"] = torch.tensor(step)
        s["tied"] = s["w"]  # one tensor under two names (a tied embedding)
    quarter = merge_states([a, b], [0.75, 0.25])
    assert torch.equal(quarter["w"], torch.tensor([[1.0, 3.0], [5.0, 7.0]]))
    assert quarter["h"].dtype == torch.bfloat16
    assert torch.equal(quarter["h"], torch.tensor([2.0, 5.0]).bfloat16())
    assert int(quarter["step"]) == 3  # integer buffers come from the first model
    assert quarter["tied"] is quarter["w"]  # still one tensor
    third = merge_states([a, b, c], [1 / 3] * 3)
    assert torch.allclose(third["w"], torch.tensor([[2.0, 3.0], [4.0, 7.0]]))
    assert torch.equal(merge_states([a, b], [1.0, 0.0])["w"], a["w"])
    with pytest.raises(ValueError):
        merge_states([a, b], [1.0])


def _tiny(tmp: Path, name: str, vocab: int, seed: int) -> Path:
    from llmfoundry.models.mpt import MPTConfig, MPTForCausalLM

    torch.manual_seed(seed)
    cfg = MPTConfig(
        d_model=16, n_heads=2, n_layers=1, expansion_ratio=2, max_seq_len=32, vocab_size=vocab,
        no_bias=True, init_device="cpu", attn_config={"attn_impl": "torch", "alibi": True},
    )  # fmt: skip
    model = MPTForCausalLM(cfg)
    path = tmp / name
    write_composer_checkpoint(ModelWeights(cfg.to_dict(), dict(model.state_dict()), path), path)
    return path


def test_merge_cli_interpolates_composer_checkpoints_and_refuses_bad_input(
    tmp_path: Path,
) -> None:
    a, b = _tiny(tmp_path, "a.pt", 64, 0), _tiny(tmp_path, "b.pt", 64, 1)
    out = tmp_path / "out"
    runner = CliRunner()
    r = runner.invoke(app, ["merge", str(a), str(b), str(out), "--alpha", "0.25"])
    assert r.exit_code == 0, r.output
    got, wa, wb = load_source(out / "model.pt"), load_source(a), load_source(b)
    for key, t in got.state.items():
        assert torch.allclose(t, 0.75 * wa.state[key] + 0.25 * wb.state[key], atol=1e-6), key
    assert got.config["d_model"] == 16
    saved = json.loads((out / "merge.json").read_text())
    assert saved["points"][0]["coefficients"] == [0.75, 0.25]

    several = tmp_path / "several"
    r = runner.invoke(app, ["merge", str(a), str(b), str(several), "--alpha", "0", "--alpha", "1"])
    assert r.exit_code == 0, r.output
    for alpha, src in (("0", wa), ("1", wb)):
        merged = load_source(several / f"alpha_{alpha}" / "model.pt")
        assert all(torch.equal(merged.state[k], src.state[k]) for k in src.state)

    before = (out / "model.pt").read_bytes()
    wide = _tiny(tmp_path, "wide.pt", 128, 0)
    cases = [
        ([str(a), str(wide), str(tmp_path / "x")], "tensor 'transformer.wte.weight' has shape"),
        ([str(a), str(b), str(tmp_path / "x"), "--alpha", "1.5"], "--alpha 1.5: must be in"),
        ([str(a), str(b), str(a), str(tmp_path / "x"), "--alpha", "0.5"], "interpolates two"),
        ([str(a), str(b), str(out)], "already exists; pass --force"),
        ([str(a), str(tmp_path / "x")], "at least two models"),
    ]
    for args, message in cases:
        r = runner.invoke(app, ["merge", *args])
        assert r.exit_code == 2, (args, r.output)
        assert message in r.output and len(r.output.strip().splitlines()) == 1, r.output
    assert (out / "model.pt").read_bytes() == before  # nothing already written is lost
    assert not (tmp_path / "x").exists()


@pytest.mark.slow
def test_merge_averages_a_runs_last_checkpoints_into_an_exportable_checkpoint(
    tiny_mpt_run: Path,
    tiny_overrides,
    tokenizer_dir: Path,
    tmp_path: Path,  # noqa: ANN001
) -> None:
    from csmpt.checkpoint.loading import find_checkpoints
    from csmpt.export.hf import export_to_hf

    ckpts = [c.path for c in find_checkpoints(tiny_mpt_run)][-2:]  # steps 12 and 18
    docs = tmp_path / "cs.jsonl"
    docs.write_text(
        "".join(json.dumps({"text": t}) + "\n" for t in ["Dobrý den, jak se máte?", "Praha."]),
        "utf-8",
    )
    out = tmp_path / "avg"
    r = CliRunner().invoke(
        app,
        ["merge", str(tiny_mpt_run), str(out), "--last", "2", "--text", f"cs={docs}",
         "--tokenizer", str(tokenizer_dir)],
    )  # fmt: skip
    assert r.exit_code == 0, r.output
    raw = [torch.load(p, weights_only=False)["state"]["model"] for p in ckpts]
    got = torch.load(out / "model.pt", weights_only=False)["state"]["model"]
    assert set(got) == set(raw[0])
    for key, t in got.items():
        assert torch.allclose(t, (raw[0][key] + raw[1][key]) / 2, atol=1e-6), key
    point = json.loads((out / "merge.json").read_text())["points"][0]
    assert point["alpha"] is None and point["coefficients"] == [0.5, 0.5]
    assert 0 < point["bpb"]["cs"] < 20
    res = export_to_hf(
        out / "model.pt", "yamls/tiny/mpt.yaml", tmp_path / "hf", tiny_overrides(tmp_path)
    )
    assert res.max_abs_diff <= res.tolerance


def test_merge_of_hf_folders_scores_each_point_of_the_path(
    tokenizer_dir: Path, tmp_path: Path
) -> None:
    from transformers import AutoTokenizer

    from csmpt.eval.bpb import score_documents
    from csmpt.surgery.io import build_model, write_hf_dir

    tok = AutoTokenizer.from_pretrained(tokenizer_dir)
    vocab = -(-len(tok) // 64) * 64
    folders = []
    for name, seed in (("a", 0), ("b", 1)):
        ckpt = _tiny(tmp_path, f"{name}.pt", vocab, seed)
        write_hf_dir(load_source(ckpt), tmp_path / name, tok)
        folders.append(tmp_path / name)
    docs = ["Dobrý den, jak se máte?", "V Praze prší."]
    (tmp_path / "cs.jsonl").write_text("".join(json.dumps({"text": d}) + "\n" for d in docs))
    out = tmp_path / "path"
    args = ["merge", *map(str, folders), str(out), "--alpha", "0", "--alpha", "1"]
    r = CliRunner().invoke(app, [*args, "--text", f"cs={tmp_path / 'cs.jsonl'}"])
    assert r.exit_code == 0, r.output
    points = json.loads((out / "merge.json").read_text())["points"]
    direct = [
        score_documents(build_model(load_source(f)), tok, docs, 32).bpb for f in folders
    ]  # the tokenizer comes from the first HF folder
    assert direct[0] != pytest.approx(direct[1])
    assert [p["alpha"] for p in points] == [0.0, 1.0]
    assert [p["bpb"]["cs"] for p in points] == pytest.approx(direct, rel=1e-5)
    assert AutoTokenizer.from_pretrained(out / "alpha_1")("Praha")["input_ids"]  # HF folder


def test_read_texts_warns_when_a_folder_mixes_files(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    from csmpt.surgery.merge import read_texts

    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "train.jsonl").write_text(json.dumps({"text": "trained on"}) + "\n")
    (corpus / "held_out.jsonl").write_text(json.dumps({"text": "held out"}) + "\n")
    with caplog.at_level("WARNING", logger="csmpt.surgery.merge"):
        one = read_texts({"cs": corpus / "held_out.jsonl"})
    assert one == {"cs": ["held out"]}
    assert not caplog.records
    with caplog.at_level("WARNING", logger="csmpt.surgery.merge"):
        both = read_texts({"cs": corpus})
    assert sorted(both["cs"]) == ["held out", "trained on"]
    [record] = caplog.records
    assert "2 files" in record.getMessage() and "train.jsonl" in record.getMessage()
