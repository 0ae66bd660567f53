"""Keeps the framework's own metrics (livekit-agents 1.5.2+) from counting twice.

livekit-agents 1.5.2 records the same ``lk.agents.*`` (and, from 1.8.0,
``gen_ai.client.*``) metrics through the global MeterProvider: usage in
``otel_metrics.collect_usage`` for every component event, turn latencies in
``otel_metrics.flush_turn_metrics`` at job end.  While instrumented, both are
wrapped; each call asks then whether this package records into the framework's
(global) provider, since ``set_meter_provider()`` may come after ``instrument()``:
if so it is skipped, so each measurement reaches the provider once, else the
framework records as without us.  ``uninstrument()`` restores both.
"""

from __future__ import annotations

import importlib
import logging
from typing import Any, Callable

from opentelemetry.instrumentation.utils import unwrap
from opentelemetry.metrics import MeterProvider, get_meter_provider
from wrapt import wrap_function_wrapper

from opentelemetry.instrumentation.livekit_agents.recorder import Recorder

_logger = logging.getLogger(__name__)

_MODULE = "livekit.agents.telemetry.otel_metrics"
_SUPPRESSED = ("collect_usage", "flush_turn_metrics")


def shares_framework_provider(meter_provider: MeterProvider | None) -> bool:
    """True when this package records where the framework's own metrics go."""
    return meter_provider is None or meter_provider is get_meter_provider()


class Coexistence:
    """The coexistence aspect: the framework functions it wraps, while instrumented."""

    def __init__(self) -> None:
        self.suspended: list[str] = []
        """The names in the framework's ``otel_metrics`` that are wrapped now (each call
        skipped while the framework shares our MeterProvider)."""

    def instrument(self, recorder: Recorder) -> None:
        """Wrap the framework's recording, to skip it while it shares our MeterProvider."""
        try:
            module = importlib.import_module(_MODULE)
        except ImportError:  # before 1.5.2 the framework records no metrics
            return
        wrapper = _suspended_if_shared(recorder.meter_provider)
        for name in _SUPPRESSED:
            if hasattr(module, name):
                wrap_function_wrapper(module, name, wrapper)
                self.suspended.append(name)

    def uninstrument(self) -> None:
        """Restore the framework's recording."""
        if self.suspended:
            module = importlib.import_module(_MODULE)
            for name in self.suspended:
                unwrap(module, name)
            self.suspended.clear()


def _suspended_if_shared(meter_provider: MeterProvider | None) -> Callable[..., Any]:
    def wrapper(wrapped: Callable[..., Any], instance: Any, args: Any, kwargs: Any) -> Any:
        if shares_framework_provider(meter_provider):
            _logger.debug("%s: recorded by opentelemetry-instrumentation-livekit-agents", wrapped)
            return None
        return wrapped(*args, **kwargs)

    return wrapper
