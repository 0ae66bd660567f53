"""The one ``EventEmitter.emit`` patch: routed callbacks are called directly, guarded,
and the framework's listeners see every event as if nothing were routed."""

from __future__ import annotations

import time
from typing import Any

import pytest
from livekit import rtc
from livekit.agents import llm
from livekit.rtc.event_emitter import EventEmitter
from opentelemetry.context import _SUPPRESS_INSTRUMENTATION_KEY, attach, detach, set_value
from opentelemetry.sdk.metrics.export import InMemoryMetricReader

from opentelemetry.instrumentation.livekit_agents import AgentsInstrumentor
from opentelemetry.instrumentation.livekit_agents.demo import simulation as sim
from opentelemetry.instrumentation.livekit_agents.instrumentors.event_emit import EventEmitPatch
from opentelemetry.instrumentation.livekit_agents.instrumentors.turn_latency import TurnLatency
from opentelemetry.instrumentation.livekit_agents.instruments import TURN_TRANSCRIPTION_DELAY

from .metric_points import collect, points
from .metrics_events import build, llm_metrics
from .simulated_session import HAS_METRICS_REPORT, started

EVENT = "test_routed_event"


def listeners(emitter: Any) -> dict[str, int]:
    return {event: len(callbacks) for event, callbacks in emitter._events.items() if callbacks}


def test_routes_are_called_before_listeners_and_a_failing_one_stops_nothing(
    instrumented: AgentsInstrumentor,
) -> None:
    patch = instrumented.aspect(EventEmitPatch)
    calls: list[tuple[str, Any]] = []

    def failing(emitter: Any, arg: Any) -> None:
        calls.append(("failing", arg))
        raise RuntimeError("a bug of ours")

    def working(emitter: Any, arg: Any) -> None:
        calls.append(("working", arg))

    emitter: rtc.EventEmitter[str] = rtc.EventEmitter()
    emitter.on(EVENT, lambda arg: calls.append(("listener", arg)))
    patch.route(EVENT, failing)
    patch.route(EVENT, working)
    try:
        assert patch.routes[EVENT] == (failing, working)
        emitter.emit(EVENT, 1)
        emitter.emit("other_event", 2)
    finally:
        patch.unroute(EVENT, failing)
        patch.unroute(EVENT, working)
    assert EVENT not in patch.routes
    emitter.emit(EVENT, 3)
    assert calls == [("failing", 1), ("working", 1), ("listener", 1), ("listener", 3)]


def test_uninstrument_restores_emit(meter_provider: Any) -> None:
    original = EventEmitter.__dict__["emit"]
    instrumentor = AgentsInstrumentor()
    instrumentor.instrument(meter_provider=meter_provider)
    try:
        patched = EventEmitter.__dict__["emit"]
        assert patched is not original and patched.__wrapped__ is original
        assert instrumentor.aspect(EventEmitPatch).routes, "usage and turns are routed"
    finally:
        instrumentor.uninstrument()
    assert EventEmitter.__dict__["emit"] is original
    with pytest.raises(LookupError):
        instrumentor.aspect(EventEmitPatch)


def test_an_unhashable_event_name_fails_as_it_does_unpatched(meter_provider: Any) -> None:
    emitter: rtc.EventEmitter[Any] = rtc.EventEmitter()
    with pytest.raises(TypeError) as unpatched:
        emitter.emit(["unhashable"], 1)

    instrumentor = AgentsInstrumentor()
    instrumentor.instrument(meter_provider=meter_provider)
    try:
        with pytest.raises(TypeError) as patched:
            emitter.emit(["unhashable"], 1)
    finally:
        instrumentor.uninstrument()
    assert str(patched.value) == str(unpatched.value)


async def test_a_tracked_session_has_no_listener_of_ours(
    meter_provider: Any, reader: InMemoryMetricReader
) -> None:
    instrumentor = AgentsInstrumentor()
    instrumentor.instrument(meter_provider=meter_provider)
    try:
        tracked = await started("tracked-")
        turn = sim.UserTurn("Hi.", reply=sim.AgentReply("Hello."))
        await sim.run_conversation(tracked.session, [turn])
        await tracked.observed.wait_message("user", "Hi.")
        tracked_listeners = listeners(tracked.session)
    finally:
        instrumentor.uninstrument()
    assert any(name.startswith("lk.agents.turn.") for name in collect(reader)), "turns recorded"
    plain = await started("plain-")
    assert tracked_listeners == listeners(plain.session)
    await plain.session.aclose()
    await tracked.session.aclose()


def user_turn_event() -> tuple[str, Any]:
    """What a session emits when a user turn ends, with a transcription delay of 0.1 s."""
    delays = {"transcription_delay": 0.1, "on_user_turn_completed_delay": 0.01}
    if HAS_METRICS_REPORT:
        from livekit.agents.voice.events import ConversationItemAddedEvent

        report = {**delays, "end_of_turn_delay": 0.2}
        message = llm.ChatMessage(role="user", content=["Hi."], metrics=report)
        return "conversation_item_added", ConversationItemAddedEvent(item=message)
    from livekit.agents.metrics import EOUMetrics
    from livekit.agents.voice.events import MetricsCollectedEvent

    now = time.time()
    eou = build(
        EOUMetrics, timestamp=now, end_of_utterance_delay=0.2, last_speaking_time=now, **delays
    )
    return "metrics_collected", MetricsCollectedEvent(metrics=eou)


@pytest.mark.parametrize(
    "key", [_SUPPRESS_INSTRUMENTATION_KEY, "suppress_instrumentation"], ids=["key", "plain key"]
)
async def test_no_turn_is_recorded_while_instrumentation_is_suppressed(
    instrumented: Any, reader: InMemoryMetricReader, key: str
) -> None:
    s = await started()
    token = attach(set_value(key, True))  # what suppress_instrumentation() sets, each alone
    try:
        s.session.emit(*user_turn_event())
    finally:
        detach(token)
    s.session.emit(*user_turn_event())
    await s.session.aclose()
    (point,) = points(reader, TURN_TRANSCRIPTION_DELAY.name)
    assert point.count == 1


async def test_a_tracker_handles_its_own_session_only(
    instrumented: AgentsInstrumentor, reader: InMemoryMetricReader
) -> None:
    """Trackers are found by the emitter's id; an emitter that is not the tracked
    session (were its id ever to collide) finds no tracker of another session."""
    trackers = instrumented.aspect(TurnLatency).trackers
    s = await started()
    stranger = EventEmitter[str]()
    trackers[id(stranger)] = trackers[id(s.session)]
    stranger.emit(*user_turn_event())
    assert points(reader, TURN_TRANSCRIPTION_DELAY.name) == []
    s.session.emit(*user_turn_event())
    await s.session.aclose()
    (point,) = points(reader, TURN_TRANSCRIPTION_DELAY.name)
    assert point.count == 1


class HostStop(BaseException):
    """A BaseException of the host's own, as a plugin property might raise."""


class InterruptedLLM(sim.SimulatedLLM):
    """A real LLM whose ``provider`` (which the usage route reads) raises ``raising``."""

    raising: BaseException | None = None

    @property
    def provider(self) -> str:
        if self.raising is not None:
            raise self.raising
        return "llmco"


@pytest.mark.parametrize(
    ("raised", "propagates"),
    [(HostStop(), False), (KeyboardInterrupt(), True), (SystemExit(3), True)],
)
def test_a_base_exception_while_reading_an_event_reaches_every_listener(
    instrumented: AgentsInstrumentor, raised: BaseException, propagates: bool
) -> None:
    component = InterruptedLLM("llmco", "llm-a")
    heard: list[Any] = []
    component.on("metrics_collected", heard.append)
    event = llm_metrics(21, 3)
    component.raising = raised
    if propagates:  # the host's interrupt or exit, after the listeners had the event
        with pytest.raises(type(raised)):
            component.emit("metrics_collected", event)
    else:  # raised by reading the event for us: the host never sees it
        component.emit("metrics_collected", event)
    assert heard == [event]
