"""The prep stage: corpora -> tokens -> EOS-concatenated (or padded) samples -> MDS shards."""
