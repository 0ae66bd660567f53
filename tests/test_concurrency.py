"""Sessions in parallel, in one event loop and in two threads, record exactly the
points that each session, run alone, reports for itself; instrument() and
uninstrument() from many threads at once patch once."""

from __future__ import annotations

import asyncio
import threading
from typing import Any, Callable

import pytest
from livekit.rtc.event_emitter import EventEmitter
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader

from opentelemetry.instrumentation.livekit_agents import AgentsInstrumentor
from opentelemetry.instrumentation.livekit_agents.demo import simulation as sim
from opentelemetry.instrumentation.livekit_agents.instruments import (
    LLM_INPUT_TOKENS,
    TURN_E2E_LATENCY,
    TURN_LLM_TTFT,
)

from .metric_points import attrs, collect
from .simulated_session import HAS_METRICS_REPORT, SimulatedSession, started

pytestmark = pytest.mark.usefixtures("quiet_gc")

PARALLEL = 20


def by_model(reader: InMemoryMetricReader, name: str) -> dict[str, tuple[int, float]]:
    metric = collect(reader).get(name)
    found: dict[str, tuple[int, float]] = {}
    for point in metric.data.data_points if metric else []:  # type: ignore[union-attr]
        count = getattr(point, "count", 1)
        total = getattr(point, "sum", None)
        found[str(attrs(point)["model_name"])] = (count, point.value if total is None else total)
    return found


async def converse(prefix: str, index: int) -> SimulatedSession:
    s = await started(prefix)
    reply = sim.AgentReply(f"Reply {index}.", prompt_tokens=10 + index, llm_ttft=0.05 + index / 200)
    try:
        await sim.run_conversation(s.session, [sim.UserTurn(f"Question {index}.", reply=reply)])
        if HAS_METRICS_REPORT:
            await s.observed.wait_message("assistant", f"Reply {index}.")
    finally:
        await s.session.aclose()
    return s


def own_truth(s: SimulatedSession) -> tuple[float, float]:
    """Prompt tokens and LLM time to first token, as the session itself reported them."""
    llm_events = [m for m in s.observed.metrics if type(m).__name__ == "LLMMetrics"]
    if HAS_METRICS_REPORT:
        (reply,) = [m for m in s.observed.messages if m.role == "assistant"]
        ttft = reply.metrics["llm_node_ttft"]
    else:
        ttft = llm_events[0].ttft
    return sum(m.prompt_tokens for m in llm_events), ttft


def check(reader: InMemoryMetricReader, sessions: list[tuple[str, SimulatedSession]]) -> None:
    tokens = by_model(reader, LLM_INPUT_TOKENS.name)
    ttft = by_model(reader, TURN_LLM_TTFT.name)
    e2e = by_model(reader, TURN_E2E_LATENCY.name)
    assert len(tokens) == len(ttft) == len(e2e) == len(sessions)
    for prefix, s in sessions:
        truth_tokens, truth_ttft = own_truth(s)
        assert tokens[f"{prefix}llm-a"] == (1, truth_tokens)
        assert ttft[f"{prefix}llm-a"][0] == 1
        assert ttft[f"{prefix}llm-a"][1] == pytest.approx(truth_ttft, abs=1e-9)
        assert e2e[f"{prefix}llm-a"][0] == 1


@pytest.mark.usefixtures("instrumented")
async def test_sessions_in_parallel_in_one_loop(reader: InMemoryMetricReader) -> None:
    prefixes = [f"s{i}-" for i in range(PARALLEL)]
    sessions = await asyncio.gather(*(converse(p, i) for i, p in enumerate(prefixes)))
    check(reader, list(zip(prefixes, sessions)))


@pytest.mark.usefixtures("instrumented")
def test_sessions_in_two_threads(reader: InMemoryMetricReader) -> None:
    results: dict[str, Any] = {}

    def thread_main(name: str, indices: range) -> None:
        async def run() -> None:
            for index in indices:
                results[f"{name}{index}-"] = await converse(f"{name}{index}-", index)

        asyncio.run(run())

    threads = [
        threading.Thread(target=thread_main, args=("a", range(0, 2))),
        threading.Thread(target=thread_main, args=("b", range(2, 4))),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert len(results) == 4
    check(reader, list(results.items()))


THREADS = 8


def in_threads(action: Callable[[], object]) -> None:
    """``action`` in ``THREADS`` threads released at once; their exceptions re-raised."""
    barrier = threading.Barrier(THREADS)
    errors: list[BaseException] = []

    def run() -> None:
        try:
            barrier.wait(timeout=30)
            action()
        except BaseException as error:
            errors.append(error)

    threads = [threading.Thread(target=run) for _ in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not errors, errors


def test_instrument_and_uninstrument_from_many_threads_patch_once(
    meter_provider: MeterProvider, reader: InMemoryMetricReader
) -> None:
    original_emit = EventEmitter.__dict__["emit"]
    instrumentor = AgentsInstrumentor()
    in_threads(lambda: instrumentor.instrument(meter_provider=meter_provider))
    try:
        check(reader, [("a-", asyncio.run(converse("a-", 1)))])
    finally:
        instrumentor.uninstrument()  # one call undoes it all
    assert EventEmitter.__dict__["emit"] is original_emit
    asyncio.run(converse("b-", 2))
    assert "b-llm-a" not in by_model(reader, "lk.agents.usage.llm_input_tokens")
    assert "b-llm-a" not in by_model(reader, "lk.agents.turn.e2e_latency")

    instrumentor.instrument(meter_provider=meter_provider)
    in_threads(instrumentor.uninstrument)
    assert not instrumentor.is_instrumented_by_opentelemetry
    assert EventEmitter.__dict__["emit"] is original_emit
