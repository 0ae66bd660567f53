"""The demo runs a real AgentSession to its summary on every release, and exports.

Also the helpers that run the demo as a user does and read back what it printed
(the Prometheus end-to-end test uses them too).
"""

from __future__ import annotations

import math
import os
import re
import subprocess
import sys
from collections.abc import Iterator, Sequence
from concurrent import futures
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from opentelemetry.instrumentation.livekit_agents.demo import cli as demo

DEMO_MODULE = "opentelemetry.instrumentation.livekit_agents.demo"

_LATENCY_ROW = re.compile(
    r"^\s+(?P<provider>\S+)\s+(?P<model>\S+)\s+(?P<replies>\d+)\s+"
    r"(?P<mean>[\d.]+)\s+(?P<p50>[\d.]+)\s+(?P<p95>[\d.]+)$"
)
_USAGE_ROW = re.compile(
    r"^\s+(?P<provider>\S+)\s+(?P<model>\S+)\s+(?P<metric>[a-z_]+)\s+(?P<total>[\d.]+)\s+"
    r"(?P<unit>tokens|chars|requests|s)$"
)
_CONNECTION_ROW = re.compile(
    r"^\s+(?P<provider>\S+)\s+(?P<model>\S+)\s+(?P<reused>true|false)\s+"
    r"(?P<count>\d+)\s+(?P<mean_ms>[\d.]+)$"
)
_TURN_ROW = re.compile(
    r"^\s+(?P<turn>\d+)\s+(?P<agent>\S+)\s+(?P<llm>\S+)(?P<cells>(\s+[\d.-]+){5})$"
)


@dataclass
class Latency:
    provider: str
    replies: int
    mean: float
    p50: float
    p95: float


@dataclass
class Printed:
    """The demo's summary, parsed from its standard output."""

    text: str
    turns: list[dict[str, str | float | None]] = field(default_factory=list)
    latency: dict[str, Latency] = field(default_factory=dict)
    """LLM model_name -> its row."""
    usage: dict[tuple[str, str], tuple[float, str]] = field(default_factory=dict)
    """(metric, model_name) -> (total, unit as printed)."""
    connections: dict[tuple[str, str], int] = field(default_factory=dict)
    """(model_provider, connection_reused) -> acquisitions."""


_SECTIONS = ("Per-turn latency", "Turn e2e latency", "Usage", "Connections", "Serving")


def parse(text: str) -> Printed:
    printed = Printed(text)
    section = ""
    for line in text.splitlines():
        section = next((s for s in _SECTIONS if line.startswith(s)), section)
        if section == "Per-turn latency" and (m := _TURN_ROW.match(line)):
            cells = m["cells"].split()
            names = ("transcription_delay", "end_of_turn_delay", "llm_ttft", "tts_ttfb", "e2e")
            row: dict[str, str | float | None] = {"agent": m["agent"], "llm": m["llm"]}
            row.update({n: None if c == "-" else float(c) for n, c in zip(names, cells)})
            printed.turns.append(row)
        elif section == "Turn e2e latency" and (m := _LATENCY_ROW.match(line)):
            printed.latency[m["model"]] = Latency(
                m["provider"], int(m["replies"]), float(m["mean"]), float(m["p50"]), float(m["p95"])
            )
        elif section == "Usage" and (m := _USAGE_ROW.match(line)):
            printed.usage[(m["metric"], m["model"])] = (float(m["total"]), m["unit"])
        elif section == "Connections" and (m := _CONNECTION_ROW.match(line)):
            key = (m["provider"], m["reused"])
            printed.connections[key] = printed.connections.get(key, 0) + int(m["count"])
    return printed


def demo_command(*args: str) -> list[str]:
    return [sys.executable, "-m", DEMO_MODULE, *args]


def run_demo(args: Sequence[str], timeout: float = 180.0) -> Printed:
    """Run the demo to its end in a child process, as a user would."""
    done = subprocess.run(
        demo_command(*args),
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
        cwd=Path(__file__).parent,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return parse(done.stdout)


# ------------------------------------------------------------------------------ tests

TURNS = 4


def test_demo_prints_every_turn_and_its_usage() -> None:
    printed = run_demo(["--fast", "--turns", str(TURNS)])

    assert "handoff to billing" in printed.text
    assert [t["llm"] for t in printed.turns] == ["gpt-4o-mini"] * 2 + ["claude-3-5-haiku"] * 2
    for turn in printed.turns:
        assert all(isinstance(turn[name], float) for name in ("e2e", "llm_ttft", "tts_ttfb")), turn
        # a reply cannot start playing before the LLM and the TTS both answered
        assert turn["e2e"] > turn["llm_ttft"] + turn["tts_ttfb"], turn  # type: ignore[operator]
    assert {m: row.replies for m, row in printed.latency.items()} == {
        "gpt-4o-mini": 2,
        "claude-3-5-haiku": 2,
    }

    # usage against the script: what the simulated components were told to report
    script = demo._script(TURNS)
    replies = [reply for _, _, reply in script]
    assert printed.usage[("tts_characters", "sonic-2")] == (sum(map(len, replies)), "chars")
    for persona in (demo.FRONT_DESK, demo.BILLING):
        words = [len(reply.split()) for who, _, reply in script if who is persona]
        expected = sum(round(n * 1.3) for n in words)
        assert printed.usage[("llm_output_tokens", persona.llm.model)] == (expected, "tokens")
    assert printed.usage[("stt_audio_duration", "nova-3")][0] > 0

    # one cold connect at least, every other reply reused the pooled connection
    assert printed.connections[("cartesia", "false")] >= 1
    assert sum(printed.connections.values()) == TURNS


@pytest.mark.parametrize(
    ("bounds", "cumulative", "q", "expected"),
    [
        ((1.0, 2.0), (0, 4, 4), 0.5, 1.5),  # inside the second bucket
        ((1.0, 2.0), (2, 2, 2), 0.5, 0.5),  # the first bucket starts at 0
        ((1.0, 2.0), (0, 1, 4), 0.95, 2.0),  # in +Inf: the highest finite bound
        ((1.0, 2.0), (0, 0, 0), 0.5, math.nan),
    ],
)
def test_histogram_quantile_is_prometheus(
    bounds: tuple[float, ...], cumulative: tuple[int, ...], q: float, expected: float
) -> None:
    got = demo.histogram_quantile(q, bounds, cumulative)
    assert got == pytest.approx(expected, nan_ok=True)


# ----------------------------------------------------------------------------- OTLP


@pytest.fixture
def otlp_receiver() -> Iterator[tuple[int, list[Any]]]:
    """A real OTLP gRPC metrics endpoint on loopback, keeping every request."""
    grpc = pytest.importorskip("grpc")
    pytest.importorskip("opentelemetry.exporter.otlp.proto.grpc")
    from opentelemetry.proto.collector.metrics.v1 import (
        metrics_service_pb2,
        metrics_service_pb2_grpc,
    )

    received: list[Any] = []

    class Receiver(metrics_service_pb2_grpc.MetricsServiceServicer):  # type: ignore[misc]
        def Export(self, request: Any, context: Any) -> Any:
            received.append(request)
            return metrics_service_pb2.ExportMetricsServiceResponse()

    server = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
    metrics_service_pb2_grpc.add_MetricsServiceServicer_to_server(Receiver(), server)
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    yield port, received
    server.stop(grace=None)


def test_demo_exports_over_otlp(otlp_receiver: tuple[int, list[Any]]) -> None:
    port, received = otlp_receiver
    printed = run_demo(["--fast", "--turns", "2", "--otlp-endpoint", f"http://127.0.0.1:{port}"])

    e2e: dict[str, int] = {}
    for request in received:
        for resource_metrics in request.resource_metrics:
            for scope_metrics in resource_metrics.scope_metrics:
                for metric in scope_metrics.metrics:
                    if metric.name != "lk.agents.turn.e2e_latency":
                        continue
                    for point in metric.histogram.data_points:
                        attrs = {a.key: a.value.string_value for a in point.attributes}
                        e2e[attrs["model_name"]] = point.count  # cumulative: the last wins
    assert e2e == {model: row.replies for model, row in printed.latency.items()}
