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

import contextlib
import importlib.util
import logging
import threading
from collections.abc import Collection, Iterator
from importlib.metadata import entry_points
from typing import Any, TypeVar

from opentelemetry.instrumentation.instrumentor import (  # type: ignore[attr-defined]
    BaseInstrumentor,
)

from opentelemetry.instrumentation.livekit_agents.instrumentors.aspect import Aspect
from opentelemetry.instrumentation.livekit_agents.instrumentors.coexistence import Coexistence
from opentelemetry.instrumentation.livekit_agents.instrumentors.connections import (
    ConnectionTiming,
)
from opentelemetry.instrumentation.livekit_agents.instrumentors.event_emit import EventEmitPatch
from opentelemetry.instrumentation.livekit_agents.instrumentors.job_flush import JobFlush
from opentelemetry.instrumentation.livekit_agents.instrumentors.turn_latency import TurnLatency
from opentelemetry.instrumentation.livekit_agents.instrumentors.usage import Usage
from opentelemetry.instrumentation.livekit_agents.package import _instruments
from opentelemetry.instrumentation.livekit_agents.pending_points import PENDING
from opentelemetry.instrumentation.livekit_agents.provider_instrumentor import (
    PROVIDER_ENTRY_POINT_GROUP,
    ProviderInstrumentor,
)
from opentelemetry.instrumentation.livekit_agents.recorder import Recorder
from opentelemetry.instrumentation.livekit_agents.version import __version__

__all__ = ["AgentsInstrumentor", "__version__"]

_logger = logging.getLogger(__name__)

_A = TypeVar("_A")


def create_aspects() -> tuple[Aspect, ...]:
    """Every framework aspect, in the order they are instrumented: the one place
    that lists them.  The ``emit`` patch comes first, as the two aspects that read
    events route them through it."""
    emit_patch = EventEmitPatch()
    return (
        emit_patch,
        ConnectionTiming(),
        Usage(emit_patch),
        TurnLatency(emit_patch),
        JobFlush(),
        Coexistence(),
    )


class _NotInstrumented(Exception):
    """``_instrument()`` failed, was logged and undone: ``instrument()`` returns."""


_LOCK = threading.RLock()
"""Held by ``instrument()`` and ``uninstrument()``: one at a time, in every thread."""


class AgentsInstrumentor(BaseInstrumentor):  # type: ignore[misc]
    """An instrumentor for the LiveKit Agents framework and its plugins."""

    aspects: tuple[Aspect, ...] = ()
    """The framework aspects while instrumented (none otherwise): see :meth:`aspect`."""
    _providers: list[ProviderInstrumentor]

    def instrumentation_dependencies(self) -> Collection[str]:
        """The livekit-agents releases this package can patch."""
        return _instruments

    def aspect(self, kind: type[_A]) -> _A:
        """The instrumented aspect of class ``kind`` (``TurnLatency``, ``EventEmitPatch``...),
        for tests and benchmarks; LookupError while uninstrumented."""
        for aspect in self.aspects:
            if isinstance(aspect, kind):
                return aspect
        raise LookupError(f"no {kind.__name__} aspect: not instrumented")

    def instrument(self, **kwargs: Any) -> None:
        """Patch the framework (once, however many threads call this at once).

        An exception while instrumenting, such as a MeterProvider that cannot give a
        meter, is logged and leaves the framework uninstrumented, as before the call.
        """
        # BaseInstrumentor's is-instrumented check-then-set is not atomic by itself
        with _LOCK, contextlib.suppress(_NotInstrumented):
            super().instrument(**kwargs)

    def uninstrument(self, **kwargs: Any) -> None:
        """Restore everything ``instrument()`` patched (once, from any thread)."""
        with _LOCK:
            super().uninstrument(**kwargs)

    def _instrument(self, **kwargs: Any) -> None:
        self.aspects = ()
        self._providers = []
        try:
            self._apply(kwargs)
        except Exception as error:
            _logger.warning("livekit-agents instrumentation not enabled: %s", error, exc_info=True)
            self._uninstrument()  # what was patched before the failure
            raise _NotInstrumented from error

    def _apply(self, kwargs: dict[str, Any]) -> None:
        recorder = Recorder.create(
            kwargs.get("meter_provider"), kwargs.get("providers"), kwargs.get("exclude_providers")
        )
        for aspect in create_aspects():
            aspect.instrument(recorder)
            self.aspects = (*self.aspects, aspect)  # so far: what a failure must undo
        for provider in installed_providers():
            if recorder.switch.allows(provider.provider):
                provider.instrument(recorder=recorder, skip_dep_check=True)
                self._providers.append(provider)

    def _uninstrument(self, **kwargs: Any) -> None:
        for provider in self._providers:
            provider.uninstrument()
        self._providers = []
        for aspect in reversed(self.aspects):
            aspect.uninstrument()
        self.aspects = ()
        PENDING.record_all()  # what was observed while instrumented still counts


def installed_providers() -> Iterator[ProviderInstrumentor]:
    """The provider instrumentors whose plugin is installed, by entry point.

    They are entry points of a group of this package's own, not of
    ``opentelemetry_instrumentor``: ``AgentsInstrumentor`` is their one way in, so
    ``opentelemetry-instrument`` does not instrument them a second time.
    """
    for entry_point in entry_points(group=PROVIDER_ENTRY_POINT_GROUP):
        try:
            instrumentor_class = entry_point.load()
            if importlib.util.find_spec(f"livekit.plugins.{instrumentor_class.provider}"):
                yield instrumentor_class()
        except Exception:  # a broken third-party entry point must not stop the others
            _logger.debug("cannot load provider instrumentor %s", entry_point.name, exc_info=True)
