"""The tokenizer stage: train a byte-level BPE tokenizer; GPT-2's byte-level alphabet."""
