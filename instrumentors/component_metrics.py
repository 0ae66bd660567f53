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
  that its child already emitted;
- a session's are not read either: it re-emits its components' metrics, each
  wrapped in a ``MetricsCollectedEvent``.
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
        _route = _usage_route(recorder, _not_components())
        event_routes.route(_EVENT, _route)


def uninstrument() -> None:
    """Stop routing usage events."""
    global _route
    if _route is not None:
        event_routes.unroute(_EVENT, _route)
        _route = None


def _not_components() -> tuple[type, ...]:
    """The emitters whose ``"metrics_collected"`` is no usage of their own."""
    from livekit.agents import llm, stt, tts
    from livekit.agents.voice.agent_session import AgentSession

    candidates = (
        getattr(module, name, None)
        for module in (llm, stt, tts)
        for name in ("FallbackAdapter", "StreamAdapter")
    )
    return (AgentSession, *(c for c in candidates if isinstance(c, type)))


def _usage_route(recorder: Recorder, not_components: tuple[type, ...]) -> event_routes.Route:
    last = _last_recorded
    # isinstance(emitter, not_components), answered once per emitter class: the
    # adapters are ABCs, whose isinstance is slow; classes are few.
    skipped_classes: dict[type, bool] = {}

    def on_metrics_collected(emitter: Any, metrics: Any) -> None:
        cls = type(emitter)
        skipped = skipped_classes.get(cls)
        if skipped is None:
            skipped = skipped_classes[cls] = issubclass(cls, not_components)
        if skipped or metrics is last.event:
            return
        context = current_context()
        if context is not None and record_usage(recorder, emitter, metrics, context):
            last.event = metrics

    return on_metrics_collected
