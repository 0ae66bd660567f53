"""Whole sessions: CPU of a simulated conversation, memory, and exported series.

``cpu``     a simulated session of N turns (component delays zero), CPU time
            (``time.process_time``) instrumented / uninstrumented, alternating,
            and the share of a run's CPU spent inside the instrumentation's
            handlers, measured within that run;
``routes``  inside one such session, the SDK's calls made no-ops: the time of each
            callback the ``emit`` patch routes an event to, per event name,
            emitter class and metrics class (median, µs);
``memory``  one mode per process: tracemalloc peak and retained bytes after
            1,000 cheap sessions (created, started, one STT/LLM/TTS usage event
            and one turn report each, closed);
``series``  the same 1,000 sessions, each as its own job (room and job ids):
            data points per metric, ours (own MeterProvider) against the
            framework's own (global MeterProvider, 1.5.2+).
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import gc
import statistics
import time
import tracemalloc
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from _common import (
    emit_json,
    in_memory_provider,
    instrument,
    job_context,
    new_session,
    routes_wrapped,
    sdk_disabled,
    turn_messages,
    usage_events,
)
from livekit.agents import Agent
from opentelemetry.sdk.metrics.export import InMemoryMetricReader

from opentelemetry import metrics as metrics_api
from opentelemetry.instrumentation.livekit_agents.demo import simulation as sim
from opentelemetry.instrumentation.livekit_agents.pending_points import PENDING

OUR_SCOPE = "opentelemetry.instrumentation.livekit_agents"

# ------------------------------------------------------------------------ CPU


class HandlerTime:
    """Seconds spent inside the instrumentation's handlers, SDK calls included.

    Shims around every callback that the ``EventEmitter.emit`` patch routes events
    to (the usage recorder and the turn trackers, with the batches of points they
    record), plus the last batch at the run's end: measured within the same run as
    the session's CPU, so a shared machine's speed changes cancel out of the ratio.
    Not included: the patch's own look-up of every event's name (~0.2 us each).
    """

    def __init__(self) -> None:
        self.seconds = 0.0
        self.calls = 0

    @contextmanager
    def installed(self) -> Iterator[None]:
        with routes_wrapped(self._timed):
            yield
        if not self.calls:  # a share of 0 % would be a broken shim, not a cheap handler
            raise RuntimeError("no routed callback was timed")

    def _timed(self, event: str, func: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(func)
        def timed(*args: Any) -> Any:
            start = time.perf_counter()
            try:
                return func(*args)
            finally:
                self.seconds += time.perf_counter() - start
                self.calls += 1

        return timed


async def conversation_cpu(turns: int, handlers: HandlerTime | None = None) -> float:
    session = new_session(audio=True, vad_silence=0.05, min_endpointing_delay=0.05)
    await session.start(Agent(instructions="You are a benchmark agent."))
    reply = sim.AgentReply("Okay.", llm_ttft=0.0, tts_ttfb=0.0)
    script = [
        sim.UserTurn(
            f"Turn {i}.", speech_duration=0.1, transcription_delay=0.0, pause_before=0.0,
            reply=reply,
        )
        for i in range(turns)
    ]  # fmt: skip
    gc.collect()
    if handlers is not None:
        handlers.seconds = 0.0
    start = time.process_time()
    await sim.run_conversation(session, script)
    record_pending(handlers)
    cpu = time.process_time() - start
    session.input.audio.close()
    await session.aclose()
    return cpu


def record_pending(handlers: HandlerTime | None) -> None:
    """The points still pending belong to the run: recorded inside its CPU time."""
    start = time.perf_counter()
    PENDING.record_all()
    if handlers is not None:
        handlers.seconds += time.perf_counter() - start


def cpu(turns: int, reps: int) -> dict[str, Any]:
    provider = in_memory_provider()[0]
    plain: list[float] = []
    instrumented: list[float] = []
    shares: list[float] = []
    handlers = HandlerTime()
    asyncio.run(conversation_cpu(5))  # warm-up: imports, first-use caches
    for rep in range(reps):
        # plain first, then instrumented first: a drift in machine load cancels out
        for instrumented_run in (False, True) if rep % 2 == 0 else (True, False):
            if not instrumented_run:
                plain.append(asyncio.run(conversation_cpu(turns)))
                continue
            instrumentor = instrument(provider)
            instrumented.append(asyncio.run(conversation_cpu(turns)))
            instrumentor.uninstrument()
            # a separate run: the shims cost a little themselves
            instrumentor = instrument(provider)
            with handlers.installed():
                run_cpu = asyncio.run(conversation_cpu(turns, handlers))
            shares.append(handlers.seconds / run_cpu)
            instrumentor.uninstrument()
    return {
        "turns": turns,
        "plain_s": min(plain),
        "instr_s": min(instrumented),
        "ratio": min(instrumented) / min(plain),
        "handler_share": statistics.median(shares),
        "samples": {"plain": plain, "instr": instrumented, "handler_share": shares},
    }


def route_times(turns: int) -> dict[str, Any]:
    """Median µs per routed callback in a session, our own code alone (SDK no-ops)."""
    asyncio.run(conversation_cpu(5))
    instrumentor = instrument(in_memory_provider()[0])
    samples: dict[str, list[float]] = {}

    def timed(event: str, callback: Callable[[Any, Any], None]) -> Callable[[Any, Any], None]:
        def call(emitter: Any, arg: Any) -> None:
            start = time.perf_counter()
            try:
                callback(emitter, arg)
            finally:
                elapsed = time.perf_counter() - start
                metrics = getattr(arg, "metrics", arg)  # a session wraps them in an event
                key = f"{event}: {type(emitter).__name__}, {type(metrics).__name__}"
                samples.setdefault(key, []).append(elapsed)

        return call

    try:
        with sdk_disabled(), routes_wrapped(timed):
            asyncio.run(conversation_cpu(turns))
    finally:
        instrumentor.uninstrument()
    if not samples:
        raise RuntimeError("no routed callback was timed")
    return {
        "turns": turns,
        "routes": {
            key: {"count": len(times), "median_us": statistics.median(times) * 1e6}
            for key, times in sorted(samples.items())
        },
    }


# ------------------------------------------------------------------ sessions


async def one_session(i: int, events: dict[str, tuple[Any, Any]], messages: list[Any]) -> None:
    session = new_session()
    await session.start(Agent(instructions="You are a benchmark agent."))
    with job_context(i):
        for kind, (_, event) in events.items():
            getattr(session, kind.lower()).emit("metrics_collected", event)
        if messages:
            from livekit.agents.voice.events import ConversationItemAddedEvent

            for message in messages:
                session.emit("conversation_item_added", ConversationItemAddedEvent(item=message))
            _flush_native_turns(messages)
    await session.aclose()


def _flush_native_turns(messages: list[Any]) -> None:
    # the framework records turn latencies at job shutdown, from the session history
    try:
        from livekit.agents import llm
        from livekit.agents.telemetry import otel_metrics
    except ImportError:
        return
    if hasattr(otel_metrics, "flush_turn_metrics"):
        otel_metrics.flush_turn_metrics(llm.ChatContext(items=list(messages)))


async def many_sessions(count: int, first: int = 0, on_step: Any = None) -> None:
    events = usage_events()
    messages = turn_messages()
    for i in range(first, first + count):
        await one_session(i, events, messages)
        if on_step is not None:
            on_step(i + 1)


def memory(mode: str, sessions: int) -> dict[str, Any]:
    if mode == "instrumented":
        instrument(in_memory_provider()[0])
    checkpoints: dict[int, int] = {}

    def on_step(done: int) -> None:
        if done in (sessions // 10, sessions):
            gc.collect()
            checkpoints[done] = tracemalloc.get_traced_memory()[0]

    async def body() -> tuple[int, int]:
        await many_sessions(20)  # warm-up: imports and first-use caches are not retention
        gc.collect()
        tracemalloc.start()
        base = tracemalloc.get_traced_memory()[0]
        await many_sessions(sessions, first=20, on_step=lambda d: on_step(d - 20))
        return base, tracemalloc.get_traced_memory()[1]

    base, peak = asyncio.run(body())
    tracemalloc.stop()
    return {
        "mode": mode,
        "sessions": sessions,
        "peak_kib": (peak - base) / 1024,
        "retained_kib": {str(k): (v - base) / 1024 for k, v in sorted(checkpoints.items())},
    }


def series(sessions: int) -> dict[str, Any]:
    native_reader = InMemoryMetricReader()
    from opentelemetry.sdk.metrics import MeterProvider

    metrics_api.set_meter_provider(MeterProvider(metric_readers=[native_reader]))
    ours, our_reader = in_memory_provider()
    instrument(ours)
    asyncio.run(many_sessions(sessions))
    return {
        "sessions": sessions,
        "ours": _points(our_reader, OUR_SCOPE),
        "native": _points(native_reader, "livekit-agents"),
    }


def _points(reader: InMemoryMetricReader, scope: str) -> dict[str, int]:
    counts: Counter[str] = Counter()
    data = reader.get_metrics_data()
    for resource_metrics in data.resource_metrics if data else ():
        for scope_metrics in resource_metrics.scope_metrics:
            if scope_metrics.scope.name != scope:
                continue
            for metric in scope_metrics.metrics:
                counts[metric.name] += len(metric.data.data_points)
    return dict(counts)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("section", choices=["cpu", "routes", "memory", "series"])
    parser.add_argument("--mode", choices=["plain", "instrumented"], default="plain")
    parser.add_argument("--turns", type=int, default=100)
    parser.add_argument("--reps", type=int, default=7)
    parser.add_argument("--sessions", type=int, default=1000)
    args = parser.parse_args()
    if args.section == "cpu":
        emit_json(cpu(args.turns, args.reps))
    elif args.section == "routes":
        emit_json(route_times(args.turns))
    elif args.section == "memory":
        emit_json(memory(args.mode, args.sessions))
    else:
        emit_json(series(args.sessions))


if __name__ == "__main__":
    main()
