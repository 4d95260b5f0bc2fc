"""The MDS format: shard writing and reading, split manifests, document maps, loader folders."""
