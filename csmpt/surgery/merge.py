"""Weight merging: linear interpolation of two checkpoints, or the average of several.

``csmpt merge A B --alpha 0.5 OUT`` writes ``(1 - alpha) * A + alpha * B`` for every floating
tensor of the two models (``alpha = 0``: A, ``alpha = 1``: B); a run's last N checkpoints, or
any N models, are averaged with equal weights (1/N each). Uses: a point between the base
model and the adapted one (forgetting vs gain, Ilharco et al.'s weight interpolation), or an
average of the last checkpoints of a run (a cheap stand-in for an EMA of the weights).

Inputs are what :func:`csmpt.surgery.io.load_source` reads (a Composer ``.pt`` with model
weights, e.g. a run's ``ep*-ba*-rank0.pt``, or an HF folder), memory-mapped; every model must
have the same tensor names and shapes (one error line names the first that differs). The
output has the first input's config and format and each tensor's dtype; the arithmetic is done
in float32, one tensor at a time. Integer tensors (buffers) are copied from the first input.

Output of one merge (a folder):

* Composer inputs: ``OUT/model.pt``, a weights-only Composer checkpoint (``csmpt export
  OUT/model.pt HF --train-yaml RECIPE``; train with ``load_path`` + ``load_weights_only``);
* HF inputs: ``OUT`` is an HF folder (the first input's tokenizer files are copied when it has
  them), usable as a ``models:`` entry of an eval recipe.

With texts, each merge is also scored in bits per byte (:func:`csmpt.eval.bpb.score_documents`)
and ``merge.json`` holds the path: alpha (or the averaged inputs) -> bpb per text.
"""

from __future__ import annotations

import json
import logging
import shutil
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch

from csmpt.atomic import check_replaceable, make_temp_dir, replace_dir
from csmpt.checkpoint.saved_tokenizer import (
    check_saved_tokenizer,
    saved_tokenizer,
    saved_vocab,
    vocab_conflicts,
)
from csmpt.errors import ConfigError, DataError
from csmpt.surgery.io import ModelWeights, load_source, write_composer_checkpoint, write_hf_dir

__all__ = [
    "MergePoint",
    "check_compatible",
    "interpolation_coefficients",
    "merge_states",
    "merge_weights",
    "read_texts",
    "run_merge",
    "score_texts",
    "write_merged",
]

log = logging.getLogger(__name__)

_MARKS = ("merge.json",)  # what every merge output folder holds

_TOKENIZER_FILES = (
    "tokenizer.json",
    "tokenizer_config.json",
    "special_tokens_map.json",
    "tokenizer.model",
    "vocab.json",
    "merges.txt",
    "added_tokens.json",
)


@dataclass
class MergePoint:
    """One merged model: its coefficients per input, where it went, and its scores.

    Attributes:
        alpha: The interpolation weight of the second input (None: an average).
        coefficients: Weight of each input, summing to 1.
        path: The output (``model.pt`` or an HF folder).
        bpb: Text name -> bits per byte (when texts were given).
    """

    alpha: float | None
    coefficients: list[float]
    path: str
    bpb: dict[str, float] = field(default_factory=dict)


def interpolation_coefficients(alpha: float) -> list[float]:
    """``[1 - alpha, alpha]``: the weights of A and B.

    Raises:
        ConfigError: ``alpha`` is not in [0, 1] (extrapolation is not interpolation).
    """
    if not 0.0 <= alpha <= 1.0:
        raise ConfigError(
            f"--alpha {alpha}: must be in [0, 1] (0 is the first model, 1 the second)"
        )
    return [1.0 - alpha, alpha]


def check_compatible(models: Sequence[ModelWeights]) -> None:
    """Raise unless every model has the first one's family, tensor names and shapes.

    Raises:
        DataError: One line naming the model and the first tensor that differs.
    """
    first = models[0]
    for other in models[1:]:
        if other.family != first.family:
            raise DataError(
                f"{other.source}: a {other.family} model; {first.source} is {first.family}"
            )
        missing = sorted(set(first.state) ^ set(other.state))
        if missing:
            where = first.source if missing[0] not in first.state else other.source
            raise DataError(
                f"{other.source}: tensor '{missing[0]}' is not in {where} "
                f"({len(missing)} names differ); merged models need the same tensors"
            )
        for key, t in first.state.items():
            if tuple(t.shape) != tuple(other.state[key].shape):
                raise DataError(
                    f"{other.source}: tensor '{key}' has shape {tuple(other.state[key].shape)}, "
                    f"{first.source} has {tuple(t.shape)}; merged models need the same shapes"
                )
    _check_same_vocabulary(models)


def _check_same_vocabulary(models: Sequence[ModelWeights]) -> None:
    """Raise when two Composer inputs were saved with different tokenizers.

    The English base and its Czech-trained descendant have the same shapes, but row ``i`` of
    their embeddings is another token: the merge would average unrelated rows. (A surgery
    output saves no tokenizer and is not compared.)
    """
    saved = [(m, v) for m in models if (v := saved_vocab(m.integrations)) is not None]
    for (m, v), (n, w) in zip(saved, saved[1:], strict=False):
        bad = vocab_conflicts(v, w)
        if bad:
            raise DataError(
                f"{n.source}: saved with another tokenizer than {m.source} ({len(bad)} token "
                f"ids differ, e.g. id {bad[0]}: {v[bad[0]]!r} vs {w[bad[0]]!r}); merge models "
                "of one vocabulary (after a vocabulary swap: the surgery output, not the base)"
            )


def merge_states(
    states: Sequence[Mapping[str, torch.Tensor]], coefficients: Sequence[float]
) -> dict[str, torch.Tensor]:
    """``sum_i coefficients[i] * states[i][k]`` for each key, in float32, in the first's dtype.

    Non-floating tensors are taken from the first state. Shared tensors (a tied embedding
    under two names) stay shared.

    Raises:
        ValueError: As many coefficients as states are needed.
    """
    if len(states) != len(coefficients) or not states:
        raise ValueError(f"{len(states)} states but {len(coefficients)} coefficients")
    out: dict[str, torch.Tensor] = {}
    done: dict[int, torch.Tensor] = {}  # data_ptr of the first state's tensor -> merged
    for key, first in states[0].items():
        if not first.is_floating_point():
            out[key] = first
            continue
        ptr = first.data_ptr() if first.numel() else -1
        if ptr in done and done[ptr].shape == first.shape:
            out[key] = done[ptr]
            continue
        acc = torch.zeros(first.shape, dtype=torch.float32)
        for state, c in zip(states, coefficients, strict=True):
            acc.add_(state[key].float(), alpha=float(c))
        out[key] = acc.to(first.dtype)
        if ptr != -1:
            done[ptr] = out[key]
    return out


def merge_weights(models: Sequence[ModelWeights], coefficients: Sequence[float]) -> ModelWeights:
    """The merged model: the first model's config with the merged tensors.

    Raises:
        DataError: The models do not have the same tensors (:func:`check_compatible`).
    """
    check_compatible(models)
    state = merge_states([m.state for m in models], coefficients)
    first = models[0]
    # The saved tokenizer travels (they all agree): export and validate then check it too.
    integrations = next((m.integrations for m in models if saved_vocab(m.integrations)), {})
    return ModelWeights(
        first.config, state, first.source, first.code_files, first.normalised, integrations
    )


def _tokenizer_of(src: Path) -> Any | None:
    """The tokenizer of HF folder ``src`` (None when it has no tokenizer files)."""
    if not src.is_dir() or not any((src / f).is_file() for f in _TOKENIZER_FILES):
        return None
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(str(src))


def write_merged(weights: ModelWeights, folder: Path) -> Path:
    """Write ``weights`` into ``folder`` in the first input's format.

    Returns:
        What an eval or export loads: ``folder/model.pt`` (Composer) or ``folder`` (HF).
    """
    src = Path(weights.source)
    if src.is_dir():
        write_hf_dir(weights, folder, _tokenizer_of(src))
        return folder
    folder.mkdir(parents=True, exist_ok=True)
    write_composer_checkpoint(weights, folder / "model.pt")
    return folder / "model.pt"


def score_texts(
    weights: ModelWeights, tokenizer: Any, texts: Mapping[str, Sequence[str]], window: int
) -> dict[str, float]:
    """Bits per byte of the model ``weights`` on each named list of documents.

    ``window`` tokens per scored window, capped by the model's position limit.
    """
    from csmpt.eval.bpb import score_documents, score_window
    from csmpt.surgery.io import build_model

    model = build_model(weights)
    win = score_window(model, window)
    return {name: score_documents(model, tokenizer, docs, win).bpb for name, docs in texts.items()}


def read_texts(files: Mapping[str, str | Path]) -> dict[str, list[str]]:
    """Name -> the documents of a text file (``.jsonl``/``.txt``, as the corpus readers take)."""
    from csmpt.corpus.readers import expand_inputs, read_documents

    texts: dict[str, list[str]] = {}
    for name, path in files.items():
        found = expand_inputs([str(path)])
        if len(found) > 1:
            # A corpus folder often holds train and held-out files side by side: scoring both
            # mixes text the model trained on into the score, so say what is read.
            log.warning(
                "text '%s': %s holds %d files, all scored as one text (%s); name one file to "
                "score held-out text alone",
                name,
                path,
                len(found),
                ", ".join(f.name for f in found[:4]) + (", ..." if len(found) > 4 else ""),
            )
        texts[name] = [d.text for d in read_documents(found)]
    return texts


def _inputs(inputs: Sequence[str | Path], last: int | None) -> list[Path]:
    """The model files/folders to merge: ``inputs``, or a run folder's last ``last`` checkpoints."""
    from csmpt.checkpoint.loading import find_checkpoints

    if last is None:
        paths = [Path(p) for p in inputs]
    else:
        if len(inputs) != 1:
            raise ConfigError(f"--last {last} takes one run folder; got {len(inputs)} inputs")
        ckpts = find_checkpoints(inputs[0])
        if not 2 <= last <= len(ckpts):
            raise ConfigError(
                f"--last {last}: {inputs[0]} holds {len(ckpts)} checkpoints; average 2 to "
                f"{len(ckpts)} of them"
            )
        paths = [c.path for c in ckpts[-last:]]
    if len(paths) < 2:
        raise ConfigError(
            f"merge needs at least two models (or a run folder and --last N); got {len(paths)}"
        )
    return paths


def run_merge(
    inputs: Sequence[str | Path],
    out: Path,
    alphas: Sequence[float] = (),
    last: int | None = None,
    texts: Mapping[str, Sequence[str]] | None = None,
    tokenizer: Any | None = None,
    window: int = 512,
    force: bool = False,
    write_models: bool = True,
) -> list[MergePoint]:
    """Merge models into ``out``: one interpolation per alpha, or one average.

    Two inputs with ``alphas``: ``(1 - alpha) * A + alpha * B`` for each alpha. Otherwise all
    inputs (or a run folder's ``last`` checkpoints) averaged. One merge is written as ``out``
    itself (``out/model.pt`` or an HF folder), several as ``out/alpha_<alpha>/``; ``out``
    also gets ``merge.json``. Everything is written to a temporary sibling first: nothing of
    an existing ``out`` is lost unless ``force`` and the merge succeeded.

    Args:
        inputs: Composer checkpoints or HF folders (or one run folder with ``last``).
        out: The output folder.
        alphas: Weights of the second input; empty: average.
        last: Average the last ``last`` checkpoints of the run folder ``inputs[0]``.
        texts: Name -> documents to score each merge on (bits per byte).
        tokenizer: The models' tokenizer (needed with ``texts``; default: the first input's
            tokenizer files (HF) or the tokenizer a Composer input was saved with). Checked
            against the inputs' saved tokenizers.
        window: Tokens per scored window (capped by the model's position limit).
        force: Replace an existing ``out``.
        write_models: Write each merged model; False: only ``merge.json`` and its scores
            (each point's ``path`` is then empty).

    Raises:
        ConfigError: Bad alpha, inputs or options, or ``out`` exists without ``force``.
        DataError: An input is not a model, or the models differ in tensors or shapes.
    """
    check_replaceable(out, _MARKS, "output", "merge")
    if out.exists() and not force:
        raise ConfigError(f"output '{out}' already exists; pass --force to replace it")
    paths = _inputs(inputs, last)
    if alphas and len(paths) != 2:
        raise ConfigError(
            f"--alpha interpolates two models; got {len(paths)} (without --alpha they are averaged)"
        )
    repeated = sorted({a for a in alphas if list(alphas).count(a) > 1})
    if repeated:
        raise ConfigError(f"--alpha {repeated[0]:g} is given twice; each alpha writes one merge")
    plan = [(float(a), interpolation_coefficients(a)) for a in alphas]
    if not plan:
        plan = [(None, [1.0 / len(paths)] * len(paths))]  # type: ignore[list-item]
    if texts and window < 2:
        raise ConfigError(f"--window {window}: need at least 2 tokens per scored window")
    models = load_all(paths)
    check_compatible(models)
    if texts:
        tokenizer = _scoring_tokenizer(models, tokenizer)
    tmp = make_temp_dir(out)
    points: list[MergePoint] = []
    try:
        for alpha, coefficients in plan:
            sub = tmp if len(plan) == 1 else tmp / f"alpha_{alpha:g}"
            merged = merge_weights(models, coefficients)
            final = ""
            if write_models:
                final = str(out / write_merged(merged, sub).relative_to(tmp))
            point = MergePoint(alpha, list(coefficients), final)
            if texts:
                point.bpb = score_texts(merged, tokenizer, texts, window)
            log.info("merged %s -> %s %s", coefficients, final, point.bpb)
            points.append(point)
            del merged
        write_path(points, [str(p) for p in paths], tmp)
        replace_dir(tmp, out, _MARKS, "merge")
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return points


def _scoring_tokenizer(models: Sequence[ModelWeights], tokenizer: Any | None) -> Any:
    """The tokenizer that scores the texts.

    The given one, checked against each input's saved tokenizer; else the first HF input's
    tokenizer files or a Composer input's saved tokenizer.

    Raises:
        ConfigError: None given and no input holds one.
        DataError: The given tokenizer is not the one the inputs were saved with.
    """
    if tokenizer is not None:
        for m in models:
            check_saved_tokenizer(saved_vocab(m.integrations), tokenizer, m.source, "--tokenizer")
        return tokenizer
    found = _tokenizer_of(models[0].source)
    for m in models:
        found = found or saved_tokenizer(m.integrations)
    if found is None:
        raise ConfigError("--text needs --tokenizer (no input holds its tokenizer)")
    return found


def write_path(points: Sequence[MergePoint], inputs: Sequence[str], folder: Path) -> None:
    """Write ``folder/merge.json``: the inputs and each merged model's coefficients and bpb."""
    body = {"inputs": list(inputs), "points": [asdict(p) for p in points]}
    (folder / "merge.json").write_text(json.dumps(body, indent=2) + "\n", encoding="utf-8")


def load_all(paths: Sequence[str | Path]) -> list[ModelWeights]:
    """:func:`load_source` each input, memory-mapped.

    Raises:
        DataError: An input is not a readable model.
    """
    return [load_source(p) for p in paths]
