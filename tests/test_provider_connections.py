"""Each real plugin's streaming connection, against a loopback provider: one table.

Every row builds the real plugin component pointed at ``ProviderServer``, opens
what its users open (an STT or TTS stream), and checks the one point of the
handshake: its delay, the component's own model and provider (what the
framework's metadata reports), ``connection_reused``, and ``error.type`` when
the server refuses.  Rows whose plugin is not installed skip with the reason.
"""

from __future__ import annotations

import importlib
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

import aiohttp
import pytest
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader

from opentelemetry.instrumentation.livekit_agents import AgentsInstrumentor
from opentelemetry.instrumentation.livekit_agents.model_identity import identify

from .metric_points import attrs, wait_for_points
from .provider_servers import ProviderServer

ACQUIRE = "lk.agents.connection.acquire_time"
DELAY = 0.150
SLACK = 1.0  # a busy 2-core machine; the lower bound is what matters

pytestmark = pytest.mark.usefixtures("quiet_gc")

Options = Callable[[ProviderServer], dict[str, Any]]


@dataclass(frozen=True)
class Site:
    """One survey row: the plugin class and how to point it at the loopback server."""

    row: int
    module: str
    cls: str
    options: Options
    after: Callable[[Any, ProviderServer], None] | None = None
    """Points what the constructor cannot at the server (an option it derives)."""

    @property
    def id(self) -> str:
        return f"{self.row}-{self.module.rsplit('.', 1)[-1]}-{self.cls}"


def http(s: ProviderServer) -> dict[str, Any]:
    return {"api_key": "test-key", "base_url": s.url("http")}


def ws(s: ProviderServer) -> dict[str, Any]:
    return {"api_key": "test-key", "base_url": s.url("ws")}


SITES = [
    Site(7, "livekit.plugins.assemblyai", "STT", lambda s: {**ws(s)}),
    Site(
        14,
        "livekit.plugins.baseten",
        "STT",
        lambda s: {"api_key": "k", "model_endpoint": s.url("ws")},
    ),
    Site(22, "livekit.plugins.deepgram", "STT", lambda s: {**http(s), "model": "nova-3"}),
    Site(28, "livekit.plugins.fireworksai", "STT", ws),
    Site(
        39,
        "livekit.plugins.gradium",
        "STT",
        lambda s: {"api_key": "k", "model_endpoint": s.url("ws")},
    ),
    Site(41, "livekit.plugins.inworld", "STT", http),
    Site(50, "livekit.plugins.nabrah", "STT", ws),
    Site(70, "livekit.plugins.simplismart", "STT", http),
    Site(73, "livekit.plugins.smallestai", "STT", http),
    Site(75, "livekit.plugins.soniox", "STT", ws),
    Site(79, "livekit.plugins.telnyx", "STT", ws),
    # TTS streams: a pool (21, 24, 74), one socket per stream (40, 47, 80)
    Site(21, "livekit.plugins.cartesia", "TTS", http),
    Site(24, "livekit.plugins.deepgram", "TTS", http),
    Site(
        40,
        "livekit.plugins.gradium",
        "TTS",
        lambda s: {"api_key": "k", "model_endpoint": s.url("ws")},
    ),
    Site(47, "livekit.plugins.minimax", "TTS", http),
    Site(74, "livekit.plugins.smallestai", "TTS", lambda s: {**http(s), "ws_url": s.url("ws")}),
    Site(80, "livekit.plugins.telnyx", "TTS", ws),
]

NOT_HERE = {
    45: "meta STT accepts only a wss:// URL: a loopback server would need a trusted certificate",
    46: "microsoft-ai STT requires a VAD instance besides its URL",
    67: "sarvam STT derives its streaming URL from the model again when a stream opens",
    42: "inworld TTS: its shared connection fails against the fake (protocol not spoken yet)",
}
"""Installed sites this table cannot drive, and why (docs/providers.md lists them)."""


POINTABLE_FROM: dict[int, tuple[tuple[int, int], str]] = {
    7: (
        (1, 5),
        "assemblyai STT {version} has no base_url (from 1.5): it connects to a fixed "
        "wss://streaming.assemblyai.com/v3/ws",
    ),
}
"""Sites whose plugin exists on an older release that cannot point them at loopback:
the first release that can, and why the older one cannot."""


def release(module: Any) -> tuple[int, int]:
    major, minor = str(getattr(module, "__version__", "0.0")).split(".")[:2]
    return int(major), int(minor)


def build(site: Site, server: ProviderServer, session: aiohttp.ClientSession) -> Any:
    try:
        module = importlib.import_module(site.module)
    except ImportError as error:
        pytest.skip(f"{site.module} is not installed here: {error}")
    if site.row in POINTABLE_FROM:
        first, why = POINTABLE_FROM[site.row]
        if release(module) < first:
            pytest.skip(why.format(version=module.__version__))
    options = {**site.options(server), "http_session": session}
    component = getattr(module, site.cls)(**options)
    if site.after is not None:
        site.after(component, server)
    return component


@pytest.fixture
async def server() -> AsyncIterator[ProviderServer]:
    provider = ProviderServer(DELAY)
    await provider.start()
    yield provider
    await provider.stop()


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as http_session:
        yield http_session


@pytest.fixture
def instrumented_here(meter_provider: MeterProvider) -> Any:
    instrumentor = AgentsInstrumentor()
    instrumentor.instrument(meter_provider=meter_provider)
    yield instrumentor
    instrumentor.uninstrument()


def expected_model(component: Any) -> dict[str, str]:
    """The component's own ``model`` / ``provider`` (1.2.12+); before those properties
    existed, or where a plugin leaves the base class's ``"unknown"`` (fireworksai STT
    in 1.2.18), what DESIGN.md derives from the plugin's options and package."""
    derived = identify(component).attributes()
    if not hasattr(type(component), "model"):
        return derived
    own = {"model_name": component.model, "model_provider": component.provider}
    return {key: derived[key] if value == "unknown" else value for key, value in own.items()}


async def first_point(component: Any, reader: InMemoryMetricReader) -> Any:
    stream = component.stream()
    if hasattr(stream, "push_text"):  # a TTS stream connects for its first text
        stream.push_text("hello there")
        stream.flush()
    try:
        found = await wait_for_points(reader, ACQUIRE, timeout=8.0)
    finally:
        await stream.aclose()
    assert found, "no connection point"
    return found[0]


@pytest.mark.parametrize("site", [pytest.param(s, id=s.id) for s in SITES])
async def test_handshake_is_one_point(
    site: Site,
    server: ProviderServer,
    session: aiohttp.ClientSession,
    instrumented_here: AgentsInstrumentor,
    reader: InMemoryMetricReader,
) -> None:
    component = build(site, server, session)
    point = await first_point(component, reader)

    assert server.handshakes >= 1
    assert point.count == 1
    assert DELAY <= point.sum < DELAY + SLACK
    assert attrs(point) == {**expected_model(component), "connection_reused": "false"}


@pytest.mark.parametrize("site", [pytest.param(s, id=s.id) for s in SITES])
async def test_refused_handshake_has_error_type(
    site: Site,
    server: ProviderServer,
    session: aiohttp.ClientSession,
    instrumented_here: AgentsInstrumentor,
    reader: InMemoryMetricReader,
) -> None:
    server.refuse = 403
    component = build(site, server, session)
    point = await first_point(component, reader)

    assert server.handshakes == 0
    assert "error.type" in attrs(point)
    assert attrs(point)["model_provider"] == expected_model(component)["model_provider"]
