"""Bounded memory and cardinality: many sessions leave nothing behind."""

from __future__ import annotations

import asyncio
import gc
import logging
from typing import Any

import pytest
from livekit.agents import Agent, AgentSession
from opentelemetry.sdk.metrics.export import InMemoryMetricReader

from opentelemetry.instrumentation.livekit_agents import AgentsInstrumentor
from opentelemetry.instrumentation.livekit_agents.demo import simulation as sim
from opentelemetry.instrumentation.livekit_agents.demo._release import session_options
from opentelemetry.instrumentation.livekit_agents.demo._speech_detection import SimulatedVAD
from opentelemetry.instrumentation.livekit_agents.instrumentors.connections.acquisition import (
    Acquisition,
)
from opentelemetry.instrumentation.livekit_agents.instrumentors.turn_latency import (
    TurnLatency,
    TurnTracker,
)
from opentelemetry.instrumentation.livekit_agents.instruments import LLM_INPUT_TOKENS

from .metric_points import collect
from .metrics_events import llm_metrics

SESSIONS = 1000
BATCH = 100  # closing a session waits ~2 s on 1.4+: close them in parallel


def live(kind: type) -> int:
    gc.collect()
    return sum(1 for o in gc.get_objects() if isinstance(o, kind))


def series(reader: InMemoryMetricReader) -> int:
    return sum(len(m.data.data_points) for m in collect(reader).values())  # type: ignore[misc]


async def one_session(index: int) -> None:
    chat = sim.SimulatedLLM("llmco", "llm-a")
    session: AgentSession[Any] = AgentSession(
        stt=sim.SimulatedSTT("sttco", "stt-a"),
        llm=chat,
        tts=sim.SimulatedTTS("ttsco", "tts-a"),
        vad=SimulatedVAD(),
        **session_options(),
    )
    await session.start(Agent(instructions=f"Session {index}."))
    chat.emit("metrics_collected", llm_metrics(prompt=10, completion=2))
    await session.aclose()


async def test_a_thousand_sessions_leave_no_state_and_no_new_series(
    instrumented: AgentsInstrumentor, reader: InMemoryMetricReader, caplog: pytest.LogCaptureFixture
) -> None:
    # captured log records of the framework's shutdown warnings would keep sessions alive
    caplog.set_level(logging.ERROR, logger="livekit.agents")
    trackers, acquisitions = live(TurnTracker), live(Acquisition)
    await asyncio.gather(*(one_session(i) for i in range(BATCH)))
    first_series = series(reader)

    for start in range(BATCH, SESSIONS, BATCH):
        await asyncio.gather(*(one_session(i) for i in range(start, start + BATCH)))

    assert live(AgentSession) == 0, "every session was collected"
    assert live(TurnTracker) == trackers
    assert live(Acquisition) == acquisitions
    assert len(instrumented.aspect(TurnLatency).trackers) == 0
    assert series(reader) == first_series > 0
    (tokens,) = collect(reader)[LLM_INPUT_TOKENS.name].data.data_points  # type: ignore[misc]
    assert tokens.value == 10 * SESSIONS
