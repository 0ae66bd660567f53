"""This package's meter, created on the MeterProvider given to ``instrument()``."""

from __future__ import annotations

from opentelemetry.metrics import Meter, MeterProvider, get_meter

from opentelemetry.instrumentation.livekit_agents.pending_points import (
    PENDING,
    PENDING_POINTS_INSTRUMENT,
)
from opentelemetry.instrumentation.livekit_agents.version import __version__

SCHEMA_URL = "https://opentelemetry.io/schemas/1.37.0"


def package_meter(meter_provider: MeterProvider | None) -> Meter:
    """The package's meter on ``meter_provider`` (None: the global one), with the
    gauge whose callback records the pending points before every collection."""
    meter = get_meter(
        "opentelemetry.instrumentation.livekit_agents",
        __version__,
        meter_provider,
        schema_url=SCHEMA_URL,
    )
    # created again on every instrument(): the SDK hands back the one it has
    meter.create_observable_gauge(
        PENDING_POINTS_INSTRUMENT,
        callbacks=[PENDING.observe],
        description="Observes nothing; records the instrumentation's pending points.",
    )
    return meter
