"""Usage from every component's ``"metrics_collected"`` event.

Every STT, TTS, LLM, realtime session and interruption detector is an
``rtc.EventEmitter`` that emits its usage as ``"metrics_collected"``, alone or
inside an ``AgentSession``, on every livekit-agents release.  Wrapping
``EventEmitter.emit`` is the one patch point that sees them all; the wrapper
returns at once for every other event.

Adapters (``FallbackAdapter``, ``StreamAdapter``) re-emit the event of the
component they wrap from inside that component's ``emit`` call.  The event is
recorded by the outermost emit, the component that produced it, and its
nested re-emits are skipped, so each usage is counted once and attributed to
the provider that served it.
"""

from __future__ import annotations

from contextvars import ContextVar
from typing import Any, Callable

from opentelemetry.instrumentation.utils import is_instrumentation_enabled, unwrap
from wrapt import wrap_function_wrapper

from opentelemetry.instrumentation.livekit_agents.recorder import Recorder
from opentelemetry.instrumentation.livekit_agents.usage import record_usage

_MODULE = "livekit.rtc.event_emitter"
_EVENT = "metrics_collected"

_events_in_flight: ContextVar[tuple[int, ...]] = ContextVar(
    "livekit_agents_metrics_in_flight", default=()
)


def instrument(recorder: Recorder) -> None:
    """Patch ``rtc.EventEmitter.emit``."""
    wrap_function_wrapper(_MODULE, "EventEmitter.emit", _emit_wrapper(recorder))


def uninstrument() -> None:
    """Restore ``rtc.EventEmitter.emit``."""
    from livekit.rtc.event_emitter import EventEmitter

    unwrap(EventEmitter, "emit")


def _emit_wrapper(recorder: Recorder) -> Callable[..., Any]:
    def wrapper(wrapped: Callable[..., Any], emitter: Any, args: Any, kwargs: Any) -> Any:
        if len(args) < 2 or args[0] != _EVENT or not is_instrumentation_enabled():
            return wrapped(*args, **kwargs)
        in_flight = _events_in_flight.get()
        event_id = id(args[1])
        if event_id in in_flight:  # an adapter re-emitting its component's event
            return wrapped(*args, **kwargs)
        record_usage(recorder, emitter, args[1])
        token = _events_in_flight.set((*in_flight, event_id))
        try:
            return wrapped(*args, **kwargs)
        finally:
            _events_in_flight.reset(token)

    return wrapper
