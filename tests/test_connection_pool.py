"""Connection acquire timing against a real websocket server on loopback."""

from __future__ import annotations

import asyncio
import time
from enum import Enum

import aiohttp
import pytest
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader

from opentelemetry.instrumentation.livekit_agents import AgentsInstrumentor
from opentelemetry.instrumentation.livekit_agents.instrumentors.connections.acquisition import (
    error_type,
)
from opentelemetry.instrumentation.livekit_agents.instruments import CONNECTION_ACQUIRE_TIME

from .loopback_servers import WebsocketServer
from .metric_points import attrs, points
from .pool_components import WebsocketTTS

pytestmark = pytest.mark.usefixtures("quiet_gc")

ACQUIRE = CONNECTION_ACQUIRE_TIME.name
# Our timing of an acquisition runs inside the caller's (timed_acquire): what we
# record is at most what the caller waited, and at least the server's delay.  No
# upper bound closer than that: a busy machine delays the caller's own clock read.


async def timed_acquire(tts: WebsocketTTS) -> tuple[aiohttp.ClientWebSocketResponse, float]:
    start = time.perf_counter()
    ws = await tts.acquire()
    return ws, time.perf_counter() - start


@pytest.mark.usefixtures("instrumented")
async def test_new_then_reused_connection(
    ws_server: WebsocketServer, reader: InMemoryMetricReader
) -> None:
    tts = WebsocketTTS(ws_server.url("/delay/150"), model="sonic-test", provider="alpha")
    ws, first_wait = await timed_acquire(tts)
    tts.pool.put(ws)
    ws_again, second_wait = await timed_acquire(tts)
    await tts.aclose()

    assert ws_again is ws
    assert ws_server.handshakes == 1
    by_reuse = {attrs(p)["connection_reused"]: p for p in points(reader, ACQUIRE)}
    new, reused = by_reuse["false"], by_reuse["true"]
    assert new.count == 1 and reused.count == 1
    assert 0.150 <= new.sum <= first_wait
    assert 0.0 <= reused.sum <= second_wait
    for point in (new, reused):
        assert attrs(point)["model_name"] == "sonic-test"
        assert attrs(point)["model_provider"] == "alpha"
        assert "error.type" not in attrs(point)


@pytest.mark.usefixtures("instrumented")
async def test_connection_context_manager_is_timed(
    ws_server: WebsocketServer, reader: InMemoryMetricReader
) -> None:
    tts = WebsocketTTS(ws_server.url("/delay/80"))
    for _ in range(3):
        async with tts.connection() as ws:
            await ws.send_str("ping")
            assert (await ws.receive()).data == "ping"
    await tts.aclose()

    counts = {attrs(p)["connection_reused"]: p.count for p in points(reader, ACQUIRE)}
    assert counts == {"false": 1, "true": 2}


@pytest.mark.usefixtures("instrumented")
async def test_refused_handshake_records_error_and_propagates(
    ws_server: WebsocketServer, reader: InMemoryMetricReader
) -> None:
    tts = WebsocketTTS(ws_server.url("/status/403"))
    with pytest.raises(aiohttp.WSServerHandshakeError) as raised:
        await tts.acquire()
    await tts.aclose()

    assert tts.connect_errors == [raised.value]
    (point,) = points(reader, ACQUIRE)
    assert attrs(point)["error.type"] == "WSServerHandshakeError"
    assert attrs(point)["connection_reused"] == "false"
    assert point.count == 1


class StatusCode(Enum):  # the shape of grpc.StatusCode, which is optional here
    UNAVAILABLE = (14, "unavailable")


class RpcError(Exception):
    def code(self) -> StatusCode:
        return StatusCode.UNAVAILABLE


class BrokenCode(Exception):
    def code(self) -> StatusCode:
        raise RuntimeError("no status yet")


class NumberedCode(Exception):
    def code(self) -> int:
        return 503


def test_error_type_is_a_grpc_status_name_else_the_class_name() -> None:
    # the RPC conventions' error.type for gRPC; anything else keeps its class name
    assert error_type(RpcError()) == "UNAVAILABLE"
    assert error_type(BrokenCode()) == "BrokenCode"
    assert error_type(NumberedCode()) == "NumberedCode"
    assert error_type(asyncio.TimeoutError()) == "TimeoutError"


@pytest.mark.usefixtures("instrumented")
async def test_timeout_records_error_and_propagates(
    ws_server: WebsocketServer, reader: InMemoryMetricReader
) -> None:
    tts = WebsocketTTS(ws_server.url("/delay/1000"), timeout=0.2)
    start = time.perf_counter()
    with pytest.raises(asyncio.TimeoutError) as raised:
        await tts.acquire()
    waited = time.perf_counter() - start
    await tts.aclose()

    assert tts.connect_errors == [raised.value]
    (point,) = points(reader, ACQUIRE)
    assert attrs(point)["error.type"] == type(raised.value).__qualname__
    assert 0.2 <= point.sum <= waited


@pytest.mark.usefixtures("instrumented")
async def test_concurrent_acquisitions_each_record_their_own_wait(
    ws_server: WebsocketServer, reader: InMemoryMetricReader
) -> None:
    # 50 pools, each its own model and handshake delay, all acquiring at once.
    delays_ms = [20 + 10 * i for i in range(50)]
    components = [
        WebsocketTTS(ws_server.url(f"/delay/{ms}"), model=f"model-{ms}") for ms in delays_ms
    ]
    results = await asyncio.gather(*(timed_acquire(tts) for tts in components))
    for tts in components:
        await tts.aclose()

    recorded = {attrs(p)["model_name"]: p for p in points(reader, ACQUIRE)}
    assert len(recorded) == 50
    for ms, (_, waited) in zip(delays_ms, results):
        point = recorded[f"model-{ms}"]
        assert point.count == 1
        assert ms / 1000 <= point.sum <= waited


@pytest.mark.usefixtures("instrumented")
async def test_concurrent_acquisitions_of_one_pool(
    ws_server: WebsocketServer, reader: InMemoryMetricReader
) -> None:
    # Ten callers at once on one pool: whether the release serializes get()
    # (1.2.15+) or connects in parallel, the recorded total is the callers' total.
    tts = WebsocketTTS(ws_server.url("/delay/50"))
    results = await asyncio.gather(*(timed_acquire(tts) for _ in range(10)))
    await tts.aclose()

    (point,) = points(reader, ACQUIRE)
    assert point.count == 10
    assert point.sum <= sum(w for _, w in results)
    assert 0.050 <= point.max <= max(w for _, w in results)


async def test_private_meter_provider_and_no_global_leak(
    ws_server: WebsocketServer, meter_provider: MeterProvider, reader: InMemoryMetricReader
) -> None:
    other_reader = InMemoryMetricReader()
    other = MeterProvider(metric_readers=[other_reader])
    instrumentor = AgentsInstrumentor()
    instrumentor.instrument(meter_provider=meter_provider)
    try:
        tts = WebsocketTTS(ws_server.url("/delay/10"))
        await tts.acquire()
        await tts.aclose()
    finally:
        instrumentor.uninstrument()
    assert len(points(reader, ACQUIRE)) == 1
    assert points(other_reader, ACQUIRE) == []
    other.shutdown()
