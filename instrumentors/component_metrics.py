"""Usage from every component's ``"metrics_collected"`` event.

Every STT, TTS, LLM, realtime session and interruption detector is an
``rtc.EventEmitter`` that emits its usage as ``"metrics_collected"``, alone or
inside an ``AgentSession``, on every livekit-agents release.  The patch of
``EventEmitter.emit`` (:mod:`.event_routes`) is the one patch point that sees
them all; it routes this one event name here.

Each usage is counted once, for the component that served it:

- adapters (``FallbackAdapter``, ``StreamAdapter``, and any wrapper that
  forwards its child's events, like ``MultiSpeakerAdapter``) re-emit the very
  event object of the component they wrap, from inside that component's
  ``emit`` call: the first emit records it, and a re-emit of the event last
  recorded in this thread is skipped;
- an adapter's own events are never recorded: in livekit-agents 1.0.x a
  ``FallbackAdapter`` stream emits a second, adapter-level copy of the usage
  that its child already emitted.
"""

from __future__ import annotations

import threading
from typing import Any

from opentelemetry.instrumentation.livekit_agents.instrumentors import event_routes
from opentelemetry.instrumentation.livekit_agents.recorder import Recorder, current_context
from opentelemetry.instrumentation.livekit_agents.usage import record_usage

_EVENT = "metrics_collected"


class _LastRecorded(threading.local):
    """The metrics object this thread recorded last.

    A re-emit happens synchronously inside the first emit, so it is always of the
    event last recorded in its thread.  Holding the object itself (not its id)
    means a new event can never be taken for it.
    """

    event: object = None


_last_recorded = _LastRecorded()
_route: event_routes.Route | None = None


def instrument(recorder: Recorder) -> None:
    """Route every ``"metrics_collected"`` event to the usage recorder."""
    global _route
    if _route is None:
        _route = _usage_route(recorder, _adapters())
        event_routes.route(_EVENT, _route)


def uninstrument() -> None:
    """Stop routing usage events."""
    global _route
    if _route is not None:
        event_routes.unroute(_EVENT, _route)
        _route = None


def _adapters() -> tuple[type, ...]:
    from livekit.agents import llm, stt, tts

    candidates = (
        getattr(module, name, None)
        for module in (llm, stt, tts)
        for name in ("FallbackAdapter", "StreamAdapter")
    )
    return tuple(c for c in candidates if isinstance(c, type))


def _usage_route(recorder: Recorder, adapters: tuple[type, ...]) -> event_routes.Route:
    last = _last_recorded
    # isinstance(emitter, adapters), answered once per emitter class: the adapters
    # are ABCs, whose isinstance is slow; classes are few.
    adapter_classes: dict[type, bool] = {}

    def on_metrics_collected(emitter: Any, metrics: Any) -> None:
        cls = type(emitter)
        is_adapter = adapter_classes.get(cls)
        if is_adapter is None:
            is_adapter = adapter_classes[cls] = issubclass(cls, adapters)
        if is_adapter or metrics is last.event:
            return
        context = current_context()
        if context is not None and record_usage(recorder, emitter, metrics, context):
            last.event = metrics

    return on_metrics_collected
