"""One type for an amount of training: batches, samples or tokens (Composer's ``Time`` units).

Recipes count points and lengths the way Composer does: ``26500ba`` (batches, i.e. optimizer
steps), ``10000000sp`` (samples), ``5e9tok`` (tokens). The hot-swap schedule, the freeze stages
and the batch ramp each read such amounts; :meth:`Duration.parse` is the one parser they share,
so the same string means the same thing everywhere, and a bad one is the same one-line error
naming the key. :meth:`Duration.to_time` gives Composer's ``Time`` (imported only then, so
parsing a recipe stays light).
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from csmpt.errors import ConfigError

if TYPE_CHECKING:
    from composer.core import Time

__all__ = ["UNIT_NAMES", "Duration"]

# Composer's suffixes (composer.core.time.TimeUnit values) for the units csmpt recipes count in.
UNIT_NAMES = {"ba": "batches", "sp": "samples", "tok": "tokens"}
_TEXT = re.compile(r"^\s*([0-9][0-9_]*(?:\.[0-9]*)?(?:[eE][+-]?[0-9]+)?)\s*(ba|sp|tok)?\s*$")


@dataclass(frozen=True)
class Duration:
    """A positive whole number of batches, samples or tokens.

    Attributes:
        value: The count (> 0).
        unit: ``ba``, ``sp`` or ``tok`` (Composer's suffixes).
    """

    value: int
    unit: str

    @classmethod
    def parse(
        cls,
        raw: object,
        where: str,
        units: Sequence[str] = ("ba", "sp", "tok"),
        bare: str | None = None,
    ) -> Duration:
        """Read ``raw`` (``"200ba"``, ``"5e9tok"``; a bare number counts in ``bare`` units).

        Args:
            raw: The YAML value.
            where: The key, for the error (``callbacks.csmpt_freeze.stages.0.until``).
            units: The units this key accepts.
            bare: The unit of a bare number (e.g. ``ba`` for a step count); None: a unit is
                required.

        Raises:
            ConfigError: Not a whole positive amount in one of ``units``, in one line naming
                ``where``, the value and the accepted units.
        """
        accepted = " or ".join(f"{UNIT_NAMES[u]} ('{_EXAMPLES[u]}')" for u in units)
        m = None if isinstance(raw, bool) else _TEXT.match(str(raw))
        unit = (m.group(2) or bare) if m else None
        if m is None or unit is None or unit not in units:
            raise ConfigError(f"{where}: '{raw}' is not an amount of {accepted}")
        number = float(m.group(1).replace("_", ""))
        if not math.isfinite(number) or number <= 0 or number != int(number):
            raise ConfigError(
                f"{where}: '{raw}' must be a positive whole number of {UNIT_NAMES[unit]}"
            )
        return cls(int(number), unit)

    def __str__(self) -> str:
        """``26500ba``."""
        return f"{self.value}{self.unit}"

    def to_time(self) -> Time:
        """The same amount as Composer's ``Time``."""
        from composer.core import Time

        return Time.from_timestring(str(self))

    def samples(self, seq_len: int) -> int:
        """Samples in this amount (tokens: whole samples of ``seq_len``).

        Raises:
            ConfigError: A batch count (its samples depend on the batch size).
        """
        if self.unit == "sp":
            return self.value
        if self.unit == "tok":
            return self.value // seq_len
        raise ConfigError(f"{self} is in batches; give samples (sp) or tokens (tok)")


_EXAMPLES = {"ba": "200ba", "sp": "10000000sp", "tok": "5000000tok"}
