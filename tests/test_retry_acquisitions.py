"""A retry loop over a real ``ConnectionPool`` is one acquisition: the real
assemblyai TTS against a loopback server that speaks its session start."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from opentelemetry.sdk.metrics.export import InMemoryMetricReader

from .metric_points import attrs, points

assemblyai = pytest.importorskip("livekit.plugins.assemblyai", reason="livekit-plugins-assemblyai")

ACQUIRE = "lk.agents.connection.acquire_time"
DELAY = 0.120


class BeginServer:
    """Upgrades after ``DELAY``, then sends AssemblyAI's ``Begin`` frame."""

    def __init__(self) -> None:
        self.sockets: list[web.WebSocketResponse] = []
        self.port = 0
        self._runner: web.AppRunner | None = None

    async def start(self) -> None:
        app = web.Application()
        app.router.add_get("/{tail:.*}", self._session)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]

    async def _session(self, request: web.Request) -> web.WebSocketResponse:
        await asyncio.sleep(DELAY)
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        self.sockets.append(ws)
        begin = {"type": "Begin", "id": f"s{len(self.sockets)}", "expires_at": time.time() + 3600}
        await ws.send_str(json.dumps(begin))
        async for message in ws:
            if message.type != aiohttp.WSMsgType.TEXT:
                break
        return ws

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()


@pytest.fixture
async def begin_server() -> AsyncIterator[BeginServer]:
    server = BeginServer()
    await server.start()
    yield server
    await server.stop()


async def until(condition: Any, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not reached"
        await asyncio.sleep(0.01)


@pytest.mark.usefixtures("instrumented")
async def test_a_stale_session_then_a_new_one_is_one_acquisition(
    begin_server: BeginServer, reader: InMemoryMetricReader
) -> None:
    if not hasattr(assemblyai, "TTS"):  # lk15 installs assemblyai 1.5.17 for its STT
        pytest.skip("livekit-plugins-assemblyai has no TTS before 1.8 (absent in 1.7.1)")
    http = aiohttp.ClientSession()
    tts = assemblyai.TTS(
        api_key="test-key", base_url=f"ws://127.0.0.1:{begin_server.port}", http_session=http
    )
    if not hasattr(tts, "_acquire"):
        pytest.skip("this livekit-plugins-assemblyai has no retrying TTS._acquire")
    try:
        first = await tts._acquire(timeout=5.0)
        tts._release(first, discard=False)  # idle in the pool
        await begin_server.sockets[0].close()  # the server ends the idle session
        await until(lambda: not first.usable)
        second = await tts._acquire(timeout=5.0)
        tts._release(second, discard=False)
    finally:
        await tts.aclose()
        await http.close()

    assert second is not first and len(begin_server.sockets) == 2
    found = {attrs(p)["connection_reused"]: p for p in points(reader, ACQUIRE)}
    assert set(found) == {"false"}, "the discarded stale session is part of the new one"
    assert found["false"].count == 2
    assert found["false"].min >= DELAY
    assert attrs(found["false"])["model_name"] == tts.model
