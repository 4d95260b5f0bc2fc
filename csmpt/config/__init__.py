"""Loading YAML configs with ``key=value`` overrides and checking them against a schema."""

from csmpt.config.loading import (
    apply_overrides,
    expand_overrides,
    load_yaml_with_overrides,
    parse_overrides,
)
from csmpt.config.schema import at_least, build_structured, in_range
from csmpt.config.yaml_lines import describe_key, key_line

__all__ = [
    "apply_overrides",
    "at_least",
    "build_structured",
    "in_range",
    "describe_key",
    "expand_overrides",
    "key_line",
    "load_yaml_with_overrides",
    "parse_overrides",
]
