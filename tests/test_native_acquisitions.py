"""The acquisitions livekit-agents times itself (1.5.2+) are ours too, never twice.

In the default mode the package suspends the framework's ``collect_usage``,
where its native ``acquire_time`` is recorded: these tests show that turning
the package on loses none of those points, and that an acquisition we time
ourselves is not recorded a second time from the framework's report.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

import aiohttp
import pytest
from livekit.agents.metrics import STTMetrics, TTSMetrics
from livekit.agents.utils import http_context
from opentelemetry.sdk.metrics.export import InMemoryMetricReader

from opentelemetry.instrumentation.livekit_agents import AgentsInstrumentor
from opentelemetry.instrumentation.livekit_agents.demo import simulation as sim

from .loopback_servers import WebsocketServer
from .metric_points import attrs, points, wait_for_points
from .metrics_events import stt_metrics, tts_metrics
from .provider_servers import ProviderServer
from .realtime_components import ScriptedRealtimeModel

if "acquire_time" not in STTMetrics.model_fields:
    pytest.skip(
        "the framework reports acquire times from livekit-agents 1.5.2 only",
        allow_module_level=True,
    )

ACQUIRE = "lk.agents.connection.acquire_time"
DELAY = 0.120


def acquisitions(reader: InMemoryMetricReader) -> dict[tuple[str, str], Any]:
    return {
        (attrs(p)["model_name"], attrs(p)["connection_reused"]): p for p in points(reader, ACQUIRE)
    }


@pytest.mark.usefixtures("instrumented")
def test_native_stt_and_tts_reports_are_recorded(reader: InMemoryMetricReader) -> None:
    stt = sim.SimulatedSTT("Acme", "acme-stt")
    tts = sim.SimulatedTTS("Acme", "acme-tts")
    stt.emit("metrics_collected", stt_metrics(0.0, acquire_time=0.25, connection_reused=False))
    stt.emit("metrics_collected", stt_metrics(1.0))  # acquire_time 0: no acquisition
    tts.emit("metrics_collected", tts_metrics(5, 1.0, acquire_time=0.5, connection_reused=True))

    found = acquisitions(reader)
    assert set(found) == {("acme-stt", "false"), ("acme-tts", "true")}
    assert found["acme-stt", "false"].sum == pytest.approx(0.25)
    assert found["acme-stt", "false"].count == 1
    assert found["acme-tts", "true"].sum == pytest.approx(0.5)
    assert attrs(found["acme-tts", "true"])["model_provider"] == "Acme"


@pytest.mark.usefixtures("instrumented")
def test_a_realtime_sessions_own_report_is_recorded(reader: InMemoryMetricReader) -> None:
    session = ScriptedRealtimeModel("live-1", "Gemini").session()
    session._report_connection_acquired(0.3)  # the framework's own reporting method

    ((name, reused), point), *rest = acquisitions(reader).items()
    assert not rest
    assert (name, reused) == ("live-1", "false")
    assert point.sum == pytest.approx(0.3)
    assert attrs(point)["model_provider"] == "Gemini"


def test_a_switched_off_providers_native_report_is_dropped(
    meter_provider: Any, reader: InMemoryMetricReader
) -> None:
    AgentsInstrumentor().instrument(meter_provider=meter_provider, exclude_providers=["Acme"])
    try:
        stt = sim.SimulatedSTT("Acme", "acme-stt")
        stt.emit("metrics_collected", stt_metrics(0.0, acquire_time=0.25))
    finally:
        AgentsInstrumentor().uninstrument()
    assert points(reader, ACQUIRE) == []


@pytest.mark.usefixtures("instrumented")
async def test_an_acquisition_we_timed_is_not_recorded_again(
    ws_server: WebsocketServer, reader: InMemoryMetricReader
) -> None:
    # the pool patch times the TTS's acquisition; the TTS then reports the same
    # acquisition natively on its metrics event, as the pool-based plugins do
    from .pool_components import WebsocketTTS

    tts = WebsocketTTS(ws_server.url("/delay/60"), model="pooled-tts", provider="Acme")
    ws = await tts.acquire()
    tts.emit("metrics_collected", tts_metrics(5, 1.0, acquire_time=0.061, connection_reused=False))
    tts.pool.put(ws)
    await tts.aclose()

    (point,) = points(reader, ACQUIRE)
    assert point.count == 1
    assert point.sum >= 0.060
    # a second native report has no timing of ours to stand for: it is recorded
    tts.emit("metrics_collected", tts_metrics(5, 1.0, acquire_time=0.07, connection_reused=False))
    (point,) = points(reader, ACQUIRE)
    assert point.count == 2


async def wait_until(condition: Callable[[], bool], failure: str, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, failure
        await asyncio.sleep(0.01)


async def wait_for_native(events: list[Any], timeout: float = 5.0) -> None:
    await wait_until(
        lambda: any(getattr(e, "acquire_time", 0) > 0 for e in events),
        "the plugin reported no acquisition",
        timeout,
    )


async def test_real_deepgram_stt_reports_once(
    ws_server: WebsocketServer, instrumented: AgentsInstrumentor, reader: InMemoryMetricReader
) -> None:
    deepgram = pytest.importorskip("livekit.plugins.deepgram", reason="livekit-plugins-deepgram")
    http = aiohttp.ClientSession()
    stt = deepgram.STT(
        api_key="test-key",
        model="nova-3",
        http_session=http,
        base_url=f"http://127.0.0.1:{ws_server.port}/delay/80",
    )
    events: list[Any] = []
    stt.on("metrics_collected", events.append)
    stream = stt.stream()
    try:
        await wait_for_native(events)
    finally:
        await stream.aclose()
        await http.close()

    (point,) = points(reader, ACQUIRE)
    assert point.count == 1, "timed by the deepgram patch and reported natively: one point"
    assert attrs(point)["model_name"] == "nova-3"


def test_tts_metrics_class_carries_the_fields() -> None:
    # the real class, not a stand-in: the fields this module reads exist there
    assert {"acquire_time", "connection_reused"} <= set(TTSMetrics.model_fields)


# The sites only the framework timed before this package (issue 19: "never worse than
# the framework"), driven for real on loopback: the plugin's own report of the
# acquisition appears, and the acquisition is one point of ours, with the plugin's model.

Opened = tuple[Any, Callable[[], float]]
"""What the row opened (to ``aclose()``), and the acquire time the plugin reported."""


def reported(events: list[Any]) -> float:
    return max((getattr(e, "acquire_time", 0.0) for e in events), default=0.0)


def stt_stream(stt: Any) -> Opened:
    events: list[Any] = []
    stt.on("metrics_collected", events.append)
    return stt.stream(), lambda: reported(events)


def realtime_session(model: Any) -> Opened:
    session = model.session()
    events: list[Any] = []
    session.on("metrics_collected", events.append)  # _report_connection_acquired
    return session, lambda: reported(events)


def tts_stream(tts: Any) -> Opened:
    stream = tts.stream()
    stream.push_text("hello there")
    stream.flush()
    # the plugin's own figure, put on the stream's TTSMetrics when the stream ends
    return stream, lambda: float(stream._acquire_time)


def point_phonic_at(server: ProviderServer, monkeypatch: pytest.MonkeyPatch) -> None:
    # AsyncPhonic is built with no base URL: its default environment is where it connects
    environment = pytest.importorskip("phonic.environment", reason="the phonic SDK")
    monkeypatch.setattr(environment.PhonicEnvironment.DEFAULT, "production", server.url("ws"))


def gemini_live_options(server: ProviderServer) -> dict[str, Any]:
    # with an API key (the plugin requires one) google-genai makes the base URL wss://,
    # with the SSL context of the client's async_client_args: ours trusts the server's
    types = pytest.importorskip("google.genai.types", reason="google-genai")
    http_options = types.HttpOptions(
        base_url=server.url("https"), async_client_args={"ssl": server.client_ssl}
    )
    return {"api_key": "test-key", "http_options": http_options}


def answer_gemini_setup(server: ProviderServer, monkeypatch: pytest.MonkeyPatch) -> None:
    # live.connect sends the session's setup and returns only once the Live API answers
    server.first_reply = json.dumps({"setupComplete": {}})


def answer_meta_handshake(server: ProviderServer, monkeypatch: pytest.MonkeyPatch) -> None:
    # the stream reports its acquisition once the server accepts its handshake message
    server.first_reply = json.dumps({"sessionId": "s1"})


@dataclass(frozen=True)
class NativeSite:
    """A survey row whose 1.8.9 plugin reports its own acquire time."""

    row: int
    module: str
    cls: str
    options: Callable[[ProviderServer], dict[str, Any]]
    opens: Callable[[Any], Opened]
    setup: Callable[[ProviderServer, pytest.MonkeyPatch], None] | None = None
    tls: bool = False
    """The plugin connects with ``wss://`` only: the server listens with TLS too."""
    skip: str | None = None
    """Why the row cannot be driven on loopback here."""

    def param(self) -> Any:
        marks = [pytest.mark.skip(reason=self.skip)] if self.skip else []
        return pytest.param(self, id=f"{self.row}-{self.module.split('.')[2]}", marks=marks)


def keyed(**extra: Any) -> Callable[[ProviderServer], dict[str, Any]]:
    return lambda s: {"api_key": "test-key", "base_url": s.url("http"), **extra}


NATIVE_SITES = [
    NativeSite(73, "livekit.plugins.smallestai", "STT", keyed(), stt_stream),
    NativeSite(
        76,
        "livekit.plugins.soniox",
        "TTS",
        lambda s: {"api_key": "test-key", "websocket_url": s.url("ws")},
        tts_stream,
    ),
    NativeSite(82, "livekit.plugins.ultravox", "RealtimeModel", keyed(), realtime_session),
    NativeSite(
        61,
        "livekit.plugins.phonic",
        "realtime.RealtimeModel",
        lambda s: {"api_key": "test-key"},
        realtime_session,
        setup=point_phonic_at,
    ),
    NativeSite(
        54,
        "livekit.plugins.nvidia",
        "realtime.RealtimeModel",  # PersonaPlex, the plugin's [personaplex] extra
        lambda s: {"base_url": s.url("ws")},
        realtime_session,
    ),
    NativeSite(
        37,
        "livekit.plugins.google",
        "realtime.RealtimeModel",  # Gemini Live, through google-genai's live.connect
        gemini_live_options,
        realtime_session,
        setup=answer_gemini_setup,
        tls=True,
    ),
    NativeSite(
        45,
        "livekit.plugins.meta",
        "STT",
        lambda s: {
            "api_key": "test-key",
            "url": s.url("wss", "/v1/asr/realtime"),  # the plugin accepts wss:// only
            "http_session": s.tls_session(),
        },
        stt_stream,
        setup=answer_meta_handshake,
        tls=True,
    ),
    NativeSite(
        11,
        "livekit.plugins.aws",
        "experimental.realtime.RealtimeModel",
        keyed(),
        realtime_session,
        skip="aws realtime (Nova Sonic) needs aws-sdk-bedrock-runtime, Python 3.12+ only "
        "(this env is 3.11), and builds its endpoint from the region, not a URL",
    ),
]


def build_native(site: NativeSite, server: ProviderServer, monkeypatch: pytest.MonkeyPatch) -> Any:
    module = pytest.importorskip(site.module, reason=f"{site.module} is not installed here")
    if site.setup is not None:
        site.setup(server, monkeypatch)
    cls: Any = module
    for name in site.cls.split("."):
        cls = getattr(cls, name)
    return cls(**site.options(server))


@pytest.fixture
async def provider() -> AsyncIterator[ProviderServer]:
    async with ProviderServer(DELAY) as server:
        yield server


@pytest.fixture
async def job_http() -> AsyncIterator[None]:
    http_context._new_session_ctx()  # the plugins take the job's HTTP session
    yield
    await http_context._close_http_ctx()


@pytest.mark.usefixtures("instrumented", "job_http", "quiet_gc")
@pytest.mark.parametrize("site", [s.param() for s in NATIVE_SITES])
async def test_a_native_only_site_is_recorded_once(
    site: NativeSite,
    provider: ProviderServer,
    reader: InMemoryMetricReader,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    if site.tls:  # once the plugin is known to be here: cryptography makes the certificate
        pytest.importorskip(site.module, reason=f"{site.module} is not installed here")
        await provider.serve_tls()
    component = build_native(site, provider, monkeypatch)
    opened, native = site.opens(component)
    try:
        await wait_until(lambda: native() > 0, "the plugin reported no acquisition")
        found = await wait_for_points(reader, ACQUIRE)
    finally:
        await opened.aclose()
        await component.aclose()

    assert provider.handshakes == 1
    assert native() >= DELAY
    (point,) = found  # the plugin's report and our timing: one point
    assert point.count == 1
    assert point.sum >= DELAY
    assert attrs(point) == {
        "model_name": component.model,
        "model_provider": component.provider,
        "connection_reused": "false",
    }
