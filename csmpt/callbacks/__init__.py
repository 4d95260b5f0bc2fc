"""Composer callbacks registered in llm-foundry's registries through entry points."""

from csmpt.callbacks.hot_swap import HotSwap
from csmpt.callbacks.run_record import RunRecord

__all__ = ["HotSwap", "RunRecord"]
