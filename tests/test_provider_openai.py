"""The real openai plugin's websockets, against a server on loopback.

The Realtime session opens its websocket itself (``_create_ws_conn``, timed by
the realtime-engine part); the realtime STT takes it from a ``ConnectionPool``
(timed by the framework aspect).  Both are checked once, not twice.
"""

from __future__ import annotations

from typing import Any

import pytest
from livekit.agents.utils import http_context
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader

from opentelemetry.instrumentation.livekit_agents import AgentsInstrumentor
from opentelemetry.instrumentation.livekit_agents.instruments import CONNECTION_ACQUIRE_TIME

from .loopback_servers import WebsocketServer
from .metric_points import attrs, wait_for_points

openai = pytest.importorskip(
    "livekit.plugins.openai",
    reason="livekit-plugins-openai is not installed (tox -e lk20 leaves out its 1.8.9, "
    "which cannot import on livekit-agents 2.0)",
)
realtime_model = pytest.importorskip("livekit.plugins.openai.realtime.realtime_model")

ACQUIRE = CONNECTION_ACQUIRE_TIME.name
DELAY = 0.150
# only catches timing the wrong interval: with two CPU hogs beside the suite on a 2-core
# machine a 0.15 s handshake measured 0.377 s (the lower bound, the script's delay, is firm)
SLACK = 2.0
HAS_CREATE_WS_CONN = hasattr(realtime_model.RealtimeSession, "_create_ws_conn")
needs_create_ws_conn = pytest.mark.skipif(
    not HAS_CREATE_WS_CONN,
    reason="this livekit-plugins-openai opens the Realtime websocket inline in "
    "RealtimeSession._main_task (1.0.x): no connect method to time",
)


async def realtime_acquisitions(
    ws_server: WebsocketServer, reader: InMemoryMetricReader, path: str
) -> list[Any]:
    """Start one real Realtime session against ``path`` and return the acquire points."""
    http_context._new_session_ctx()
    model = openai.realtime.RealtimeModel(
        model="gpt-realtime",
        api_key="test-key",
        base_url=f"http://127.0.0.1:{ws_server.port}{path}",
    )
    session = model.session()
    try:
        return await wait_for_points(reader, ACQUIRE)
    finally:
        await session.aclose()
        await model.aclose()
        await http_context._close_http_ctx()


@needs_create_ws_conn
async def test_realtime_websocket_is_timed(
    ws_server: WebsocketServer, meter_provider: MeterProvider, reader: InMemoryMetricReader
) -> None:
    original = realtime_model.RealtimeSession.__dict__["_create_ws_conn"]
    AgentsInstrumentor().instrument(meter_provider=meter_provider)
    try:
        # patched once, though 1.8.3+ reaches the class through two modules
        patched = realtime_model.RealtimeSession.__dict__["_create_ws_conn"]
        assert patched.__wrapped__ is original
        found = await realtime_acquisitions(ws_server, reader, f"/delay/{int(DELAY * 1000)}")
    finally:
        AgentsInstrumentor().uninstrument()
    assert realtime_model.RealtimeSession.__dict__["_create_ws_conn"] is original

    (point,) = found
    assert ws_server.handshakes >= 1
    assert point.count == 1
    assert DELAY <= point.sum < DELAY + SLACK
    assert attrs(point)["model_name"] == "gpt-realtime"
    assert attrs(point)["connection_reused"] == "false"
    assert "error.type" not in attrs(point)


@needs_create_ws_conn
async def test_refused_realtime_websocket_records_error(
    ws_server: WebsocketServer, meter_provider: MeterProvider, reader: InMemoryMetricReader
) -> None:
    AgentsInstrumentor().instrument(meter_provider=meter_provider)
    try:
        found = await realtime_acquisitions(ws_server, reader, "/status/401")
    finally:
        AgentsInstrumentor().uninstrument()
    assert found, "the failed handshake is recorded"
    assert all(attrs(p).get("error.type") for p in found)


async def test_realtime_stt_pool_is_timed_once(
    ws_server: WebsocketServer, meter_provider: MeterProvider, reader: InMemoryMetricReader
) -> None:
    AgentsInstrumentor().instrument(meter_provider=meter_provider)
    http_context._new_session_ctx()
    try:
        stt = openai.STT(
            model="gpt-4o-transcribe",
            api_key="test-key",
            base_url=f"http://127.0.0.1:{ws_server.port}/delay/{int(DELAY * 1000)}",
            use_realtime=True,
        )
        stream = stt.stream()
        (point,) = await wait_for_points(reader, ACQUIRE)
        await stream.aclose()
        await stt.aclose()
    finally:
        await http_context._close_http_ctx()
        AgentsInstrumentor().uninstrument()

    assert point.count == 1
    assert DELAY <= point.sum < DELAY + SLACK
    assert attrs(point)["model_name"] == "gpt-4o-transcribe"
    assert attrs(point)["connection_reused"] == "false"


@needs_create_ws_conn
async def test_excluded_openai_records_no_session(
    ws_server: WebsocketServer,
    meter_provider: MeterProvider,
    reader: InMemoryMetricReader,
) -> None:
    # the engine stays patched for the other providers on it (xai, livekit, ...):
    # openai's own sessions are dropped by their attribution
    AgentsInstrumentor().instrument(meter_provider=meter_provider, exclude_providers=["openai"])
    try:
        found = await realtime_acquisitions(ws_server, reader, "/delay/10")
    finally:
        AgentsInstrumentor().uninstrument()
    assert ws_server.handshakes >= 1
    assert found == []
