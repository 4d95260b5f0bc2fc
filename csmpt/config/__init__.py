"""Loading YAML configs with ``key=value`` overrides and checking them against a schema."""

from csmpt.config.loading import expand_overrides, load_yaml_with_overrides, parse_overrides
from csmpt.config.schema import build_structured
from csmpt.config.yaml_lines import describe_key, key_line

__all__ = [
    "build_structured",
    "describe_key",
    "expand_overrides",
    "key_line",
    "load_yaml_with_overrides",
    "parse_overrides",
]
