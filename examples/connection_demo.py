"""A short, self-contained look at connection acquire timing.

Two simulated providers keep websocket connections in real livekit-agents
``ConnectionPool`` objects, against a websocket server on loopback with a
known handshake delay.  The package records every acquisition, new or
reused, and this script prints what was exported.  No API keys, no network
beyond 127.0.0.1.

    python examples/connection_demo.py
"""

from __future__ import annotations

import asyncio
import inspect
import time

import aiohttp
from aiohttp import web
from livekit.agents import utils
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader

from opentelemetry.instrumentation.livekit_agents import AgentsInstrumentor

HANDSHAKE_DELAY = {"deepgram": 0.120, "cartesia": 0.060}
POOL_TAKES_TIMEOUT = "timeout" in inspect.signature(utils.ConnectionPool.get).parameters


class SimulatedProvider:
    """Owns a pool the way a livekit plugin does: its bound method connects."""

    def __init__(self, provider: str, model: str, url: str, http: aiohttp.ClientSession) -> None:
        self.provider, self.model = provider, model
        self._url, self._http = url, http
        self.pool: utils.ConnectionPool[aiohttp.ClientWebSocketResponse] = utils.ConnectionPool(
            connect_cb=self._connect, close_cb=self._close
        )

    async def _connect(self, timeout: float = 10.0) -> aiohttp.ClientWebSocketResponse:
        return await asyncio.wait_for(self._http.ws_connect(self._url), timeout)

    async def _close(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        await ws.close()

    async def request(self) -> float:
        start = time.perf_counter()
        ws = await (self.pool.get(timeout=10.0) if POOL_TAKES_TIMEOUT else self.pool.get())
        waited = time.perf_counter() - start
        self.pool.put(ws)
        return waited


async def handshake(request: web.Request) -> web.WebSocketResponse:
    await asyncio.sleep(HANDSHAKE_DELAY[request.match_info["provider"]])
    ws = web.WebSocketResponse()
    await ws.prepare(request)
    async for _ in ws:
        pass
    return ws


async def run() -> None:
    app = web.Application()
    app.router.add_get("/{provider}", handshake)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    async with aiohttp.ClientSession() as http:
        providers = [
            SimulatedProvider(name, f"{name}-model", f"ws://127.0.0.1:{port}/{name}", http)
            for name in HANDSHAKE_DELAY
        ]
        for turn in range(3):
            for provider in providers:
                waited = await provider.request()
                print(
                    f"turn {turn + 1}: {provider.provider:<9} acquired in {waited * 1000:7.2f} ms"
                )
        for provider in providers:
            await provider.pool.aclose()
    await runner.cleanup()


def main() -> None:
    reader = InMemoryMetricReader()
    meter_provider = MeterProvider(metric_readers=[reader])
    AgentsInstrumentor().instrument(meter_provider=meter_provider)
    asyncio.run(run())
    AgentsInstrumentor().uninstrument()

    print("\nlk.agents.connection.acquire_time, as exported:")
    print(f"{'provider':<10}{'model':<16}{'reused':<8}{'count':>6}{'mean ms':>10}")
    data = reader.get_metrics_data()
    for resource in data.resource_metrics if data else []:
        for scope in resource.scope_metrics:
            for metric in scope.metrics:
                if metric.name != "lk.agents.connection.acquire_time":
                    continue
                for point in metric.data.data_points:  # type: ignore[union-attr]
                    a = dict(point.attributes or {})
                    print(
                        f"{a['model_provider']!s:<10}{a['model_name']!s:<16}"
                        f"{a['connection_reused']!s:<8}{point.count:>6}"  # type: ignore[union-attr]
                        f"{point.sum / point.count * 1000:>10.2f}"  # type: ignore[union-attr]
                    )


if __name__ == "__main__":
    main()
