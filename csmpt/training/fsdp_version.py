"""``csmpt_fsdp_version``: a recipe chooses Composer's FSDP1 or FSDP2 path with one key.

Composer 0.32.1 picks its FSDP implementation from the environment variable ``FSDP_VERSION``
(``1`` by default: ``FullyShardedDataParallel``; ``2``: ``fully_shard`` with DTensor parameters
and DCP sharded checkpoints), read when the ``Trainer`` is built. A recipe says instead::

    fsdp_config:
      version: 2            # 1: FSDP1 (Composer's default), 2: FSDP2
      sharding_strategy: FULL_SHARD
      state_dict_type: sharded

Registered in llm-foundry's ``config_transforms`` (applied to every training config before the
``Trainer`` exists), this transform removes ``version`` (neither Composer's ``FSDPConfig`` nor
``FSDP2Config`` has it) and sets ``FSDP_VERSION`` in each rank's process, so the run, its
resumption and its YAML agree. A recipe without the key leaves the environment alone. Composer
cannot load FSDP1 sharded checkpoints under FSDP2: keep one version for a run's life.
"""

from __future__ import annotations

import logging
import os
from typing import Any

from csmpt.config.train_config import FSDP_VERSIONS as VERSIONS
from csmpt.config.train_config import fsdp_version_problem as version_problem
from csmpt.errors import ConfigError

__all__ = ["ENV", "KEY", "VERSIONS", "fsdp_version", "version_problem"]

log = logging.getLogger(__name__)

KEY = "fsdp_config.version"
ENV = "FSDP_VERSION"


def fsdp_version(cfg: dict[str, Any]) -> dict[str, Any]:
    """Pop ``fsdp_config.version`` and set ``FSDP_VERSION`` from it (see the module docstring).

    Raises:
        ConfigError: The version is not 1 or 2.
    """
    fsdp = cfg.get("fsdp_config")
    if not isinstance(fsdp, dict) or "version" not in fsdp:
        return cfg
    value = fsdp.pop("version")
    allowed = version_problem(value)
    if allowed is not None:
        raise ConfigError(f"key '{KEY}' is {value!r}; use {allowed}")
    version = str(value).strip()
    before = os.environ.get(ENV)
    if before is not None and before != version:
        log.warning("%s=%s in the environment; the recipe's %s: %s wins", ENV, before, KEY, version)
    os.environ[ENV] = version
    return cfg
