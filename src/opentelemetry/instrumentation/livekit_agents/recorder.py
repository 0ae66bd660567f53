"""Turns what the wrappers observe into data points, safely.

Everything here runs inside a wrapped framework call: bad values are dropped
with a debug log, and each wrapper's own boundary (``never_raises`` or its
inlined equivalent) logs an exception from the SDK or from our own code at
debug level and swallows it.
"""

from __future__ import annotations

import contextlib
import functools
import inspect
import logging
import math
from collections.abc import Iterable, Mapping
from typing import Callable, TypeVar

from opentelemetry.metrics import Counter, Histogram, MeterProvider, get_meter
from opentelemetry.util.types import Attributes
from typing_extensions import ParamSpec

from opentelemetry.instrumentation.livekit_agents.instruments import Instruments
from opentelemetry.instrumentation.livekit_agents.model_identity import ModelIdentity, remember
from opentelemetry.instrumentation.livekit_agents.provider_switch import ProviderSwitch
from opentelemetry.instrumentation.livekit_agents.version import __version__

SCHEMA_URL = "https://opentelemetry.io/schemas/1.37.0"

_logger = logging.getLogger(__name__)

MAX_SECONDS = 3600.0
"""A latency above an hour is a clock or framework bug, not a measurement."""
MAX_AMOUNT = 1e9
"""More than a billion tokens, characters or seconds in one event is a bug, not usage."""

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

    # rtc.EventEmitter.emit computes inspect.signature() of every listener on every
    # event; a precomputed signature spares it unwrapping and re-parsing ``func``,
    # or building a new Signature when ``func`` is a bound method.
    with contextlib.suppress(TypeError, ValueError):  # none to give: emit computes it
        guarded.__signature__ = inspect.signature(func)  # type: ignore[attr-defined]
    return guarded


def valid_number(value: object, limit: float) -> float | None:
    """``value`` as a float when it is finite and in ``[0, limit]``, else None."""
    kind = type(value)
    if kind is int or kind is float:
        # the common case, on every data point; NaN fails both comparisons
        return value if 0 <= value <= limit else None  # type: ignore[operator,return-value]
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    number = float(value)
    if not math.isfinite(number) or number < 0.0 or number > limit:
        return None
    return value if isinstance(value, int) else number  # counts stay integers


def valid_seconds(value: object) -> float | None:
    """``value`` as seconds when it is a plausible duration, else None."""
    return valid_number(value, MAX_SECONDS)


class Recorder:
    """Records data points for the providers that the switch leaves on."""

    def __init__(
        self,
        instruments: Instruments,
        switch: ProviderSwitch,
        meter_provider: MeterProvider | None = None,
    ) -> None:
        self.instruments = instruments
        self.switch = switch
        self.meter_provider = meter_provider
        """The provider given to ``instrument()``; None means the global one."""
        self._allowed: dict[str, bool] = {}

    def allows(self, provider_key: str) -> bool:
        """``switch.allows``, answered once per provider: the switch never changes."""
        allowed = self._allowed.get(provider_key)
        if allowed is None:
            allowed = remember(self._allowed, provider_key, self.switch.allows(provider_key))
        return allowed

    @classmethod
    def create(
        cls,
        meter_provider: MeterProvider | None = None,
        providers: Iterable[str] | None = None,
        exclude_providers: Iterable[str] | None = None,
    ) -> Recorder:
        """A recorder on this package's meter, with the switch from settings and env."""
        meter = get_meter(
            "opentelemetry.instrumentation.livekit_agents",
            __version__,
            meter_provider,
            schema_url=SCHEMA_URL,
        )
        switch = ProviderSwitch.from_settings(providers, exclude_providers)
        return cls(Instruments(meter), switch, meter_provider)

    def record_acquire_time(
        self,
        identity: ModelIdentity,
        seconds: float,
        reused: bool,
        error: BaseException | None = None,
    ) -> None:
        """One connection acquisition, reused or new, failed or not."""
        if not self.allows(identity.provider_key):
            return
        attributes = (
            identity.derived("acquire.reused", _acquire_attributes, "true")
            if reused
            else identity.derived("acquire.new", _acquire_attributes, "false")
        )
        if error is not None:
            attributes = {**attributes, "error.type": type(error).__qualname__}
        self.record_seconds(self.instruments.connection_acquire_time, seconds, attributes)

    def record_seconds(self, histogram: Histogram, value: object, attributes: Attributes) -> None:
        """Record a duration, or drop it (debug log) when it is not plausible."""
        seconds = valid_seconds(value)
        if seconds is None:
            _logger.debug("dropped %r for %s: not a valid duration", value, attributes)
            return
        histogram.record(seconds, attributes)

    def record_amount(self, histogram: Histogram, value: object, attributes: Attributes) -> None:
        """Record a non-zero amount (tokens) into a histogram, or drop it when odd."""
        amount = valid_number(value, MAX_AMOUNT)
        if amount is None:
            _logger.debug("dropped %r for %s: not a valid amount", value, attributes)
        elif amount:
            histogram.record(amount, attributes)

    def add(self, counter: Counter, value: object, attributes: Attributes) -> None:
        """Add a non-zero amount to a counter, or drop it (debug log) when odd."""
        amount = valid_number(value, MAX_AMOUNT)
        if amount is None:
            _logger.debug("dropped %r for %s: not a valid amount", value, attributes)
        elif amount:
            counter.add(amount, attributes)


def _acquire_attributes(identity: ModelIdentity, reused: str) -> Mapping[str, str]:
    return {**identity.shared_attributes, "connection_reused": reused}
