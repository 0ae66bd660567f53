"""A loopback provider for the real plugins, and the plugins themselves: any path
upgrades to a websocket after a known delay, or is refused; a POST answers with the
websocket URL to use (plugins such as gladia first ask a REST endpoint for their
session URL)."""

from __future__ import annotations

import asyncio
import importlib
from typing import Any

import aiohttp
import pytest
from aiohttp import web


def plugin_module(name: str) -> Any:
    """The plugin module ``name``, or a skip where it is not installed."""
    try:
        return importlib.import_module(name)
    except ImportError as error:
        pytest.skip(f"{name} is not installed here: {error}")


def plugin_class(module: Any, name: str) -> Any:
    """``module``'s class ``name``, or a skip naming the release that has none yet."""
    cls = getattr(module, name, None)
    if cls is None:  # a site newer than this release of its plugin
        version = getattr(module, "__version__", "installed here")
        pytest.skip(f"{module.__name__} {version} has no {name} yet")
    return cls


class ProviderServer:
    """Accepts a websocket upgrade on any path after ``delay`` seconds, or refuses
    every one with ``refuse`` (an HTTP status) when it is set.  A POST to any path
    answers after ``post_delay`` with a session pointing back here (never refused:
    ``refuse`` is for the handshake, the connection the package times)."""

    def __init__(self, delay: float) -> None:
        self.delay = delay
        self.post_delay = 0.0
        self.refuse: int | None = None
        self.runner: web.AppRunner | None = None
        self.port = 0
        self.handshakes = 0
        self.posts = 0

    async def start(self) -> None:
        app = web.Application()
        app.router.add_get("/{tail:.*}", self._upgrade)
        app.router.add_post("/{tail:.*}", self._session_url)
        self.runner = web.AppRunner(app)
        await self.runner.setup()
        site = web.TCPSite(self.runner, "127.0.0.1", 0)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]

    def url(self, scheme: str = "http", path: str = "") -> str:
        return f"{scheme}://127.0.0.1:{self.port}{path}"

    async def _upgrade(self, request: web.Request) -> web.StreamResponse:
        if self.refuse is not None:
            return web.Response(status=self.refuse)
        await asyncio.sleep(self.delay)
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        self.handshakes += 1
        async for message in ws:
            if message.type == aiohttp.WSMsgType.ERROR:
                break
        return ws

    async def _session_url(self, request: web.Request) -> web.Response:
        await asyncio.sleep(self.post_delay)
        self.posts += 1
        # gladia reads ``url`` and ``id``, ultravox ``joinUrl``
        url = self.url("ws", "/session")
        return web.json_response({"id": "s1", "url": url, "joinUrl": url, "token": "t"})

    async def stop(self) -> None:
        if self.runner is not None:
            await self.runner.cleanup()
