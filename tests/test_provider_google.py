"""The real google plugin's streaming STT and TTS against a real gRPC server on loopback.

The STT plugin's pool hands out gRPC clients; the connection is the streaming
call, which is open once the channel is connected and the call's stream
started (the TTS caches one client and opens a ``streaming_synthesize`` call
per segment).  A TCP proxy in front of the server waits a known delay before
it connects each accepted connection through, so the channel's handshake takes
that long.  The plugin takes no endpoint (only a location, which picks a
googleapis.com host), so the test gives the STT's pool a connect callback, and
the TTS a client, that build the same SDK client on an insecure channel to the
loopback server; the plugin's stream code and the SDK call are its own.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

import pytest
from opentelemetry.sdk.metrics.export import InMemoryMetricReader

from opentelemetry.instrumentation.livekit_agents import AgentsInstrumentor

from .metric_points import attrs, points, wait_for_points

google_stt = pytest.importorskip("livekit.plugins.google.stt", reason="livekit-plugins-google")
grpc = pytest.importorskip("grpc", reason="grpcio")
speech_v1 = pytest.importorskip("google.cloud.speech_v1", reason="google-cloud-speech")
tts_v1 = pytest.importorskip("google.cloud.texttospeech_v1", reason="google-cloud-texttospeech")
google_tts = pytest.importorskip("livekit.plugins.google.tts", reason="livekit-plugins-google")
from google.auth.credentials import AnonymousCredentials  # noqa: E402
from google.cloud.speech_v1.services.speech.transports.grpc_asyncio import (  # noqa: E402
    SpeechGrpcAsyncIOTransport,
)
from google.cloud.texttospeech_v1.services.text_to_speech.transports.grpc_asyncio import (  # noqa: E402
    TextToSpeechGrpcAsyncIOTransport,
)

ACQUIRE = "lk.agents.connection.acquire_time"
METHOD = "/google.cloud.speech.v1.Speech/StreamingRecognize"
DELAY = 0.150


class DelayedProxy:
    """Accepts TCP connections and pipes each to ``port`` after ``delay``."""

    def __init__(self, port: int, delay: float) -> None:
        self.target = port
        self.delay = delay
        self.port = 0
        self.accepted = 0
        self._server: asyncio.AbstractServer | None = None

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.accepted += 1
        await asyncio.sleep(self.delay)
        up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.target)
        await asyncio.gather(_pipe(reader, up_writer), _pipe(up_reader, writer))

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    except (ConnectionError, asyncio.CancelledError):
        pass
    finally:
        writer.close()


class StreamingServer:
    """One streaming method of a Google service (by default StreamingRecognize) that
    answers nothing until the client closes its side."""

    def __init__(
        self,
        service: str = "google.cloud.speech.v1.Speech",
        method: str = "StreamingRecognize",
        messages: tuple[Any, Any] = (
            speech_v1.StreamingRecognizeRequest,
            speech_v1.StreamingRecognizeResponse,
        ),
    ) -> None:
        self.streams = 0
        self.server = grpc.aio.server()
        request, response = messages
        handler = grpc.stream_stream_rpc_method_handler(
            self._recognize,
            request_deserializer=request.deserialize,
            response_serializer=response.serialize,
        )
        generic = grpc.method_handlers_generic_handler(service, {method: handler})
        self.server.add_generic_rpc_handlers((generic,))
        self.port = self.server.add_insecure_port("127.0.0.1:0")

    async def _recognize(self, requests: Any, context: Any) -> AsyncIterator[Any]:
        self.streams += 1
        async for _ in requests:
            pass
        return
        yield  # an async generator that answers nothing


@pytest.fixture
async def speech_server() -> AsyncIterator[StreamingServer]:
    server = StreamingServer()
    await server.server.start()
    yield server
    await server.server.stop(None)


@pytest.fixture
async def proxy(speech_server: StreamingServer) -> AsyncIterator[DelayedProxy]:
    delayed = DelayedProxy(speech_server.port, DELAY)
    await delayed.start()
    yield delayed
    await delayed.stop()


def loopback_stt(port: int) -> Any:
    stt = google_stt.STT(model="latest_long", credentials=AnonymousCredentials())

    async def loopback_client(timeout: float) -> Any:
        channel = grpc.aio.insecure_channel(f"127.0.0.1:{port}")
        transport = SpeechGrpcAsyncIOTransport(channel=channel)
        return speech_v1.SpeechAsyncClient(transport=transport)

    stt._pool._connect_cb = loopback_client
    return stt


def loopback_tts(port: int) -> Any:
    tts = google_tts.TTS(credentials=AnonymousCredentials())
    channel = grpc.aio.insecure_channel(f"127.0.0.1:{port}")
    # the client TTS._ensure_client would build, on the loopback channel
    tts._client = tts_v1.TextToSpeechAsyncClient(
        transport=TextToSpeechGrpcAsyncIOTransport(channel=channel)
    )
    return tts


def synthesis_server() -> StreamingServer:
    return StreamingServer(
        "google.cloud.texttospeech.v1.TextToSpeech",
        "StreamingSynthesize",
        (tts_v1.StreamingSynthesizeRequest, tts_v1.StreamingSynthesizeResponse),
    )


def open_synthesis(tts: Any) -> Any:
    stream = tts.stream()
    stream.push_text("hello there")  # the first text opens the segment's call
    stream.flush()
    return stream


@dataclass(frozen=True)
class Streaming:
    """A streaming gRPC site of the plugin: its server, its component, how it opens."""

    name: str
    server: Callable[[], StreamingServer]
    component: Callable[[int], Any]
    opens: Callable[[Any], Any]


STREAMING = [
    Streaming("stt-streaming_recognize", StreamingServer, loopback_stt, lambda stt: stt.stream()),
    Streaming("tts-streaming_synthesize", synthesis_server, loopback_tts, open_synthesis),
]


@pytest.mark.usefixtures("instrumented")
@pytest.mark.parametrize("site", [pytest.param(s, id=s.name) for s in STREAMING])
async def test_streaming_call_is_timed_to_the_open_stream(
    site: Streaming, reader: InMemoryMetricReader
) -> None:
    server = site.server()
    await server.server.start()
    delayed = DelayedProxy(server.port, DELAY)
    await delayed.start()
    component = site.component(delayed.port)
    stream = site.opens(component)
    try:
        found = await wait_for_points(reader, ACQUIRE)
    finally:
        await stream.aclose()
        await component.aclose()
        await delayed.stop()
        await server.server.stop(None)

    assert server.streams >= 1
    (point,) = found
    assert point.count == 1
    assert DELAY <= point.sum < DELAY + 0.5
    assert attrs(point)["model_name"] == component.model
    assert attrs(point)["model_provider"] == component.provider
    assert attrs(point)["connection_reused"] == "false"


async def test_a_stream_closed_while_connecting_records_an_error(
    speech_server: StreamingServer, instrumented: AgentsInstrumentor, reader: InMemoryMetricReader
) -> None:
    # gRPC waits for a channel that cannot connect (a refused port too) until the
    # caller gives up: here the stream is closed while its handshake hangs
    hanging = DelayedProxy(speech_server.port, 60.0)
    await hanging.start()
    stt = loopback_stt(hanging.port)
    stream = stt.stream()
    try:
        deadline = time.monotonic() + 5.0
        while hanging.accepted == 0:
            assert time.monotonic() < deadline, "the plugin never connected"
            await asyncio.sleep(0.01)
    finally:
        await stream.aclose()
        await stt.aclose()
        await hanging.stop()
    (point,) = points(reader, ACQUIRE)
    assert point.count == 1
    assert attrs(point)["error.type"] == "CancelledError"


async def test_a_users_own_client_is_not_recorded(
    speech_server: StreamingServer, instrumented: AgentsInstrumentor, reader: InMemoryMetricReader
) -> None:
    channel = grpc.aio.insecure_channel(f"127.0.0.1:{speech_server.port}")
    client = speech_v1.SpeechAsyncClient(transport=SpeechGrpcAsyncIOTransport(channel=channel))

    async def requests() -> AsyncIterator[Any]:
        yield speech_v1.StreamingRecognizeRequest()

    call = await client.streaming_recognize(requests=requests())
    async for _ in call:  # the server ends the call once the requests end
        pass
    await channel.close()
    assert speech_server.streams == 1
    assert points(reader, ACQUIRE) == []
