"""TTS plugins that share one websocket among their streams: a reuse is a point too.

The soniox (row 76) and inworld (row 42) TTSs keep one connection that every
stream uses.  Driven for real against ``ProviderServer``: the first stream
opens it (one point, ``connection_reused="false"``, the handshake's delay), the
next stream finds it open (one point, ``"true"``), a refused handshake gives
``error.type``, and the provider's switch turns both off.  The framework's own
report of each stream's acquisition (soniox reports natively), emitted as the
stream's ``TTSMetrics`` would carry it, adds no point.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import aiohttp
import pytest
from livekit.agents.metrics import TTSMetrics
from livekit.agents.utils import http_context
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader

from opentelemetry.instrumentation.livekit_agents import AgentsInstrumentor

from .metric_points import attrs, points
from .metrics_events import tts_metrics
from .provider_servers import ProviderServer, plugin_class, plugin_module

ACQUIRE = "lk.agents.connection.acquire_time"
DELAY = 0.150
SLACK = 1.0  # a busy 2-core machine; the lower bound is what matters

pytestmark = pytest.mark.usefixtures("quiet_gc", "job_http")


@dataclass(frozen=True)
class SharedSite:
    """A survey row whose TTS shares one websocket among its streams."""

    row: int
    provider: str
    options: Callable[[ProviderServer], dict[str, Any]]

    @property
    def id(self) -> str:
        return f"{self.row}-{self.provider}"


SITES = [
    SharedSite(
        42,
        "inworld",
        lambda s: {"api_key": "test-key", "base_url": s.url("http"), "ws_url": s.url("ws")},
    ),
    SharedSite(76, "soniox", lambda s: {"api_key": "test-key", "websocket_url": s.url("ws")}),
]
PARAMS = [pytest.param(s, id=s.id) for s in SITES]


def build(site: SharedSite, server: ProviderServer, session: aiohttp.ClientSession) -> Any:
    tts = plugin_class(plugin_module(f"livekit.plugins.{site.provider}"), "TTS")
    return tts(**site.options(server), http_session=session)


@pytest.fixture
async def server() -> AsyncIterator[ProviderServer]:
    async with ProviderServer(DELAY) as provider:
        yield provider


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as http_session:
        yield http_session


@pytest.fixture
async def job_http() -> AsyncIterator[None]:
    http_context._new_session_ctx()
    yield
    await http_context._close_http_ctx()


def total(reader: InMemoryMetricReader) -> int:
    return sum(p.count for p in points(reader, ACQUIRE))


async def wait_for_total(reader: InMemoryMetricReader, count: int, timeout: float = 8.0) -> None:
    deadline = time.monotonic() + timeout
    while total(reader) < count and time.monotonic() < deadline:
        await asyncio.sleep(0.01)


def report_natively(tts: Any, stream: Any) -> None:
    """What the framework's metrics task emits when the stream's segment ends: the
    stream's own acquire time (the fake sends no audio, so it never gets there)."""
    metadata: dict[str, Any] = {}
    if "metadata" in TTSMetrics.model_fields:
        from livekit.agents.metrics.base import Metadata

        metadata["metadata"] = Metadata(model_name=tts.model, model_provider=tts.provider)
    tts.emit(
        "metrics_collected",
        tts_metrics(
            11,
            0.5,
            acquire_time=float(getattr(stream, "_acquire_time", 0.0)),
            connection_reused=bool(getattr(stream, "_connection_reused", False)),
            **metadata,
        ),
    )


async def one_stream_after_another(
    tts: Any, reader: InMemoryMetricReader, settled: Callable[[int], Awaitable[None]]
) -> list[Any]:
    """Open two streams in turn, the second once ``settled(1)`` says the first has
    acquired; the connection stays open between them, as between a session's turns."""
    streams = []
    try:
        for expected in (1, 2):
            stream = tts.stream()
            stream.push_text("hello there. ")  # a TTS stream connects for its first text
            stream.flush()
            streams.append(stream)
            await settled(expected)
        for stream in streams:
            report_natively(tts, stream)
        return points(reader, ACQUIRE)
    finally:
        for stream in streams:
            await stream.aclose()
        await tts.aclose()


@pytest.mark.usefixtures("instrumented")
@pytest.mark.parametrize("site", PARAMS)
async def test_first_stream_connects_the_next_reuses(
    site: SharedSite,
    server: ProviderServer,
    session: aiohttp.ClientSession,
    reader: InMemoryMetricReader,
) -> None:
    tts = build(site, server, session)

    async def settled(expected: int) -> None:
        await wait_for_total(reader, expected)

    found = await one_stream_after_another(tts, reader, settled)

    assert server.handshakes == 1
    by_reuse = {attrs(p)["connection_reused"]: p for p in found}
    assert set(by_reuse) == {"false", "true"}
    new, reused = by_reuse["false"], by_reuse["true"]
    assert new.count == 1, "the handshake is one point: the transport patch only marks it"
    assert DELAY <= new.sum < DELAY + SLACK
    assert reused.count == 1
    assert reused.sum < DELAY  # found open: no handshake inside
    model = {"model_name": tts.model, "model_provider": tts.provider}
    assert attrs(new) == {**model, "connection_reused": "false"}
    assert attrs(reused) == {**model, "connection_reused": "true"}


@pytest.mark.usefixtures("instrumented")
@pytest.mark.parametrize("site", PARAMS)
async def test_refused_connect_has_error_type(
    site: SharedSite,
    server: ProviderServer,
    session: aiohttp.ClientSession,
    reader: InMemoryMetricReader,
) -> None:
    server.refuse = 403
    tts = build(site, server, session)
    stream = tts.stream()
    stream.push_text("hello there. ")
    stream.flush()
    try:
        await wait_for_total(reader, 1)
        found = points(reader, ACQUIRE)
    finally:
        await stream.aclose()
        await tts.aclose()

    assert server.handshakes == 0
    assert found, "no connection point"
    for point in found:  # the framework may retry the stream: each try a failed one
        assert attrs(point)["error.type"] == "WSServerHandshakeError"
        assert attrs(point)["connection_reused"] == "false"
        assert attrs(point)["model_name"] == tts.model
        assert attrs(point)["model_provider"] == tts.provider


@pytest.mark.parametrize("site", PARAMS)
@pytest.mark.parametrize("how", ["keyword", "disabled"])
async def test_the_provider_switch_turns_them_off(
    site: SharedSite,
    how: str,
    server: ProviderServer,
    session: aiohttp.ClientSession,
    meter_provider: MeterProvider,
    reader: InMemoryMetricReader,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    switch: dict[str, Any] = {}
    if how == "keyword":
        switch["exclude_providers"] = [site.provider]
    else:
        monkeypatch.setenv(
            "OTEL_PYTHON_DISABLED_INSTRUMENTATIONS", f"livekit_agents_{site.provider}"
        )

    async def settled(expected: int) -> None:
        # no point to wait for: the handshake, then time for an acquisition to record
        deadline = time.monotonic() + 8.0
        while server.handshakes < 1 and time.monotonic() < deadline:
            await asyncio.sleep(0.01)
        await asyncio.sleep(0.2)

    instrumentor = AgentsInstrumentor()
    instrumentor.instrument(meter_provider=meter_provider, **switch)
    try:
        tts = build(site, server, session)
        await one_stream_after_another(tts, reader, settled)
    finally:
        instrumentor.uninstrument()

    assert server.handshakes == 1
    assert points(reader, ACQUIRE) == []
