"""The corpus filter: a linear text classifier, exact and near-duplicate removal."""
