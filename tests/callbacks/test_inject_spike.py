"""csmpt_inject_spike reaches the HF model through DDP's wrapper (multi-rank CPU runs wrap it)."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import torch
from torch import nn

from csmpt.callbacks.inject_spike import InjectSpike


class _HFModel(nn.Module):
    """The part the callback reads: ``config.vocab_size``."""

    def __init__(self, vocab: int) -> None:
        super().__init__()
        self.config = SimpleNamespace(vocab_size=vocab)
        self.embed = nn.Embedding(vocab, 4)


class _ComposerModel(nn.Module):
    """Composer's HuggingFaceModel keeps the HF model as ``.model``."""

    def __init__(self, vocab: int) -> None:
        super().__init__()
        self.model = _HFModel(vocab)


def _inject(model: nn.Module, at: int, step: int) -> dict[str, torch.Tensor]:
    ids = torch.arange(24).reshape(4, 6) % 10
    batch = {"input_ids": ids.clone(), "labels": ids.clone()}
    state: Any = SimpleNamespace(timestamp=SimpleNamespace(batch=step), batch=batch, model=model)
    InjectSpike(at=at, samples=[1, 3], kind="tokens", seed=5).after_dataloader(state, None)  # type: ignore[arg-type]
    return batch


def test_tokens_are_injected_through_a_ddp_wrapped_model(gloo_default_group: int) -> None:
    del gloo_default_group  # DDP needs a process group
    bare = _inject(_ComposerModel(64), at=3, step=2)
    wrapped = _inject(nn.parallel.DistributedDataParallel(_ComposerModel(64)), at=3, step=2)
    clean = torch.arange(24).reshape(4, 6) % 10
    for batch in (bare, wrapped):
        assert torch.equal(batch["input_ids"][[0, 2]], clean[[0, 2]]), "other samples untouched"
        injected = batch["input_ids"][[1, 3]]
        assert bool(((injected >= 32) & (injected < 64)).all()), "the vocabulary's upper half"
        assert torch.equal(batch["labels"], batch["input_ids"])
    assert torch.equal(bare["input_ids"], wrapped["input_ids"]), "same seed, same tokens"
    untouched = _inject(_ComposerModel(64), at=3, step=5)  # not step `at`: nothing happens
    assert torch.equal(untouched["input_ids"], clean)
