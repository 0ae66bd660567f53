"""instrument() / uninstrument(): idempotent, and exactly restoring the framework."""

from __future__ import annotations

from importlib.metadata import requires, version

from livekit.agents.ipc.job_proc_lazy_main import _JobProc
from livekit.agents.utils.connection_pool import ConnectionPool
from livekit.agents.voice.agent_session import AgentSession
from livekit.rtc.event_emitter import EventEmitter
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from packaging.requirements import Requirement

from opentelemetry.instrumentation.livekit_agents import AgentsInstrumentor
from opentelemetry.instrumentation.livekit_agents.instruments import CONNECTION_ACQUIRE_TIME

from .loopback_servers import WebsocketServer
from .metric_points import points
from .pool_components import WebsocketTTS

ACQUIRE = CONNECTION_ACQUIRE_TIME.name
PATCHED = (
    (ConnectionPool, "get"),
    (ConnectionPool, "_connect"),
    (EventEmitter, "emit"),
    (AgentSession, "start"),
    (AgentSession, "aclose"),
    (_JobProc, "_run_job_task"),
)


def originals() -> dict[tuple[type, str], object]:
    return {(cls, name): cls.__dict__[name] for cls, name in PATCHED}


def test_dependencies_are_the_instruments_extra() -> None:
    """What instrument() checks is what ``pip install ...[instruments]`` installs."""
    extra = [
        Requirement(text)
        for text in requires("opentelemetry-instrumentation-livekit-agents") or ()
        if 'extra == "instruments"' in text
    ]
    checked = [Requirement(text) for text in AgentsInstrumentor().instrumentation_dependencies()]
    assert [(r.name, r.specifier) for r in checked] == [(r.name, r.specifier) for r in extra]
    assert all(r.specifier.contains(version("livekit-agents"), prereleases=True) for r in checked)


async def test_twice_instrument_twice_uninstrument(
    ws_server: WebsocketServer, meter_provider: MeterProvider, reader: InMemoryMetricReader
) -> None:
    before = originals()
    instrumentor = AgentsInstrumentor()
    instrumentor.instrument(meter_provider=meter_provider)
    patched = originals()
    instrumentor.instrument(meter_provider=meter_provider)
    try:
        assert originals() == patched, "a second instrument() must not wrap again"
        for key in PATCHED:
            assert patched[key] is not before[key]
            assert patched[key].__wrapped__ is before[key]  # type: ignore[attr-defined]

        tts = WebsocketTTS(ws_server.url("/delay/5"))
        await tts.acquire()
        await tts.aclose()
        (point,) = points(reader, ACQUIRE)
        assert point.count == 1, "one acquisition, one data point"
    finally:
        instrumentor.uninstrument()
    instrumentor.uninstrument()

    assert originals() == before
    assert all(originals()[key] is before[key] for key in PATCHED)


async def test_nothing_recorded_after_uninstrument(
    ws_server: WebsocketServer, meter_provider: MeterProvider, reader: InMemoryMetricReader
) -> None:
    instrumentor = AgentsInstrumentor()
    instrumentor.instrument(meter_provider=meter_provider)
    tts = WebsocketTTS(ws_server.url("/delay/5"))
    await tts.acquire()
    instrumentor.uninstrument()
    await tts.aclose()

    tts = WebsocketTTS(ws_server.url("/delay/5"))
    await tts.acquire()
    await tts.aclose()
    (point,) = points(reader, ACQUIRE)
    assert point.count == 1


async def test_reinstrument_after_uninstrument_records_again(
    ws_server: WebsocketServer, meter_provider: MeterProvider, reader: InMemoryMetricReader
) -> None:
    instrumentor = AgentsInstrumentor()
    for _ in range(2):
        instrumentor.instrument(meter_provider=meter_provider)
        tts = WebsocketTTS(ws_server.url("/delay/5"))
        await tts.acquire()
        await tts.aclose()
        instrumentor.uninstrument()
    (point,) = points(reader, ACQUIRE)
    assert point.count == 2
