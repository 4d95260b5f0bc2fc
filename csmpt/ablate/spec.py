"""An ablation spec: one training recipe, named variants of it, seeds, and the metrics to compare.

``csmpt ablate SPEC.yaml`` reads it (``yamls/ablate/tiny.yaml``)::

    recipe: yamls/tiny/mpt.yaml
    output_dir: artifacts/demo/ablate/lr
    overrides: [max_duration=12ba]          # every run
    seeds: [17, 18]
    metrics: [metrics/eval/LanguageCrossEntropy, loss/train/total]   # the first decides
    variants:
      - name: lr-2e-3                       # the first variant is the baseline
        overrides: [optimizer.lr=2.0e-3]
      - name: lr-6e-3
        overrides: [optimizer.lr=6.0e-3, "@my.overrides"]
    targets:                                # optional: tokens each run took to reach a value
      - {metric: metrics/eval/LanguageCrossEntropy, value: 7.5}

Each variant x seed is one ``csmpt train`` run of ``recipe`` with the spec's overrides, the
variant's, then ``seed=S`` and the run's own save folder ``OUTPUT_DIR/VARIANT/seed-S/``
(:func:`run_overrides`).

An adaptation ablation compares surgeries: with a ``surgery`` recipe, each run first runs
``csmpt surgery`` (the spec's surgery overrides, the variant's ``surgery`` list, ``seed=S``,
``output.dir=OUTPUT_DIR/VARIANT/surgery-S``) and trains from its ``model.pt``
(``load_path``, ``load_weights_only``); a variant with ``scratch: true`` skips it and trains
from random weights (the "train from scratch on the target text" baseline)::

    surgery:
      recipe: yamls/surgery/base_en_to_cs.yaml
    variants:
      - name: mean
        surgery: [vocab_swap.init=mean]
      - name: scratch
        scratch: true

With a ``merge`` section, each surgery run's path from its surgery (α 0) to its trained model
(α 1) is scored too (``csmpt merge --alpha``, :mod:`csmpt.ablate.merging`): bits per byte of
each named text at each α, with the run's own tokenizer, mean ± CI over seeds and paired with
α 1 in ``verdict.md`` and ``merge.csv``::

    merge:
      texts: {cs: heldout_cs.jsonl, en: heldout_en.jsonl}
      alphas: [0, 0.25, 0.5, 0.75, 1]       # the default; α 1 is always scored
      variants: [focus]                      # default: every variant with a surgery
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from omegaconf import MISSING

from csmpt.config import (
    at_least,
    build_structured,
    describe_key,
    in_range,
    load_yaml_with_overrides,
)
from csmpt.errors import ConfigError

__all__ = [
    "AblationRun",
    "AblationSpec",
    "MergeSpec",
    "SurgerySpec",
    "TargetSpec",
    "VariantSpec",
    "check_merge_texts",
    "has_surgery",
    "load_spec",
    "merge_alphas",
    "merged_variants",
    "plan_runs",
    "run_overrides",
    "surgery_overrides",
]

_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")


@dataclass
class VariantSpec:
    """One variant of the recipe.

    Attributes:
        name: Its name: a folder name (letters, digits, ``.``, ``_``, ``-``).
        overrides: ``key=value`` overrides of the recipe and ``@FILE`` override files, as
            ``csmpt train`` takes them; empty for the recipe as it is.
        surgery: Overrides of the spec's surgery recipe for this variant (``vocab_swap.init=
            focus``).
        scratch: Train from random weights: no surgery, no ``load_path``.
    """

    name: str = MISSING
    overrides: list[str] = field(default_factory=list)
    surgery: list[str] = field(default_factory=list)
    scratch: bool = False


@dataclass
class SurgerySpec:
    """The surgery every run starts from (none when ``recipe`` is empty).

    Attributes:
        recipe: A ``csmpt surgery`` YAML.
        overrides: Its overrides for every run, before the variant's ``surgery`` list.
    """

    recipe: str = ""
    overrides: list[str] = field(default_factory=list)


@dataclass
class TargetSpec:
    """A value of a metric to reach: the table gives the tokens each run needed to reach it.

    Attributes:
        metric: One of the spec's ``metrics`` (an eval metric; evaluate often enough,
            ``eval_interval``, for the figure to mean something).
        value: The value to reach: at or below it (at or above with ``higher_is_better``).
    """

    metric: str = MISSING
    value: float = MISSING


@dataclass
class MergeSpec:
    """Score each surgery run's interpolation path, surgery (α 0) to trained model (α 1).

    Attributes:
        texts: Name -> a held-out file (``.jsonl``/``.txt``, as ``csmpt merge --text``) to
            score in bits per byte; empty (the default): no merges.
        alphas: The weights of the trained model, each in [0, 1]; α 1 is scored even when not
            listed (every α is compared with it).
        variants: The variants whose runs are merged; empty: every variant with a surgery.
        tokenizer: The tokenizer that scores the texts; empty: each run's own
            (``tokenizer.name`` of its recipe and overrides).
        window: Tokens per scored window (capped by the model's position limit).
        keep_models: Keep each merged model (``model.pt`` per α) beside ``merge.json``; by
            default only the scores are kept (``csmpt merge`` writes a model worth keeping).
    """

    texts: dict[str, str] = field(default_factory=dict)
    alphas: list[float] = field(default_factory=lambda: [0.0, 0.25, 0.5, 0.75, 1.0])
    variants: list[str] = field(default_factory=list)
    tokenizer: str = ""
    window: int = field(default=512, metadata=at_least(16))
    keep_models: bool = False


@dataclass
class AblationSpec:
    """What ``csmpt ablate`` runs and compares.

    Attributes:
        recipe: The training recipe every run starts from (a ``csmpt train`` YAML).
        output_dir: Where the runs (``VARIANT/seed-S/``), ``ablation.csv`` and ``verdict.md`` go.
        variants: The variants, the first one the baseline the others are compared with.
        seeds: The seeds each variant runs with (``seed=S``); three or more give intervals
            worth reading, one gives none.
        metrics: ``metrics.jsonl`` metric names; the first decides the verdict.
        higher_is_better: The first metric is better high (an accuracy), not low (a loss).
        overrides: Overrides applied to every run, before the variant's.
        level: Confidence level of the intervals.
        surgery: The surgery each run starts from (none by default).
        targets: Metric values to reach: tokens needed per run, mean ± CI over seeds.
        merge: The interpolation paths to score (none by default).
    """

    recipe: str = MISSING
    output_dir: str = MISSING
    variants: list[VariantSpec] = MISSING
    seeds: list[int] = MISSING
    metrics: list[str] = field(
        default_factory=lambda: ["metrics/eval/LanguageCrossEntropy", "loss/train/total"]
    )
    higher_is_better: bool = False
    overrides: list[str] = field(default_factory=list)
    level: float = field(default=0.95, metadata=in_range(0.5, 1.0))
    surgery: SurgerySpec = field(default_factory=SurgerySpec)
    targets: list[TargetSpec] = field(default_factory=list)
    merge: MergeSpec = field(default_factory=MergeSpec)


@dataclass(frozen=True)
class AblationRun:
    """One training run of the ablation.

    Attributes:
        variant: The variant's name.
        seed: The run's seed.
        folder: Its save folder, ``OUTPUT_DIR/VARIANT/seed-S``.
        overrides: All its overrides for ``csmpt train``, in order.
        surgery: Its ``csmpt surgery`` overrides (``output.dir`` last); None: no surgery.
    """

    variant: str
    seed: int
    folder: Path
    overrides: tuple[str, ...]
    surgery: tuple[str, ...] | None = None

    @property
    def surgery_dir(self) -> Path | None:
        """The surgery's output folder, ``OUTPUT_DIR/VARIANT/surgery-S`` (None: no surgery)."""
        return None if self.surgery is None else self.folder.parent / f"surgery-{self.seed}"

    @property
    def merge_dir(self) -> Path:
        """Where its merge path goes: ``OUTPUT_DIR/VARIANT/merge-S`` (``merge.json``)."""
        return self.folder.parent / f"merge-{self.seed}"


def _check(spec: AblationSpec, path: Path) -> None:
    """What the schema cannot say: names, duplicates, empty lists."""
    if not spec.variants:
        raise ConfigError(f"{describe_key(path, 'variants')}: give at least one variant")
    seen: set[str] = set()
    for i, v in enumerate(spec.variants):
        if not _NAME.fullmatch(v.name):
            raise ConfigError(
                f"{describe_key(path, f'variants.{i}.name')} is {v.name!r}; use letters, digits, "
                "'.', '_' and '-' (it names the variant's folder)"
            )
        if v.name in seen:
            raise ConfigError(
                f"{describe_key(path, f'variants.{i}.name')}: variant '{v.name}' is named twice"
            )
        seen.add(v.name)
    if not spec.seeds:
        raise ConfigError(f"{describe_key(path, 'seeds')}: give at least one seed")
    if len(set(spec.seeds)) != len(spec.seeds):
        raise ConfigError(f"{describe_key(path, 'seeds')}: a seed is listed twice: {spec.seeds}")
    if not spec.metrics:
        raise ConfigError(f"{describe_key(path, 'metrics')}: give at least one metric")
    for i, t in enumerate(spec.targets):
        if t.metric not in spec.metrics:
            raise ConfigError(
                f"{describe_key(path, f'targets.{i}.metric')} is {t.metric!r}, not one of the "
                f"spec's metrics ({', '.join(spec.metrics)})"
            )
    for i, v in enumerate(spec.variants):
        if v.surgery and (v.scratch or not spec.surgery.recipe):
            why = "it trains from scratch" if v.scratch else "the spec has no surgery.recipe"
            raise ConfigError(
                f"{describe_key(path, f'variants.{i}.surgery')}: variant '{v.name}' lists "
                f"surgery overrides but {why}"
            )
    _check_merge(spec, path)


def _check_merge(spec: AblationSpec, path: Path) -> None:
    """The merge section: texts to score, α in [0, 1], named variants that have a surgery."""
    m = spec.merge
    if not m.texts:
        if m.variants:
            raise ConfigError(
                f"{describe_key(path, 'merge.texts')}: give the texts to score the merges on "
                "(e.g. {cs: heldout_cs.jsonl})"
            )
        return
    for i, a in enumerate(m.alphas):
        if not 0.0 <= a <= 1.0:
            raise ConfigError(
                f"{describe_key(path, f'merge.alphas.{i}')} is {a}; each alpha is in [0, 1] "
                "(0 the surgery's model, 1 the trained one)"
            )
    by_name = {v.name: v for v in spec.variants}
    for i, name in enumerate(m.variants):
        if name not in by_name:
            raise ConfigError(
                f"{describe_key(path, f'merge.variants.{i}')} is '{name}', not a variant "
                f"(the variants: {', '.join(by_name)})"
            )
        if not has_surgery(spec, by_name[name]):
            raise ConfigError(
                f"{describe_key(path, f'merge.variants.{i}')}: variant '{name}' has no surgery "
                "to merge with (merges go from a run's surgery to its trained model)"
            )
    if not merged_variants(spec):
        raise ConfigError(
            f"{describe_key(path, 'merge')}: no variant starts from a surgery, so there is no "
            "path to merge (give the spec a surgery.recipe)"
        )


def check_merge_texts(spec: AblationSpec, path: str | Path) -> None:
    """Every ``merge.texts`` file exists.

    Checked before the first run, not at load: a spec may name texts a build has yet to write.

    Raises:
        ConfigError: One line naming the key and the missing file.
    """
    for name, text in spec.merge.texts.items():
        if not Path(text).exists():
            raise ConfigError(f"{describe_key(path, f'merge.texts.{name}')}: {text} does not exist")


def merged_variants(spec: AblationSpec) -> list[str]:
    """The variants whose runs get a merge path (none when the spec has no ``merge.texts``)."""
    if not spec.merge.texts:
        return []
    names = spec.merge.variants or [v.name for v in spec.variants]
    by_name = {v.name: v for v in spec.variants}
    return [n for n in names if n in by_name and has_surgery(spec, by_name[n])]


def merge_alphas(spec: AblationSpec) -> list[float]:
    """The spec's alphas, sorted, with 1 (the trained model) added when missing."""
    return sorted({float(a) for a in spec.merge.alphas} | {1.0})


def load_spec(path: str | Path, overrides: Sequence[str] = ()) -> AblationSpec:
    """Read and check an ablation spec (``key=value`` overrides of the spec applied first).

    Raises:
        ConfigError: The file is missing or not YAML, an unknown or missing key, a value of the
            wrong type, no variants or seeds, a variant named twice or not a folder name.
    """
    path = Path(path)
    cfg = load_yaml_with_overrides(path, overrides)
    spec = build_structured(AblationSpec, cfg, path)
    _check(spec, path)
    return spec


def run_overrides(spec: AblationSpec, variant: VariantSpec, seed: int) -> list[str]:
    """The overrides of one run: the spec's, the variant's, then its seed and save folder.

    The save folder is set both as ``save_folder`` and ``variables.save_folder`` (the tiny
    recipes derive their ``metrics.jsonl`` path from the latter).
    """
    folder = run_folder(spec, variant.name, seed)
    start = []
    if has_surgery(spec, variant):
        model = folder.parent / f"surgery-{seed}" / "model.pt"
        start = [f"load_path={model}", "load_weights_only=true"]
    return [
        *spec.overrides,
        *variant.overrides,
        *start,
        f"seed={seed}",
        f"variables.save_folder={folder}",
        f"save_folder={folder}",
    ]


def has_surgery(spec: AblationSpec, variant: VariantSpec) -> bool:
    """Whether the variant's runs start from a surgery (the spec has one, not ``scratch``)."""
    return bool(spec.surgery.recipe) and not variant.scratch


def surgery_overrides(spec: AblationSpec, variant: VariantSpec, seed: int) -> list[str] | None:
    """A run's ``csmpt surgery`` overrides, or None when it has no surgery."""
    if not has_surgery(spec, variant):
        return None
    out = run_folder(spec, variant.name, seed).parent / f"surgery-{seed}"
    return [*spec.surgery.overrides, *variant.surgery, f"seed={seed}", f"output.dir={out}"]


def run_folder(spec: AblationSpec, variant: str, seed: int) -> Path:
    """``OUTPUT_DIR/VARIANT/seed-S``."""
    return Path(spec.output_dir) / variant / f"seed-{seed}"


def plan_runs(spec: AblationSpec) -> list[AblationRun]:
    """Every variant x seed, variant by variant, in the spec's order."""
    runs = []
    for v in spec.variants:
        for s in spec.seeds:
            surgery = surgery_overrides(spec, v, s)
            runs.append(
                AblationRun(
                    v.name,
                    s,
                    run_folder(spec, v.name, s),
                    tuple(run_overrides(spec, v, s)),
                    None if surgery is None else tuple(surgery),
                )
            )
    return runs
