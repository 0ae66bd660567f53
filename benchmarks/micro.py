"""Per wrapped call: uninstrumented against instrumented, and our cost beyond the SDK.

Every figure is nanoseconds per unit of work, the best of the repetitions (as
``timeit`` advises: on a shared machine the slower repetitions measure other
processes, and here they come in two modes about 2x apart, which a median mixes).
Each repetition measures the call uninstrumented, then instrumented, then the SDK
calls alone (the exact ``add``/``record`` calls that a run of ``CAPTURED_UNITS``
instrumented units made, with the same attributes, captured and replayed: a
counter's points reach the SDK summed per batch, so a unit makes a fraction of
a call), then instrumented with the
SDK's calls made no-ops, less those no-op calls alone. ``own = instrumented -
uninstrumented - SDK`` is what this package itself costs; ``own_direct``
measures the same directly.

``bare`` is a floor to set ``own`` beside: the least any instrumentation of the
call can cost in this interpreter.  The same patch point (the ``emit`` patch's
route, a wrapt wrapper on ``ConnectionPool.get``) does only what cannot be
left out: it reads the numbers that ours records and appends each to a deque.
No check, identity, attributes, suppression, de-duplication or SDK hand-off;
what ``own`` costs above it is what those cost.

On livekit-agents 1.5.2+ the framework's own ``collect_usage`` is timed per
event too, recording into a global SDK MeterProvider.
"""

from __future__ import annotations

import argparse
import asyncio
import inspect
import time
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from itertools import cycle
from typing import Any

import wrapt
from _common import (
    emit_json,
    gc_paused,
    in_memory_provider,
    instrument,
    job_context,
    lk_version,
    new_session,
    replay,
    sdk_calls,
    sdk_disabled,
    time_loop,
    turn_messages,
    usage_events,
)
from livekit.agents import Agent, utils
from opentelemetry.instrumentation.utils import unwrap
from opentelemetry.sdk.metrics import MeterProvider

from opentelemetry import metrics as metrics_api
from opentelemetry.instrumentation.livekit_agents.demo import simulation as sim
from opentelemetry.instrumentation.livekit_agents.instrumentors.event_emit import (
    EventEmitPatch,
    Route,
)
from opentelemetry.instrumentation.livekit_agents.pending_points import MAX_PENDING, PENDING

POOL_TAKES_TIMEOUT = "timeout" in inspect.signature(utils.ConnectionPool.get).parameters
CAPTURED_UNITS = 4 * MAX_PENDING
"""Units whose SDK calls are captured: whole batches, as in the timed loops."""
KEPT: deque[object] = deque()
"""Where the bare instrumentations keep their numbers."""


@contextmanager
def _routed(event: str, callback: Route) -> Iterator[None]:
    """``callback`` routed every ``event`` by an ``emit`` patch of its own, as ours are
    (uninstrumented: the bare floor)."""
    patch = EventEmitPatch()
    patch.instrument()
    patch.route(event, callback)
    try:
        yield
    finally:
        patch.uninstrument()
        KEPT.clear()


class Scenario:
    """One unit of work, run ``n`` times per measurement."""

    name = ""

    def prepare(self, loop: asyncio.AbstractEventLoop, instrumented: bool) -> None:
        """Called after the instrumentation state changed."""

    def one(self) -> None:
        raise NotImplementedError

    def close(self, loop: asyncio.AbstractEventLoop) -> None:
        """Release what ``prepare`` made."""

    def measure(self, loop: asyncio.AbstractEventLoop, n: int) -> float:
        return time_loop(self.one, n)

    def bare(self) -> AbstractContextManager[None] | None:
        """A context in which the bare instrumentation is on; None where none is defined."""
        return None


# ---------------------------------------------------------------- connection pool


class _PoolOwner(sim.SimulatedTTS):
    """A TTS whose bound method is its pool's connect callback, as in the plugins."""

    async def connect(self, *args: Any) -> object:  # 1.0.x passes no timeout
        return object()


class PoolCycle(Scenario):
    name = "ConnectionPool.get cycle (reused)"

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.owner = _PoolOwner("ttsco", "tts-a")
        self.pool: Any = utils.ConnectionPool(connect_cb=self.owner.connect)
        self.kwargs = {"timeout": 10.0} if POOL_TAKES_TIMEOUT else {}
        loop.run_until_complete(self._cycles(1))  # the first get opens the connection

    async def _cycles(self, n: int) -> float:
        pool, kwargs = self.pool, self.kwargs
        start = time.perf_counter_ns()
        for _ in range(n):
            pool.put(await pool.get(**kwargs))
        PENDING.record_all()
        return (time.perf_counter_ns() - start) / n

    def one(self) -> None:
        asyncio.get_event_loop().run_until_complete(self._cycles(1))

    def measure(self, loop: asyncio.AbstractEventLoop, n: int) -> float:
        with gc_paused():
            return float(loop.run_until_complete(self._cycles(n)))

    @contextmanager
    def bare(self) -> Iterator[None]:
        async def timed(wrapped: Any, instance: Any, args: Any, kwargs: Any) -> Any:
            start = time.perf_counter()
            connection = await wrapped(*args, **kwargs)
            KEPT.append(time.perf_counter() - start)
            return connection

        wrapt.wrap_function_wrapper(utils.ConnectionPool, "get", timed)
        try:
            yield
        finally:
            unwrap(utils.ConnectionPool, "get")
            KEPT.clear()


# ---------------------------------------------------------------- usage events


class UsageEvent(Scenario):
    def __init__(self, kind: str, component: Any, event: Any) -> None:
        self.name = f"{kind} usage event (emit)"
        self.component = component
        self.event = event
        # every usage is a new object; a re-emit of the same one is not counted again
        self.events = cycle([event.model_copy() for _ in range(64)])

    def one(self) -> None:
        self.component.emit("metrics_collected", next(self.events))

    def bare(self) -> AbstractContextManager[None]:
        fields = BARE_FIELDS[type(self.event).__name__]

        def keep_numbers(emitter: Any, metrics: Any) -> None:
            for name in fields:
                value = getattr(metrics, name, 0)
                if value:
                    KEPT.append(value)

        return _routed("metrics_collected", keep_numbers)


BARE_FIELDS = {
    "STTMetrics": ("audio_duration",),
    "TTSMetrics": ("characters_count", "audio_duration"),
    "LLMMetrics": (
        *("prompt_tokens", "prompt_cached_tokens", "completion_tokens"),  # the counters
        *("prompt_tokens", "completion_tokens", "ttft", "duration"),  # the GenAI histograms
    ),
}
"""What ours reads from each usage event, as often as it records it."""


# ---------------------------------------------------------------- turns


class Turn(Scenario):
    """The turn tracker of a started session handling one user and one agent turn.

    1.3.1+: two ``conversation_item_added`` events carrying the framework's
    ``MetricsReport``; before: the session's EOU, LLM and TTS ``metrics_collected``
    events and the agent entering ``speaking``.
    """

    name = "one turn (user + assistant)"

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        from livekit.agents import llm

        self.reports = "metrics" in getattr(llm.ChatMessage, "model_fields", {})
        self.session: Any = None
        self.units = cycle([self._unit(i) for i in range(4096)])

    def prepare(self, loop: asyncio.AbstractEventLoop, instrumented: bool) -> None:
        # a session started while instrumented carries a tracker; one started
        # while not instrumented is exactly the uninstrumented session
        self.close(loop)
        self.session = new_session()
        loop.run_until_complete(self.session.start(Agent(instructions="benchmark")))

    def _unit(self, i: int) -> list[tuple[str, Any]]:
        return self._report_unit() if self.reports else self._legacy_unit(f"speech_{i}")

    def _report_unit(self) -> list[tuple[str, Any]]:
        from livekit.agents.voice.events import ConversationItemAddedEvent

        return [
            ("conversation_item_added", ConversationItemAddedEvent(item=message))
            for message in turn_messages()
        ]

    def _legacy_unit(self, speech_id: str) -> list[tuple[str, Any]]:
        from _common import build
        from livekit.agents.metrics import EOUMetrics
        from livekit.agents.voice.events import AgentStateChangedEvent, MetricsCollectedEvent

        events = usage_events()
        eou = build(
            EOUMetrics, timestamp=time.time(), end_of_utterance_delay=0.4,
            transcription_delay=0.2, on_user_turn_completed_delay=0.01, speech_id=speech_id,
        )  # fmt: skip
        llm_m = events["LLM"][1].model_copy(update={"speech_id": speech_id})
        tts_m = events["TTS"][1].model_copy(update={"speech_id": speech_id})
        return [
            ("metrics_collected", MetricsCollectedEvent(metrics=eou)),
            ("metrics_collected", MetricsCollectedEvent(metrics=llm_m)),
            ("metrics_collected", MetricsCollectedEvent(metrics=tts_m)),
            (
                "agent_state_changed",
                AgentStateChangedEvent(old_state="thinking", new_state="speaking"),
            ),
        ]

    def close(self, loop: asyncio.AbstractEventLoop) -> None:
        if self.session is not None:
            loop.run_until_complete(self.session.aclose())
            self.session = None

    def one(self) -> None:
        emit = self.session.emit
        for name, event in next(self.units):
            emit(name, event)

    def bare(self) -> AbstractContextManager[None] | None:
        if not self.reports:
            return None  # before 1.3.1 a turn is assembled from four events and a clock

        def keep_numbers(emitter: Any, event: Any) -> None:
            item = event.item
            report = item.metrics
            for name in TURN_FIELDS[item.role]:
                value = report.get(name)
                if value is not None:
                    KEPT.append(value)

        return _routed("conversation_item_added", keep_numbers)


TURN_FIELDS = {
    "user": ("transcription_delay", "end_of_turn_delay", "on_user_turn_completed_delay"),
    "assistant": ("e2e_latency", "llm_node_ttft", "tts_node_ttfb"),
}
"""What ours reads from each message's ``MetricsReport`` (1.3.1+)."""


# ---------------------------------------------------------------- framework native


def native_collect_usage(event: Any, n: int, in_job: bool) -> float:
    """ns per event of the framework's own ``collect_usage`` (1.5.2+).

    ``in_job``: as it runs in an agent job, where (from 1.8) it stamps the room
    and job ids on every point; ours records the same attributes in a job or not.
    """
    from livekit.agents.telemetry import otel_metrics

    call: Callable[[], None] = lambda: otel_metrics.collect_usage(event)  # noqa: E731
    if not in_job:
        return time_loop(call, n)
    with job_context(0):
        return time_loop(call, n)


def per_unit(replay_captured: Callable[[], None], n: int) -> float:
    """ns per unit of the captured SDK calls, replayed as often as ``n`` units make them."""
    return time_loop(replay_captured, max(1, n // CAPTURED_UNITS)) / CAPTURED_UNITS


def measure_all(n: int, reps: int) -> dict[str, Any]:
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    native = lk_version() >= (1, 5, 2)
    if native:  # the framework's own metrics record into the global provider
        metrics_api.set_meter_provider(in_memory_provider()[0])
    ours: MeterProvider = in_memory_provider()[0]
    scenarios: list[Scenario] = [PoolCycle(loop)]
    scenarios += [UsageEvent(kind, c, e) for kind, (c, e) in usage_events().items()]
    scenarios.append(Turn(loop))
    series = ("base", "bare", "instr", "sdk", "calls", "direct", "noop", "native", "native_job")
    samples = {s.name: {key: list[float]() for key in series} for s in scenarios}
    for _ in range(reps):
        for s in scenarios:
            s.prepare(loop, instrumented=False)
            s.measure(loop, n // 10)  # warm up
            samples[s.name]["base"].append(s.measure(loop, n))
            bare = s.bare()
            if bare is not None:
                with bare:
                    s.measure(loop, n // 10)
                    samples[s.name]["bare"].append(s.measure(loop, n))
        instrumentor = instrument(ours)
        for s in scenarios:
            s.prepare(loop, instrumented=True)
            s.measure(loop, n // 10)
            PENDING.record_all()
            with sdk_calls(ours) as calls:
                for _ in range(CAPTURED_UNITS):
                    s.one()
                PENDING.record_all()
            figures = samples[s.name]
            figures["instr"].append(s.measure(loop, n))
            figures["sdk"].append(per_unit(replay(calls), n))
            figures["calls"].append(len(calls) / CAPTURED_UNITS)
            with sdk_disabled():
                figures["direct"].append(s.measure(loop, n))
                figures["noop"].append(per_unit(replay(calls), n))
            if native and isinstance(s, UsageEvent):  # side by side with ours
                figures["native"].append(native_collect_usage(s.event, n, in_job=False))
                figures["native_job"].append(native_collect_usage(s.event, n, in_job=True))
        instrumentor.uninstrument()
    for s in scenarios:
        s.close(loop)
    result: dict[str, Any] = {"scenarios": {}}
    for name, f in samples.items():
        best = {key: min(values) for key, values in f.items() if values}
        figures = result["scenarios"][name] = {
            "base_ns": best["base"],
            "instr_ns": best["instr"],
            "sdk_ns": best["sdk"],
            "own_ns": best["instr"] - best["base"] - best["sdk"],
            "own_direct_ns": best["direct"] - best["base"] - best["noop"],
            "sdk_calls": best["calls"],
        }
        if "bare" in best:
            figures["bare_ns"] = best["bare"] - best["base"]
        if "native" in best:
            figures["ours_ns"] = best["instr"] - best["base"]
            figures["native_ns"] = best["native"]
            figures["native_job_ns"] = best["native_job"]
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("-n", type=int, default=5000, help="calls per measurement")
    parser.add_argument("--reps", type=int, default=7)
    args = parser.parse_args()
    emit_json(measure_all(args.n, args.reps))


if __name__ == "__main__":
    main()
