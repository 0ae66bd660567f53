"""An exporter that hangs: closing sessions stays quick, and flush threads never pile up.

A real OTLP gRPC exporter points at a loopback TCP server that accepts every
connection and never answers, as an unreachable collector behind a load
balancer does. Sessions are run outside a job, so each ``aclose()`` flushes.
"""

from __future__ import annotations

import asyncio
import socket
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from livekit.agents import Agent
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import PeriodicExportingMetricReader

from opentelemetry.instrumentation.livekit_agents import AgentsInstrumentor
from opentelemetry.instrumentation.livekit_agents.demo import simulation as sim

grpc_exporter = pytest.importorskip(
    "opentelemetry.exporter.otlp.proto.grpc.metric_exporter",
    reason="needs opentelemetry-exporter-otlp-proto-grpc",
)

SESSIONS = 8
THREAD_NAME = "otel-livekit-agents-flush"  # the flush thread, before and after the fix
HOST_BOUND = 4.0  # what a host gives aclose() in asyncio.wait_for


class HangingServer:
    """Accepts TCP connections on 127.0.0.1 and never sends a byte."""

    def __init__(self) -> None:
        self._socket = socket.create_server(("127.0.0.1", 0))
        self.port = self._socket.getsockname()[1]
        self._held: list[socket.socket] = []
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    def _accept(self) -> None:
        while True:
            try:
                connection, _ = self._socket.accept()
            except OSError:  # closed
                return
            self._held.append(connection)

    def close(self) -> None:
        self._socket.close()
        for connection in self._held:
            connection.close()


@pytest.fixture
def hanging_provider() -> Iterator[MeterProvider]:
    server = HangingServer()
    exporter = grpc_exporter.OTLPMetricExporter(
        endpoint=f"127.0.0.1:{server.port}", insecure=True, timeout=10
    )
    reader = PeriodicExportingMetricReader(exporter, export_interval_millis=600_000)
    provider = MeterProvider(metric_readers=[reader], shutdown_on_exit=False)
    instrumentor = AgentsInstrumentor()
    instrumentor.instrument(meter_provider=provider)
    yield provider
    instrumentor.uninstrument()
    server.close()  # the provider is not shut down: its last export would hang too


def flush_threads() -> int:
    return sum(1 for thread in threading.enumerate() if thread.name == THREAD_NAME)


async def run_session() -> Any:
    session = sim.simulated_session(
        stt=sim.SimulatedSTT("sttco", "stt-a"),
        llm=sim.SimulatedLLM("llmco", "llm-a"),
        tts=sim.SimulatedTTS("ttsco", "tts-a"),
        vad_silence=0.15,
    )
    await session.start(Agent(instructions="A scripted agent."))
    reply = sim.AgentReply("Fine.", prompt_tokens=10, completion_tokens=2)
    await sim.run_conversation(session, [sim.UserTurn("Hi.", reply=reply)])
    return session


async def test_closing_sessions_with_a_hanging_exporter(hanging_provider: MeterProvider) -> None:
    most_threads = 0
    for _ in range(SESSIONS):
        session = await run_session()
        # what a host bounding its shutdown does: this must not time out because of us
        await asyncio.wait_for(session.aclose(), HOST_BOUND)
        most_threads = max(most_threads, flush_threads())
    assert most_threads <= 1, "at most one flush in flight, however many sessions closed"
