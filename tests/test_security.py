"""No secret, URL, transcript or identity in any attribute; values bounded."""

from __future__ import annotations

import asyncio

import pytest
from opentelemetry.sdk.metrics.export import InMemoryMetricReader

from opentelemetry.instrumentation.livekit_agents.demo import simulation as sim
from opentelemetry.instrumentation.livekit_agents.instruments import (
    CONNECTION_ACQUIRE_TIME,
    TURN_E2E_LATENCY,
)
from opentelemetry.instrumentation.livekit_agents.model_identity import MAX_VALUE_LENGTH

from .loopback_servers import WebsocketServer
from .metric_points import ALLOWED_KEYS, collect
from .pool_components import WebsocketTTS
from .simulated_session import started

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
        await asyncio.sleep(0.2)
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
