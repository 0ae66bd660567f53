"""Turn latencies of every ``AgentSession``: a ``TurnTracker`` per started session.

``AgentSession.start`` is wrapped to give the session a tracker before it runs;
the session events a tracker reads are routed to it by the ``EventEmitter.emit``
patch (:mod:`.event_routes`).  ``uninstrument()`` stops the routes and forgets
every tracker.
"""

from __future__ import annotations

import weakref
from typing import Any, Callable

from opentelemetry.instrumentation.utils import unwrap
from wrapt import wrap_function_wrapper

from opentelemetry.instrumentation.livekit_agents.instrumentors import event_routes
from opentelemetry.instrumentation.livekit_agents.recorder import (
    Recorder,
    current_context,
    never_raises,
)
from opentelemetry.instrumentation.livekit_agents.turns import Handler, TurnTracker

_MODULE = "livekit.agents.voice.agent_session"

_trackers: dict[int, TurnTracker] = {}
"""Each tracked session's tracker by the session's ``id()``: a plain dict look-up per
session event, where a ``WeakKeyDictionary`` makes a weak reference and a Python call
(~0.3 us).  A finalizer removes the entry when its session is collected."""
_routes: list[tuple[str, event_routes.Route]] = []


def instrument(recorder: Recorder) -> None:
    """Patch ``AgentSession.start`` and route the tracked events."""
    from livekit.agents import llm

    # livekit-agents 1.3.1 added ChatMessage.metrics, the per-turn MetricsReport.
    reports = "metrics" in getattr(llm.ChatMessage, "model_fields", {})
    wrap_function_wrapper(_MODULE, "AgentSession.start", _start_wrapper(recorder))
    for event, handler in TurnTracker.handlers(reports).items():
        callback = _tracker_route(handler)
        event_routes.route(event, callback)
        _routes.append((event, callback))


def uninstrument() -> None:
    """Restore ``AgentSession.start``, stop the routes and forget every tracker."""
    from livekit.agents.voice.agent_session import AgentSession

    unwrap(AgentSession, "start")
    for event, callback in _routes:
        event_routes.unroute(event, callback)
    _routes.clear()
    _trackers.clear()


def _start_wrapper(recorder: Recorder) -> Callable[..., Any]:
    async def wrapper(wrapped: Callable[..., Any], session: Any, args: Any, kwargs: Any) -> Any:
        if current_context() is not None:
            _track(recorder, session)
        return await wrapped(*args, **kwargs)

    return wrapper


@never_raises
def _track(recorder: Recorder, session: Any) -> None:
    key = id(session)
    if key not in _trackers:
        _trackers[key] = TurnTracker(recorder, session)
        weakref.finalize(session, _trackers.pop, key, None).atexit = False


def _tracker_route(handler: Handler) -> event_routes.Route:
    trackers = _trackers

    def on_session_event(emitter: Any, event: Any) -> None:
        # any emitter's id may be looked up (components emit "metrics_collected"
        # too): only a tracked session finds its own tracker
        tracker = trackers.get(id(emitter))
        if tracker is None or tracker.session() is not emitter:
            return
        context = current_context()
        if context is not None:
            handler(tracker, event, context)

    return on_session_event
