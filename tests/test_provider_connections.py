"""Each real plugin's streaming connection, against a loopback provider: one table.

Every row builds the real plugin component pointed at ``ProviderServer``, opens
what its users open (an STT or TTS stream), and checks the one point of the
handshake: its delay, the component's own model and provider (what the
framework's metadata reports), ``connection_reused``, and ``error.type`` when
the server refuses.  Rows whose plugin is not installed skip with the reason.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import aiohttp
import pytest
from livekit import rtc
from livekit.agents import llm
from livekit.agents.utils import http_context
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader

from opentelemetry.instrumentation.livekit_agents import AgentsInstrumentor
from opentelemetry.instrumentation.livekit_agents.model_identity import identify

from .metric_points import attrs, wait_for_points
from .provider_servers import ProviderServer, plugin_class, plugin_module

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
    tls: bool = False
    """The plugin connects with ``wss://`` only: the server listens with TLS too, and
    the row's options bring an ``http_session`` that trusts it."""

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
    Site(
        45,
        "livekit.plugins.meta",
        "STT",
        lambda s: {
            "api_key": "k",
            "url": s.url("wss", "/v1/asr/realtime"),  # the plugin accepts wss:// only
            "http_session": s.tls_session(),
        },
        tls=True,
    ),
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
    46: "microsoft-ai STT requires a VAD instance besides its URL",
    67: "sarvam STT derives its streaming URL from the model again when a stream opens",
    72: "slng TTS made no handshake with the fake within the table's wait (not investigated)",
}
"""Installed sites this table cannot drive, and why (docs/providers.md lists them)."""


POINTABLE_FROM: dict[int, tuple[tuple[int, int], str]] = {
    7: (
        (1, 5),
        "assemblyai STT {version} has no base_url (from 1.5): it connects to a fixed "
        "wss://streaming.assemblyai.com/v3/ws",
    ),
    15: ((1, 7), "baseten {version} has no qwen3-asr STT (its websocket STT is from 1.7)"),
    16: ((1, 5), "baseten TTS {version} has no stream, only a ChunkedStream (from 1.5)"),
    17: ((1, 7), "baseten {version} has no qwen3-tts TTS (from 1.7)"),
    26: ((1, 4), "elevenlabs STT {version} does not stream (its realtime STT is from 1.4)"),
}
"""Sites whose plugin exists on an older release that cannot drive them (no such
option or stream yet, or no way to point them at loopback): the first release that
can, and why the older one cannot."""


def release(module: Any) -> tuple[int, int]:
    major, minor = str(getattr(module, "__version__", "0.0")).split(".")[:2]
    return int(major), int(minor)


def site_class(site: Site) -> Any:
    """The site's plugin class, or a skip naming why this release cannot drive it."""
    module = plugin_module(site.module)
    if site.row in POINTABLE_FROM:
        first, why = POINTABLE_FROM[site.row]
        if release(module) < first:
            pytest.skip(why.format(version=module.__version__))
    return plugin_class(module, site.cls)


def construct(cls: Any, options: dict[str, Any]) -> Any:
    """``cls(**options)``, or a skip where a 1.x plugin cannot be built on a 2.x framework
    (the pre-release's component contract changed under it)."""
    try:
        return cls(**options)
    except TypeError as error:
        framework = importlib.import_module("livekit.agents")
        if release(framework) < (2, 0):
            raise
        pytest.skip(
            f"{cls.__module__}.{cls.__name__} of a 1.x plugin does not build on "
            f"livekit-agents {framework.__version__}: {error}"
        )


def build(site: Site, server: ProviderServer, session: aiohttp.ClientSession) -> Any:
    options = {"http_session": session, **site.options(server)}
    component = construct(site_class(site), options)
    if site.after is not None:
        site.after(component, server)
    return component


async def serve_for(site: Site, server: ProviderServer) -> None:
    """Listens with TLS too where the site needs it, once its plugin is known to be here
    (the certificate is made with cryptography, which not every env installs)."""
    if site.tls:
        site_class(site)
        await server.serve_tls()


@pytest.fixture
async def server() -> AsyncIterator[ProviderServer]:
    async with ProviderServer(DELAY) as provider:
        yield provider


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
    await serve_for(site, server)
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
    await serve_for(site, server)
    component = build(site, server, session)
    point = await first_point(component, reader)

    assert server.handshakes == 0
    assert "error.type" in attrs(point)
    assert attrs(point)["model_provider"] == expected_model(component)["model_provider"]


# Sites that something other than a plain stream opens: after a POST for the websocket
# URL (gladia, ultravox), a one-shot ``recognize()`` over a websocket, a realtime session,
# an LLM's chat stream.  The Realtime sessions of openai (row 57) and LiveKit Inference
# (row 3) are driven in test_provider_openai.py and test_connection_attribution.py.

Opener = Callable[[Any], Any]
"""Opens on the component what its users open; returns what the test ``aclose()``s."""


def open_stream(component: Any) -> Any:
    return component.stream()


class Running:
    """A one-shot call in a task of its own, closed by cancelling it."""

    def __init__(self, call: Awaitable[Any]) -> None:
        self.task = asyncio.ensure_future(call)

    async def aclose(self) -> None:
        self.task.cancel()
        # the call's own outcome (cancelled, or failed on a refused handshake) is not
        # what the table checks
        with contextlib.suppress(BaseException):
            await self.task


def open_tts_stream(tts: Any) -> Any:
    stream = tts.stream()
    stream.push_text("hello there. ")  # a TTS stream connects for its first text
    stream.flush()
    return stream


def open_audio_stream(stt: Any) -> Any:
    stream = stt.stream()
    stream.push_frame(rtc.AudioFrame(bytes(3200), 16000, 1, 1600))  # connects on audio
    return stream


def open_synthesize(tts: Any) -> Any:
    return tts.synthesize("hello there.")  # a ChunkedStream runs once it is made


def open_recognize(component: Any) -> Any:
    frame = rtc.AudioFrame(bytes(3200), 16000, 1, 1600)  # 100 ms of silence
    return Running(component.recognize([frame]))


def open_session(model: Any) -> Any:
    return model.session()


def open_chat(model: Any) -> Any:
    chat_ctx = llm.ChatContext()
    chat_ctx.add_message(role="user", content="hello there")
    return model.chat(chat_ctx=chat_ctx)


@dataclass(frozen=True)
class Opened:
    """A survey row whose connection opens when ``opens`` runs on the component."""

    site: Site
    opens: Opener
    posts_first: bool = False
    """The plugin first POSTs for its websocket URL; only the handshake is the acquisition."""
    job_http: bool = False
    """The component takes the job's HTTP session (``http_context``), not ``http_session=``."""

    @property
    def id(self) -> str:
        return f"{self.site.id}-{self.opens.__name__.removeprefix('open_')}"


def inference_keys(s: ProviderServer) -> dict[str, Any]:
    return {"api_key": "test-key", "api_secret": "test-secret" * 3, "base_url": s.url("http")}


OPENED = [
    Opened(Site(30, "livekit.plugins.gladia", "STT", http), open_stream, posts_first=True),
    Opened(Site(31, "livekit.plugins.gladia", "STT", http), open_recognize, posts_first=True),
    Opened(
        Site(82, "livekit.plugins.ultravox.realtime", "RealtimeModel", http),
        open_session,
        posts_first=True,
    ),
    Opened(Site(87, "livekit.plugins.xai.realtime", "RealtimeModel", http), open_session),
    Opened(Site(58, "livekit.plugins.openai.realtime", "GPTLiveModel", http), open_session),
    Opened(
        Site(
            4,
            "livekit.agents.inference.realtime",
            "DuplexModel",
            lambda s: {**inference_keys(s), "model": "openai/gpt-live-1"},
        ),
        open_session,
    ),
    Opened(
        Site(
            56, "livekit.plugins.openai.responses", "LLM", lambda s: {**http(s), "model": "gpt-4.1"}
        ),
        open_chat,
        job_http=True,
    ),
    # streams the first table does not reach: another class of a plugin it drives, a
    # websockets client (gnani), a model chosen by name, a connection on the first audio
    Opened(Site(23, "livekit.plugins.deepgram", "STTv2", ws), open_stream),
    Opened(Site(25, "livekit.plugins.deepgram", "TTSv2", ws), open_tts_stream),
    Opened(Site(26, "livekit.plugins.elevenlabs", "STT", http), open_stream),
    Opened(Site(32, "livekit.plugins.gnani", "STT", http), open_stream, job_http=True),
    Opened(Site(33, "livekit.plugins.gnani", "TTS", http), open_tts_stream, job_http=True),
    Opened(
        Site(
            34,
            "livekit.plugins.gnani",
            "TTS",
            lambda s: {**http(s), "synthesize_method": "websocket"},
        ),
        open_synthesize,
        job_http=True,
    ),
    Opened(
        Site(
            15,
            "livekit.plugins.baseten",
            "STT",
            lambda s: {"api_key": "k", "model": "qwen3-asr", "model_endpoint": s.url("ws")},
        ),
        open_stream,
    ),
    Opened(
        Site(
            16,
            "livekit.plugins.baseten",
            "TTS",
            lambda s: {"api_key": "k", "model_endpoint": s.url("ws")},
        ),
        open_tts_stream,
    ),
    Opened(Site(68, "livekit.plugins.sarvam", "STTRealtime", ws), open_stream),
    Opened(
        Site(
            71,
            "livekit.plugins.slng",
            "STT",
            lambda s: {
                "api_key": "k",
                "model": "deepgram/nova:3",
                "slng_base_url": f"127.0.0.1:{s.port}",  # plain ws on loopback
            },
        ),
        open_audio_stream,
    ),
    # shared TTS connections opened in a task of their own (asyncio.wait_for's on 3.11,
    # the plugin's connect task): attributed through the task that awaits it
    Opened(
        Site(
            17,
            "livekit.plugins.baseten",
            "TTS",
            lambda s: {
                "api_key": "k",
                "model": "qwen3-tts",
                "voice": "test-voice",
                "model_endpoint": s.url("ws"),
            },
        ),
        open_tts_stream,
    ),
    Opened(
        Site(42, "livekit.plugins.inworld", "TTS", lambda s: {**http(s), "ws_url": s.url("ws")}),
        open_tts_stream,
    ),
    Opened(
        Site(
            76,
            "livekit.plugins.soniox",
            "TTS",
            lambda s: {"api_key": "test-key", "websocket_url": s.url("ws")},
        ),
        open_tts_stream,
    ),
]


@pytest.fixture
async def job_http() -> AsyncIterator[None]:
    http_context._new_session_ctx()
    yield
    await http_context._close_http_ctx()


def build_opened(row: Opened, server: ProviderServer, session: aiohttp.ClientSession) -> Any:
    if not row.job_http:
        return build(row.site, server, session)
    return construct(site_class(row.site), row.site.options(server))


async def first_opened_point(row: Opened, component: Any, reader: InMemoryMetricReader) -> Any:
    opened = row.opens(component)
    try:
        found = await wait_for_points(reader, ACQUIRE, timeout=8.0)
    finally:
        await opened.aclose()
        await component.aclose()
    assert found, "no connection point"
    return found[0]


@pytest.mark.usefixtures("job_http", "instrumented_here")
@pytest.mark.parametrize("row", [pytest.param(r, id=r.id) for r in OPENED])
async def test_opened_handshake_is_one_point(
    row: Opened,
    server: ProviderServer,
    session: aiohttp.ClientSession,
    reader: InMemoryMetricReader,
) -> None:
    # a POST inside the timed interval would take the point past the upper bound
    server.post_delay = SLACK
    component = build_opened(row, server, session)
    point = await first_opened_point(row, component, reader)

    assert server.handshakes >= 1
    assert (server.posts >= 1) if row.posts_first else (server.posts == 0)
    assert point.count == 1
    assert DELAY <= point.sum < DELAY + SLACK
    assert attrs(point) == {**expected_model(component), "connection_reused": "false"}


@pytest.mark.usefixtures("job_http", "instrumented_here")
@pytest.mark.parametrize("row", [pytest.param(r, id=r.id) for r in OPENED])
async def test_opened_refused_handshake_has_error_type(
    row: Opened,
    server: ProviderServer,
    session: aiohttp.ClientSession,
    reader: InMemoryMetricReader,
) -> None:
    server.refuse = 403  # the handshake only: a POST still answers
    component = build_opened(row, server, session)
    point = await first_opened_point(row, component, reader)

    assert server.handshakes == 0
    assert (server.posts >= 1) if row.posts_first else (server.posts == 0)
    assert "error.type" in attrs(point)
    assert attrs(point)["model_name"] == expected_model(component)["model_name"]
    assert attrs(point)["model_provider"] == expected_model(component)["model_provider"]
