"""The acquisitions livekit-agents times itself (1.5.2+) are ours too, never twice.

In the default mode the package suspends the framework's ``collect_usage``,
where its native ``acquire_time`` is recorded: these tests show that turning
the package on loses none of those points, and that an acquisition we time
ourselves is not recorded a second time from the framework's report.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import aiohttp
import pytest
from livekit.agents.metrics import STTMetrics, TTSMetrics
from opentelemetry.sdk.metrics.export import InMemoryMetricReader

from opentelemetry.instrumentation.livekit_agents import AgentsInstrumentor
from opentelemetry.instrumentation.livekit_agents.demo import simulation as sim

from .loopback_servers import WebsocketServer
from .metric_points import attrs, points, wait_for_points
from .metrics_events import stt_metrics, tts_metrics
from .realtime_components import ScriptedRealtimeModel

if "acquire_time" not in STTMetrics.model_fields:
    pytest.skip(
        "the framework reports acquire times from livekit-agents 1.5.2 only",
        allow_module_level=True,
    )

ACQUIRE = "lk.agents.connection.acquire_time"


def acquisitions(reader: InMemoryMetricReader) -> dict[tuple[str, str], Any]:
    return {
        (attrs(p)["model_name"], attrs(p)["connection_reused"]): p for p in points(reader, ACQUIRE)
    }


@pytest.mark.usefixtures("instrumented")
def test_native_stt_and_tts_reports_are_recorded(reader: InMemoryMetricReader) -> None:
    stt = sim.SimulatedSTT("Acme", "acme-stt")
    tts = sim.SimulatedTTS("Acme", "acme-tts")
    stt.emit("metrics_collected", stt_metrics(0.0, acquire_time=0.25, connection_reused=False))
    stt.emit("metrics_collected", stt_metrics(1.0))  # acquire_time 0: no acquisition
    tts.emit("metrics_collected", tts_metrics(5, 1.0, acquire_time=0.5, connection_reused=True))

    found = acquisitions(reader)
    assert set(found) == {("acme-stt", "false"), ("acme-tts", "true")}
    assert found["acme-stt", "false"].sum == pytest.approx(0.25)
    assert found["acme-stt", "false"].count == 1
    assert found["acme-tts", "true"].sum == pytest.approx(0.5)
    assert attrs(found["acme-tts", "true"])["model_provider"] == "Acme"


@pytest.mark.usefixtures("instrumented")
def test_a_realtime_sessions_own_report_is_recorded(reader: InMemoryMetricReader) -> None:
    session = ScriptedRealtimeModel("live-1", "Gemini").session()
    session._report_connection_acquired(0.3)  # the framework's own reporting method

    ((name, reused), point), *rest = acquisitions(reader).items()
    assert not rest
    assert (name, reused) == ("live-1", "false")
    assert point.sum == pytest.approx(0.3)
    assert attrs(point)["model_provider"] == "Gemini"


def test_a_switched_off_providers_native_report_is_dropped(
    meter_provider: Any, reader: InMemoryMetricReader
) -> None:
    AgentsInstrumentor().instrument(meter_provider=meter_provider, exclude_providers=["Acme"])
    try:
        stt = sim.SimulatedSTT("Acme", "acme-stt")
        stt.emit("metrics_collected", stt_metrics(0.0, acquire_time=0.25))
    finally:
        AgentsInstrumentor().uninstrument()
    assert points(reader, ACQUIRE) == []


@pytest.mark.usefixtures("instrumented")
async def test_an_acquisition_we_timed_is_not_recorded_again(
    ws_server: WebsocketServer, reader: InMemoryMetricReader
) -> None:
    # the pool patch times the TTS's acquisition; the TTS then reports the same
    # acquisition natively on its metrics event, as the pool-based plugins do
    from .pool_components import WebsocketTTS

    tts = WebsocketTTS(ws_server.url("/delay/60"), model="pooled-tts", provider="Acme")
    ws = await tts.acquire()
    tts.emit("metrics_collected", tts_metrics(5, 1.0, acquire_time=0.061, connection_reused=False))
    tts.pool.put(ws)
    await tts.aclose()

    (point,) = points(reader, ACQUIRE)
    assert point.count == 1
    assert point.sum >= 0.060
    # a second native report has no timing of ours to stand for: it is recorded
    tts.emit("metrics_collected", tts_metrics(5, 1.0, acquire_time=0.07, connection_reused=False))
    (point,) = points(reader, ACQUIRE)
    assert point.count == 2


async def wait_for_native(events: list[Any], timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not any(getattr(e, "acquire_time", 0) > 0 for e in events):
        assert time.monotonic() < deadline, "the plugin reported no acquisition"
        await asyncio.sleep(0.01)


async def test_real_deepgram_stt_reports_once(
    ws_server: WebsocketServer, instrumented: AgentsInstrumentor, reader: InMemoryMetricReader
) -> None:
    deepgram = pytest.importorskip("livekit.plugins.deepgram", reason="livekit-plugins-deepgram")
    http = aiohttp.ClientSession()
    stt = deepgram.STT(
        api_key="test-key",
        model="nova-3",
        http_session=http,
        base_url=f"http://127.0.0.1:{ws_server.port}/delay/80",
    )
    events: list[Any] = []
    stt.on("metrics_collected", events.append)
    stream = stt.stream()
    try:
        await wait_for_native(events)
    finally:
        await stream.aclose()
        await http.close()

    (point,) = points(reader, ACQUIRE)
    assert point.count == 1, "timed by the deepgram patch and reported natively: one point"
    assert attrs(point)["model_name"] == "nova-3"


async def test_real_smallestai_stt_native_only_site_is_recorded(
    ws_server: WebsocketServer, instrumented: AgentsInstrumentor, reader: InMemoryMetricReader
) -> None:
    smallestai = pytest.importorskip(
        "livekit.plugins.smallestai", reason="livekit-plugins-smallestai"
    )
    http = aiohttp.ClientSession()
    stt = smallestai.STT(
        api_key="test-key",
        http_session=http,
        base_url=f"http://127.0.0.1:{ws_server.port}/delay/120",
    )
    events: list[Any] = []
    stt.on("metrics_collected", events.append)
    stream = stt.stream()
    try:
        await wait_for_native(events)
        (point,) = await wait_for_points(reader, ACQUIRE)
    finally:
        await stream.aclose()
        await http.close()

    (native,) = [e for e in events if e.acquire_time > 0]
    assert point.count == 1
    assert point.sum >= 0.120
    assert attrs(point)["model_name"] == stt.model
    assert attrs(point)["model_provider"] == stt.provider
    assert attrs(point)["connection_reused"] == "false"
    assert native.acquire_time >= 0.120


def test_tts_metrics_class_carries_the_fields() -> None:
    # the real class, not a stand-in: the fields this module reads exist there
    assert {"acquire_time", "connection_reused"} <= set(TTSMetrics.model_fields)
