"""Check a training YAML before llm-foundry starts, and turn mistakes into one-line errors.

llm-foundry finds most mistakes only after minutes of start-up (or not at all: a missing data
folder surfaces as a streaming traceback). ``preflight`` loads the YAML with its ``key=value``
overrides exactly as ``train_from_yaml`` does and checks, in well under a second:

* every top-level key is one llm-foundry's ``TrainConfig`` knows (else: where it belongs);
* the required keys are there and interpolations resolve;
* every local data folder of the train/eval loaders (and their ``streams``) exists;
* a local tokenizer folder exists, and the model's ``vocab_size`` can hold its tokens; a hub
  tokenizer loads (a machine without network fails here, in one line);
* local ICL task files exist (multiple-choice files: every line checked), hub ICL datasets
  load (offline: one line saying how to point the task at a local copy);
* a ``csmpt_hot_swap`` schedule is sorted, before ``max_duration``, and its corpora exist;
* the types and ranges of the values csmpt relies on (:mod:`csmpt.config.train_config`: a
  positive ``max_seq_len`` and batch sizes, a ``max_duration`` such as ``10ba``, ...);
* a local ``load_path`` is a Composer checkpoint (a torch zip file, or a sharded folder);
* with ``deep=True`` (``csmpt train``, ``csmpt launch``, after llm-foundry is imported): the
  optimizer's and scheduler's kwargs against their classes' signatures.
"""

from __future__ import annotations

import inspect
import logging
import tarfile
import zipfile
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException

from csmpt.config.loading import expand_overrides, load_yaml_with_overrides
from csmpt.config.train_config import TRAIN_KEYS, value_problem
from csmpt.config.yaml_lines import describe_key
from csmpt.errors import ConfigError, DataError
from csmpt.mds.folders import local_mds_folders, missing_reason
from csmpt.tokenizer.folder import (
    check_named_tokenizer,
    looks_local,
    tokenizer_size,
)
from csmpt.training.pad_check import check_pad_shards

__all__ = [
    "BASE_BUILDS_DIR",
    "WHERE_IT_BELONGS",
    "base_build_making",
    "check_recipe_keys",
    "check_recipe_tokenizer",
    "preflight",
    "train_config_keys",
]

log = logging.getLogger(__name__)

# Keys users often put at the top level by mistake, and the section they belong to.
WHERE_IT_BELONGS: dict[str, str] = {
    **dict.fromkeys(["lr", "betas", "weight_decay", "eps"], "optimizer"),
    **dict.fromkeys(["t_warmup", "t_max", "alpha_f"], "scheduler"),
    **dict.fromkeys(
        ["d_model", "n_heads", "n_layers", "vocab_size", "expansion_ratio", "attn_config"], "model"
    ),
    **dict.fromkeys(["local", "remote", "split", "shuffle", "streams"], "train_loader.dataset"),
    **dict.fromkeys(["num_workers", "drop_last"], "train_loader"),
    **dict.fromkeys(["clipping_type", "clipping_threshold"], "algorithms.gradient_clipping"),
}

_REQUIRED = (
    "model",
    "tokenizer",
    "optimizer",
    "scheduler",
    "train_loader",
    "device_eval_batch_size",
    "max_duration",
    "max_seq_len",
)


# Keys llm-foundry adds to the config a run records (RUN/config.yaml), which export and validate
# read as a recipe. ``merge: true`` comes from llm-foundry 0.22's ``dict.update(..., merge=True)``
# on its logged config (train.py), a plain dict.
RUN_CONFIG_KEYS = frozenset({"n_gpus", "device_train_grad_accum", "merge", "variables"})


def train_config_keys() -> set[str]:
    """The top-level keys llm-foundry's train config accepts (its ``TrainConfig``'s fields)."""
    return set(TRAIN_KEYS)


def _is_local_path(value: str) -> bool:
    return "://" not in value


def _loader_datasets(cfg: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    """Yield (dotted key, dataset dict) for the train loader and the eval loader(s)."""
    loaders: list[tuple[str, Any]] = [("train_loader", cfg.get("train_loader"))]
    eval_loader = cfg.get("eval_loader")
    if isinstance(eval_loader, list):
        loaders += [(f"eval_loader.{i}", e) for i, e in enumerate(eval_loader)]
    else:
        loaders.append(("eval_loader", eval_loader))
    for key, loader in loaders:
        if isinstance(loader, dict) and isinstance(loader.get("dataset"), dict):
            yield f"{key}.dataset", loader["dataset"]


# `csmpt base build`'s shipped builds (relative to the working directory, as recipes' paths are).
BASE_BUILDS_DIR = Path("yamls/base/builds")


def base_build_making(folder: str | Path, builds_dir: Path | None = None) -> Path | None:
    """The build YAML whose ``output_dir`` holds ``folder``, if one does.

    ``builds_dir`` defaults to :data:`BASE_BUILDS_DIR`.
    For an error about a missing folder: a recipe that trains on ``artifacts/base/cs/mds`` is
    answered with the ``csmpt base build`` that makes it, not with ``csmpt prep``.
    """
    import yaml

    want = Path(folder).expanduser().resolve()
    for build in sorted((builds_dir or BASE_BUILDS_DIR).glob("*.yaml")):
        try:
            out = (yaml.safe_load(build.read_text(encoding="utf-8")) or {}).get("output_dir")
        except (OSError, yaml.YAMLError, AttributeError):
            continue
        if isinstance(out, str) and out and want.is_relative_to(Path(out).expanduser().resolve()):
            return build
    return None


def _check_data_folders(cfg: dict[str, Any], path: Path) -> None:
    for key, dataset in _loader_datasets(cfg):
        for sub, folder in local_mds_folders(dataset):
            reason = missing_reason(folder)
            if reason:
                build = base_build_making(folder)
                how = f"csmpt base build {build}" if build else "csmpt prep <data_prep config>"
                raise DataError(
                    f"{describe_key(path, f'{key}.{sub}')}: data folder '{folder}' {reason}; "
                    f"build it with `{how}` or fix the path"
                )


def _warn_eval_on_train(cfg: dict[str, Any], path: Path) -> None:
    """Warn when an eval loader reads a folder the train loader trains on.

    A train_loader copied to eval_loader with ``split: train`` left as it was: every eval
    number is then training loss, not held-out, and nothing else says so.
    """
    train: set[Path] = set()
    evals: list[tuple[str, dict[str, Any]]] = []
    for key, dataset in _loader_datasets(cfg):
        if key.startswith("train_loader"):
            train.update(f.resolve() for _, f in local_mds_folders(dataset))
        else:
            evals.append((key, dataset))
    for key, dataset in evals:
        for sub, folder in local_mds_folders(dataset):
            if folder.resolve() in train:
                log.warning(
                    "%s: '%s' is also what train_loader trains on: its eval numbers are "
                    "training loss, not held-out text (a val split: split: val)",
                    describe_key(path, f"{key}.{sub}"),
                    folder,
                )


def _check_tokenizer(cfg: dict[str, Any], path: Path) -> None:
    tok = cfg.get("tokenizer") or {}
    name = tok.get("name") if isinstance(tok, dict) else None
    if not isinstance(name, str):
        raise ConfigError(f"{describe_key(path, 'tokenizer.name')} is missing")
    p = Path(name).expanduser()
    if not looks_local(name):
        _check_hub_tokenizer(name, path)
        return
    check_named_tokenizer(name, describe_key(path, "tokenizer.name"))
    model = cfg.get("model") or {}
    vocab = model.get("vocab_size")
    if vocab is None and isinstance(model.get("config_overrides"), dict):
        vocab = model["config_overrides"].get("vocab_size")
    if isinstance(vocab, int) and (p / "tokenizer.json").is_file():
        n = tokenizer_size(p)
        if n > vocab:
            raise ConfigError(
                f"{describe_key(path, 'model.vocab_size')}: the model's vocab_size {vocab} is "
                f"smaller than the tokenizer's {n} tokens ({name})"
            )


def _check_corpus_tokenizer(cfg: dict[str, Any], path: Path) -> None:
    """Every local data folder (loaders, hot swaps) was encoded by the recipe's tokenizer.

    A local tokenizer folder or a hub id (its ``tokenizer.json`` from the HF cache): a recipe
    left at the English hub tokenizer over Czech shards is refused, not trained.
    """
    from csmpt.mds.manifest import tokenizer_mismatch
    from csmpt.recipe.swap_schedule import hot_swap_spec

    name = (cfg.get("tokenizer") or {}).get("name")
    found = _tokenizer_json(name) if isinstance(name, str) else None
    if found is None:  # a hub tokenizer is read from the HF cache (_check_tokenizer filled it)
        return
    datasets = list(_loader_datasets(cfg))
    swaps = (hot_swap_spec(cfg) or {}).get("swaps") or []
    datasets += [
        (f"callbacks.csmpt_hot_swap.swaps.{i}.dataset", s["dataset"])
        for i, s in enumerate(swaps)
        if isinstance(s, dict) and isinstance(s.get("dataset"), dict)
    ]
    for key, dataset in datasets:
        for sub, folder in local_mds_folders(dataset):
            why = tokenizer_mismatch(folder, found.parent, label=name)
            if why:
                raise DataError(
                    f"{describe_key(path, f'{key}.{sub}')}: data folder '{folder}' {why}; "
                    f"rebuild it with tokenizer.name ({name}) or fix the path"
                )


def _check_hub_tokenizer(name: str, path: Path) -> None:
    """Load a hub tokenizer now (cached afterwards), so an offline machine fails in one line."""
    from transformers import AutoTokenizer

    try:
        AutoTokenizer.from_pretrained(name)
    except (OSError, ValueError) as e:
        reason = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise DataError(
            f"{describe_key(path, 'tokenizer.name')}: cannot load tokenizer '{name}' from the "
            f"HF hub ({reason}); without network access, point tokenizer.name at a local "
            "tokenizer folder"
        ) from None


def _check_icl_tasks(cfg: dict[str, Any], path: Path, raw: dict[str, Any]) -> None:
    from csmpt.eval.icl import check_hub_dataset, check_mc_jsonl, is_hub_uri

    tasks = cfg.get("icl_tasks")
    if not isinstance(tasks, list):
        return
    raw_icl = raw.get("icl_tasks")
    raw_tasks: list[Any] = raw_icl if isinstance(raw_icl, list) else []
    for i, task in enumerate(tasks):
        uri = task.get("dataset_uri") if isinstance(task, dict) else None
        key = f"icl_tasks.{i}.dataset_uri"
        if isinstance(uri, str) and is_hub_uri(uri):
            # The override that points the task at a local copy: the variable it comes from.
            raw_uri = str((raw_tasks[i] if i < len(raw_tasks) else {}).get("dataset_uri", ""))
            override = raw_uri[2:-1] if raw_uri.startswith("${") else key
            loading_vars = task.get("hf_loading_vars")
            check_hub_dataset(uri, loading_vars, describe_key(path, key), override)
        elif isinstance(uri, str) and _is_local_path(uri) and not Path(uri).is_file():
            raise DataError(f"{describe_key(path, key)}: eval file '{uri}' does not exist")
        elif isinstance(uri, str) and task.get("icl_task_type") == "multiple_choice":
            check_mc_jsonl(uri)


def _check_hot_swap(cfg: dict[str, Any], path: Path) -> None:
    """Check a csmpt_hot_swap schedule now, not at step 26,500."""
    from csmpt.recipe.swap_schedule import check_swaps, hot_swap_spec, parse_swaps

    spec = hot_swap_spec(cfg)
    if spec is None:
        return

    try:
        check_swaps(parse_swaps(spec.get("swaps") or []), cfg)
    except (ConfigError, DataError) as e:
        raise type(e)(f"{path}: {e}") from None


def _where(path: Path, key: str, overrides: Sequence[str]) -> str:
    """``override 'key=...'`` when the last override setting ``key`` came from the command line."""
    for item in reversed(overrides):
        set_key = item.partition("=")[0].strip()
        if key == set_key or key.startswith(set_key + "."):
            return f"override '{item}': key '{key}'"
    return describe_key(path, key)


def _check_values(cfg: dict[str, Any], path: Path, overrides: Sequence[str]) -> None:
    found = value_problem(cfg)
    if found is not None:
        key, value, allowed = found
        raise ConfigError(f"{_where(path, key, overrides)} is {value!r}; expected {allowed}")


def _resumable(cfg: dict[str, Any]) -> bool:
    """Whether Composer's autoresume will find a checkpoint in the local save folder."""
    return _resume_checkpoint(cfg) is not None


def _check_save_folder(cfg: dict[str, Any], path: Path, overrides: Sequence[str]) -> None:
    """Refuse a local ``save_folder`` with a file in its place (or above it) now.

    Not after llm-foundry has loaded (seconds), as the folder's first write would.
    """
    from csmpt.atomic import file_in_the_way

    save = cfg.get("save_folder")
    if not isinstance(save, str) or not save or not _is_local_path(save):
        return
    blocker = file_in_the_way(Path(save).expanduser())
    if blocker is not None:
        where = _where(path, "save_folder", overrides)
        raise ConfigError(f"{where}: '{blocker}' is a file, not a folder; name a run folder")


def _check_load_path(
    cfg: dict[str, Any], path: Path, overrides: Sequence[str], starting: bool
) -> None:
    """A local ``load_path`` must be a Composer checkpoint: a torch zip/tar file or a folder.

    A missing one is refused when the run starts, unless autoresume will resume from the save
    folder (Composer then ignores ``load_path``); before a job is queued (``starting`` False) it
    may still be written by an earlier job (a surgery), so it is only warned about.
    """
    load = cfg.get("load_path")
    if not isinstance(load, str) or not load or not _is_local_path(load):
        return
    p = Path(load).expanduser()
    where = _where(path, "load_path", overrides)
    if not p.exists():
        if not starting:
            log.warning(
                "%s: '%s' does not exist yet: the job stops if it still does not", where, load
            )
        elif not _resumable(cfg):
            raise DataError(
                f"{where}: '{load}' does not exist (and save_folder has no checkpoint to resume "
                "from); run the step that writes it (csmpt surgery) or fix the path"
            )
        return
    if p.is_file() and not (zipfile.is_zipfile(p) or tarfile.is_tarfile(p)):
        raise DataError(
            f"{where}: '{load}' is not a Composer checkpoint (a torch .pt zip file); "
            "point it at a *-rank0.pt file of a run's save_folder or a surgery's model.pt"
        )


def _resume_checkpoint(cfg: dict[str, Any]) -> Path | None:
    """The checkpoint Composer's autoresume will load from the local save folder (or None)."""
    from csmpt.training.resume_guard import checkpoint_names, list_checkpoints

    names = checkpoint_names(cfg)
    if not cfg.get("autoresume") or names is None or not names.folder.is_dir():
        return None
    found = list_checkpoints(names.folder, names.filename, names.sharded_dir)
    return found[-1].path if found else None


def _tokenizer_json(name: str) -> Path | None:
    """The ``tokenizer.json`` a recipe's ``tokenizer.name`` means, if it is on this machine.

    A local folder's own file; for a hub id, the copy in the HF cache (``_check_tokenizer``
    has loaded it by then, so it is there whenever the run could load it), read without
    network. None when there is none (a tokenizer without a fast ``tokenizer.json``).
    """
    if looks_local(name):
        local = Path(name).expanduser() / "tokenizer.json"
        return local if local.is_file() else None
    from transformers.utils.hub import cached_file

    try:
        found = cached_file(
            name,
            "tokenizer.json",
            local_files_only=True,
            _raise_exceptions_for_missing_entries=False,
            _raise_exceptions_for_connection_errors=False,
        )
    except (OSError, ValueError):  # not a repo id, or not in the cache
        return None
    return Path(found) if found else None


def _check_checkpoint_tokenizer(cfg: dict[str, Any], path: Path, overrides: Sequence[str]) -> None:
    """The checkpoint the run starts from, saved with another tokenizer: refused.

    That is the one autoresume finds in ``save_folder`` (a folder reused from a run of another
    language), else a local ``load_path`` (the English base's checkpoint where its surgery
    output was meant). Either has the same shapes (one vocabulary size): the run would train
    Czech text on English embedding rows, silently. Compared: the vocabulary a checkpoint saved
    (a sample of it from a sharded folder) against the recipe tokenizer's ``tokenizer.json``.
    """
    name = (cfg.get("tokenizer") or {}).get("name")
    tok_json = _tokenizer_json(name) if isinstance(name, str) else None
    if tok_json is None:
        return
    ckpt = _resume_checkpoint(cfg)
    if ckpt is not None:
        where = f"{_where(path, 'save_folder', overrides)}: its checkpoint {ckpt.name}"
        advice = (
            "it holds a run of another vocabulary: name another save_folder (or archive that "
            "run with csmpt train --fresh)"
        )
    else:
        load = cfg.get("load_path")
        if not (isinstance(load, str) and load and _is_local_path(load)):
            return
        ckpt = Path(load).expanduser()
        where = f"{_where(path, 'load_path', overrides)}: {load}"
        advice = (
            "point load_path at a checkpoint of this vocabulary (after a vocabulary swap: the "
            "surgery's model.pt, not the base model)"
        )
    import json

    from csmpt.checkpoint.loading import torch_load_mmap
    from csmpt.checkpoint.saved_tokenizer import (
        check_vocab_match,
        saved_vocab,
        sharded_saved_vocab,
        tokenizer_json_vocab,
    )
    from csmpt.checkpoint.sharded import is_sharded_checkpoint

    saved: dict[int, str] | None = None
    try:
        if is_sharded_checkpoint(ckpt):  # FSDP's sharded (DCP) folder: a sample of its vocabulary
            saved = sharded_saved_vocab(ckpt)
        elif ckpt.is_file() and zipfile.is_zipfile(ckpt):
            state = torch_load_mmap(ckpt, weights_only=False).get("state", {})
            integrations = state.get("integrations") if isinstance(state, dict) else None
            saved = saved_vocab(integrations) if isinstance(integrations, dict) else None
    except Exception:  # noqa: BLE001 - an unreadable checkpoint is the resume guard's to handle
        return
    mine = tokenizer_json_vocab(json.loads(tok_json.read_text(encoding="utf-8")))
    if saved is not None and mine is not None:
        check_vocab_match(saved, mine, where, f"tokenizer.name ({name})", advice)


def _check_kwargs(cfg: dict[str, Any], path: Path, overrides: Sequence[str]) -> None:
    """The optimizer's and scheduler's kwargs against their classes' signatures (llm-foundry)."""
    from llmfoundry import registry

    for section, reg in (("optimizer", registry.optimizers), ("scheduler", registry.schedulers)):
        spec = cfg.get(section)
        if not isinstance(spec, dict) or not isinstance(spec.get("name"), str):
            raise ConfigError(f"{describe_key(path, section)}: needs a 'name'")
        name = spec["name"]
        try:
            target = reg.get(name)
        except Exception:  # catalogue's RegistryError: the name is not registered
            known = ", ".join(sorted(reg.get_all()))
            where = _where(path, f"{section}.name", overrides)
            raise ConfigError(f"{where}: unknown {section} '{name}'; known: {known}") from None
        try:
            params = inspect.signature(target).parameters
        except (TypeError, ValueError):
            continue
        if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values()):
            continue
        allowed = [k for k in params if k not in ("self", "params")]
        assert isinstance(spec, dict)  # a name was read from it above
        for key in spec:
            if key != "name" and key not in allowed:
                raise ConfigError(
                    f"{_where(path, f'{section}.{key}', overrides)} is not an argument of "
                    f"{section} '{name}'; allowed: {', '.join(allowed)}"
                )


def _check_top_level_keys(
    cfg: DictConfig, path: Path, overrides: Sequence[str], extra: frozenset[str] = frozenset()
) -> None:
    allowed = train_config_keys() | extra
    for key in map(str, cfg):
        if key in allowed:
            continue
        home = WHERE_IT_BELONGS.get(key)
        hint = (
            f"it belongs under `{home}:`"
            if home
            else "put project settings under `variables:` or in a callback's kwargs"
        )
        from_cli = any(o.partition("=")[0].split(".")[0] == key for o in overrides)
        where = f"override '{key}=...'" if from_cli else describe_key(path, key)
        raise ConfigError(f"{where} is not a top-level key of llm-foundry's train config; {hint}")


def _model_keys(name: str) -> set[str] | None:
    """The ``model:`` keys llm-foundry's model ``name`` takes (None: not known to csmpt)."""
    if name in ("mpt_causal_lm", "csmpt_mpt_causal_lm"):
        from llmfoundry.models.mpt.configuration_mpt import MPTConfig
        from llmfoundry.models.mpt.modeling_mpt import ComposerMPTCausalLM

        targets: tuple[Any, ...] = (MPTConfig.__init__, ComposerMPTCausalLM.__init__)
    elif name == "hf_causal_lm":
        from llmfoundry.models.hf.hf_causal_lm import ComposerHFCausalLM

        targets = (ComposerHFCausalLM.__init__,)
    else:
        return None
    params = {p for t in targets for p in inspect.signature(t).parameters}
    return params - {"self", "kwargs"} | {"name"}


def _check_model_keys(cfg: dict[str, Any], path: Path, overrides: Sequence[str]) -> None:
    """Every ``model:`` key is one the model's class takes (a typo is not silently dropped)."""
    model = cfg.get("model")
    name = model.get("name") if isinstance(model, dict) else None
    allowed = _model_keys(name) if isinstance(name, str) else None
    if allowed is None or not isinstance(model, dict):
        return
    for key in model:
        if key not in allowed:
            raise ConfigError(
                f"{_where(path, f'model.{key}', overrides)} is not a setting of model '{name}'"
            )


def check_recipe_keys(yaml_path: str | Path, overrides: Sequence[str] = ()) -> None:
    """Check a recipe's top-level and ``model:`` keys only (``csmpt export`` / ``validate``).

    Raises:
        ConfigError: An unknown key, in the YAML or an override.
    """
    path = Path(yaml_path)
    cfg = load_yaml_with_overrides(path, overrides)
    expanded = expand_overrides(path, overrides)
    _check_top_level_keys(cfg, path, expanded, RUN_CONFIG_KEYS)
    raw = OmegaConf.to_container(cfg, resolve=False)
    assert isinstance(raw, dict)
    _check_model_keys({str(k): v for k, v in raw.items()}, path, expanded)


def check_recipe_tokenizer(yaml_path: str | Path, overrides: Sequence[str] = ()) -> None:
    """Check that a recipe's local ``tokenizer.name`` is a tokenizer folder here.

    For ``csmpt export`` / ``validate``, which build the recipe's tokenizer: a relative path read
    from another folder than the project's would otherwise reach the HF hub as a repo id.

    Raises:
        DataError: A local ``tokenizer.name`` that is no tokenizer folder here.
    """
    path = Path(yaml_path)
    cfg = load_yaml_with_overrides(path, overrides)
    try:
        name = OmegaConf.select(cfg, "tokenizer.name", default=None)
    except OmegaConfBaseException:
        name = None  # an interpolation that does not resolve: building the model says so
    if isinstance(name, str):
        check_named_tokenizer(name, describe_key(path, "tokenizer.name"))


def preflight(
    yaml_path: str | Path,
    overrides: Sequence[str] = (),
    deep: bool = True,
    starting: bool = True,
) -> DictConfig:
    """Load a training YAML with overrides and check it; return the (unresolved) config.

    Args:
        yaml_path: The training recipe.
        overrides: ``key=value`` overrides (and ``@FILE``).
        deep: Also check the optimizer's and scheduler's kwargs against their signatures,
            which imports llm-foundry (seconds); ``False`` keeps the check under a second.
        starting: The run starts now (a missing local ``load_path`` is an error); False when
            a job is only being queued (an earlier job may still write it).

    Raises:
        ConfigError: Unknown or missing key, bad override, broken interpolation.
        DataError: Missing data folder, tokenizer folder or eval file.
    """
    path = Path(yaml_path)
    cfg = load_yaml_with_overrides(path, overrides)
    _check_top_level_keys(cfg, path, overrides)
    for key in _REQUIRED:
        if key not in cfg:
            raise ConfigError(f"{path}: required top-level key '{key}' is missing")
    if "global_train_batch_size" not in cfg and "device_train_batch_size" not in cfg:
        raise ConfigError(
            f"{path}: set the batch size: 'global_train_batch_size' (or 'device_train_batch_size')"
        )
    try:
        container = OmegaConf.to_container(cfg, resolve=True)
    except OmegaConfBaseException as e:
        raise ConfigError(f"{describe_key(path, str(e.full_key))}: {e.msg}") from None
    assert isinstance(container, dict)
    resolved: dict[str, Any] = {str(k): v for k, v in container.items()}
    from csmpt.checkpoint.surgery_shapes import surgery_shapes  # shapes as the run will see them

    resolved = surgery_shapes(resolved)
    expanded = expand_overrides(path, overrides)
    _check_values(resolved, path, expanded)
    _check_save_folder(resolved, path, expanded)
    _check_load_path(resolved, path, expanded, starting)
    if deep:
        _check_model_keys(resolved, path, expanded)
        _check_kwargs(resolved, path, expanded)
    _check_data_folders(resolved, path)
    _warn_eval_on_train(resolved, path)
    _check_tokenizer(resolved, path)  # a hub tokenizer is in the HF cache after it
    if deep:
        _check_checkpoint_tokenizer(resolved, path, expanded)
    _check_corpus_tokenizer(resolved, path)
    tok = resolved.get("tokenizer") or {}  # pad-packed shards: a pad token that is not EOS
    check_pad_shards(_loader_datasets(resolved), tok.get("name"), str(path))
    raw = OmegaConf.to_container(cfg, resolve=False)
    assert isinstance(raw, dict)
    _check_icl_tasks(resolved, path, {str(k): v for k, v in raw.items()})
    _check_hot_swap(resolved, path)
    _check_mixtures(resolved, path)
    return cfg


def _check_mixtures(cfg: dict[str, Any], path: Path) -> None:
    """Check each mixture's stream weights as streaming will apply them.

    Two weights on a stream, a negative one, or ``proportion`` beside ``repeat`` fail now, not
    in every rank's data loader.
    """
    from csmpt.recipe.mixture import mixture_shares, recipe_mixtures

    for label, dataset in recipe_mixtures(cfg):
        try:
            mixture_shares(dataset, label)
        except ConfigError as e:
            raise ConfigError(f"{path}: {e}") from None
