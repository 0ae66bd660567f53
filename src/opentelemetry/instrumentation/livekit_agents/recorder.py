"""Turns what the wrappers observe into data points, safely.

Every public method here is called from inside a wrapped framework call, so
none may raise: bad values are dropped with a debug log, and an exception from
the SDK or from our own code is logged at debug level and swallowed.
"""

from __future__ import annotations

import functools
import logging
import math
from typing import Callable, TypeVar

from opentelemetry.metrics import Histogram
from opentelemetry.util.types import Attributes
from typing_extensions import ParamSpec

from opentelemetry.instrumentation.livekit_agents.instruments import Instruments
from opentelemetry.instrumentation.livekit_agents.model_identity import ModelIdentity
from opentelemetry.instrumentation.livekit_agents.provider_switch import ProviderSwitch

_logger = logging.getLogger(__name__)

MAX_SECONDS = 3600.0
"""A latency above an hour is a clock or framework bug, not a measurement."""

_P = ParamSpec("_P")
_R = TypeVar("_R")


def never_raises(func: Callable[_P, _R | None]) -> Callable[_P, _R | None]:
    """Run ``func``; on any exception log it at debug level and return None."""

    @functools.wraps(func)
    def guarded(*args: _P.args, **kwargs: _P.kwargs) -> _R | None:
        try:
            return func(*args, **kwargs)
        except Exception:
            _logger.debug("livekit-agents instrumentation dropped a data point", exc_info=True)
            return None

    return guarded


def valid_seconds(value: object) -> float | None:
    """``value`` as seconds when it is a plausible duration, else None."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    seconds = float(value)
    if not math.isfinite(seconds) or seconds < 0.0 or seconds > MAX_SECONDS:
        return None
    return seconds


class Recorder:
    """Records data points for the providers that the switch leaves on."""

    def __init__(self, instruments: Instruments, switch: ProviderSwitch) -> None:
        self.instruments = instruments
        self.switch = switch

    @never_raises
    def record_acquire_time(
        self,
        identity: ModelIdentity,
        seconds: float,
        reused: bool,
        error: BaseException | None = None,
    ) -> None:
        """One connection acquisition, reused or new, failed or not."""
        if not self.switch.allows(identity.provider_key):
            return
        attributes: dict[str, str] = identity.attributes()
        attributes["connection_reused"] = "true" if reused else "false"
        if error is not None:
            attributes["error.type"] = type(error).__qualname__
        self._record_seconds(self.instruments.connection_acquire_time, seconds, attributes)

    def _record_seconds(self, histogram: Histogram, value: object, attributes: Attributes) -> None:
        seconds = valid_seconds(value)
        if seconds is None:
            _logger.debug("dropped %r for %s: not a valid duration", value, attributes)
            return
        histogram.record(seconds, attributes)
