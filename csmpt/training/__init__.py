"""Training through llm-foundry with csmpt's components registered (entry points)."""

from csmpt.training.preflight import preflight
from csmpt.training.run import main, run_training

__all__ = ["main", "preflight", "run_training"]
