"""CS-HellaSwag-style few-shot eval: accuracy on a trained tiny model, prompts, the series table."""

from __future__ import annotations

import csv
import json
import math
import random
import shutil
from pathlib import Path

import pytest

from csmpt.errors import CsmptError

pytestmark = pytest.mark.slow

SAMPLE = "data/samples/cs_hellaswag.jsonl"


def _task(uri: str | Path, shots: list[int]) -> dict[str, object]:
    return {
        "label": "mc",
        "dataset_uri": str(uri),
        "icl_task_type": "multiple_choice",
        "num_fewshot": shots,
        "continuation_delimiter": " ",
    }


def _fixture_items(shards_dir: Path, tokenizer_dir: Path, n: int = 40) -> list[dict[str, object]]:
    """Real text from the training corpus: a query and its true continuation (gold) against
    three distractors: the continuation's letters shuffled and moved to Cyrillic, bytes the
    Czech training text never has (a trained model finds them far less likely)."""
    from transformers import AutoTokenizer

    from csmpt.mds.reader import iter_samples

    tok = AutoTokenizer.from_pretrained(tokenizer_dir)
    rng = random.Random(0)
    items = []
    for sample in iter_samples(shards_dir / "cs_web" / "train"):
        words = tok.decode(list(sample["tokens"][:60])).split()
        if len(words) < 16:
            continue
        query, gold = " ".join(words[1:10]), " ".join(words[10:14])
        wrong = []
        for k in range(3):
            chars = list(gold)
            rng.shuffle(chars)
            wrong.append(
                "".join(chr(0x410 + (ord(c) + k) % 48) if c.isalpha() else c for c in chars)
            )
        at = rng.randrange(4)
        items.append({"query": query, "choices": [*wrong[:at], gold, *wrong[at:]], "gold": at})
        if len(items) == n:
            break
    return items


def _write(path: Path, items: list[dict[str, object]]) -> Path:
    path.write_text("".join(json.dumps(x, ensure_ascii=False) + "\n" for x in items), "utf-8")
    return path


def test_accuracy_is_high_on_likely_golds_and_chance_on_shuffled_golds(
    tiny_mpt_run: Path, shards_dir: Path, tokenizer_dir: Path, tiny_overrides, tmp_path: Path
) -> None:
    from csmpt.checkpoint.loading import (
        build_recipe_model,
        find_checkpoints,
        load_checkpoint_weights,
    )
    from csmpt.eval.icl import build_evaluators, evaluate_icl

    items = _fixture_items(shards_dir, tokenizer_dir)
    shuffled = [dict(x, gold=random.Random(i).randrange(4)) for i, x in enumerate(items)]
    rm = build_recipe_model("yamls/tiny/mpt.yaml", tiny_overrides(tmp_path))
    load_checkpoint_weights(rm.model, find_checkpoints(tiny_mpt_run)[-1].path, rm.recipe)
    acc = {}
    for name, its in (("likely", items), ("shuffled", shuffled)):
        evs = build_evaluators(
            [_task(_write(tmp_path / f"{name}.jsonl", its), [0])], rm.tokenizer, 128, 40
        )
        (res,) = evaluate_icl(rm.model, evs)
        assert res.items == len(items) and res.seconds > 0
        acc[name] = res.accuracy
    print(acc)
    assert acc["likely"] >= 0.8, acc
    assert acc["shuffled"] <= 0.45, acc


def test_k_shot_prompt_holds_k_other_examples_and_never_the_item(tokenizer_dir: Path) -> None:
    from transformers import AutoTokenizer

    from csmpt.eval.icl import build_evaluators

    tok = AutoTokenizer.from_pretrained(tokenizer_dir)
    items = [json.loads(line) for line in Path(SAMPLE).read_text("utf-8").splitlines()]
    shots = {f"{x['query']} {x['choices'][x['gold']]}": i for i, x in enumerate(items)}
    (ev,) = build_evaluators([_task(SAMPLE, [3])], tok, 512, 8, subset_num_batches=4)
    batch = next(iter(ev.dataloader.dataloader))
    for j, gold in enumerate(batch["gold_indices"]):  # item j of the first batch: dataset index j
        row = 4 * j  # its first choice
        start = int(batch["continuation_indices"][row][0])
        prompt = tok.decode(batch["input_ids"][row][:start].tolist())
        lines = prompt.split("\n")
        assert len(lines) == 4, prompt  # 3 examples + the item's query
        assert lines[-1] == items[j]["query"]
        used = [shots[line] for line in lines[:-1]]  # each is another item's query + gold answer
        assert len(set(used)) == 3 and j not in used
        assert gold == items[j]["gold"]


def test_series_table_has_one_row_per_checkpoint_in_step_order(
    tiny_mpt_run: Path, tokenizer_dir: Path, shards_dir: Path, tmp_path: Path
) -> None:
    from csmpt.eval.series import load_eval_recipe, run_eval

    out = tmp_path / "eval"
    recipe = load_eval_recipe(
        "eval/cs_hellaswag_tiny.yaml",
        [
            f"variables.run={tiny_mpt_run}",
            f"variables.tokenizer_name={tokenizer_dir}",
            "train_yaml=yamls/tiny/mpt.yaml",
            f"train_overrides=[variables.tokenizer_name={tokenizer_dir},"
            f"variables.data_root={shards_dir}]",
            "icl_subset_num_batches=1",
            f"output_dir={out}",
        ],
    )
    from csmpt.eval.mc_metrics import METRICS

    res = run_eval(recipe)
    assert [r.step for r in res.rows] == [6, 12, 18]
    with res.csv.open() as f:
        rows = list(csv.DictReader(f))
    assert [r["step"] for r in rows] == ["6", "12", "18"]
    assert list(rows[0]) == [
        "model",
        "step",
        *[
            f"cs_hellaswag/{n}-shot/{m}{e}"
            for n in (0, 3)
            for m in METRICS
            for e in ("", "_stderr")
        ],
        "cs_web/bpb",
        "items_per_s",
    ]
    assert all(0.0 <= float(r[f"cs_hellaswag/3-shot/{m}"]) <= 1.0 for r in rows for m in METRICS)
    md = res.markdown.read_text()
    assert md.count("| run |") == 3 and md.index("| 6 |") < md.index("| 12 |") < md.index("| 18 |")
    assert res.plot.read_bytes()[:4] == b"\x89PNG"


def test_in_loop_eval_logged_cs_hellaswag_accuracy(tiny_mpt_run: Path) -> None:
    from csmpt.report.data import build_report_data

    data = build_report_data(tiny_mpt_run)
    assert {c.label for c in data.accuracy} == {
        "cs_hellaswag/0-shot acc_per_token (in-loop)",
        "cs_hellaswag/3-shot acc_per_token (in-loop)",
    }
    assert all(c.steps == [18] for c in data.accuracy)


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ('{"query": "q", "choices": ["a", "b"], "gold": 2}', ":2: field 'gold'"),
        ('{"query": "q", "choices": "ab", "gold": 0}', ":2: field 'choices'"),
        ('{"choices": ["a", "b"], "gold": 0}', ":2: field 'query'"),
        ('{"query": "q", "choices": ["a", "b", "c"], "gold": 0}', ":2: field 'choices' has 3"),
        ("{not json", ":2: not valid JSON"),
    ],
)
def test_malformed_eval_jsonl_names_line_and_field(line: str, message: str, tmp_path: Path) -> None:
    from csmpt.eval.icl import check_mc_jsonl

    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"query": "q", "choices": ["a", "b"], "gold": 1}\n' + line + "\n")
    with pytest.raises(CsmptError, match=message.replace("'", "'")) as e:
        check_mc_jsonl(bad)
    assert str(bad) in str(e.value) and "\n" not in str(e.value)


def test_bad_series_inputs_are_one_line_errors(
    tiny_mpt_run: Path, tiny_overrides, tmp_path: Path
) -> None:
    from csmpt.checkpoint.loading import (
        build_recipe_model,
        find_checkpoints,
        load_checkpoint_weights,
    )
    from csmpt.eval.series import EvalRecipe, run_eval

    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(CsmptError, match="holds no Composer checkpoints"):
        find_checkpoints(empty)
    no_ckpt = tmp_path / "run_without_checkpoints"
    no_ckpt.mkdir()
    shutil.copy(tiny_mpt_run / "metrics.jsonl", no_ckpt)
    with pytest.raises(CsmptError, match="no Composer checkpoints"):
        run_eval(
            EvalRecipe(icl_tasks=[_task(SAMPLE, [0])], checkpoints=str(no_ckpt), train_yaml="x")
        )
    with pytest.raises(CsmptError, match="nothing to evaluate"):
        run_eval(EvalRecipe(icl_tasks=[_task(SAMPLE, [0])]))
    other = build_recipe_model(
        "yamls/tiny/mpt.yaml", tiny_overrides(tmp_path, **{"model.d_model": 32})
    )
    with pytest.raises(CsmptError, match=r"does not match the model of .*mpt.yaml: 'model\.") as e:
        load_checkpoint_weights(other.model, find_checkpoints(tiny_mpt_run)[0].path, other.recipe)
    assert "\n" not in str(e.value)


def test_eval_recipes_load(tokenizer_dir: Path) -> None:
    from csmpt.eval.series import load_eval_recipe

    for path in sorted(Path("eval").glob("*.yaml")):
        recipe = load_eval_recipe(path)
        assert recipe.icl_tasks[0]["icl_task_type"] == "multiple_choice"
        assert recipe.checkpoints and recipe.train_yaml and Path(recipe.train_yaml).is_file()


def test_unreachable_hub_task_says_how_to_use_a_local_copy(tiny_overrides, tmp_path: Path) -> None:
    from csmpt.training import preflight

    hub = "{label: cs_hellaswag, dataset_uri: 'hf://CZLC/cs_hellaswag', num_fewshot: [0]}"
    overrides = tiny_overrides(tmp_path, **{"icl_tasks": f"[{hub}]"})
    with pytest.raises(
        CsmptError, match="cannot load 'hf://CZLC/cs_hellaswag' from the HF hub"
    ) as e:
        preflight("yamls/tiny/mpt.yaml", overrides)
    assert "set icl_tasks.0.dataset_uri to cs_hellaswag.jsonl" in str(e.value)
    assert "\n" not in str(e.value)
    overrides += ["variables.cs_hellaswag=hf://CZLC/cs_hellaswag"]  # as the real recipes do
    overrides[-2] = (
        "icl_tasks=[{label: t, dataset_uri: '${variables.cs_hellaswag}', num_fewshot: [0]}]"
    )
    with pytest.raises(CsmptError, match="override variables.cs_hellaswag=cs_hellaswag.jsonl"):
        preflight("yamls/tiny/mpt.yaml", overrides)


def test_validate_appends_loss_per_corpus_once_per_checkpoint(
    tiny_mpt_run: Path, tiny_overrides, shards_dir: Path, tmp_path: Path
) -> None:
    from csmpt.eval.validate import validate_checkpoints

    corpora = {c: shards_dir / c / "val" for c in ("cs_web", "en_web")}
    out = tmp_path / "validation.csv"
    args = (tiny_mpt_run, "yamls/tiny/mpt.yaml", out, corpora, tiny_overrides(tmp_path))
    rows = validate_checkpoints(*args, max_samples=8)
    assert [(r.step, r.corpus) for r in rows] == [
        (s, c) for s in (6, 12, 18) for c in ("cs_web", "en_web")
    ]
    web = [r.loss for r in rows if r.corpus == "cs_web"]
    assert web[-1] < web[0]  # training on cs_web lowers its validation loss
    assert validate_checkpoints(*args, max_samples=8) == []  # rerun: nothing new
    assert len(out.read_text().splitlines()) == 1 + 6
    # every row has bits per byte; each corpus is the same text at every step
    assert all(0 < r.bpb < 20 and r.bytes > 0 for r in rows)
    assert len({(r.corpus, r.bytes, r.tokens) for r in rows}) == 2
    # the retention plot's data: Czech and English bpb at every checkpoint, on one figure
    from csmpt.report.render import write_report

    run = tmp_path / "run"
    run.mkdir()
    shutil.copy(tiny_mpt_run / "metrics.jsonl", run)
    shutil.copy(out, run / "validation.csv")
    report = write_report(run)
    assert [(c.label, c.steps) for c in report.data.bpb] == [
        ("cs_web", [6, 12, 18]),
        ("en_web", [6, 12, 18]),
    ]
    want = [r.bpb for r in rows if r.corpus == "cs_web"]
    assert [v for _, v in report.data.bpb[0].points] == pytest.approx(want, abs=1e-6)
    assert "bits_per_byte" in report.figures


def test_validation_csv_of_an_older_csmpt_gains_the_bpb_columns(tmp_path: Path) -> None:
    from csmpt.eval.validate import FIELDS, ValRow, _append, read_validation

    out = tmp_path / "validation.csv"
    out.write_text("step,checkpoint,corpus,loss,perplexity,tokens\n6,a.pt,cs,8.5,4914.8,100\n")
    _append(out, [ValRow(None, "mistral", "cs", 2.0, 7.389, 50, 200, 0.72)])
    lines = out.read_text().splitlines()
    assert lines[0] == ",".join(FIELDS) and len(lines) == 3
    old, new = read_validation(out)
    assert (old.step, old.loss, old.bytes) == (6, 8.5, 0) and math.isnan(old.bpb)
    assert (new.step, new.checkpoint, new.bpb) == (None, "mistral", 0.72)


def test_validate_never_rewrites_a_csv_path_that_holds_something_else(
    tiny_mpt_run: Path, tiny_overrides, shards_dir: Path, tmp_path: Path
) -> None:
    """``--csv README.md`` used to replace the README by a validation table, exit 0."""
    from csmpt.errors import ConfigError
    from csmpt.eval.validate import validate_checkpoints

    notes = tmp_path / "notes.md"
    notes.write_text("# my notes\nstep one, step two\n")
    corpora = {"cs_web": shards_dir / "cs_web" / "val"}
    for path, why in ((notes, "is not a validation CSV"), (tmp_path, "is a folder")):
        with pytest.raises(ConfigError, match=why):
            validate_checkpoints(
                tiny_mpt_run, "yamls/tiny/mpt.yaml", path, corpora, tiny_overrides(tmp_path)
            )
    assert notes.read_text() == "# my notes\nstep one, step two\n"


def test_english_multiple_choice_sample_regenerates_and_has_cs_hellaswags_format(
    tmp_path: Path,
) -> None:
    from collections import Counter

    from sample_corpora.hellaswag_en import write_en_hellaswag

    shipped = Path("data/samples/en_hellaswag.jsonl")
    fresh = write_en_hellaswag(tmp_path / "en.jsonl")
    assert fresh.read_bytes() == shipped.read_bytes()
    items = [json.loads(line) for line in shipped.read_text(encoding="utf-8").split("\n") if line]
    czech = json.loads(Path(SAMPLE).read_text(encoding="utf-8").split("\n")[0])
    assert all(set(i) == set(czech) == {"query", "choices", "gold"} for i in items)
    assert all(len(i["choices"]) == 4 and len(set(i["choices"])) == 4 for i in items)
    assert Counter(i["gold"] for i in items) == {0: 25, 1: 25, 2: 25, 3: 25}
    assert len({i["query"] for i in items}) == len(items)
    assert all(i["query"].isascii() for i in items)  # English, no Czech diacritics


def test_bpb_columns_score_checkpoints_and_hf_models_alike(
    tiny_mpt_run: Path, tokenizer_dir: Path, shards_dir: Path, tmp_path: Path
) -> None:
    """``bpb_texts``: one ``LABEL/bpb`` column; the HF export of step 18 (another loading path,
    its own tokenizer files) scores what the step-18 checkpoint scores."""
    from csmpt.eval.series import load_eval_recipe, run_eval
    from csmpt.export.hf import export_to_hf

    train = [f"variables.tokenizer_name={tokenizer_dir}", f"variables.data_root={shards_dir}"]
    export_to_hf(tiny_mpt_run / "ep0-ba18-rank0.pt", "yamls/tiny/mpt.yaml", tmp_path / "hf", train)
    out = tmp_path / "eval"
    recipe = load_eval_recipe(
        "eval/cs_hellaswag_tiny.yaml",
        [
            f"variables.run={tiny_mpt_run}",
            "train_yaml=yamls/tiny/mpt.yaml",
            f"train_overrides=[{','.join(train)}]",
            f"models=[{{name: export, path: {tmp_path / 'hf'}}}]",
            "icl_subset_num_batches=1",
            "bpb_texts=[{label: cs_web, path: data/samples/cs_web.jsonl, max_documents: 12}]",
            f"output_dir={out}",
        ],
    )
    res = run_eval(recipe)
    bpb = {(r.model, r.step): r.bpb["cs_web"] for r in res.rows}
    assert list(bpb) == [("run", 6), ("run", 12), ("run", 18), ("export", None)]
    assert bpb[("export", None)] == pytest.approx(bpb[("run", 18)], abs=1e-4)
    assert bpb[("run", 18)] < bpb[("run", 6)]  # training lowers it
    with res.csv.open() as f:
        rows = list(csv.DictReader(f))
    assert float(rows[2]["cs_web/bpb"]) == pytest.approx(bpb[("run", 18)], abs=1e-4)
    assert "cs_web/bpb" in res.markdown.read_text()


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("icl_tasks.0.num_fewshot=[-1]", "icl_tasks.0.num_fewshot is [-1]; give distinct whole"),
        ("icl_tasks.0.num_fewshot=[0,0]", "icl_tasks.0.num_fewshot is [0, 0]"),
        ("icl_tasks.0.icl_task_type=multiple_choise", "icl_task_type is 'multiple_choise'; use"),
        ("bpb_texts.0.max_documents=-5", "key 'bpb_texts.0.max_documents' is -5; expected a"),
        ("icl_subset_num_batches=0", "key 'icl_subset_num_batches' is 0; expected a number >= 1"),
    ],
)
def test_an_eval_recipe_mistake_is_one_line_before_any_model(override: str, message: str) -> None:
    """Each was llm-foundry's traceback after the model loaded, or (max_documents=-5: all but
    the last 5 documents scored) a quietly wrong table."""
    from csmpt.eval.series import load_eval_recipe

    load_eval_recipe("eval/cs_hellaswag_tiny.yaml")
    with pytest.raises(CsmptError) as e:
        load_eval_recipe("eval/cs_hellaswag_tiny.yaml", [override])
    assert message in str(e.value) and "\n" not in str(e.value)
