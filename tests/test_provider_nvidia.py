"""The real NVIDIA Riva STT and TTS against a real gRPC server on loopback.

The server implements ``StreamingRecognize`` and ``SynthesizeOnline`` on
nvidia-riva-client's own generated servicers and waits a known delay before
its first response.  The plugins take ``server=`` and ``use_ssl=False``, so
the plugin's worker threads, Riva's services and gRPC's channels are all the
real ones.
"""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import Iterator
from concurrent import futures
from dataclasses import dataclass
from typing import Any

import pytest
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader

from opentelemetry.instrumentation.livekit_agents import AgentsInstrumentor
from opentelemetry.instrumentation.livekit_agents.instruments import CONNECTION_ACQUIRE_TIME
from opentelemetry.instrumentation.livekit_agents.model_identity import identify

from .metric_points import attrs, points
from .patched_methods import PatchedMethods, assert_uninstrument_restores
from .waiting import TIMEOUT, wait_until

nvidia = pytest.importorskip(
    "livekit.plugins.nvidia",
    reason="livekit-plugins-nvidia is not installed (only tox -e providers installs it)",
)
import grpc  # noqa: E402  # nvidia-riva-client brings grpcio
from livekit import rtc  # noqa: E402
from livekit.agents import APIConnectOptions, APIError, stt  # noqa: E402
from riva.client import asr as riva_asr  # noqa: E402
from riva.client import auth as riva_auth  # noqa: E402
from riva.client import tts as riva_tts  # noqa: E402
from riva.client.proto import (  # noqa: E402
    riva_asr_pb2,
    riva_asr_pb2_grpc,
    riva_tts_pb2,
    riva_tts_pb2_grpc,
)

ACQUIRE = CONNECTION_ACQUIRE_TIME.name
DELAY = 0.150
MODEL = "parakeet-test-asr"
AUDIO = b"\x00\x00" * 1600  # 0.1 s of 16 kHz mono PCM
SENTENCES = (
    "The first sentence of this test is long enough to stand on its own. "
    "The second sentence of this test is just as long as the first one was."
)


class Recognition(riva_asr_pb2_grpc.RivaSpeechRecognitionServicer):  # type: ignore[misc]
    """Answers each stream once, ``DELAY`` after its config, then reads it to its end."""

    def __init__(self) -> None:
        self.calls = 0

    def StreamingRecognize(self, requests: Iterator[Any], context: Any) -> Iterator[Any]:
        self.calls += 1
        next(requests, None)  # the streaming config
        time.sleep(DELAY)
        alternative = riva_asr_pb2.SpeechRecognitionAlternative(transcript="hello riva")
        result = riva_asr_pb2.StreamingRecognitionResult(alternatives=[alternative], is_final=True)
        yield riva_asr_pb2.StreamingRecognizeResponse(results=[result])
        for _ in requests:  # until the client's audio ends
            pass


class Synthesis(riva_tts_pb2_grpc.RivaSpeechSynthesisServicer):  # type: ignore[misc]
    """Answers each text with two chunks of audio, the first ``DELAY`` after it."""

    def __init__(self) -> None:
        self.calls = 0

    def SynthesizeOnline(self, requests: Iterator[Any], context: Any) -> Iterator[Any]:
        self.calls += 1
        for _ in requests:
            time.sleep(DELAY)
            yield riva_tts_pb2.SynthesizeSpeechResponse(audio=AUDIO)
            yield riva_tts_pb2.SynthesizeSpeechResponse(audio=AUDIO)


@dataclass
class Riva:
    """A Riva server on loopback: its port and its two services."""

    port: int
    recognition: Recognition
    synthesis: Synthesis


@pytest.fixture
def riva_server() -> Iterator[Riva]:
    # a synchronous server on its own threads: the event loop stays the plugin's
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=8))
    riva = Riva(0, Recognition(), Synthesis())
    riva_asr_pb2_grpc.add_RivaSpeechRecognitionServicer_to_server(riva.recognition, server)
    riva_tts_pb2_grpc.add_RivaSpeechSynthesisServicer_to_server(riva.synthesis, server)
    riva.port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    yield riva
    server.stop(None)


@pytest.fixture
def refused_port() -> int:
    """A loopback port nothing listens on."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


def make_stt(port: int) -> Any:
    return nvidia.STT(model=MODEL, server=f"127.0.0.1:{port}", use_ssl=False)


def make_tts(port: int) -> Any:
    return nvidia.TTS(server=f"127.0.0.1:{port}", use_ssl=False)


def audio_frame() -> rtc.AudioFrame:
    return rtc.AudioFrame(AUDIO, sample_rate=16000, num_channels=1, samples_per_channel=1600)


async def recognize(model: Any) -> list[Any]:
    """One STT stream: a frame of audio in, its events until the server's answer,
    then its input ended (which ends the plugin's worker and the stream)."""
    stream = model.stream()
    stream.push_frame(audio_frame())
    events: list[Any] = []

    async def read() -> None:
        async for event in stream:
            events.append(event)
            if event.type == stt.SpeechEventType.FINAL_TRANSCRIPT:
                stream.end_input()

    try:
        await asyncio.wait_for(read(), TIMEOUT)
    finally:
        await stream.aclose()
    return events


async def recognize_refused(model: Any) -> None:
    """One STT stream to a refused server: the plugin's worker logs the error and
    ends; the stream runs on until its input ends."""
    stream = model.stream()
    stream.push_frame(audio_frame())
    try:
        await wait_until(lambda: stream._done_fut.done(), "the recognition worker's end")
        stream.end_input()
    finally:
        await stream.aclose()


async def synthesize(model: Any, text: str, **options: Any) -> int:
    """One TTS stream of ``text``; the bytes of audio it produced."""
    stream = model.stream(**options)
    stream.push_text(text)
    stream.end_input()
    audio = 0

    async def read() -> None:
        nonlocal audio
        async for event in stream:
            audio += len(event.frame.data.tobytes())

    try:
        await asyncio.wait_for(read(), TIMEOUT)
    finally:
        await stream.aclose()
    return audio


def by_reuse(reader: InMemoryMetricReader) -> dict[str, Any]:
    return {attrs(point)["connection_reused"]: point for point in points(reader, ACQUIRE)}


@pytest.mark.usefixtures("instrumented")
async def test_stt_stream_is_timed_to_the_first_response(
    riva_server: Riva, reader: InMemoryMetricReader
) -> None:
    model = make_stt(riva_server.port)
    events = await recognize(model)

    assert riva_server.recognition.calls == 1
    finals = [e for e in events if e.type == stt.SpeechEventType.FINAL_TRANSCRIPT]
    assert [e.alternatives[0].text for e in finals] == ["hello riva"], "the response got through"
    (point,) = points(reader, ACQUIRE)
    assert point.count == 1
    assert DELAY <= point.sum < DELAY + 2.0
    assert attrs(point)["model_name"] == MODEL == identify(model).model_name
    assert attrs(point)["model_provider"] == "nvidia" == identify(model).model_provider
    assert attrs(point)["connection_reused"] == "false"
    assert "error.type" not in attrs(point)


@pytest.mark.usefixtures("instrumented")
async def test_each_stt_stream_opens_its_own_channel(
    riva_server: Riva, reader: InMemoryMetricReader
) -> None:
    model = make_stt(riva_server.port)
    await recognize(model)
    await recognize(model)  # a new SpeechStream: a new Auth, so a new channel

    assert riva_server.recognition.calls == 2
    (point,) = points(reader, ACQUIRE)
    assert point.count == 2
    assert attrs(point)["connection_reused"] == "false"


@pytest.mark.usefixtures("instrumented")
async def test_refused_stt_connection_records_an_error(
    refused_port: int, reader: InMemoryMetricReader
) -> None:
    await recognize_refused(make_stt(refused_port))

    (point,) = points(reader, ACQUIRE)
    assert point.count == 1
    assert attrs(point)["error.type"] == "UNAVAILABLE"  # the status of grpc's RpcError
    assert attrs(point)["connection_reused"] == "false"
    assert attrs(point)["model_name"] == MODEL


@pytest.mark.usefixtures("instrumented")
async def test_tts_calls_share_the_tts_channel(
    riva_server: Riva, reader: InMemoryMetricReader
) -> None:
    model = make_tts(riva_server.port)
    first = await synthesize(model, SENTENCES)
    second = await synthesize(model, SENTENCES)  # another stream, the same cached service

    calls = riva_server.synthesis.calls
    assert calls >= 2
    assert first == second and first + second == calls * 2 * len(AUDIO), "every chunk arrived"
    found = by_reuse(reader)
    assert set(found) == {"false", "true"}
    assert found["false"].count == 1, "only the channel's first call connects"
    assert found["true"].count == calls - 1
    for point in found.values():
        assert point.min >= DELAY
        assert attrs(point)["model_name"] == identify(model).model_name
        assert attrs(point)["model_provider"] == "nvidia" == identify(model).model_provider
        assert "error.type" not in attrs(point)


@pytest.mark.usefixtures("instrumented")
async def test_refused_tts_connection_records_an_error(
    refused_port: int, reader: InMemoryMetricReader
) -> None:
    # the plugin logs the failed sentence and goes on; the framework then finds no
    # audio and fails the stream, which max_retry=0 does not run again
    with pytest.raises(APIError, match="no audio frames were pushed"):
        await synthesize(
            make_tts(refused_port), "Hello there.", conn_options=APIConnectOptions(max_retry=0)
        )

    (point,) = points(reader, ACQUIRE)
    assert point.count == 1
    assert attrs(point)["error.type"] == "UNAVAILABLE"
    assert attrs(point)["connection_reused"] == "false"


@pytest.mark.usefixtures("instrumented")
def test_a_users_own_riva_client_is_not_recorded(
    riva_server: Riva, reader: InMemoryMetricReader
) -> None:
    auth = riva_auth.Auth(uri=f"127.0.0.1:{riva_server.port}")
    responses = list(riva_tts.SpeechSynthesisService(auth).synthesize_online("Hello there."))

    assert len(responses) == 2 and riva_server.synthesis.calls == 1
    assert points(reader, ACQUIRE) == []


PATCHED = PatchedMethods(
    (nvidia.stt.SpeechStream, "__init__"),
    (nvidia.tts.TTS, "_ensure_session"),
    (riva_asr.ASRService, "streaming_response_generator"),
    (riva_tts.SpeechSynthesisService, "synthesize_online"),
)


def test_uninstrument_removes_the_patches(meter_provider: MeterProvider) -> None:
    assert_uninstrument_restores(PATCHED, meter_provider)


@pytest.mark.parametrize(
    ("switch", "env"),
    [
        ({"exclude_providers": ["nvidia"]}, {}),
        ({}, {"OTEL_PYTHON_DISABLED_INSTRUMENTATIONS": "livekit_agents_nvidia"}),
        ({}, {"OTEL_PYTHON_LIVEKIT_AGENTS_EXCLUDED_PROVIDERS": "nvidia"}),
    ],
    ids=["keyword", "disabled", "env"],
)
async def test_switched_off_nvidia_is_not_patched_or_recorded(
    riva_server: Riva,
    meter_provider: MeterProvider,
    reader: InMemoryMetricReader,
    monkeypatch: pytest.MonkeyPatch,
    switch: dict[str, Any],
    env: dict[str, str],
) -> None:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    before = PATCHED.current()
    instrumentor = AgentsInstrumentor()
    instrumentor.instrument(meter_provider=meter_provider, **switch)
    try:
        assert PATCHED.unchanged_since(before)
        await recognize(make_stt(riva_server.port))
        await synthesize(make_tts(riva_server.port), "Hello there.")
    finally:
        instrumentor.uninstrument()
    assert riva_server.recognition.calls == 1 and riva_server.synthesis.calls == 1
    assert points(reader, ACQUIRE) == []
