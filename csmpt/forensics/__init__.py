"""Batch forensics: which samples formed a training batch, reconstructed from the data order."""
