"""Turns what the wrappers observe into data points.

Everything here runs inside a wrapped framework call: bad values are dropped
with a debug log (:mod:`.value_checks`), and each wrapper's own boundary
(:func:`.error_boundary.never_raises` or its inlined equivalent) logs an
exception from our own code at debug level and swallows it.  Valid points wait
in :data:`.pending_points.PENDING` and reach the SDK in batches.

Each data point is recorded with the context of the event it belongs to: one
context read per event (:func:`.otel_context.current_context`), not one per point.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from opentelemetry.context import Context
from opentelemetry.metrics import Counter, Histogram, MeterProvider
from opentelemetry.util.types import Attributes

from opentelemetry.instrumentation.livekit_agents.instrumentors.connections.acquisition import (
    acquire_attributes,
)
from opentelemetry.instrumentation.livekit_agents.instrumentors.connections.native import (
    credit_own_acquisition,
)
from opentelemetry.instrumentation.livekit_agents.instruments import Instruments
from opentelemetry.instrumentation.livekit_agents.meter import package_meter
from opentelemetry.instrumentation.livekit_agents.model_identity import ModelIdentity
from opentelemetry.instrumentation.livekit_agents.otel_context import CONTEXT_READER
from opentelemetry.instrumentation.livekit_agents.pending_points import PENDING
from opentelemetry.instrumentation.livekit_agents.provider_switch import (
    ProviderSwitch,
    SwitchAnswers,
)
from opentelemetry.instrumentation.livekit_agents.value_checks import (
    MAX_AMOUNT,
    MAX_SECONDS,
    checked,
)


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
        self.allows: Mapping[str, bool] = SwitchAnswers(switch)
        """``allows[provider_key]``: whether the switch records that provider."""

    @classmethod
    def create(
        cls,
        meter_provider: MeterProvider | None = None,
        providers: Iterable[str] | None = None,
        exclude_providers: Iterable[str] | None = None,
    ) -> Recorder:
        """A recorder on this package's meter, with the switch from settings and env."""
        switch = ProviderSwitch.from_settings(providers, exclude_providers)
        CONTEXT_READER.follow_runtime_context()
        return cls(Instruments(package_meter(meter_provider)), switch, meter_provider)

    def record_acquire_time(
        self,
        identity: ModelIdentity,
        seconds: float,
        reused: bool,
        error: BaseException | None,
        context: Context,
        *,
        native: bool = False,
        credit: bool = True,
    ) -> None:
        """One connection acquisition, reused or new, failed or not.

        ``native`` marks one the framework timed itself (:mod:`..connections.native`).
        Each new connection we time ourselves leaves a credit that keeps the
        framework's later report of the same acquisition from being recorded again;
        ``credit=False`` when that report already came while we timed it.
        """
        if credit and not (native or reused or error is not None):
            credit_own_acquisition(identity)
        if self.allows[identity.provider_key]:
            self.record_seconds(
                self.instruments.connection_acquire_time,
                seconds,
                acquire_attributes(identity, reused, error),
                context,
            )

    # These run for every point, so the common case (a plain number in range) is
    # decided inline, without a call.

    def record_seconds(
        self, histogram: Histogram, value: object, attributes: Attributes, context: Context
    ) -> None:
        """Record a duration, or drop it (debug log) when it is not plausible."""
        if not (type(value) is float and 0.0 <= value <= MAX_SECONDS):
            value = checked(value, MAX_SECONDS, "duration", attributes)
            if value is None:
                return
        PENDING.add(histogram, value, attributes, context, False)

    def add(
        self, counter: Counter, value: object, attributes: Attributes, context: Context
    ) -> None:
        """Add a non-zero amount to a counter, or drop it (debug log) when odd."""
        if not ((type(value) is int or type(value) is float) and 0 <= value <= MAX_AMOUNT):
            value = checked(value, MAX_AMOUNT, "amount", attributes)
        if value:  # nothing used (or dropped), nothing to add: as the framework's own counters
            PENDING.add(counter, value, attributes, context, True)

    def record_amount(
        self, histogram: Histogram, value: object, attributes: Attributes, context: Context
    ) -> None:
        """Record a non-zero amount (tokens) into a histogram, or drop it when odd."""
        if not ((type(value) is int or type(value) is float) and 0 <= value <= MAX_AMOUNT):
            value = checked(value, MAX_AMOUNT, "amount", attributes)
        if value:
            PENDING.add(histogram, value, attributes, context, False)
