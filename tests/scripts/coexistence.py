"""Run a simulated session with the framework's own metrics on (1.5.2+) and print totals.

``python coexistence.py shared``: this package records into the global
MeterProvider, which the framework's own metrics use too.
``python coexistence.py separate``: this package gets a MeterProvider of its own.
``python coexistence.py late``: this package gets a MeterProvider of its own, which
then becomes the global one (``set_meter_provider`` after ``instrument()``).

Prints one JSON object: for each reader and instrumentation scope, the total
of every metric, and the ground truth the session itself reported.
"""

from __future__ import annotations

import asyncio
import json
import sys
from typing import Any

from livekit.agents import Agent, AgentSession
from livekit.agents.telemetry import otel_metrics
from opentelemetry.metrics import set_meter_provider
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader

from opentelemetry.instrumentation.livekit_agents import AgentsInstrumentor
from opentelemetry.instrumentation.livekit_agents.demo import simulation as sim
from opentelemetry.instrumentation.livekit_agents.instruments import (
    LLM_INPUT_TOKENS,
    TTS_CHARACTERS,
)


def totals(reader: InMemoryMetricReader) -> dict[str, dict[str, float]]:
    by_scope: dict[str, dict[str, float]] = {}
    data = reader.get_metrics_data()
    for resource in data.resource_metrics if data else []:
        for scope in resource.scope_metrics:
            found = by_scope.setdefault(scope.scope.name, {})
            for metric in scope.metrics:
                found[metric.name] = sum(
                    getattr(p, "sum", None) or getattr(p, "value", 0)
                    for p in metric.data.data_points
                )
    return by_scope


async def converse() -> dict[str, float]:
    session = sim.simulated_session(
        stt=sim.SimulatedSTT("sttco", "stt-a"),
        llm=sim.SimulatedLLM("llmco", "llm-a"),
        tts=sim.SimulatedTTS("ttsco", "tts-a"),
        vad_silence=0.15,
    )
    seen: list[Any] = []
    metrics_events: Any = session
    super(AgentSession, metrics_events).on("metrics_collected", lambda ev: seen.append(ev.metrics))
    await session.start(Agent(instructions="A scripted agent."))
    reply = sim.AgentReply("Fine, thanks.", prompt_tokens=40, completion_tokens=3)
    await sim.run_conversation(session, [sim.UserTurn("Hi.", reply=reply)] * 2)
    await asyncio.sleep(0.2)
    # what the job process does when a job ends
    otel_metrics.flush_turn_metrics(session.history)
    await session.aclose()
    llm_events = [m for m in seen if type(m).__name__ == "LLMMetrics"]
    return {
        LLM_INPUT_TOKENS.name: sum(m.prompt_tokens for m in llm_events),
        TTS_CHARACTERS.name: sum(
            m.characters_count for m in seen if type(m).__name__ == "TTSMetrics"
        ),
        "e2e_points": 2,
    }


def main(mode: str) -> None:
    global_reader = InMemoryMetricReader()
    global_provider = MeterProvider(metric_readers=[global_reader])
    own_reader = InMemoryMetricReader()
    if mode == "late":
        AgentsInstrumentor().instrument(meter_provider=global_provider)
        set_meter_provider(global_provider)
    else:
        set_meter_provider(global_provider)
        own = MeterProvider(metric_readers=[own_reader]) if mode == "separate" else None
        AgentsInstrumentor().instrument(meter_provider=own)
    truth = asyncio.run(converse())
    during = {"global": totals(global_reader), "own": totals(own_reader)}
    AgentsInstrumentor().uninstrument()
    restored = all(
        not hasattr(getattr(otel_metrics, name), "__wrapped__")
        for name in ("collect_usage", "flush_turn_metrics")
    )
    print(json.dumps({"truth": truth, "during": during, "restored": restored}))


if __name__ == "__main__":
    main(sys.argv[1])
