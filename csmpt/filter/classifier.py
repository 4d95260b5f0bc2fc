"""A linear text classifier that filters corpora (``csmpt filter train``).

Hashed word (optionally also character) n-grams + logistic regression (scikit-learn), trained on a
labelled jsonl (``1`` = remove, ``0`` = keep).

CSMPT7b made its corpus #3 from #2 by removing what such a classifier flagged. The model is saved
as a folder without pickles: ``model.npz`` (the weights) and ``card.json`` (the feature settings,
a suggested threshold, the training data's hash and the held-out precision/recall). The features
are stateless (hashing), so the folder alone rebuilds the scorer, and the scores do not depend on
how documents are batched.
"""

from __future__ import annotations

import hashlib
import json
import logging
import shutil
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from csmpt.atomic import check_replaceable, make_temp_dir, replace_dir
from csmpt.config.schema import at_least
from csmpt.corpus.fingerprint import fingerprint, sha256_file
from csmpt.corpus.readers import expand_inputs
from csmpt.errors import DataError

__all__ = [
    "CARD_NAME",
    "MODEL_NAME",
    "ClassifierTrainConfig",
    "LinearTextClassifier",
    "TrainResult",
    "precision_recall",
    "read_labelled",
    "train_classifier",
    "train_from_yaml",
]

log = logging.getLogger(__name__)

CARD_NAME = "card.json"
MODEL_NAME = "model.npz"
FORMAT = "csmpt-linear-text-classifier/1"


@dataclass
class ClassifierTrainConfig:
    """How to train a filter classifier (the keys of ``data_prep/filter/*.yaml``).

    Attributes:
        inputs: Labelled jsonl files, folders or glob patterns (``{"text": ..., "label": 0|1}``).
        output_dir: The model folder to write.
        text_field: JSON field holding the text.
        label_field: JSON field holding the label (1 = remove, 0 = keep).
        held_out_fraction: Share of examples held out to measure precision/recall, chosen by a
            hash of each text (deterministic, independent of file order).
        seed: Salt of that hash.
        word_ngrams: Word n-gram range ``[min, max]`` (``[]``: no word features).
        char_ngrams: Character n-gram range within word boundaries ``[min, max]`` (``[]``: none;
            3-7x slower to score than word n-grams, more robust to spelling and inflection).
        n_features: Hash buckets per feature kind (word, char).
        c: Inverse L2 regularisation strength of the logistic regression.
        max_iter: Iterations of the solver (lbfgs).
    """

    inputs: list[str] = field(default_factory=list)
    output_dir: str = "???"
    text_field: str = "text"
    label_field: str = "label"
    held_out_fraction: float = 0.2
    seed: int = field(default=0, metadata=at_least(0))
    word_ngrams: list[int] = field(default_factory=lambda: [1, 2])
    char_ngrams: list[int] = field(default_factory=list)
    n_features: int = 2**18
    c: float = 10.0
    max_iter: int = field(default=1000, metadata=at_least(1))


@dataclass
class TrainResult:
    """What ``train_classifier`` did."""

    path: Path
    skipped: bool
    card: dict[str, Any]


def _vectorizers(features: dict[str, Any]) -> list[Any]:
    """One HashingVectorizer per enabled n-gram kind (word, then character)."""
    from sklearn.feature_extraction.text import HashingVectorizer

    common = {"n_features": int(features["n_features"]), "alternate_sign": False, "norm": "l2"}
    out = []
    for analyzer, key in (("word", "word_ngrams"), ("char_wb", "char_ngrams")):
        ngrams = features.get(key)
        if ngrams:
            out.append(
                HashingVectorizer(
                    analyzer=analyzer, ngram_range=tuple(ngrams), lowercase=True, **common
                )
            )
    return out


def _featurize(features: dict[str, Any], texts: Sequence[str]) -> Any:
    """Sparse CSR matrix (n_texts, k * n_features): word block, then character block."""
    from scipy.sparse import hstack

    return hstack([v.transform(texts) for v in _vectorizers(features)], format="csr")


class LinearTextClassifier:
    """A trained filter classifier loaded from its folder; ``score`` gives P(remove) per text.

    Args:
        folder: A folder written by ``csmpt filter train``.

    Raises:
        DataError: The folder, its card or its weights are missing or corrupt (names the folder).
    """

    def __init__(self, folder: str | Path) -> None:
        self.folder = Path(folder)
        card_path, model_path = self.folder / CARD_NAME, self.folder / MODEL_NAME
        hint = "train one with: csmpt filter train data_prep/filter/sample.yaml"
        if not self.folder.is_dir():
            raise DataError(f"classifier folder '{folder}' does not exist ({hint})")
        try:
            card = json.loads(card_path.read_text(encoding="utf-8"))
            if card.get("format") != FORMAT:
                raise ValueError(f"format is {card.get('format')!r}, expected {FORMAT!r}")
            features = card["features"]
            with np.load(model_path, allow_pickle=False) as npz:
                coef = np.asarray(npz["coef"], dtype=np.float64)
                intercept = float(npz["intercept"])
            width = len(_vectorizers(features)) * int(features["n_features"])
            if coef.shape != (width,):
                raise ValueError(f"weights have shape {coef.shape}, the card's features {width}")
        except (OSError, ValueError, KeyError, TypeError) as e:
            raise DataError(
                f"classifier folder '{folder}' is not a valid csmpt classifier "
                f"({type(e).__name__}: {e}); {hint}"
            ) from None
        self.card: dict[str, Any] = card
        self.features: dict[str, Any] = features
        self.coef = coef
        self.intercept = intercept
        self.fingerprint = hashlib.sha256(
            (sha256_file(model_path) + sha256_file(card_path)).encode()
        ).hexdigest()

    @property
    def suggested_threshold(self) -> float:
        """The threshold the card suggests (best F1 on the held-out examples)."""
        return float(self.card.get("threshold", 0.5))

    def score(self, texts: Sequence[str]) -> np.ndarray:
        """P(label 1 = remove) of each text, shape ``(len(texts),)``; row-independent."""
        if not texts:
            return np.zeros(0)
        return _sigmoid(_featurize(self.features, texts) @ self.coef + self.intercept)


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return np.asarray(0.5 * (1.0 + np.tanh(0.5 * z)))


def read_labelled(
    files: Sequence[Path], text_field: str = "text", label_field: str = "label"
) -> tuple[list[str], list[int]]:
    """Texts and 0/1 labels of labelled jsonl files.

    Raises:
        DataError: Invalid JSON, a missing field, or a label other than 0/1 (file and line).
    """
    texts: list[str] = []
    labels: list[int] = []
    for path in files:
        with path.open(encoding="utf-8", errors="strict") as f:
            for lineno, line in enumerate(f, start=1):
                if not line.strip():
                    continue
                try:
                    rec = json.loads(line)
                except json.JSONDecodeError as e:
                    raise DataError(f"{path}:{lineno}: not valid JSON ({e.msg})") from None
                if not isinstance(rec, dict) or text_field not in rec or label_field not in rec:
                    raise DataError(
                        f"{path}:{lineno}: expected an object with '{text_field}' and "
                        f"'{label_field}' fields"
                    )
                label = rec[label_field]
                if label not in (0, 1) or not isinstance(rec[text_field], str):
                    raise DataError(
                        f"{path}:{lineno}: '{label_field}' must be 0 or 1 (1 = remove) and "
                        f"'{text_field}' a string, got {label!r}"
                    )
                texts.append(rec[text_field])
                labels.append(int(label))
    return texts, labels


def precision_recall(
    scores: np.ndarray, labels: Sequence[int], threshold: float
) -> dict[str, float]:
    """Precision, recall and F1 of "remove if score > threshold" against 0/1 labels."""
    pred = np.asarray(scores) > threshold
    gold = np.asarray(labels) == 1
    tp = int((pred & gold).sum())
    precision = tp / int(pred.sum()) if pred.any() else 1.0
    recall = tp / int(gold.sum()) if gold.any() else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"precision": precision, "recall": recall, "f1": f1}


def _held_out(text: str, seed: int, fraction: float) -> bool:
    digest = hashlib.blake2b(text.encode("utf-8"), digest_size=8, salt=str(seed).encode()[:16])
    return int.from_bytes(digest.digest(), "big") / 2**64 < fraction


def _suggest_threshold(scores: np.ndarray, labels: Sequence[int]) -> float:
    """Best-F1 threshold on a 0.05 grid; ties go to the one nearest 0.5."""
    grid = [round(0.05 * i, 2) for i in range(1, 20)]
    return max(grid, key=lambda t: (precision_recall(scores, labels, t)["f1"], -abs(t - 0.5)))


def _features(cfg: ClassifierTrainConfig) -> dict[str, Any]:
    for key in ("word_ngrams", "char_ngrams"):
        ngrams = getattr(cfg, key)
        if ngrams and not (len(ngrams) == 2 and 1 <= ngrams[0] <= ngrams[1]):
            raise DataError(f"filter config: {key} must be [min, max] with 1 <= min <= max or []")
    if not cfg.word_ngrams and not cfg.char_ngrams:
        raise DataError("filter config: word_ngrams and char_ngrams are both empty; enable one")
    if cfg.n_features < 1:
        raise DataError(f"filter config: n_features must be positive, got {cfg.n_features}")
    if not cfg.c > 0:  # scikit-learn's InvalidParameterError was a traceback
        raise DataError(f"filter config: c (inverse regularisation) must be > 0, got {cfg.c}")
    return {
        "word_ngrams": list(cfg.word_ngrams),
        "char_ngrams": list(cfg.char_ngrams),
        "n_features": cfg.n_features,
        "lowercase": True,
        "norm": "l2",
    }


def train_classifier(
    cfg: ClassifierTrainConfig, base_dir: Path | None = None, force: bool = False
) -> TrainResult:
    """Train the classifier of ``cfg`` and write its folder (temp folder + rename).

    Up to date (same settings, same input bytes) -> nothing is done unless ``force``.

    Args:
        cfg: The training config.
        base_dir: Folder relative ``inputs`` are taken from (default: the working directory).
        force: Retrain even when up to date.

    Raises:
        DataError: No or unreadable inputs, a single class, or too few held-out examples.
    """
    from sklearn import __version__ as sklearn_version
    from sklearn.linear_model import LogisticRegression

    if not cfg.inputs:
        raise DataError("filter config: 'inputs' is empty; list at least one labelled jsonl file")
    if not 0 < cfg.held_out_fraction < 1:
        raise DataError(
            f"filter config: held_out_fraction must be in (0, 1), got {cfg.held_out_fraction}"
        )
    out = Path(cfg.output_dir)
    check_replaceable(out, (CARD_NAME, MODEL_NAME), "filter config: output_dir", "classifier")
    files = expand_inputs(cfg.inputs, base_dir)
    inputs = [{"path": str(p), "bytes": p.stat().st_size, "sha256": sha256_file(p)} for p in files]
    data_hash = fingerprint([i["sha256"] for i in inputs])
    settings = asdict(cfg) | {"output_dir": None, "inputs": None}
    stamp = fingerprint({"config": settings, "data": data_hash, "format": FORMAT})
    card_path = out / CARD_NAME
    if not force and card_path.is_file() and (out / MODEL_NAME).is_file():
        try:
            old = json.loads(card_path.read_text(encoding="utf-8"))
        except ValueError:
            old = {}
        if old.get("fingerprint") == stamp:
            log.info("%s is up to date, not retrained", out)
            return TrainResult(out, True, old)

    texts, labels = read_labelled(files, cfg.text_field, cfg.label_field)
    held = [_held_out(t, cfg.seed, cfg.held_out_fraction) for t in texts]
    tr_x = [t for t, h in zip(texts, held, strict=True) if not h]
    tr_y = [y for y, h in zip(labels, held, strict=True) if not h]
    ho_x = [t for t, h in zip(texts, held, strict=True) if h]
    ho_y = [y for y, h in zip(labels, held, strict=True) if h]
    for name, ys in (("training", tr_y), ("held-out", ho_y)):
        if len(set(ys)) < 2:
            raise DataError(
                f"filter config: the {name} part of {[str(p) for p in files]} needs examples of "
                f"both labels (0 and 1), got {len(ys)} examples with labels {sorted(set(ys))}"
            )
    features = _features(cfg)
    model = LogisticRegression(
        C=cfg.c, class_weight="balanced", max_iter=cfg.max_iter, solver="lbfgs"
    )
    model.fit(_featurize(features, tr_x), np.asarray(tr_y))
    coef = np.asarray(model.coef_[0], dtype=np.float64)
    intercept = float(model.intercept_[0])
    ho_scores = _sigmoid(_featurize(features, ho_x) @ coef + intercept)
    threshold = _suggest_threshold(ho_scores, ho_y)
    card: dict[str, Any] = {
        "format": FORMAT,
        "fingerprint": stamp,
        "task": "score = P(label 1 = remove); a filter removes documents with score > threshold",
        "features": features,
        "model": {
            "type": "logistic_regression",
            "C": cfg.c,
            "class_weight": "balanced",
            "solver": "lbfgs",
            "file": MODEL_NAME,
            "sklearn": sklearn_version,
        },
        "threshold": threshold,
        "training_data": {
            "inputs": inputs,
            "sha256": data_hash,
            "examples": len(texts),
            "remove_examples": int(sum(labels)),
            "train": len(tr_x),
            "held_out": len(ho_x),
        },
        "held_out": {
            "at_0.5": precision_recall(ho_scores, ho_y, 0.5),
            "at_threshold": precision_recall(ho_scores, ho_y, threshold),
        },
        "config": asdict(cfg),
    }
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = make_temp_dir(out)  # mode from the umask (mkdtemp: 0700)
    try:
        with (tmp / MODEL_NAME).open("wb") as f:
            np.savez(f, coef=coef, intercept=np.float64(intercept))
        (tmp / CARD_NAME).write_text(
            json.dumps(card, indent=2, ensure_ascii=False) + "\n", encoding="utf-8"
        )
        replace_dir(tmp, out, (CARD_NAME, MODEL_NAME), "classifier")
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    log.info("trained classifier -> %s (held-out %s)", out, card["held_out"]["at_threshold"])
    return TrainResult(out, False, card)


def train_from_yaml(
    path: str | Path,
    overrides: Sequence[str] = (),
    base_dir: Path | None = None,
    force: bool = False,
) -> TrainResult:
    """Train from a ``data_prep/filter/*.yaml`` with ``key=value`` overrides (CLI, demo, tests).

    Raises:
        ConfigError: The YAML or an override is invalid (file, line and key).
        DataError: As :func:`train_classifier`.
    """
    from csmpt.config import build_structured, load_yaml_with_overrides

    cfg = build_structured(ClassifierTrainConfig, load_yaml_with_overrides(path, overrides), path)
    return train_classifier(cfg, base_dir=base_dir, force=force)
