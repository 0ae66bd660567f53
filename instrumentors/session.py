"""Turn latencies of every ``AgentSession``: a ``TurnTracker`` per started session.

``AgentSession.start`` is wrapped to subscribe the tracker to the session's own
events before the session runs; ``uninstrument()`` unsubscribes it from every
live session.
"""

from __future__ import annotations

import weakref
from typing import Any, Callable

from opentelemetry.instrumentation.utils import unwrap
from wrapt import wrap_function_wrapper

from opentelemetry.instrumentation.livekit_agents.recorder import (
    Recorder,
    instrumentation_enabled,
    never_raises,
)
from opentelemetry.instrumentation.livekit_agents.turns import TurnTracker

_MODULE = "livekit.agents.voice.agent_session"

_trackers: weakref.WeakKeyDictionary[Any, TurnTracker] = weakref.WeakKeyDictionary()


def instrument(recorder: Recorder) -> None:
    """Patch ``AgentSession.start``."""
    from livekit.agents import llm

    # livekit-agents 1.3.1 added ChatMessage.metrics, the per-turn MetricsReport.
    reports = "metrics" in getattr(llm.ChatMessage, "model_fields", {})
    wrap_function_wrapper(_MODULE, "AgentSession.start", _start_wrapper(recorder, reports))


def uninstrument() -> None:
    """Restore ``AgentSession.start`` and unsubscribe from every live session."""
    from livekit.agents.voice.agent_session import AgentSession

    unwrap(AgentSession, "start")
    for session, tracker in list(_trackers.items()):
        tracker.detach(session)
    _trackers.clear()


def _start_wrapper(recorder: Recorder, reports: bool) -> Callable[..., Any]:
    async def wrapper(wrapped: Callable[..., Any], session: Any, args: Any, kwargs: Any) -> Any:
        if instrumentation_enabled():
            _track(recorder, session, reports)
        return await wrapped(*args, **kwargs)

    return wrapper


@never_raises
def _track(recorder: Recorder, session: Any, reports: bool) -> None:
    if session in _trackers:
        return
    tracker = TurnTracker(recorder, session, reports)
    tracker.attach(session)
    _trackers[session] = tracker
