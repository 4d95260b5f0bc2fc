"""The hot-swap schedule against max_duration: a swap the run never reaches is refused."""

from __future__ import annotations

from typing import Any

import pytest

from csmpt.errors import ConfigError
from csmpt.recipe.swap_schedule import check_swaps, parse_swaps

TOKENS_PER_BATCH = 8 * 128


def _config(max_duration: str, batch: bool = True) -> dict[str, Any]:
    config: dict[str, Any] = {"max_duration": max_duration, "train_loader": {"dataset": {}}}
    if batch:
        config.update(global_train_batch_size=8, max_seq_len=128)
    return config


def _check(at: str, max_duration: str, batch: bool = True) -> None:
    check_swaps(parse_swaps([{"name": "cs_crawl", "at": at}]), _config(max_duration, batch))


@pytest.mark.parametrize("batch", [True, False], ids=["batch-size-known", "batch-size-unknown"])
def test_a_swap_exactly_at_max_duration_is_refused_one_before_is_not(batch: bool) -> None:
    # A swap at batch n gives batch n + 1 the new corpus: at 40ba in a 40ba run it never happens.
    with pytest.raises(ConfigError, match=r"swaps.0.at: swap cs_crawl at 40ba is not before"):
        _check("40ba", "40ba", batch)
    _check("39ba", "40ba", batch)  # the last batch (40) trains on the new corpus
    at_end = f"{40 * TOKENS_PER_BATCH}tok"
    with pytest.raises(ConfigError, match=rf"swap cs_crawl at {at_end} is not before"):
        _check(at_end, at_end, batch)
    _check(f"{39 * TOKENS_PER_BATCH}tok", at_end, batch)


def test_a_token_swap_inside_the_last_batch_is_refused() -> None:
    # 39 batches and one token: the swap comes after batch 40, the last of a 40ba run.
    inside_last = f"{39 * TOKENS_PER_BATCH + 1}tok"
    with pytest.raises(ConfigError, match=r"comes after batch 40, the run ends after batch 40"):
        _check(inside_last, "40ba")
    _check(f"{39 * TOKENS_PER_BATCH}tok", "40ba")  # after batch 39: batch 40 is on the new corpus
    # And a batch swap against a max_duration in tokens that ends inside batch 41.
    with pytest.raises(ConfigError, match=r"swap cs_crawl at 41ba is not before"):
        _check("41ba", f"{40 * TOKENS_PER_BATCH + 1}tok")
    _check("40ba", f"{40 * TOKENS_PER_BATCH + 1}tok")
