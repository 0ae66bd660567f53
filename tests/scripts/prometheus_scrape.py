"""Run an instrumented session beside the SDK's Prometheus reader and print a scrape.

``python prometheus_scrape.py``: a MeterProvider with a ``PrometheusMetricReader``
(and nothing else), ``prometheus_client``'s HTTP server on a free loopback port,
one scripted session closed outside a job (so the close flushes), then one scrape
of ``/metrics`` over HTTP, printed as it came. A process of its own: the reader
registers with prometheus_client's global registry.
"""

from __future__ import annotations

import asyncio
import socket
import sys
import urllib.request

from livekit.agents import Agent
from opentelemetry.exporter.prometheus import PrometheusMetricReader
from opentelemetry.sdk.metrics import MeterProvider
from prometheus_client import start_http_server

from opentelemetry.instrumentation.livekit_agents import AgentsInstrumentor
from opentelemetry.instrumentation.livekit_agents.demo import simulation as sim


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def session_ends() -> None:
    session = sim.simulated_session(
        stt=sim.SimulatedSTT("sttco", "stt-a"),
        llm=sim.SimulatedLLM("llmco", "llm-a"),
        tts=sim.SimulatedTTS("ttsco", "tts-a"),
        vad_silence=0.15,
    )
    await session.start(Agent(instructions="A scripted agent."))
    reply = sim.AgentReply("Fine.", prompt_tokens=10, completion_tokens=2)
    await sim.run_conversation(session, [sim.UserTurn("Hi.", reply=reply)])
    await session.aclose()


def main() -> None:
    provider = MeterProvider(metric_readers=[PrometheusMetricReader()])
    port = free_port()
    start_http_server(port, addr="127.0.0.1")
    AgentsInstrumentor().instrument(meter_provider=provider)
    asyncio.run(session_ends())
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=30) as response:
        sys.stdout.write(response.read().decode())


if __name__ == "__main__":
    main()
