"""HF export of Composer checkpoints, checked by logits parity."""
