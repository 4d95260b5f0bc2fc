"""Ablations: a recipe's variants trained over seeds and compared (``csmpt ablate``)."""
