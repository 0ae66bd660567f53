"""Usage from every component's ``"metrics_collected"`` event.

Every STT, TTS, LLM, realtime session and interruption detector is an
``rtc.EventEmitter`` that emits its usage as ``"metrics_collected"``, alone or
inside an ``AgentSession``, on every livekit-agents release.  Wrapping
``EventEmitter.emit`` is the one patch point that sees them all; the wrapper
returns at once for every other event.

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

import functools
import threading
from typing import Any, Callable

from opentelemetry.instrumentation.livekit_agents.recorder import Recorder, instrumentation_enabled
from opentelemetry.instrumentation.livekit_agents.usage import record_usage

_EVENT = "metrics_collected"
_PATCH_MARK = "_otel_livekit_agents_patch"


class _LastRecorded(threading.local):
    """The metrics object this thread recorded last.

    A re-emit happens synchronously inside the first emit, so it is always of the
    event last recorded in its thread.  Holding the object itself (not its id)
    means a new event can never be taken for it.
    """

    event: object = None


_last_recorded = _LastRecorded()


def instrument(recorder: Recorder) -> None:
    """Patch ``rtc.EventEmitter.emit``.

    Every event of every emitter in the process passes through this patch, so it
    is a plain function rather than a wrapt wrapper: wrapt binds a new wrapper
    object on each ``emitter.emit`` access, ~1.5 us per event on a slow core
    against ~0.4 us for a function.  ``__wrapped__`` is the original, as with wrapt.
    """
    from livekit.rtc.event_emitter import EventEmitter

    original = EventEmitter.__dict__["emit"]
    if getattr(original, _PATCH_MARK, False):
        return
    EventEmitter.emit = _patched_emit(original, recorder, _adapters())  # type: ignore[method-assign]


def uninstrument() -> None:
    """Restore ``rtc.EventEmitter.emit``."""
    from livekit.rtc.event_emitter import EventEmitter

    patched = EventEmitter.__dict__.get("emit")
    if getattr(patched, _PATCH_MARK, False):
        EventEmitter.emit = patched.__wrapped__  # type: ignore[method-assign,union-attr]


def _adapters() -> tuple[type, ...]:
    from livekit.agents import llm, stt, tts

    candidates = (
        getattr(module, name, None)
        for module in (llm, stt, tts)
        for name in ("FallbackAdapter", "StreamAdapter")
    )
    return tuple(c for c in candidates if isinstance(c, type))


def _patched_emit(
    original: Callable[..., Any], recorder: Recorder, adapters: tuple[type, ...]
) -> Callable[..., Any]:
    is_adapter = _AdapterCheck(adapters)
    last = _last_recorded

    @functools.wraps(original)
    def emit(emitter: Any, event: Any, *args: Any, **kwargs: Any) -> Any:
        if (
            event == _EVENT
            and args
            and args[0] is not last.event
            and not is_adapter(emitter)
            and instrumentation_enabled()
            and record_usage(recorder, emitter, args[0])
        ):
            last.event = args[0]
        return original(emitter, event, *args, **kwargs)

    setattr(emit, _PATCH_MARK, True)
    return emit


class _AdapterCheck:
    """``isinstance(emitter, adapters)``, answered once per emitter class.

    The adapters are ABCs, whose ``isinstance`` is slow; classes are few.
    """

    def __init__(self, adapters: tuple[type, ...]) -> None:
        self._adapters = adapters
        self._known: dict[type, bool] = {}

    def __call__(self, emitter: object) -> bool:
        cls = type(emitter)
        known = self._known.get(cls)
        if known is None:
            known = self._known[cls] = issubclass(cls, self._adapters)
        return known
