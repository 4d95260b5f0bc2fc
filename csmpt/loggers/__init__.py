"""Composer logger destinations registered in llm-foundry's ``loggers`` registry."""

from csmpt.loggers.jsonl_metrics import JSONLMetricsLogger

__all__ = ["JSONLMetricsLogger"]
