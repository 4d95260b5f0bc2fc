"""LR schedulers registered in llm-foundry's ``schedulers`` registry."""

from csmpt.schedulers.wsd import WarmupStableDecayScheduler, wsd_multiplier

__all__ = ["WarmupStableDecayScheduler", "wsd_multiplier"]
