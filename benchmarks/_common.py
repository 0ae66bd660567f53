"""Shared pieces of the overhead benchmarks: timing, the SDK-call spy, the framework
objects (components, metrics events, cheap sessions) built the same way on every
livekit-agents release from 1.0."""

from __future__ import annotations

import asyncio
import gc
import inspect
import json
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import SimpleNamespace
from typing import Any

from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics._internal import instrument as sdk_instrument
from opentelemetry.sdk.metrics.export import InMemoryMetricReader

from opentelemetry.instrumentation.livekit_agents import AgentsInstrumentor
from opentelemetry.instrumentation.livekit_agents.demo import simulation as sim
from opentelemetry.instrumentation.livekit_agents.demo._audio_io import (
    SimulatedAudioInput,
    SimulatedAudioOutput,
)
from opentelemetry.instrumentation.livekit_agents.demo._release import session_options
from opentelemetry.instrumentation.livekit_agents.demo._speech_detection import SimulatedVAD
from opentelemetry.instrumentation.livekit_agents.instrumentors.event_emit import (
    EventEmitPatch,
    Route,
)
from opentelemetry.instrumentation.livekit_agents.pending_points import PENDING


def lk_version() -> tuple[int, ...]:
    from importlib.metadata import version

    return tuple(int(p) for p in version("livekit-agents").split(".")[:3])


def emit_json(payload: object) -> None:
    """Sections run as child processes and hand their figures back as one JSON line."""
    sys.stdout.write("BENCH-JSON " + json.dumps(payload) + "\n")


@contextmanager
def gc_paused() -> Iterator[None]:
    # a collection of livekit's large heap inside a timed loop is noise, not our cost
    gc.collect()
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


def time_loop(call: Callable[[], object], n: int) -> float:
    """Nanoseconds per call of ``call`` over ``n`` calls, pending points recorded."""
    with gc_paused():
        start = time.perf_counter_ns()
        for _ in range(n):
            call()
        PENDING.record_all()  # the last, partial batch belongs to these calls
        return (time.perf_counter_ns() - start) / n


@contextmanager
def routes_wrapped(wrap: Callable[[str, Route], Route]) -> Iterator[None]:
    """Every callback that the instrumented ``emit`` patch routes events to, replaced by
    ``wrap(event, callback)`` through ``set_routes`` (what the patch calls), then restored."""
    patch = AgentsInstrumentor().aspect(EventEmitPatch)  # LookupError: not instrumented
    originals = patch.routes
    if not originals:
        raise RuntimeError("the emit patch routes nothing: nothing would be timed")
    for event, callbacks in originals.items():
        patch.set_routes(event, tuple(wrap(event, c) for c in callbacks))
    try:
        yield
    finally:
        for event, callbacks in originals.items():
            patch.set_routes(event, callbacks)


# --------------------------------------------------------------------- SDK spy


SdkCall = tuple[Any, str, object, dict[str, Any]]
"""An instrument, the name of the method called (``add``/``record``), value, attributes."""


@contextmanager
def sdk_calls(provider: MeterProvider) -> Iterator[list[SdkCall]]:
    """Capture every SDK ``Counter.add`` / ``Histogram.record`` made into ``provider``.

    The captured calls (instrument, method name, value, a copy of the attributes)
    are replayed alone to measure what the SDK costs for the very same data points.
    """
    calls: list[SdkCall] = []
    consumer = provider._measurement_consumer
    originals = {cls: getattr(cls, name) for cls, name in _SDK_METHODS}

    def spy(cls: type, name: str) -> Callable[..., None]:
        real = originals[cls]

        def capture(self: Any, amount: Any, attributes: Any = None, *a: Any, **k: Any) -> None:
            if self._measurement_consumer is consumer:
                calls.append((self, name, amount, dict(attributes or {})))
            real(self, amount, attributes, *a, **k)

        return capture

    for cls, name in _SDK_METHODS:
        setattr(cls, name, spy(cls, name))
    try:
        yield calls
    finally:
        for cls, name in _SDK_METHODS:
            delattr(cls, name)  # the SDK defines them on a base class


_SDK_METHODS = ((sdk_instrument._Counter, "add"), (sdk_instrument._Histogram, "record"))


@contextmanager
def sdk_disabled() -> Iterator[None]:
    """Every SDK ``add``/``record`` a no-op: what remains is our own cost, measured directly."""

    def nothing(self: Any, amount: Any, attributes: Any = None, *a: Any, **k: Any) -> None:
        return None

    for cls, name in _SDK_METHODS:
        setattr(cls, name, nothing)
    try:
        yield
    finally:
        for cls, name in _SDK_METHODS:
            delattr(cls, name)


@contextmanager
def job_context(i: int) -> Iterator[None]:
    """Session ``i`` runs as job ``i`` where the framework stamps job ids (1.8.x)."""
    try:
        from livekit.agents.job import _JobContextVar
    except ImportError:
        yield
        return
    job = SimpleNamespace(id=f"AJ_{i:06d}", room=SimpleNamespace(sid=f"RM_{i:06d}"))
    token = _JobContextVar.set(SimpleNamespace(_telemetry_state=None, job=job))  # type: ignore[arg-type]
    try:
        yield
    finally:
        _JobContextVar.reset(token)


def replay(calls: list[SdkCall]) -> Callable[[], None]:
    """The captured calls made again, to the SDK's methods as they are now (made
    no-ops inside ``sdk_disabled()``)."""
    bound = [(getattr(instrument, name), value, attrs) for instrument, name, value, attrs in calls]

    def call() -> None:
        for method, value, attributes in bound:
            method(value, attributes)

    return call


def in_memory_provider() -> tuple[MeterProvider, InMemoryMetricReader]:
    reader = InMemoryMetricReader()
    return MeterProvider(metric_readers=[reader]), reader


def instrument(provider: MeterProvider) -> AgentsInstrumentor:
    instrumentor = AgentsInstrumentor()
    instrumentor.instrument(meter_provider=provider)
    return instrumentor


# ------------------------------------------------------------ framework objects


def build(cls: Any, **values: Any) -> Any:
    """``cls(**values)`` keeping only the fields this release's class has."""
    known = set(cls.model_fields)
    return cls(**{k: v for k, v in values.items() if k in known})


def metadata(provider: str, model: str) -> Any:
    from livekit.agents import metrics

    cls = getattr(metrics, "Metadata", None) or getattr(
        sys.modules.get("livekit.agents.metrics.base"), "Metadata", None
    )
    return None if cls is None else cls(model_name=model, model_provider=provider)


def usage_events() -> dict[str, tuple[Any, Any]]:
    """One real component and one real metrics event of its kind, per component kind."""
    from livekit.agents.metrics import LLMMetrics, STTMetrics, TTSMetrics

    now = time.time()
    common = {"request_id": "req", "timestamp": now, "cancelled": False}
    stt = sim.SimulatedSTT("sttco", "stt-a")
    llm = sim.SimulatedLLM("llmco", "llm-a")
    tts = sim.SimulatedTTS("ttsco", "tts-a")
    return {
        "TTS": (
            tts,
            build(
                TTSMetrics, label="tts", ttfb=0.1, duration=0.5, audio_duration=1.2,
                characters_count=40, streamed=False, metadata=metadata("ttsco", "tts-a"), **common,
            ),
        ),
        "STT": (
            stt,
            build(
                STTMetrics, label="stt", duration=0.0, audio_duration=2.5, streamed=True,
                metadata=metadata("sttco", "stt-a"), **common,
            ),
        ),
        "LLM": (
            llm,
            build(
                LLMMetrics, label="llm", duration=0.8, ttft=0.2, completion_tokens=20,
                prompt_tokens=100, prompt_cached_tokens=0, total_tokens=120,
                tokens_per_second=25.0, metadata=metadata("llmco", "llm-a"), **common,
            ),
        ),
    }  # fmt: skip


def session_kwargs(**options: Any) -> dict[str, Any]:
    """``session_options`` plus no wait for a last transcript at close (1.8's 2 s)."""
    from livekit.agents import AgentSession

    kwargs = session_options(**options)
    if "session_close_transcript_timeout" in inspect.signature(AgentSession.__init__).parameters:
        kwargs["session_close_transcript_timeout"] = 0.0
    return kwargs


def new_session(*, audio: bool = False, vad_silence: float = 0.2, **options: Any) -> Any:
    from livekit.agents import AgentSession

    session = AgentSession(
        stt=sim.SimulatedSTT("sttco", "stt-a", transcription_delay=0.0),
        vad=SimulatedVAD(min_silence_duration=vad_silence),
        llm=sim.SimulatedLLM("llmco", "llm-a", ttft=0.0),
        tts=sim.SimulatedTTS("ttsco", "tts-a", ttfb=0.0, seconds_per_char=0.001),
        **session_kwargs(**options),
    )
    if audio:
        session.input.audio = SimulatedAudioInput()
        session.output.audio = SimulatedAudioOutput()
    return session


async def cheap_session() -> Any:
    """A session created, started with the simulation components, and closed."""
    from livekit.agents import Agent

    session = new_session()
    await session.start(Agent(instructions="You are a benchmark agent."))
    await session.aclose()
    return session


def run(coro: Any) -> Any:
    return asyncio.get_event_loop_policy().get_event_loop().run_until_complete(coro)


def turn_messages() -> list[Any]:
    """One user and one assistant message carrying the framework's ``MetricsReport``
    (1.3.1+, with each component's metadata from 1.5.2), new objects on every call;
    none before 1.3.1, which has no report."""
    from livekit.agents import llm

    if "metrics" not in getattr(llm.ChatMessage, "model_fields", {}):
        return []
    user: dict[str, Any] = {
        "transcription_delay": 0.2, "end_of_turn_delay": 0.4,
        "on_user_turn_completed_delay": 0.01,
    }  # fmt: skip
    agent: dict[str, Any] = {"e2e_latency": 0.9, "llm_node_ttft": 0.3, "tts_node_ttfb": 0.2}
    if lk_version() >= (1, 5, 2):
        user["stt_metadata"] = {"model_name": "stt-a", "model_provider": "sttco"}
        agent["llm_metadata"] = {"model_name": "llm-a", "model_provider": "llmco"}
        agent["tts_metadata"] = {"model_name": "tts-a", "model_provider": "ttsco"}
    return [
        llm.ChatMessage(role="user", content=["Hello."], metrics=user),
        llm.ChatMessage(role="assistant", content=["Hi!"], metrics=agent),
    ]
