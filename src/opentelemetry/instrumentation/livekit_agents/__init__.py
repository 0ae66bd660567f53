"""OpenTelemetry metrics for LiveKit Agents.

Records how long each conversational turn takes, how much each model is used,
and how long it takes to get a connection to a model provider, on every
livekit-agents release from 1.0.

Usage
-----

Zero code::

    opentelemetry-instrument python agent.py start

In code::

    from opentelemetry.instrumentation.livekit_agents import AgentsInstrumentor

    AgentsInstrumentor().instrument()
    # or with a MeterProvider of your own, and only some providers:
    AgentsInstrumentor().instrument(
        meter_provider=meter_provider,
        providers=["deepgram", "openai"],  # allow-list
        exclude_providers=["cartesia"],
    )

    AgentsInstrumentor().uninstrument()

Providers can also be switched with ``OTEL_PYTHON_LIVEKIT_AGENTS_PROVIDERS``,
``OTEL_PYTHON_LIVEKIT_AGENTS_EXCLUDED_PROVIDERS`` (comma-separated) and
``OTEL_PYTHON_DISABLED_INSTRUMENTATIONS=livekit_agents_<provider>``.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from opentelemetry.instrumentation.instrumentor import (  # type: ignore[attr-defined]
    BaseInstrumentor,
)
from opentelemetry.metrics import get_meter

from opentelemetry.instrumentation.livekit_agents.instrumentors import (
    component_metrics,
    connection_pool,
)
from opentelemetry.instrumentation.livekit_agents.instruments import Instruments
from opentelemetry.instrumentation.livekit_agents.package import _instruments
from opentelemetry.instrumentation.livekit_agents.provider_switch import ProviderSwitch
from opentelemetry.instrumentation.livekit_agents.recorder import Recorder
from opentelemetry.instrumentation.livekit_agents.version import __version__

__all__ = ["AgentsInstrumentor", "__version__"]

SCHEMA_URL = "https://opentelemetry.io/schemas/1.37.0"

# The framework-level aspects, each with instrument(recorder) / uninstrument().
_ASPECTS = (connection_pool, component_metrics)


class AgentsInstrumentor(BaseInstrumentor):  # type: ignore[misc]
    """An instrumentor for the LiveKit Agents framework and its plugins."""

    def instrumentation_dependencies(self) -> Collection[str]:
        """The livekit-agents releases this package can patch."""
        return _instruments

    def _instrument(self, **kwargs: Any) -> None:
        meter = get_meter(
            __name__,
            __version__,
            kwargs.get("meter_provider"),
            schema_url=SCHEMA_URL,
        )
        switch = ProviderSwitch.from_settings(
            kwargs.get("providers"), kwargs.get("exclude_providers")
        )
        recorder = Recorder(Instruments(meter), switch)
        for aspect in _ASPECTS:
            aspect.instrument(recorder)

    def _uninstrument(self, **kwargs: Any) -> None:
        for aspect in reversed(_ASPECTS):
            aspect.uninstrument()
