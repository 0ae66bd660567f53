"""A scripted STT and TTS, subclasses of the framework's own, that open websockets
with a real client the test chooses, without a pool or a provider module.

The STT stream connects in its ``_run`` task, as streaming plugins do; the TTS
connects in a method of its own.  Both go through a module function first, so a
frame that is not a method sits between the component and the client.
"""

from __future__ import annotations

import asyncio
import warnings
from typing import Any

import aiohttp
from livekit.agents import APIConnectOptions, stt, tts

CLIENTS = ("aiohttp", "websockets", "websockets.legacy")


def client_available(client: str) -> bool:
    """The installed ``websockets`` has this client (``asyncio`` from 13.0)."""
    try:
        _client_module(client)
    except ImportError:
        return False
    return True


def _client_module(client: str) -> Any:
    if client == "websockets":
        import websockets.asyncio.client

        return websockets.asyncio.client
    if client == "websockets.legacy":
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            import websockets.legacy.client

        return websockets.legacy.client
    return aiohttp


class Opened:
    """An open websocket of either library, and how to close it."""

    def __init__(self, socket: Any, http: aiohttp.ClientSession | None) -> None:
        self.socket = socket
        self.http = http

    async def close(self) -> None:
        await self.socket.close()
        if self.http is not None:
            await self.http.close()


async def open_websocket(url: str, client: str, timeout: float | None = None) -> Opened:
    """One handshake with the chosen client library; with a ``timeout`` inside
    ``asyncio.wait_for``, which on Python 3.11 runs it in a task of its own."""
    if client == "aiohttp":
        http = aiohttp.ClientSession()
        try:
            if timeout is None:
                return Opened(await http.ws_connect(url), http)
            return Opened(await asyncio.wait_for(http.ws_connect(url), timeout), http)
        except BaseException:
            await http.close()
            raise
    module = _client_module(client)
    if timeout is None:
        return Opened(await module.connect(url), None)
    return Opened(await asyncio.wait_for(module.connect(url), timeout), None)


def _stt_capabilities() -> stt.STTCapabilities:
    return stt.STTCapabilities(streaming=True, interim_results=False)


class _Target:
    """Where a scripted component connects, with which client, and its model."""

    url: str
    client: str
    _model: str

    def _connect_to(self, url: str, client: str, model: str) -> None:
        self.url = url
        self.client = client
        self._model = model

    @property
    def model(self) -> str:
        return self._model


class ScriptedSTT(_Target, stt.STT):
    """An STT whose streams each open one websocket to ``url``."""

    def __init__(self, url: str, client: str, *, model: str = "ws-stt-1") -> None:
        super().__init__(capabilities=_stt_capabilities())
        self._connect_to(url, client, model)

    @property
    def provider(self) -> str:
        return "alpha"

    async def _recognize_impl(self, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError("only streams are exercised")

    def stream(self, **kwargs: Any) -> ScriptedSpeechStream:
        return ScriptedSpeechStream(self)


class ScriptedSpeechStream(stt.RecognizeStream):
    """Connects once in ``_run``, keeps what it got, then idles until closed."""

    def __init__(self, owner: ScriptedSTT) -> None:
        super().__init__(stt=owner, conn_options=APIConnectOptions())
        self.owner = owner
        self.done = asyncio.Event()
        self.opened: Opened | None = None
        self.error: BaseException | None = None

    async def _run(self) -> None:
        try:
            self.opened = await open_websocket(self.owner.url, self.owner.client)
        except Exception as error:  # the test reads it; the framework must not retry
            self.error = error
        self.done.set()
        try:
            await asyncio.Event().wait()
        finally:
            if self.opened is not None:
                await self.opened.close()


class ScriptedTTS(_Target, tts.TTS):
    """A TTS that opens websockets in a method of its own."""

    def __init__(self, url: str, client: str, *, model: str = "ws-tts-1") -> None:
        super().__init__(
            capabilities=tts.TTSCapabilities(streaming=True), sample_rate=24000, num_channels=1
        )
        self._connect_to(url, client, model)

    @property
    def provider(self) -> str:
        return "beta"

    def synthesize(self, text: str, **kwargs: Any) -> tts.ChunkedStream:
        raise NotImplementedError("only the connection is exercised")

    async def connect(self) -> Opened:
        # the usual plugin shape: the handshake under a timeout
        return await open_websocket(self.url, self.client, timeout=5.0)
