"""Usage from every component's ``"metrics_collected"`` event: the usage counters
and (:mod:`.gen_ai`) the GenAI client metrics.

Every STT, TTS, LLM, realtime session and interruption detector is an
``rtc.EventEmitter`` that emits its usage as ``"metrics_collected"``, alone or
inside a session, on every livekit-agents release.  The patch of
``EventEmitter.emit`` (:mod:`.event_emit`) is the one patch point that sees
them all; it routes this one event name here.

The events are the framework's own ``LLMMetrics``, ``RealtimeModelMetrics``,
``TTSMetrics``, ``STTMetrics`` and ``InterruptionMetrics``; they are matched
by class name and read field by field, so a release that lacks a field (or a
metrics class) simply records less.  The connection acquisitions that the
framework reports on STT, TTS and realtime events go on to
:mod:`.connections.native`.  Zero amounts are not added, as in the
framework's own counters; odd amounts are dropped by the recorder.

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
from typing import Any, Callable

from opentelemetry.context import Context

from opentelemetry.instrumentation.livekit_agents.instrumentors.connections.native import (
    record_native_acquisition,
)
from opentelemetry.instrumentation.livekit_agents.instrumentors.event_emit import (
    EventEmitPatch,
    Route,
)
from opentelemetry.instrumentation.livekit_agents.instrumentors.gen_ai import (
    CHAT,
    GENERATE_CONTENT,
    record_gen_ai,
)
from opentelemetry.instrumentation.livekit_agents.instrumentors.session_class import (
    session_class,
)
from opentelemetry.instrumentation.livekit_agents.model_identity import (
    ModelIdentity,
    identify,
    remember,
    with_metadata,
)
from opentelemetry.instrumentation.livekit_agents.otel_context import current_context
from opentelemetry.instrumentation.livekit_agents.recorder import Recorder

_EVENT = "metrics_collected"


class _LastRecorded(threading.local):
    """The metrics object this thread recorded last.

    A re-emit happens synchronously inside the first emit, so it is always of the
    event last recorded in its thread.  Holding the object itself (not its id)
    means a new event can never be taken for it.
    """

    event: object = None


class Usage:
    """The usage aspect: every ``"metrics_collected"`` event routed to the recorder."""

    def __init__(self, emit_patch: EventEmitPatch) -> None:
        self._emit_patch = emit_patch
        self._route: Route | None = None

    def instrument(self, recorder: Recorder) -> None:
        """Route every ``"metrics_collected"`` event to the usage recorder."""
        if self._route is None:
            self._route = _usage_route(recorder, _not_components())
            self._emit_patch.route(_EVENT, self._route)

    def uninstrument(self) -> None:
        """Stop routing usage events."""
        if self._route is not None:
            self._emit_patch.unroute(_EVENT, self._route)
            self._route = None


def _not_components() -> tuple[type, ...]:
    """The emitters whose ``"metrics_collected"`` is no usage of their own."""
    from livekit.agents import llm, stt, tts

    candidates = (
        getattr(module, name, None)
        for module in (llm, stt, tts)
        for name in ("FallbackAdapter", "StreamAdapter")
    )
    return (session_class(), *(c for c in candidates if isinstance(c, type)))


def _usage_route(recorder: Recorder, not_components: tuple[type, ...]) -> Route:
    last = _LastRecorded()
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


def record_usage(recorder: Recorder, emitter: object, metrics: object, context: Context) -> bool:
    """Record one metrics event that ``emitter`` (a component) emitted in ``context``.

    True when ``metrics`` is usage (whether or not its provider is switched on).
    """
    try:
        handler = _handlers_by_class[type(metrics)]
    except KeyError:
        handler = _handler(type(metrics))
    if handler is None:
        return False  # VAD, EOU, avatar, ... carry no usage
    # The emitting component's identity (a realtime session emits for its model,
    # which holds the model and provider), completed by the event's own metadata.
    identity = identify(getattr(emitter, "_realtime_model", None) or emitter)
    if not identity.complete:  # with_metadata's own first check, spared a call per event
        identity = with_metadata(identity, getattr(metrics, "metadata", None))
    if recorder.allows[identity.provider_key]:
        handler(recorder, identity, metrics, context)
    return True


def _llm(recorder: Recorder, identity: ModelIdentity, metrics: Any, context: Context) -> None:
    instruments = recorder.instruments
    attributes = identity.shared_attributes
    input_tokens = getattr(metrics, "prompt_tokens", 0)
    output_tokens = getattr(metrics, "completion_tokens", 0)
    recorder.add(instruments.llm_input_tokens, input_tokens, attributes, context)
    recorder.add(
        instruments.llm_input_cached_tokens,
        getattr(metrics, "prompt_cached_tokens", 0),
        attributes,
        context,
    )
    recorder.add(instruments.llm_output_tokens, output_tokens, attributes, context)
    record_gen_ai(recorder, identity, metrics, context, CHAT, input_tokens, output_tokens)


def _realtime(recorder: Recorder, identity: ModelIdentity, metrics: Any, context: Context) -> None:
    instruments = recorder.instruments
    attributes = identity.shared_attributes
    inputs = getattr(metrics, "input_token_details", None)
    outputs = getattr(metrics, "output_token_details", None)
    input_tokens = getattr(metrics, "input_tokens", 0)
    output_tokens = getattr(metrics, "output_tokens", 0)
    amounts = (
        (instruments.llm_input_tokens, input_tokens),
        (instruments.llm_input_cached_tokens, getattr(inputs, "cached_tokens", 0)),
        (instruments.llm_output_tokens, output_tokens),
        (instruments.llm_input_audio_tokens, getattr(inputs, "audio_tokens", 0)),
        (instruments.llm_input_text_tokens, getattr(inputs, "text_tokens", 0)),
        (instruments.llm_output_audio_tokens, getattr(outputs, "audio_tokens", 0)),
        (instruments.llm_output_text_tokens, getattr(outputs, "text_tokens", 0)),
        (instruments.llm_session_duration, getattr(metrics, "session_duration", 0)),
    )
    for counter, amount in amounts:
        recorder.add(counter, amount, attributes, context)
    record_gen_ai(
        recorder, identity, metrics, context, GENERATE_CONTENT, input_tokens, output_tokens
    )
    if getattr(metrics, "acquire_time", 0.0):  # most events report none: spare the call
        record_native_acquisition(recorder, identity, metrics, context)


def _tts(recorder: Recorder, identity: ModelIdentity, metrics: Any, context: Context) -> None:
    attributes = identity.shared_attributes
    instruments = recorder.instruments
    recorder.add(
        instruments.tts_characters, getattr(metrics, "characters_count", 0), attributes, context
    )
    recorder.add(
        instruments.tts_audio_duration,
        getattr(metrics, "audio_duration", 0),
        attributes,
        context,
    )
    if getattr(metrics, "acquire_time", 0.0):  # most events report none: spare the call
        record_native_acquisition(recorder, identity, metrics, context)


def _stt(recorder: Recorder, identity: ModelIdentity, metrics: Any, context: Context) -> None:
    recorder.add(
        recorder.instruments.stt_audio_duration,
        getattr(metrics, "audio_duration", 0),
        identity.shared_attributes,
        context,
    )
    if getattr(metrics, "acquire_time", 0.0):  # most events report none: spare the call
        record_native_acquisition(recorder, identity, metrics, context)


def _interruption(
    recorder: Recorder, identity: ModelIdentity, metrics: Any, context: Context
) -> None:
    recorder.add(
        recorder.instruments.interruption_num_requests,
        getattr(metrics, "num_requests", 0),
        identity.shared_attributes,
        context,
    )


_Handler = Callable[[Recorder, ModelIdentity, Any, Context], None]
_handlers_by_class: dict[type, _Handler | None] = {}


def _handler(cls: type) -> _Handler | None:
    """The handler of a metrics class, by its name; remembered per class."""
    return remember(_handlers_by_class, cls, _HANDLERS.get(cls.__name__))


_HANDLERS: dict[str, _Handler] = {
    "LLMMetrics": _llm,
    "RealtimeModelMetrics": _realtime,
    "TTSMetrics": _tts,
    "STTMetrics": _stt,
    "InterruptionMetrics": _interruption,
}
