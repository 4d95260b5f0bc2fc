"""Corpus inputs: documents read from files, and fingerprints of those files."""
