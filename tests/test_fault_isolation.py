"""An exception inside the instrumentation never reaches the agent.

The meter here is a real implementation of the OpenTelemetry metrics API whose
instruments raise on every measurement, as a broken exporter or SDK might.  Each
test also checks that the instrumentation did call them (:data:`RAISED`): a
session that merely records nothing would otherwise pass.
"""

from __future__ import annotations

import logging
from typing import Any

import aiohttp
import pytest
from livekit.rtc.event_emitter import EventEmitter
from opentelemetry.metrics import (
    Meter,
    MeterProvider,
    NoOpCounter,
    NoOpHistogram,
    NoOpMeter,
)
from opentelemetry.sdk.metrics import MeterProvider as SdkMeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader

from opentelemetry.instrumentation.livekit_agents import AgentsInstrumentor
from opentelemetry.instrumentation.livekit_agents.demo import simulation as sim
from opentelemetry.instrumentation.livekit_agents.instrumentors.event_emit import EventEmitPatch
from opentelemetry.instrumentation.livekit_agents.pending_points import PENDING

from .loopback_servers import WebsocketServer
from .metric_points import points
from .metrics_events import stt_metrics
from .pool_components import WebsocketTTS
from .simulated_session import started
from .waiting import wait_until

ACQUIRE = "lk.agents.connection.acquire_time"

pytestmark = pytest.mark.usefixtures("quiet_gc")


RAISED: list[str] = []
"""The name of every instrument that raised, in order."""


class RaisingHistogram(NoOpHistogram):
    metric_name = ""

    def record(self, *args: Any, **kwargs: Any) -> None:
        RAISED.append(self.metric_name)
        raise RuntimeError("broken histogram")


class RaisingCounter(NoOpCounter):
    """A raising counter that cannot be a dict key either (pending sums are keyed by it)."""

    __hash__ = None  # type: ignore[assignment]
    metric_name = ""

    def add(self, *args: Any, **kwargs: Any) -> None:
        RAISED.append(self.metric_name)
        raise RuntimeError("broken counter")


class RaisingMeter(NoOpMeter):
    def create_histogram(self, name: str, *args: Any, **kwargs: Any) -> Any:
        histogram = RaisingHistogram(name)
        histogram.metric_name = name
        return histogram

    def create_counter(self, name: str, *args: Any, **kwargs: Any) -> Any:
        counter = RaisingCounter(name)
        counter.metric_name = name
        return counter


class RaisingMeterProvider(MeterProvider):
    def get_meter(self, name: str, *args: Any, **kwargs: Any) -> Meter:
        return RaisingMeter(name)


@pytest.fixture(autouse=True)
def no_raised() -> None:
    RAISED.clear()


async def test_pool_acquisitions_are_untouched(ws_server: WebsocketServer) -> None:
    AgentsInstrumentor().instrument(meter_provider=RaisingMeterProvider())
    try:
        tts = WebsocketTTS(ws_server.url("/delay/20"))
        ws = await tts.acquire()
        tts.pool.put(ws)
        assert await tts.acquire() is ws
        await tts.aclose()

        refused = WebsocketTTS(ws_server.url("/status/403"))
        with pytest.raises(aiohttp.WSServerHandshakeError) as raised:
            await refused.acquire()
        assert refused.connect_errors == [raised.value]
        await refused.aclose()
    finally:
        AgentsInstrumentor().uninstrument()  # records what is pending: into the raising meter
    assert RAISED.count(ACQUIRE) == 3, "new, reused and failed acquisitions reached the meter"


CONVERSATION = [
    sim.UserTurn("Hello there.", reply=sim.AgentReply("Hi, how can I help?", prompt_tokens=30)),
    sim.UserTurn("Tell me more.", reply=sim.AgentReply("Gladly, here it is.", prompt_tokens=45)),
]


async def converse() -> tuple[list[tuple[str, str]], dict[str, int]]:
    s = await started()
    try:
        s.tts.push_response(ttfb=0.05)
        await s.session.say("Welcome.")
        await sim.run_conversation(s.session, CONVERSATION)
        seen = s.observed
        await wait_until(
            lambda: (len(seen.of("LLMMetrics")), len(seen.of("TTSMetrics"))) == (2, 3),
            "two LLM calls and three syntheses reported",
        )
    finally:
        await s.session.aclose()
    history = [
        (item.role, item.text_content)
        for item in s.session.history.items
        if getattr(item, "type", "message") == "message"
    ]
    kinds: dict[str, int] = {}
    for event in s.observed.metrics:
        kinds[type(event).__name__] = kinds.get(type(event).__name__, 0) + 1
    return history, kinds


async def test_a_session_behaves_the_same_with_a_raising_meter() -> None:
    expected = await converse()  # not instrumented
    AgentsInstrumentor().instrument(meter_provider=RaisingMeterProvider())
    try:
        assert await converse() == expected
    finally:
        AgentsInstrumentor().uninstrument()
    assert len(expected[0]) == 5, "greeting, two user turns, two replies"
    assert {"lk.agents.turn.e2e_latency", "lk.agents.usage.llm_input_tokens"} <= set(RAISED)


def test_points_pending_for_a_raising_meter_never_raise_on_uninstrument() -> None:
    AgentsInstrumentor().instrument(meter_provider=RaisingMeterProvider())
    stt = sim.SimulatedSTT("sttco", "stt-a")
    for _ in range(3):  # below a batch: recorded by uninstrument()
        stt.emit("metrics_collected", stt_metrics(1.0))
    assert len(PENDING) == 3
    AgentsInstrumentor().uninstrument()
    assert len(PENDING) == 0
    assert "lk.agents.usage.stt_audio_duration" in RAISED, "recorded, into the raising meter"


class NoMeterProvider(MeterProvider):
    """A MeterProvider that cannot give a meter at all."""

    def get_meter(self, name: str, *args: Any, **kwargs: Any) -> Meter:
        raise RuntimeError("broken meter provider")


class NoInstrumentMeter(NoOpMeter):
    def create_histogram(self, name: str, *args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("broken meter")


class NoInstrumentMeterProvider(MeterProvider):
    """A MeterProvider whose meters cannot create a histogram."""

    def get_meter(self, name: str, *args: Any, **kwargs: Any) -> Meter:
        return NoInstrumentMeter(name)


@pytest.mark.parametrize("broken", [NoMeterProvider, NoInstrumentMeterProvider])
def test_a_broken_meter_provider_leaves_the_framework_uninstrumented(
    broken: type[MeterProvider],
    meter_provider: SdkMeterProvider,
    reader: InMemoryMetricReader,
    caplog: pytest.LogCaptureFixture,
) -> None:
    before = EventEmitter.__dict__["emit"]
    instrumentor = AgentsInstrumentor()
    with caplog.at_level(logging.DEBUG, "opentelemetry.instrumentation.livekit_agents"):
        instrumentor.instrument(meter_provider=broken())  # returns, as if nothing happened
    assert "broken meter" in caplog.text
    assert not instrumentor.is_instrumented_by_opentelemetry
    assert EventEmitter.__dict__["emit"] is before, "nothing patched"
    with pytest.raises(LookupError):
        instrumentor.aspect(EventEmitPatch)

    instrumentor.instrument(meter_provider=meter_provider)
    try:
        sim.SimulatedSTT("sttco", "stt-a").emit("metrics_collected", stt_metrics(1.5))
        (point,) = points(reader, "lk.agents.usage.stt_audio_duration")
        assert point.value == 1.5
    finally:
        instrumentor.uninstrument()
