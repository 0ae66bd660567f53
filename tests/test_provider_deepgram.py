"""The real deepgram plugin's STT websocket, against a server on loopback."""

from __future__ import annotations

from typing import Any

import aiohttp
import pytest
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader

from opentelemetry.instrumentation.livekit_agents import AgentsInstrumentor
from opentelemetry.instrumentation.livekit_agents.instruments import CONNECTION_ACQUIRE_TIME

from .loopback_servers import WebsocketServer
from .metric_points import attrs, points, wait_for_points
from .waiting import wait_until

deepgram = pytest.importorskip("livekit.plugins.deepgram", reason="livekit-plugins-deepgram")

ACQUIRE = CONNECTION_ACQUIRE_TIME.name


async def open_stream(ws_server: WebsocketServer, path: str) -> tuple[Any, aiohttp.ClientSession]:
    http = aiohttp.ClientSession()
    stt = deepgram.STT(
        api_key="test-key",
        model="nova-3",
        http_session=http,
        base_url=f"http://127.0.0.1:{ws_server.port}{path}",
    )
    return stt.stream(), http


async def test_stt_websocket_is_timed(
    ws_server: WebsocketServer, meter_provider: MeterProvider, reader: InMemoryMetricReader
) -> None:
    original = deepgram.stt.SpeechStream.__dict__["_connect_ws"]
    AgentsInstrumentor().instrument(meter_provider=meter_provider)
    try:
        stream, http = await open_stream(ws_server, "/delay/150")
        (point,) = await wait_for_points(reader, ACQUIRE)
        await stream.aclose()
        await http.close()
    finally:
        AgentsInstrumentor().uninstrument()
    assert deepgram.stt.SpeechStream.__dict__["_connect_ws"] is original

    assert ws_server.handshakes >= 1
    assert point.count == 1
    assert 0.150 <= point.sum < 0.150 + 0.1
    assert attrs(point)["model_name"] == "nova-3"
    assert attrs(point)["model_provider"].lower() == "deepgram"
    assert attrs(point)["connection_reused"] == "false"
    assert "error.type" not in attrs(point)


async def test_refused_websocket_records_error(
    ws_server: WebsocketServer, meter_provider: MeterProvider, reader: InMemoryMetricReader
) -> None:
    AgentsInstrumentor().instrument(meter_provider=meter_provider)
    try:
        stream, http = await open_stream(ws_server, "/status/401")
        found = await wait_for_points(reader, ACQUIRE)
        await stream.aclose()
        await http.close()
    finally:
        AgentsInstrumentor().uninstrument()

    assert found, "the failed handshake is recorded"
    assert all(attrs(p).get("error.type") for p in found)


async def test_excluded_deepgram_is_not_patched(
    ws_server: WebsocketServer,
    meter_provider: MeterProvider,
    reader: InMemoryMetricReader,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("OTEL_PYTHON_DISABLED_INSTRUMENTATIONS", "livekit_agents_deepgram")
    original = deepgram.stt.SpeechStream.__dict__["_connect_ws"]
    AgentsInstrumentor().instrument(meter_provider=meter_provider)
    try:
        assert deepgram.stt.SpeechStream.__dict__["_connect_ws"] is original
        stream, http = await open_stream(ws_server, "/delay/10")
        await wait_until(lambda: ws_server.handshakes >= 1, "the stream's handshake")
        await stream.aclose()
        await http.close()
    finally:
        AgentsInstrumentor().uninstrument()
    assert ws_server.handshakes >= 1
    assert points(reader, ACQUIRE) == []
