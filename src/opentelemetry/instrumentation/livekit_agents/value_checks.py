"""Which values become data points: finite numbers in a plausible range."""

from __future__ import annotations

import logging
import math

from opentelemetry.util.types import Attributes

_logger = logging.getLogger(__name__)

MAX_SECONDS = 3600.0
"""A latency above an hour is a clock or framework bug, not a measurement."""
MAX_AMOUNT = 1e9
"""More than a billion tokens, characters or seconds in one event is a bug, not usage."""


def valid_number(value: object, limit: float) -> float | None:
    """``value`` as a float when it is finite and in ``[0, limit]``, else None.

    The recorder accepts a plain ``int``/``float`` in range without this call, the
    common case on every data point (NaN fails both comparisons); this decides the rest.
    """
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    number = float(value)
    if not math.isfinite(number) or number < 0.0 or number > limit:
        return None
    return value if isinstance(value, int) else number  # counts stay integers


def checked(value: object, limit: float, kind: str, attributes: Attributes) -> float | None:
    """The value of an uncommon point (an int duration, a numeric subclass), or None
    for one that is not plausible (logged at debug level)."""
    number = valid_number(value, limit)
    if number is None:
        _logger.debug("dropped %r for %s: not a valid %s", value, attributes, kind)
    return number
