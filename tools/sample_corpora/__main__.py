"""Regenerate ``data/samples`` byte for byte: ``PYTHONPATH=tools python -m sample_corpora``."""

from pathlib import Path

from sample_corpora.generator import write_samples
from sample_corpora.hellaswag_en import write_en_hellaswag

write_samples(Path("data/samples"))
write_en_hellaswag(Path("data/samples/en_hellaswag.jsonl"))
