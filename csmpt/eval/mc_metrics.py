"""Multiple-choice accuracies as lm-evaluation-harness and llm-foundry define them, with errors.

One forward pass gives, per choice, the summed log-likelihood of its continuation tokens; three
accuracies are read from it (the model's pick per item is the ``argmax``, first index on ties):

* ``acc_norm`` (lm-eval, what leaderboards report for HellaSwag-style tasks): the summed
  log-likelihood divided by the choice's length in characters, ``len(choice)`` of the Python
  string (not bytes, not tokens; the continuation scored is ``target_delimiter + choice`` but
  the length is the choice's alone).
* ``acc`` (lm-eval): the summed log-likelihood itself.
* ``acc_per_token`` (llm-foundry's ``InContextLearningMultipleChoiceAccuracy``, CSMPT7b's
  figure, BenCzechMark's scoring): the lowest mean per-token cross-entropy, i.e. the summed
  log-likelihood divided by the continuation's token count.

Each accuracy is the mean of 0/1 per item; its standard error is lm-eval's ``mean_stderr``: the
sample standard deviation (``n - 1`` in the denominator) over ``sqrt(n)``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

__all__ = [
    "DEFAULT_METRIC",
    "METRICS",
    "METRIC_DESCRIPTIONS",
    "ChoiceScores",
    "aggregate",
    "argmax_first",
    "item_correct",
    "mean_stderr",
]

DEFAULT_METRIC = "acc_norm"
METRICS = ("acc_norm", "acc", "acc_per_token")  # the table's order: the default first
METRIC_DESCRIPTIONS = {
    "acc_norm": "lm-eval acc_norm: argmax of sum log p / len(choice) in characters",
    "acc": "lm-eval acc: argmax of sum log p over the continuation",
    "acc_per_token": "llm-foundry (CSMPT7b's figure): argmax of mean log p per token",
}


@dataclass(frozen=True)
class ChoiceScores:
    """What the model gave one multiple-choice item: per choice, in the item's order.

    Attributes:
        loglikelihoods: Summed log-probability of each choice's continuation tokens.
        n_tokens: Token count of each continuation.
        n_chars: ``len(choice)`` of each choice string (without the delimiter before it).
        gold: Index of the correct choice.
    """

    loglikelihoods: tuple[float, ...]
    n_tokens: tuple[int, ...]
    n_chars: tuple[int, ...]
    gold: int


def argmax_first(values: Sequence[float]) -> int:
    """Index of the largest value, the first one on ties (``numpy.argmax``'s rule)."""
    best = 0
    for i, v in enumerate(values):
        if v > values[best]:
            best = i
    return best


def item_correct(item: ChoiceScores) -> dict[str, float]:
    """1.0 or 0.0 per metric (``acc_norm``, ``acc``, ``acc_per_token``) for one item.

    ``acc_per_token`` mirrors llm-foundry: the choice with the smallest ``exp`` of the mean
    per-token cross-entropy, the first one on ties.
    """
    lls = item.loglikelihoods
    norm = [ll / n for ll, n in zip(lls, item.n_chars, strict=True)]
    perplexity = [math.exp(-ll / n) for ll, n in zip(lls, item.n_tokens, strict=True)]
    per_token = perplexity.index(min(perplexity))
    return {
        "acc_norm": float(argmax_first(norm) == item.gold),
        "acc": float(argmax_first(lls) == item.gold),
        "acc_per_token": float(per_token == item.gold),
    }


def mean_stderr(values: Sequence[float]) -> float:
    """Standard error of the mean as lm-eval computes it: ``sample_stddev / sqrt(n)``.

    The sample standard deviation divides by ``n - 1``; with fewer than two values the error is
    undefined (``nan``).
    """
    n = len(values)
    if n < 2:
        return math.nan
    mu = sum(values) / n
    return math.sqrt(sum((x - mu) ** 2 for x in values) / (n - 1)) / math.sqrt(n)


def aggregate(per_item: Sequence[dict[str, float]]) -> tuple[dict[str, float], dict[str, float]]:
    """Mean and standard error per metric over items (each a ``metric -> 0/1`` dict).

    Returns:
        ``(scores, stderr)``: metric -> accuracy, metric -> its standard error.
    """
    names = [m for m in METRICS if per_item and m in per_item[0]]
    names += [m for m in (per_item[0] if per_item else {}) if m not in names]
    scores, stderr = {}, {}
    for m in names:
        col = [x[m] for x in per_item]
        scores[m] = sum(col) / len(col)
        stderr[m] = mean_stderr(col)
    return scores, stderr
