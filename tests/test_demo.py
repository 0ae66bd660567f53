"""The demo runs a real AgentSession to its summary on every release, and exports.

Also the helpers that run the demo as a user does and read back what it printed
(the Prometheus end-to-end test uses them too).
"""

from __future__ import annotations

import math
import os
import random
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator, Sequence
from concurrent import futures
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from opentelemetry.instrumentation.livekit_agents.demo import conversation, script
from opentelemetry.instrumentation.livekit_agents.demo.summary import histogram_quantile
from opentelemetry.instrumentation.livekit_agents.instruments import (
    GEN_AI_OPERATION_DURATION,
    GEN_AI_TIME_TO_FIRST_CHUNK,
    GEN_AI_TOKEN_USAGE,
    TURN_E2E_LATENCY,
)
from opentelemetry.instrumentation.livekit_agents.model_identity import identify

from .loopback_servers import free_port

DEMO_MODULE = "opentelemetry.instrumentation.livekit_agents.demo"

_LATENCY_ROW = re.compile(
    r"^\s+(?P<provider>\S+)\s+(?P<model>\S+)\s+(?P<replies>\d+)\s+"
    r"(?P<mean>[\d.]+)\s+(?P<p50>[\d.]+)\s+(?P<p95>[\d.]+)$"
)
_USAGE_ROW = re.compile(
    r"^\s+(?P<provider>\S+)\s+(?P<model>\S+)\s+(?P<metric>[a-z_]+)\s+(?P<total>[\d.]+)\s+"
    r"(?P<unit>tokens|chars|requests|s)$"
)
_GEN_AI_ROW = re.compile(
    r"^\s+(?P<provider>\S+)\s+(?P<model>\S+)\s+(?P<metric>gen_ai\.[a-z_.]+(?: \(\w+\))?)\s+"
    r"(?P<points>\d+)\s+(?P<sum>[\d.]+)\s+(?P<unit>tokens|s)$"
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
    gen_ai: dict[tuple[str, str], tuple[int, float]] = field(default_factory=dict)
    """(metric and token type, gen_ai.request.model) -> (data points, sum)."""
    gen_ai_providers: dict[str, str] = field(default_factory=dict)
    """gen_ai.request.model -> gen_ai.provider.name."""
    connections: dict[tuple[str, str], int] = field(default_factory=dict)
    """(model_provider, connection_reused) -> acquisitions."""


_SECTIONS = ("Per-turn latency", "Turn e2e latency", "Usage", "GenAI", "Connections", "Serving")


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
        elif section == "GenAI" and (m := _GEN_AI_ROW.match(line)):
            printed.gen_ai[(m["metric"], m["model"])] = (int(m["points"]), float(m["sum"]))
            printed.gen_ai_providers[m["model"]] = m["provider"]
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
FRONT, BILLING = script.FRONT_DESK.llm, script.BILLING.llm


@pytest.fixture(scope="module")
def printed() -> Printed:
    """The demo's output, run once for the tests that read it."""
    return run_demo(["--fast", "--turns", str(TURNS)])


def test_demo_prints_every_turn_and_its_usage(printed: Printed) -> None:
    assert "handoff to billing" in printed.text
    assert [t["llm"] for t in printed.turns] == [FRONT.model] * 2 + [BILLING.model] * 2
    for turn in printed.turns:
        assert all(isinstance(turn[name], float) for name in ("e2e", "llm_ttft", "tts_ttfb")), turn
        # a reply cannot start playing before the LLM and the TTS both answered
        assert turn["e2e"] > turn["llm_ttft"] + turn["tts_ttfb"], turn  # type: ignore[operator]
    assert {m: (row.provider, row.replies) for m, row in printed.latency.items()} == {
        FRONT.model: (FRONT.provider, 2),
        BILLING.model: (BILLING.provider, 2),
    }

    # usage against the script: what the simulated components were told to report
    lines = script.script(TURNS)
    replies = [reply for _, _, reply in lines]
    assert printed.usage[("tts_characters", script.TTS.model)] == (sum(map(len, replies)), "chars")
    for persona in (script.FRONT_DESK, script.BILLING):
        expected = sum(script.completion_tokens(reply) for who, _, reply in lines if who is persona)
        assert printed.usage[("llm_output_tokens", persona.llm.model)] == (expected, "tokens")
    assert printed.usage[("stt_audio_duration", script.STT.model)][0] > 0

    # one cold connect at least, every other reply reused the pooled connection
    assert printed.connections[(script.TTS.provider, "false")] >= 1
    assert sum(printed.connections.values()) == TURNS


def test_demo_prints_the_gen_ai_metrics(printed: Printed) -> None:
    assert printed.gen_ai_providers == {FRONT.model: "openai", BILLING.model: "anthropic"}
    for model in (FRONT.model, BILLING.model):
        # one LLM request per reply, from the events the usage counters count: equal sums
        for token_type, usage in (("input", "llm_input_tokens"), ("output", "llm_output_tokens")):
            points, tokens = printed.gen_ai[(f"{GEN_AI_TOKEN_USAGE.name} ({token_type})", model)]
            assert (points, tokens) == (2, printed.usage[(usage, model)][0]), token_type
        ttfc = printed.gen_ai[(GEN_AI_TIME_TO_FIRST_CHUNK.name, model)]
        duration = printed.gen_ai[(GEN_AI_OPERATION_DURATION.name, model)]
        assert ttfc[0] == duration[0] == 2
        # a request lasts at least until its first chunk (sums printed to 3 places)
        assert duration[1] >= ttfc[1] - 0.002 > 0


SIMULATED: dict[str, Callable[[], object]] = {
    "stt": conversation.simulated_stt,
    "front-desk llm": lambda: conversation.simulated_llm(FRONT),
    "billing llm": lambda: conversation.simulated_llm(BILLING),
    "tts": lambda: conversation.WebsocketTTS(script.FAST, random.Random(0)),
}


@pytest.mark.parametrize(
    ("role", "plugin", "cls"),
    [
        ("stt", "deepgram", "STT"),
        ("front-desk llm", "openai", "LLM"),
        ("billing llm", "anthropic", "LLM"),
        ("tts", "cartesia", "TTS"),
    ],
)
def test_simulated_components_are_labelled_as_the_real_plugins(
    role: str, plugin: str, cls: str
) -> None:
    """The demo exports the model_provider the real plugin's component gets on this
    release: its provider property from 1.2.12, its package name before."""
    module = pytest.importorskip(f"livekit.plugins.{plugin}", reason=f"no {plugin} plugin here")
    real = getattr(module, cls)(api_key="not-used")
    simulated = SIMULATED[role]()
    assert identify(simulated).model_provider == identify(real).model_provider != "unknown"


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
    got = histogram_quantile(q, bounds, cumulative)
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
                    if metric.name != TURN_E2E_LATENCY.name:
                        continue
                    for point in metric.histogram.data_points:
                        attrs = {a.key: a.value.string_value for a in point.attributes}
                        e2e[attrs["model_name"]] = point.count  # cumulative: the last wins
    assert e2e, "the demo's turns arrived at the receiver"
    assert e2e == {model: row.replies for model, row in printed.latency.items()}


# --------------------------------------------------------------- serving and stopping


def wait_until(predicate: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(0.2)


def run_refused(args: Sequence[str]) -> subprocess.CompletedProcess[str]:
    """Run the demo expecting it to refuse its options; it must end by itself."""
    return subprocess.run(
        demo_command(*args),
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )


@pytest.mark.parametrize(
    ("stop", "sigint"),
    [(signal.SIGTERM, signal.SIG_IGN), (signal.SIGINT, signal.SIG_DFL)],
    # a shell's `&` starts a program with SIGINT ignored: SIGTERM must stop it
    ids=["SIGTERM in the background", "Ctrl-C"],
)
def test_demo_serves_until_stopped_and_exits_0(
    stop: signal.Signals, sigint: signal.Handlers, tmp_path: Path
) -> None:
    pytest.importorskip("opentelemetry.exporter.prometheus", reason="needs the demo extra")
    port = free_port()
    stdout = tmp_path / "stdout.txt"
    with stdout.open("w") as out:
        process = subprocess.Popen(
            demo_command("--fast", "--turns", "1", "--prometheus-port", str(port)),
            stdout=out,
            stderr=subprocess.STDOUT,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
            preexec_fn=lambda: signal.signal(signal.SIGINT, sigint),
        )
    try:
        wait_until(
            lambda: "Serving" in stdout.read_text() or process.poll() is not None,
            180,
            "the demo to serve",
        )
        assert process.poll() is None, stdout.read_text()
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as response:
            assert b"lk_agents_turn_e2e_latency_seconds_count" in response.read()
        process.send_signal(stop)
        returncode = process.wait(60)
    finally:
        if process.poll() is None:  # never leave a demo running
            process.kill()
            process.wait(30)
    assert returncode == 0, stdout.read_text()
    assert stdout.read_text().rstrip().endswith("stopped")


def test_a_port_in_use_is_one_line_naming_it() -> None:
    pytest.importorskip("opentelemetry.exporter.prometheus", reason="needs the demo extra")
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        done = run_refused(["--fast", "--turns", "1", "--prometheus-port", str(port)])

    assert done.returncode == 1, done.stdout + done.stderr
    (line,) = done.stderr.strip().splitlines()
    assert f"--prometheus-port {port}:" in line
    assert "caller:" not in done.stdout, "it stopped before the conversation"


def test_an_otlp_endpoint_with_nothing_listening_is_one_line() -> None:
    endpoint = f"http://127.0.0.1:{free_port()}"  # bound and closed again: nothing listens
    done = run_refused(["--fast", "--turns", "1", "--otlp-endpoint", endpoint])

    assert done.returncode == 1, done.stdout + done.stderr
    (line,) = done.stderr.strip().splitlines()
    assert f"--otlp-endpoint {endpoint}: nothing answers" in line
    assert "caller:" not in done.stdout, "it stopped before the conversation"
