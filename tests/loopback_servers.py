"""Real servers on loopback for the tests: an aiohttp websocket server whose handshake
takes a delay the test chooses, or is refused with a status; a free port for a server
of another process."""

from __future__ import annotations

import asyncio
import socket

import aiohttp
from aiohttp import web


def free_port() -> int:
    """A loopback port that nothing listens on (bound and closed again)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class WebsocketServer:
    """An aiohttp websocket server whose handshake waits ``/delay/<ms>``.

    ``/status/<code>`` refuses the handshake with that HTTP status.  Both also
    answer below their path, where plugins append their own (``/v1/listen``).
    """

    def __init__(self) -> None:
        self.runner: web.AppRunner | None = None
        self.port = 0
        self.handshakes = 0

    async def start(self) -> None:
        app = web.Application()
        for route, handler in (("/delay/{ms}", self._delayed), ("/status/{code}", self._refuse)):
            app.router.add_get(route, handler)
            app.router.add_get(route + "/{tail:.*}", handler)
        self.runner = web.AppRunner(app)
        await self.runner.setup()
        site = web.TCPSite(self.runner, "127.0.0.1", 0)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]

    def url(self, path: str) -> str:
        return f"ws://127.0.0.1:{self.port}{path}"

    async def _delayed(self, request: web.Request) -> web.WebSocketResponse:
        await asyncio.sleep(int(request.match_info["ms"]) / 1000)
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        self.handshakes += 1
        async for message in ws:
            if message.type == aiohttp.WSMsgType.TEXT:
                await ws.send_str(message.data)
        return ws

    async def _refuse(self, request: web.Request) -> web.Response:
        return web.Response(status=int(request.match_info["code"]))

    async def stop(self) -> None:
        if self.runner is not None:
            await self.runner.cleanup()
