"""A real framework TTS whose ``ConnectionPool`` opens real websockets.

The pool's connect callback is the TTS's bound method, as in the deepgram,
cartesia and openai plugins, so the pool's owner carries the model attributes.
"""

from __future__ import annotations

import asyncio
import inspect
from typing import Any

import aiohttp
from livekit.agents import tts, utils

POOL_TAKES_TIMEOUT = "timeout" in inspect.signature(utils.ConnectionPool.get).parameters
"""livekit-agents 1.0.x pools take no ``timeout``; 1.1+ require one."""


class WebsocketTTS(tts.TTS):
    def __init__(
        self, url: str, *, model: str = "ws-tts-1", provider: str = "alpha", timeout: float = 5.0
    ) -> None:
        super().__init__(
            capabilities=tts.TTSCapabilities(streaming=False), sample_rate=24000, num_channels=1
        )
        self._url = url
        self._model = model
        self._provider = provider
        self._timeout = timeout
        self._http: aiohttp.ClientSession | None = None
        self.connect_errors: list[BaseException] = []
        self.pool: utils.ConnectionPool[aiohttp.ClientWebSocketResponse] = utils.ConnectionPool(
            connect_cb=self._connect_ws, close_cb=self._close_ws
        )

    @property
    def model(self) -> str:
        return self._model

    @property
    def provider(self) -> str:
        return self._provider

    async def _connect_ws(self, timeout: float | None = None) -> aiohttp.ClientWebSocketResponse:
        if self._http is None:
            self._http = aiohttp.ClientSession()
        try:
            return await asyncio.wait_for(
                self._http.ws_connect(self._url), timeout or self._timeout
            )
        except BaseException as error:
            self.connect_errors.append(error)
            raise

    async def _close_ws(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        await ws.close()

    def synthesize(self, text: str, **kwargs: Any) -> tts.ChunkedStream:
        raise NotImplementedError("only the connection pool is exercised")

    async def acquire(self) -> aiohttp.ClientWebSocketResponse:
        if POOL_TAKES_TIMEOUT:
            return await self.pool.get(timeout=self._timeout)
        return await self.pool.get()

    def connection(self) -> Any:
        if POOL_TAKES_TIMEOUT:
            return self.pool.connection(timeout=self._timeout)
        return self.pool.connection()

    async def aclose(self) -> None:
        await self.pool.aclose()
        if self._http is not None:
            await self._http.close()
