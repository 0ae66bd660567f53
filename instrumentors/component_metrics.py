"""Usage from every component's ``"metrics_collected"`` event.

Every STT, TTS, LLM, realtime session and interruption detector is an
``rtc.EventEmitter`` that emits its usage as ``"metrics_collected"``, alone or
inside an ``AgentSession``, on every livekit-agents release.  Wrapping
``EventEmitter.emit`` is the one patch point that sees them all; the wrapper
returns at once for every other event.

Each usage is counted once, for the component that served it:

- adapters (``FallbackAdapter``, ``StreamAdapter``) re-emit the event of the
  component they wrap from inside that component's ``emit`` call; the
  outermost emit records it and the nested re-emits are skipped;
- an adapter's own events are never recorded: in livekit-agents 1.0.x a
  ``FallbackAdapter`` stream emits a second, adapter-level copy of the usage
  that its child already emitted.
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
    wrap_function_wrapper(_MODULE, "EventEmitter.emit", _emit_wrapper(recorder, _adapters()))


def uninstrument() -> None:
    """Restore ``rtc.EventEmitter.emit``."""
    from livekit.rtc.event_emitter import EventEmitter

    unwrap(EventEmitter, "emit")


def _adapters() -> tuple[type, ...]:
    from livekit.agents import llm, stt, tts

    candidates = (
        getattr(module, name, None)
        for module in (llm, stt, tts)
        for name in ("FallbackAdapter", "StreamAdapter")
    )
    return tuple(c for c in candidates if isinstance(c, type))


def _emit_wrapper(recorder: Recorder, adapters: tuple[type, ...]) -> Callable[..., Any]:
    def wrapper(wrapped: Callable[..., Any], emitter: Any, args: Any, kwargs: Any) -> Any:
        if len(args) < 2 or args[0] != _EVENT or not is_instrumentation_enabled():
            return wrapped(*args, **kwargs)
        in_flight = _events_in_flight.get()
        event_id = id(args[1])
        if event_id in in_flight or isinstance(emitter, adapters):
            return wrapped(*args, **kwargs)
        record_usage(recorder, emitter, args[1])
        token = _events_in_flight.set((*in_flight, event_id))
        try:
            return wrapped(*args, **kwargs)
        finally:
            _events_in_flight.reset(token)

    return wrapper
