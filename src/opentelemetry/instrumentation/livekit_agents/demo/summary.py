"""What the demo prints at the end, read back from the exported metrics.

Every figure comes from an ``InMemoryMetricReader`` beside the user's exporters, so
the summary shows exactly what a backend receives: the per-turn latencies, the e2e
percentiles estimated from the exported buckets, the usage counters, the GenAI
client metrics and the connection acquisitions.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from opentelemetry.sdk.metrics.export import HistogramDataPoint, InMemoryMetricReader

from opentelemetry.instrumentation.livekit_agents.instruments import (
    CATALOGUE,
    CONNECTION_ACQUIRE_TIME,
    CONNECTION_REUSED,
    GEN_AI_OPERATION_DURATION,
    GEN_AI_PROVIDER_NAME,
    GEN_AI_REQUEST_MODEL,
    GEN_AI_TIME_TO_FIRST_CHUNK,
    GEN_AI_TOKEN_TYPE,
    GEN_AI_TOKEN_USAGE,
    MODEL_NAME,
    MODEL_PROVIDER,
    TURN_E2E_LATENCY,
    TURN_END_OF_TURN_DELAY,
    TURN_LLM_TTFT,
    TURN_TRANSCRIPTION_DELAY,
    TURN_TTS_TTFB,
    CounterSpec,
)

E2E = TURN_E2E_LATENCY.name
TURN_COLUMNS = (
    (TURN_TRANSCRIPTION_DELAY.name, "transcript"),
    (TURN_END_OF_TURN_DELAY.name, "end of turn"),
    (TURN_LLM_TTFT.name, "llm ttft"),
    (TURN_TTS_TTFB.name, "tts ttfb"),
    (E2E, "e2e"),
)
"""The turn metrics of the per-turn table, with their column titles."""
_TURN_METRICS = frozenset(name for name, _ in TURN_COLUMNS)
_USAGE = frozenset(spec.name for spec in CATALOGUE if isinstance(spec, CounterSpec))
_GEN_AI = (GEN_AI_TOKEN_USAGE.name, GEN_AI_OPERATION_DURATION.name, GEN_AI_TIME_TO_FIRST_CHUNK.name)
_UNITS = {"{token}": "tokens", "{character}": "chars", "{request}": "requests", "s": "s"}


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


def _short(name: str) -> str:
    """``llm_input_tokens`` for ``lk.agents.usage.llm_input_tokens``."""
    return name.rsplit(".", 1)[-1]


TurnTotals = dict[str, tuple[int, float]]


def turn_totals(reader: InMemoryMetricReader) -> TurnTotals:
    """Turn metric name -> (count, sum), over every model."""
    totals: dict[str, tuple[int, float]] = {}
    for name, _unit, point in _points(reader):
        if name in _TURN_METRICS:
            count, total = totals.get(name, (0, 0.0))
            totals[name] = (count + point.count, total + point.sum)
    return totals


def new_values(before: TurnTotals, after: TurnTotals) -> dict[str, float]:
    """The mean of what each turn metric recorded between two snapshots."""
    values = {}
    for name, (count, total) in after.items():
        old_count, old_total = before.get(name, (0, 0.0))
        if count > old_count:
            values[name] = (total - old_total) / (count - old_count)
    return values


@dataclass
class TurnResult:
    """One exchange and the turn metrics it added, as exported."""

    number: int
    agent: str
    llm: str
    user: str
    reply: str
    values: dict[str, float]
    """Turn metric name -> the value this turn exported."""


@dataclass
class DemoResult:
    """What the demo saw: the turns and the final exported totals."""

    turns: list[TurnResult]
    latency: dict[tuple[str, str], Histogram] = field(default_factory=dict)
    """(LLM model_provider, model_name) -> merged ``lk.agents.turn.e2e_latency``."""
    usage: dict[tuple[str, str, str], tuple[float, str]] = field(default_factory=dict)
    """(usage metric short name, model_provider, model_name) -> (total, unit)."""
    gen_ai: dict[tuple[str, str, str], tuple[int, float, str]] = field(default_factory=dict)
    """(``gen_ai.provider.name``, ``gen_ai.request.model``, metric and token type)
    -> (data points, sum, unit)."""
    connections: dict[tuple[str, str, str], tuple[int, float]] = field(default_factory=dict)
    """(model_provider, model_name, connection_reused) -> (acquisitions, seconds)."""


def summarize(reader: InMemoryMetricReader, turns: list[TurnResult]) -> DemoResult:
    """The final exported totals that the summary prints."""
    result = DemoResult(turns)
    latency: dict[tuple[str, str], Histogram] = defaultdict(Histogram)
    for name, unit, point in _points(reader):
        provider, model = _attr(point, MODEL_PROVIDER), _attr(point, MODEL_NAME)
        if name == E2E:
            latency[(provider, model)].add(point)
        elif name in _USAGE:
            key = (_short(name), provider, model)
            result.usage[key] = (result.usage.get(key, (0.0, unit))[0] + point.value, unit)
        elif name in _GEN_AI:
            _add_gen_ai(result.gen_ai, name, unit, point)
        elif name == CONNECTION_ACQUIRE_TIME.name:
            key = (provider, model, _attr(point, CONNECTION_REUSED))
            count, total = result.connections.get(key, (0, 0.0))
            result.connections[key] = (count + point.count, total + point.sum)
    result.latency = dict(latency)
    return result


def _add_gen_ai(
    gen_ai: dict[tuple[str, str, str], tuple[int, float, str]], name: str, unit: str, point: Any
) -> None:
    token_type = (point.attributes or {}).get(GEN_AI_TOKEN_TYPE)
    metric = f"{name} ({token_type})" if token_type else name
    key = (_attr(point, GEN_AI_PROVIDER_NAME), _attr(point, GEN_AI_REQUEST_MODEL), metric)
    count, total, _ = gen_ai.get(key, (0, 0.0, unit))
    gen_ai[key] = (count + point.count, total + point.sum, unit)


def print_summary(result: DemoResult, out: Any) -> None:
    """The per-turn table, latency percentiles, usage, GenAI metrics and connections."""
    _print_turns(result.turns, out)
    _print_latency(result.latency, out)
    _print_usage(result.usage, out)
    _print_gen_ai(result.gen_ai, out)
    _print_connections(result.connections, out)


def _print_turns(turns: list[TurnResult], out: Any) -> None:
    print("\nPer-turn latency, seconds (lk.agents.turn.*, as exported)", file=out)
    header = "".join(f"{title:>13}" for _, title in TURN_COLUMNS)
    print(f"  {'turn':>4}  {'agent':<11} {'llm':<17}{header}", file=out)
    for t in turns:
        cells = "".join(
            f"{t.values[name]:>13.3f}" if name in t.values else f"{'-':>13}"
            for name, _ in TURN_COLUMNS
        )
        print(f"  {t.number:>4}  {t.agent:<11} {t.llm:<17}{cells}", file=out)


def _print_latency(latency: dict[tuple[str, str], Histogram], out: Any) -> None:
    print(
        f"\nTurn e2e latency by LLM ({E2E}; p50 and p95 estimated from\n"
        "the exported buckets, as Prometheus' histogram_quantile does)",
        file=out,
    )
    print(
        f"  {'provider':<17} {'model':<18} {'replies':>7} {'mean s':>8} {'p50 s':>8} {'p95 s':>8}",
        file=out,
    )
    for (provider, model), h in sorted(latency.items()):
        print(
            f"  {provider:<17} {model:<18} {h.count:>7} {h.sum / h.count:>8.3f} "
            f"{h.quantile(0.5):>8.3f} {h.quantile(0.95):>8.3f}",
            file=out,
        )


def _print_usage(usage: dict[tuple[str, str, str], tuple[float, str]], out: Any) -> None:
    print("\nUsage (lk.agents.usage.*, totals as exported)", file=out)
    print(f"  {'provider':<17} {'model':<18} {'metric':<24} {'total':>12}", file=out)
    for (metric, provider, model), (total, unit) in sorted(
        usage.items(), key=lambda kv: (kv[0][1], kv[0][2], kv[0][0])
    ):
        shown = f"{total:.2f}" if unit == "s" else f"{total:.0f}"
        print(
            f"  {provider:<17} {model:<18} {metric:<24} {shown:>12} {_UNITS.get(unit, unit)}",
            file=out,
        )


def _print_gen_ai(gen_ai: dict[tuple[str, str, str], tuple[int, float, str]], out: Any) -> None:
    print(
        "\nGenAI client metrics (gen_ai.client.*, OpenTelemetry GenAI semantic conventions;"
        "\nrecorded per LLM request, sums as exported)",
        file=out,
    )
    print(f"  {'provider':<10} {'model':<18} {'metric':<44} {'points':>6} {'sum':>10}", file=out)
    for (provider, model, metric), (count, total, unit) in sorted(gen_ai.items()):
        shown = f"{total:.3f}" if unit == "s" else f"{total:.0f}"
        print(
            f"  {provider:<10} {model:<18} {metric:<44} {count:>6} {shown:>10} "
            f"{_UNITS.get(unit, unit)}",
            file=out,
        )


def _print_connections(
    connections: dict[tuple[str, str, str], tuple[int, float]], out: Any
) -> None:
    print(f"\nConnections ({CONNECTION_ACQUIRE_TIME.name})", file=out)
    print(
        f"  {'provider':<17} {'model':<18} {'reused':<7} {'acquisitions':>12} {'mean ms':>9}",
        file=out,
    )
    for (provider, model, reused), (count, total) in sorted(connections.items()):
        print(
            f"  {provider:<17} {model:<18} {reused:<7} {count:>12} {total / count * 1000:>9.2f}",
            file=out,
        )
