"""The one ``EventEmitter.emit`` patch: routed callbacks are called directly, guarded,
and the framework's listeners see every event as if nothing were routed."""

from __future__ import annotations

from typing import Any

import pytest
from livekit import rtc
from livekit.rtc.event_emitter import EventEmitter
from opentelemetry.sdk.metrics.export import InMemoryMetricReader

from opentelemetry.instrumentation.livekit_agents import AgentsInstrumentor
from opentelemetry.instrumentation.livekit_agents import simulation as sim
from opentelemetry.instrumentation.livekit_agents.instrumentors import event_routes

from .metric_points import collect
from .simulated_session import started

EVENT = "test_routed_event"


def listeners(emitter: Any) -> dict[str, int]:
    return {event: len(callbacks) for event, callbacks in emitter._events.items() if callbacks}


def test_routes_are_called_before_listeners_and_a_failing_one_stops_nothing() -> None:
    original = EventEmitter.__dict__["emit"]
    calls: list[tuple[str, Any]] = []

    def failing(emitter: Any, arg: Any) -> None:
        calls.append(("failing", arg))
        raise RuntimeError("a bug of ours")

    def working(emitter: Any, arg: Any) -> None:
        calls.append(("working", arg))

    emitter: rtc.EventEmitter[str] = rtc.EventEmitter()
    emitter.on(EVENT, lambda arg: calls.append(("listener", arg)))
    event_routes.route(EVENT, failing)
    event_routes.route(EVENT, working)
    try:
        assert EventEmitter.__dict__["emit"].__wrapped__ is original
        emitter.emit(EVENT, 1)
        emitter.emit("other_event", 2)
    finally:
        event_routes.unroute(EVENT, failing)
        assert EventEmitter.__dict__["emit"] is not original, "a route is left"
        event_routes.unroute(EVENT, working)
    assert EventEmitter.__dict__["emit"] is original
    assert calls == [("failing", 1), ("working", 1), ("listener", 1)]


def test_an_unhashable_event_name_fails_as_it_does_unpatched() -> None:
    emitter: rtc.EventEmitter[Any] = rtc.EventEmitter()
    with pytest.raises(TypeError) as unpatched:
        emitter.emit(["unhashable"], 1)
    event_routes.route(EVENT, lambda emitter, arg: None)
    try:
        with pytest.raises(TypeError) as patched:
            emitter.emit(["unhashable"], 1)
    finally:
        event_routes._routes.clear()
        event_routes._unpatch()
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
