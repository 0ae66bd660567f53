"""The provider switch applied to acquire-time points."""

from __future__ import annotations

import pytest
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader

from opentelemetry.instrumentation.livekit_agents import AgentsInstrumentor
from opentelemetry.instrumentation.livekit_agents.instruments import CONNECTION_ACQUIRE_TIME
from opentelemetry.instrumentation.livekit_agents.provider_switch import ProviderSwitch

from .loopback_servers import WebsocketServer
from .metric_points import attrs, points
from .pool_components import WebsocketTTS

ACQUIRE = CONNECTION_ACQUIRE_TIME.name
PROVIDERS = ("alpha", "Beta", "gamma")


async def recorded_providers(
    server: WebsocketServer,
    provider: MeterProvider,
    reader: InMemoryMetricReader,
    **switch: list[str],
) -> set[str]:
    instrumentor = AgentsInstrumentor()
    instrumentor.instrument(meter_provider=provider, **switch)
    try:
        for name in PROVIDERS:
            tts = WebsocketTTS(server.url("/delay/1"), provider=name)
            await tts.acquire()
            await tts.aclose()
    finally:
        instrumentor.uninstrument()
    return {attrs(p)["model_provider"] for p in points(reader, ACQUIRE)}


@pytest.mark.parametrize(
    ("switch", "env", "expected"),
    [
        ({}, {}, {"alpha", "Beta", "gamma"}),
        ({"exclude_providers": ["alpha"]}, {}, {"Beta", "gamma"}),
        ({"exclude_providers": ["beta"]}, {}, {"alpha", "gamma"}),
        ({"providers": ["alpha", "gamma"]}, {}, {"alpha", "gamma"}),
        ({}, {"OTEL_PYTHON_LIVEKIT_AGENTS_EXCLUDED_PROVIDERS": "gamma"}, {"alpha", "Beta"}),
        ({}, {"OTEL_PYTHON_LIVEKIT_AGENTS_PROVIDERS": " beta ,"}, {"Beta"}),
        ({}, {"OTEL_PYTHON_DISABLED_INSTRUMENTATIONS": "livekit_agents_alpha"}, {"Beta", "gamma"}),
        # any source switching a provider off wins
        (
            {"providers": ["alpha", "beta"]},
            {"OTEL_PYTHON_LIVEKIT_AGENTS_EXCLUDED_PROVIDERS": "alpha"},
            {"Beta"},
        ),
    ],
)
async def test_switch_turns_off_exactly_the_named_providers(
    ws_server: WebsocketServer,
    meter_provider: MeterProvider,
    reader: InMemoryMetricReader,
    monkeypatch: pytest.MonkeyPatch,
    switch: dict[str, list[str]],
    env: dict[str, str],
    expected: set[str],
) -> None:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    assert await recorded_providers(ws_server, meter_provider, reader, **switch) == expected


def test_switch_parsing() -> None:
    switch = ProviderSwitch.from_settings(
        providers="Deepgram",  # a lone string is one name, not characters
        exclude_providers=None,
        environ={"OTEL_PYTHON_DISABLED_INSTRUMENTATIONS": "redis, livekit_agents_OpenAI"},
    )
    assert switch.allows("deepgram")
    assert not switch.allows("d")
    assert not switch.allows("openai")
    everything = ProviderSwitch.from_settings(environ={})
    assert everything.allows("anything") and everything.allows("unknown")
