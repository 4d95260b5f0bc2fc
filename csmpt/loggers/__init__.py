"""Composer logger destinations registered in llm-foundry's ``loggers`` registry."""

from csmpt.loggers.jsonl_metrics import JSONLMetricsLogger, read_metrics

__all__ = ["JSONLMetricsLogger", "read_metrics"]
