"""Shared fixtures: a private MeterProvider read in memory, the instrumentor, and
a real websocket server on loopback."""

from __future__ import annotations

import gc
from collections.abc import AsyncIterator, Iterator

import pytest
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader

from opentelemetry.instrumentation.livekit_agents import AgentsInstrumentor

from .loopback_servers import WebsocketServer


@pytest.fixture
def quiet_gc() -> Iterator[None]:
    """A full collection of livekit's large heap pauses the loop ~0.2 s: keep it out of
    timed intervals (``pytestmark = pytest.mark.usefixtures("quiet_gc")``)."""
    gc.collect()
    gc.freeze()
    yield
    gc.unfreeze()


@pytest.fixture
def reader() -> InMemoryMetricReader:
    return InMemoryMetricReader()


@pytest.fixture
def meter_provider(reader: InMemoryMetricReader) -> Iterator[MeterProvider]:
    provider = MeterProvider(metric_readers=[reader])
    yield provider
    provider.shutdown()


@pytest.fixture
def instrumented(meter_provider: MeterProvider) -> Iterator[AgentsInstrumentor]:
    instrumentor = AgentsInstrumentor()
    instrumentor.instrument(meter_provider=meter_provider)
    yield instrumentor
    instrumentor.uninstrument()


@pytest.fixture
async def ws_server() -> AsyncIterator[WebsocketServer]:
    server = WebsocketServer()
    await server.start()
    yield server
    await server.stop()
