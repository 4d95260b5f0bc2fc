"""The texts ``csmpt init`` writes (see :mod:`csmpt.scaffold.project`)."""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache
from importlib import resources
from typing import TYPE_CHECKING, Any

from csmpt.scaffold.bases import BatchPlan

if TYPE_CHECKING:
    from csmpt.scaffold.project import Project

__all__ = [
    "README",
    "eval_yaml",
    "miniature_overrides",
    "prep_yaml",
    "surgery_yaml",
    "tokenizer_yaml",
    "train_yaml",
]

SET_CORPUS = "corpus/*.jsonl"  # the placeholder of every corpus input (a glob, below the project)
REPLAY_CORPUS = "replay"  # the replay corpus' placeholder: a folder of .txt/.jsonl files


RECIPE_NAME = "csmpt7b.yaml"  # package data: a link to yamls/csmpt7b/csmpt7b.yaml (one source)


@lru_cache(maxsize=1)
def csmpt7b_recipe() -> dict[str, Any]:
    """CSMPT7b's recipe (``yamls/csmpt7b/csmpt7b.yaml``, shipped in the package), unresolved."""
    from omegaconf import OmegaConf

    text = resources.files("csmpt.scaffold").joinpath("configs", RECIPE_NAME).read_text("utf-8")
    recipe: Any = OmegaConf.to_container(OmegaConf.create(text), resolve=False)
    return dict(recipe)


def _block(key: str, value: Any) -> str:
    """``key:`` and its mapping as YAML, in the recipe's key order."""
    from omegaconf import OmegaConf

    return OmegaConf.to_yaml(OmegaConf.create({key: value}), sort_keys=False).rstrip()


def _hyperparameters() -> dict[str, str]:
    """The CSMPT7b hyperparameters a project takes from the recipe, as YAML blocks and words."""
    r = csmpt7b_recipe()
    opt, sched = dict(r["optimizer"]), dict(r["scheduler"])
    sched["t_max"] = "${max_duration}"  # the project's own length
    clip = r["algorithms"]["gradient_clipping"]
    fsdp = r["fsdp_config"]
    betas = "/".join(str(b) for b in opt["betas"])
    summary = (
        f"LionW lr {opt['lr']:g}, betas {betas}, weight decay {opt['weight_decay']:g}, grad clip "
        f"{clip['clipping_threshold']:g},\n# {sched['name']} ({sched['t_warmup']} warmup, alpha "
        f"{sched['alpha_f']:g}), FSDP {fsdp['sharding_strategy']}, {r['precision']}"
    )
    return {
        "optimizer": _block("optimizer", opt),
        "scheduler": _block("scheduler", sched),
        "algorithms": _block("algorithms", {"gradient_clipping": clip}),
        "precision": str(r["precision"]),
        "sharding": str(fsdp["sharding_strategy"]),
        "mixed_precision": str(fsdp["mixed_precision"]),
        "seed": str(r["seed"]),
        "summary": summary,
    }


def tokenizer_yaml(p: Project, seq: int) -> str:
    """``csmpt tokenizer train tokenizer.yaml``: byte-level BPE on the new language."""
    return f"""\
# {p.name}: the new {p.language} tokenizer (byte-level BPE).
#   csmpt tokenizer train tokenizer.yaml
inputs:
  - {SET_CORPUS}            # SET: a few GB of {p.language} text (.jsonl with "text", .txt, folders)
output_dir: artifacts/tokenizer
vocab_size: {p.vocab}
min_frequency: 2
text_field: text
eos_token: <|endoftext|>
bos_token: <|startoftext|>
pad_token: <|padding|>
model_max_length: {seq}
"""


def prep_yaml(p: Project, seq: int) -> str:
    """``csmpt prep prep.yaml``: the corpus tokenized into MDS shards."""
    return f"""\
# {p.name}: the {p.language} corpus -> MDS shards (artifacts/mds/web/{{train,val}}).
#   csmpt prep prep.yaml
tokenizer: artifacts/tokenizer
output_dir: artifacts/mds
max_seq_len: {seq}
val_fraction: 0.01
compression: zstd
size_limit: 64mb
shard_multiple: 8
strict: false
# workers: unset = one process per core from 8 MB of input (2+ cores), else threads
tokenizer_backend: auto
corpora:
  - name: web
    inputs: [{SET_CORPUS}]   # SET: the training corpus (more corpora: more entries, hot swaps)
{_replay_corpus(p)}"""


def _replay_corpus(p: Project) -> str:
    """prep.yaml's replay corpus (base-language text, tokenized with the new tokenizer)."""
    if p.replay <= 0:
        return ""
    return f"""\
  - name: replay             # {p.replay:.0%} of train.yaml's samples (csmpt init --replay)
    inputs: [{REPLAY_CORPUS}]   # SET: text in {p.base.name}'s language (English)
"""


def surgery_yaml(p: Project) -> str:
    """``csmpt surgery surgery.yaml``: the base model's vocabulary swapped to the new tokenizer."""
    return f"""\
# {p.name}: {p.base.hub} with its vocabulary swapped to the {p.language} tokenizer (CSMPT7b's
# way: tokens of both vocabularies keep the base model's embedding rows).
#   csmpt surgery surgery.yaml
source:
  model: base-model          # SET: a local copy of {p.base.hub} (huggingface-cli download)
  tokenizer: base-model      # SET: its tokenizer (the same folder)
target:
  tokenizer: artifacts/tokenizer
  corpus: [{SET_CORPUS}]     # SET: {p.language} text (token frequencies, the report's loss)
  text_field: text
vocab_swap:
  methods: [exact]           # add dictionary (+ vocab_swap.dictionary: an en<TAB>{p.language} file)
  # FOCUS: new rows from fastText on target.corpus (rare tokens: the mean row). On csmpt's small
  # base it beat CSMPT7b's mean init on held-out bits per byte over 3 seeds: by 5.5% after 100
  # steps, 1.6% after 300 (the edge erodes), and reached each loss with 16-19% fewer tokens
  # (docs/adaptation.md); mean is the card's own choice.
  init: focus
  focus: {{fallback: mean, min_count: 3}}
  pad_to_multiple_of: 64
output:
  dir: artifacts/surgery
  hf: true
  composer: {str(p.base.family == "mpt").lower()}
seed: 17
"""


def _icl(bench: tuple[str, str, str] | None) -> str:
    if bench is None:
        return """\
  - label: benchmark
    dataset_uri: benchmark.jsonl   # SET: a multiple-choice benchmark (jsonl: query, choices, gold)
    icl_task_type: multiple_choice
    num_fewshot: [0, 3]
    continuation_delimiter: " \""""
    label, uri, split = bench
    return f"""\
  - label: {label}
    dataset_uri: {uri}
    hf_loading_vars: {{split: {split}}}
    icl_task_type: multiple_choice
    num_fewshot: [0, 3]
    continuation_delimiter: " \""""


def _model(p: Project, seq: int) -> str:
    s = p.base.shape
    if p.base.family == "mpt":
        return f"""\
# {p.base.hub}'s shape (csmpt/scaffold/configs/{p.base.name}/config.json); vocab_size and
# n_layers follow the surgery's output (csmpt_surgery_shapes: artifacts/surgery/csmpt_surgery.json).
model:
  name: mpt_causal_lm
  init_device: meta
  d_model: {s["d_model"]}
  n_heads: {s["n_heads"]}
  n_layers: {s["n_layers"]}
  expansion_ratio: {s["expansion_ratio"]}
  max_seq_len: ${{max_seq_len}}
  vocab_size: {-(-p.vocab // 64) * 64}
  no_bias: true
  norm_type: low_precision_layernorm
  loss_fn: torch_crossentropy
  attn_config:
    attn_impl: flash
    alibi: true

# Weights: the vocabulary-swapped base model. Autoresume wins once the run has checkpoints.
load_path: ${{variables.init_checkpoint}}
load_weights_only: true
"""
    return f"""\
# {p.base.hub} after the surgery (an HF folder): d {s["hidden_size"]}, {s["num_hidden_layers"]} \
layers,
# {s["num_attention_heads"]} heads ({s["num_key_value_heads"]} KV), FFN \
{s["intermediate_size"]}; its vocabulary is the new tokenizer's.
model:
  name: hf_causal_lm
  pretrained: true
  pretrained_model_name_or_path: ${{variables.init_checkpoint}}
  init_device: mixed
  use_flash_attention_2: true
"""


def _train_data(p: Project) -> str:
    """The training loader's data: the corpus, or the corpus and the replay stream."""
    if p.replay <= 0:
        return "    local: ${variables.data_root}/web\n    split: train\n"
    return f"""\
    # English replay (csmpt init --replay {p.replay:g}): {p.replay:.0%} of the samples in
    # {p.base.name}'s language; docs/adaptation.md: on the small base 5% cost 0.8% target-language
    # bits per byte after 100 steps and 2.2% after 300, and kept English 1.1-1.6 bpb lower;
    # csmpt init --replay 0 where the base language need not be kept
    streams:
      target:
        local: ${{variables.data_root}}/web
        split: train
        proportion: {1.0 - p.replay:g}
      replay:
        local: ${{variables.data_root}}/replay
        split: train
        proportion: {p.replay:g}
"""


EMBEDDINGS = {"mpt": "[wte]", "hf": "[embed_tokens, lm_head]"}  # the parameter-name regexes


def train_yaml(p: Project, seq: int, plan: BatchPlan, bench: tuple[str, str, str] | None) -> str:
    """The training recipe: CSMPT7b's hyperparameters on this base model."""
    init = "artifacts/surgery/model.pt" if p.base.family == "mpt" else "artifacts/surgery/hf"
    flops = "" if p.base.family == "mpt" else "  csmpt_hf_flops: {}\n"
    hp = _hyperparameters()
    return f"""\
# {p.name}: {p.base.hub} continually pretrained into {p.language}, the CSMPT7b recipe
# (yamls/csmpt7b/csmpt7b.yaml): {hp["summary"]}.
# Batch for {p.gpus} GPUs: {plan.global_batch} x {seq} tokens per step,
# microbatch {plan.microbatch} per GPU ({plan.accumulation} accumulation steps).
#   {p.train_command}
# In miniature on CPU:  csmpt train train.yaml @miniature.overrides
variables:
  data_root: artifacts/mds
  tokenizer_name: artifacts/tokenizer
  init_checkpoint: {init}
  embeddings_first: 10000ba  # SET: ~20% of max_duration (the embeddings-first stage)
  run_name: {p.name}
  save_folder: artifacts/runs/${{variables.run_name}}   # SET: storage every node sees

run_name: ${{variables.run_name}}
seed: {hp["seed"]}
max_seq_len: {seq}

{_model(p, seq)}
tokenizer:
  name: ${{variables.tokenizer_name}}
  kwargs:
    model_max_length: ${{max_seq_len}}

train_loader:
  name: text
  dataset:
{_train_data(p)}    shuffle: true
    shuffle_seed: ${{seed}}
    max_seq_len: ${{max_seq_len}}
  drop_last: true
  num_workers: 8

eval_loader:
  name: text
  dataset:
    local: ${{variables.data_root}}/web
    split: val
    shuffle: false
    max_seq_len: ${{max_seq_len}}
  drop_last: false
  num_workers: 8

icl_tasks:
{_icl(bench)}
icl_seq_len: {min(seq, 2048)}

{hp["optimizer"]}

{hp["scheduler"]}

{hp["algorithms"]}

max_duration: 50000ba   # SET: your corpus' tokens / {plan.global_batch * seq:,} tokens per step
eval_interval: 2500ba
eval_first: false
eval_subset_num_batches: 100
global_train_batch_size: {plan.global_batch}
device_train_microbatch_size: {plan.microbatch}
device_eval_batch_size: {plan.microbatch}
precision: {hp["precision"]}

fsdp_config:
  sharding_strategy: {hp["sharding"]}
  mixed_precision: {hp["mixed_precision"]}
  activation_checkpointing: {str(seq >= 4096).lower()}
  activation_checkpointing_reentrant: false
  activation_cpu_offload: false
  limit_all_gathers: true

save_folder: ${{variables.save_folder}}
save_interval: 500ba
save_num_checkpoints_to_keep: -1
autoresume: true

progress_bar: false
log_to_console: true
console_log_interval: 10ba
python_log_level: warning

loggers:
  csmpt_jsonl:
    path: ${{variables.save_folder}}/metrics.jsonl

callbacks:
  csmpt_run_record: {{}}
  csmpt_signal_checkpoint: {{}}
  # Embeddings first: only the embedding rows train until variables.embeddings_first, then all.
  # docs/adaptation.md: 20 of 100 steps beat 5 and 0 on the small base (FOCUS init: -2.7% target
  # bits per byte; 60 of 300: -1.2%, flat after its stage); at 7B a shorter stage may be enough.
  csmpt_freeze:
    stages:
      - until: ${{variables.embeddings_first}}
        train: {EMBEDDINGS[p.base.family]}
{flops}  csmpt_loss_spike:
    window: 100
    ratio: 1.5
    action: log
  lr_monitor: {{}}
  speed_monitor:
    window_size: 10
"""


def _lm_eval_block(p: Project, pack: list[str]) -> str:
    """The language's lm-eval task pack as commented ``lm_eval_tasks`` entries (or nothing)."""
    if not pack:
        return ""
    rows = "\n".join(f"#   - {{name: {name}, include_path: tasks}}" for name in pack)
    return f"""
# lm-eval's own scores in the same table (pip install 'csmpt[lm-eval]'): csmpt's {p.language}
# task pack in tasks/, each reading a file under data/eval/{p.language}/ that its YAML says how
# to save once where the hub is reachable. Uncomment when the files are there:
# lm_eval_tasks:
{rows}
"""


def eval_yaml(p: Project, bench: tuple[str, str, str] | None, pack: Sequence[str] = ()) -> str:
    """``csmpt eval eval.yaml``: the benchmark over the run's checkpoints, the base model too."""
    return f"""\
# {p.name}: few-shot eval over the run's checkpoints (their model: the run's own config.yaml),
# against the base model, and bits per byte on held-out text.
#   csmpt eval eval.yaml
variables:
  run: artifacts/runs/{p.name}

checkpoints: ${{variables.run}}
train_yaml: ${{variables.run}}/config.yaml
models:
  - name: {p.base.name}
    path: base-model        # SET: the local copy of {p.base.hub} (as in surgery.yaml)

icl_tasks:
{_icl(bench)}
    example_delimiter: "\\n"

bpb_texts:                  # bits per byte, each model with its own tokenizer: the base vs the run
  - label: {p.language}
    path: heldout.jsonl     # SET: held-out {p.language} text, not in the training corpus
    max_documents: 500

max_seq_len: 2048
device_eval_batch_size: 16
precision: amp_bf16
output_dir: ${{variables.run}}/eval
{_lm_eval_block(p, list(pack))}"""


def miniature_overrides(p: Project) -> str:
    """The pipeline shrunk to a CPU smoke run: one section per config (csmpt.config.loading).

    prep: short samples and one shard (a sample corpus is too small for 2048-token val samples);
    train: 4 steps of a tiny base model of this shape; eval: fp32, short, two batches a task.
    """
    common = """\
max_seq_len=128
icl_seq_len=128
model.init_device=cpu
fsdp_config=null
precision=fp32
global_train_batch_size=4
device_train_microbatch_size=4
device_eval_batch_size=4
max_duration=4ba
variables.embeddings_first=1ba
scheduler.t_warmup=1ba
eval_interval=2ba
eval_subset_num_batches=1
icl_subset_num_batches=1
save_interval=2ba
console_log_interval=1ba
train_loader.num_workers=0
train_loader.prefetch_factor=null
train_loader.persistent_workers=false
eval_loader.num_workers=0
eval_loader.prefetch_factor=null
eval_loader.persistent_workers=false
"""
    if p.base.family == "mpt":
        shape = """\
model.d_model=64
model.n_heads=4
model.expansion_ratio=4
model.attn_config.attn_impl=torch
"""
        tiny = "d_model 64, 4 heads, expansion 4"
    else:
        shape = "model.use_flash_attention_2=false\n"
        tiny = "its own shape, from the surgery's HF output"
    return f"""\
# The six commands in miniature on CPU, on a small sample corpus and a tiny base model as the
# surgery's source: add @miniature.overrides to each (each YAML takes its own [section]):
#   csmpt prep prep.yaml @miniature.overrides
#   csmpt train train.yaml @miniature.overrides   # step 4 on this machine: 4 steps, fp32
#   csmpt eval eval.yaml @miniature.overrides
# train: a tiny {p.base.name}-shaped model ({tiny}).

[prep.yaml]
max_seq_len=128
shard_multiple=1

[train.yaml]
{shape}{common}
[eval.yaml]
precision=fp32
max_seq_len=128
icl_subset_num_batches=2
bpb_texts=[{{label: {p.language}, path: heldout.jsonl, max_documents: 20}}]
"""


README = """\
# {name}: {base} continually pretrained into `{language}`

Written by `csmpt init`. Run every command from this folder; outputs go below `artifacts/`.

## The six commands

```bash
{commands}
```

1. a `{vocab}`-token tokenizer for `{language}` (`artifacts/tokenizer`);
2. the corpus as MDS shards (`artifacts/mds/web`);
3. `{hub}` with its vocabulary swapped to the new tokenizer (`artifacts/surgery`);
4. training, the CSMPT7b recipe: LionW, cosine, FSDP; {global_batch} x {seq} tokens per step
   on {gpus} GPUs, microbatch {microbatch} per GPU ({accumulation} accumulation steps);
5. the benchmark over the checkpoints (`artifacts/runs/{name}/eval`);
6. the last checkpoint as an HF folder (`artifacts/hf`).

In miniature on CPU: add `@miniature.overrides` to each command, with `csmpt train train.yaml`
for step 4 (see the file: each YAML takes its own section).

## Values you must set

Each is marked `# SET:` in its file.

| file | key | what |
|---|---|---|
| `tokenizer.yaml` | `inputs` | a few GB of `{language}` text |
| `prep.yaml` | `corpora.0.inputs` | the training corpus |
{replay_row}| `surgery.yaml` | `source.model`, `source.tokenizer` | a local copy of `{hub}` |
| `surgery.yaml` | `target.corpus` | `{language}` text (token frequencies) |
| `train.yaml` | `variables.save_folder` | storage every node sees |
| `train.yaml` | `max_duration` | corpus tokens / tokens per step |
| `train.yaml` | `variables.embeddings_first` | the embeddings-first stage, ~20% of `max_duration` |
| `eval.yaml` | `models.0.path` | the local copy of `{hub}` |
| `eval.yaml` | `bpb_texts.0.path` | held-out `{language}` text (bits per byte, base vs run) |
{bench_row}
The scheduler's account or partition: `csmpt launch ... --directive '--account=...'`.
"""
