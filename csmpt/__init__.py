"""csmpt: continual pretraining of LLMs into a new language, on llm-foundry/Composer.

The package holds all of csmpt's logic: data preparation (tokenizer, MDS shards), training
components registered in llm-foundry's registries, and the ``csmpt`` command line.
"""

from csmpt.errors import ConfigError, CsmptError, DataError

__version__ = "0.1.0"

__all__ = ["ConfigError", "CsmptError", "DataError", "__version__"]
