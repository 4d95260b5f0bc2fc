"""Ablations: compare adaptation choices over seeds (statistics for the future ``csmpt ablate``)."""
