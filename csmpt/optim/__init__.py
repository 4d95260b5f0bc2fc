"""Optimizers registered in llm-foundry's ``optimizers`` registry."""

from csmpt.optim.lionw import LionW, lionw_chunked, lionw_foreach

__all__ = ["LionW", "lionw_chunked", "lionw_foreach"]
