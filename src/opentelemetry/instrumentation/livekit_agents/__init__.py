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

import importlib.util
import logging
from collections.abc import Collection, Iterator
from importlib.metadata import entry_points
from typing import Any

from opentelemetry.instrumentation.instrumentor import (  # type: ignore[attr-defined]
    BaseInstrumentor,
)

from opentelemetry.instrumentation.livekit_agents.instrumentors import (
    component_metrics,
    connection_pool,
    job,
    native_metrics,
    session,
)
from opentelemetry.instrumentation.livekit_agents.package import _instruments
from opentelemetry.instrumentation.livekit_agents.provider_instrumentor import (
    ProviderInstrumentor,
)
from opentelemetry.instrumentation.livekit_agents.provider_switch import (
    PROVIDER_ENTRY_POINT_PREFIX,
)
from opentelemetry.instrumentation.livekit_agents.recorder import PENDING, Recorder
from opentelemetry.instrumentation.livekit_agents.version import __version__

__all__ = ["AgentsInstrumentor", "__version__"]

_logger = logging.getLogger(__name__)

# The framework-level aspects, each with instrument(recorder) / uninstrument(); the
# ``EventEmitter.emit`` patch (event_routes) comes and goes with their routes.
_ASPECTS = (connection_pool, component_metrics, session, job)


class AgentsInstrumentor(BaseInstrumentor):  # type: ignore[misc]
    """An instrumentor for the LiveKit Agents framework and its plugins."""

    _providers: list[ProviderInstrumentor]

    def instrumentation_dependencies(self) -> Collection[str]:
        """The livekit-agents releases this package can patch."""
        return _instruments

    def _instrument(self, **kwargs: Any) -> None:
        recorder = Recorder.create(
            kwargs.get("meter_provider"), kwargs.get("providers"), kwargs.get("exclude_providers")
        )
        for aspect in _ASPECTS:
            aspect.instrument(recorder)
        native_metrics.instrument(kwargs.get("meter_provider"))
        self._providers = []
        for provider in installed_providers():
            if recorder.switch.allows(provider.provider):
                provider.instrument(recorder=recorder, skip_dep_check=True)
                self._providers.append(provider)

    def _uninstrument(self, **kwargs: Any) -> None:
        for provider in self._providers:
            provider.uninstrument()
        self._providers = []
        native_metrics.uninstrument()
        for aspect in reversed(_ASPECTS):
            aspect.uninstrument()
        PENDING.record_all()  # what was observed while instrumented still counts


def installed_providers() -> Iterator[ProviderInstrumentor]:
    """The provider instrumentors whose plugin is installed, by entry point."""
    for entry_point in entry_points(group="opentelemetry_instrumentor"):
        if not entry_point.name.startswith(PROVIDER_ENTRY_POINT_PREFIX):
            continue
        try:
            instrumentor_class = entry_point.load()
            if importlib.util.find_spec(f"livekit.plugins.{instrumentor_class.provider}"):
                yield instrumentor_class()
        except Exception:  # a broken third-party entry point must not stop the others
            _logger.debug("cannot load provider instrumentor %s", entry_point.name, exc_info=True)
