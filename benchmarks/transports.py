"""The transport patch's cost on a websocket connect that is not a component's.

Each repetition opens and closes ``N`` websockets to a loopback aiohttp server
from plain code (no STT/TTS/LLM/realtime frame: what the worker's own
connection looks like), first uninstrumented, then instrumented, with
``aiohttp`` and with ``websockets``; figures are the best repetition, in
microseconds per connect (see micro.py for why the best).  ``call`` isolates
the patch itself: building the handshake coroutine (the point where the patch
looks for a component) and closing it unawaited, without any I/O.

    python benchmarks/transports.py [--quick]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp
import websockets.asyncio.client
from aiohttp import web
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader

from opentelemetry.instrumentation.livekit_agents import AgentsInstrumentor


async def serve() -> tuple[web.AppRunner, str]:
    async def handler(request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        async for _ in ws:
            pass
        return ws

    app = web.Application()
    app.router.add_get("/", handler)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    return runner, f"ws://127.0.0.1:{port}/"


async def per_connect(connect: Callable[[], Awaitable[None]], n: int) -> float:
    start = time.perf_counter()
    for _ in range(n):
        await connect()
    return (time.perf_counter() - start) / n * 1e6


def per_call(http: aiohttp.ClientSession, url: str, n: int) -> float:
    start = time.perf_counter()
    for _ in range(n):
        http._ws_connect(url).close()  # the coroutine, built and never run
    return (time.perf_counter() - start) / n * 1e9


async def measure(n: int, reps: int) -> dict[str, Any]:
    runner, url = await serve()
    http = aiohttp.ClientSession()

    async def with_aiohttp() -> None:
        await (await http.ws_connect(url)).close()

    async def with_websockets() -> None:
        await (await websockets.asyncio.client.connect(url)).close()

    best: dict[str, float] = {}

    def keep(name: str, value: float) -> None:
        best[name] = min(best.get(name, value), value)

    provider = MeterProvider(metric_readers=[InMemoryMetricReader()])
    for rep in range(reps):
        # alternate which mode goes first: on a shared machine the order itself shows
        for instrumented in (False, True) if rep % 2 == 0 else (True, False):
            instrumentor = AgentsInstrumentor()
            if instrumented:
                instrumentor.instrument(meter_provider=provider)
            mode = "instrumented" if instrumented else "uninstrumented"
            keep(f"aiohttp {mode}", await per_connect(with_aiohttp, n))
            keep(f"websockets {mode}", await per_connect(with_websockets, n))
            keep(f"call {mode}", per_call(http, url, n * 100))
            if instrumented:
                instrumentor.uninstrument()
    await http.close()
    await runner.cleanup()
    provider.shutdown()
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    n, reps = (50, 3) if args.quick else (200, 7)
    best = asyncio.run(measure(n, reps))
    if args.json:
        print(json.dumps(best))
        return
    print(f"{'non-component websocket connect':<34} {'uninstrumented':>15} {'instrumented':>13}")
    for name, unit in (("aiohttp", "us"), ("websockets", "us"), ("call", "ns")):
        plain, ours = best[f"{name} uninstrumented"], best[f"{name} instrumented"]
        label = {"call": "build the coroutine (no I/O)"}.get(name, f"{name} connect + close")
        print(
            f"{label:<34} {plain:>12.1f} {unit} {ours:>10.1f} {unit}  ({ours - plain:+.1f} {unit})"
        )


if __name__ == "__main__":
    main()
