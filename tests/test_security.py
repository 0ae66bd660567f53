"""No secret, URL, transcript or identity in any attribute; values bounded."""

from __future__ import annotations

import os
from typing import Any

import pytest
from livekit.agents import Agent
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader

from opentelemetry.instrumentation.livekit_agents import AgentsInstrumentor
from opentelemetry.instrumentation.livekit_agents.demo import simulation as sim
from opentelemetry.instrumentation.livekit_agents.instruments import (
    CONNECTION_ACQUIRE_TIME,
    TURN_E2E_LATENCY,
)
from opentelemetry.instrumentation.livekit_agents.model_identity import MAX_VALUE_LENGTH

from .loopback_servers import WebsocketServer
from .metric_points import ALLOWED_KEYS, attrs, collect, wait_for_points
from .metrics_events import llm_metrics
from .pool_components import WebsocketTTS
from .simulated_session import started
from .waiting import wait_until

pytestmark = pytest.mark.usefixtures("quiet_gc")

SECRET = "sk-live-0123456789abcdef"
TRANSCRIPT = "my card number is 4242 4242"


@pytest.mark.usefixtures("instrumented")
async def test_attributes_carry_no_secrets_urls_or_transcripts(
    ws_server: WebsocketServer, reader: InMemoryMetricReader
) -> None:
    # a component whose provider is a credentialed host, connecting to a URL with a key
    tts = WebsocketTTS(
        ws_server.url(f"/delay/5?api_key={SECRET}"),
        model="m" * 500,
        provider=f"user:{SECRET}@llm.example.com",
    )
    await tts.acquire()
    await tts.aclose()

    s = await started()
    try:
        reply = sim.AgentReply(f"You said: {TRANSCRIPT}")
        await sim.run_conversation(s.session, [sim.UserTurn(TRANSCRIPT, reply=reply)])
        await wait_until(lambda: "lk.agents.turn.e2e_latency" in collect(reader), "the turn")
    finally:
        await s.session.aclose()

    exported = collect(reader)
    assert {CONNECTION_ACQUIRE_TIME.name, TURN_E2E_LATENCY.name} <= set(exported)
    for name, metric in exported.items():
        for point in metric.data.data_points:  # type: ignore[union-attr]
            attributes = dict(point.attributes or {})
            assert set(attributes) <= ALLOWED_KEYS, (name, attributes)
            for value in map(str, attributes.values()):
                assert len(value) <= MAX_VALUE_LENGTH
                assert SECRET not in value and "://" not in value and "?" not in value
                assert "card" not in value and "4242" not in value
                assert "room" not in value and "job" not in value


async def converse_with_llm(llm_provider: str, llm_model: str, wait_for: Any) -> None:
    """One turn of a real session whose LLM declares this provider and model, waited
    for until ``wait_for()`` (an awaitable factory) finds its points."""
    session = sim.simulated_session(
        stt=sim.SimulatedSTT("sttco", "stt-a"),
        llm=sim.SimulatedLLM(llm_provider, llm_model),
        tts=sim.SimulatedTTS("ttsco", "tts-a"),
        vad_silence=0.15,
    )
    await session.start(Agent(instructions="A scripted agent."))
    try:
        reply = sim.AgentReply("Hello.", prompt_tokens=21, completion_tokens=3)
        await sim.run_conversation(session, [sim.UserTurn("Hi.", reply=reply)])
        assert await wait_for()
    finally:
        await session.aclose()


async def test_a_url_model_or_provider_loses_query_fragment_and_user_info(
    instrumented: AgentsInstrumentor, reader: InMemoryMetricReader
) -> None:
    model = "https://me:pw-MODEL@models.example.com/v1/m?token=sk-MODEL#frag-MODEL"
    provider = "https://key:pw-PROVIDER@llm.example.com/v1?api_key=sk-PROVIDER#frag-PROVIDER"
    await converse_with_llm(
        provider, model, lambda: wait_for_points(reader, "gen_ai.client.token.usage")
    )

    exported = collect(reader)
    assert {
        "lk.agents.usage.llm_input_tokens",
        "gen_ai.client.token.usage",
        "gen_ai.client.operation.duration",
    } <= set(exported)
    llm_values = set()
    for name, metric in exported.items():
        for point in metric.data.data_points:  # type: ignore[union-attr]
            attributes = attrs(point)
            for key, value in attributes.items():
                for secret in ("-model", "-provider", "token", "api_key", "pw", "frag", *"?#@"):
                    assert secret not in str(value).lower(), (name, key, value)
            if attributes.get("model_provider") not in ("sttco", "ttsco"):
                llm_values.add((attributes.get("model_name"), attributes.get("model_provider")))
                llm_values.add((attributes.get("gen_ai.request.model"), None))
    llm_values.discard((None, None))
    assert llm_values == {
        ("models.example.com/v1/m", "llm.example.com/v1"),
        ("models.example.com/v1/m", None),
    }


def test_an_undecodable_model_name_leaves_every_scrape_valid() -> None:
    exporter = pytest.importorskip("opentelemetry.exporter.prometheus")
    prometheus_client = pytest.importorskip("prometheus_client")
    prometheus_reader = exporter.PrometheusMetricReader()
    provider = MeterProvider(metric_readers=[prometheus_reader])
    instrumentor = AgentsInstrumentor()
    instrumentor.instrument(meter_provider=provider)
    # what os.environ holds for a model variable with an invalid byte (surrogateescape)
    model = os.fsdecode(b"gpt-4o-\xff")
    assert model == "gpt-4o-\udcff"
    try:
        # the usage event a real LLM of that model emits (a session would not get this
        # far on 1.8: its own tracing cannot serialize the model name either)
        component = sim.SimulatedLLM("llmco", model)
        component.emit("metrics_collected", llm_metrics(21, 3))
        exposition = scrape(prometheus_client)
    finally:
        instrumentor.uninstrument()
        provider.shutdown()
    assert 'model_name="gpt-4o-\ufffd"' in exposition
    assert 'gen_ai_request_model="gpt-4o-\ufffd"' in exposition
    assert "lk_agents_usage_llm_input_tokens_total" in exposition


def scrape(prometheus_client: Any) -> str:
    """One scrape of the process's default registry, as a /metrics endpoint serves it."""
    exposition: bytes = prometheus_client.generate_latest(prometheus_client.REGISTRY)
    return exposition.decode("utf-8")
