"""Turn latencies of every session, recorded as each turn ends.

The session's ``start`` is wrapped to give the session a :class:`TurnTracker`
before it runs; the session events a tracker reads are routed to it by the
``EventEmitter.emit`` patch (:mod:`.event_emit`).  ``uninstrument()`` stops the
routes and forgets every tracker.

From livekit-agents 1.3.1 the framework writes a ``MetricsReport`` on every
``ChatMessage`` before it fires ``"conversation_item_added"``; each user and
assistant message is read then.  Before 1.3.1 there is no report, and the same
quantities are assembled from what the framework does emit:

- user turn: the ``EOUMetrics`` delays (end of utterance, transcription,
  ``on_user_turn_completed``);
- agent reply: the first LLM ``ttft`` and the first TTS ``ttfb`` reported for
  the reply's ``speech_id``;
- end to end: from the end of the user's speech (``EOUMetrics``' timestamp
  less its delays) to the agent entering the ``"speaking"`` state, which the
  framework enters when the first audio frame is forwarded.  A reply that is
  interrupted before its audio, or that follows no user turn (a greeting,
  ``say()``), gets no end-to-end point.

Each point is keyed by the model of the component that produced it (LLM for
end to end and TTFT, TTS for TTFB, STT for the user-turn delays).
"""

from __future__ import annotations

import time
import weakref
from collections import OrderedDict
from typing import Any, Callable

from opentelemetry.context import Context
from opentelemetry.instrumentation.utils import unwrap
from opentelemetry.metrics import Histogram
from wrapt import wrap_function_wrapper

from opentelemetry.instrumentation.livekit_agents.error_boundary import never_raises
from opentelemetry.instrumentation.livekit_agents.instrumentors.event_emit import (
    EventEmitPatch,
    Route,
)
from opentelemetry.instrumentation.livekit_agents.instrumentors.session_class import (
    session_class,
)
from opentelemetry.instrumentation.livekit_agents.instrumentors.turn_replay import (
    RECORDED,
    guard_replay,
    unguard_replay,
)
from opentelemetry.instrumentation.livekit_agents.model_identity import (
    ModelIdentity,
    identify,
    with_metadata,
)
from opentelemetry.instrumentation.livekit_agents.otel_context import current_context
from opentelemetry.instrumentation.livekit_agents.recorder import Recorder

_SEEN_SPEECHES = 64
"""Speech ids remembered per session to keep one TTFT/TTFB point per reply."""


Handler = Callable[["TurnTracker", Any, Context], None]
"""A tracker's handler of one session event: the tracker, the event, its context."""


class TurnTracker:
    """Records one session's turn latencies from the session's events."""

    def __init__(self, recorder: Recorder, session: Any) -> None:
        self._recorder = recorder
        self.session = weakref.ref(session)
        """The tracked session, while it lives: no tracker keeps a session alive."""
        self._user_stopped_at: float | None = None
        self._ttft_seen: OrderedDict[str, None] = OrderedDict()
        self._ttfb_seen: OrderedDict[str, None] = OrderedDict()

    @staticmethod
    def handlers(reports: bool) -> dict[str, Handler]:
        """The session events a tracker reads, with its handler of each.

        ``reports``: the framework writes a ``MetricsReport`` on each message (1.3.1+).
        """
        if reports:
            return {"conversation_item_added": TurnTracker.on_item_added}
        return {
            "metrics_collected": TurnTracker.on_metrics,
            "agent_state_changed": TurnTracker.on_agent_state,
        }

    # -- 1.3.1+: the framework's MetricsReport -------------------------------------------

    def on_item_added(self, event: Any, context: Context) -> None:
        """``"conversation_item_added"``: a user or assistant message and its report."""
        item: Any = getattr(event, "item", None)
        if getattr(item, "type", None) != "message":
            return  # handoffs, function calls
        report = getattr(item, "metrics", None)
        if not isinstance(report, dict) or not report:
            return
        if item.role == "user":
            self._record_user_turn(
                self._component("stt", report.get("stt_metadata")),
                report.get("transcription_delay"),
                report.get("end_of_turn_delay"),
                report.get("on_user_turn_completed_delay"),
                context,
            )
        elif item.role == "assistant":
            instruments = self._recorder.instruments
            self._record(
                self._component("llm", report.get("llm_metadata")),
                context,
                (instruments.turn_e2e_latency, report.get("e2e_latency")),
                (instruments.turn_llm_ttft, report.get("llm_node_ttft")),
            )
            self._record(
                self._component("tts", report.get("tts_metadata")),
                context,
                (instruments.turn_tts_ttfb, report.get("tts_node_ttfb")),
            )
        RECORDED.add(item)  # the framework's job-end replay must not count it again

    # -- before 1.3.1: EOU, LLM and TTS metrics, and the agent state -----------------

    def on_metrics(self, event: Any, context: Context) -> None:
        """``"metrics_collected"``: the session's EOU, LLM and TTS metrics."""
        metrics = getattr(event, "metrics", None)
        kind = type(metrics).__name__
        if kind == "EOUMetrics":
            self._on_end_of_utterance(metrics, context)
        elif kind == "LLMMetrics":
            self._first_per_speech(metrics, "ttft", self._ttft_seen, "llm", context)
        elif kind == "TTSMetrics":
            self._first_per_speech(metrics, "ttfb", self._ttfb_seen, "tts", context)

    def _on_end_of_utterance(self, metrics: Any, context: Context) -> None:
        self._record_user_turn(
            self._component("stt"),
            metrics.transcription_delay,
            metrics.end_of_utterance_delay,
            metrics.on_user_turn_completed_delay,
            context,
        )
        # The end of speech was end_of_utterance_delay before the turn was
        # detected, and the event is stamped after on_user_turn_completed ran.
        self._user_stopped_at = (
            metrics.timestamp
            - metrics.on_user_turn_completed_delay
            - metrics.end_of_utterance_delay
        )

    def _first_per_speech(
        self,
        metrics: Any,
        field: str,
        seen: OrderedDict[str, None],
        component: str,
        context: Context,
    ) -> None:
        speech_id = getattr(metrics, "speech_id", None)
        if not speech_id or speech_id in seen:
            return  # not part of a reply, or not the reply's first request
        seen[speech_id] = None
        if len(seen) > _SEEN_SPEECHES:
            seen.popitem(last=False)
        instruments = self._recorder.instruments
        histogram = instruments.turn_llm_ttft if component == "llm" else instruments.turn_tts_ttfb
        self._record(
            self._component(component), context, (histogram, getattr(metrics, field, None))
        )

    def on_agent_state(self, event: Any, context: Context) -> None:
        """``"agent_state_changed"``: the end of a turn is the agent starting to speak."""
        if getattr(event, "new_state", None) != "speaking" or self._user_stopped_at is None:
            return
        e2e = time.time() - self._user_stopped_at
        self._user_stopped_at = None
        instruments = self._recorder.instruments
        self._record(self._component("llm"), context, (instruments.turn_e2e_latency, e2e))

    # -- shared ------------------------------------------------------------------------

    def _record_user_turn(
        self,
        stt: ModelIdentity,
        transcription: object,
        end_of_turn: object,
        callback: object,
        context: Context,
    ) -> None:
        instruments = self._recorder.instruments
        self._record(
            stt,
            context,
            (instruments.turn_transcription_delay, transcription),
            (instruments.turn_end_of_turn_delay, end_of_turn),
            (instruments.turn_on_user_turn_completed_delay, callback),
        )

    def _component(self, name: str, metadata: object = None) -> ModelIdentity:
        """The identity of the session's current STT, LLM or TTS (after handoffs too),
        its unknowns filled from the report's ``metadata`` for it.

        The current agent's own component, else the session's: what the agent
        activity's ``stt``/``llm``/``tts`` properties answer, read without them
        because from 1.8 they check for a text simulation at every read.
        """
        session = self.session()
        agent = getattr(getattr(session, "_activity", None), "agent", None)
        # an agent without its own component holds NOT_GIVEN, which is falsy
        identity = identify(getattr(agent, name, None) or getattr(session, name, None))
        return identity if identity.complete else with_metadata(identity, metadata)

    def _record(
        self, identity: ModelIdentity, context: Context, *points: tuple[Histogram, object]
    ) -> None:
        """Each ``(histogram, seconds)`` that has a value, for ``identity``'s model."""
        recorder = self._recorder
        if not recorder.allows[identity.provider_key]:
            return
        attributes = identity.shared_attributes
        for histogram, value in points:
            if value is not None:  # absent from this release's report
                recorder.record_seconds(histogram, value, attributes, context)


class TurnLatency:
    """The turn-latency aspect: a tracker per started session, fed by routed events."""

    def __init__(self, emit_patch: EventEmitPatch) -> None:
        self._emit_patch = emit_patch
        self.trackers: dict[int, TurnTracker] = {}
        """Each tracked session's tracker by the session's ``id()``: a plain dict look-up
        per session event, where a ``WeakKeyDictionary`` makes a weak reference and a
        Python call.  A finalizer removes the entry when its session is collected."""
        self._routes: list[tuple[str, Route]] = []
        self._session: type | None = None
        self._recorder: Recorder | None = None

    def instrument(self, recorder: Recorder) -> None:
        """Patch the session's ``start`` and route the tracked events."""
        from livekit.agents import llm

        unguard_replay()  # before Coexistence suspends the framework's replay again
        self._recorder = recorder

        # livekit-agents 1.3.1 added ChatMessage.metrics, the per-turn MetricsReport.
        reports = "metrics" in getattr(llm.ChatMessage, "model_fields", {})
        self._session = session_class()
        wrap_function_wrapper(self._session, "start", self._start_wrapper(recorder))
        for event, handler in TurnTracker.handlers(reports).items():
            callback = self._tracker_route(handler)
            self._emit_patch.route(event, callback)
            self._routes.append((event, callback))

    def uninstrument(self) -> None:
        """Restore ``start``, stop the routes and forget every tracker."""
        if self._session is not None:
            unwrap(self._session, "start")
            self._session = None
        for event, callback in self._routes:
            self._emit_patch.unroute(event, callback)
        self._routes.clear()
        self.trackers.clear()
        if self._recorder is not None:  # after Coexistence restored the framework's replay
            guard_replay(self._recorder.meter_provider)
            self._recorder = None

    def _start_wrapper(self, recorder: Recorder) -> Callable[..., Any]:
        async def wrapper(wrapped: Callable[..., Any], session: Any, args: Any, kwargs: Any) -> Any:
            if current_context() is not None:
                self._track(recorder, session)
            return await wrapped(*args, **kwargs)

        return wrapper

    @never_raises
    def _track(self, recorder: Recorder, session: Any) -> None:
        key = id(session)
        if key not in self.trackers:
            self.trackers[key] = TurnTracker(recorder, session)
            weakref.finalize(session, self.trackers.pop, key, None).atexit = False

    def _tracker_route(self, handler: Handler) -> Route:
        trackers = self.trackers

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
