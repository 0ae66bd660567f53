"""Which values become data points: finite numbers in a plausible range, and
attribute text that every exporter can carry and that holds no URL secret."""

from __future__ import annotations

import logging
import math
import re

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


_LONE_SURROGATES = re.compile("[\ud800-\udfff]")


def attribute_text(value: str) -> str:
    """``value`` as attribute text: valid UTF-8, and no URL query, fragment or user info.

    A name read from the environment or a file with an invalid byte holds a lone
    surrogate (``surrogateescape``), which no exporter can encode: Prometheus'
    fails every scrape of the process.  Each becomes U+FFFD.  A model or provider
    that is a URL keeps its host and path only, without the scheme: the query
    string and fragment are where tokens go, the user info is a credential.
    """
    if not value.isascii():
        value = _LONE_SURROGATES.sub("\ufffd", value)
    value = value.split("?", 1)[0].split("#", 1)[0]
    scheme, separator, rest = value.partition("://")
    if not separator:
        rest = scheme
    authority, slash, path = rest.partition("/")
    # "user:password@host", with or without a scheme; only the host is kept
    return authority.rsplit("@", 1)[-1] + slash + path
