"""The right model and provider on each connection point, one point per acquisition.

Real plugin classes and real ``ConnectionPool`` objects against a websocket
server on loopback: the openai Responses LLM's websocket helper, vakyam's and
rime's closure-connected pools, the realtime engine shared by several
providers, and a retry loop that discards a stale reused socket.
"""

from __future__ import annotations

import importlib
from typing import Any

import pytest
import wrapt
from livekit.agents.utils import http_context
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader

from opentelemetry.instrumentation.livekit_agents import AgentsInstrumentor
from opentelemetry.instrumentation.livekit_agents.instrumentors.connections.pool import (
    pool_identity,
)

from .loopback_servers import WebsocketServer
from .metric_points import attrs, points, wait_for_points

ACQUIRE = "lk.agents.connection.acquire_time"


@pytest.fixture
async def http_ctx() -> Any:
    http_context._new_session_ctx()
    yield
    await http_context._close_http_ctx()


def responses_llm(ws_server: WebsocketServer, delay_ms: int) -> Any:
    responses = pytest.importorskip(
        "livekit.plugins.openai.responses", reason="livekit-plugins-openai with a Responses LLM"
    )
    llm = responses.LLM(
        model="gpt-4.1",
        api_key="test-key",
        base_url=f"http://127.0.0.1:{ws_server.port}/delay/{delay_ms}",
    )
    if getattr(llm, "_ws", None) is None or not hasattr(llm._ws, "_acquire_and_send"):
        pytest.skip("this livekit-plugins-openai has no Responses websocket (1.8.x only)")
    return llm


@pytest.mark.usefixtures("instrumented", "http_ctx")
async def test_responses_websocket_carries_the_llms_model(
    ws_server: WebsocketServer, reader: InMemoryMetricReader
) -> None:
    llm = responses_llm(ws_server, 40)
    ws = await llm._ws._acquire_and_send("{}")  # how generate_response acquires
    llm._ws._pool.put(ws)
    await llm.aclose()

    (point,) = points(reader, ACQUIRE)
    assert attrs(point)["model_name"] == "gpt-4.1"
    assert attrs(point)["model_provider"] == llm.provider
    assert attrs(point)["connection_reused"] == "false"


@pytest.mark.usefixtures("instrumented", "http_ctx")
async def test_a_stale_reused_socket_then_a_new_one_is_one_acquisition(
    ws_server: WebsocketServer, reader: InMemoryMetricReader
) -> None:
    llm = responses_llm(ws_server, 120)
    ws = await llm._ws._acquire_and_send("{}")
    llm._ws._pool.put(ws)
    await ws.close()  # closed while idle in the real pool: stale on its next reuse
    fresh = await llm._ws._acquire_and_send("{}")
    llm._ws._pool.put(fresh)
    await llm.aclose()

    assert fresh is not ws and ws_server.handshakes == 2
    found = {attrs(p)["connection_reused"]: p for p in points(reader, ACQUIRE)}
    assert set(found) == {"false"}, "the discarded reuse is part of the new acquisition"
    assert found["false"].count == 2
    assert found["false"].min >= 0.120  # each acquisition waited for its handshake


@pytest.mark.usefixtures("instrumented", "http_ctx")
async def test_a_clean_reuse_is_still_reused(
    ws_server: WebsocketServer, reader: InMemoryMetricReader
) -> None:
    llm = responses_llm(ws_server, 20)
    ws = await llm._ws._acquire_and_send("{}")
    llm._ws._pool.put(ws)
    again = await llm._ws._acquire_and_send("{}")
    llm._ws._pool.put(again)
    await llm.aclose()

    assert again is ws
    counts = {attrs(p)["connection_reused"]: p.count for p in points(reader, ACQUIRE)}
    assert counts == {"false": 1, "true": 1}


@pytest.mark.usefixtures("instrumented")
def test_vakyam_closure_pool_carries_the_tts_model() -> None:
    vakyam = pytest.importorskip("livekit.plugins.vakyam", reason="livekit-plugins-vakyam")
    tts = vakyam.TTS(api_key="test-key")
    identity = pool_identity(tts._pool_for(tts._opts))
    assert identity.model_name == tts.model != "unknown"
    assert identity.model_provider == tts.provider


@pytest.mark.usefixtures("instrumented")
@pytest.mark.parametrize("mode", ["v1", "legacy"])
def test_rime_closure_pools_carry_the_tts_model(mode: str) -> None:
    rime = pytest.importorskip("livekit.plugins.rime", reason="livekit-plugins-rime")
    tts = rime.TTS(api_key="test-key", use_websocket=True, model="arcana")
    adapter = tts._websocket_v1_adapter or tts._legacy_websocket_adapter
    if mode == "legacy":
        if tts._legacy_websocket_adapter is None:
            tts = rime.TTS(api_key="test-key", use_websocket=True, model="mistv2")
        adapter = tts._legacy_websocket_adapter
        if adapter is None:
            pytest.skip("this rime release picks the v1 websocket for every model")
    identity = pool_identity(adapter._pools.current)
    assert identity.model_name == tts.model != "unknown"
    assert identity.model_provider == tts.provider


async def test_inference_realtime_is_switched_by_its_own_provider(
    ws_server: WebsocketServer,
    meter_provider: MeterProvider,
    reader: InMemoryMetricReader,
    http_ctx: None,
) -> None:
    inference = pytest.importorskip(
        "livekit.agents.inference.realtime", reason="LiveKit Inference realtime (1.8.x)"
    )
    # openai is not allowed, and its plugin need not be installed: livekit's own
    # sessions on the shared engine are still timed
    AgentsInstrumentor().instrument(meter_provider=meter_provider, providers=["livekit"])
    try:
        # timed by our patch, not only by the framework's own report (native.py)
        engine = importlib.import_module("livekit.agents.llm._realtime.openai")
        assert isinstance(engine.RealtimeSession.__dict__["_create_ws_conn"], wrapt.FunctionWrapper)
        model = inference.RealtimeModel(
            "openai/gpt-realtime",
            base_url=f"http://127.0.0.1:{ws_server.port}/delay/60",
            api_key="test-key",
            api_secret="test-secret-test-secret-test-secret",
        )
        session = model.session()
        try:
            (point,) = await wait_for_points(reader, ACQUIRE)
        finally:
            await session.aclose()
            await model.aclose()
    finally:
        AgentsInstrumentor().uninstrument()

    assert point.count == 1, "timed once, though the framework also reports it"
    assert point.sum >= 0.060
    assert attrs(point)["model_provider"] == "livekit"
    assert attrs(point)["model_name"] == model.model
