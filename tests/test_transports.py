"""Websocket handshakes timed in aiohttp and websockets, for the component that opened them.

Real clients against a real server on loopback, inside scripted components that
subclass the framework's own STT and TTS.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp
import pytest
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader

from opentelemetry.instrumentation.livekit_agents import AgentsInstrumentor

from .loopback_servers import WebsocketServer
from .metric_points import attrs, points, wait_for_points
from .pool_components import WebsocketTTS
from .transport_components import (
    CLIENTS,
    ScriptedSTT,
    ScriptedTTS,
    client_available,
    open_websocket,
)

ACQUIRE = "lk.agents.connection.acquire_time"
DELAY = 0.150
SLACK = 0.5  # a busy 2-core machine: the lower bound is what matters

pytestmark = pytest.mark.usefixtures("quiet_gc")


def client_param(client: str) -> object:
    return pytest.param(
        client,
        id=client,
        marks=pytest.mark.skipif(
            not client_available(client), reason=f"this websockets release has no {client} client"
        ),
    )


ALL_CLIENTS = [client_param(client) for client in CLIENTS]


@pytest.mark.parametrize("client", ALL_CLIENTS)
async def test_stt_stream_handshake_is_one_point(
    client: str,
    ws_server: WebsocketServer,
    instrumented: AgentsInstrumentor,
    reader: InMemoryMetricReader,
) -> None:
    stream = ScriptedSTT(ws_server.url("/delay/150"), client).stream()
    await stream.done.wait()
    (point,) = await wait_for_points(reader, ACQUIRE)
    await stream.aclose()

    assert stream.error is None
    assert point.count == 1
    assert DELAY <= point.sum < DELAY + SLACK
    assert attrs(point) == {
        "model_name": "ws-stt-1",
        "model_provider": "alpha",
        "connection_reused": "false",
    }


@pytest.mark.parametrize("client", ALL_CLIENTS)
async def test_tts_method_handshake_is_one_point(
    client: str,
    ws_server: WebsocketServer,
    instrumented: AgentsInstrumentor,
    reader: InMemoryMetricReader,
) -> None:
    opened = await ScriptedTTS(ws_server.url("/delay/150"), client).connect()
    await opened.close()

    (point,) = await wait_for_points(reader, ACQUIRE)
    assert point.count == 1
    assert DELAY <= point.sum < DELAY + SLACK
    assert attrs(point)["model_name"] == "ws-tts-1"
    assert attrs(point)["model_provider"] == "beta"


@pytest.mark.parametrize("client", ALL_CLIENTS)
async def test_refused_handshake_records_error_type(
    client: str,
    ws_server: WebsocketServer,
    instrumented: AgentsInstrumentor,
    reader: InMemoryMetricReader,
) -> None:
    stream = ScriptedSTT(ws_server.url("/status/403"), client).stream()
    await stream.done.wait()
    (point,) = await wait_for_points(reader, ACQUIRE)
    await stream.aclose()

    assert stream.error is not None
    assert point.count == 1
    assert attrs(point)["error.type"] == type(stream.error).__qualname__
    assert attrs(point)["connection_reused"] == "false"


@pytest.mark.parametrize("client", ALL_CLIENTS)
async def test_connection_outside_any_component_records_nothing(
    client: str,
    ws_server: WebsocketServer,
    instrumented: AgentsInstrumentor,
    reader: InMemoryMetricReader,
) -> None:
    opened = await open_websocket(ws_server.url("/delay/10"), client)
    await opened.close()
    # a component's handshake afterwards is recorded: its point is the only one
    tts = ScriptedTTS(ws_server.url("/delay/10"), client)
    await (await tts.connect()).close()

    (point,) = await wait_for_points(reader, ACQUIRE)
    assert ws_server.handshakes == 2
    assert point.count == 1
    assert attrs(point)["model_provider"] == "beta"


async def test_pool_acquisition_around_the_handshake_gives_one_point(
    ws_server: WebsocketServer, instrumented: AgentsInstrumentor, reader: InMemoryMetricReader
) -> None:
    tts = WebsocketTTS(ws_server.url("/delay/150"))
    try:
        await tts.acquire()
    finally:
        await tts.aclose()

    (point,) = await wait_for_points(reader, ACQUIRE)
    assert ws_server.handshakes == 1
    assert point.count == 1
    assert DELAY <= point.sum < DELAY + SLACK
    assert attrs(point)["connection_reused"] == "false"


async def test_the_component_provider_switch_applies(
    ws_server: WebsocketServer, meter_provider: MeterProvider, reader: InMemoryMetricReader
) -> None:
    instrumentor = AgentsInstrumentor()
    instrumentor.instrument(meter_provider=meter_provider, exclude_providers=["alpha"])
    try:
        stream = ScriptedSTT(ws_server.url("/delay/10"), "aiohttp").stream()
        await stream.done.wait()
        await stream.aclose()
        await (await ScriptedTTS(ws_server.url("/delay/10"), "aiohttp").connect()).close()
        (point,) = await wait_for_points(reader, ACQUIRE)
    finally:
        instrumentor.uninstrument()
    assert point.count == 1
    assert attrs(point)["model_provider"] == "beta"


async def test_uninstrument_restores_the_clients(meter_provider: MeterProvider) -> None:
    original = aiohttp.ClientSession.__dict__["_ws_connect"]
    instrumentor = AgentsInstrumentor()
    instrumentor.instrument(meter_provider=meter_provider)
    assert aiohttp.ClientSession.__dict__["_ws_connect"] is not original
    instrumentor.uninstrument()
    assert aiohttp.ClientSession.__dict__["_ws_connect"] is original
    if client_available("websockets"):
        import websockets.asyncio.client

        connect = websockets.asyncio.client.connect
        for name in ("__init__", "__await_impl__", "connect"):
            assert not hasattr(connect.__dict__.get(name), "__wrapped__")


async def test_no_point_after_uninstrument(
    ws_server: WebsocketServer, meter_provider: MeterProvider, reader: InMemoryMetricReader
) -> None:
    instrumentor = AgentsInstrumentor()
    instrumentor.instrument(meter_provider=meter_provider)
    instrumentor.uninstrument()
    await (await ScriptedTTS(ws_server.url("/delay/10"), "aiohttp").connect()).close()
    assert points(reader, ACQUIRE) == []


class Connection:
    """A plugin's connection object: no model of its own (soniox's ``_Connection``,
    inworld's ``_InworldConnection``, baseten's ``_Qwen3Backend``)."""

    def __init__(self, url: str, client: str) -> None:
        self.url = url
        self.client = client

    async def connect(self) -> Any:
        return await open_websocket(self.url, self.client)


IN_A_TASK: dict[str, Callable[[Awaitable[Any]], Awaitable[Any]]] = {
    # asyncio.wait_for runs its coroutine in a task of its own up to Python 3.11
    "wait_for": lambda connect: asyncio.wait_for(connect, 5.0),
    # a connect task the plugin starts, awaited under shield (inworld)
    "shielded_task": lambda connect: asyncio.wait_for(
        asyncio.shield(asyncio.ensure_future(connect)), 5.0
    ),
    "gather": lambda connect: asyncio.gather(connect),
}


async def opened_in_a_task(shape: str, connect: Any) -> Any:
    """The connection ``connect`` opens, run in a task of the ``shape`` given."""
    opened = await IN_A_TASK[shape](connect)
    return opened[0] if isinstance(opened, list) else opened  # gather's list of one


class TaskTTS(ScriptedTTS):
    """A TTS whose connection object connects in a task the TTS awaits."""

    async def connect_in_task(self, shape: str) -> Any:
        return await opened_in_a_task(shape, Connection(self.url, self.client).connect())


@pytest.mark.parametrize("shape", list(IN_A_TASK))
@pytest.mark.parametrize("client", ALL_CLIENTS)
async def test_a_handshake_in_a_task_the_component_awaits_is_its_own(
    client: str,
    shape: str,
    ws_server: WebsocketServer,
    instrumented: AgentsInstrumentor,
    reader: InMemoryMetricReader,
) -> None:
    opened = await TaskTTS(ws_server.url("/delay/150"), client).connect_in_task(shape)
    await opened.close()

    (point,) = await wait_for_points(reader, ACQUIRE)
    assert point.count == 1
    assert DELAY <= point.sum < DELAY + SLACK
    assert attrs(point)["model_name"] == "ws-tts-1"
    assert attrs(point)["model_provider"] == "beta"


@pytest.mark.parametrize("shape", list(IN_A_TASK))
@pytest.mark.parametrize("client", ALL_CLIENTS)
async def test_a_handshake_in_a_task_no_component_awaits_records_nothing(
    client: str,
    shape: str,
    ws_server: WebsocketServer,
    instrumented: AgentsInstrumentor,
    reader: InMemoryMetricReader,
) -> None:
    opened = await opened_in_a_task(shape, Connection(ws_server.url("/delay/10"), client).connect())
    await opened.close()

    assert ws_server.handshakes == 1
    assert points(reader, ACQUIRE) == []
