"""A simulated LiveKit voice agent under the instrumentation, with its metrics.

A real ``livekit.agents.AgentSession`` talks to a scripted caller through the
package's :mod:`~opentelemetry.instrumentation.livekit_agents.simulation`
components. The STT, LLMs and TTS are **simulated**: they make no request and
need no API key; they only wait the delays that the hosted providers they are
named after (a Deepgram-like STT, OpenAI- and Anthropic-like LLMs, a
Cartesia-like websocket TTS) typically take. The framework measures the turns
itself and the instrumentation records them, as it would for a real agent.

Halfway through, the front-desk agent hands the call to a billing agent that
uses the second LLM (``session.update_agent``). Progress is printed as each
turn ends; at the end a per-turn latency table, the latency percentiles and a
usage summary are printed, all read back from the exported metrics.

Usage::

    python -m opentelemetry.instrumentation.livekit_agents.demo
    python -m opentelemetry.instrumentation.livekit_agents.demo --turns 12 --fast
    # serve /metrics to Prometheus until Ctrl-C (needs the "prometheus" extra)
    python -m opentelemetry.instrumentation.livekit_agents.demo --prometheus-port 9464
    # push to an OpenTelemetry Collector over OTLP gRPC (needs the "otlp" extra)
    python -m opentelemetry.instrumentation.livekit_agents.demo \\
        --otlp-endpoint http://localhost:4317

No network is used beyond the loopback interface.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import inspect
import logging
import math
import random
import sys
import time
from collections import defaultdict
from collections.abc import AsyncIterable, AsyncIterator, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, cast

from livekit import rtc
from livekit.agents import Agent, ModelSettings, utils
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import (
    HistogramDataPoint,
    InMemoryMetricReader,
    MetricReader,
)
from opentelemetry.sdk.resources import Resource

from opentelemetry.instrumentation.livekit_agents import AgentsInstrumentor
from opentelemetry.instrumentation.livekit_agents.demo import simulation as sim

__all__ = ["DemoResult", "histogram_quantile", "main", "run_demo"]

SERVICE_NAME = "livekit-agents-demo"
TURN_PREFIX = "lk.agents.turn."
USAGE_PREFIX = "lk.agents.usage."
E2E = "e2e_latency"
ACQUIRE_TIME = "lk.agents.connection.acquire_time"
# 1.0.x calls connect_cb() and get() without arguments; 1.1+ passes a timeout
_POOL_KWARGS: dict[str, Any] = (
    {"timeout": 10.0} if "timeout" in inspect.signature(utils.ConnectionPool.get).parameters else {}
)


# ------------------------------------------------------------------------ the script


@dataclass(frozen=True)
class SimulatedProvider:
    """The delay a hosted provider typically takes; a simulated component waits it."""

    provider: str
    model: str
    median: float
    """Seconds: time to first transcript, token or audio byte."""
    spread: float = 0.3
    """Log-normal sigma: latencies have a long right tail."""

    def draw(self, rng: random.Random, scale: float) -> float:
        """One delay, log-normally around the median, clipped to [median/3, median*3]."""
        value = self.median * math.exp(rng.gauss(0.0, self.spread))
        return scale * min(max(value, self.median / 3), self.median * 3)


STT = SimulatedProvider("deepgram", "nova-3", 0.20)
TTS = SimulatedProvider("cartesia", "sonic-2", 0.11, spread=0.2)
TTS_HANDSHAKE = SimulatedProvider("cartesia", "sonic-2", 0.18, spread=0.2)
FRONT_DESK_LLM = SimulatedProvider("openai", "gpt-4o-mini", 0.42)
BILLING_LLM = SimulatedProvider("anthropic", "claude-3-5-haiku", 0.65)


@dataclass(frozen=True)
class Persona:
    """An agent of the demo: its instructions, its LLM and its half of the script."""

    name: str
    instructions: str
    llm: SimulatedProvider
    lines: tuple[tuple[str, str], ...]
    """(what the caller says, the agent's one-sentence answer), cycled."""


FRONT_DESK = Persona(
    "front-desk",
    "You are the front desk of an online shop. Be brief.",
    FRONT_DESK_LLM,
    (
        ("Hi, I'd like to check on my order.", "Sure, what is the order number?"),
        ("It's four two seven one.", "Thanks, order 4271 shipped yesterday and arrives Friday."),
        ("Can it come to my office instead?", "Yes, I have updated the delivery address."),
        ("Also, I was charged twice for it.", "Sorry about that, let me get billing for you."),
    ),
)
BILLING = Persona(
    "billing",
    "You are the billing desk of an online shop. Be brief.",
    BILLING_LLM,
    (
        ("Hello, is this billing?", "Yes, I can see two charges of 24 dollars for order 4271."),
        ("Can you refund one of them?", "Done, the refund reaches your card in three days."),
        ("Will I get an email about it?", "Yes, a confirmation email is on its way now."),
        ("Great, that's all, thanks.", "You are welcome, have a nice day!"),
    ),
)


@dataclass(frozen=True)
class Pace:
    """How fast the conversation goes; ``FAST`` squeezes it for tests."""

    delay_scale: float
    """Multiplies every provider delay."""
    user_seconds_per_word: float
    tts_seconds_per_char: float
    pause_before: float
    vad_silence: float
    endpointing_delay: float
    reconnect_after: float
    """The TTS websocket is closed and reopened after this many seconds of use."""


REAL_TIME = Pace(1.0, 0.3, 0.06, 0.6, 0.3, 0.4, 20.0)
FAST = Pace(0.35, 0.06, 0.012, 0.1, 0.15, 0.2, 5.0)


# ---------------------------------------------------------------- the components


class WebsocketTTS(sim.SimulatedTTS):
    """A simulated websocket TTS: every reply holds a connection from a real
    livekit-agents ``ConnectionPool``, as the cartesia and deepgram plugins do.
    Opening one waits a simulated handshake; later replies reuse it."""

    def __init__(self, pace: Pace, rng: random.Random) -> None:
        super().__init__(
            TTS.provider,
            TTS.model,
            ttfb=TTS.median * pace.delay_scale,
            seconds_per_char=pace.tts_seconds_per_char,
        )
        self._pace = pace
        self._rng = rng
        self.pool: Any = utils.ConnectionPool(
            connect_cb=self._connect,
            close_cb=self._disconnect,
            max_session_duration=pace.reconnect_after,
        )

    async def _connect(self, timeout: float = 10.0) -> object:
        # bound to this TTS, so the instrumentation attributes the pool to it
        await asyncio.sleep(TTS_HANDSHAKE.draw(self._rng, self._pace.delay_scale))
        return object()

    async def _disconnect(self, connection: object) -> None:
        return None

    @contextlib.asynccontextmanager
    async def connection(self) -> AsyncIterator[object]:
        """A pooled connection for one reply."""
        async with self.pool.connection(**_POOL_KWARGS) as conn:
            yield conn


class DemoAgent(Agent):
    """An agent whose replies go through a pooled TTS connection."""

    async def tts_node(
        self, text: AsyncIterable[str], model_settings: ModelSettings
    ) -> AsyncIterator[rtc.AudioFrame]:
        frames = cast(
            AsyncIterable[rtc.AudioFrame], Agent.default.tts_node(self, text, model_settings)
        )
        tts = self.session.tts
        async with tts.connection() if isinstance(tts, WebsocketTTS) else _nothing():
            async for frame in frames:
                yield frame


@contextlib.asynccontextmanager
async def _nothing() -> AsyncIterator[None]:
    yield None


# ------------------------------------------------------------ reading the metrics


@dataclass
class Histogram:
    """One histogram series, merged over attributes like ``sum by (le)`` does."""

    bounds: tuple[float, ...] = ()
    counts: list[int] = field(default_factory=list)
    sum: float = 0.0

    @property
    def count(self) -> int:
        return sum(self.counts)

    def add(self, point: HistogramDataPoint) -> None:
        if not self.counts:
            self.bounds = tuple(point.explicit_bounds)
            self.counts = [0] * len(point.bucket_counts)
        self.counts = [a + b for a, b in zip(self.counts, point.bucket_counts)]
        self.sum += point.sum

    def quantile(self, q: float) -> float:
        cumulative = [sum(self.counts[: i + 1]) for i in range(len(self.counts))]
        return histogram_quantile(q, self.bounds, cumulative)


def histogram_quantile(q: float, bounds: Sequence[float], cumulative: Sequence[float]) -> float:
    """The quantile exactly as Prometheus' ``histogram_quantile`` estimates it.

    ``bounds`` are the finite upper bounds, ``cumulative`` the counts of every
    bucket including ``+Inf``: linear interpolation inside the bucket that
    holds the rank; a rank in the ``+Inf`` bucket gives the highest bound.
    """
    observations = cumulative[-1] if cumulative else 0
    if not observations:
        return math.nan
    rank = q * observations
    b = next(i for i, count in enumerate(cumulative) if count >= rank)
    if b == len(bounds):
        return bounds[-1]
    start, count = 0.0, cumulative[b]
    if b > 0:
        start = bounds[b - 1]
        count -= cumulative[b - 1]
        rank -= cumulative[b - 1]
    return start + (bounds[b] - start) * (rank / count)


def _points(reader: InMemoryMetricReader) -> Iterator[tuple[str, str, Any]]:
    """(metric name, unit, data point) for everything the reader sees now."""
    data = reader.get_metrics_data()
    for resource_metrics in data.resource_metrics if data else []:
        for scope_metrics in resource_metrics.scope_metrics:
            for metric in scope_metrics.metrics:
                for point in metric.data.data_points:
                    yield metric.name, metric.unit or "", point


def _attr(point: Any, key: str) -> str:
    return str((point.attributes or {}).get(key, "unknown"))


TurnTotals = dict[str, tuple[int, float]]


def turn_totals(reader: InMemoryMetricReader) -> TurnTotals:
    """Turn metric short name -> (count, sum), over every model."""
    totals: dict[str, tuple[int, float]] = {}
    for name, _unit, point in _points(reader):
        if name.startswith(TURN_PREFIX):
            short = name[len(TURN_PREFIX) :]
            count, total = totals.get(short, (0, 0.0))
            totals[short] = (count + point.count, total + point.sum)
    return totals


def _new_values(before: TurnTotals, after: TurnTotals) -> dict[str, float]:
    """The mean of what each turn metric recorded between two snapshots."""
    values = {}
    for name, (count, total) in after.items():
        old_count, old_total = before.get(name, (0, 0.0))
        if count > old_count:
            values[name] = (total - old_total) / (count - old_count)
    return values


# ------------------------------------------------------------------ the conversation


@dataclass
class TurnResult:
    """One exchange and the turn metrics it added, as exported."""

    number: int
    agent: str
    llm: str
    user: str
    reply: str
    values: dict[str, float]


@dataclass
class DemoResult:
    """What :func:`run_demo` saw: the turns and the final exported totals."""

    turns: list[TurnResult]
    latency: dict[tuple[str, str], Histogram]
    """(LLM model_provider, model_name) -> merged ``lk.agents.turn.e2e_latency``."""
    usage: dict[tuple[str, str, str], tuple[float, str]]
    """(metric short name, model_provider, model_name) -> (total, unit)."""
    connections: dict[tuple[str, str, str], tuple[int, float]]
    """(model_provider, model_name, connection_reused) -> (acquisitions, seconds)."""


def _script(turns: int) -> list[tuple[Persona, str, str]]:
    """(persona, user line, reply) per turn: the front desk first, billing after."""
    handoff = max(1, turns // 2) if turns > 1 else turns
    script = []
    for i in range(turns):
        persona, j = (FRONT_DESK, i) if i < handoff else (BILLING, i - handoff)
        user, reply = persona.lines[j % len(persona.lines)]
        script.append((persona, user, reply))
    return script


def _user_turn(
    user: str,
    reply: str,
    llm: SimulatedProvider,
    pace: Pace,
    rng: random.Random,
    prompt_tokens: int,
    cached_tokens: int,
) -> sim.UserTurn:
    scale = pace.delay_scale
    return sim.UserTurn(
        user,
        speech_duration=max(0.3, len(user.split()) * pace.user_seconds_per_word),
        transcription_delay=STT.draw(rng, scale),
        pause_before=pace.pause_before,
        reply=sim.AgentReply(
            reply,
            llm_ttft=llm.draw(rng, scale),
            tts_ttfb=TTS.draw(rng, scale),
            prompt_tokens=prompt_tokens,
            prompt_cached_tokens=cached_tokens,
            # about 1.3 tokens per English word
            completion_tokens=round(len(reply.split()) * 1.3),
        ),
    )


def _new_session(pace: Pace, rng: random.Random) -> tuple[Any, WebsocketTTS]:
    tts = WebsocketTTS(pace, rng)
    session = sim.simulated_session(
        stt=sim.SimulatedSTT(STT.provider, STT.model),
        llm=sim.SimulatedLLM(FRONT_DESK_LLM.provider, FRONT_DESK_LLM.model),
        tts=tts,
        vad_silence=pace.vad_silence,
        min_endpointing_delay=pace.endpointing_delay,
    )
    return session, tts


async def _turn_values(reader: InMemoryMetricReader, before: TurnTotals) -> dict[str, float]:
    """This turn's metrics; the reply's e2e point may land just after its playout."""
    deadline = time.monotonic() + 2.0
    while True:
        values = _new_values(before, turn_totals(reader))
        if E2E in values or time.monotonic() > deadline:
            return values
        await asyncio.sleep(0.02)


async def converse(
    reader: InMemoryMetricReader, turns: int, pace: Pace, seed: int, out: Any
) -> list[TurnResult]:
    """Play the script into a real AgentSession; print each turn as it ends."""
    rng = random.Random(seed)
    session, tts = _new_session(pace, rng)
    persona = FRONT_DESK
    results: list[TurnResult] = []
    prompt_tokens = 180  # the system prompt; the context grows with each exchange
    cached_tokens = 0  # the provider caches the prompt prefix it has already seen
    await session.start(DemoAgent(instructions=persona.instructions))
    try:
        for number, (who, user, reply) in enumerate(_script(turns), start=1):
            if who is not persona:
                persona, cached_tokens = who, 0  # a new LLM has nothing cached
                await _handoff(session, persona, out)
            turn = _user_turn(user, reply, persona.llm, pace, rng, prompt_tokens, cached_tokens)
            before = turn_totals(reader)
            await sim.run_conversation(session, [turn])
            values = await _turn_values(reader, before)
            result = TurnResult(number, persona.name, persona.llm.model, user, reply, values)
            results.append(result)
            _print_progress(result, turns, persona, out)
            cached_tokens = prompt_tokens // 64 * 64
            prompt_tokens += 12 + round(len(f"{user} {reply}".split()) * 1.3)
    finally:
        await session.aclose()
        await tts.pool.aclose()
    return results


async def _handoff(session: Any, persona: Persona, out: Any) -> None:
    llm = sim.SimulatedLLM(persona.llm.provider, persona.llm.model)
    session.update_agent(DemoAgent(instructions=persona.instructions, llm=llm))
    await asyncio.sleep(0.3)  # let the new agent's activity start
    print(
        f"  -> handoff to {persona.name} (LLM {persona.llm.provider}/{persona.llm.model})",
        file=out,
        flush=True,
    )


def _print_progress(result: TurnResult, turns: int, persona: Persona, out: Any) -> None:
    e2e = result.values.get(E2E)
    latency = f"e2e {e2e:.2f} s" if e2e is not None else "e2e -"
    width = len(str(turns))
    print(
        f"  [{result.number:>{width}}/{turns}] caller: {result.user}\n"
        f"  {'':>{2 * width + 2}} {persona.name} ({persona.llm.provider}/{persona.llm.model}): "
        f"{result.reply}  [{latency}]",
        file=out,
        flush=True,
    )


# ---------------------------------------------------------------------- the summary


def summarize(reader: InMemoryMetricReader, turns: list[TurnResult]) -> DemoResult:
    """The final exported totals that the summary prints."""
    result = DemoResult(turns, defaultdict(Histogram), {}, {})
    for name, unit, point in _points(reader):
        provider, model = _attr(point, "model_provider"), _attr(point, "model_name")
        if name == TURN_PREFIX + E2E:
            result.latency[(provider, model)].add(point)
        elif name.startswith(USAGE_PREFIX):
            key = (name[len(USAGE_PREFIX) :], provider, model)
            result.usage[key] = (result.usage.get(key, (0.0, unit))[0] + point.value, unit)
        elif name == ACQUIRE_TIME and isinstance(point, HistogramDataPoint):
            key = (provider, model, _attr(point, "connection_reused"))
            count, total = result.connections.get(key, (0, 0.0))
            result.connections[key] = (count + point.count, total + point.sum)
    result.latency = dict(result.latency)
    return result


_TURN_COLUMNS = (
    ("transcription_delay", "transcript"),
    ("end_of_turn_delay", "end of turn"),
    ("llm_ttft", "llm ttft"),
    ("tts_ttfb", "tts ttfb"),
    (E2E, "e2e"),
)
_UNITS = {"{token}": "tokens", "{character}": "chars", "{request}": "requests", "s": "s"}


def print_summary(result: DemoResult, out: Any) -> None:
    """The per-turn table, latency percentiles, usage and connections."""
    _print_turns(result.turns, out)
    _print_latency(result.latency, out)
    _print_usage(result.usage, out)
    _print_connections(result.connections, out)


def _print_turns(turns: list[TurnResult], out: Any) -> None:
    print("\nPer-turn latency, seconds (lk.agents.turn.*, as exported)", file=out)
    header = "".join(f"{title:>13}" for _, title in _TURN_COLUMNS)
    print(f"  {'turn':>4}  {'agent':<11} {'llm':<17}{header}", file=out)
    for t in turns:
        cells = "".join(
            f"{t.values[name]:>13.3f}" if name in t.values else f"{'-':>13}"
            for name, _ in _TURN_COLUMNS
        )
        print(f"  {t.number:>4}  {t.agent:<11} {t.llm:<17}{cells}", file=out)


def _print_latency(latency: dict[tuple[str, str], Histogram], out: Any) -> None:
    print(
        "\nTurn e2e latency by LLM (lk.agents.turn.e2e_latency; p50 and p95 estimated from\n"
        "the exported buckets, as Prometheus' histogram_quantile does)",
        file=out,
    )
    print(
        f"  {'provider':<10} {'model':<18} {'replies':>7} {'mean s':>8} {'p50 s':>8} {'p95 s':>8}",
        file=out,
    )
    for (provider, model), h in sorted(latency.items()):
        print(
            f"  {provider:<10} {model:<18} {h.count:>7} {h.sum / h.count:>8.3f} "
            f"{h.quantile(0.5):>8.3f} {h.quantile(0.95):>8.3f}",
            file=out,
        )


def _print_usage(usage: dict[tuple[str, str, str], tuple[float, str]], out: Any) -> None:
    print("\nUsage (lk.agents.usage.*, totals as exported)", file=out)
    print(f"  {'provider':<10} {'model':<18} {'metric':<24} {'total':>12}", file=out)
    for (metric, provider, model), (total, unit) in sorted(
        usage.items(), key=lambda kv: (kv[0][1], kv[0][2], kv[0][0])
    ):
        shown = f"{total:.2f}" if unit == "s" else f"{total:.0f}"
        print(
            f"  {provider:<10} {model:<18} {metric:<24} {shown:>12} {_UNITS.get(unit, unit)}",
            file=out,
        )


def _print_connections(
    connections: dict[tuple[str, str, str], tuple[int, float]], out: Any
) -> None:
    print("\nConnections (lk.agents.connection.acquire_time)", file=out)
    print(
        f"  {'provider':<10} {'model':<18} {'reused':<7} {'acquisitions':>12} {'mean ms':>9}",
        file=out,
    )
    for (provider, model, reused), (count, total) in sorted(connections.items()):
        print(
            f"  {provider:<10} {model:<18} {reused:<7} {count:>12} {total / count * 1000:>9.2f}",
            file=out,
        )


# --------------------------------------------------------------------------- export


def _prometheus_reader(host: str, port: int) -> MetricReader:
    try:
        from opentelemetry.exporter.prometheus import PrometheusMetricReader
        from prometheus_client import start_http_server
    except ImportError as exc:
        raise SystemExit(
            "--prometheus-port needs the prometheus extra: "
            "pip install 'opentelemetry-instrumentation-livekit-agents[prometheus]'"
        ) from exc
    start_http_server(port, addr=host)
    return PrometheusMetricReader()


def _otlp_reader(endpoint: str) -> MetricReader:
    try:
        from opentelemetry.exporter.otlp.proto.grpc.metric_exporter import OTLPMetricExporter
        from opentelemetry.sdk.metrics.export import PeriodicExportingMetricReader
    except ImportError as exc:
        raise SystemExit(
            "--otlp-endpoint needs the otlp extra: "
            "pip install 'opentelemetry-instrumentation-livekit-agents[otlp]'"
        ) from exc
    # every 5 s rather than the default 60 s, so a backend shows the demo while it runs
    return PeriodicExportingMetricReader(
        OTLPMetricExporter(endpoint=endpoint), export_interval_millis=5000
    )


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
        "are named after. The AgentSession is real, and so are the metrics.\n",
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
    """Keep /metrics up so Prometheus can scrape the final values."""
    if args.prometheus_port is None:
        return
    until = "Ctrl-C" if args.serve_seconds is None else f"{args.serve_seconds:g} s or Ctrl-C"
    print(
        f"\nServing http://{args.prometheus_host}:{args.prometheus_port}/metrics until {until}",
        file=out,
        flush=True,
    )
    try:
        time.sleep(math.inf if args.serve_seconds is None else args.serve_seconds)
    except KeyboardInterrupt:
        print("stopped", file=out, flush=True)


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
        help="with --prometheus-port: stop serving after S seconds (default: until Ctrl-C)",
    )
    parser.add_argument(
        "--otlp-endpoint", metavar="URL", help="export over OTLP gRPC, e.g. http://localhost:4317"
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """The command line entry point."""
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
    try:
        run_demo(args)
    except KeyboardInterrupt:
        print("\ninterrupted", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
