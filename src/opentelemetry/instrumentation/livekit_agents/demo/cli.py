"""A simulated LiveKit voice agent under the instrumentation, with its metrics.

A real LiveKit Agents session talks to a scripted caller through the components
of :mod:`.simulation`. The STT, LLMs and TTS are **simulated**: they make no
request and need no API key; they only wait the delays that the hosted providers
they are named after (a Deepgram-like STT, OpenAI- and Anthropic-like LLMs, a
Cartesia-like websocket TTS) typically take, and they carry those plugins'
labels. The framework measures the turns itself and the instrumentation records
them, as it would for a real agent.

Halfway through, the front-desk agent hands the call to a billing agent that
uses the second LLM (``session.update_agent``). Progress is printed as each
turn ends; at the end a per-turn latency table, the latency percentiles, a usage
summary, the GenAI client metrics and the connections are printed, all read back
from the exported metrics.

Usage (the ``demo`` extra)::

    python -m opentelemetry.instrumentation.livekit_agents.demo
    python -m opentelemetry.instrumentation.livekit_agents.demo --turns 12 --fast
    # serve /metrics to Prometheus until Ctrl-C or SIGTERM
    python -m opentelemetry.instrumentation.livekit_agents.demo --prometheus-port 9464
    # push to an OpenTelemetry Collector over OTLP gRPC
    python -m opentelemetry.instrumentation.livekit_agents.demo \\
        --otlp-endpoint http://localhost:4317

No network is used beyond the loopback interface and the given endpoint.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import logging
import math
import signal
import socket
import sys
import threading
from collections.abc import Sequence
from types import FrameType
from typing import Any
from urllib.parse import urlsplit

from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader, MetricReader
from opentelemetry.sdk.resources import Resource

from opentelemetry.instrumentation.livekit_agents import AgentsInstrumentor
from opentelemetry.instrumentation.livekit_agents.demo.conversation import converse
from opentelemetry.instrumentation.livekit_agents.demo.script import FAST, REAL_TIME
from opentelemetry.instrumentation.livekit_agents.demo.summary import (
    DemoResult,
    print_summary,
    summarize,
)

SERVICE_NAME = "livekit-agents-demo"
_OTLP_DEFAULT_PORT = 4317


class Terminated(KeyboardInterrupt):
    """SIGTERM: stop as Ctrl-C does.

    A ``KeyboardInterrupt`` so that asyncio lets it out of the event loop, as it
    does Ctrl-C's, instead of keeping it in whichever task it interrupted.
    """


def _terminate(signum: int, frame: FrameType | None) -> None:
    raise Terminated


# --------------------------------------------------------------------------- export


def _prometheus_reader(host: str, port: int) -> MetricReader:
    try:
        from opentelemetry.exporter.prometheus import PrometheusMetricReader
        from prometheus_client import start_http_server
    except ImportError as exc:
        raise SystemExit(
            "--prometheus-port needs the demo extra: "
            "pip install 'opentelemetry-instrumentation-livekit-agents[demo]'"
        ) from exc
    try:
        start_http_server(port, addr=host)
    except OSError as exc:
        raise SystemExit(
            f"--prometheus-port {port}: cannot serve /metrics on {host}:{port}: "
            f"{exc.strerror or exc}"
        ) from None
    return PrometheusMetricReader()


def _otlp_reader(endpoint: str) -> MetricReader:
    try:
        from opentelemetry.exporter.otlp.proto.grpc.metric_exporter import OTLPMetricExporter
        from opentelemetry.sdk.metrics.export import PeriodicExportingMetricReader
    except ImportError as exc:
        raise SystemExit(
            "--otlp-endpoint needs the demo extra: "
            "pip install 'opentelemetry-instrumentation-livekit-agents[demo]'"
        ) from exc
    _check_listening(endpoint)
    # every 5 s rather than the default 60 s, so a backend shows the demo while it runs
    return PeriodicExportingMetricReader(
        OTLPMetricExporter(endpoint=endpoint), export_interval_millis=5000
    )


def _check_listening(endpoint: str) -> None:
    """Fail at once, in one line, when nothing listens at the endpoint.

    The exporter would otherwise retry with back-off at every export and again
    at shutdown, logging each attempt, for half a minute after the demo ended.
    """
    try:
        parts = urlsplit(endpoint if "://" in endpoint else f"http://{endpoint}")
        host, port = parts.hostname or "localhost", parts.port or _OTLP_DEFAULT_PORT
    except ValueError as exc:
        raise SystemExit(f"--otlp-endpoint {endpoint}: not a URL ({exc})") from None
    try:
        with socket.create_connection((host, port), timeout=5.0):
            pass
    except OSError as exc:
        raise SystemExit(
            f"--otlp-endpoint {endpoint}: nothing answers on {host}:{port} "
            f"({exc.strerror or exc}); is the collector running?"
        ) from None


# ------------------------------------------------------------------------------ run


def run_demo(args: argparse.Namespace, out: Any = sys.stdout) -> DemoResult:
    """Run the conversation under ``AgentsInstrumentor`` and print its summary."""
    reader = InMemoryMetricReader()
    readers: list[MetricReader] = [reader]
    if args.prometheus_port is not None:
        readers.append(_prometheus_reader(args.prometheus_host, args.prometheus_port))
    if args.otlp_endpoint:
        readers.append(_otlp_reader(args.otlp_endpoint))
    meter_provider = MeterProvider(
        metric_readers=readers, resource=Resource.create({"service.name": SERVICE_NAME})
    )
    pace = FAST if args.fast else REAL_TIME
    _print_banner(args, out)
    instrumentor = AgentsInstrumentor()
    instrumentor.instrument(meter_provider=meter_provider)
    try:
        turns = asyncio.run(converse(reader, args.turns, pace, args.seed, out))
        result = summarize(reader, turns)
        print_summary(result, out)
        _serve(args, out)
    finally:
        instrumentor.uninstrument()
        meter_provider.shutdown()  # flushes the OTLP exporter
    return result


def _print_banner(args: argparse.Namespace, out: Any) -> None:
    mode = "fast mode, delays scaled down" if args.fast else "real time"
    print(
        f"Simulated LiveKit voice agent, {args.turns} turns ({mode}). The STT, LLMs and TTS are\n"
        "simulated: no API key, no request; they wait delays typical of the providers they\n"
        "are named after. The session is real, and so are the metrics.\n",
        file=out,
        flush=True,
    )
    if args.prometheus_port is not None:
        print(
            f"Prometheus: http://{args.prometheus_host}:{args.prometheus_port}/metrics\n",
            file=out,
            flush=True,
        )
    if args.otlp_endpoint:
        print(f"OTLP gRPC: exporting to {args.otlp_endpoint} every 5 s\n", file=out, flush=True)


def _serve(args: argparse.Namespace, out: Any) -> None:
    """Keep /metrics up so Prometheus can scrape the final values, until stopped."""
    if args.prometheus_port is None:
        return
    seconds = args.serve_seconds
    if seconds is not None and not math.isfinite(seconds):
        seconds = None
    until = "Ctrl-C or SIGTERM" if seconds is None else f"{seconds:g} s, Ctrl-C or SIGTERM"
    print(
        f"\nServing http://{args.prometheus_host}:{args.prometheus_port}/metrics until {until}",
        file=out,
        flush=True,
    )
    # a signal interrupts the wait: Ctrl-C's KeyboardInterrupt, SIGTERM's Terminated
    with contextlib.suppress(KeyboardInterrupt):
        threading.Event().wait(seconds)
    print("stopped", file=out, flush=True)


# ---------------------------------------------------------------------- command line


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m opentelemetry.instrumentation.livekit_agents.demo",
        description="A simulated LiveKit voice agent under the OpenTelemetry instrumentation.",
    )
    parser.add_argument("--turns", type=int, default=8, help="caller turns (default 8)")
    parser.add_argument("--fast", action="store_true", help="scale delays down (for tests)")
    parser.add_argument("--seed", type=int, default=7, help="seed of the simulated delays")
    parser.add_argument(
        "--prometheus-port",
        type=int,
        metavar="PORT",
        help="serve /metrics for Prometheus on this port",
    )
    parser.add_argument(
        "--prometheus-host",
        default="127.0.0.1",
        metavar="HOST",
        help="address to serve /metrics on (default 127.0.0.1)",
    )
    parser.add_argument(
        "--serve-seconds",
        type=float,
        metavar="S",
        help="with --prometheus-port: stop serving after S seconds "
        "(default: until Ctrl-C or SIGTERM)",
    )
    parser.add_argument(
        "--otlp-endpoint", metavar="URL", help="export over OTLP gRPC, e.g. http://localhost:4317"
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """The command line entry point: 0 when the demo ran, and served until stopped."""
    args = _parser().parse_args(argv)
    if args.turns < 1:
        raise SystemExit("--turns must be at least 1")
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    # some releases log shutdown noise at WARNING (1.0.x: "task closing without draining")
    logging.getLogger("livekit.agents").setLevel(logging.ERROR)
    # a full collection of livekit's large heap pauses the event loop ~0.2 s, which
    # would land in a measured turn at random
    gc.collect()
    gc.freeze()
    # a demo started in the background ignores Ctrl-C's SIGINT: SIGTERM stops it
    previous = signal.signal(signal.SIGTERM, _terminate)
    try:
        run_demo(args)
    except KeyboardInterrupt as stop:
        print("\ninterrupted", file=sys.stderr)
        return 128 + (signal.SIGTERM if isinstance(stop, Terminated) else signal.SIGINT)
    finally:
        signal.signal(signal.SIGTERM, previous)
    return 0
