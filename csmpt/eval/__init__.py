"""Evaluation: few-shot ICL tasks over models and checkpoint series, per-corpus validation."""
