"""Measuring speed and memory: step times, tokens/s, FLOPs, MFU, a process's peak memory."""

from csmpt.perf.flops import mfu, transformer_flops_per_batch
from csmpt.perf.throughput import StepTiming, measure_recipe

__all__ = ["StepTiming", "measure_recipe", "mfu", "transformer_flops_per_batch"]
