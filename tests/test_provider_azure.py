"""The real Azure Speech STT, through the real native Speech SDK, against loopback.

The plugin takes ``speech_host=``, which the SDK's ``SpeechConfig(host=...)``
turns into its websocket URL (``ws://127.0.0.1:PORT/speech/recognition/...``).
The SDK fires its ``connected`` event on the websocket upgrade alone, so the
loopback ``ProviderServer`` (any path upgrades after a known delay) needs no
Speech protocol: the recognizer connects, then waits for answers that never
come, until the test closes the stream.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader

from opentelemetry.instrumentation.livekit_agents import AgentsInstrumentor
from opentelemetry.instrumentation.livekit_agents.instruments import CONNECTION_ACQUIRE_TIME
from opentelemetry.instrumentation.livekit_agents.model_identity import identify

from .loopback_servers import free_port
from .metric_points import attrs, points
from .patched_methods import PatchedMethods, assert_uninstrument_restores
from .provider_servers import ProviderServer
from .waiting import wait_until

azure = pytest.importorskip(
    "livekit.plugins.azure",
    reason="livekit-plugins-azure is not installed (only tox -e providers installs it)",
)
import azure.cognitiveservices.speech as speechsdk  # noqa: E402  # the plugin brings the SDK
from livekit.agents import APIConnectOptions  # noqa: E402

ACQUIRE = CONNECTION_ACQUIRE_TIME.name
DELAY = 0.300
NO_RETRY = APIConnectOptions(max_retry=0)


@pytest.fixture
async def provider() -> AsyncIterator[ProviderServer]:
    async with ProviderServer(DELAY) as server:
        yield server


@pytest.fixture
def refused_port() -> int:
    """A loopback port nothing listens on."""
    return free_port()


@pytest.fixture
async def silent_port() -> AsyncIterator[int]:
    """A loopback port that accepts TCP and never answers the upgrade."""
    held: list[asyncio.StreamWriter] = []

    async def hold(_reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        held.append(writer)

    server = await asyncio.start_server(hold, "127.0.0.1", 0)
    yield server.sockets[0].getsockname()[1]
    for writer in held:
        writer.close()
    server.close()


def make_stt(host: str) -> Any:
    return azure.STT(speech_host=host)


async def open_stream(model: Any, until: Any, what: str, **options: Any) -> None:
    """One STT stream, left open until ``until()`` holds, then closed."""
    stream = model.stream(**options)
    try:
        await wait_until(until, what)
    finally:
        await stream.aclose()


def acquisitions(reader: InMemoryMetricReader) -> list[Any]:
    return points(reader, ACQUIRE)


@pytest.mark.usefixtures("instrumented")
async def test_stt_connection_is_timed_to_the_upgrade(
    provider: ProviderServer, reader: InMemoryMetricReader
) -> None:
    model = make_stt(provider.url("ws"))
    await open_stream(model, lambda: acquisitions(reader), "the acquisition")

    assert provider.handshakes == 1
    (point,) = acquisitions(reader)
    assert point.count == 1
    assert DELAY <= point.sum < DELAY + 5.0
    assert attrs(point)["model_name"] == identify(model).model_name == "unknown"
    assert attrs(point)["model_provider"] == identify(model).model_provider == "Azure STT"
    assert attrs(point)["connection_reused"] == "false"
    assert "error.type" not in attrs(point)


@pytest.mark.usefixtures("instrumented")
async def test_each_stream_opens_its_own_connection(
    provider: ProviderServer, reader: InMemoryMetricReader
) -> None:
    model = make_stt(provider.url("ws"))
    for count in (1, 2):
        await open_stream(
            model,
            lambda: acquisitions(reader) and acquisitions(reader)[0].count == count,  # noqa: B023
            f"acquisition {count}",
        )

    assert provider.handshakes == 2
    (point,) = acquisitions(reader)
    assert point.min >= DELAY
    assert attrs(point)["connection_reused"] == "false"


@pytest.mark.usefixtures("instrumented")
async def test_refused_connection_records_the_sdk_error_code(
    refused_port: int, reader: InMemoryMetricReader
) -> None:
    model = make_stt(f"ws://127.0.0.1:{refused_port}")
    await open_stream(
        model, lambda: acquisitions(reader), "the failed acquisition", conn_options=NO_RETRY
    )

    (point,) = acquisitions(reader)
    assert point.count == 1
    assert attrs(point)["error.type"] == "ConnectionFailure"
    assert attrs(point)["connection_reused"] == "false"
    assert attrs(point)["model_provider"] == "Azure STT"


@pytest.mark.usefixtures("instrumented")
async def test_refused_upgrade_records_the_sdk_error_code(
    provider: ProviderServer, reader: InMemoryMetricReader
) -> None:
    provider.refuse = 503
    model = make_stt(provider.url("ws"))
    await open_stream(
        model, lambda: acquisitions(reader), "the failed acquisition", conn_options=NO_RETRY
    )

    (point,) = acquisitions(reader)
    assert point.count == 1
    assert attrs(point)["error.type"] == "ServiceUnavailable"  # the SDK's code for a 503
    assert provider.handshakes == 0


@pytest.mark.usefixtures("instrumented")
async def test_an_unanswered_upgrade_times_out_at_the_streams_timeout(
    silent_port: int, reader: InMemoryMetricReader
) -> None:
    model = make_stt(f"ws://127.0.0.1:{silent_port}")
    options = APIConnectOptions(max_retry=0, timeout=0.5)
    await open_stream(model, lambda: acquisitions(reader), "the timeout", conn_options=options)

    (point,) = acquisitions(reader)
    assert attrs(point)["error.type"] == "TimeoutError"
    assert 0.5 <= point.sum < 5.0


@pytest.mark.usefixtures("instrumented")
async def test_a_stream_closed_before_the_upgrade_records_a_cancelled_acquisition(
    provider: ProviderServer, reader: InMemoryMetricReader
) -> None:
    provider.delay = 5.0
    model = make_stt(provider.url("ws"))
    stream = model.stream()
    await asyncio.sleep(0.3)  # the recognizer is started and waits for the upgrade
    await stream.aclose()
    await wait_until(lambda: acquisitions(reader), "the cancelled acquisition")

    (point,) = acquisitions(reader)
    assert attrs(point)["error.type"] == "CancelledError"
    assert provider.handshakes == 0


@pytest.mark.usefixtures("instrumented")
async def test_a_users_own_recognizer_is_not_recorded(
    provider: ProviderServer, reader: InMemoryMetricReader
) -> None:
    stream = speechsdk.audio.PushAudioInputStream()
    recognizer = speechsdk.SpeechRecognizer(
        speech_config=speechsdk.SpeechConfig(host=provider.url("ws")),
        audio_config=speechsdk.audio.AudioConfig(stream=stream),
    )
    recognizer.start_continuous_recognition()
    try:
        await wait_until(lambda: provider.handshakes == 1, "the user's own connection")
    finally:
        await asyncio.to_thread(recognizer.stop_continuous_recognition)
    assert acquisitions(reader) == []


PATCHED = PatchedMethods(
    (azure.stt.SpeechStream, "_run"),
    (speechsdk.SpeechRecognizer, "start_continuous_recognition"),
)


def test_uninstrument_removes_the_patches(meter_provider: MeterProvider) -> None:
    assert_uninstrument_restores(PATCHED, meter_provider)


@pytest.fixture
def env(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for name, value in request.param.items():
        monkeypatch.setenv(name, value)
    yield


@pytest.mark.parametrize(
    ("switch", "env"),
    [
        ({"exclude_providers": ["azure"]}, {}),
        ({}, {"OTEL_PYTHON_DISABLED_INSTRUMENTATIONS": "livekit_agents_azure"}),
        ({}, {"OTEL_PYTHON_LIVEKIT_AGENTS_EXCLUDED_PROVIDERS": "azure"}),
    ],
    ids=["keyword", "disabled", "env"],
    indirect=["env"],
)
@pytest.mark.usefixtures("env")
async def test_switched_off_azure_is_not_patched_or_recorded(
    provider: ProviderServer,
    meter_provider: MeterProvider,
    reader: InMemoryMetricReader,
    switch: dict[str, Any],
) -> None:
    before = PATCHED.current()
    instrumentor = AgentsInstrumentor()
    instrumentor.instrument(meter_provider=meter_provider, **switch)
    try:
        assert PATCHED.unchanged_since(before)
        await open_stream(
            make_stt(provider.url("ws")), lambda: provider.handshakes == 1, "the upgrade"
        )
    finally:
        instrumentor.uninstrument()
    assert acquisitions(reader) == []
